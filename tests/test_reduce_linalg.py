"""Reductions, along-axis ops, matmul, sorting and gather/scatter against numpy."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import GPU_ATOL, GPU_RTOL, device_params, index_dtype, int_result
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import ferrograd as fg

FLOATS = [np.float32, np.float64]
INTS = [np.int8, np.int32, np.int64, np.uint8, np.uint32]


def arrays(dtype, min_dims=1, max_dims=4, min_side=0):
    elements = (st.floats(-100, 100, width=32) if np.dtype(dtype).kind == "f"
                else st.integers(0, 20) if np.dtype(dtype).kind == "u"
                else st.integers(-20, 20))
    return hnp.arrays(dtype, hnp.array_shapes(min_dims=min_dims, max_dims=max_dims,
                                               min_side=min_side, max_side=5), elements=elements)


def axes_for(a):
    return st.one_of(st.none(), st.integers(-a.ndim, a.ndim - 1),
                     st.sets(st.integers(0, a.ndim - 1), max_size=a.ndim).map(tuple))


def view_of(a: np.ndarray, transpose: bool, device="cpu") -> tuple[np.ndarray, fg.Tensor]:
    """The array and a ferrograd tensor on ``device`` over the same values, optionally as a
    transposed (non-contiguous) view."""
    if transpose and a.ndim >= 2:
        base = np.ascontiguousarray(a.T)
        return base.T, fg.tensor(base, device=device).T
    return a, fg.tensor(a, device=device)


def tol_on(device, rtol, atol):
    """At least the GPU's float32 tolerances on the GPU."""
    if device == "cpu":
        return dict(rtol=rtol, atol=atol)
    return dict(rtol=max(rtol, GPU_RTOL), atol=max(atol, GPU_ATOL))


@pytest.mark.parametrize("name", ["sum", "prod", "max", "min", "mean", "all", "any"])
@pytest.mark.parametrize("device,dtype", device_params(FLOATS + INTS), indirect=["device"])
@given(data=st.data())
def test_reductions_match_numpy(name, device, dtype, data):
    a = data.draw(arrays(dtype, min_side=1))
    if name == "prod" and np.dtype(dtype).kind == "f":
        # Overflowing float products (inf * 0 = nan) depend on the order of multiplication,
        # which numpy does not specify either: keep the products finite.
        a = np.clip(a, -1.5, 1.5)
    axis = data.draw(axes_for(a))
    keepdims = data.draw(st.booleans())
    a, t = view_of(a, data.draw(st.booleans()), device)
    got = getattr(fg, name)(t, axis=axis, keepdims=keepdims).cpu().numpy()
    want = getattr(np, name)(a, axis=axis, keepdims=keepdims)
    if name == "mean" and np.dtype(dtype).kind != "f":
        want = want.astype(np.float32)
    if name in ("sum", "prod") and np.dtype(dtype).kind in "iu":
        # numpy and ferrograd both widen integer sums to 64 bits (wrapping on overflow);
        # the GPU has no 64-bit integers: 32 bits there, wrapping the same way mod 2**32.
        want = int_result(device, want)
        assert got.dtype == want.dtype
    assert got.shape == want.shape
    # float32 sums are blocked (float64 block totals); numpy is pairwise: both are within
    # a few ulps of the exact sum times the number of terms.
    rtol = {np.float32: 1e-5, np.float64: 1e-12}.get(dtype, 0)
    atol = rtol * 10
    if device == "gpu" and dtype == np.float32 and name in ("sum", "mean", "prod"):
        # the GPU's tree reduction adds in float32: log2(n) roundings of partial sums, each
        # within half an ulp of the sum of magnitudes
        n = max(a.size // max(want.size, 1), 1)
        mag = np.sum(np.abs(a), axis=axis, keepdims=keepdims) / (n if name == "mean" else 1)
        atol = np.max(mag, initial=0.0) * np.ceil(np.log2(n + 1)) * 2.0**-23 + atol
        rtol = GPU_RTOL if name != "prod" else n * 2.0**-23
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


@pytest.mark.parametrize("device,dtype", device_params(FLOATS), indirect=["device"])
@given(data=st.data())
def test_var_std_argmax_logsumexp(device, dtype, data):
    a = data.draw(arrays(dtype, min_side=2))
    axis = data.draw(st.integers(-a.ndim, a.ndim - 1))
    t = fg.tensor(a, device=device)
    tol = dict(rtol=1e-4 if dtype == np.float32 else 1e-10, atol=1e-4 if dtype == np.float32 else 1e-10)
    np.testing.assert_allclose(np.asarray(fg.var(t, axis=axis, correction=1)), a.var(axis=axis, ddof=1), **tol)
    np.testing.assert_allclose(np.asarray(fg.std(t, axis=axis)), a.std(axis=axis), **tol)
    am = fg.argmax(t, axis=axis).cpu().numpy()
    assert am.dtype == index_dtype(device)
    np.testing.assert_array_equal(am, a.argmax(axis=axis))
    np.testing.assert_array_equal(np.asarray(fg.argmin(t)), a.argmin())
    m = a.max(axis=axis, keepdims=True)
    lse = np.log(np.exp(a - m).sum(axis=axis, keepdims=True)) + m
    np.testing.assert_allclose(np.asarray(fg.logsumexp(t, axis=axis, keepdims=True)), lse, **tol)


@pytest.mark.parametrize("device,dtype", device_params(FLOATS), indirect=["device"])
@given(data=st.data())
def test_softmax_and_cumulative(device, dtype, data):
    a = data.draw(arrays(dtype, min_side=1))
    axis = data.draw(st.integers(-a.ndim, a.ndim - 1))
    a, t = view_of(a, data.draw(st.booleans()), device)
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    sm = e / e.sum(axis=axis, keepdims=True)
    tol = tol_on(device, 2e-6 if dtype == np.float32 else 1e-13, 1e-7 if dtype == np.float32 else 1e-15)
    np.testing.assert_allclose(np.asarray(fg.softmax(t, axis=axis)), sm, **tol)
    # Reference in float64 as (x - m) - log(sum(exp(x - m))): log(softmax) would underflow.
    a64 = a.astype(np.float64)
    m64 = a64.max(axis=axis, keepdims=True)
    lsm = (a64 - m64) - np.log(np.exp(a64 - m64).sum(axis=axis, keepdims=True))
    np.testing.assert_allclose(np.asarray(fg.log_softmax(t, axis=axis)), lsm.astype(dtype),
                               rtol=tol["rtol"] * 10, atol=1e-5 if dtype == np.float32 else 1e-12)
    np.testing.assert_allclose(np.asarray(fg.cumulative_sum(t, axis=axis)), np.cumsum(a, axis=axis),
                               rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-3)


def test_softmax_is_stable_for_huge_inputs(device):
    x = fg.tensor([1000.0, 1000.0, -np.inf], device=device)
    np.testing.assert_allclose(np.asarray(fg.softmax(x)), [0.5, 0.5, 0.0])
    np.testing.assert_allclose(np.asarray(fg.log_softmax(x))[:2], [np.log(0.5)] * 2, rtol=1e-6)


def test_empty_max_raises_and_empty_sum_is_zero(device):
    with pytest.raises(ValueError):
        fg.max(fg.zeros(0, device=device))
    assert fg.sum(fg.zeros(0, 3, device=device), axis=0).tolist() == [0.0, 0.0, 0.0]
    assert fg.all(fg.zeros(0, dtype=fg.bool, device=device)).item() is True


@pytest.mark.parametrize("device,dtype", device_params([np.float32, np.float64, np.int64, np.int32]),
                         indirect=["device"])
@given(data=st.data())
def test_matmul_matches_numpy(device, dtype, data):
    m, k, n = (data.draw(st.integers(1, 7)) for _ in range(3))
    batch_a = data.draw(st.sampled_from([(), (2,), (1,), (3, 1)]))
    batch_b = data.draw(st.sampled_from([(), (2,), (1,), (1, 2)]))
    one_d_a, one_d_b = data.draw(st.booleans()), data.draw(st.booleans())
    sa = (k,) if one_d_a else batch_a + (m, k)
    sb = (k,) if one_d_b else batch_b + (k, n)
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    a = rng.integers(-5, 5, sa).astype(dtype)
    b = rng.integers(-5, 5, sb).astype(dtype)
    _, ta = view_of(a, data.draw(st.booleans()), device)
    r = ta @ fg.tensor(b, device=device)
    assert r.device.type == device
    got = r.cpu().numpy()
    want = a @ b
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_matmul_errors(device):
    with pytest.raises(ValueError):
        fg.ones(2, 3, device=device) @ fg.ones(2, 3, device=device)
    with pytest.raises(ValueError):
        fg.matmul(fg.tensor(1.0, device=device), fg.ones(2, device=device))


# float64 and int64 draws: CPU only. The GPU kernels for these ops are tested in
# tests/test_gpu_sort.py (float32/int32, against numpy and the CPU).
@given(data=st.data())
def test_sort_argsort_unique_searchsorted(data):
    a = data.draw(arrays(np.float64, max_dims=3))
    axis = data.draw(st.integers(-a.ndim, a.ndim - 1))
    t = fg.tensor(a)
    np.testing.assert_array_equal(np.asarray(fg.sort(t, axis=axis)), np.sort(a, axis=axis, kind="stable"))
    np.testing.assert_array_equal(np.asarray(fg.argsort(t, axis=axis)), np.argsort(a, axis=axis, kind="stable"))
    u = fg.unique_all(t)
    uv, ui, uinv, uc = np.unique(a, return_index=True, return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(np.asarray(u.values), uv)
    np.testing.assert_array_equal(np.asarray(u.counts), uc)
    np.testing.assert_array_equal(np.asarray(u.indices), ui)
    np.testing.assert_array_equal(np.asarray(u.inverse_indices).reshape(-1), uinv.reshape(-1))
    s = np.sort(a.reshape(-1))
    v = data.draw(hnp.arrays(np.float64, st.integers(0, 6), elements=st.floats(-100, 100)))
    for side in ("left", "right"):
        np.testing.assert_array_equal(np.asarray(fg.searchsorted(fg.tensor(s), fg.tensor(v), side=side)),
                                      np.searchsorted(s, v, side=side))


def test_topk_and_nan_order():
    x = fg.tensor([3.0, np.nan, 1.0, 2.0])
    assert np.isnan(np.asarray(fg.sort(x))[-1])
    v, i = fg.topk(fg.tensor([1.0, 5.0, 3.0, 5.0]), 2)
    assert v.tolist() == [5.0, 5.0] and i.tolist() == [1, 3]


@given(data=st.data())
def test_gather_scatter(device, data):
    it = index_dtype(device)  # values and indices: int64, int32 on the GPU
    a = data.draw(arrays(it, min_dims=2, max_dims=3, min_side=1))
    axis = data.draw(st.integers(0, a.ndim - 1))
    rng = np.random.default_rng(data.draw(st.integers(0, 100)))
    idx = rng.integers(-a.shape[axis], a.shape[axis], size=a.shape).astype(it)

    def on(v):
        return fg.tensor(v, device=device)

    t = on(a)
    np.testing.assert_array_equal(np.asarray(fg.take_along_axis(t, on(idx), axis=axis)),
                                  np.take_along_axis(a, idx, axis=axis))
    pos = idx % a.shape[axis]
    np.testing.assert_array_equal(np.asarray(fg.take(t, on(pos[..., 0].reshape(-1)), axis=axis)),
                                  np.take(a, pos[..., 0].reshape(-1), axis=axis))
    out = np.zeros_like(a)
    src = rng.integers(-5, 5, size=a.shape).astype(it)
    for p in np.ndindex(*a.shape):  # reference scatter_add, duplicates accumulate
        q = list(p)
        q[axis] = pos[p]
        out[tuple(q)] += src[p]
    got = fg.zeros(a.shape, dtype=fg.tensor(a).dtype, device=device).scatter_add_(
        axis, on(pos), on(src))
    assert got.device.type == device
    np.testing.assert_array_equal(got.cpu().numpy(), out)
    onehot = fg.one_hot(on(pos[..., 0]), a.shape[axis]).cpu().numpy()
    assert onehot.dtype == it
    np.testing.assert_array_equal(onehot, np.eye(a.shape[axis], dtype=it)[pos[..., 0]])


def test_scatter_add_rejects_out_of_range(device):
    with pytest.raises(IndexError):
        fg.zeros(3, device=device).scatter_add_(0, fg.tensor([3], device=device),
                                                fg.ones(1, device=device))
