"""The two GPU matmul kernels (shaders/matmul.wgsl: `main`'s 64x64 tiles and `wide`'s
128x128 double-buffered ones) each against numpy's float64 product, on shapes that cut
every tile edge and K step, on transposed and strided operands (each fetched along its
contiguous axis, or not), batched with broadcasting, and on integers. The general op
tests cover matmul's semantics; this pins each kernel, whichever the shape rule picks."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import gpu, require_gpu_module

import ferrograd as fg

require_gpu_module()

RNG = np.random.default_rng(11)
KERNELS = ["main", "wide"]


@pytest.fixture(params=KERNELS)
def kernel(request, monkeypatch):
    monkeypatch.setenv("FERROGRAD_GPU_MATMUL", request.param)
    return request.param


def check(got: fg.Tensor, a: np.ndarray, b: np.ndarray) -> None:
    assert got.device.type == "gpu"
    want = a.astype(np.float64) @ b.astype(np.float64)
    k = a.shape[-1]
    np.testing.assert_allclose(got.cpu().numpy(), want, rtol=1e-5, atol=2e-6 * k)


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (128, 8, 128), (129, 9, 127), (3, 300, 2), (257, 17, 130),
                                   (64, 1, 200), (200, 40, 1)])
@pytest.mark.parametrize("layout", ["nn", "tn", "nt", "tt"])
def test_each_kernel_on_each_operand_layout(m, k, n, layout, kernel):
    a = RNG.standard_normal((k, m) if layout[0] == "t" else (m, k)).astype(np.float32)
    b = RNG.standard_normal((n, k) if layout[1] == "t" else (k, n)).astype(np.float32)
    ga, gb = gpu(a), gpu(b)
    if layout[0] == "t":
        a, ga = a.T, ga.T
    if layout[1] == "t":
        b, gb = b.T, gb.T
    check(ga @ gb, a, b)


def test_strided_views_and_broadcast_batches(kernel):
    a = RNG.standard_normal((3, 1, 150, 70)).astype(np.float32)
    b = RNG.standard_normal((2, 35, 260)).astype(np.float32)
    # every other row of A's K axis and every third column of B: no unit stride left
    av, bv = a[..., ::2], b[:, :, ::3]
    check(gpu(a)[..., ::2] @ gpu(b)[:, :, ::3], av, bv)


@pytest.mark.parametrize("dtype", [np.int32, np.uint32])
def test_integer_products_are_exact(dtype, kernel):
    a = RNG.integers(0, 7, (2, 131, 45)).astype(dtype)
    b = RNG.integers(0, 7, (45, 140)).astype(dtype)
    got = (gpu(a) @ gpu(b)).cpu().numpy()
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, a @ b)


def test_the_shape_rule_gives_the_same_product_both_ways(monkeypatch):
    """A product big enough for the rule to pick `wide` (at least 16 tiles of 128x128),
    and the forced `main` kernel, both against numpy."""
    a = RNG.standard_normal((600, 12)).astype(np.float32)
    b = RNG.standard_normal((12, 520)).astype(np.float32)
    auto = (gpu(a) @ gpu(b)).cpu().numpy()
    monkeypatch.setenv("FERROGRAD_GPU_MATMUL", "main")
    forced = (gpu(a) @ gpu(b)).cpu().numpy()
    want = a.astype(np.float64) @ b
    np.testing.assert_allclose(auto, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(forced, want, rtol=1e-5, atol=1e-5)
