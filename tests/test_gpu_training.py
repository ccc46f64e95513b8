"""The training path on the GPU against the CPU: the fused optimizer kernels
(shaders/optim.wgsl) for every rule and option, the fused cross-entropy
(shaders/xent.wgsl) with weights, ignore_index, label smoothing and every reduction,
and modules moved with ``Module.to("gpu")``. Each is compared with the same float32
computation on the CPU, which applies the same formulas in the same order."""

from __future__ import annotations

import numpy as np
import pytest

import ferrograd as fg
from ferrograd import nn, optim

RNG = np.random.default_rng(7)

OPTIMIZERS = {
    "sgd": lambda p: optim.SGD(p, lr=0.1),
    "sgd-wd-maximize": lambda p: optim.SGD(p, lr=0.05, weight_decay=0.1, maximize=True),
    "sgd-momentum": lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.2),
    "sgd-nesterov-wd": lambda p: optim.SGD(p, lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.01),
    "adam": lambda p: optim.Adam(p, lr=0.01),
    "adam-wd-amsgrad": lambda p: optim.Adam(p, lr=0.01, weight_decay=0.1, amsgrad=True),
    "adamw": lambda p: optim.AdamW(p, lr=0.01, weight_decay=0.05),
    "adamw-maximize": lambda p: optim.AdamW(p, lr=0.01, maximize=True),
    "rmsprop": lambda p: optim.RMSprop(p, lr=0.01),
    "rmsprop-centered": lambda p: optim.RMSprop(p, lr=0.01, centered=True),
    "rmsprop-momentum-wd": lambda p: optim.RMSprop(p, lr=0.01, momentum=0.9, weight_decay=0.1),
    "rmsprop-centered-momentum": lambda p: optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True),
    "adagrad": lambda p: optim.Adagrad(p, lr=0.1, lr_decay=0.01, weight_decay=0.1),
}


def run_optimizer(make, device, values, grads):
    params = [fg.tensor(v).to(device).requires_grad_(True) for v in values]
    opt = make(params)
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = fg.tensor(g).to(device)
        opt.step()
    return [p.detach().cpu().numpy() for p in params], opt


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_fused_optimizer_step_matches_the_cpu(name, gpu_device):
    values = [RNG.standard_normal((33, 17)).astype(np.float32), RNG.standard_normal(300).astype(np.float32)]
    grads = [[RNG.standard_normal(v.shape).astype(np.float32) for v in values] for _ in range(4)]
    ours, opt = run_optimizer(OPTIMIZERS[name], gpu_device, values, grads)
    ref, _ = run_optimizer(OPTIMIZERS[name], "cpu", values, grads)
    for a, b in zip(ours, ref):
        # The same float32 formulas; WGSL's sqrt and division may differ by an ulp or two.
        np.testing.assert_allclose(a, b, rtol=3e-6, atol=3e-7)
    for a, v in zip(ours, values):
        assert np.abs(a - v).max() > 1e-3  # the step really moved the parameters
    # The state lives on the GPU too.
    for state in opt.state.values():
        for v in state.values():
            if isinstance(v, fg.Tensor) and v.ndim > 0:
                assert v.device.type == "gpu"


def test_optimizer_moves_every_parameter(gpu_device):
    values = [RNG.standard_normal(8).astype(np.float32)]
    ours, _ = run_optimizer(OPTIMIZERS["adam"], gpu_device, values, [[np.ones(8, np.float32)]])
    np.testing.assert_allclose(ours[0], values[0] - 0.01, rtol=1e-5, atol=1e-6)


def test_optimizer_refuses_mixed_devices(gpu_device):
    p = fg.ones(3).to(gpu_device).requires_grad_(True)
    p.grad = fg.ones(3)
    with pytest.raises(RuntimeError, match="device"):
        optim.SGD([p], lr=0.1).step()


CE_CASES = {
    "mean": {},
    "sum": {"reduction": "sum"},
    "none": {"reduction": "none"},
    "weight": {"weight": True},
    "ignore": {"ignore_index": 2},
    "smoothing": {"label_smoothing": 0.2},
    "all": {"weight": True, "ignore_index": 1, "label_smoothing": 0.1, "reduction": "mean"},
    "all-none": {"weight": True, "ignore_index": 1, "label_smoothing": 0.3, "reduction": "none"},
}


@pytest.mark.parametrize("shape", [(16, 5), (4, 7, 3, 2), (9,)], ids=["2d", "4d", "1d"])
@pytest.mark.parametrize("case", list(CE_CASES))
def test_fused_cross_entropy_matches_the_cpu(case, shape, gpu_device):
    kw = dict(CE_CASES[case])
    c = shape[1] if len(shape) > 1 else shape[0]
    logits = (RNG.standard_normal(shape) * 3).astype(np.float32)
    sample = shape[:1] + shape[2:] if len(shape) > 1 else ()
    target = RNG.integers(0, c, sample).astype(np.int32)
    weight = RNG.uniform(0.5, 2.0, c).astype(np.float32) if kw.pop("weight", False) else None
    upstream = RNG.standard_normal(sample).astype(np.float32)

    def run(device):
        x = fg.tensor(logits).to(device).requires_grad_(True)
        w = None if weight is None else fg.tensor(weight).to(device)
        loss = nn.functional.cross_entropy(x, fg.tensor(target).to(device), weight=w, **kw)
        assert loss.device.type == device
        g = fg.tensor(upstream).to(device) if loss.ndim else None
        loss.backward(g)
        assert x.grad.device.type == device
        return loss.detach().cpu().numpy(), x.grad.cpu().numpy()

    (loss, grad), (loss_ref, grad_ref) = run(gpu_device), run("cpu")
    np.testing.assert_allclose(loss, loss_ref, rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(grad, grad_ref, rtol=2e-5, atol=2e-6)


def test_fused_cross_entropy_reads_strided_logits(gpu_device):
    logits = RNG.standard_normal((10, 12)).astype(np.float32)
    target = RNG.integers(0, 5, 5).astype(np.int32)
    x = fg.tensor(logits).to(gpu_device).requires_grad_(True)
    loss = nn.functional.cross_entropy(x[::2, 1:11:2].T.T[1:], fg.tensor(target[1:]).to(gpu_device))
    loss.backward()
    xc = fg.tensor(logits).requires_grad_(True)
    ref = nn.functional.cross_entropy(xc[::2, 1:11:2][1:], fg.tensor(target[1:]))
    ref.backward()
    np.testing.assert_allclose(loss.item(), ref.item(), rtol=2e-6)
    np.testing.assert_allclose(x.grad.cpu().numpy(), xc.grad.numpy(), rtol=2e-5, atol=2e-7)


def test_cross_entropy_checks_targets_on_the_gpu(gpu_device):
    x = fg.zeros(4, 3).to(gpu_device)
    with pytest.raises(IndexError, match="out of bounds"):
        nn.functional.cross_entropy(x, fg.tensor(np.array([0, 1, 3, 0], np.int32)).to(gpu_device))
    with pytest.raises(RuntimeError, match="device"):
        nn.functional.cross_entropy(x, fg.tensor(np.array([0, 1, 2, 0], np.int32)))


def test_batchnorm_module_moves_to_the_gpu(gpu_device):
    """Running statistics move; the int64 batch counter stays on the host (GPUs hold no
    int64) and still counts, and the state dict round-trips."""
    bn = nn.BatchNorm2d(3).to(gpu_device)
    assert bn.running_mean.device.type == "gpu" and bn.weight.device.type == "gpu"
    assert bn.num_batches_tracked.device.type == "cpu"
    x = RNG.standard_normal((4, 3, 5, 5)).astype(np.float32)
    ref = nn.BatchNorm2d(3)
    for _ in range(2):
        out = bn(fg.tensor(x).to(gpu_device))
        out_ref = ref(fg.tensor(x))
    np.testing.assert_allclose(out.cpu().numpy(), out_ref.numpy(), rtol=1e-4, atol=1e-5)
    assert int(bn.num_batches_tracked.item()) == 2
    np.testing.assert_allclose(bn.running_var.cpu().numpy(), ref.running_var.numpy(), rtol=1e-5)
    state = {k: v.cpu() for k, v in bn.state_dict().items()}
    fresh = nn.BatchNorm2d(3)
    fresh.load_state_dict(state)
    assert int(fresh.num_batches_tracked.item()) == 2
