"""Tensors larger than the adapter's largest storage binding (128 MiB on lavapipe):
elementwise kernels, copies and casts split their launch into binding-sized windows;
other kernels refuse such tensors with a clear error instead of failing in the driver.
Tensors larger than the adapter's largest buffer are refused at allocation."""

from __future__ import annotations

import numpy as np
import pytest

import ferrograd as fg


def binding_limit(device: str) -> int:
    index = int(device.partition(":")[2] or 0)
    return dict(fg.gpu.adapters()[index]["limits"])["max_storage_buffer_binding_size"]


def buffer_limit(device: str) -> int:
    index = int(device.partition(":")[2] or 0)
    return dict(fg.gpu.adapters()[index]["limits"])["max_buffer_size"]


@pytest.fixture
def big(gpu_device):
    """A float32 vector a little over one binding (skipped where a buffer cannot hold it)."""
    n = binding_limit(gpu_device) // 4 + 3 * 1024 * 1024 + 17
    if n * 4 > buffer_limit(gpu_device):
        pytest.skip("this adapter's largest buffer is no bigger than its largest binding")
    return np.arange(n, dtype=np.float32) % 1000.0


def test_elementwise_ops_split_tensors_larger_than_a_binding(big, gpu_device):
    x = fg.tensor(big).to(gpu_device)
    y = (x * 2.0 + 1.0).cpu().numpy()  # the scalar kernel, twice
    np.testing.assert_array_equal(y, big * 2 + 1)
    z = (x - fg.tensor(big[::-1].copy()).to(gpu_device)).cpu().numpy()  # two big operands
    np.testing.assert_array_equal(z, big - big[::-1])
    s = fg.exp(x[::3] * -0.01).cpu().numpy()  # a stepped view, a unary kernel
    np.testing.assert_allclose(s, np.exp(big[::3] * -0.01), rtol=2e-6)
    x += 1  # in place, through the same buffer
    np.testing.assert_array_equal(x[-5:].cpu().numpy(), big[-5:] + 1)


def test_broadcast_and_casts_over_a_big_matrix(big, gpu_device):
    rows = 64
    cols = big.size // rows
    m = big[: rows * cols].reshape(rows, cols)
    bias = np.linspace(-1, 1, cols, dtype=np.float32)
    g = fg.tensor(m).to(gpu_device)
    out = (g + fg.tensor(bias).to(gpu_device)).astype(fg.int32).cpu().numpy()
    np.testing.assert_array_equal(out, (m + bias).astype(np.int32))
    flipped = g.flip((0,))[:, 5:].contiguous().cpu().numpy()
    np.testing.assert_array_equal(flipped, m[::-1, 5:])


def test_reductions_split_tensors_larger_than_a_binding(big, gpu_device):
    x = fg.tensor(big).to(gpu_device)
    np.testing.assert_allclose(x.sum().item(), big.astype(np.float64).sum(), rtol=1e-5)
    assert x.max().item() == big.max()
    m = x[: (big.size // 8) * 8].reshape(8, -1)
    np.testing.assert_allclose(m.mean(axis=1).cpu().numpy(), big[: m.shape[0] * m.shape[1]].reshape(8, -1).mean(axis=1), rtol=1e-5)
    np.testing.assert_allclose(m.T.sum(axis=1).cpu().numpy()[:5], big[: m.numel()].reshape(8, -1).sum(axis=0)[:5], rtol=1e-6)
    # A view that fits one binding is bound as a window of the big buffer.
    np.testing.assert_allclose(x[-1000:].sum().item(), big[-1000:].sum(), rtol=1e-6)


def test_kernels_that_cannot_split_say_so(big, gpu_device):
    x = fg.tensor(big).to(gpu_device)
    with pytest.raises(MemoryError, match="storage binding"):
        fg.softmax(x, axis=0)


def test_tensors_beyond_the_largest_buffer_are_refused(gpu_device):
    n = buffer_limit(gpu_device) // 4 + 1
    with pytest.raises(MemoryError, match="largest buffer"):
        fg.empty(n, device=gpu_device)
