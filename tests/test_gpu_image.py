"""The GPU image ops (convolutions, pooling, pad) against the CPU ones: values and
gradients (autograd `.backward()` on each device) over several geometries, strided
input views, and a small CNN trained on each device.

Runs on any adapter wgpu finds (in CI: Mesa's lavapipe). Without one the module is
skipped, unless FERROGRAD_REQUIRE_GPU=1, which turns a missing adapter into a failure.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import ferrograd as fg
import ferrograd.nn.functional as F
from ferrograd import _core

if not fg.gpu.is_available():
    if os.environ.get("FERROGRAD_REQUIRE_GPU") == "1":
        raise RuntimeError(
            "FERROGRAD_REQUIRE_GPU=1 but no GPU adapter is visible: install Mesa's lavapipe "
            "(mesa-vulkan-drivers libvulkan1) or a GPU driver"
        )
    pytest.skip("no GPU adapter visible (install mesa-vulkan-drivers for lavapipe)", allow_module_level=True)

# Sums of up to a few hundred float32 products, in another order than the CPU's.
RTOL, ATOL = 1e-4, 1e-5


def _rand(seed, shape, distinct=False):
    r = np.random.default_rng(seed)
    if distinct:  # no ties, so max pooling picks the same element on both devices
        return (r.permutation(int(np.prod(shape))).astype(np.float32) * 0.01 - 1.0).reshape(shape)
    return r.standard_normal(shape).astype(np.float32)


def _both(fn, arrays, views=None, seed=99):
    """Runs `fn(*tensors)` on the CPU and the GPU with leaves made from `arrays` (viewed
    through `views[i]`, a function of the leaf, when given) and backpropagates a fixed
    random cotangent; returns {device: (output, [grads])} as numpy."""
    views = views or [None] * len(arrays)
    out = {}
    for dev in ("cpu", "gpu"):
        leaves = [fg.tensor(a, device=dev, requires_grad=a.dtype == np.float32) for a in arrays]
        args = [v(t) if v else t for t, v in zip(leaves, views)]
        y = fn(*args)
        assert y.device.type == dev
        cot = fg.tensor(_rand(seed, tuple(y.shape)), device=dev)
        if any(t.requires_grad for t in leaves):
            (y * cot).sum().backward()
        grads = [t.grad for t in leaves if t.requires_grad]
        assert all(g.device.type == dev for g in grads)
        out[dev] = (y.cpu().numpy(), [g.cpu().numpy() for g in grads])
    return out


def _check(res, exact=False):
    (yc, gc), (yg, gg) = res["cpu"], res["gpu"]
    assert yg.shape == yc.shape
    if exact:
        np.testing.assert_array_equal(yg, yc)
    else:
        np.testing.assert_allclose(yg, yc, rtol=RTOL, atol=ATOL)
    for a, b in zip(gg, gc):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)


def _swap_last(t):
    """A transposed (non-contiguous) view of a leaf stored with its last two dims swapped."""
    return t.transpose(-1, -2)


# ---- convolutions ----------------------------------------------------------------------

CONV_CASES = [
    # nd, N, C_in, C_out, spatial, kernel, stride, padding, dilation, groups
    (1, 2, 3, 4, (11,), (3,), 2, 1, 1, 1),
    (1, 3, 4, 6, (9,), (2,), 1, "same", 2, 2),
    (2, 2, 3, 5, (7, 8), (3, 3), 1, 1, 1, 1),
    (2, 2, 4, 4, (9, 6), (3, 2), (2, 1), (1, 0), (1, 2), 4),
    (2, 1, 6, 4, (5, 5), (1, 1), 1, 0, 1, 2),
    (2, 3, 2, 3, (6, 7), (5, 5), 3, 2, 1, 1),
    (3, 2, 3, 4, (4, 5, 6), (2, 3, 2), (1, 2, 1), 1, 1, 1),
    (3, 1, 4, 2, (5, 4, 4), (3, 1, 2), 2, (1, 0, 1), (1, 1, 2), 2),
]


@pytest.mark.parametrize("case", CONV_CASES, ids=[f"conv{c[0]}d-{i}" for i, c in enumerate(CONV_CASES)])
@pytest.mark.parametrize("strided", [False, True])
def test_conv_values_and_gradients(case, strided):
    nd, n, cin, cout, sp, k, stride, padding, dilation, groups = case
    x = _rand(1, (n, cin) + sp)
    w = _rand(2, (cout, cin // groups) + k) * 0.3
    b = _rand(3, (cout,))
    conv = getattr(F, f"conv{nd}d")
    if strided and nd > 1:
        x = np.ascontiguousarray(np.swapaxes(x, -1, -2))  # the leaf; the op sees its transpose
        views = [_swap_last, None, None]
    else:
        views = None
    res = _both(lambda x, w, b: conv(x, w, b, stride, padding, dilation, groups), [x, w, b], views)
    _check(res)


TRANSPOSE_CASES = [
    # nd, N, C_in, C_out, spatial, kernel, stride, padding, output_padding, groups, dilation
    (1, 2, 4, 3, (6,), (3,), 2, 1, 1, 1, 1),
    (2, 2, 4, 6, (4, 5), (3, 2), (2, 1), (1, 0), (1, 0), 2, 1),
    (2, 1, 3, 2, (5, 5), (3, 3), 1, 1, 0, 1, 2),
    (3, 1, 2, 2, (3, 4, 3), (2, 2, 3), 2, (0, 1, 1), (1, 0, 1), 1, 1),
]


@pytest.mark.parametrize("case", TRANSPOSE_CASES, ids=[f"tconv{c[0]}d-{i}" for i, c in enumerate(TRANSPOSE_CASES)])
def test_conv_transpose_values_and_gradients(case):
    nd, n, cin, cout, sp, k, stride, padding, out_pad, groups, dilation = case
    x = _rand(4, (n, cin) + sp)
    w = _rand(5, (cin, cout // groups) + k) * 0.3
    b = _rand(6, (cout,))
    tconv = getattr(F, f"conv_transpose{nd}d")
    res = _both(lambda x, w, b: tconv(x, w, b, stride, padding, out_pad, groups, dilation), [x, w, b])
    _check(res)


def test_conv_batches_split_when_the_column_matrix_is_capped(monkeypatch):
    # A cap of 2 images' columns: chunked unfold, matmul, fold and summed weight grads.
    monkeypatch.setenv("FERROGRAD_GPU_CONV_COLS", str(2 * 4 * 9 * 36))
    x, w, b = _rand(7, (5, 4, 6, 6)), _rand(8, (6, 2, 3, 3)), _rand(9, (6,))
    res = _both(lambda x, w, b: F.conv2d(x, w, b, padding=1, groups=2), [x, w, b])
    _check(res)
    xt, wt = _rand(10, (5, 4, 3, 3)), _rand(11, (4, 3, 2, 2))
    _check(_both(lambda x, w: F.conv_transpose2d(x, w, stride=2), [xt, wt]))


def test_conv_errors_are_python_exceptions():
    x = fg.tensor(_rand(1, (1, 2, 5, 5)), device="gpu")
    with pytest.raises(RuntimeError, match="one device"):
        F.conv2d(x, fg.tensor(_rand(2, (3, 2, 3, 3))))
    with pytest.raises(ValueError, match="channels"):
        F.conv2d(x, fg.tensor(_rand(2, (3, 3, 3, 3)), device="gpu"))
    with pytest.raises(TypeError):
        F.conv2d(fg.zeros((1, 2, 5, 5), dtype=fg.int32, device="gpu"), fg.zeros((1, 2, 3, 3), device="gpu"))


# ---- pooling ---------------------------------------------------------------------------

MAX_CASES = [
    # nd, shape, kernel, stride, padding, dilation, ceil_mode
    (1, (2, 3, 11), 3, 2, 1, 1, False),
    (1, (3, 10), 2, None, 0, 2, True),
    (2, (2, 3, 8, 9), 2, None, 0, 1, False),
    (2, (2, 2, 9, 7), (3, 2), (2, 1), (1, 1), (1, 2), True),
    (2, (3, 7, 7), 3, 1, 1, 1, False),
    (3, (1, 2, 5, 6, 7), (2, 3, 2), (2, 2, 1), (1, 1, 0), 1, True),
]


@pytest.mark.parametrize("case", MAX_CASES, ids=[f"max{c[0]}d-{i}" for i, c in enumerate(MAX_CASES)])
@pytest.mark.parametrize("strided", [False, True])
def test_max_pool_values_indices_and_gradients(case, strided):
    nd, shape, k, stride, padding, dilation, ceil = case
    x = _rand(12, shape, distinct=True)
    views = None
    if strided:
        x = np.ascontiguousarray(np.swapaxes(x, -1, -2))
        views = [_swap_last]
    pool = getattr(F, f"max_pool{nd}d")
    idx = {}

    def fn(t):
        y, i = pool(t, k, stride, padding, dilation, ceil, return_indices=True)
        idx[t.device.type] = i
        return y

    res = _both(fn, [x], views)
    _check(res, exact=True)
    assert idx["gpu"].dtype == fg.int32 and idx["gpu"].device.type == "gpu"
    np.testing.assert_array_equal(idx["gpu"].cpu().numpy(), idx["cpu"].numpy())


def test_max_pool_integers_and_nan_on_the_gpu():
    a = np.arange(2 * 36, dtype=np.int32).reshape(2, 6, 6)[:, ::-1] * 7 % 23
    for dt in (fg.int32, fg.uint32):
        y, i = F.max_pool2d(fg.tensor(a.copy(), dtype=dt, device="gpu"), 3, 2, 1, return_indices=True)
        yc, ic = F.max_pool2d(fg.tensor(a.copy(), dtype=fg.int64), 3, 2, 1, return_indices=True)
        np.testing.assert_array_equal(y.cpu().numpy(), yc.numpy())
        np.testing.assert_array_equal(i.cpu().numpy(), ic.numpy())
    f = np.arange(16, dtype=np.float32).reshape(1, 4, 4)
    f[0, 1, 0] = np.nan
    f[0, 3, 3] = -np.inf
    y, i = F.max_pool2d(fg.tensor(f, device="gpu"), 2, return_indices=True)
    yc, ic = F.max_pool2d(fg.tensor(f), 2, return_indices=True)
    np.testing.assert_array_equal(y.cpu().numpy(), yc.numpy())
    np.testing.assert_array_equal(i.cpu().numpy(), ic.numpy())


def test_raw_max_pool_backward_takes_gpu_int32_indices():
    x = _rand(13, (2, 3, 6, 6), distinct=True)
    g = _rand(14, (2, 3, 3, 3))
    ys = {}
    for dev in ("cpu", "gpu"):
        _, i = F.max_pool2d(fg.tensor(x, device=dev), 3, 2, 1, return_indices=True)
        ys[dev] = _core._max_pool_backward(fg.tensor(g, device=dev), i, (2, 3, 6, 6), 2)
        assert ys[dev].device.type == dev
    np.testing.assert_allclose(ys["gpu"].cpu().numpy(), ys["cpu"].numpy(), rtol=RTOL, atol=ATOL)


AVG_CASES = [
    # nd, shape, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override
    (1, (2, 3, 10), 3, 2, 1, True, True, None),
    (1, (2, 9), 4, 1, 2, False, False, None),
    (2, (2, 3, 8, 7), 2, None, 0, False, True, None),
    (2, (1, 2, 7, 9), (3, 2), (2, 3), (1, 1), True, False, None),
    (2, (2, 2, 6, 6), 3, 2, 1, False, True, 5),
    (3, (1, 2, 5, 4, 6), (3, 2, 2), (2, 1, 2), (1, 0, 1), True, False, None),
]


@pytest.mark.parametrize("case", AVG_CASES, ids=[f"avg{c[0]}d-{i}" for i, c in enumerate(AVG_CASES)])
def test_avg_pool_values_and_gradients(case):
    nd, shape, k, stride, padding, ceil, cip, div = case
    pool = getattr(F, f"avg_pool{nd}d")
    extra = {} if nd == 1 else {"divisor_override": div}
    x = _rand(15, shape)
    fn = lambda t: pool(t, k, stride, padding, ceil, cip, **extra)  # noqa: E731
    _check(_both(fn, [x]))
    _check(_both(fn, [np.ascontiguousarray(np.swapaxes(x, -1, -2))], [_swap_last]))


ADAPTIVE_CASES = [
    (1, (2, 3, 10), 4),
    (2, (2, 3, 7, 9), (3, 4)),
    (2, (3, 5, 5), (5, None)),
    (2, (1, 2, 4, 6), (7, 2)),
    (3, (1, 2, 5, 6, 7), (2, 3, 4)),
]


@pytest.mark.parametrize("case", ADAPTIVE_CASES, ids=[f"adaptive{c[0]}d-{i}" for i, c in enumerate(ADAPTIVE_CASES)])
def test_adaptive_pools_values_and_gradients(case):
    nd, shape, size = case
    x = _rand(16, shape, distinct=True)
    avg = getattr(F, f"adaptive_avg_pool{nd}d")
    mx = getattr(F, f"adaptive_max_pool{nd}d")
    _check(_both(lambda t: avg(t, size), [x]))
    _check(_both(lambda t: mx(t, size), [x]), exact=True)


# ---- pad -------------------------------------------------------------------------------

PAD_CASES = [
    ("constant", (2, 3, 5), (1, 2)),
    ("constant", (2, 3, 5, 4), (-1, 2, 0, 1)),
    ("constant", (3, 4, 5), (2, 1, 1, 1, 1, 0)),
    ("reflect", (2, 3, 6), (2, 3)),
    ("reflect", (2, 2, 5, 4), (3, 1, 2, 4)),
    ("reflect", (1, 2, 3, 4, 5), (1, 2, 1, 1, 2, 0)),
    ("replicate", (2, 7), (3, 0)),
    ("replicate", (2, 2, 4, 3), (2, 5, 1, 3)),
    ("replicate", (1, 2, 3, 2, 4), (1, 1, 2, 0, 3, 1)),
    ("circular", (2, 3, 6), (2, 4)),
    ("circular", (2, 2, 5, 4), (-1, 3, 2, 2)),
    ("circular", (1, 1, 3, 4, 5), (1, 2, 2, 1, 0, 3)),
]


@pytest.mark.parametrize("case", PAD_CASES, ids=[f"{c[0]}-{len(c[2]) // 2}d-{i}" for i, c in enumerate(PAD_CASES)])
def test_pad_values_and_gradients(case):
    mode, shape, widths = case
    x = _rand(17, shape)
    value = 1.5 if mode == "constant" else None
    fn = lambda t: F.pad(t, widths, mode, value)  # noqa: E731
    _check(_both(fn, [x]), exact=True)
    _check(_both(fn, [np.ascontiguousarray(np.swapaxes(x, -1, -2))], [_swap_last]), exact=True)


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_copies_integer_and_bool_tensors(mode):
    a = np.arange(2 * 3 * 4, dtype=np.int32).reshape(2, 3, 4) - 7
    value = 3 if mode == "constant" else None
    for arr in (a, a % 3 == 0):
        want = F.pad(fg.tensor(arr), (2, 1, 1, 2), mode, value).numpy()
        got = F.pad(fg.tensor(arr, device="gpu"), (2, 1, 1, 2), mode, value)
        assert got.device.type == "gpu"
        np.testing.assert_array_equal(got.cpu().numpy(), want)


# ---- a small CNN -----------------------------------------------------------------------


def _cnn(batch_norm: bool):
    nn = fg.nn
    layers = [nn.Conv2d(3, 8, 3, padding=1)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(8))
    layers += [nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 4, 3, stride=2, padding=1), nn.ReLU(),
               nn.AvgPool2d(2), nn.Flatten(), nn.Linear(4 * 2 * 2, 5)]
    return nn.Sequential(*layers)


def _train(state, batch_norm, dev, x, y):
    fg.manual_seed(0)
    m = _cnn(batch_norm)
    m.load_state_dict({k: fg.tensor(v) for k, v in state.items()})
    m.to(dev)
    opt = fg.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    xs, ys = fg.tensor(x, device=dev), fg.tensor(y, device=dev)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = ((m(xs) - ys) ** 2).mean()  # mse: log_softmax is another work item's
        loss.backward()
        assert all(p.grad.device.type == dev for p in m.parameters())
        opt.step()
        losses.append(loss.item())
    return losses, [p.detach().cpu().numpy() for p in m.parameters()]


@pytest.mark.parametrize("batch_norm", [False, True])
def test_small_cnn_trains_on_the_gpu_like_on_the_cpu(batch_norm):
    fg.manual_seed(0)
    model = _cnn(batch_norm)
    state = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    x = _rand(18, (6, 3, 16, 16))
    y = _rand(19, (6, 5))
    runs = {}
    for dev in ("cpu", "gpu"):
        runs[dev] = _train(state, batch_norm, dev, x, y)
    np.testing.assert_allclose(runs["gpu"][0], runs["cpu"][0], rtol=1e-4, atol=1e-5)
    for a, b in zip(runs["gpu"][1], runs["cpu"][1]):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
