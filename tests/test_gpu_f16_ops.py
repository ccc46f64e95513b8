"""float16 on the GPU beyond elementwise ops: softmax, arg-reductions, running sums,
sorting, advanced indexing, scatter-add, convolution, pooling, padding,
interpolation, cross-entropy, batch normalisation and SVD, forward and backward,
against the CPU's float16 results (adapters with shader-f16, such as lavapipe).

Both devices compute these float16 ops in float32 and round once (the GPU widens
float16 operands on the device and runs its float32 kernels), so results agree
within 1 ulp of float16: a float32 rounding difference can cross a float16 rounding
boundary. Ops that only select or move values (argmax, sorting, indexing, max
pooling, padding, nearest interpolation) must agree bit for bit. Where float32
sums cancel to near zero, their float32 error spans many float16 ulps there, so
those comparisons also accept an absolute error far below float16's resolution
at the data's scale.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_f16_close

import ferrograd as fg
import ferrograd.nn.functional as F
from ferrograd import nn

RNG = np.random.default_rng(11)


def halves(*shape, lo=-2.0, hi=2.0) -> np.ndarray:
    return RNG.uniform(lo, hi, shape).astype(np.float16)


def host(t: fg.Tensor) -> np.ndarray:
    return t.cpu().numpy()


def both(a: np.ndarray, dev: str):
    """The same float16 values as a CPU tensor and a GPU tensor."""
    return fg.from_numpy(a), fg.from_numpy(a).to(dev)


def exact(got: fg.Tensor, want: fg.Tensor):
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.device.type == "gpu"
    np.testing.assert_array_equal(host(got), want.numpy())


def grads_of(f, arrays, dev, requires=None):
    """f's float16 result and the float16 gradients of sum(result * weights) with
    respect to each input, on `dev` (the weights make every output's gradient differ)."""
    ts = [fg.from_numpy(a).to(dev) for a in arrays]
    for t, r in zip(ts, requires or [True] * len(ts)):
        t.requires_grad = r
    y = f(*ts)
    w = fg.from_numpy(np.linspace(-1, 1, y.numel(), dtype=np.float16).reshape(y.shape)).to(dev)
    (y * w).sum().backward()
    return [host(y)] + [host(t.grad) for t in ts if t.requires_grad]


def assert_same_grads(f, arrays, dev, atol=1e-3, requires=None):
    got, want = grads_of(f, arrays, dev, requires), grads_of(f, arrays, "cpu", requires)
    for g, w in zip(got, want):
        assert_f16_close(g, w, atol=atol)


# ---- rows: softmax, arg-reductions, running sums, sorting --------------------------------


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_of_a_strided_view(f16_gpu, log, dim):
    a = halves(6, 9, 10, lo=-6, hi=6)
    c, g = both(a, f16_gpu)
    f = F.log_softmax if log else F.softmax
    got, want = f(g[:, ::2].transpose(0, 2), dim=dim), f(c[:, ::2].transpose(0, 2), dim=dim)
    assert got.dtype == fg.float16
    assert_f16_close(host(got), want.numpy())


def test_softmax_gradient(f16_gpu):
    assert_same_grads(lambda x: F.log_softmax(x, dim=1), [halves(5, 13)], f16_gpu)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_arg_reductions_pick_the_cpu_element(f16_gpu, name):
    a = halves(7, 40)
    a[2, 5] = a[2, 30] = 9  # ties: the first wins
    a[2, 7] = -9
    a[4, 3] = np.nan  # NaN wins, as in numpy
    c, g = both(a, f16_gpu)
    f = getattr(fg, name)
    for kw in [{}, {"axis": 1}, {"axis": 0}, {"axis": 1, "keepdims": True}]:
        got, want = f(g, **kw), f(c, **kw)
        np.testing.assert_array_equal(host(got), want.numpy())
    np.testing.assert_array_equal(host(f(g.T, axis=0)), f(c.T, axis=0).numpy())


@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
def test_running_sums_accumulate_in_float32_on_both_devices(f16_gpu, name):
    lo, hi = (0.98, 1.02) if name == "cumprod" else (-1, 1)
    a = halves(4, 300, lo=lo, hi=hi)
    want = getattr(np, name)(a.astype(np.float32), axis=1).astype(np.float16)
    c, g = both(a, f16_gpu)
    for t in (c, g):
        got = getattr(fg, name)(t, axis=1)
        assert got.dtype == fg.float16
        assert_f16_close(host(got), want)
    got = getattr(fg, name)(g.T, axis=0)  # a strided view
    assert_f16_close(host(got), want.T)


def test_a_long_cumsum_does_not_stall(f16_gpu):
    # A float16 accumulator stops growing at 2048 when adding ones.
    for dev in ("cpu", f16_gpu):
        got = host(fg.cumsum(fg.ones(5000, dtype=fg.float16, device=dev), axis=0))
        np.testing.assert_array_equal(got, np.arange(1, 5001, dtype=np.float32).astype(np.float16))


def test_sorting_matches_the_cpu(f16_gpu):
    a = halves(5, 64)
    a[1, :10] = 0.5  # ties keep their order (stable)
    a[3, 4] = np.nan
    c, g = both(a, f16_gpu)
    for desc in (False, True):
        exact(fg.sort(g, axis=1, descending=desc), fg.sort(c, axis=1, descending=desc))
        np.testing.assert_array_equal(host(fg.argsort(g, axis=1, descending=desc)),
                                      fg.argsort(c, axis=1, descending=desc).numpy())
    exact(fg.sort(g.T, axis=0), fg.sort(c.T, axis=0))
    gv, gi = fg.topk(g, 5)
    cv, ci = fg.topk(c, 5)
    exact(gv, cv)
    np.testing.assert_array_equal(host(gi), ci.numpy())


def test_searchsorted_and_unique(f16_gpu):
    seq = np.sort(halves(50))
    vals = np.concatenate([halves(30), seq[::7]])
    (cs, gs), (cv, gv) = both(seq, f16_gpu), both(vals, f16_gpu)
    for side in ("left", "right"):
        np.testing.assert_array_equal(host(fg.searchsorted(gs, gv, side=side)),
                                      fg.searchsorted(cs, cv, side=side).numpy())
    a = np.round(halves(200) * 4) / 4
    c, g = both(a, f16_gpu)
    got, want = fg.unique_all(g), fg.unique_all(c)
    exact(got.values, want.values)
    for field in ("inverse_indices", "counts"):
        np.testing.assert_array_equal(host(getattr(got, field)), getattr(want, field).numpy())


# ---- indexing and scatter-add ----------------------------------------------------------------


def test_advanced_indexing_moves_float16_bits(f16_gpu):
    a = halves(6, 8)
    a[0, 0], a[1, 1] = np.nan, -0.0
    c, g = both(a, f16_gpu)
    rows = fg.tensor([4, 0, 1, 4], dtype=fg.int32)
    exact(g[rows.to(f16_gpu)], c[rows])
    exact(g[:, rows.to(f16_gpu)], c[:, rows])
    exact(g[1:, ::2][rows.to(f16_gpu) % 5], c[1:, ::2][rows % 5])
    mask = c > 0
    exact(g[mask.to(f16_gpu)], c[mask])
    idx = fg.from_numpy(RNG.integers(0, 8, (6, 3)).astype(np.int32))
    exact(fg.take_along_axis(g, idx.to(f16_gpu), axis=1), fg.take_along_axis(c, idx, axis=1))
    exact(fg.gather(g, 1, idx.to(f16_gpu)), fg.gather(c, 1, idx))


def test_indexed_assignment(f16_gpu):
    a, v = halves(6, 8), halves(3, 8)
    c, g = both(a, f16_gpu)
    rows = fg.tensor([5, 0, 2], dtype=fg.int32)
    g[rows.to(f16_gpu)] = fg.from_numpy(v).to(f16_gpu)
    c[rows] = fg.from_numpy(v)
    g[g < 0] = 0.25
    c[c < 0] = 0.25
    exact(g, c)


def test_embedding_and_its_gradient(f16_gpu):
    ids = fg.tensor([[1, 3, 3], [0, 2, 1]], dtype=fg.int32)
    weight = halves(5, 4)

    def f(w):
        return F.embedding(ids.to(w.device), w)

    assert_same_grads(f, [weight], f16_gpu)


def test_scatter_add_accumulates_in_float32(f16_gpu):
    out, src = halves(4, 6), halves(9, 6, lo=0, hi=1)
    index = RNG.integers(0, 4, (9, 6)).astype(np.int32)
    want = out.astype(np.float32)
    np.add.at(want, (index, np.arange(6)[None, :].repeat(9, 0)), src.astype(np.float32))
    g = fg.from_numpy(out).to(f16_gpu)
    g.scatter_add_(0, fg.from_numpy(index).to(f16_gpu), fg.from_numpy(src).to(f16_gpu))
    assert g.dtype == fg.float16
    assert_f16_close(host(g), want.astype(np.float16))
    # into a strided view: the other elements are untouched
    big = fg.from_numpy(np.zeros((4, 12), np.float16)).to(f16_gpu)
    big[:, ::2].scatter_add_(0, fg.from_numpy(index).to(f16_gpu), fg.from_numpy(src).to(f16_gpu))
    want_view = np.zeros((4, 6), np.float32)
    np.add.at(want_view, (index, np.arange(6)[None, :].repeat(9, 0)), src.astype(np.float32))
    assert_f16_close(host(big)[:, ::2], want_view.astype(np.float16))
    np.testing.assert_array_equal(host(big)[:, 1::2], 0)


# ---- image ops ---------------------------------------------------------------------------


@pytest.mark.parametrize("conv, x_shape, w_shape, kw", [
    (F.conv1d, (2, 3, 17), (4, 3, 3), {"padding": 1}),
    (F.conv2d, (2, 3, 9, 8), (6, 1, 3, 3), {"stride": 2, "groups": 3}),
    (F.conv3d, (1, 2, 5, 6, 5), (3, 2, 2, 3, 2), {"dilation": (1, 2, 1)}),
    (F.conv_transpose2d, (2, 4, 5, 5), (4, 3, 3, 3), {"stride": 2, "output_padding": 1}),
])
def test_convolutions_and_their_gradients(f16_gpu, conv, x_shape, w_shape, kw):
    b_len = w_shape[1] * kw.get("groups", 1) if conv is F.conv_transpose2d else w_shape[0]
    arrays = [halves(*x_shape), halves(*w_shape, lo=-0.5, hi=0.5), halves(b_len)]
    assert_same_grads(lambda x, w, b: conv(x, w, b, **kw), arrays, f16_gpu, atol=4e-3)


def test_a_float32_weight_promotes_the_result(f16_gpu):
    x, w = halves(1, 2, 6, 6), RNG.normal(size=(3, 2, 3, 3)).astype(np.float32)
    got = F.conv2d(fg.from_numpy(x).to(f16_gpu), fg.from_numpy(w).to(f16_gpu))
    want = F.conv2d(fg.from_numpy(x), fg.from_numpy(w))
    assert got.dtype == want.dtype == fg.float32
    np.testing.assert_allclose(host(got), want.numpy(), rtol=1e-5, atol=1e-5)


def test_max_pooling_selects_the_cpu_elements(f16_gpu):
    a = halves(2, 3, 9, 10)
    a[0, 0, 0, 0] = np.nan
    c, g = both(a, f16_gpu)
    for kw in [{"kernel_size": 2}, {"kernel_size": 3, "stride": 2, "padding": 1}]:
        gv, gi = F.max_pool2d(g, return_indices=True, **kw)
        cv, ci = F.max_pool2d(c, return_indices=True, **kw)
        exact(gv, cv)
        np.testing.assert_array_equal(host(gi), ci.numpy())
    exact(F.adaptive_max_pool2d(g, (4, 3)), F.adaptive_max_pool2d(c, (4, 3)))
    a[0, 0, 0, 0] = 0
    assert_same_grads(lambda x: F.max_pool2d(x, 3, stride=2), [a], f16_gpu)


@pytest.mark.parametrize("pool, kw", [
    (F.avg_pool2d, {"kernel_size": 3, "stride": 2, "padding": 1}),
    (F.avg_pool1d, {"kernel_size": 4}),
    (F.adaptive_avg_pool2d, {"output_size": (3, 4)}),
])
def test_average_pooling_and_its_gradient(f16_gpu, pool, kw):
    shape = (2, 3, 19) if pool is F.avg_pool1d else (2, 3, 9, 10)
    assert_same_grads(lambda x: pool(x, **kw), [halves(*shape)], f16_gpu)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_padding_copies_float16_exactly(f16_gpu, mode):
    a = halves(2, 3, 5, 6)
    a[0, 0, 1, 1] = np.nan
    c, g = both(a, f16_gpu)
    exact(F.pad(g, (2, 1, 1, 2), mode=mode), F.pad(c, (2, 1, 1, 2), mode=mode))
    exact(F.pad(g[:, :, ::2], (1, 1, 0, 1), mode=mode), F.pad(c[:, :, ::2], (1, 1, 0, 1), mode=mode))
    a[0, 0, 1, 1] = 0
    assert_same_grads(lambda x: F.pad(x, (2, 1, 1, 2), mode=mode), [a], f16_gpu)


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "bilinear"])
def test_interpolation_and_its_gradient(f16_gpu, mode):
    a = halves(2, 3, 5, 7)
    c, g = both(a, f16_gpu)
    kw = {"scale_factor": 2.5, "mode": mode}
    if mode.startswith("nearest"):
        exact(F.interpolate(g, **kw), F.interpolate(c, **kw))
    assert_same_grads(lambda x: F.interpolate(x, **kw), [a], f16_gpu, atol=2e-3)


# ---- losses, normalisation, SVD ------------------------------------------------------------


@pytest.mark.parametrize("kw", [{}, {"reduction": "none"}, {"reduction": "sum", "label_smoothing": 0.1},
                                {"ignore_index": 2}])
def test_cross_entropy_and_its_gradient(f16_gpu, kw):
    target = fg.tensor([0, 2, 4, 1, 2, 3], dtype=fg.int32)

    def f(x):
        return F.cross_entropy(x, target.to(x.device), **kw)

    assert_same_grads(f, [halves(6, 5, lo=-4, hi=4)], f16_gpu)


def test_nll_loss_and_its_gradient(f16_gpu):
    target = fg.tensor([0, 2, 4, 1], dtype=fg.int32)
    assert_same_grads(lambda x: F.nll_loss(F.log_softmax(x, dim=1), target.to(x.device)),
                      [halves(4, 5, lo=-4, hi=4)], f16_gpu)


def test_batch_norm_trains_a_half_module(f16_gpu):
    a = halves(4, 3, 5, 5, lo=-1, hi=3)
    results = {}
    for dev in ("cpu", f16_gpu):
        m = nn.BatchNorm2d(3).to(fg.float16).to(dev)
        with fg.no_grad():
            m.weight.copy_(fg.tensor([0.5, 1.0, 2.0], dtype=fg.float16))
            m.bias.copy_(fg.tensor([0.1, 0.0, -0.3], dtype=fg.float16))
        x = fg.from_numpy(a).to(dev)
        x.requires_grad = True
        y = m(x)
        (y * y * y).sum().backward()
        assert y.dtype == m.running_mean.dtype == x.grad.dtype == m.weight.grad.dtype == fg.float16
        m.eval()
        results[dev] = [host(t) for t in (y, m.running_mean, m.running_var, x.grad, m.weight.grad, m.bias.grad,
                                          m(x).detach())]
    for got, want in zip(results[f16_gpu], results["cpu"]):
        assert_f16_close(got, want, atol=2e-3)


def test_svd_values(f16_gpu):
    a = halves(3, 6, 4)
    got = fg.linalg.svdvals(fg.from_numpy(a).to(f16_gpu))
    assert got.dtype == fg.float16
    want = np.linalg.svd(a.astype(np.float64), compute_uv=False).astype(np.float16)
    assert_f16_close(host(got), want, ulps=2)


# ---- a whole float16 model -------------------------------------------------------------------


def test_a_half_cnn_takes_the_same_training_steps_on_both_devices(f16_gpu):
    def model():
        fg.manual_seed(3)
        return nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(4 * 4 * 4, 3),
        ).to(fg.float16)

    x, y = halves(8, 1, 8, 8), RNG.integers(0, 3, 8).astype(np.int32)
    losses = {}
    for dev in ("cpu", f16_gpu):
        m = model().to(dev)
        opt = fg.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
        xs, ys = fg.from_numpy(x).to(dev), fg.from_numpy(y).to(dev)
        losses[dev] = []
        for _ in range(4):
            opt.zero_grad()
            loss = F.cross_entropy(m(xs), ys)
            loss.backward()
            opt.step()
            assert loss.dtype == fg.float16
            losses[dev].append(float(loss.item()))
    np.testing.assert_allclose(losses[f16_gpu], losses["cpu"], rtol=1e-2)
    assert losses[f16_gpu][-1] < losses[f16_gpu][0]
