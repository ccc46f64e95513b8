"""GPU sort-type kernels against numpy and the CPU: sort/argsort (stable, descending,
NaN placement), topk, searchsorted and unique, on contiguous and strided views along
every axis, short and long rows (the in-workgroup and the global bitonic stages), and
the gradients of sort/topk (which must stay on the GPU)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import gpu
from conftest import gpu_host as host
from conftest import gpu_views as views

import ferrograd as fg

RNG = np.random.default_rng(7)








def check_sort(a: np.ndarray, g: fg.Tensor, axis: int, descending: bool):
    """GPU sort/argsort of the view `g` against the CPU op on the same values, and
    against numpy's stable argsort when ascending."""
    want_v, want_i = fg.from_numpy(np.ascontiguousarray(a)).sort(axis, descending)
    if not descending:
        np.testing.assert_array_equal(want_i.numpy(), np.argsort(a, axis=axis, kind="stable"))
    v, i = fg.sort(g, axis=axis, descending=descending), fg.argsort(g, axis=axis, descending=descending)
    assert v.dtype == g.dtype and i.dtype == fg.int32
    np.testing.assert_array_equal(host(v), want_v.numpy())
    np.testing.assert_array_equal(host(i), want_i.numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.uint32])
@pytest.mark.parametrize("descending", [False, True])
def test_sort_views_every_axis(gpu_device, dtype, descending):
    # Few distinct values: many ties, so stability is exercised.
    a = RNG.integers(0, 20, size=(12, 37)).astype(dtype)
    for _, view, g in views(a):
        for axis in range(-2, 2):
            check_sort(view, g, axis, descending)


@pytest.mark.parametrize("n", [1, 2, 3, 100, 1000, 1024, 1025, 3000, 5000, 70000])
@pytest.mark.parametrize("descending", [False, True])
def test_sort_row_lengths(gpu_device, n, descending):
    a = RNG.standard_normal((3, n)).astype(np.float32)
    a[:, ::7] = a[:, :1]  # ties
    check_sort(a, gpu(a), -1, descending)


def test_sort_long_strided_column(gpu_device):
    a = RNG.integers(-50, 50, size=(6000, 3)).astype(np.int32)
    g = gpu(a)
    for descending in (False, True):
        check_sort(a, g, 0, descending)
        check_sort(a[::-2], g.flip((0,))[::2], 0, descending)


def test_sort_nan_inf_and_signed_zero(gpu_device):
    nan, inf = np.float32("nan"), np.float32("inf")
    row = np.array([1.0, nan, -inf, 0.0, -0.0, inf, nan, -1.0, 0.0, 3.5, -0.0], dtype=np.float32)
    a = np.stack([row, row[::-1], np.roll(row, 3)])
    for descending in (False, True):
        v_cpu, i_cpu = fg.sort(fg.from_numpy(a), descending=descending), fg.argsort(fg.from_numpy(a), descending=descending)
        g = gpu(a)
        v, i = fg.sort(g, descending=descending), fg.argsort(g, descending=descending)
        np.testing.assert_array_equal(host(i), i_cpu.numpy())
        # Bit-exact values: the GPU returns source elements (signed zeros kept).
        np.testing.assert_array_equal(host(v).view(np.uint32), v_cpu.numpy().view(np.uint32))


def test_sort_matches_cpu_bool_and_scalar(gpu_device):
    a = RNG.integers(0, 2, size=(5, 33)).astype(bool)
    for descending in (False, True):
        want_v, want_i = fg.from_numpy(a).sort(-1, descending)
        v, i = gpu(a).sort(-1, descending)
        np.testing.assert_array_equal(host(v), want_v.numpy())
        np.testing.assert_array_equal(host(i), want_i.numpy())
    s = fg.tensor(3.0).to("gpu")
    assert host(fg.sort(s)).tolist() == 3.0
    e = gpu(np.zeros((0, 4), np.float32))
    assert fg.sort(e, axis=0).shape == (0, 4)


@pytest.mark.parametrize("largest", [True, False])
def test_topk(gpu_device, largest):
    a = RNG.integers(0, 30, size=(4, 2000)).astype(np.float32)
    for axis, k in ((-1, 5), (0, 3), (-1, 2000)):
        want = fg.topk(fg.from_numpy(a), k, dim=axis, largest=largest)
        got = fg.topk(gpu(a), k, dim=axis, largest=largest)
        np.testing.assert_array_equal(host(got.values), want.values.numpy())
        np.testing.assert_array_equal(host(got.indices), want.indices.numpy())


def test_sort_and_topk_gradients_stay_on_the_gpu(gpu_device):
    a = RNG.standard_normal((5, 40)).astype(np.float32)
    w = RNG.standard_normal((5, 40)).astype(np.float32)
    wk = RNG.standard_normal((5, 7)).astype(np.float32)
    grads = []
    for dev in ("cpu", "gpu"):
        x = fg.from_numpy(a).to(dev).detach().requires_grad_()
        v, _ = x.sort(-1, True)
        t = fg.topk(x.T, 7, dim=0, largest=False).values.T
        ((v * fg.from_numpy(w).to(dev)).sum() + (t * fg.from_numpy(wk).to(dev)).sum()).backward()
        assert x.grad.device.type == dev
        grads.append(x.grad.cpu().numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-6, atol=1e-6)


# ---- searchsorted ----------------------------------------------------------------------


@pytest.mark.parametrize("side", ["left", "right"])
def test_searchsorted(gpu_device, side):
    seq = np.sort(RNG.integers(0, 40, size=300)).astype(np.float32)
    seq[-5:] = np.nan  # NaN sorts last and equals NaN
    values = np.concatenate([RNG.integers(-5, 45, size=(50,)).astype(np.float32), [np.nan, -0.0, 0.0]]).astype(np.float32)
    values = values.reshape(53, 1)
    want = fg.searchsorted(fg.from_numpy(seq), fg.from_numpy(values), side=side).numpy()
    np.testing.assert_array_equal(want, np.searchsorted(seq, values, side=side))
    got = fg.searchsorted(fg.from_numpy(seq).to("gpu"), fg.from_numpy(values).to("gpu"), side=side)
    assert got.dtype == fg.int32 and got.shape == (53, 1)
    np.testing.assert_array_equal(host(got), want)
    # Strided operands and integer dtypes.
    iseq = np.arange(0, 200, 3, dtype=np.int32)
    ivals = RNG.integers(-10, 210, size=(6, 40)).astype(np.int32)
    g = fg.from_numpy(ivals).to("gpu")
    got = fg.searchsorted(fg.from_numpy(iseq).to("gpu")[::2], g.T, side=side)
    np.testing.assert_array_equal(host(got), np.searchsorted(iseq[::2], ivals.T, side=side))


def test_searchsorted_empty_sequence(gpu_device):
    got = fg.searchsorted(fg.from_numpy(np.zeros(0, np.float32)).to("gpu"), fg.ones(3, device="gpu"))
    np.testing.assert_array_equal(host(got), [0, 0, 0])


# ---- unique ----------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 17, 1500, 9000])
def test_unique(gpu_device, n):
    a = RNG.integers(-20, 20, size=n).astype(np.float32)
    a[::11] = np.nan
    a[::13] = -0.0
    a = a.reshape(-1, 1) if n % 2 else a
    want = fg.unique_all(fg.from_numpy(a))
    got = fg.unique_all(fg.from_numpy(a).to("gpu"))
    np.testing.assert_array_equal(host(got.values), want.values.numpy())
    np.testing.assert_array_equal(host(got.counts), want.counts.numpy())
    np.testing.assert_array_equal(host(got.inverse_indices), want.inverse_indices.numpy())
    np.testing.assert_array_equal(host(got.indices), want.indices.numpy())


@pytest.mark.parametrize("dtype", [np.int32, np.uint32, np.bool_])
def test_unique_integer_dtypes(gpu_device, dtype):
    a = RNG.integers(0, 7, size=(30, 9)).astype(dtype)
    g = fg.from_numpy(a).to("gpu").T
    want = fg.unique_counts(fg.from_numpy(np.ascontiguousarray(a.T)))
    got = fg.unique_counts(g)
    np.testing.assert_array_equal(host(got.values), want.values.numpy())
    np.testing.assert_array_equal(host(got.counts), want.counts.numpy())
    inv = fg.unique_inverse(g).inverse_indices
    np.testing.assert_array_equal(host(inv), fg.unique_inverse(fg.from_numpy(np.ascontiguousarray(a.T))).inverse_indices.numpy())


def test_unique_empty(gpu_device):
    got = fg.unique_counts(fg.from_numpy(np.zeros((0, 3), np.float32)).to("gpu"))
    assert got.values.shape == (0,) and got.counts.shape == (0,)
