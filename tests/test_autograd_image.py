"""Gradients of the image ops (convolutions, pooling, pad, interpolate): finite-difference
gradchecks in float64 over hypothesis-drawn geometries and input layouts, gradgradchecks
(the backward of every one of them is recorded, so second derivatives work), and
PyTorch as a second reference where it is installed."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_autograd import LAYOUTS, as_layout

import ferrograd as fg
from ferrograd.autograd import gradcheck, gradgradcheck

FEW = settings(max_examples=12, deadline=None)


def rand(seed, shape, layout="contig", domain="any"):
    r = np.random.default_rng(seed)
    if domain == "distinct":  # max pooling without ties
        a = (r.permutation(int(np.prod(shape))) * 0.37 - 1.0).reshape(shape)
    else:
        a = r.uniform(-1.5, 1.5, shape)
    return as_layout(a, layout)


geometry = st.fixed_dictionaries({
    "stride": st.integers(1, 2),
    "padding": st.integers(0, 1),
    "dilation": st.integers(1, 2),
    "groups": st.sampled_from([1, 2]),
    "seed": st.integers(0, 2**31),
    "layout": st.sampled_from(LAYOUTS),
})


@pytest.mark.parametrize("nd", [1, 2, 3])
@FEW
@given(g=geometry, bias=st.booleans())
def test_gradcheck_conv(nd, g, bias):
    conv = {1: fg.conv1d, 2: fg.conv2d, 3: fg.conv3d}[nd]
    k, groups = 2, g["groups"]
    x = rand(g["seed"], (2, 2 * groups) + (5,) * nd, g["layout"])
    w = rand(g["seed"] + 1, (2 * groups, 2) + (k,) * nd, g["layout"])
    b = rand(g["seed"] + 2, (2 * groups,)) if bias else None
    inputs = (x, w) if b is None else (x, w, b)

    def f(x, w, b=None):
        return conv(x, w, b, stride=g["stride"], padding=g["padding"], dilation=g["dilation"], groups=groups)

    assert gradcheck(f, inputs)


@pytest.mark.parametrize("nd", [1, 2, 3])
@FEW
@given(g=geometry, output_padding=st.integers(0, 1))
def test_gradcheck_conv_transpose(nd, g, output_padding):
    conv_t = {1: fg.conv_transpose1d, 2: fg.conv_transpose2d, 3: fg.conv_transpose3d}[nd]
    assume(output_padding < g["stride"])
    groups = g["groups"]
    x = rand(g["seed"], (2, 2 * groups) + (3,) * nd, g["layout"])
    w = rand(g["seed"] + 1, (2 * groups, 2) + (2,) * nd, g["layout"])
    b = rand(g["seed"] + 2, (2 * groups,))

    def f(x, w, b):
        return conv_t(x, w, b, stride=g["stride"], padding=g["padding"], output_padding=output_padding,
                      groups=groups, dilation=g["dilation"])

    assert gradcheck(f, (x, w, b))


def test_gradcheck_conv_same_padding_and_unbatched():
    x, w = rand(1, (3, 6, 5)), rand(2, (4, 3, 3, 2))
    assert gradcheck(lambda x, w: fg.conv2d(x, w, padding="same"), (x, w))


def test_gradgradcheck_conv_and_conv_transpose():
    x, w, b = rand(3, (2, 2, 5, 4)), rand(4, (4, 2, 3, 2)), rand(5, (4,))
    assert gradgradcheck(lambda x, w, b: fg.conv2d(x, w, b, stride=2, padding=1), (x, w, b))
    assert gradgradcheck(lambda x, w: fg.conv1d(x, w, dilation=2, groups=2), (rand(6, (1, 4, 7)), rand(7, (2, 2, 2))))
    wt = rand(8, (2, 3, 3, 3))
    assert gradgradcheck(lambda x, w: fg.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1),
                         (x, wt))


@pytest.mark.parametrize("nd", [1, 2, 3])
@FEW
@given(seed=st.integers(0, 2**31), layout=st.sampled_from(LAYOUTS), kernel=st.integers(1, 3),
       stride=st.integers(1, 2), ceil_mode=st.booleans())
def test_gradcheck_pools(nd, seed, layout, kernel, stride, ceil_mode):
    mp = {1: fg.max_pool1d, 2: fg.max_pool2d, 3: fg.max_pool3d}[nd]
    ap = {1: fg.avg_pool1d, 2: fg.avg_pool2d, 3: fg.avg_pool3d}[nd]
    pad = kernel // 2
    x = rand(seed, (2, 2) + (5,) * nd, layout, domain="distinct")
    assert gradcheck(lambda x: mp(x, kernel, stride, pad, ceil_mode=ceil_mode), (x,))
    for include in (True, False):
        assert gradcheck(lambda x, inc=include: ap(x, kernel, stride, pad, ceil_mode=ceil_mode,
                                                   count_include_pad=inc), (x,))


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_gradcheck_adaptive_pools(nd):
    aap = {1: fg.adaptive_avg_pool1d, 2: fg.adaptive_avg_pool2d, 3: fg.adaptive_avg_pool3d}[nd]
    amp = {1: fg.adaptive_max_pool1d, 2: fg.adaptive_max_pool2d, 3: fg.adaptive_max_pool3d}[nd]
    for layout in LAYOUTS:
        x = rand(nd, (2, 3) + (5,) * nd, layout, domain="distinct")
        assert gradcheck(lambda x: aap(x, 3), (x,))
        assert gradcheck(lambda x: amp(x, 3), (x,))


def test_max_pool_indices_output_and_gradient_routing():
    x = fg.tensor([[[[1.0, 5.0], [3.0, 2.0]]]], requires_grad=True)
    y, idx = fg.max_pool2d(x, 2, return_indices=True)
    assert y.grad_fn is not None and idx.grad_fn is None
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[[[0.0, 1.0], [0.0, 0.0]]]])


def test_gradgradcheck_pools():
    x = rand(11, (2, 2, 5, 6), "T", domain="distinct")
    assert gradgradcheck(lambda x: fg.max_pool2d(x, 3, 2, 1), (x,))
    assert gradgradcheck(lambda x: fg.avg_pool2d(x, 2, ceil_mode=True), (x,))
    assert gradgradcheck(lambda x: fg.adaptive_avg_pool2d(x, (2, 4)), (x,))
    assert gradgradcheck(lambda x: fg.adaptive_max_pool2d(x, 3), (x,))


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@FEW
@given(seed=st.integers(0, 2**31), layout=st.sampled_from(LAYOUTS),
       widths=st.lists(st.integers(0, 2), min_size=4, max_size=4))
def test_gradcheck_pad(mode, seed, layout, widths):
    x = rand(seed, (2, 2, 4, 3), layout)
    if mode == "constant":
        widths = [widths[0], -1, widths[2], widths[3]]  # negative pads crop
        assert gradcheck(lambda x: fg.pad(x, widths, value=2.5), (x,))
    else:
        assert gradcheck(lambda x: fg.pad(x, widths, mode=mode), (x,))


def test_gradgradcheck_pad():
    x = rand(12, (1, 2, 4, 5))
    assert gradgradcheck(lambda x: fg.pad(x, (1, 2, 2, 1), mode="reflect"), (x,))
    assert gradgradcheck(lambda x: fg.pad(x, (1, 0), value=-1.0), (x,))


@pytest.mark.parametrize(("mode", "nd", "align"), [
    ("nearest", 1, None), ("nearest", 2, None), ("nearest-exact", 2, None), ("linear", 1, False),
    ("linear", 1, True), ("bilinear", 2, False), ("bilinear", 2, True), ("trilinear", 3, False),
    ("area", 2, None), ("nearest", 3, None),
])
@FEW
@given(seed=st.integers(0, 2**31), layout=st.sampled_from(LAYOUTS), up=st.booleans())
def test_gradcheck_interpolate(mode, nd, align, seed, layout, up):
    x = rand(seed, (1, 2) + (4,) * nd, layout)
    size = (7,) * nd if up else (3,) * nd
    assert gradcheck(lambda x: fg.interpolate(x, size=size, mode=mode, align_corners=align), (x,))
    if mode not in ("area",):
        assert gradcheck(lambda x: fg.interpolate(x, scale_factor=1.5, mode=mode, align_corners=align), (x,))


def test_gradgradcheck_interpolate():
    x = rand(13, (1, 2, 3, 4))
    assert gradgradcheck(lambda x: fg.interpolate(x, scale_factor=2, mode="bilinear"), (x,))
    assert gradgradcheck(lambda x: fg.interpolate(x, size=(5, 2), mode="nearest"), (x,))


def test_video_conv3d_trains_a_step():
    # A 5-D (N, C, T, H, W) clip through conv3d, pooled, into a loss: every parameter
    # gets a gradient of its own shape, and a step along it lowers the loss.
    rng = np.random.default_rng(0)
    clip = fg.tensor(rng.standard_normal((2, 3, 4, 6, 6)), dtype=fg.float32)
    w = fg.tensor(rng.standard_normal((4, 3, 3, 3, 3)) * 0.1, dtype=fg.float32, requires_grad=True)
    b = fg.zeros(4, requires_grad=True)

    def loss():
        y = fg.conv3d(clip, w, b, padding=1).relu()
        return fg.adaptive_avg_pool3d(y, 1).square().sum()

    first = loss()
    first.backward()
    assert w.grad.shape == w.shape and b.grad.shape == b.shape
    with fg.no_grad():
        w -= 0.1 * w.grad
        b -= 0.1 * b.grad
    assert loss().item() < first.item()


def _torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("case", ["conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "pad", "bilinear"])
def test_gradients_match_torch(case):
    torch = _torch()
    rng = np.random.default_rng(5)
    xa = rng.standard_normal((2, 4, 7, 6)).astype(np.float32)
    wa = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
    ga = None
    ops = {
        "conv2d": (lambda m, x, w: m.conv2d(x, w, stride=2, padding=1, groups=2)),
        "conv_transpose2d": (lambda m, x, w: m.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1)),
        "max_pool2d": (lambda m, x, w: m.max_pool2d(x, 3, 2, 1) * 1.0),
        "avg_pool2d": (lambda m, x, w: m.avg_pool2d(x, 3, 2, 1, count_include_pad=False)),
        "pad": (lambda m, x, w: m.pad(x, (2, 1, 1, 2), mode="reflect")),
        "bilinear": (lambda m, x, w: m.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)),
    }
    op = ops[case]
    out_fg = []
    for lib in ("fg", "torch"):
        if lib == "fg":
            x, w, m = fg.tensor(xa, requires_grad=True), fg.tensor(wa, requires_grad=True), fg
        else:
            x, w = torch.tensor(xa, requires_grad=True), torch.tensor(wa, requires_grad=True)
            m = torch.nn.functional
        y = op(m, x, w)
        if ga is None:
            ga = np.random.default_rng(6).standard_normal(tuple(y.shape)).astype(np.float32)
        y.backward((fg.tensor if lib == "fg" else torch.tensor)(ga))
        gw = None if w.grad is None else w.grad.numpy()
        out_fg.append((y.detach().numpy(), x.grad.numpy(), gw))
    (y1, gx1, gw1), (y2, gx2, gw2) = out_fg
    np.testing.assert_allclose(y1, y2, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gx1, gx2, rtol=1e-5, atol=1e-5)
    if case.startswith("conv"):
        np.testing.assert_allclose(gw1, gw2, rtol=1e-5, atol=1e-4)
