"""ferrograd.nn losses (functional and modules) against numpy formulas, their gradients
(gradcheck in float64) and torch where installed."""

from __future__ import annotations

import numpy as np
import pytest

import ferrograd as fg
import ferrograd.nn.functional as F
from ferrograd import nn
from ferrograd.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(7)


def arr(t):
    return np.asarray(t.detach())


def randn(*shape):
    return RNG.standard_normal(shape)


def t(x, grad=False):
    return fg.tensor(x, requires_grad=grad)


def np_log_softmax(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def np_reduce(loss, reduction):
    return {"none": loss, "sum": loss.sum(), "mean": loss.mean()}[reduction]


# ---- cross entropy / nll ----------------------------------------------------------------------


def np_cross_entropy(x, y, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """PyTorch's definition for class-index targets with x of shape (N, C, *)."""
    c = x.shape[1]
    logp = np_log_softmax(x, 1)
    w = np.ones(c) if weight is None else weight
    valid = y != ignore_index
    safe = np.where(valid, y, 0)
    picked = np.take_along_axis(logp, safe[:, None], 1)[:, 0]
    wy = w[safe] * valid
    nll = -picked * wy
    smooth = -(logp * w.reshape((1, c) + (1,) * (x.ndim - 2))).sum(1) * valid
    eps = label_smoothing
    if reduction == "none":
        return (1 - eps) * nll + eps / c * smooth
    if reduction == "sum":
        return (1 - eps) * nll.sum() + eps / c * smooth.sum()
    return (1 - eps) * nll.sum() / wy.sum() + eps / c * smooth.sum() / wy.sum()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.15])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_class_targets(reduction, label_smoothing, weighted):
    x = randn(6, 4)
    y = np.array([0, 3, -100, 1, 1, 2])
    w = RNG.random(4) + 0.5 if weighted else None
    xt = t(x, grad=True)
    out = F.cross_entropy(xt, t(y), weight=None if w is None else t(w), reduction=reduction,
                          label_smoothing=label_smoothing)
    ref = np_cross_entropy(x, y, w, reduction=reduction, label_smoothing=label_smoothing)
    np.testing.assert_allclose(arr(out), ref, rtol=1e-12, atol=1e-14)
    assert gradcheck(lambda x: F.cross_entropy(x, t(y), weight=None if w is None else t(w), reduction=reduction,
                                               label_smoothing=label_smoothing), (xt,))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_fused_kernel_on_strided_spatial_logits_and_second_derivatives(reduction):
    # The fused kernel reads a transposed (N, C, H, W) view; its gradient is one fused
    # pass, and under create_graph a composed form, so gradgradcheck exercises both.
    x = randn(2, 4, 3, 5)  # (N, C, H, W), stored channels-last and viewed back
    y = np.array(RNG.integers(0, 4, (2, 3, 5)))
    y[0, 1, 2] = -1
    w = RNG.random(4) + 0.5
    xv = t(np.ascontiguousarray(x.transpose(0, 2, 3, 1))).permute(0, 3, 1, 2)
    np.testing.assert_array_equal(arr(xv), x)
    assert not xv.is_contiguous()
    xv.requires_grad_()

    def f(x):
        return F.cross_entropy(x, t(y), weight=t(w), ignore_index=-1, reduction=reduction, label_smoothing=0.2)

    flat = np.moveaxis(arr(xv), 1, -1).reshape(-1, 4)
    ref = np_cross_entropy(flat, y.reshape(-1), w, ignore_index=-1, reduction=reduction, label_smoothing=0.2)
    np.testing.assert_allclose(arr(f(xv)).reshape(-1) if reduction == "none" else arr(f(xv)), ref,
                               rtol=1e-12, atol=1e-14)
    assert gradcheck(f, (xv,))
    assert gradgradcheck(f, (xv,))


def test_cross_entropy_spatial_unbatched_and_float32():
    x = randn(2, 3, 4, 5)
    y = RNG.integers(0, 3, (2, 4, 5))
    y[0, 1, 2] = 7
    out = F.cross_entropy(t(x), t(y), ignore_index=7, label_smoothing=0.1)
    # Move the class dim last and flatten: the same loss over N*H*W samples.
    flat_x = x.transpose(0, 2, 3, 1).reshape(-1, 3)
    ref = np_cross_entropy(flat_x, y.reshape(-1), ignore_index=7, label_smoothing=0.1)
    np.testing.assert_allclose(arr(out), ref, rtol=1e-12)
    per = F.cross_entropy(t(x), t(y), ignore_index=7, reduction="none")
    assert per.shape == (2, 4, 5) and float(per[0, 1, 2].item()) == 0.0
    v = randn(5)
    np.testing.assert_allclose(arr(F.cross_entropy(t(v), t(3))), -np_log_softmax(v, 0)[3], rtol=1e-12)
    x32 = randn(8, 10).astype(np.float32)
    y32 = RNG.integers(0, 10, 8)
    out = F.cross_entropy(fg.tensor(x32), t(y32))
    assert out.dtype == fg.float32
    np.testing.assert_allclose(arr(out), np_cross_entropy(x32.astype(np.float64), y32), rtol=1e-5)


def test_cross_entropy_probability_targets():
    x = randn(5, 4, 3)
    p = RNG.random((5, 4, 3))
    p /= p.sum(1, keepdims=True)
    w = RNG.random(4) + 0.5
    for ls in (0.0, 0.2):
        q = p * (1 - ls) + ls / 4
        loss = -(np_log_softmax(x, 1) * q * w.reshape(1, 4, 1)).sum(1)
        for reduction, ref in (("none", loss), ("sum", loss.sum()), ("mean", loss.sum() / 15)):
            out = F.cross_entropy(t(x), t(p), weight=t(w), reduction=reduction, label_smoothing=ls)
            np.testing.assert_allclose(arr(out), ref, rtol=1e-12)
    xt = t(x[:2, :, :1], grad=True)
    assert gradcheck(lambda x: F.cross_entropy(x, t(p[:2, :, :1]), label_smoothing=0.1), (xt,))


def test_cross_entropy_is_stable_for_huge_logits():
    x = t(np.array([[1000.0, 0.0, -1000.0], [-1e4, 1e4, 0.0]]), grad=True)
    out = F.cross_entropy(x, t(np.array([1, 1])))
    np.testing.assert_allclose(arr(out), 500.0, rtol=1e-12)
    out.backward()
    assert np.all(np.isfinite(arr(x.grad)))
    np.testing.assert_allclose(arr(x.grad), [[0.5, -0.5, 0.0], [0.0, 0.0, 0.0]], atol=1e-12)


def test_nll_loss_and_errors():
    logp = np_log_softmax(randn(4, 5), 1)
    y = np.array([4, 0, 2, 2])
    w = RNG.random(5) + 0.1
    out = F.nll_loss(t(logp), t(y), weight=t(w))
    ref = -(logp[np.arange(4), y] * w[y]).sum() / w[y].sum()
    np.testing.assert_allclose(arr(out), ref, rtol=1e-12)
    np.testing.assert_allclose(arr(F.nll_loss(t(logp), t(y), reduction="none")), -logp[np.arange(4), y], rtol=1e-12)
    assert gradcheck(lambda lp: F.nll_loss(lp, t(y), weight=t(w)), (t(logp, grad=True),))
    all_ignored = F.nll_loss(t(logp), t(np.full(4, -100)))
    assert np.isnan(arr(all_ignored))
    # PyTorch: the mean over no samples is nan, but ignored samples get zero gradient
    x = t(randn(4, 5), grad=True)
    loss = F.cross_entropy(x, t(np.full(4, 3)), ignore_index=3, label_smoothing=0.1)
    loss.backward()
    assert np.isnan(arr(loss)) and np.all(arr(x.grad) == 0)
    with pytest.raises(IndexError, match="out of bounds"):
        F.nll_loss(t(logp), t(np.array([0, 5, 1, 1])))
    with pytest.raises(ValueError, match="batch_size"):
        F.nll_loss(t(logp), t(np.array([0, 1])))
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        F.nll_loss(t(logp), t(y), reduction="avg")


def test_cross_entropy_against_torch():
    torch = pytest.importorskip("torch")
    x = randn(6, 5, 3)
    y = RNG.integers(0, 5, (6, 3))
    y[2, 1] = 1  # reused below as ignore_index
    w = RNG.random(5) + 0.2
    for kwargs in ({}, {"weight": w}, {"ignore_index": 1, "label_smoothing": 0.3, "weight": w},
                   {"reduction": "sum", "label_smoothing": 0.05}):
        ours_kw = {k: t(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
        theirs_kw = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
        xt, xr = t(x, grad=True), torch.tensor(x, requires_grad=True)
        a = F.cross_entropy(xt, t(y), **ours_kw)
        b = torch.nn.functional.cross_entropy(xr, torch.from_numpy(y), **theirs_kw)
        np.testing.assert_allclose(arr(a), b.detach().numpy(), rtol=1e-12)
        a.backward()
        b.backward()
        np.testing.assert_allclose(arr(xt.grad), xr.grad.numpy(), rtol=1e-10, atol=1e-14)


# ---- regression losses -----------------------------------------------------------------------


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_regression_losses(reduction):
    x, y = randn(4, 3), randn(4, 3)
    d = x - y
    ad = np.abs(d)
    cases = [
        (F.mse_loss(t(x), t(y), reduction=reduction), d * d),
        (F.l1_loss(t(x), t(y), reduction=reduction), ad),
        (F.smooth_l1_loss(t(x), t(y), reduction=reduction, beta=0.7), np.where(ad < 0.7, 0.5 * d * d / 0.7, ad - 0.35)),
        (F.smooth_l1_loss(t(x), t(y), reduction=reduction, beta=0.0), ad),
        (F.huber_loss(t(x), t(y), reduction=reduction, delta=0.6), np.where(ad < 0.6, 0.5 * d * d, 0.6 * (ad - 0.3))),
    ]
    for out, ref in cases:
        np.testing.assert_allclose(arr(out), np_reduce(ref, reduction), rtol=1e-12)
    xt = t(x, grad=True)
    for fn in (F.mse_loss, F.l1_loss, lambda a, b, reduction: F.smooth_l1_loss(a, b, reduction=reduction, beta=0.7),
               lambda a, b, reduction: F.huber_loss(a, b, reduction=reduction, delta=0.6)):
        assert gradcheck(lambda a, fn=fn: fn(a, t(y), reduction=reduction), (xt,))


def test_weighted_regression_losses_and_broadcast_warning():
    x, y, w = randn(3, 2), randn(3, 2), RNG.random((3, 2))
    out = F.mse_loss(t(x), t(y), weight=t(w))
    np.testing.assert_allclose(arr(out), ((x - y) ** 2 * w).sum() / w.sum(), rtol=1e-12)
    out = F.l1_loss(t(x), t(y), reduction="sum", weight=t(w))
    np.testing.assert_allclose(arr(out), (np.abs(x - y) * w).sum(), rtol=1e-12)
    # PyTorch's weighted huber_loss averages over elements, not over the weights.
    d = np.abs(x - y)
    out = F.huber_loss(t(x), t(y), delta=0.5, weight=t(w))
    np.testing.assert_allclose(arr(out), (np.where(d < 0.5, 0.5 * d * d, 0.5 * (d - 0.25)) * w).mean(), rtol=1e-12)
    with pytest.warns(UserWarning, match="different to the input size"):
        out = F.mse_loss(t(x), t(y[:1]))
    np.testing.assert_allclose(arr(out), ((x - y[:1]) ** 2).mean(), rtol=1e-12)
    with pytest.raises(ValueError):
        F.mse_loss(t(x), t(y), weight=t(w[:1]))


def test_legacy_size_average_and_reduce():
    x, y = randn(3), randn(3)
    with pytest.warns(UserWarning):
        out = F.mse_loss(t(x), t(y), size_average=False)
    np.testing.assert_allclose(arr(out), ((x - y) ** 2).sum(), rtol=1e-12)
    with pytest.warns(UserWarning):
        loss = nn.L1Loss(reduce=False)
    assert loss.reduction == "none"


# ---- binary cross entropy ------------------------------------------------------------------


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy(reduction):
    p = RNG.random((4, 3)) * 0.98 + 0.01
    y = RNG.random((4, 3))
    w = RNG.random((4, 3))
    ref = -(y * np.log(p) + (1 - y) * np.log1p(-p)) * w
    out = F.binary_cross_entropy(t(p), t(y), weight=t(w), reduction=reduction)
    np.testing.assert_allclose(arr(out), np_reduce(ref, reduction), rtol=1e-12)
    assert gradcheck(lambda p: F.binary_cross_entropy(p, t(y), weight=t(w), reduction=reduction),
                     (t(p, grad=True),))


def test_binary_cross_entropy_clamps_logs_and_checks_input():
    out = F.binary_cross_entropy(t(np.array([0.0, 1.0, 1.0])), t(np.array([1.0, 0.0, 1.0])), reduction="none")
    np.testing.assert_array_equal(arr(out), [100.0, 100.0, 0.0])
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(t(np.array([1.5])), t(np.array([1.0])))
    with pytest.raises(ValueError, match="same size"):
        F.binary_cross_entropy(t(np.array([0.5, 0.5])), t(np.array([1.0])))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_with_logits(reduction):
    x = randn(5, 3) * 4
    y = RNG.random((5, 3))
    pw = RNG.random(3) * 3
    w = RNG.random((5, 3))
    sig = 1 / (1 + np.exp(-x))
    ref = -(pw * y * np.log(sig) + (1 - y) * np.log(1 - sig)) * w
    out = F.binary_cross_entropy_with_logits(t(x), t(y), weight=t(w), reduction=reduction, pos_weight=t(pw))
    np.testing.assert_allclose(arr(out), np_reduce(ref, reduction), rtol=1e-11)
    plain = F.binary_cross_entropy_with_logits(t(x), t(y), reduction=reduction)
    ref = -(y * np.log(sig) + (1 - y) * np.log(1 - sig))
    np.testing.assert_allclose(arr(plain), np_reduce(ref, reduction), rtol=1e-11)
    assert gradcheck(lambda x: F.binary_cross_entropy_with_logits(x, t(y), reduction=reduction, pos_weight=t(pw)),
                     (t(x, grad=True),))


def test_binary_cross_entropy_with_logits_is_stable():
    x = t(np.array([-800.0, 800.0, 0.0]), grad=True)
    y = t(np.array([1.0, 0.0, 0.5]))
    out = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    np.testing.assert_allclose(arr(out), [800.0, 800.0, np.log(2.0)], rtol=1e-12)
    out.sum().backward()
    np.testing.assert_allclose(arr(x.grad), [-1.0, 1.0, 0.0], atol=1e-12)  # sigmoid(x) - y


def test_kl_div():
    logq = np_log_softmax(randn(4, 5), 1)
    p = np.exp(np_log_softmax(randn(4, 5), 1))
    p[0, 0] = 0.0
    terms = np.where(p > 0, p * (np.log(np.where(p > 0, p, 1)) - logq), 0.0)
    np.testing.assert_allclose(arr(F.kl_div(t(logq), t(p), reduction="batchmean")), terms.sum() / 4, rtol=1e-12)
    np.testing.assert_allclose(arr(F.kl_div(t(logq), t(p), reduction="none")), terms, rtol=1e-12)
    logp = np_log_softmax(randn(4, 5), 1)
    np.testing.assert_allclose(arr(F.kl_div(t(logq), t(logp), reduction="sum", log_target=True)),
                               (np.exp(logp) * (logp - logq)).sum(), rtol=1e-12)
    assert gradcheck(lambda q: F.kl_div(q, t(p), reduction="batchmean"), (t(logq, grad=True),))


def test_binary_losses_against_torch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x = randn(4, 3) * 5
    y = (RNG.random((4, 3)) > 0.5).astype(np.float64)
    pw = RNG.random(3) + 0.5
    np.testing.assert_allclose(
        arr(F.binary_cross_entropy_with_logits(t(x), t(y), pos_weight=t(pw))),
        tf.binary_cross_entropy_with_logits(torch.from_numpy(x), torch.from_numpy(y),
                                            pos_weight=torch.from_numpy(pw)).numpy(), rtol=1e-12)
    p = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(arr(F.binary_cross_entropy(t(p), t(y))),
                               tf.binary_cross_entropy(torch.from_numpy(p), torch.from_numpy(y)).numpy(), rtol=1e-11)
    np.testing.assert_allclose(arr(F.smooth_l1_loss(t(x), t(y), beta=2.0)),
                               tf.smooth_l1_loss(torch.from_numpy(x), torch.from_numpy(y), beta=2.0).numpy(),
                               rtol=1e-12)
    w = RNG.random((4, 3))
    np.testing.assert_allclose(arr(F.huber_loss(t(x), t(y), delta=0.5, weight=t(w))),
                               tf.huber_loss(torch.from_numpy(x), torch.from_numpy(y), delta=0.5,
                                             weight=torch.from_numpy(w)).numpy(), rtol=1e-12)


# ---- loss modules ----------------------------------------------------------------------------


def test_loss_modules_call_the_functions_with_their_options():
    x = randn(5, 4)
    y = np.array([0, 1, 2, 3, 1])
    w = RNG.random(4) + 0.5
    ce = nn.CrossEntropyLoss(weight=t(w), ignore_index=2, label_smoothing=0.1, reduction="sum")
    assert list(ce.state_dict()) == ["weight"]
    np.testing.assert_allclose(arr(ce(t(x), t(y))),
                               np_cross_entropy(x, y, w, ignore_index=2, reduction="sum", label_smoothing=0.1),
                               rtol=1e-12)
    nll = nn.NLLLoss(reduction="none")
    np.testing.assert_allclose(arr(nll(t(x), t(y))), -x[np.arange(5), y], rtol=1e-12)
    z = randn(5, 4)
    np.testing.assert_allclose(arr(nn.MSELoss()(t(x), t(z))), ((x - z) ** 2).mean(), rtol=1e-12)
    np.testing.assert_allclose(arr(nn.L1Loss(reduction="sum")(t(x), t(z))), np.abs(x - z).sum(), rtol=1e-12)
    d = np.abs(x - z)
    np.testing.assert_allclose(arr(nn.SmoothL1Loss(beta=0.5)(t(x), t(z))),
                               np.where(d < 0.5, d * d, d - 0.25).mean(), rtol=1e-12)
    np.testing.assert_allclose(arr(nn.HuberLoss(delta=2.0)(t(x), t(z))),
                               np.where(d < 2.0, 0.5 * d * d, 2.0 * (d - 1.0)).mean(), rtol=1e-12)
    p = 1 / (1 + np.exp(-x))
    target = (z > 0).astype(np.float64)
    bce = nn.BCELoss()(t(p), t(target))
    bcel = nn.BCEWithLogitsLoss(pos_weight=t(np.ones(4)))(t(x), t(target))
    np.testing.assert_allclose(arr(bce), arr(bcel), rtol=1e-10)
    assert list(nn.BCEWithLogitsLoss(pos_weight=t(np.ones(4))).state_dict()) == ["pos_weight"]
    kl = nn.KLDivLoss(reduction="batchmean", log_target=True)
    logp = np_log_softmax(x, 1)
    np.testing.assert_allclose(arr(kl(t(logp), t(logp))), 0.0, atol=1e-15)
    with pytest.raises(ValueError, match="label_smoothing"):
        nn.CrossEntropyLoss(label_smoothing=1.5)(t(x), t(y))


def test_training_a_linear_classifier_reduces_cross_entropy():
    fg.manual_seed(0)
    centers = randn(3, 2) * 3
    labels = RNG.integers(0, 3, 90)
    points = centers[labels] + randn(90, 2) * 0.3
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3))
    loss_fn = nn.CrossEntropyLoss()
    xs, ys = fg.tensor(points.astype(np.float32)), t(labels)
    first = None
    for _ in range(60):
        model.zero_grad()
        loss = loss_fn(model(xs), ys)
        loss.backward()
        with fg.no_grad():
            for p in model.parameters():
                p.sub_(p.grad * 0.1)
        first = float(loss.item()) if first is None else first
    accuracy = (arr(model(xs)).argmax(1) == labels).mean()
    assert float(loss.item()) < 0.3 * first and accuracy > 0.9


def test_cross_entropy_bad_input_raises_clear_errors():
    x = fg.zeros((2, 3))
    for target, err, msg in [
        (fg.tensor([0, 3]), IndexError, "Target 3 is out of bounds"),
        (fg.tensor([-2, 0]), IndexError, "Target -2 is out of bounds"),
        (fg.tensor([0]), ValueError, "batch_size"),
    ]:
        with pytest.raises(err, match=msg):
            F.cross_entropy(x, target)
    with pytest.raises(TypeError, match="floating point"):
        F.cross_entropy(fg.zeros((2, 3), dtype=fg.int32), fg.tensor([0, 1]))
    with pytest.raises(ValueError, match="weight tensor"):
        F.cross_entropy(x, fg.tensor([0, 1]), weight=fg.ones(2))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(x, fg.tensor([0, 1]), reduction="avg")
    # every target ignored: 'mean' is 0/0 = nan, as in PyTorch; 'sum' is 0
    assert np.isnan(F.cross_entropy(x, fg.tensor([-100, -100])).item())
    assert F.cross_entropy(x, fg.tensor([-100, -100]), reduction="sum").item() == 0.0
