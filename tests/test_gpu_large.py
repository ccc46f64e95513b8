"""Tensors larger than the adapter's largest storage binding (128 MiB on lavapipe):
elementwise kernels, copies, casts, reductions, the optimizer step, indexing and
scatter-add bind windows of the big buffer; row kernels (softmax, arg-reductions,
running sums, sorting, cross-entropy) run on pieces cut along the axes they do not
mix; matmul runs in blocks of rows and columns; convolution, pooling, padding and
interpolation in pieces of whole images or planes, batch norm in pieces of whole
channels. What cannot be cut (a sort for unique)
refuse such tensors with a clear error instead of failing in the driver, as does a
single row longer than a binding. Tensors larger than the adapter's largest buffer are
refused at allocation."""

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


def as_matrix(big: np.ndarray, cols: int) -> np.ndarray:
    return big[: big.size // cols * cols].reshape(-1, cols)


def test_row_kernels_run_in_pieces(big, gpu_device):
    m = as_matrix(big, 1000) * 0.001 - 0.5
    m[3, 7] = 9.0
    g = fg.tensor(m).to(gpu_device)
    rows = slice(0, None, 4099)  # compare a sample of rows, across every piece
    sm = fg.softmax(g, axis=1).cpu().numpy()[rows]
    e = np.exp(m[rows] - m[rows].max(axis=1, keepdims=True))
    np.testing.assert_allclose(sm, e / e.sum(axis=1, keepdims=True), rtol=2e-5, atol=1e-7)
    np.testing.assert_array_equal(fg.argmax(g, axis=1).cpu().numpy(), m.argmax(axis=1))
    np.testing.assert_array_equal(fg.argmin(g.T, axis=0).cpu().numpy(), m.argmin(axis=1))
    cs = fg.cumsum(g, axis=1).cpu().numpy()[rows]
    np.testing.assert_allclose(cs, np.cumsum(m[rows], axis=1), rtol=1e-5, atol=1e-3)
    got = fg.sort(g[:, :512], axis=1).cpu().numpy()  # strided rows of a power-of-two length
    np.testing.assert_array_equal(got[rows], np.sort(m[rows, :512], axis=1))


def test_cross_entropy_and_its_gradient_run_in_pieces(big, gpu_device):
    m = as_matrix(big, 500) * 0.002
    target = (np.arange(m.shape[0]) * 7 % 500).astype(np.int32)
    x = fg.tensor(m).to(gpu_device)
    x.requires_grad = True
    loss = fg.nn.functional.cross_entropy(x, fg.tensor(target).to(gpu_device), reduction="sum")
    loss.backward()
    shifted = m - m.max(axis=1, keepdims=True)
    lse = np.log(np.exp(shifted.astype(np.float64)).sum(axis=1))
    want = (lse - shifted[np.arange(len(target)), target]).sum()
    np.testing.assert_allclose(loss.item(), want, rtol=1e-4)
    rows = slice(0, None, 3001)
    p = np.exp(shifted[rows] - lse[rows, None])
    p[np.arange(p.shape[0]), target[rows]] -= 1
    np.testing.assert_allclose(x.grad.cpu().numpy()[rows], p, rtol=1e-4, atol=1e-6)


def test_indexing_a_big_table_and_its_gradient(big, gpu_device):
    table = as_matrix(big, 256)
    ids = np.array([0, 5, table.shape[0] - 1, table.shape[0] // 2, 5], np.int32)
    w = fg.tensor(table).to(gpu_device)
    w.requires_grad = True
    rows = fg.nn.functional.embedding(fg.tensor(ids).to(gpu_device), w)
    np.testing.assert_array_equal(rows.cpu().numpy(), table[ids])
    (rows * 2.0).sum().backward()
    grad = w.grad
    for i, want in [(5, 4.0), (0, 2.0), (table.shape[0] - 1, 2.0), (1, 0.0)]:
        np.testing.assert_array_equal(grad[i].cpu().numpy(), np.full(256, want, np.float32))
    assert grad.sum().item() == 2.0 * 5 * 256
    with fg.no_grad():
        w[fg.tensor(ids[:3]).to(gpu_device)] = -1.0  # assignment through the windows
    np.testing.assert_array_equal(w[table.shape[0] - 1].detach().cpu().numpy(), np.full(256, -1, np.float32))
    np.testing.assert_array_equal(w[1].detach().cpu().numpy(), table[1])


def test_optimizer_steps_a_big_parameter(big, gpu_device):
    p = fg.tensor(big.copy()).to(gpu_device)
    p.requires_grad = True
    opt = fg.optim.Adam([p], lr=0.5)
    p.grad = fg.ones(big.size, device=gpu_device)
    opt.step()
    opt.step()
    got = p.detach()
    for i in [0, 1, big.size // 2, big.size - 1]:
        assert got[i].item() == pytest.approx(big[i] - 1.0, abs=1e-4), i


def test_kernels_that_cannot_split_say_so(big, gpu_device):
    x = fg.tensor(big).to(gpu_device)
    with pytest.raises(MemoryError, match="storage binding"):
        fg.softmax(x, axis=0)  # one row longer than a binding
    with pytest.raises(MemoryError, match="storage binding"):
        fg.nn.functional.avg_pool1d(x.reshape(1, 1, -1), 2)  # one plane longer than a binding


F = fg.nn.functional
IMAGE_OPS = {
    "conv2d": lambda x: F.conv2d(x, fg.tensor(np.linspace(-1, 1, 4 * 3 * 9, dtype=np.float32).reshape(4, 3, 3, 3))
                                 .to(x.device), padding=1),
    "max_pool2d": lambda x: F.max_pool2d(x, 3, stride=2),
    "avg_pool2d": lambda x: F.avg_pool2d(x, 2),
    "pad": lambda x: F.pad(x, (1, 2, 2, 1), mode="reflect"),
    "interpolate": lambda x: F.interpolate(x, scale_factor=0.5, mode="bilinear"),
    "batch_norm": lambda x: F.batch_norm(x, None, None, training=True),
}


@pytest.mark.parametrize("name", IMAGE_OPS)
def test_image_ops_and_their_gradients_run_in_pieces(big, gpu_device, name):
    if big.nbytes > 1 << 30:
        # Forward and backward hold about ten tensors of this size at once.
        pytest.skip(f"a tensor past this adapter's binding takes {big.nbytes >> 20} MiB; the image tests cap it at 1 GiB")
    images = big[: big.size // (3 * 48 * 48) * 3 * 48 * 48].reshape(-1, 3, 48, 48) * 0.001
    f = IMAGE_OPS[name]
    x = fg.tensor(images).to(gpu_device)
    x.requires_grad = True
    y = f(x)
    (y * y * y).sum().backward()  # not y * y: batch norm's gradient of that is 0
    # The CPU's results for a sample of images, one from each piece and the last.
    picks = list(range(0, images.shape[0], 379)) + [images.shape[0] - 1]
    if name == "batch_norm":  # statistics over the whole batch: compare everything
        picks = slice(None)
    xc = fg.tensor(images[picks])
    xc.requires_grad = True
    yc = f(xc)
    (yc * yc * yc).sum().backward()
    np.testing.assert_allclose(y.detach()[fg.tensor(np.arange(images.shape[0], dtype=np.int32)[picks]).to(gpu_device)].cpu().numpy(),
                               yc.detach().numpy(), rtol=2e-5, atol=2e-5)
    # Gradients sum float32 terms much larger than some results: error relative to the scale.
    want = xc.grad.numpy()
    np.testing.assert_allclose(x.grad[fg.tensor(np.arange(images.shape[0], dtype=np.int32)[picks]).to(gpu_device)].cpu().numpy(),
                               want, rtol=1e-4, atol=1e-5 * np.abs(want).max())


def test_matmul_runs_in_blocks(big, gpu_device):
    a = as_matrix(big, 64) * 0.001
    w = np.linspace(-1, 1, 64 * 3, dtype=np.float32).reshape(64, 3)
    got = (fg.tensor(a).to(gpu_device) @ fg.tensor(w).to(gpu_device)).cpu().numpy()
    np.testing.assert_allclose(got, a @ w, rtol=1e-4, atol=1e-4)
    # The big operand on the right, through a transposed view, in a batch of two.
    left = np.stack([w.T, -w.T])
    got = (fg.tensor(left).to(gpu_device) @ fg.tensor(a).to(gpu_device).T).cpu().numpy()
    cols = slice(0, None, 997)
    np.testing.assert_allclose(got[:, :, cols], (left @ a.T)[:, :, cols], rtol=1e-4, atol=1e-4)


def test_tensors_beyond_the_largest_buffer_are_refused(gpu_device):
    n = buffer_limit(gpu_device) // 4 + 1
    with pytest.raises(MemoryError, match="largest buffer"):
        fg.empty(n, device=gpu_device)


def test_a_tensor_over_2_31_bytes(gpu_device):
    """Byte offsets past 2^31 (and element offsets near 2^29) through windows, views and
    reductions: u32 index arithmetic must not overflow. Needs an adapter whose largest
    buffer holds it (lavapipe's holds 2^31 - 1 bytes)."""
    n = (1 << 29) + (1 << 20) + 5  # float32: 2 GiB + 4 MiB + 20 bytes
    if n * 4 > buffer_limit(gpu_device):
        pytest.skip(f"this adapter's largest buffer holds {buffer_limit(gpu_device)} bytes, less than {n * 4}")
    host = (np.arange(n, dtype=np.int64) % 1009).astype(np.float32)
    x = fg.tensor(host).to(gpu_device)
    np.testing.assert_array_equal(x[-7:].cpu().numpy(), host[-7:])
    y = x * 2.0 - 1.0
    np.testing.assert_array_equal(y[n - 3:].cpu().numpy(), host[n - 3:] * 2 - 1)
    np.testing.assert_array_equal(y[::1 << 26].cpu().numpy(), host[::1 << 26] * 2 - 1)
    assert x.max().item() == 1008.0
    np.testing.assert_allclose(x.sum().item(), host.astype(np.float64).sum(), rtol=1e-5)
    m = x[: n - 5].reshape(-1, 1 << 10)
    np.testing.assert_array_equal(fg.argmax(m[-3:], axis=1).cpu().numpy(), host[: n - 5].reshape(-1, 1 << 10)[-3:].argmax(axis=1))
    del y
    x[n - 2:] = 5.0
    assert x[n - 1].item() == 5.0 and x[n - 3].item() == host[n - 3]
