"""ferrograd.nn layers: forward values against numpy references (torch where installed),
gradients, and train/eval behaviour. Convolution and pooling layers' gradient tests
need the Rust autograd nodes for conv/pool/pad/interpolate."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import ferrograd as fg
from ferrograd import nn
from ferrograd.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(1234)


def arr(t):
    return np.asarray(t.detach())


def randn(*shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


def param_values(module, dtype=np.float64):
    """Re-fills every parameter of ``module`` with random numbers (so affine terms are
    not trivially ones/zeros) and returns them as numpy arrays."""
    out = {}
    with fg.no_grad():
        for name, p in module.named_parameters():
            v = randn(*p.shape, dtype=dtype)
            p.copy_(fg.tensor(v, dtype=p.dtype))
            out[name] = v
    return out


# ---- numpy references ---------------------------------------------------------------------


def np_conv(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """Cross-correlation of (N, C, *sp) by (O, C/g, *k), any number of spatial dims."""
    nd = x.ndim - 2
    stride, padding, dilation = ((v,) * nd if isinstance(v, int) else v for v in (stride, padding, dilation))
    x = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding])
    k = w.shape[2:]
    span = [d * (kk - 1) + 1 for d, kk in zip(dilation, k)]
    win = sliding_window_view(x, span, axis=tuple(range(2, 2 + nd)))
    win = win[(Ellipsis,) + tuple(slice(None, None, d) for d in dilation)]
    win = win[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in stride)]
    n, c = x.shape[:2]
    o = w.shape[0]
    cg, og = c // groups, o // groups
    outs = []
    for g in range(groups):
        xs = win[:, g * cg:(g + 1) * cg]
        ws = w[g * og:(g + 1) * og]
        letters = "defg"[:nd]
        kl = "hijk"[:nd]
        outs.append(np.einsum(f"nc{letters}{kl},oc{kl}->no{letters}", xs, ws))
    out = np.concatenate(outs, axis=1)
    if b is not None:
        out = out + b.reshape((1, -1) + (1,) * nd)
    return out


def np_pool(x, k, stride, padding, reduce, pad_value):
    nd = len(k)
    x = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding], constant_values=pad_value)
    win = sliding_window_view(x, k, axis=tuple(range(2, 2 + nd)))
    win = win[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in stride)]
    return reduce(win, axis=tuple(range(-nd, 0)))


def np_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_layer_norm(x, axes, eps):
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


# ---- Linear, Bilinear ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype,tol", [(fg.float32, 1e-5), (fg.float64, 1e-12)])
def test_linear_forward_and_gradients(dtype, tol):
    lin = nn.Linear(5, 3, dtype=dtype)
    assert lin.weight.dtype == dtype and lin.weight.shape == (3, 5) and lin.bias.shape == (3,)
    w, b = arr(lin.weight).astype(np.float64), arr(lin.bias).astype(np.float64)
    x = randn(2, 4, 5)
    xt = fg.tensor(x, dtype=dtype, requires_grad=True)
    out = lin(xt)
    np.testing.assert_allclose(arr(out), x @ w.T + b, rtol=tol, atol=tol)
    g = randn(2, 4, 3)
    out.backward(fg.tensor(g, dtype=dtype))
    np.testing.assert_allclose(arr(lin.weight.grad), np.einsum("abo,abi->oi", g, x), rtol=tol, atol=tol)
    np.testing.assert_allclose(arr(lin.bias.grad), g.sum(axis=(0, 1)), rtol=tol, atol=tol)
    np.testing.assert_allclose(arr(xt.grad), g @ w, rtol=tol, atol=tol)
    # Unbatched input and no bias.
    nobias = nn.Linear(5, 2, bias=False)
    assert nobias.bias is None and [n for n, _ in nobias.named_parameters()] == ["weight"]
    v = randn(5).astype(np.float32)
    np.testing.assert_allclose(arr(nobias(fg.tensor(v))), arr(nobias.weight) @ v, rtol=1e-5)


def test_bilinear_forward_and_gradcheck():
    bil = nn.Bilinear(3, 2, 4, dtype=fg.float64)
    p = param_values(bil)
    x1, x2 = randn(5, 3), randn(5, 2)
    ref = np.einsum("ni,oij,nj->no", x1, p["weight"], x2) + p["bias"]
    np.testing.assert_allclose(arr(bil(fg.tensor(x1), fg.tensor(x2))), ref, rtol=1e-12)
    a = fg.tensor(x1[:2], requires_grad=True)
    b = fg.tensor(x2[:2], requires_grad=True)
    assert gradcheck(lambda a, b, w: nn.functional.bilinear(a, b, w, bil.bias), (a, b, bil.weight))


# ---- convolutions ----------------------------------------------------------------------------


@pytest.mark.parametrize("cls,nd", [(nn.Conv1d, 1), (nn.Conv2d, 2), (nn.Conv3d, 3)])
def test_conv_layers_forward(cls, nd):
    conv = cls(4, 6, 3, stride=2, padding=1, dilation=1, groups=2, dtype=fg.float64)
    assert conv.weight.shape == (6, 2) + (3,) * nd
    p = param_values(conv)
    x = randn(2, 4, *([7] * nd))
    ref = np_conv(x, p["weight"], p["bias"], 2, 1, 1, 2)
    np.testing.assert_allclose(arr(conv(fg.tensor(x))), ref, rtol=1e-11, atol=1e-11)
    # Unbatched input.
    np.testing.assert_allclose(arr(conv(fg.tensor(x[0]))), ref[0], rtol=1e-11, atol=1e-11)


def test_conv2d_dilation_and_same_padding():
    conv = nn.Conv2d(2, 3, (3, 2), padding="same", dilation=(2, 1), bias=False, dtype=fg.float64)
    p = param_values(conv)
    x = randn(1, 2, 6, 5)
    out = arr(conv(fg.tensor(x)))
    assert out.shape == (1, 3, 6, 5)
    # 'same': total padding d*(k-1) split with the extra element on the right.
    xp = np.pad(x, [(0, 0), (0, 0), (2, 2), (0, 1)])
    np.testing.assert_allclose(out, np_conv(xp, p["weight"], dilation=(2, 1)), rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("mode,np_mode", [("reflect", "reflect"), ("replicate", "edge"), ("circular", "wrap")])
def test_conv_padding_modes(mode, np_mode):
    conv = nn.Conv2d(2, 2, 3, padding=(1, 2), padding_mode=mode, dtype=fg.float64)
    p = param_values(conv)
    x = randn(2, 2, 5, 6)
    xp = np.pad(x, [(0, 0), (0, 0), (1, 1), (2, 2)], mode=np_mode)
    np.testing.assert_allclose(arr(conv(fg.tensor(x))), np_conv(xp, p["weight"], p["bias"]), rtol=1e-11,
                               atol=1e-11)


def test_conv_argument_errors():
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="strided"):
        nn.Conv2d(2, 2, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(2, 2, 3, padding_mode="mirror")
    with pytest.raises(ValueError):
        nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect")


@pytest.mark.parametrize("cls,nd", [(nn.ConvTranspose1d, 1), (nn.ConvTranspose2d, 2), (nn.ConvTranspose3d, 3)])
def test_conv_transpose_is_the_adjoint_of_conv(cls, nd):
    # <conv(x, w), y> == <conv_transpose(y, w), x> for the same stride/padding/groups.
    convt = cls(6, 4, 3, stride=2, padding=1, output_padding=1, groups=2, bias=False, dtype=fg.float64)
    assert convt.weight.shape == (6, 2) + (3,) * nd
    p = param_values(convt)
    y = randn(2, 6, *([4] * nd))
    out = arr(convt(fg.tensor(y)))
    assert out.shape == (2, 4) + (8,) * nd  # (4-1)*2 - 2 + 3 + 1
    x = randn(*out.shape)
    conv_x = np_conv(x, p["weight"], stride=2, padding=1, groups=2)
    np.testing.assert_allclose(np.vdot(conv_x, y), np.vdot(out, x), rtol=1e-11)


def test_conv_transpose_output_size_and_bias():
    convt = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, dtype=fg.float64)
    p = param_values(convt)
    y = fg.tensor(randn(1, 3, 4, 4))
    base = arr(convt(y))
    assert base.shape == (1, 2, 7, 7)
    bigger = arr(convt(y, output_size=(8, 8)))
    assert bigger.shape == (1, 2, 8, 8)
    np.testing.assert_allclose(bigger[..., :7, :7], base, rtol=1e-12)
    assert convt(y, output_size=[1, 2, 8, 7]).shape == (1, 2, 8, 7)
    with pytest.raises(ValueError, match="output size"):
        convt(y, output_size=(10, 10))
    zero_w = nn.ConvTranspose2d(3, 2, 3, dtype=fg.float64)
    with fg.no_grad():
        zero_w.weight.fill_(0.0)
    np.testing.assert_allclose(arr(zero_w(y)), np.broadcast_to(arr(zero_w.bias).reshape(1, 2, 1, 1), (1, 2, 6, 6)))
    assert p["bias"].shape == (2,)


def test_conv_layers_against_torch():
    torch = pytest.importorskip("torch")
    pairs = [
        (nn.Conv2d(3, 4, 3, stride=(2, 1), padding=1, dilation=2, padding_mode="circular"),
         torch.nn.Conv2d(3, 4, 3, stride=(2, 1), padding=1, dilation=2, padding_mode="circular")),
        (nn.Conv1d(2, 4, 4, padding="same", padding_mode="reflect", groups=2),
         torch.nn.Conv1d(2, 4, 4, padding="same", padding_mode="reflect", groups=2)),
        (nn.ConvTranspose2d(4, 6, (3, 2), stride=(2, 3), padding=(1, 0), output_padding=(1, 2), groups=2,
                            dilation=(1, 2)),
         torch.nn.ConvTranspose2d(4, 6, (3, 2), stride=(2, 3), padding=(1, 0), output_padding=(1, 2), groups=2,
                                  dilation=(1, 2))),
    ]
    for ours, theirs in pairs:
        theirs.load_state_dict({k: torch.from_numpy(arr(v).copy()) for k, v in ours.state_dict().items()})
        nd = len(ours.kernel_size)
        x = randn(2, ours.in_channels, *([9] * nd), dtype=np.float32)
        np.testing.assert_allclose(arr(ours(fg.tensor(x))), theirs(torch.from_numpy(x)).detach().numpy(),
                                   rtol=1e-5, atol=1e-5)


# Gradients through the conv layers need the Rust conv autograd nodes.


def test_conv2d_layer_gradcheck():
    conv = nn.Conv2d(2, 4, 3, stride=2, padding=1, groups=2, dtype=fg.float64)
    x = fg.tensor(randn(1, 2, 5, 4), requires_grad=True)
    assert gradcheck(lambda x, w, b: nn.functional.conv2d(x, w, b, 2, 1, 1, 2), (x, conv.weight, conv.bias))
    out = conv(x)
    assert out.grad_fn is not None


def test_conv1d_reflect_padding_layer_gradcheck():
    conv = nn.Conv1d(2, 2, 3, padding=2, padding_mode="reflect", dtype=fg.float64)
    x = fg.tensor(randn(2, 2, 5), requires_grad=True)
    assert gradcheck(lambda x, w: conv._conv_forward(x, w, conv.bias), (x, conv.weight))


def test_conv_transpose2d_layer_gradcheck():
    convt = nn.ConvTranspose2d(2, 2, 3, stride=2, padding=1, output_padding=1, dtype=fg.float64)
    y = fg.tensor(randn(1, 2, 3, 3), requires_grad=True)
    assert gradcheck(lambda y, w, b: nn.functional.conv_transpose2d(y, w, b, 2, 1, 1), (y, convt.weight,
                                                                                         convt.bias))


def test_conv3d_layer_gradients_against_torch():
    torch = pytest.importorskip("torch")
    ours = nn.Conv3d(2, 3, 2, stride=(1, 2, 1), padding=1, dtype=fg.float64)
    theirs = torch.nn.Conv3d(2, 3, 2, stride=(1, 2, 1), padding=1, dtype=torch.float64)
    theirs.load_state_dict({k: torch.from_numpy(arr(v).copy()) for k, v in ours.state_dict().items()})
    x = randn(2, 2, 4, 5, 3)
    xt, xr = fg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    g = randn(*arr(ours(xt)).shape)
    ours(xt).backward(fg.tensor(g))
    theirs(xr).backward(torch.from_numpy(g))
    np.testing.assert_allclose(arr(xt.grad), xr.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(arr(ours.weight.grad), theirs.weight.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(arr(ours.bias.grad), theirs.bias.grad.numpy(), rtol=1e-10, atol=1e-12)


# ---- pooling ---------------------------------------------------------------------------------


def test_max_and_avg_pool_layers_forward():
    x = randn(2, 3, 7, 6)
    out = arr(nn.MaxPool2d(3, stride=2, padding=1)(fg.tensor(x)))
    np.testing.assert_array_equal(out, np_pool(x, (3, 3), (2, 2), (1, 1), np.max, -np.inf))
    out = arr(nn.AvgPool2d(2)(fg.tensor(x)))
    np.testing.assert_allclose(out, np_pool(x, (2, 2), (2, 2), (0, 0), np.mean, 0.0), rtol=1e-12)
    # count_include_pad=True divides by the full window, padding counted as zeros.
    out = arr(nn.AvgPool2d(3, 1, 1)(fg.tensor(x)))
    np.testing.assert_allclose(out, np_pool(x, (3, 3), (1, 1), (1, 1), np.mean, 0.0), rtol=1e-12)
    x1 = randn(2, 3, 9)
    np.testing.assert_array_equal(arr(nn.MaxPool1d(2)(fg.tensor(x1))), np_pool(x1, (2,), (2,), (0,), np.max, 0))
    np.testing.assert_allclose(arr(nn.AvgPool1d(3, 2)(fg.tensor(x1))), np_pool(x1, (3,), (2,), (0,), np.mean, 0),
                               rtol=1e-12)
    x3 = randn(1, 2, 4, 4, 6)
    np.testing.assert_array_equal(arr(nn.MaxPool3d(2)(fg.tensor(x3))),
                                  np_pool(x3, (2, 2, 2), (2, 2, 2), (0, 0, 0), np.max, 0))
    np.testing.assert_allclose(arr(nn.AvgPool3d((2, 2, 3))(fg.tensor(x3))),
                               np_pool(x3, (2, 2, 3), (2, 2, 3), (0, 0, 0), np.mean, 0), rtol=1e-12)
    values, indices = nn.MaxPool2d(2, return_indices=True)(fg.tensor(x))
    flat = x.reshape(2, 3, -1)
    np.testing.assert_array_equal(np.take_along_axis(flat, arr(indices).reshape(2, 3, -1), -1),
                                  arr(values).reshape(2, 3, -1))


def test_adaptive_pool_layers_forward():
    x = randn(2, 3, 6, 9)
    np.testing.assert_allclose(arr(nn.AdaptiveAvgPool2d((1, 1))(fg.tensor(x))), x.mean(axis=(2, 3), keepdims=True),
                               rtol=1e-12)
    np.testing.assert_allclose(arr(nn.AdaptiveAvgPool2d((3, 3))(fg.tensor(x))),
                               x.reshape(2, 3, 3, 2, 3, 3).mean(axis=(3, 5)), rtol=1e-12)
    np.testing.assert_array_equal(arr(nn.AdaptiveMaxPool2d((2, 3))(fg.tensor(x))),
                                  x.reshape(2, 3, 2, 3, 3, 3).max(axis=(3, 5)))
    x1 = randn(2, 2, 8)
    np.testing.assert_allclose(arr(nn.AdaptiveAvgPool1d(4)(fg.tensor(x1))), x1.reshape(2, 2, 4, 2).mean(-1),
                               rtol=1e-12)
    np.testing.assert_array_equal(arr(nn.AdaptiveMaxPool1d(2)(fg.tensor(x1))), x1.reshape(2, 2, 2, 4).max(-1))
    x3 = randn(1, 2, 4, 4, 4)
    np.testing.assert_allclose(arr(nn.AdaptiveAvgPool3d(2)(fg.tensor(x3))),
                               x3.reshape(1, 2, 2, 2, 2, 2, 2, 2).mean(axis=(3, 5, 7)), rtol=1e-12)
    np.testing.assert_array_equal(arr(nn.AdaptiveMaxPool3d(1)(fg.tensor(x3))), x3.max(axis=(2, 3, 4), keepdims=True))


# Gradients through pooling need the Rust pooling autograd nodes.


def test_max_pool2d_layer_gradient():
    x = randn(1, 2, 4, 4)
    xt = fg.tensor(x, requires_grad=True)
    nn.MaxPool2d(2)(xt).sum().backward()
    blocks = x.reshape(1, 2, 2, 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(1, 2, 2, 2, 4)
    expected = (blocks == blocks.max(-1, keepdims=True)).astype(float)
    expected = expected.reshape(1, 2, 2, 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(1, 2, 4, 4)
    np.testing.assert_array_equal(arr(xt.grad), expected)


def test_avg_and_adaptive_pool_layers_gradcheck():
    x = fg.tensor(randn(1, 2, 5, 5), requires_grad=True)
    assert gradcheck(nn.AvgPool2d(3, 2, 1, count_include_pad=False), (x,))
    assert gradcheck(nn.AdaptiveAvgPool2d((2, 3)), (x,))
    assert gradcheck(nn.AdaptiveMaxPool2d(2), (x,))
    x1 = fg.tensor(randn(2, 2, 6), requires_grad=True)
    assert gradcheck(nn.MaxPool1d(3, 2, 1), (x1,))


def test_upsample_layers_forward_and_gradcheck():
    x = randn(1, 2, 3, 4)
    out = arr(nn.Upsample(scale_factor=2)(fg.tensor(x)))
    np.testing.assert_array_equal(out, x.repeat(2, axis=2).repeat(2, axis=3))
    out = arr(nn.UpsamplingBilinear2d(size=(5, 7))(fg.tensor(x)))
    # align_corners=True keeps the corners exactly.
    np.testing.assert_allclose(out[..., [0, -1], :][..., [0, -1]], x[..., [0, -1], :][..., [0, -1]], rtol=1e-12)
    xt = fg.tensor(randn(1, 1, 3, 3), requires_grad=True)
    assert gradcheck(nn.Upsample(scale_factor=2, mode="bilinear"), (xt,))


# ---- batch norm ------------------------------------------------------------------------------


def test_batchnorm2d_training_normalises_and_updates_running_stats():
    bn = nn.BatchNorm2d(3, momentum=0.2, dtype=fg.float64)
    p = param_values(bn)
    rm, rv = np.zeros(3), np.ones(3)
    for step in range(3):
        x = randn(4, 3, 5, 2) * (step + 1) + step
        out = arr(bn(fg.tensor(x)))
        mean = x.mean(axis=(0, 2, 3))
        var = x.var(axis=(0, 2, 3))
        ref = (x - mean.reshape(1, 3, 1, 1)) / np.sqrt(var.reshape(1, 3, 1, 1) + 1e-5)
        ref = ref * p["weight"].reshape(1, 3, 1, 1) + p["bias"].reshape(1, 3, 1, 1)
        np.testing.assert_allclose(out, ref, rtol=1e-11, atol=1e-11)
        n = x.size // 3
        rm = 0.8 * rm + 0.2 * mean
        rv = 0.8 * rv + 0.2 * var * n / (n - 1)  # unbiased, as PyTorch
        np.testing.assert_allclose(arr(bn.running_mean), rm, rtol=1e-12)
        np.testing.assert_allclose(arr(bn.running_var), rv, rtol=1e-12)
        assert int(bn.num_batches_tracked.item()) == step + 1
    bn.eval()
    x = randn(2, 3, 4, 4)
    ref = (x - rm.reshape(1, 3, 1, 1)) / np.sqrt(rv.reshape(1, 3, 1, 1) + 1e-5)
    ref = ref * p["weight"].reshape(1, 3, 1, 1) + p["bias"].reshape(1, 3, 1, 1)
    np.testing.assert_allclose(arr(bn(fg.tensor(x))), ref, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(arr(bn.running_mean), rm, rtol=1e-12)  # eval leaves them alone
    assert int(bn.num_batches_tracked.item()) == 3


def test_batchnorm_cumulative_average_and_no_tracking():
    bn = nn.BatchNorm1d(2, momentum=None, affine=False, dtype=fg.float64)
    assert bn.weight is None and list(bn.state_dict()) == ["running_mean", "running_var", "num_batches_tracked"]
    batches = [randn(6, 2) + i for i in range(3)]
    for x in batches:
        bn(fg.tensor(x))
    np.testing.assert_allclose(arr(bn.running_mean), np.mean([b.mean(0) for b in batches], axis=0), rtol=1e-12)
    np.testing.assert_allclose(arr(bn.running_var), np.mean([b.var(0, ddof=1) for b in batches], axis=0),
                               rtol=1e-12)
    free = nn.BatchNorm1d(2, track_running_stats=False, affine=False, dtype=fg.float64).eval()
    assert free.running_mean is None and list(free.state_dict()) == []
    x = randn(5, 2, 3)  # (N, C, L): statistics over N and L
    ref = (x - x.mean(axis=(0, 2), keepdims=True)) / np.sqrt(x.var(axis=(0, 2), keepdims=True) + 1e-5)
    np.testing.assert_allclose(arr(free(fg.tensor(x))), ref, rtol=1e-11, atol=1e-11)
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        bn(fg.zeros(2, 2, 2, 2, dtype=fg.float64))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(2)(fg.zeros(1, 2))


def test_batchnorm_gradcheck_train_and_eval():
    bn = nn.BatchNorm1d(3, dtype=fg.float64)
    param_values(bn)
    x = fg.tensor(randn(4, 3), requires_grad=True)
    assert gradcheck(bn, (x,))
    assert gradcheck(lambda x, w, b: nn.functional.batch_norm(x, None, None, w, b, True), (x, bn.weight, bn.bias))
    bn.eval()
    assert gradcheck(lambda x, w: nn.functional.batch_norm(x, bn.running_mean, bn.running_var, w, bn.bias),
                     (x, bn.weight))


def test_batchnorm_fused_kernel_strided_spatial_and_second_derivatives():
    # The fused kernel on a non-contiguous (N, C, H, W) view; its training gradient is one
    # fused pass, and under create_graph a composed one, so gradgradcheck covers both.
    x = fg.tensor(np.ascontiguousarray(randn(3, 2, 4, 5).transpose(0, 2, 3, 1))).permute(0, 3, 1, 2)
    assert not x.is_contiguous()
    x.requires_grad_()
    w = fg.tensor(randn(2), requires_grad=True)
    b = fg.tensor(randn(2), requires_grad=True)
    ref = arr(x)
    mean, var = ref.mean(axis=(0, 2, 3), keepdims=True), ref.var(axis=(0, 2, 3), keepdims=True)
    want = (ref - mean) / np.sqrt(var + 1e-5) * arr(w).reshape(1, 2, 1, 1) + arr(b).reshape(1, 2, 1, 1)
    np.testing.assert_allclose(arr(nn.functional.batch_norm(x, None, None, w, b, True)), want, rtol=1e-12,
                               atol=1e-12)

    def train(x, w, b):
        return nn.functional.batch_norm(x, None, None, w, b, True, eps=1e-3)

    rm, rv = fg.tensor(randn(2)), fg.tensor(np.abs(randn(2)) + 0.5)

    def evaluate(x, w, b):
        return nn.functional.batch_norm(x, rm, rv, w, b, False)

    for f in (train, evaluate):
        assert gradcheck(f, (x, w, b))
        assert gradgradcheck(f, (x, w, b))


def test_batchnorm_matches_torch_over_steps():
    torch = pytest.importorskip("torch")
    ours, theirs = nn.BatchNorm2d(4, momentum=0.3), torch.nn.BatchNorm2d(4, momentum=0.3)
    param_values(ours, np.float32)
    theirs.load_state_dict({k: torch.from_numpy(arr(v).copy()) for k, v in ours.state_dict().items()})
    for _ in range(3):
        x = randn(3, 4, 5, 5, dtype=np.float32) * 2 + 1
        xt, xr = fg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        a, b = ours(xt), theirs(xr)
        np.testing.assert_allclose(arr(a), b.detach().numpy(), rtol=1e-5, atol=1e-5)
        g = randn(*x.shape, dtype=np.float32)
        a.backward(fg.tensor(g))
        b.backward(torch.from_numpy(g))
        np.testing.assert_allclose(arr(xt.grad), xr.grad.numpy(), rtol=1e-4, atol=1e-5)
    for k, v in theirs.state_dict().items():
        np.testing.assert_allclose(arr(ours.state_dict()[k]), v.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(arr(ours.weight.grad), theirs.weight.grad.numpy(), rtol=1e-4, atol=1e-5)
    ours.eval()
    theirs.eval()
    x = randn(2, 4, 3, 3, dtype=np.float32)
    np.testing.assert_allclose(arr(ours(fg.tensor(x))), theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-5,
                               atol=1e-5)


# ---- other normalisations --------------------------------------------------------------------


def test_layer_norm_forward_and_gradcheck():
    ln = nn.LayerNorm((3, 4), eps=1e-3, dtype=fg.float64)
    p = param_values(ln)
    x = randn(2, 5, 3, 4)
    ref = np_layer_norm(x, (2, 3), 1e-3) * p["weight"] + p["bias"]
    np.testing.assert_allclose(arr(ln(fg.tensor(x))), ref, rtol=1e-11, atol=1e-11)
    xs = fg.tensor(randn(2, 3, 4), requires_grad=True)
    assert gradcheck(ln, (xs,))
    assert gradcheck(lambda w, b: nn.functional.layer_norm(xs, (3, 4), w, b), (ln.weight, ln.bias))
    with pytest.raises(RuntimeError, match="normalized_shape"):
        ln(fg.zeros(2, 4, 3, dtype=fg.float64))
    f32 = nn.LayerNorm(8)
    x = randn(4, 8, dtype=np.float32)
    np.testing.assert_allclose(arr(f32(fg.tensor(x))), np_layer_norm(x.astype(np.float64), -1, 1e-5), rtol=1e-5,
                               atol=1e-5)


def test_group_norm_forward_and_gradcheck():
    gn = nn.GroupNorm(2, 4, dtype=fg.float64)
    p = param_values(gn)
    x = randn(3, 4, 5)
    grouped = np_layer_norm(x.reshape(3, 2, 10), -1, 1e-5).reshape(3, 4, 5)
    ref = grouped * p["weight"].reshape(1, 4, 1) + p["bias"].reshape(1, 4, 1)
    np.testing.assert_allclose(arr(gn(fg.tensor(x))), ref, rtol=1e-11, atol=1e-11)
    xs = fg.tensor(randn(2, 4, 3), requires_grad=True)
    assert gradcheck(gn, (xs,))
    with pytest.raises(ValueError):
        nn.GroupNorm(3, 4)


def test_rms_norm_and_instance_norm():
    rms = nn.RMSNorm(4, dtype=fg.float64)
    p = param_values(rms)
    x = randn(3, 4)
    ref = x / np.sqrt((x * x).mean(-1, keepdims=True) + np.finfo(np.float64).eps) * p["weight"]
    np.testing.assert_allclose(arr(rms(fg.tensor(x))), ref, rtol=1e-12)
    assert gradcheck(rms, (fg.tensor(randn(2, 4), requires_grad=True),))
    inorm = nn.InstanceNorm1d(3, affine=True, track_running_stats=True, dtype=fg.float64)
    p = param_values(inorm)
    x = randn(2, 3, 6)
    ref = np_layer_norm(x, -1, 1e-5) * p["weight"].reshape(1, 3, 1) + p["bias"].reshape(1, 3, 1)
    np.testing.assert_allclose(arr(inorm(fg.tensor(x))), ref, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(arr(inorm.running_mean), 0.1 * x.mean(axis=(0, 2)), rtol=1e-12)
    np.testing.assert_allclose(arr(inorm.running_var), 0.9 + 0.1 * x.var(axis=2, ddof=1).mean(0), rtol=1e-12)
    np.testing.assert_allclose(arr(inorm(fg.tensor(x[0]))), ref[0], rtol=1e-11, atol=1e-11)  # unbatched
    inorm.eval()
    rm, rv = arr(inorm.running_mean), arr(inorm.running_var)
    ref = (x - rm.reshape(1, 3, 1)) / np.sqrt(rv.reshape(1, 3, 1) + 1e-5)
    ref = ref * p["weight"].reshape(1, 3, 1) + p["bias"].reshape(1, 3, 1)
    np.testing.assert_allclose(arr(inorm(fg.tensor(x))), ref, rtol=1e-11, atol=1e-11)


# ---- dropout ---------------------------------------------------------------------------------


def test_dropout_scaling_train_and_eval():
    fg.manual_seed(0)
    drop = nn.Dropout(0.25)
    x = fg.ones(200, 500)
    out = arr(drop(x))
    kept = out != 0
    assert abs(kept.mean() - 0.75) < 0.005
    np.testing.assert_allclose(out[kept], 1 / 0.75, rtol=1e-6)
    drop.eval()
    assert drop(x) is x
    assert nn.Dropout(0.0)(x) is x
    assert not arr(nn.Dropout(1.0)(x)).any()
    with pytest.raises(ValueError):
        nn.Dropout(1.5)
    # Same seed, same mask.
    fg.manual_seed(3)
    a = arr(nn.functional.dropout(fg.ones(50), 0.5))
    fg.manual_seed(3)
    np.testing.assert_array_equal(a, arr(nn.functional.dropout(fg.ones(50), 0.5)))


def test_dropout_gradient_is_the_mask():
    fg.manual_seed(1)
    x = fg.tensor(randn(40, 30), requires_grad=True)
    out = nn.functional.dropout(x, 0.4)
    out.sum().backward()
    mask = arr(out) != 0
    np.testing.assert_allclose(arr(x.grad), mask / 0.6, rtol=1e-12)
    np.testing.assert_allclose(arr(out)[mask], arr(x)[mask] / 0.6, rtol=1e-12)


def test_channel_dropout_zeroes_whole_maps():
    fg.manual_seed(2)
    out = arr(nn.Dropout2d(0.5)(fg.ones(8, 16, 3, 3)))
    per_map = out.reshape(8, 16, 9)
    assert np.all((per_map == 0).all(-1) | (per_map == 2.0).all(-1))
    assert 0.3 < (per_map[..., 0] == 0).mean() < 0.7
    out = arr(nn.Dropout1d(0.5)(fg.ones(4, 10)))  # unbatched (C, L)
    assert np.all((out == 0).all(-1) | (out == 2.0).all(-1))
    out = arr(nn.Dropout3d(0.5)(fg.ones(2, 6, 2, 2, 2)))
    per_map = out.reshape(2, 6, 8)
    assert np.all((per_map == 0).all(-1) | (per_map == 2.0).all(-1))
    x = fg.ones(2, 3, 4)
    assert nn.Dropout2d(0.5).eval()(x) is x


# ---- embedding -------------------------------------------------------------------------------


def test_embedding_lookup_gradient_and_padding_idx():
    emb = nn.Embedding(6, 3, padding_idx=2, dtype=fg.float64)
    w = arr(emb.weight).copy()
    assert not w[2].any()
    idx = np.array([[0, 2, 5], [5, 5, 1]])
    out = emb(fg.tensor(idx))
    np.testing.assert_array_equal(arr(out), w[idx])
    g = randn(2, 3, 3)
    out.backward(fg.tensor(g))
    expected = np.zeros((6, 3))
    np.add.at(expected, idx, g)
    expected[2] = 0.0  # the padding row gets no gradient
    np.testing.assert_allclose(arr(emb.weight.grad), expected, rtol=1e-12)
    # A non-zero padding row is still returned as is (only its gradient is blocked).
    with fg.no_grad():
        emb.weight[2] = 1.0
    np.testing.assert_array_equal(arr(emb(fg.tensor([2]))), [[1.0, 1.0, 1.0]])
    assert nn.Embedding(4, 2, padding_idx=-1).padding_idx == 3
    with pytest.raises(TypeError):
        emb(fg.tensor([0.0]))


def test_embedding_from_pretrained_max_norm_and_scale_grad_by_freq():
    table = fg.tensor(np.arange(12.0).reshape(4, 3))
    frozen = nn.Embedding.from_pretrained(table)
    assert not frozen.weight.requires_grad and frozen.weight.shares_memory_with(table)
    np.testing.assert_array_equal(arr(frozen(fg.tensor([3, 0]))), np.arange(12.0).reshape(4, 3)[[3, 0]])
    capped = nn.Embedding.from_pretrained(fg.tensor(np.arange(12.0).reshape(4, 3)), max_norm=2.0)
    out = arr(capped(fg.tensor([1, 0])))
    np.testing.assert_allclose(np.linalg.norm(out[0]), 2.0, rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(out[1]), np.linalg.norm([0.0, 1.0, 2.0]) * 2.0 / (np.sqrt(5) + 1e-7),
                               rtol=1e-12)
    # Rows not looked up are untouched.
    np.testing.assert_array_equal(arr(capped.weight)[3], [9.0, 10.0, 11.0])
    freq = nn.Embedding(4, 2, scale_grad_by_freq=True, dtype=fg.float64)
    out = freq(fg.tensor([1, 1, 1, 3]))
    out.sum().backward()
    np.testing.assert_allclose(arr(freq.weight.grad), [[0, 0], [1, 1], [0, 0], [1, 1]], rtol=1e-12)


# ---- shape layers and activations ------------------------------------------------------------


def test_flatten_unflatten_identity():
    x = fg.tensor(randn(2, 3, 4, 5))
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 2)(x).shape == (24, 5)
    assert nn.Unflatten(1, (3, 1))(fg.zeros(2, 3)).shape == (2, 3, 1)
    ident = nn.Identity(54, unused="ok")
    assert ident(x) is x


ACTIVATIONS = [
    (nn.ReLU(), lambda x: np.maximum(x, 0)),
    (nn.LeakyReLU(0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    (nn.GELU(), lambda x: 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))),
    (nn.GELU("tanh"), lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))),
    (nn.SiLU(), lambda x: x / (1 + np.exp(-x))),
    (nn.Tanh(), np.tanh),
    (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
    (nn.ELU(0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(x))),
    (nn.Softplus(2.0, 3.0), lambda x: np.where(2 * x > 3.0, x, np.log1p(np.exp(2 * x)) / 2)),
    (nn.Softmax(dim=1), lambda x: np_softmax(x, 1)),
    (nn.LogSoftmax(dim=-1), lambda x: np.log(np_softmax(x, -1))),
    (nn.Softmin(dim=0), lambda x: np_softmax(-x, 0)),
    (nn.Mish(), lambda x: x * np.tanh(np.log1p(np.exp(x)))),
    (nn.Hardtanh(-0.5, 0.5), lambda x: np.clip(x, -0.5, 0.5)),
    (nn.ReLU6(), lambda x: np.clip(x, 0, 6)),
    (nn.Hardswish(), lambda x: x * np.clip(x + 3, 0, 6) / 6),
    (nn.Hardsigmoid(), lambda x: np.clip(x + 3, 0, 6) / 6),
    (nn.SELU(), lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x))),
    (nn.CELU(0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x / 0.5))),
    (nn.LogSigmoid(), lambda x: -np.log1p(np.exp(-x))),
    (nn.Softsign(), lambda x: x / (1 + np.abs(x))),
    (nn.Tanhshrink(), lambda x: x - np.tanh(x)),
    (nn.GLU(), lambda x: x[:, :2] * (1 / (1 + np.exp(-x[:, 2:])))),
    (nn.Threshold(0.1, -3.0), lambda x: np.where(x > 0.1, x, -3.0)),
]


@pytest.mark.parametrize("module,ref", ACTIVATIONS, ids=[type(m).__name__ for m, _ in ACTIVATIONS])
def test_activation_modules(module, ref):
    x = randn(3, 4) * 3
    np.testing.assert_allclose(arr(module(fg.tensor(x))), ref(x), rtol=1e-10, atol=1e-12)
    xf = x.astype(np.float32)
    np.testing.assert_allclose(arr(module(fg.tensor(xf))), ref(x), rtol=1e-5, atol=1e-6)
    # Away from kinks, so finite differences are meaningful.
    xs = randn(2, 4) + np.where(RNG.random((2, 4)) < 0.5, 1.0, -1.0) * 0.3
    assert gradcheck(module, (fg.tensor(xs, requires_grad=True),))


def test_prelu_and_inplace_activations():
    prelu = nn.PReLU(3, dtype=fg.float64)
    np.testing.assert_array_equal(arr(prelu.weight), [0.25] * 3)
    p = param_values(prelu)
    x = randn(2, 3, 4)
    ref = np.where(x > 0, x, p["weight"].reshape(1, 3, 1) * x)
    np.testing.assert_allclose(arr(prelu(fg.tensor(x))), ref, rtol=1e-12)
    assert gradcheck(prelu, (fg.tensor(x[:1, :, :2], requires_grad=True),))
    t = fg.tensor(x.copy())
    out = nn.ReLU(inplace=True)(t)
    np.testing.assert_array_equal(arr(t), np.maximum(x, 0))
    assert out is t
    # In place on a non-leaf stays differentiable.
    leaf = fg.tensor(x, requires_grad=True)
    y = leaf * 2
    nn.LeakyReLU(0.1, inplace=True)(y).sum().backward()
    np.testing.assert_allclose(arr(leaf.grad), np.where(x > 0, 2.0, 0.2), rtol=1e-12)


def test_softmax_implicit_dim_warns_like_pytorch():
    with pytest.warns(UserWarning, match="Implicit dimension"):
        out = nn.Softmax()(fg.tensor(randn(2, 3)))
    np.testing.assert_allclose(arr(out).sum(1), 1.0, rtol=1e-12)


def test_batch_norm_rejects_bad_running_statistics_without_writing_any():
    rm, rv = fg.zeros(3), fg.ones(2)
    with pytest.raises(ValueError, match="running statistics"):
        nn.functional.batch_norm(fg.randn(4, 3), rm, rv, training=True)
    np.testing.assert_array_equal(arr(rm), np.zeros(3))  # not half-updated
    with pytest.raises(ValueError, match="weight must have shape"):
        nn.functional.batch_norm(fg.randn(4, 3), None, None, weight=fg.ones(4), training=True)
    with pytest.raises(TypeError, match="floating-point"):
        nn.functional.batch_norm(fg.zeros((4, 3), dtype=fg.int64), None, None, training=True)
    with pytest.raises(ValueError, match="running_mean and running_var are needed"):
        nn.functional.batch_norm(fg.randn(4, 3), None, None, training=False)
