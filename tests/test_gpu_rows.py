"""Row-wise GPU kernels against numpy and the CPU: softmax/log_softmax, argmax/argmin,
cumulative sums/products, tril/triu, roll, tile, repeat, on contiguous and strided views
along every axis, and their gradients (which must stay on the GPU)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import gpu, require_gpu_module
from conftest import gpu_host as host
from conftest import gpu_views as views

import ferrograd as fg

require_gpu_module()

RNG = np.random.default_rng(1)
RTOL, ATOL = 2e-5, 1e-6








def np_softmax(a, axis):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# ---- softmax ---------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(7, 9, 5), (3, 300, 2), (1, 1000)])
def test_softmax_every_axis(shape):
    a = RNG.standard_normal(shape).astype(np.float32) * 4
    g = gpu(a)
    for axis in range(-len(shape), len(shape)):
        want = np_softmax(a.astype(np.float64), axis)
        np.testing.assert_allclose(host(fg.softmax(g, axis=axis)), want, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(host(fg.log_softmax(g, axis=axis)), np.log(want), rtol=RTOL, atol=1e-5)


def test_softmax_views_match_the_cpu():
    a = RNG.standard_normal((12, 10)).astype(np.float32)
    for name, v, g in views(a):
        for axis in (0, 1):
            cpu = fg.softmax(fg.from_numpy(np.ascontiguousarray(v)), axis=axis).numpy()
            out = fg.softmax(g, axis=axis)
            assert out.shape == v.shape and out.is_contiguous(), name
            np.testing.assert_allclose(host(out), cpu, rtol=RTOL, atol=ATOL, err_msg=name)
            cpu = fg.log_softmax(fg.from_numpy(np.ascontiguousarray(v)), axis=axis).numpy()
            np.testing.assert_allclose(host(fg.log_softmax(g, axis=axis)), cpu, rtol=RTOL, atol=1e-5, err_msg=name)


def test_softmax_special_values_match_the_cpu():
    inf = np.float32(np.inf)
    a = np.array([[-inf, -inf, -inf], [1.0, -inf, 2.0], [np.nan, 1.0, 0.0], [1e30, 1e30, 0.0]], np.float32)
    for log in (False, True):
        cpu = fg._core._softmax(fg.from_numpy(a), 1, log).numpy()
        got = host(fg._core._softmax(gpu(a), 1, log))
        np.testing.assert_allclose(got, cpu, rtol=RTOL, atol=ATOL)


def test_softmax_of_ints_and_scalars():
    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    out = fg.softmax(gpu(a), axis=1)
    assert out.dtype == fg.float32
    np.testing.assert_allclose(host(out), np_softmax(a.astype(np.float64), 1), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(host(fg.softmax(fg.from_numpy(np.array(3.0, np.float32)).to("gpu"), axis=0)), 1.0)


def test_softmax_gradients_stay_on_the_gpu():
    a = RNG.standard_normal((5, 7)).astype(np.float32)
    w = RNG.standard_normal((5, 7)).astype(np.float32)
    for log in (False, True):
        for axis in (0, 1):
            grads = []
            for dev in ("cpu", "gpu"):
                x = fg.from_numpy(a).to(dev).detach().requires_grad_()
                f = fg.log_softmax if log else fg.softmax
                (f(x, axis=axis) * fg.from_numpy(w).to(dev)).sum().backward()
                assert x.grad.device.type == dev
                grads.append(x.grad.cpu().numpy())
            np.testing.assert_allclose(grads[1], grads[0], rtol=1e-4, atol=1e-6)


# ---- argmax / argmin ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.uint32])
def test_argmax_argmin_views_and_axes(dtype):
    a = RNG.integers(0, 6, (10, 13)).astype(dtype)  # many ties: the first index must win
    for name, v, g in views(a):
        for axis in (None, 0, 1, -1):
            for f in ("argmax", "argmin"):
                out = getattr(fg, f)(g, axis=axis)
                assert out.dtype == fg.int32, name
                np.testing.assert_array_equal(host(out), getattr(np, f)(v, axis=axis), err_msg=f"{name} {f} {axis}")
        out = fg.argmax(g, axis=1, keepdims=True)
        np.testing.assert_array_equal(host(out), np.argmax(v, axis=1, keepdims=True))


def test_argmax_long_rows_and_nan():
    a = RNG.standard_normal((3, 5000)).astype(np.float32)
    a[1, 4000] = 50.0
    a[2, [700, 3000]] = np.nan
    for f in ("argmax", "argmin"):
        np.testing.assert_array_equal(host(getattr(fg, f)(gpu(a), axis=1)), getattr(np, f)(a, axis=1))
        np.testing.assert_array_equal(host(getattr(fg, f)(gpu(a.T), axis=0)), getattr(np, f)(a.T, axis=0))
    b = np.array([True, False, True, True])
    assert host(fg.argmin(gpu(b))) == 1 and host(fg.argmax(gpu(b))) == 0
    with pytest.raises(ValueError, match="empty"):
        fg.argmax(gpu(np.zeros((2, 0), np.float32)), axis=1)


# ---- cumulative --------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(6, 7), (3, 700)])
def test_cumulative_sum_views_and_axes(shape):
    a = RNG.standard_normal(shape).astype(np.float32)
    for name, v, g in views(a):
        for axis in (0, 1, None):
            want = np.cumsum(v.astype(np.float64), axis=axis)
            np.testing.assert_allclose(host(fg.cumulative_sum(g, axis=axis)), want, rtol=1e-5, atol=1e-4, err_msg=name)


def test_cumulative_prod_and_ints():
    a = RNG.uniform(0.5, 1.5, (4, 300)).astype(np.float32)
    np.testing.assert_allclose(host(fg.cumulative_prod(gpu(a), axis=1)), np.cumprod(a.astype(np.float64), axis=1),
                               rtol=1e-4)
    i = RNG.integers(-5, 5, (5, 6)).astype(np.int32)
    out = fg.cumulative_sum(gpu(i), axis=0)
    assert out.dtype == fg.int32
    np.testing.assert_array_equal(host(out), np.cumsum(i, axis=0))
    np.testing.assert_array_equal(host(fg.cumulative_prod(gpu(i[:, :3]), axis=1)), np.cumprod(i[:, :3], axis=1))
    b = RNG.integers(0, 2, (4, 5)).astype(bool)
    np.testing.assert_array_equal(host(fg.cumulative_sum(gpu(b), axis=1)), np.cumsum(b, axis=1))
    np.testing.assert_array_equal(host(fg.cumulative_sum(gpu(i), axis=1, include_initial=True)),
                                  np.concatenate([np.zeros((5, 1), np.int32), np.cumsum(i, axis=1)], 1))


def test_cumulative_gradients_stay_on_the_gpu():
    a = RNG.uniform(0.5, 1.5, (4, 6)).astype(np.float32)
    a[2, 3] = 0.0  # cumprod's zero path
    for f in (fg.cumulative_sum, fg.cumulative_prod):
        grads = []
        for dev in ("cpu", "gpu"):
            x = fg.from_numpy(a).to(dev).detach().requires_grad_()
            (f(x, axis=1) * fg.from_numpy(a + 1).to(dev)).sum().backward()
            assert x.grad.device.type == dev
            grads.append(x.grad.cpu().numpy())
        np.testing.assert_allclose(grads[1], grads[0], rtol=1e-5, atol=1e-6)


# ---- tril/triu, roll, tile, repeat ---------------------------------------------------------


def test_tril_triu_views():
    a = RNG.standard_normal((2, 5, 7)).astype(np.float32)
    g = gpu(a)
    for k in (-10, -2, 0, 1, 3, 10):
        np.testing.assert_array_equal(host(fg.tril(g, k)), np.tril(a, k))
        np.testing.assert_array_equal(host(fg.triu(g, k)), np.triu(a, k))
        np.testing.assert_array_equal(host(fg.tril(g.permute(0, 2, 1), k)), np.tril(a.transpose(0, 2, 1), k))
    b = a > 0
    np.testing.assert_array_equal(host(fg.triu(gpu(b), 1)), np.triu(b, 1))
    x = g.detach().requires_grad_()
    fg.tril(x).sum().backward()
    assert x.grad.device.type == "gpu"
    np.testing.assert_array_equal(host(x.grad), np.tril(np.ones_like(a)))


def test_roll_tile_repeat():
    a = RNG.standard_normal((4, 6)).astype(np.float32)
    for name, v, g in views(a):
        np.testing.assert_array_equal(host(fg.roll(g, 2, axis=1)), np.roll(v, 2, axis=1), err_msg=name)
        np.testing.assert_array_equal(host(fg.roll(g, -3)), np.roll(v, -3), err_msg=name)
        np.testing.assert_array_equal(host(fg.roll(g, (1, 2), axis=(0, 1))), np.roll(v, (1, 2), axis=(0, 1)))
        np.testing.assert_array_equal(host(fg.tile(g, (2, 3))), np.tile(v, (2, 3)), err_msg=name)
        np.testing.assert_array_equal(host(fg.repeat(g, 2, axis=0)), np.repeat(v, 2, axis=0), err_msg=name)
        reps = list(range(v.shape[1]))
        np.testing.assert_array_equal(host(fg.repeat(g, reps, axis=1)), np.repeat(v, reps, axis=1), err_msg=name)
    x = gpu(a).requires_grad_()
    (fg.tile(x, (2, 1)) * 2).sum().backward()
    assert x.grad.device.type == "gpu"
    np.testing.assert_array_equal(host(x.grad), np.full_like(a, 4.0))


@pytest.mark.parametrize("op", ["sum", "prod", "max", "min", "mean"])
@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_many_short_rows_reduce_an_invocation_each(op, dtype):
    """Reductions of at least 256 rows of at most 64 elements take the `short_rows` kernel
    (shaders/reduce.wgsl); rows read through a transposed, strided view."""
    a = RNG.integers(-3, 4, (61, 700)).astype(dtype)
    for axis, keep in [(0, False), (0, True)]:
        view = a[::2]  # (31, 700): the reduced axis has stride 2 rows
        got = getattr(fg, op)(gpu(a)[::2], axis=axis, keepdims=keep)
        # int32 sums and products stay int32 on the GPU (it holds no int64) and wrap
        kw = {"dtype": dtype} if op in ("sum", "prod") else {}
        want = getattr(np, op)(view, axis=axis, keepdims=keep, **kw)
        assert got.device.type == "gpu"
        np.testing.assert_allclose(host(got), want, rtol=1e-6)
        got_t = getattr(fg, op)(gpu(a).T, axis=1)  # (700, 61): rows across the columns
        np.testing.assert_allclose(host(got_t), getattr(np, op)(a.T, axis=1, **kw), rtol=1e-6)
