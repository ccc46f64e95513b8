"""GPU interpolate against the CPU op: nearest / nearest-exact (every GPU dtype, bit
exact), linear / bilinear / trilinear with and without align_corners, size and scale
factors, up- and down-sampling, strided inputs, area (adaptive average pooling), and
the gradients, which must match the CPU's and stay on the GPU."""

from __future__ import annotations

import numpy as np
import pytest

import ferrograd as fg

F = fg.nn.functional
RNG = np.random.default_rng(3)
RTOL, ATOL = 1e-5, 1e-6


def host(t: fg.Tensor) -> np.ndarray:
    assert t.device.type == "gpu", t.device
    return t.cpu().numpy()


CASES = [
    # (input shape, mode, keyword arguments)
    ((2, 3, 7), "linear", {"size": 12}),
    ((2, 3, 7), "linear", {"scale_factor": 0.6, "align_corners": True}),
    ((1, 2, 5, 6), "bilinear", {"size": (9, 4)}),
    ((1, 2, 5, 6), "bilinear", {"size": (9, 4), "align_corners": True}),
    ((1, 2, 5, 6), "bilinear", {"scale_factor": 1.7}),
    ((2, 1, 4, 5, 3), "trilinear", {"size": (6, 5, 7)}),
    ((2, 1, 4, 5, 3), "trilinear", {"scale_factor": (0.5, 2.0, 1.5), "align_corners": True}),
    ((1, 2, 5, 6), "nearest", {"size": (11, 3)}),
    ((1, 2, 5, 6), "nearest", {"scale_factor": 2.5}),
    ((2, 3, 9), "nearest-exact", {"size": 4}),
    ((1, 1, 3, 4, 5), "nearest-exact", {"scale_factor": (1.5, 0.75, 2.0)}),
    ((1, 2, 6, 9), "area", {"size": (4, 5)}),
]


@pytest.mark.parametrize("shape,mode,kw", CASES)
def test_forward_matches_cpu(gpu_device, shape, mode, kw):
    a = RNG.standard_normal(shape).astype(np.float32)
    want = F.interpolate(fg.from_numpy(a), mode=mode, **kw).numpy()
    got = host(F.interpolate(fg.from_numpy(a).to("gpu"), mode=mode, **kw))
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("dtype", [np.int32, np.uint32, np.bool_])
def test_nearest_any_dtype_bit_exact(gpu_device, dtype):
    a = RNG.integers(0, 100, size=(2, 2, 5, 7)).astype(dtype)
    for mode in ("nearest", "nearest-exact"):
        want = F.interpolate(fg.from_numpy(a), size=(8, 3), mode=mode).numpy()
        got = host(F.interpolate(fg.from_numpy(a).to("gpu"), size=(8, 3), mode=mode))
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


def test_strided_input(gpu_device):
    a = RNG.standard_normal((3, 2, 8, 10)).astype(np.float32)
    g = fg.from_numpy(a).to("gpu")
    view_cpu, view_gpu = fg.from_numpy(a)[::2, :, ::-1, 1::2], g[::2, :, :, 1::2].flip((2,))
    for mode in ("bilinear", "nearest"):
        want = F.interpolate(view_cpu, size=(5, 7), mode=mode).numpy()
        np.testing.assert_allclose(host(F.interpolate(view_gpu, size=(5, 7), mode=mode)), want, rtol=RTOL, atol=ATOL)


def test_linear_modes_refuse_integers(gpu_device):
    x = fg.ones(1, 1, 4, 4, dtype=fg.int32, device="gpu")
    with pytest.raises(TypeError, match="floating-point"):
        F.interpolate(x, size=(3, 3), mode="bilinear")


@pytest.mark.parametrize("shape,mode,kw", CASES)
def test_gradients_match_cpu_and_stay_on_the_gpu(gpu_device, shape, mode, kw):
    a = RNG.standard_normal(shape).astype(np.float32)
    out_shape = F.interpolate(fg.from_numpy(a), mode=mode, **kw).shape
    w = RNG.standard_normal(out_shape).astype(np.float32)
    grads = []
    for dev in ("cpu", "gpu"):
        x = fg.from_numpy(a).to(dev).detach().requires_grad_()
        (F.interpolate(x, mode=mode, **kw) * fg.from_numpy(w).to(dev)).sum().backward()
        assert x.grad.device.type == dev
        grads.append(x.grad.cpu().numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-5, atol=1e-5)
