"""Fused batch norm on the GPU (shaders/batchnorm.wgsl) against the CPU's fused kernel:
outputs, running statistics and gradients, for BatchNorm1d/2d/3d in train and eval."""

from __future__ import annotations

import numpy as np
import pytest

import ferrograd as fg
from ferrograd import nn

RNG = np.random.default_rng(11)
TOL = {"rtol": 1e-5, "atol": 1e-5}


def close(got, want, **kw):
    np.testing.assert_allclose(got.cpu().numpy() if hasattr(got, "cpu") else got, want, **{**TOL, **kw})


def pair(cls, c, gpu, **kw):
    """The same layer on the CPU and the GPU, with non-trivial affine parameters."""
    ref, dut = cls(c, **kw), cls(c, **kw)
    if ref.weight is not None:
        w, b = RNG.standard_normal(c).astype(np.float32), RNG.standard_normal(c).astype(np.float32)
        with fg.no_grad():
            for layer in (ref, dut):
                layer.weight.copy_(fg.tensor(w))
                layer.bias.copy_(fg.tensor(b))
    return ref, dut.to(gpu)


CASES = [(nn.BatchNorm1d, (16, 4)), (nn.BatchNorm1d, (5, 3, 7)), (nn.BatchNorm2d, (4, 3, 5, 6)),
         (nn.BatchNorm3d, (2, 5, 3, 4, 3)), (nn.BatchNorm2d, (6, 300, 1, 1))]


@pytest.mark.parametrize("kw", [{}, {"momentum": None}, {"affine": False}, {"momentum": 0.3, "eps": 1e-3}])
@pytest.mark.parametrize("cls, shape", CASES)
def test_training_matches_the_cpu(cls, shape, kw, gpu_device):
    ref, dut = pair(cls, shape[1], gpu_device, **kw)
    for step in range(3):
        x = (RNG.standard_normal(shape) * 3 + step).astype(np.float32)
        gy = RNG.standard_normal(shape).astype(np.float32)
        xr, xg = fg.tensor(x).requires_grad_(), fg.tensor(x).to(gpu_device).requires_grad_()
        yr, yg = ref(xr), dut(xg)
        assert yg.device.type == "gpu"
        close(yg, yr.numpy())
        (yr * fg.tensor(gy)).sum().backward()
        (yg * fg.tensor(gy).to(gpu_device)).sum().backward()
        close(xg.grad, xr.grad.numpy(), atol=1e-4)
        if ref.weight is not None:
            close(dut.weight.grad, ref.weight.grad.numpy(), atol=1e-4)
            close(dut.bias.grad, ref.bias.grad.numpy(), atol=1e-4)
        close(dut.running_mean, ref.running_mean.numpy())
        close(dut.running_var, ref.running_var.numpy())
    ref.eval()
    dut.eval()
    x = RNG.standard_normal(shape).astype(np.float32)
    xr, xg = fg.tensor(x).requires_grad_(), fg.tensor(x).to(gpu_device).requires_grad_()
    yr, yg = ref(xr), dut(xg)
    close(yg, yr.numpy())
    yr.sum().backward()
    yg.sum().backward()
    close(xg.grad, xr.grad.numpy())


def test_strided_input_and_gradient(gpu_device):
    x = RNG.standard_normal((6, 8, 5)).astype(np.float32)
    gy = RNG.standard_normal((3, 8, 5)).astype(np.float32)
    w, b = RNG.standard_normal(8).astype(np.float32), RNG.standard_normal(8).astype(np.float32)
    results = []
    for dev in ("cpu", gpu_device):
        xt = fg.tensor(x).to(dev).requires_grad_()
        wt, bt = fg.tensor(w).to(dev).requires_grad_(), fg.tensor(b).to(dev).requires_grad_()
        rm, rv = fg.zeros(8).to(dev), fg.ones(8).to(dev)
        view = xt[::2, :, ::-1]  # stepped and flipped
        y = nn.functional.batch_norm(view, rm, rv, wt, bt, training=True, momentum=0.2)
        g = fg.tensor(gy).to(dev).permute(0, 2, 1).contiguous().permute(0, 2, 1)  # strided gradient
        y.backward(g)
        results.append([t.cpu().numpy() for t in (y, xt.grad, wt.grad, bt.grad, rm, rv)])
    for got, want in zip(results[1], results[0]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


def test_functional_errors(gpu_device):
    x = fg.ones(4, 3, device=gpu_device)
    with pytest.raises(ValueError, match="running_mean and running_var"):
        nn.functional.batch_norm(x, None, None, training=False)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.functional.batch_norm(fg.ones(1, 3, device=gpu_device), None, None, training=True)
    with pytest.raises(ValueError, match="shape"):
        nn.functional.batch_norm(x, fg.zeros(4, device=gpu_device), fg.ones(4, device=gpu_device), training=True)
    with pytest.raises(RuntimeError, match="one device"):
        nn.functional.batch_norm(x, fg.zeros(3), fg.ones(3), training=True)
    # Nothing was written when the check failed.
    rm = fg.zeros(3, device=gpu_device)
    with pytest.raises(ValueError):
        nn.functional.batch_norm(x, rm, fg.ones(4, device=gpu_device), training=True)
    np.testing.assert_array_equal(rm.cpu().numpy(), 0)


def test_second_derivative_uses_the_composed_backward(gpu_device):
    x = RNG.standard_normal((6, 3)).astype(np.float32)
    grads = []
    for dev in ("cpu", gpu_device):
        xt = fg.tensor(x).to(dev).requires_grad_()
        y = nn.functional.batch_norm(xt, None, None, training=True)
        (g,) = fg.autograd.grad((y ** 3).sum(), [xt], create_graph=True)
        (g * g).sum().backward()
        grads.append(xt.grad.cpu().numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-4, atol=1e-4)
