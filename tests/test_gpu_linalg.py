"""svdvals on the GPU (one-sided Jacobi in shaders/svd.wgsl) against the CPU's float64
Jacobi, its gradient, and the matrix norms built on it."""

from __future__ import annotations

import numpy as np
import pytest

import ferrograd as fg

RNG = np.random.default_rng(7)


def assert_values_close(got, want):
    """Float32 accuracy relative to each matrix's largest singular value."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape
    scale = np.max(np.abs(want), axis=-1, keepdims=True) if want.size else 1.0
    err = np.abs(got - want)
    both_nan = np.isnan(got) & np.isnan(want)
    assert np.all((err <= 1e-5 * scale) | both_nan), f"{got} vs {want}"


@pytest.mark.parametrize("shape", [(5, 5), (8, 3), (3, 8), (4, 2, 6), (2, 3, 7, 4), (1, 1), (40, 33), (300, 5),
                                   (3, 260)])
def test_svdvals_match_the_cpu(shape, gpu_device):
    x = RNG.standard_normal(shape).astype(np.float32)
    got = fg.linalg.svdvals(fg.tensor(x).to(gpu_device))
    assert got.device.type == "gpu" and got.dtype == fg.float32
    assert tuple(got.shape) == (*shape[:-2], min(shape[-2:]))
    want = fg.linalg.svdvals(fg.tensor(x)).numpy()
    assert_values_close(got.cpu().numpy(), want)
    assert_values_close(got.cpu().numpy(), np.linalg.svd(x.astype(np.float64), compute_uv=False))
    assert np.all(np.diff(got.cpu().numpy(), axis=-1) <= 0)  # descending


def test_rank_deficient_zero_and_scaled_matrices(gpu_device):
    u = RNG.standard_normal((6, 2))
    rank2 = (u @ RNG.standard_normal((2, 5))).astype(np.float32)
    zero = np.zeros((6, 5), np.float32)
    tiny = (RNG.standard_normal((6, 5)) * 1e-30).astype(np.float32)
    huge = (RNG.standard_normal((6, 5)) * 1e30).astype(np.float32)
    dup = np.diag([3.0, 3.0, 1.0, 1.0, 0.5]).astype(np.float32)[:, ::-1].copy()
    x = np.stack([rank2, np.pad(dup, ((0, 1), (0, 0))), zero, tiny, huge])
    got = fg.linalg.svdvals(fg.tensor(x).to(gpu_device)).cpu().numpy()
    assert_values_close(got, np.linalg.svd(x.astype(np.float64), compute_uv=False))
    assert np.all(got[2] == 0)
    assert np.all(np.isfinite(got))


def test_non_finite_matrices_give_nan(gpu_device):
    x = np.ones((3, 3, 3), np.float32)
    x[0, 1, 1] = np.nan
    x[1, 0, 2] = np.inf
    got = fg.linalg.svdvals(fg.tensor(x).to(gpu_device)).cpu().numpy()
    assert np.isnan(got[:2]).all()
    assert_values_close(got[2], [3.0, 0.0, 0.0])


def test_strided_inputs_are_read_in_place(gpu_device):
    x = RNG.standard_normal((3, 7, 9)).astype(np.float32)
    g = fg.tensor(x).to(gpu_device)
    views = {
        "transposed": (g.permute(0, 2, 1), x.transpose(0, 2, 1)),
        "stepped": (g[:, ::2, 1::3], x[:, ::2, 1::3]),
        "flipped": (g[::-1, :, ::-1], x[::-1, :, ::-1]),
        "batch-broadcast": (g[1:2].expand(4, 7, 9), np.broadcast_to(x[1:2], (4, 7, 9))),
    }
    for name, (view, ref) in views.items():
        got = fg.linalg.svdvals(view).cpu().numpy()
        assert_values_close(got, np.linalg.svd(np.asarray(ref, np.float64), compute_uv=False)), name


def test_empty_and_bad_inputs(gpu_device):
    assert tuple(fg.linalg.svdvals(fg.zeros(3, 0, 4, device=gpu_device)).shape) == (3, 0)
    assert tuple(fg.linalg.svdvals(fg.zeros(0, 2, 2, device=gpu_device)).shape) == (0, 2)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        fg.linalg.svdvals(fg.zeros(4, device=gpu_device))
    # Integers are cast to the default float dtype first, as on the CPU.
    s = fg.linalg.svdvals(fg.tensor(np.array([[3, 0], [0, -4]], np.int32)).to(gpu_device))
    assert s.dtype == fg.float32 and s.cpu().numpy().tolist() == [4.0, 3.0]


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 4, 4), (6, 1)])
def test_svdvals_gradient_matches_the_cpu(shape, gpu_device):
    x = RNG.standard_normal(shape).astype(np.float32)
    w = RNG.standard_normal((*shape[:-2], min(shape[-2:]))).astype(np.float32)
    grads = []
    for dev in ("cpu", gpu_device):
        t = fg.tensor(x).to(dev).requires_grad_()
        (fg.linalg.svdvals(t) * fg.tensor(w).to(dev)).sum().backward()
        assert t.grad.device.type == fg.device(dev).type
        grads.append(t.grad.cpu().numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-4, atol=1e-5)
    # d(sum s)/dx = u v^T (numpy's factors).
    u, _, vt = np.linalg.svd(x.astype(np.float64), full_matrices=False)
    np.testing.assert_allclose(grads[0], (u * w[..., None, :]) @ vt, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("ord", ["nuc", 2, -2])
def test_matrix_norms_on_svdvals(ord, gpu_device):
    x = RNG.standard_normal((3, 6, 4)).astype(np.float32)
    got = fg.linalg.matrix_norm(fg.tensor(x).to(gpu_device), ord=ord)
    want = np.linalg.norm(x.astype(np.float64), ord=ord, axis=(-2, -1))
    np.testing.assert_allclose(got.cpu().numpy(), want, rtol=1e-5)
    t = fg.tensor(x).to(gpu_device).requires_grad_()
    fg.linalg.matrix_norm(t, ord=ord).sum().backward()
    c = fg.tensor(x).requires_grad_()
    fg.linalg.matrix_norm(c, ord=ord).sum().backward()
    np.testing.assert_allclose(t.grad.cpu().numpy(), c.grad.numpy(), rtol=1e-4, atol=1e-5)
