"""float16 tensors on the GPU (adapters with shader-f16, such as Mesa's lavapipe) against
the CPU's float16 results: transfers, casts, elementwise ops with promotion, where,
reductions, matmul, views and autograd. Kernels compute float16 in f32 and round once,
as the CPU does, so results agree to the last bit except where a WGSL builtin's f32
error crosses a float16 rounding boundary: comparisons allow 1 ulp of float16.
The row, indexing, image, loss and normalisation ops are in test_gpu_f16_ops.py.

Also the errors: bfloat16 names its conversion, and an adapter without shader-f16
(forced by FERROGRAD_GPU_NO_F16=1) names the missing feature and `.float()`.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_f16_close, run_isolated

import ferrograd as fg

RNG = np.random.default_rng(7)


def host(t: fg.Tensor) -> np.ndarray:
    return t.cpu().numpy()


def halves(*shape, lo=-4.0, hi=4.0) -> np.ndarray:
    return RNG.uniform(lo, hi, shape).astype(np.float16)


SPECIALS = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 65504, -65504, 6e-8, -6e-8, 1e-5, 1.0, -2.5],
                    np.float16)


# ---- transfers and views -----------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 7, 1001])
def test_roundtrip_is_bit_exact_for_any_length(f16_gpu, n):
    a = np.concatenate([SPECIALS, halves(n)])[:n]
    g = fg.from_numpy(a).to(f16_gpu)
    assert g.dtype == fg.float16 and g.device.type == "gpu"
    np.testing.assert_array_equal(host(g).view(np.uint16), a.view(np.uint16))


def test_strided_views_read_back_from_odd_offsets(f16_gpu):
    a = halves(5, 7)
    g = fg.from_numpy(a).to(f16_gpu)
    for view, want in [(g[1:], a[1:]), (g[:, 1::2], a[:, 1::2]), (g.T, a.T), (g[2, 3:], a[2, 3:]),
                       (g[::-2, ::3], a[::-2, ::3])]:
        np.testing.assert_array_equal(host(view), want)
        np.testing.assert_array_equal(host(view.contiguous()), want)


def test_creation_on_the_gpu(f16_gpu):
    np.testing.assert_array_equal(host(fg.full((3, 5), 0.1, dtype=fg.float16, device=f16_gpu)),
                                  np.full((3, 5), 0.1, np.float16))
    np.testing.assert_array_equal(host(fg.zeros(9, dtype=fg.float16, device=f16_gpu)), np.zeros(9, np.float16))
    np.testing.assert_array_equal(host(fg.ones(4, dtype=fg.float16, device=f16_gpu)), np.ones(4, np.float16))
    got = host(fg.arange(0, 3, 0.25, dtype=fg.float16, device=f16_gpu))
    np.testing.assert_array_equal(got, fg.arange(0, 3, 0.25, dtype=fg.float16).numpy())
    got = host(fg.arange(0, 2, 0.1, dtype=fg.float16, device=f16_gpu))
    assert_f16_close(got, fg.arange(0, 2, 0.1, dtype=fg.float16).numpy())


def test_fill_a_view_in_place(f16_gpu):
    a = halves(4, 6)
    g = fg.from_numpy(a).to(f16_gpu)
    g[:, 1::2] = 2.5
    a[:, 1::2] = 2.5
    np.testing.assert_array_equal(host(g), a)


# ---- casts ---------------------------------------------------------------------------------


@pytest.mark.parametrize("to", ["float32", "int32", "uint32", "bool"])
def test_casts_from_float16_match_the_cpu(f16_gpu, to):
    a = np.concatenate([halves(50, lo=0 if to == "uint32" else -300, hi=300), SPECIALS[:4], SPECIALS[9:]])
    if to != "float32":
        a = a[np.isfinite(a)]  # float to integer of inf/nan is undefined in numpy too
    if to == "uint32":
        a = np.abs(a)
    t = fg.from_numpy(a)
    got = host(t.to(f16_gpu).to(getattr(fg, to)))
    np.testing.assert_array_equal(got, t.to(getattr(fg, to)).numpy())


@pytest.mark.parametrize("src", ["float32", "int32", "uint32", "bool"])
def test_casts_to_float16_match_the_cpu(f16_gpu, src):
    values = {"float32": RNG.normal(0, 100, 200).astype(np.float32),
              "int32": RNG.integers(-5000, 5000, 200).astype(np.int32),
              "uint32": RNG.integers(0, 5000, 200).astype(np.uint32),
              "bool": RNG.integers(0, 2, 200).astype(bool)}[src]
    t = fg.from_numpy(values)
    got = host(t.to(f16_gpu).to(fg.float16))
    np.testing.assert_array_equal(got, t.to(fg.float16).numpy())
    np.testing.assert_array_equal(got, values.astype(np.float16))


# ---- elementwise -----------------------------------------------------------------------------


UNARY = ["neg", "abs", "exp", "log", "sqrt", "tanh", "sigmoid", "sin", "floor", "relu", "square",
         "reciprocal", "expm1", "log1p"]


@pytest.mark.parametrize("name", UNARY)
def test_unary_ops_match_the_cpu(f16_gpu, name):
    a = halves(257, lo=0.05 if name in ("log", "sqrt", "log1p") else -4)
    f = getattr(fg, name) if hasattr(fg, name) else getattr(fg.nn.functional, name)
    got = f(fg.from_numpy(a).to(f16_gpu))
    want = f(fg.from_numpy(a))
    assert got.dtype == fg.float16
    assert_f16_close(host(got), want.numpy())


def test_predicates_give_bool(f16_gpu):
    g = fg.from_numpy(SPECIALS).to(f16_gpu)
    for name, ref in [("isnan", np.isnan), ("isinf", np.isinf), ("isfinite", np.isfinite), ("signbit", np.signbit)]:
        got = getattr(fg, name)(g)
        assert got.dtype == fg.bool
        np.testing.assert_array_equal(host(got), ref(SPECIALS))


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "maximum", "minimum", "pow"])
def test_binary_ops_match_the_cpu_and_numpy(f16_gpu, op):
    a, b = halves(6, 40, lo=0.5, hi=3), halves(40, lo=0.5, hi=3)  # broadcast b over the rows
    f = getattr(fg, op)
    got = f(fg.from_numpy(a).to(f16_gpu), fg.from_numpy(b).to(f16_gpu))
    want = f(fg.from_numpy(a), fg.from_numpy(b)).numpy()
    assert got.dtype == fg.float16
    assert_f16_close(host(got), want)
    if op in ("add", "sub", "mul", "div", "maximum", "minimum"):
        # Correctly rounded in f32, so exactly numpy's float16 result.
        np.testing.assert_array_equal(host(got), getattr(np, {"sub": "subtract", "mul": "multiply",
                                                              "div": "divide"}.get(op, op))(a, b))


def test_comparisons_give_bool(f16_gpu):
    a, b = halves(100), halves(100)
    b[::3] = a[::3]
    ga, gb = fg.from_numpy(a).to(f16_gpu), fg.from_numpy(b).to(f16_gpu)
    for got, want in [(ga < gb, a < b), (ga == gb, a == b), (ga >= gb, a >= b)]:
        assert got.dtype == fg.bool
        np.testing.assert_array_equal(host(got), want)


def test_promotion_with_float32_and_python_scalars(f16_gpu):
    a, c = halves(33), RNG.normal(size=33).astype(np.float32)
    ga = fg.from_numpy(a).to(f16_gpu)
    r = ga + fg.from_numpy(c).to(f16_gpu)
    assert r.dtype == fg.float32
    np.testing.assert_array_equal(host(r), a.astype(np.float32) + c)
    for r, want in [(ga + 1.1, fg.from_numpy(a) + 1.1), (2.5 * ga, 2.5 * fg.from_numpy(a)),
                    (1 - ga, 1 - fg.from_numpy(a)), (ga / 3, fg.from_numpy(a) / 3)]:
        assert r.dtype == fg.float16
        np.testing.assert_array_equal(host(r), want.numpy())


def test_in_place_updates(f16_gpu):
    a = halves(20)
    g, c = fg.from_numpy(a).to(f16_gpu), fg.from_numpy(a.copy())
    g += 1.5
    c += 1.5
    g *= g
    c *= c
    g[::2] -= 0.25
    c[::2] -= 0.25
    assert g.dtype == fg.float16
    np.testing.assert_array_equal(host(g), c.numpy())


def test_where(f16_gpu):
    a, b = halves(4, 9), halves(9)
    cond = RNG.integers(0, 2, (4, 9)).astype(bool)
    got = fg.where(fg.from_numpy(cond).to(f16_gpu), fg.from_numpy(a).to(f16_gpu), fg.from_numpy(b).to(f16_gpu))
    assert got.dtype == fg.float16
    np.testing.assert_array_equal(host(got), np.where(cond, a, b))


# ---- reductions and matmul -------------------------------------------------------------------


@pytest.mark.parametrize("axis", [None, 0, 1, (0, 2)])
@pytest.mark.parametrize("name", ["sum", "mean", "prod", "max", "min"])
def test_reductions_match_the_cpu(f16_gpu, name, axis):
    lo, hi = (0.9, 1.1) if name == "prod" else (-4, 4)
    a = halves(5, 70, 3, lo=lo, hi=hi)
    f = getattr(fg, name)
    kw = {} if axis is None else {"axis": axis}
    got = f(fg.from_numpy(a).to(f16_gpu), **kw)
    want = f(fg.from_numpy(a), **kw).numpy()
    assert got.dtype == fg.float16
    # Sums accumulate in f32 on both devices (in another order here): one rounding apart.
    assert_f16_close(host(got), want)


def test_long_sum_over_a_transposed_view(f16_gpu):
    a = halves(3, 20000, lo=0, hi=1)
    g = fg.from_numpy(a).to(f16_gpu)
    got = host(g.T.sum(axis=0))
    assert_f16_close(got, fg.from_numpy(a).T.sum(axis=0).numpy())
    # A float16 accumulator would have stalled at 2048 long before ~10000.
    assert np.all(got > 9000)


@pytest.mark.parametrize("shapes", [((7, 33), (33, 5)), ((2, 3, 70), (70, 4)), ((65,), (65, 3))])
def test_matmul_accumulates_in_float32(f16_gpu, shapes):
    a, b = halves(*shapes[0], lo=-1, hi=1), halves(*shapes[1], lo=-1, hi=1)
    got = fg.matmul(fg.from_numpy(a).to(f16_gpu), fg.from_numpy(b).to(f16_gpu))
    want = fg.matmul(fg.from_numpy(a), fg.from_numpy(b)).numpy()
    assert got.dtype == fg.float16
    assert_f16_close(host(got), want)


def test_matmul_of_transposed_views(f16_gpu):
    a, b = halves(40, 9, lo=-1, hi=1), halves(6, 40, lo=-1, hi=1)
    ga, gb = fg.from_numpy(a).to(f16_gpu), fg.from_numpy(b).to(f16_gpu)
    got = host(ga.T @ gb.T)
    assert_f16_close(got, (fg.from_numpy(a).T @ fg.from_numpy(b).T).numpy())


# ---- autograd --------------------------------------------------------------------------------


def test_float16_gradients_match_the_cpu(f16_gpu):
    xs, ws, bs = halves(8, 5, lo=-1, hi=1), halves(5, 3, lo=-1, hi=1), halves(3, lo=-1, hi=1)
    grads = {}
    for dev in ["cpu", f16_gpu]:
        x, w, b = (fg.from_numpy(v).to(dev) for v in (xs, ws, bs))
        for t in (x, w, b):
            t.requires_grad = True
        h = fg.tanh(x @ w + b)
        loss = (h * h).mean() + (fg.exp(h) * 0.5).sum(axis=1).max()
        loss.backward()
        assert w.grad.dtype == fg.float16 and w.grad.device.type == dev
        grads[dev] = [host(t.grad) for t in (x, w, b)] + [host(loss)[None]]
    for got, want in zip(grads[f16_gpu], grads["cpu"]):
        assert_f16_close(got, want, ulps=2)


# ---- errors ----------------------------------------------------------------------------------


def test_bfloat16_names_the_conversion(gpu_device):
    t = fg.zeros(3, dtype=fg.bfloat16)
    with pytest.raises(TypeError, match=r"bfloat16.*float32"):
        t.to(gpu_device)


def test_an_adapter_without_shader_f16_names_the_feature_and_the_fix(gpu_device, monkeypatch):
    code = """
import ferrograd as fg
t = fg.ones(3, dtype=fg.float16)
try:
    t.to("gpu")
except TypeError as e:
    print("TypeError:", e)
print(fg.ones(3).to("gpu").sum().item())  # the rest of the GPU still works
"""
    monkeypatch.setenv("FERROGRAD_GPU_NO_F16", "1")  # the fresh interpreter inherits it
    proc = run_isolated(code)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "TypeError:" in proc.stdout and "shader-f16" in proc.stdout and ".float()" in proc.stdout, proc.stdout
    assert proc.stdout.strip().endswith("3.0")
