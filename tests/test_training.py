"""End to end: a tiny MLP trained for a few steps from fixed weights gives the same losses
as a numpy reference with hand-written forward, backward and optimizer maths. A wrong
gradient, a wrong fused kernel (cross-entropy, optimizer step) or wrong optimizer
arithmetic shows up as a diverging loss curve."""

from __future__ import annotations

import numpy as np
import pytest

import ferrograd as fg
from ferrograd import nn, optim

STEPS = 8


def data(rng):
    x = rng.standard_normal((12, 5))
    y = rng.integers(0, 3, 12)
    return x, y


def weights(rng):
    return {
        "w1": rng.standard_normal((8, 5)) * 0.5, "b1": rng.standard_normal(8) * 0.1,
        "w2": rng.standard_normal((3, 8)) * 0.5, "b2": rng.standard_normal(3) * 0.1,
    }


def np_loss_and_grads(p, x, y):
    """Linear(5, 8) -> tanh -> Linear(8, 3) -> mean cross-entropy, and its gradients."""
    h_pre = x @ p["w1"].T + p["b1"]
    h = np.tanh(h_pre)
    z = h @ p["w2"].T + p["b2"]
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    n = len(y)
    loss = -logp[np.arange(n), y].mean()
    dz = np.exp(logp)
    dz[np.arange(n), y] -= 1
    dz /= n
    g = {"w2": dz.T @ h, "b2": dz.sum(0)}
    dh = dz @ p["w2"] * (1 - h**2)
    g["w1"] = dh.T @ x
    g["b1"] = dh.sum(0)
    return loss, g


def np_sgd(p, g, st, lr=0.1, momentum=0.9, nesterov=True):
    for k in p:
        st[k] = g[k].copy() if k not in st else st[k] * momentum + g[k]
        d = g[k] + momentum * st[k] if nesterov else st[k]
        p[k] = p[k] - lr * d


def np_adamw(p, g, st, lr=0.05, b1=0.9, b2=0.999, eps=1e-8, wd=0.01):
    st["t"] = st.get("t", 0) + 1
    t = st["t"]
    for k in p:
        m, v = st.get(("m", k), 0 * p[k]), st.get(("v", k), 0 * p[k])
        p[k] = p[k] * (1 - lr * wd)
        m = b1 * m + (1 - b1) * g[k]
        v = b2 * v + (1 - b2) * g[k] ** 2
        st[("m", k)], st[("v", k)] = m, v
        p[k] = p[k] - lr / (1 - b1**t) * m / (np.sqrt(v) / np.sqrt(1 - b2**t) + eps)


OPTIMIZERS = pytest.mark.parametrize(("make_opt", "np_step"), [
    (lambda params: optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True), np_sgd),
    (lambda params: optim.AdamW(params, lr=0.05, weight_decay=0.01), np_adamw),
], ids=["sgd-nesterov", "adamw"])


def train(make_opt, w, x, y, device: str, dtype):
    """STEPS steps of the tiny MLP from weights ``w``: the losses and final parameters."""
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3)).to(dtype)
    with fg.no_grad():
        for (name, param), key in zip(model.named_parameters(), ["w1", "b1", "w2", "b2"]):
            assert tuple(param.shape) == w[key].shape, name
            param.copy_(fg.tensor(w[key]))
    model.to(device)
    opt = make_opt(model.parameters())
    xt = fg.tensor(x).to(device, dtype)
    yt = fg.tensor(y.astype(np.int32)).to(device)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(q.device.type == device for q in model.parameters())
    final = dict(zip(["w1", "b1", "w2", "b2"], (q.detach().cpu().numpy() for q in model.parameters())))
    return losses, final


def numpy_reference(np_step, w, x, y):
    ref, p, st = [], {k: v.copy() for k, v in w.items()}, {}
    for _ in range(STEPS):
        loss, g = np_loss_and_grads(p, x, y)
        np_step(p, g, st)
        ref.append(loss)
    assert ref[-1] < ref[0] * 0.8  # it really trained
    return ref, p


@OPTIMIZERS
def test_tiny_mlp_losses_match_numpy_reference(make_opt, np_step):
    rng = np.random.default_rng(0)
    x, y = data(rng)
    w = weights(rng)
    ours, final = train(make_opt, w, x, y, "cpu", fg.float64)
    ref, p = numpy_reference(np_step, w, x, y)
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-14)
    for k in p:
        np.testing.assert_allclose(final[k], p[k], rtol=1e-11, atol=1e-13)


@OPTIMIZERS
def test_tiny_mlp_on_the_gpu_matches_numpy_reference(make_opt, np_step, gpu_device):
    """The same run in float32 on the GPU (fused cross-entropy and optimizer kernels)
    against the float64 numpy reference, to float32 accuracy, and against the CPU's own
    float32 run, which takes the same operations in the same order."""
    rng = np.random.default_rng(0)
    x, y = data(rng)
    w = weights(rng)
    ours, final = train(make_opt, w, x, y, gpu_device, fg.float32)
    ref, p = numpy_reference(np_step, w, x, y)
    np.testing.assert_allclose(ours, ref, rtol=2e-5, atol=1e-6)
    for k in p:
        np.testing.assert_allclose(final[k], p[k], rtol=1e-4, atol=1e-5)
    cpu32, _ = train(make_opt, w, x, y, "cpu", fg.float32)
    np.testing.assert_allclose(ours, cpu32, rtol=5e-6, atol=1e-7)
