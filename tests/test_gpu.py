"""The GPU backend against numpy: every supported op on contiguous and strided inputs,
transfers, dtype rules, device errors, lazy initialisation and sync points.

Runs on any adapter wgpu finds (in CI: Mesa's lavapipe, a software Vulkan driver).
Without one the module is skipped, unless FERROGRAD_REQUIRE_GPU=1 (set by .ci/run),
which turns a missing adapter into a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import gpu, require_gpu_module
from conftest import gpu_host as host
from conftest import gpu_views as views
from hypothesis import given, settings
from hypothesis import strategies as st

import ferrograd as fg

require_gpu_module()

RNG = np.random.default_rng(0)

# float32 kernels: WGSL's builtins are a few ulp; erf is a polynomial (1.5e-7 absolute).
RTOL, ATOL = 2e-5, 1e-6








# ---- devices, transfers, dtypes -------------------------------------------------------


def test_adapters_describe_themselves():
    ads = fg.gpu.adapters()
    assert ads, "is_available() said yes"
    a = ads[0]
    assert {"index", "name", "backend", "type", "driver", "limits", "features"} <= set(a)
    assert a["index"] == 0 and a["limits"]["max_compute_workgroups_per_dimension"] >= 65535
    assert fg.gpu.is_compiled()


@pytest.mark.parametrize("dtype", ["float32", "int32", "uint32", "bool"])
def test_round_trip_keeps_values_dtype_and_shape(dtype):
    a = (RNG.standard_normal((5, 7)) * 100).astype(dtype)
    t = gpu(a)
    assert t.device.type == "gpu" and t.device.index == 0 and str(t.device) == "gpu:0"
    assert t.dtype == getattr(fg, dtype) and t.shape == (5, 7)
    np.testing.assert_array_equal(host(t), a)
    np.testing.assert_array_equal(np.asarray(t), a)  # numpy reads back through __array__
    for name, va, vg in views(a):
        np.testing.assert_array_equal(host(vg), va, err_msg=name)


def test_device_spellings_and_creation_on_gpu():
    t = fg.zeros(3, 4, device="gpu:0")
    assert t.device == fg.device("gpu", 0)
    np.testing.assert_array_equal(host(fg.ones(2, 3, device="gpu")), np.ones((2, 3), np.float32))
    np.testing.assert_array_equal(host(fg.full((2,), 7, device="gpu")), np.full(2, 7, np.int32))
    np.testing.assert_array_equal(host(fg.arange(10, device="gpu")), np.arange(10, dtype=np.int32))
    np.testing.assert_allclose(host(fg.arange(0.5, 3.0, 0.25, device="gpu")), np.arange(0.5, 3.0, 0.25))
    np.testing.assert_array_equal(host(fg.arange(5, 0, -2, device="gpu")), [5, 3, 1])
    np.testing.assert_array_equal(host(fg.tensor([[1.5, 2.5]], device="gpu")), [[1.5, 2.5]])
    np.testing.assert_array_equal(host(fg.zeros_like(t)), np.zeros((3, 4), np.float32))
    np.testing.assert_array_equal(host(fg.eye(3, device="gpu")), np.eye(3, dtype=np.float32))
    fg.manual_seed(3)
    r = fg.randn(100, device="gpu")
    fg.manual_seed(3)
    np.testing.assert_array_equal(host(r), fg.randn(100).numpy())
    assert "device='gpu:0'" in repr(t)
    with pytest.raises(IndexError, match="gpu:99"):
        fg.zeros(2, device="gpu:99")


@pytest.mark.parametrize("dtype, advice", [("float64", "float32"), ("int64", "int32"), ("bfloat16", "float32"),
                                           ("int8", "int32"), ("uint64", "uint32")])
def test_dtypes_the_gpu_cannot_hold_raise_type_error_with_advice(dtype, advice):
    t = fg.zeros(3, dtype=getattr(fg, dtype))
    with pytest.raises(TypeError, match=rf"{dtype}.*{advice}"):
        t.to("gpu")
    # Converting on the way there is the documented fix.
    assert t.to("gpu", fg.float32).dtype == fg.float32


def test_mixed_devices_raise_instead_of_transferring():
    a, b = fg.ones(3), fg.ones(3, device="gpu")
    with pytest.raises(RuntimeError, match="one device"):
        a + b
    with pytest.raises(RuntimeError, match="one device"):
        fg.matmul(b, a)
    with pytest.raises(RuntimeError, match="one device"):
        b[:] = a  # a tensor is not silently moved; Python values are fine:
    b[1] = 5.0
    np.testing.assert_array_equal(host(b), [1, 5, 1])
    b.copy_(fg.full((3,), 2.0))  # copy_ is an explicit copy, so it may cross devices
    np.testing.assert_array_equal(host(b), [2, 2, 2])
    with pytest.raises(RuntimeError, match="one device"):
        fg.where(b > 0, a, b)


def test_dlpack_and_array_interface_refuse_device_memory():
    x = fg.ones(2, device="gpu")
    with pytest.raises(BufferError):
        x.__dlpack__()
    assert not hasattr(x, "__array_interface__")


# ---- elementwise ----------------------------------------------------------------------

POSITIVE = {"sqrt", "rsqrt", "log", "log2", "log10", "log1p", "acosh"}
UNIT = {"asin", "acos", "atanh"}
UNARY = {
    "negative": np.negative, "abs": np.abs, "sign": np.sign, "square": np.square,
    "sqrt": np.sqrt, "rsqrt": lambda v: 1 / np.sqrt(v), "reciprocal": np.reciprocal, "exp": np.exp,
    "exp2": np.exp2, "expm1": np.expm1, "log": np.log, "log1p": np.log1p, "log2": np.log2,
    "log10": np.log10, "sin": np.sin, "cos": np.cos, "tan": np.tan, "asin": np.arcsin,
    "acos": np.arccos, "atan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh,
    "asinh": np.arcsinh, "acosh": np.arccosh, "atanh": np.arctanh, "floor": np.floor,
    "ceil": np.ceil, "trunc": np.trunc, "round": np.round, "relu": lambda v: np.maximum(v, 0),
    "sigmoid": lambda v: 1 / (1 + np.exp(-v)), "softplus": lambda v: np.logaddexp(v, 0),
    "silu": lambda v: v / (1 + np.exp(-v)),
}


def unary_input(name: str) -> np.ndarray:
    a = RNG.standard_normal((6, 9)).astype(np.float32) * 3
    if name in POSITIVE:
        a = np.abs(a) + (1.0 if name == "acosh" else 0.1)
    if name in UNIT:
        a = np.tanh(a) * 0.95
    if name == "round":
        a = np.round(a * 2) / 2  # exact halves: round half to even
    return a.astype(np.float32)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_float32_matches_numpy(name):
    a = unary_input(name)
    fn = getattr(fg, name)
    for view, va, vg in views(a):
        want = UNARY[name](va.astype(np.float64))
        np.testing.assert_allclose(host(fn(vg)), want, rtol=RTOL, atol=ATOL * max(1, np.abs(want).max()), err_msg=view)


def test_gelu_leaky_relu_elu_match_formulas():
    import math

    import ferrograd.nn.functional as F

    a = (RNG.standard_normal(200) * 3).astype(np.float32)
    x = gpu(a)
    erf = np.vectorize(math.erf)
    np.testing.assert_allclose(host(F.gelu(x)), 0.5 * a * (1 + erf(a / math.sqrt(2))), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(host(F.leaky_relu(x, 0.2)), np.where(a > 0, a, 0.2 * a), rtol=1e-6)
    np.testing.assert_allclose(host(F.elu(x, 1.5)), np.where(a > 0, a, 1.5 * np.expm1(a)), rtol=1e-5, atol=1e-6)


def test_float_predicates_use_exact_bit_tests():
    a = np.array([0.0, -0.0, 1.5, -2.0, np.inf, -np.inf, np.nan], np.float32)
    x = gpu(a)
    np.testing.assert_array_equal(host(fg.isnan(x)), np.isnan(a))
    np.testing.assert_array_equal(host(fg.isinf(x)), np.isinf(a))
    np.testing.assert_array_equal(host(fg.isfinite(x)), np.isfinite(a))
    np.testing.assert_array_equal(host(fg.signbit(x)), np.signbit(a))


@pytest.mark.parametrize("dtype", ["int32", "uint32"])
def test_integer_unary(dtype):
    a = RNG.integers(-50, 50, (4, 5)).astype(dtype)
    for view, va, vg in views(a):
        np.testing.assert_array_equal(host(-vg), -va, err_msg=view)
        np.testing.assert_array_equal(host(fg.abs(vg)), np.abs(va), err_msg=view)
        np.testing.assert_array_equal(host(fg.square(vg)), np.square(va), err_msg=view)
        np.testing.assert_array_equal(host(~vg), ~va, err_msg=view)
        np.testing.assert_array_equal(host(fg.sign(vg)), np.sign(va), err_msg=view)
    # Integer inputs to float maths compute in float32.
    np.testing.assert_allclose(host(fg.exp(gpu(a % 7))), np.exp((a % 7).astype(np.float64)), rtol=RTOL)


BINARY = {
    "add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.divide,
    "maximum": np.maximum, "minimum": np.minimum, "atan2": np.arctan2, "hypot": np.hypot,
    "copysign": np.copysign, "logaddexp": np.logaddexp, "floor_divide": np.floor_divide,
    "remainder": np.remainder,
}
COMPARE = {"equal": np.equal, "not_equal": np.not_equal, "less": np.less, "less_equal": np.less_equal,
           "greater": np.greater, "greater_equal": np.greater_equal}


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_float32_with_broadcasting_and_views(name):
    a = (RNG.standard_normal((6, 9)) * 4).astype(np.float32)
    b = (RNG.standard_normal((9,)) * 4 + 0.5).astype(np.float32)
    fn = getattr(fg, name)
    gb = gpu(b)
    for view, va, vg in views(a):
        vb, vgb = (b[: va.shape[1]], gb[: va.shape[1]])
        want = BINARY[name](va.astype(np.float64), vb.astype(np.float64))
        np.testing.assert_allclose(host(fn(vg, vgb)), want, rtol=RTOL, atol=1e-5, err_msg=view)
        # Column broadcast (stride-0 inner dim) and a reflected scalar.
        col = va[:, :1]
        np.testing.assert_allclose(host(fn(vg, vg[:, :1])), BINARY[name](va, col), rtol=RTOL, atol=1e-5)
        np.testing.assert_allclose(host(fn(2.5, vg)), BINARY[name](np.float32(2.5), va), rtol=RTOL, atol=1e-5)


def test_nextafter_and_hypot_at_the_edges():
    """nextafter steps on bit patterns (subnormals and signed zeros included), hypot
    scales instead of squaring, so neither flushes, overflows nor underflows."""
    tiny = np.float32(1e-45)
    a = np.array([0.0, -0.0, 1.0, 1.0, -1.0, tiny, -tiny, 3e38, np.inf, 2.0, 5.0], np.float32)
    b = np.array([1.0, -1.0, 2.0, 0.0, 0.0, 0.0, 1.0, np.inf, 0.0, 2.0, np.nan], np.float32)
    got, want = host(fg.nextafter(gpu(a), gpu(b))), np.nextafter(a, b)
    np.testing.assert_array_equal(got.view(np.uint32)[:-1], want.view(np.uint32)[:-1])
    assert np.isnan(got[-1])
    x = np.array([3e30, 3e-30, 0.0, np.inf, -4.0], np.float32)
    y = np.array([4e30, 4e-30, 0.0, np.nan, 3.0], np.float32)
    np.testing.assert_allclose(host(fg.hypot(gpu(x), gpu(y))), np.hypot(x, y), rtol=RTOL)


def test_pow_follows_numpy_for_negative_bases_and_integers():
    a = np.array([-2.0, -1.5, 0.0, 0.0, 2.0, 3.0], np.float32)
    b = np.array([3.0, 2.0, 0.0, 2.5, -1.0, 0.5], np.float32)
    np.testing.assert_allclose(host(gpu(a) ** gpu(b)), a.astype(np.float64) ** b, rtol=RTOL)
    assert np.isnan(host(gpu(np.float32([-2.0])) ** 0.5)[0])
    ai = np.array([2, -3, 5, 1, -1, 7], np.int32)
    bi = np.array([10, 3, 0, -4, -3, 2], np.int32)
    want = np.array([1024, -27, 1, 1, -1, 49], np.int32)  # 1**-4 = 1, (-1)**-3 = -1 (PyTorch)
    np.testing.assert_array_equal(host(gpu(ai) ** gpu(bi)), want)


@pytest.mark.parametrize("dtype", ["float32", "int32", "uint32"])
def test_comparisons_give_bool(dtype):
    a = RNG.integers(0, 5, (4, 6)).astype(dtype)
    b = RNG.integers(0, 5, (6,)).astype(dtype)
    for name, f in COMPARE.items():
        r = getattr(fg, name)(gpu(a), gpu(b))
        assert r.dtype == fg.bool
        np.testing.assert_array_equal(host(r), f(a, b), err_msg=name)


@pytest.mark.parametrize("dtype", ["int32", "uint32"])
def test_integer_binary_ops(dtype):
    a = RNG.integers(0, 100, (5, 6)).astype(dtype)
    b = RNG.integers(1, 9, (6,)).astype(dtype)
    if dtype == "int32":
        a = a - 50
    ga, gb = gpu(a), gpu(b)
    for name, f in [("add", np.add), ("subtract", np.subtract), ("multiply", np.multiply),
                    ("floor_divide", np.floor_divide), ("remainder", np.remainder), ("maximum", np.maximum),
                    ("minimum", np.minimum), ("bitwise_and", np.bitwise_and), ("bitwise_or", np.bitwise_or),
                    ("bitwise_xor", np.bitwise_xor), ("bitwise_left_shift", np.left_shift)]:
        np.testing.assert_array_equal(host(getattr(fg, name)(ga, gb)), f(a, b), err_msg=name)
    np.testing.assert_array_equal(host(ga // gpu(np.zeros(6, dtype))), np.zeros((5, 6), dtype))


def test_bool_logic_and_promotion():
    p = RNG.integers(0, 2, (3, 4)).astype(bool)
    q = RNG.integers(0, 2, (4,)).astype(bool)
    gp, gq = gpu(p), gpu(q)
    np.testing.assert_array_equal(host(gp & gq), p & q)
    np.testing.assert_array_equal(host(gp | gq), p | q)
    np.testing.assert_array_equal(host(gp ^ gq), p ^ q)
    np.testing.assert_array_equal(host(fg.logical_not(gp)), ~p)
    np.testing.assert_array_equal(host(fg.logical_and(gp, gq)), p & q)
    # Promotion: int32 + float32 -> float32, bool + int32 -> int32, float32 * 2.0 stays float32.
    i = gpu(np.arange(4, dtype=np.int32))
    f = gpu(np.full(4, 0.5, np.float32))
    assert (i + f).dtype == fg.float32 and (gq + i).dtype == fg.int32 and (f * 2.0).dtype == fg.float32
    np.testing.assert_allclose(host(i + f), np.arange(4) + 0.5)
    np.testing.assert_array_equal(host(i / 2), np.arange(4) / 2)


def test_where_and_clip_broadcast():
    a = RNG.standard_normal((4, 5)).astype(np.float32)
    b = RNG.standard_normal((5,)).astype(np.float32)
    cond = a > 0
    for view, va, vg in views(a):
        vc = va > 0.2
        np.testing.assert_array_equal(host(fg.where(vg > 0.2, vg, 0.0)), np.where(vc, va, 0.0), err_msg=view)
    np.testing.assert_array_equal(host(fg.where(gpu(cond), gpu(a), gpu(b))), np.where(cond, a, b))
    ai = RNG.integers(-5, 5, (4, 5)).astype(np.int32)
    np.testing.assert_array_equal(host(fg.where(gpu(ai) > 0, gpu(ai), -1)), np.where(ai > 0, ai, -1))
    np.testing.assert_array_equal(host(fg.clip(gpu(a), -0.5, 0.5)), np.clip(a, -0.5, 0.5))
    np.testing.assert_allclose(host(fg.logsumexp(gpu(a), axis=1)), np.log(np.exp(a.astype(np.float64)).sum(1)),
                               rtol=1e-5)


def test_zero_dim_cpu_tensors_join_gpu_ops_as_scalars():
    x = gpu(np.arange(4, dtype=np.float32))
    np.testing.assert_array_equal(host(x * fg.tensor(3.0, dtype=fg.float64)), np.arange(4) * 3.0)
    assert (x * fg.tensor(3.0, dtype=fg.float64)).dtype == fg.float32
    np.testing.assert_array_equal(host(fg.tensor(2) + gpu(np.arange(3, dtype=np.int32))), [2, 3, 4])


def test_gradients_flow_on_the_gpu():
    xs = RNG.standard_normal((8, 5)).astype(np.float32)
    ws = RNG.standard_normal((5, 3)).astype(np.float32)
    bs = RNG.standard_normal(3).astype(np.float32)
    grads = {}
    for dev in ("cpu", "gpu"):
        x, w, b = (fg.tensor(v, device=dev, requires_grad=True) for v in (xs, ws, bs))
        loss = (fg.relu(x @ w + b) ** 2).mean() + fg.exp(w).sum() * 0.1
        loss.backward()
        assert x.grad.device.type == dev and w.grad.device.type == dev
        grads[dev] = [t.grad.cpu().numpy() for t in (x, w, b)] + [loss.item()]
    for got, want in zip(grads["gpu"], grads["cpu"]):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_in_place_ops_write_through_views():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    g = gpu(a)
    v = g[:, ::2]
    v += 10
    v.mul_(2)
    a[:, ::2] = (a[:, ::2] + 10) * 2
    np.testing.assert_array_equal(host(g), a)
    g[1] = fg.arange(4, dtype=fg.float32, device="gpu")
    a[1] = np.arange(4)
    g.T[0].fill_(-1)
    a.T[0] = -1
    np.testing.assert_array_equal(host(g), a)
    g.zero_()
    np.testing.assert_array_equal(host(g), 0)


def test_copies_casts_and_contiguous():
    a = RNG.standard_normal((4, 6)).astype(np.float32) * 10
    g = gpu(a)
    t = g.T.contiguous()
    assert t.is_contiguous()
    np.testing.assert_array_equal(host(t), a.T)
    np.testing.assert_array_equal(host(g.astype(fg.int32)), a.astype(np.int32))
    np.testing.assert_array_equal(host(g.astype(fg.bool)), a != 0)
    np.testing.assert_array_equal(host(gpu(a > 0).astype(fg.float32)), (a > 0).astype(np.float32))
    np.testing.assert_array_equal(host(fg.concat([g, g[:1]])), np.concatenate([a, a[:1]]))
    np.testing.assert_array_equal(host(fg.stack([g[0], g[1]], axis=1)), np.stack([a[0], a[1]], axis=1))
    np.testing.assert_array_equal(host(g.reshape(-1)[3:9]), a.reshape(-1)[3:9])
    np.testing.assert_array_equal(host(g.T.reshape(-1)), a.T.reshape(-1))  # reshape that must copy


# ---- reductions -----------------------------------------------------------------------


@pytest.mark.parametrize("axis", [None, -1, 0, (0, 2)])
def test_reductions_float32(axis):
    a = RNG.standard_normal((5, 6, 7)).astype(np.float32)
    g = gpu(a)
    for name, f in [("sum", np.sum), ("mean", np.mean), ("max", np.max), ("min", np.min), ("prod", np.prod)]:
        for view, va, vg in [("contiguous", a, g), ("permuted", a.transpose(2, 0, 1), g.permute(2, 0, 1)),
                             ("stepped", a[::2, :, ::-2], g[::2, :, ::-2])]:
            got = host(getattr(fg, name)(vg, axis=axis, keepdims=True))
            want = f(va.astype(np.float64), axis=axis, keepdims=True)
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=f"{name} {view}")


def test_large_reductions_split_rows_into_chunks():
    a = RNG.standard_normal(3_000_001).astype(np.float32)
    g = gpu(a)
    np.testing.assert_allclose(host(g.sum()), a.astype(np.float64).sum(), rtol=1e-4, atol=1e-2)
    assert host(g.max()) == a.max() and host(g.min()) == a.min()
    m = a[: 3 * 500_000].reshape(3, 500_000)
    np.testing.assert_allclose(host(gpu(m).sum(axis=1)), m.astype(np.float64).sum(axis=1), rtol=1e-4, atol=1e-2)
    np.testing.assert_allclose(host(gpu(m).T.mean(axis=0)), m.mean(axis=1), rtol=1e-4, atol=1e-6)


def test_integer_and_bool_reductions():
    a = RNG.integers(-1000, 1000, (40, 50)).astype(np.int32)
    s = gpu(a).sum()
    assert s.dtype == fg.int32  # the GPU has no int64: integer sums stay 32-bit
    assert s.item() == a.sum()
    np.testing.assert_array_equal(host(gpu(a).max(axis=0)), a.max(axis=0))
    b = a > 0
    np.testing.assert_array_equal(host(fg.any(gpu(b), axis=1)), b.any(axis=1))
    np.testing.assert_array_equal(host(fg.all(gpu(b), axis=0)), b.all(axis=0))
    assert gpu(b).sum().item() == b.sum()
    assert fg.count_nonzero(gpu(a)).item() == np.count_nonzero(a)
    np.testing.assert_allclose(host(fg.var(gpu(a.astype(np.float32)), axis=1)), a.var(axis=1), rtol=1e-4)
    assert fg.sum(fg.zeros(0, 3, device="gpu"), axis=0).cpu().tolist() == [0, 0, 0]


# ---- matmul ---------------------------------------------------------------------------


@pytest.mark.parametrize("m, k, n", [(1, 1, 1), (7, 5, 3), (64, 64, 64), (65, 130, 67), (200, 33, 129)])
def test_matmul_float32_shapes(m, k, n):
    a = RNG.standard_normal((m, k)).astype(np.float32)
    b = RNG.standard_normal((k, n)).astype(np.float32)
    want = a.astype(np.float64) @ b
    np.testing.assert_allclose(host(gpu(a) @ gpu(b)), want, rtol=1e-4, atol=1e-4 * np.sqrt(k))
    # Transposed views are read through their strides, not copied.
    np.testing.assert_allclose(host(gpu(a.T.copy()).T @ gpu(b.T.copy()).T), want, rtol=1e-4, atol=1e-4 * np.sqrt(k))


def test_matmul_batches_vectors_and_integers():
    a = RNG.standard_normal((3, 1, 4, 5)).astype(np.float32)
    b = RNG.standard_normal((2, 5, 6)).astype(np.float32)
    np.testing.assert_allclose(host(gpu(a) @ gpu(b)), a @ b, rtol=1e-5, atol=1e-5)
    v = RNG.standard_normal(5).astype(np.float32)
    np.testing.assert_allclose(host(gpu(a[0, 0]) @ gpu(v)), a[0, 0] @ v, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(host(gpu(v) @ gpu(b[0])), v @ b[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(host(gpu(v) @ gpu(v)), v @ v, rtol=1e-5)
    ai = RNG.integers(-9, 9, (17, 23)).astype(np.int32)
    bi = RNG.integers(-9, 9, (23, 70)).astype(np.int32)
    np.testing.assert_array_equal(host(gpu(ai) @ gpu(bi)), ai @ bi)
    np.testing.assert_array_equal(host(gpu(ai) @ gpu(bi.astype(np.float32))), ai @ bi.astype(np.float32))
    assert (gpu(ai) @ gpu(np.zeros((23, 0), np.int32))).shape == (17, 0)


def test_linear_layer_forward_on_gpu():
    x = RNG.standard_normal((32, 20)).astype(np.float32)
    w = RNG.standard_normal((10, 20)).astype(np.float32)
    bias = RNG.standard_normal(10).astype(np.float32)
    y = fg.relu(gpu(x) @ gpu(w).T + gpu(bias))
    np.testing.assert_allclose(host(y), np.maximum(x @ w.T + bias, 0), rtol=1e-5, atol=1e-5)


# ---- large launches, sync points, laziness ----------------------------------------------


def test_more_than_65535_workgroups_fold_into_a_2d_grid():
    n = 65_535 * 256 + 1000  # one more row of workgroups than a 1-D grid holds
    a = np.arange(n, dtype=np.float32) % 1000
    r = host(gpu(a) * 2 + 1)
    assert r.shape == (n,)
    idx = np.array([0, 1, 65_535 * 256 - 1, 65_535 * 256, n - 1])
    np.testing.assert_array_equal(r[idx], a[idx] * 2 + 1)
    np.testing.assert_array_equal(r, a * 2 + 1)


def test_batched_work_is_read_back_after_synchronize():
    x = gpu(np.ones(1000, np.float32))
    for _ in range(600):  # more dispatches than one batch holds
        x = x + 1
    fg.synchronize()
    fg.gpu.synchronize()
    np.testing.assert_array_equal(host(x), 601)
    assert x.sum().item() == 601_000
    assert float(x[3]) == 601.0 and bool(x[0] > 600)


def test_freed_buffers_are_reused():
    fg.gpu.empty_cache()
    x = fg.ones(1 << 16, device="gpu")
    del x
    cached = fg.gpu.memory_cached()
    assert cached >= 4 << 16
    y = fg.zeros(1 << 16, device="gpu")
    assert fg.gpu.memory_cached() == cached - (4 << 16)
    np.testing.assert_array_equal(host(y), 0)


def test_importing_and_cpu_work_never_load_the_gpu_driver():
    code = textwrap.dedent(
        """
        import ferrograd as fg
        x = fg.randn(64, 64)
        y = (x @ x.T).sum() + fg.arange(3).float().mean()
        float(y); repr(x); fg.zeros(2, device="cpu")
        maps = open("/proc/self/maps").read()
        print("vulkan" in maps.lower(), "wgpu" in maps.lower())
        """
    )
    if not os.path.exists("/proc/self/maps"):
        pytest.skip("needs /proc/self/maps (Linux)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"], out.stdout + out.stderr


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env={**os.environ, **env}, check=False)


def test_no_adapter_error_says_what_was_looked_for_and_how_to_get_a_driver():
    # Restricting the search to a backend this platform lacks leaves no adapter.
    backend = "dx12" if sys.platform == "darwin" else "metal"
    out = _python(
        """
        import ferrograd as fg
        print(fg.gpu.is_available(), fg.gpu.adapters())
        try:
            fg.zeros(2, device="gpu")
        except RuntimeError as e:
            print(e)
        """,
        FERROGRAD_GPU_BACKEND=backend,
    )
    assert out.stdout.startswith("False []"), out.stdout + out.stderr
    for words in ("no GPU adapter", "FERROGRAD_GPU_BACKEND", "lavapipe", "mesa-vulkan-drivers"):
        assert words in out.stdout, out.stdout
    bad = _python("import ferrograd as fg\nfg.ones(1, device='gpu')", FERROGRAD_GPU_BACKEND="glide")
    assert "not one of vulkan, metal, dx12, gl" in bad.stderr


def test_adapter_and_backend_chosen_by_environment():
    first = fg.gpu.adapters()[0]
    code = "import ferrograd as fg; print(fg.zeros(1, device='gpu').device, fg.gpu.adapters()[0]['backend'])"
    out = _python(code, FERROGRAD_GPU_ADAPTER=first["name"][:6].upper(), FERROGRAD_GPU_BACKEND=first["backend"])
    assert out.stdout.split() == ["gpu:0", first["backend"]], out.stdout + out.stderr
    out = _python(code, FERROGRAD_GPU_ADAPTER="no such adapter")
    assert "matches no adapter" in out.stderr and first["name"] in out.stderr


# ---- property: random view chains give the CPU's results -------------------------------

CHAIN_UNARY = ["negative", "abs", "exp", "tanh", "relu", "sigmoid", "square", "floor"]
CHAIN_BINARY = ["add", "subtract", "multiply", "maximum", "minimum", "greater"]


@st.composite
def view_chains(draw):
    """A float32 array, a chain of view steps (permute, step slice, flip, broadcast)."""
    shape = draw(st.lists(st.integers(1, 6), min_size=1, max_size=4))
    steps = draw(st.lists(st.sampled_from(["permute", "slice", "flip", "expand"]), max_size=3))
    seed = draw(st.integers(0, 2**16))
    return shape, steps, seed


def apply_view(t, step: str, rng: np.random.Generator):
    nd = t.ndim
    if step == "permute":
        return t.permute(*rng.permutation(nd).tolist())
    d = int(rng.integers(nd))
    if step == "slice":
        idx = [slice(None)] * nd
        idx[d] = slice(int(rng.integers(0, max(1, t.shape[d]))), None, int(rng.integers(1, 3)))
        return t[tuple(idx)]
    if step == "flip":
        return t.flip((d,))
    return t.unsqueeze(0).expand(2, *t.shape)


@settings(max_examples=40, deadline=None)
@given(view_chains(), st.sampled_from(CHAIN_UNARY), st.sampled_from(CHAIN_BINARY),
       st.sampled_from([None, -1, 0]))
def test_random_view_chains_match_the_cpu(chain, unary, binary, axis):
    shape, steps, seed = chain
    a = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    results = {}
    for dev in ("cpu", "gpu"):
        rng = np.random.default_rng(seed)  # the same view choices on both devices
        t = fg.tensor(a, device=dev)
        for s in steps:
            t = apply_view(t, s, rng)
        u = getattr(fg, unary)(t)
        r = getattr(fg, binary)(u, t.flip((0,)))
        s = fg.sum(r.astype(fg.float32), axis=axis)
        results[dev] = (r.cpu().numpy(), s.cpu().numpy())
    for got, want in zip(results["gpu"], results["cpu"]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["sin", "cos", "tan"])
def test_trig_is_accurate_for_every_magnitude(name):
    """Own argument reduction (shaders/trig.wgsl: Cody-Waite below 2^17, Payne-Hanek
    above): within 2 ulp of the float64 value of the float32 input from 1e-30 to 3.4e38,
    where drivers' builtins drift (NVIDIA's: 1e-3 absolute at 1e4, 0.13 at 1e6)."""
    mag = 10.0 ** RNG.uniform(-30, 38.5, 20000)
    x = (mag * RNG.choice([-1.0, 1.0], mag.size)).astype(np.float32)
    # float32 values nearest multiples of pi/2, where the reduced argument cancels most
    k = np.array([1, 2, 3, 7, 100, 161, 1000, 12345, 99999, 10**6, 10**7], np.float64)
    x = np.concatenate([x, (k * np.pi / 2).astype(np.float32), [np.float32(7.7e28), np.float32(252.9)]])
    got = host(getattr(fg, name)(gpu(x))).astype(np.float64)
    want = getattr(np, name)(x.astype(np.float64))
    ulp = np.spacing(np.abs(want).astype(np.float32)).astype(np.float64)
    err = np.abs(got - want)
    bad = err > 2 * ulp
    assert not bad.any(), f"{name}: {bad.sum()} off, e.g. x={x[bad][:4]} got={got[bad][:4]} want={want[bad][:4]}"


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 1023, 1025, 70001])
def test_dense_launches_four_elements_per_invocation_match_one(gpu_device, monkeypatch, n):
    """Dense elementwise launches take four elements per invocation (`main4`/`scalar4`);
    FERROGRAD_GPU_ELEMENTWISE=1 selects the one-element kernels. Both give the same bits,
    for every tail length, and leave the elements past the result alone."""
    rng = np.random.default_rng(n)
    x, y = rng.normal(size=n).astype(np.float32), rng.normal(size=n).astype(np.float32)
    results = {}
    for mode in ("4", "1"):
        monkeypatch.setenv("FERROGRAD_GPU_ELEMENTWISE", mode)
        g, h = fg.tensor(x).to(gpu_device), fg.tensor(y).to(gpu_device)
        out = fg.full((n + 3,), 7.0, device=gpu_device)
        out[1:n + 1] = g  # a dense copy into a view at an offset
        results[mode] = [t.cpu().numpy() for t in (g + h, g * 3.0, 2.0 - g, fg.exp(g), g.to(fg.int32), out)]
    for four, one in zip(results["4"], results["1"]):
        np.testing.assert_array_equal(four, one)
    np.testing.assert_array_equal(results["4"][0], x + y)
    np.testing.assert_array_equal(results["4"][5], np.concatenate([[7.0], x, [7.0, 7.0]]).astype(np.float32))
