"""Advanced indexing on GPU tensors against numpy and the CPU: gathers and assignments
with integer index tensors (on either device) and boolean masks, the functions built on
them (take, take_along_axis, gather, index_select), the atomic scatter_add/index_add,
nonzero, and gradients through all of these, which must stay on the GPU."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import gpu, gpu_views, require_gpu_module
from conftest import gpu_host as host

import ferrograd as fg

require_gpu_module()

RNG = np.random.default_rng(2)








def views(a: np.ndarray):
    return gpu_views(a, step=2)


def index_forms(i: np.ndarray):
    """The same index as a CPU int64 tensor and a GPU int32 tensor."""
    yield "cpu index", fg.from_numpy(i.astype(np.int64))
    yield "gpu index", gpu(i.astype(np.int32))


# ---- gathers -------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.uint32, bool])
def test_integer_index_gathers(dtype):
    a = (RNG.standard_normal((8, 10)) * 5).astype(dtype)
    for name, v, g in views(a):
        i = np.array([[0, -1], [2, 1]])
        j = np.array([1, 0])
        for iname, ti in index_forms(i):
            _, tj = next(index_forms(j))
            cases = [
                ((ti,), (i,)),
                ((slice(None), ti), (slice(None), i)),
                ((ti, tj), (i, j)),
                ((ti, slice(1, None, 2)), (i, slice(1, None, 2))),
                ((Ellipsis, ti), (Ellipsis, i)),
            ]
            for key, nkey in cases:
                out = g[key]
                assert out.device.type == "gpu" and out.dtype == g.dtype
                np.testing.assert_array_equal(host(out), v[nkey], err_msg=f"{name} {iname} {nkey}")


def test_separated_and_broadcast_indices():
    a = RNG.standard_normal((4, 5, 6)).astype(np.float32)
    g = gpu(a)
    i, k = np.array([0, 3, 1]), np.array([[5], [0]])
    np.testing.assert_array_equal(host(g[fg.from_numpy(i), :, fg.from_numpy(k)]), a[i, :, k])
    np.testing.assert_array_equal(host(g[1, fg.from_numpy(i), None]), a[1, i, None])
    np.testing.assert_array_equal(host(g[fg.from_numpy(np.array(2, np.int32)).to("gpu")]), a[2])
    with pytest.raises(IndexError, match="out of bounds"):
        g[fg.from_numpy(np.array([4]))]
    with pytest.raises(IndexError, match="out of bounds"):
        g[gpu(np.array([-5], np.int32))]


def test_boolean_masks():
    a = RNG.standard_normal((6, 7)).astype(np.float32)
    for name, v, g in views(a):
        m = v > 0
        for mask in (gpu(m), fg.from_numpy(m)):
            np.testing.assert_array_equal(host(g[mask]), v[m], err_msg=name)
        np.testing.assert_array_equal(host(g[gpu(m[:, 0])]), v[m[:, 0]], err_msg=name)
        np.testing.assert_array_equal(host(g[:, gpu(m[0])]), v[:, m[0]], err_msg=name)
    assert host(gpu(a)[gpu(np.zeros((6, 7), bool))]).shape == (0,)


def test_take_gather_index_select():
    a = RNG.standard_normal((5, 6)).astype(np.float32)
    g = gpu(a)
    idx = RNG.integers(0, 5, (5, 6))
    for name, t in index_forms(idx):
        np.testing.assert_array_equal(host(fg.take(g, t)), np.take(a, idx), err_msg=name)
        np.testing.assert_array_equal(host(fg.take_along_axis(g, t, axis=0)), np.take_along_axis(a, idx, 0))
        np.testing.assert_array_equal(host(fg.gather(g, 1, t)), np.take_along_axis(a, idx, 1), err_msg=name)
        np.testing.assert_array_equal(host(fg.index_select(g, 1, t[0])), a[:, idx[0]], err_msg=name)
    np.testing.assert_array_equal(host(fg.one_hot(gpu(np.array([0, 2, 1], np.int32)), 3)), np.eye(3)[[0, 2, 1]])


# ---- assignment ----------------------------------------------------------------------------


def test_index_put_integer_and_mask():
    a = RNG.standard_normal((6, 8)).astype(np.float32)
    for name, v, _ in views(a):
        want = v.copy()
        g = gpu(a)
        view = {"contiguous": g, "transposed": g.T, "stepped": g[::2, 1::2], "flipped": g.flip((0,))}[name]
        i = np.array([0, 2])
        want[i, 1] = 7.0
        view[fg.from_numpy(i), 1] = 7.0
        want[:, i] = np.arange(want.shape[0] * 2, dtype=np.float32).reshape(-1, 2)
        view[:, gpu(i.astype(np.int32))] = gpu(np.arange(want.shape[0] * 2, dtype=np.float32).reshape(-1, 2))
        m = want < 0
        want[m] = -1.0
        view[gpu(m)] = -1.0
        np.testing.assert_array_equal(host(view), want, err_msg=name)
    ints = gpu(np.arange(10, dtype=np.int32))
    ints[gpu(np.array([1, 3], np.int32))] = gpu(np.array([30.7, 40.2], np.float32))
    np.testing.assert_array_equal(host(ints), [0, 30, 2, 40, 4, 5, 6, 7, 8, 9])
    with pytest.raises(RuntimeError, match="device"):
        gpu(a)[fg.from_numpy(np.array([0]))] = fg.from_numpy(np.ones((1, 8), np.float32))


# ---- scatter_add / index_add -----------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.uint32])
def test_scatter_add_accumulates_duplicates(dtype):
    out = np.arange(12).reshape(3, 4).astype(dtype)
    src = RNG.integers(0, 9, (5, 4)).astype(dtype)
    idx = RNG.integers(0, 3, (4, 4))
    want = out.copy()
    for r in range(4):
        for c in range(4):
            want[idx[r, c], c] += src[r, c]
    for name, t in index_forms(idx):
        got = fg.scatter_add(gpu(out), 0, t, gpu(src))
        np.testing.assert_array_equal(host(got), want, err_msg=name)
    # Many collisions on one float: every addition lands (exact for small integers).
    hits = fg.scatter_add(gpu(np.zeros(2, np.float32)), 0, gpu(np.zeros(20000, np.int32)),
                          gpu(np.ones(20000, np.float32)))
    np.testing.assert_array_equal(host(hits), [20000.0, 0.0])
    with pytest.raises(IndexError, match="out of bounds"):
        fg.scatter_add(gpu(out), 0, gpu(np.array([[3]], np.int32)), gpu(src))


def test_scatter_add_strided_and_index_add():
    out = RNG.standard_normal((4, 6)).astype(np.float32)
    src = RNG.standard_normal((12, 8)).astype(np.float32)
    idx = RNG.integers(-4, 4, (3, 6))
    want = out.T.copy()
    srcv = src[::2, ::-1][:, :3]  # (6, 3) view
    for r in range(6):
        for c in range(3):
            want[r, idx[c, r] % 4] += srcv[r, c]
    g = gpu(out).T
    gs = gpu(src)[::2, ::-1][:, :3]
    g.scatter_add_(1, gpu(idx.T.astype(np.int32)), gs)
    np.testing.assert_allclose(host(g), want, rtol=1e-6, atol=1e-6)
    x = RNG.standard_normal((5, 3)).astype(np.float32)
    s = RNG.standard_normal((4, 3)).astype(np.float32)
    ii = np.array([0, 4, 0, 2])
    want = x.copy()
    np.add.at(want, ii, 2 * s)
    np.testing.assert_allclose(host(fg.index_add(gpu(x), 0, gpu(ii.astype(np.int32)), gpu(s), alpha=2)), want,
                               rtol=1e-6, atol=1e-6)


def test_nonzero():
    a = RNG.integers(0, 2, (4, 5)).astype(np.float32)
    got = fg.nonzero(gpu(a))
    for g, w in zip(got, np.nonzero(a)):
        assert g.dtype == fg.int32
        np.testing.assert_array_equal(host(g), w)


# ---- gradients -------------------------------------------------------------------------------


def both(a, f):
    """f applied to a fresh leaf on each device; returns the two gradients."""
    grads = []
    for dev in ("cpu", "gpu"):
        x = fg.from_numpy(a).to(dev).detach().requires_grad_()
        f(x, dev).backward()
        assert x.grad.device.type == dev, dev
        grads.append(x.grad.cpu().numpy())
    return grads


def test_gradients_of_indexing_stay_on_the_gpu():
    a = RNG.standard_normal((5, 6)).astype(np.float32)
    w = fg.from_numpy(RNG.standard_normal((3, 6)).astype(np.float32))
    i = np.array([4, 0, 4])
    cases = [
        lambda x, d: (x[fg.from_numpy(i)] * w.to(d)).sum(),
        lambda x, d: (x[fg.from_numpy(i).to(d) if d == "cpu" else gpu(i.astype(np.int32))] * w.to(d)).sum(),
        lambda x, d: (x[x.detach() > 0] ** 2).sum(),
        lambda x, d: (x[1:4, ::2] * 3).sum(),
        lambda x, d: (fg.gather(x, 1, fg.from_numpy(np.array([[0, 5, 5]] * 5)).to(d if d == "cpu" else "cpu"))).sum(),
        lambda x, d: (fg.take_along_axis(x, fg.from_numpy(np.array([[1, 1, 2]] * 5)), axis=1) ** 2).sum(),
        lambda x, d: fg.index_select(x, 0, fg.from_numpy(np.array([1, 1, 3]))).sum(),
    ]
    for k, f in enumerate(cases):
        cpu, gpu_ = both(a, f)
        np.testing.assert_allclose(gpu_, cpu, rtol=1e-5, atol=1e-6, err_msg=str(k))


def test_gradients_of_assignment_and_scatter_add():
    a = RNG.standard_normal((4, 5)).astype(np.float32)
    v = RNG.standard_normal((2, 5)).astype(np.float32)

    def put(x, d):
        y = x * 1.0
        val = fg.from_numpy(v).to(d)
        y[fg.from_numpy(np.array([0, 2]))] = val * 2
        return (y * y).sum()

    cpu, g = both(a, put)
    np.testing.assert_allclose(g, cpu, rtol=1e-5, atol=1e-6)

    def scatter(x, d):
        src = x * 2
        out = fg.zeros((3, 5), device=d)
        idx = fg.from_numpy(np.array([[0, 1, 2, 0, 1], [2, 2, 0, 0, 1]]))
        return (fg.scatter_add(out, 0, idx.to(d) if d == "cpu" else idx.astype(fg.int32).to(d), src[:2]) ** 2).sum()

    cpu, g = both(a, scatter)
    np.testing.assert_allclose(g, cpu, rtol=1e-5, atol=1e-6)
