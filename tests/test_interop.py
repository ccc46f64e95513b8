"""numpy, DLPack and (optionally) PyTorch interoperability: zero-copy, lifetimes, layouts."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
from conftest import (
    NP_DTYPES,
    arange_array,
    assert_equal,
    assert_runs_cleanly,
    assert_same_layout,
    element_strides,
    np_dtypes,
    shapes,
)
from hypothesis import given
from hypothesis import strategies as st

import ferrograd as fg


@st.composite
def strided_numpy(draw, dtype=None):
    """A numpy view with arbitrary (negative, non-contiguous, transposed) strides."""
    shape = draw(shapes(1, 3, 1, 6))
    dtype = dtype or draw(np_dtypes)
    a = arange_array(shape, dtype)
    idx = tuple(slice(None, None, draw(st.sampled_from([1, 2, -1, -2]))) for _ in shape)
    v = a[idx]
    perm = draw(st.permutations(range(v.ndim)))
    return a, v.transpose(perm), idx, perm


# ---- from_numpy --------------------------------------------------------------------------


@given(shapes(0, 3), np_dtypes)
def test_from_numpy_shares_memory_both_ways(shape, dtype):
    a = arange_array(shape, dtype)
    t = fg.from_numpy(a)
    assert t.dtype == getattr(fg, np.dtype(dtype).name)
    assert_equal(t, a)
    if a.size == 0:
        return
    assert np.shares_memory(np.asarray(t), a)
    first = (0,) * len(shape)
    one = np.ones((), dtype)
    t[first] = one
    assert a[first] == one  # tensor write visible in numpy
    a[first] = 0
    assert t[first].item() == 0  # numpy write visible in the tensor


def test_from_numpy_keeps_array_alive():
    a = np.arange(1000, dtype=np.float64) * 2
    ref = weakref.ref(a) if hasattr(a, "__weakref__") else None
    t = fg.from_numpy(a)
    del a
    gc.collect()
    assert_equal(t, np.arange(1000, dtype=np.float64) * 2)
    if ref is not None:
        assert ref() is not None  # the tensor keeps the array alive
    del t
    gc.collect()
    if ref is not None:
        assert ref() is None  # ... and releases it afterwards


def test_views_of_from_numpy_keep_array_alive():
    v = fg.from_numpy(np.arange(24, dtype=np.int32).reshape(2, 3, 4)).T[1:]
    gc.collect()
    assert_equal(v, np.arange(24, dtype=np.int32).reshape(2, 3, 4).T[1:])


@given(strided_numpy())
def test_from_numpy_strided_views(case):
    base, v, idx, perm = case
    t = fg.from_numpy(v)
    assert_equal(t, v)
    assert np.shares_memory(np.asarray(t), base)
    assert_same_layout(t, v)
    assert t.strides == element_strides(v) or any(n == 1 for n in v.shape)
    assert t.is_contiguous() == v.flags.c_contiguous or v.size <= 1 or 1 in v.shape
    # writes through the tensor land in the numpy base, exactly where numpy's would
    expected = base.copy()
    expected[idx].transpose(perm)[...] = 1
    t.fill_(1)
    np.testing.assert_array_equal(base, expected)
    v[...] = 0  # and numpy writes are visible
    assert_equal(t, np.zeros_like(v))


def test_from_numpy_scalar_and_0d():
    a = np.array(5, np.int16)
    t = fg.from_numpy(a)
    assert t.shape == () and t.item() == 5
    t.fill_(6)
    assert a[()] == 6


def test_from_numpy_rejects_non_arrays():
    with pytest.raises(TypeError):
        fg.from_numpy([1, 2, 3])
    with pytest.raises(TypeError):
        fg.from_numpy(np.array(["a"]))
    with pytest.raises(TypeError):
        fg.from_numpy(np.array([1j]))


def test_misaligned_numpy_array_is_copied():
    # run in a subprocess: this used to recurse without end and crash the interpreter
    assert_runs_cleanly("""
        import numpy as np, ferrograd as fg
        raw = np.zeros(33, np.uint8)
        mis = raw[1:].view(np.int32)  # misaligned int32 data
        mis[...] = np.arange(8, dtype=np.int32)
        for make in (fg.asarray, fg.from_numpy, fg.tensor):
            t = make(mis)
            assert t.dtype == fg.int32
            np.testing.assert_array_equal(np.asarray(t), np.arange(8, dtype=np.int32))
    """)


def test_odd_byte_strides_are_copied():
    rec = np.zeros(4, dtype=[("a", np.int32), ("b", np.int16)])["a"]  # stride 6: not a multiple
    rec[...] = [1, 2, 3, 4]
    assert_equal(fg.asarray(rec), np.array([1, 2, 3, 4], np.int32))


@given(shapes(0, 3), np_dtypes)
def test_readonly_numpy_gives_readonly_tensor(shape, dtype):
    a = arange_array(shape, dtype)
    a.flags.writeable = False
    t = fg.from_numpy(a)
    assert_equal(t, a)
    if a.size == 0:
        return
    assert t.is_readonly
    with pytest.raises(RuntimeError):
        t.fill_(1)
    with pytest.raises(RuntimeError):
        t[...] = 0
    with pytest.raises(RuntimeError):
        t.zero_()
    with pytest.raises(RuntimeError):
        t.T.copy_(fg.zeros(1, dtype=t.dtype))
    with pytest.raises(RuntimeError):
        t.reshape(-1)[[0]] = 1
    assert_equal(t, arange_array(shape, dtype))  # nothing was written
    c = t.clone()
    assert not c.is_readonly
    c.fill_(1)
    # np.asarray of a read-only tensor is read-only too
    assert not np.asarray(t).flags.writeable


def test_broadcast_numpy_view_is_readonly():
    a = np.broadcast_to(np.arange(3), (4, 3))  # numpy marks broadcast views read-only
    t = fg.asarray(a)
    assert_equal(t, a)
    assert t.strides == (0, 1)
    with pytest.raises(RuntimeError):
        t.fill_(0)


# ---- numpy() / np.asarray -----------------------------------------------------------------


@given(shapes(0, 4), st.sampled_from(list(NP_DTYPES)), st.data())
def test_numpy_shares_memory_and_strides(shape, name, data):
    t = fg.tensor(arange_array(shape, NP_DTYPES[name]))
    perm = data.draw(st.permutations(range(len(shape))))
    v = t.permute(perm)[tuple(slice(None, None, -1) for _ in shape)]
    for arr in (v.numpy(), np.asarray(v), np.array(v, copy=False)):
        assert arr.dtype == NP_DTYPES[name]
        assert arr.shape == v.shape
        assert element_strides(arr) == v.strides or arr.size == 0 or 1 in arr.shape
        assert_same_layout(v, arr)
        if arr.size:
            assert np.shares_memory(arr, np.asarray(t))
    forced = v.numpy(force=True)
    assert not np.shares_memory(forced, np.asarray(t)) or forced.size == 0
    np.testing.assert_array_equal(forced, np.asarray(v))
    np.testing.assert_array_equal(np.array(v), np.asarray(v))
    assert not np.shares_memory(np.array(v), np.asarray(t))


def test_numpy_write_visible_in_tensor():
    t = fg.zeros(2, 3)
    a = t.numpy()
    a[1, 2] = 5
    assert t[1, 2].item() == 5
    t[0, 0] = 7
    assert a[0, 0] == 7


def test_numpy_keeps_tensor_memory_alive():
    a = fg.arange(100).reshape(10, 10).T.numpy()
    gc.collect()
    np.testing.assert_array_equal(a, np.arange(100).reshape(10, 10).T)


def test_array_protocol_dtype_argument():
    t = fg.arange(4)
    a = np.asarray(t, dtype=np.float32)
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a, np.arange(4, dtype=np.float32))


def test_bfloat16_has_no_numpy_dtype():
    t = fg.ones(2, dtype=fg.bfloat16)
    with pytest.raises(TypeError):
        t.numpy()
    np.testing.assert_array_equal(t.float().numpy(), np.ones(2, np.float32))


# ---- DLPack -------------------------------------------------------------------------------


@given(shapes(0, 3), np_dtypes, st.data())
def test_dlpack_tensor_to_numpy(shape, dtype, data):
    t = fg.tensor(arange_array(shape, dtype))
    perm = data.draw(st.permutations(range(len(shape))))
    v = t.permute(perm)[tuple(slice(None, None, -1) for _ in shape)]
    a = np.from_dlpack(v)
    assert a.dtype == dtype and a.shape == v.shape
    np.testing.assert_array_equal(a, np.asarray(v))
    assert_same_layout(v, a)
    if a.size:
        assert np.shares_memory(a, np.asarray(t))
    assert v.__dlpack_device__() == (1, 0)


@given(strided_numpy())
def test_dlpack_numpy_to_tensor(case):
    base, v, _, _ = case
    t = fg.from_dlpack(v)
    assert t.dtype == getattr(fg, v.dtype.name)
    assert_equal(t, v)
    assert_same_layout(t, v)
    assert np.shares_memory(np.asarray(t), base)
    t.fill_(1)
    assert (v == 1).all()


@given(shapes(0, 3), np_dtypes)
def test_dlpack_round_trips(shape, dtype):
    a = arange_array(shape, dtype)
    t = fg.from_dlpack(a)
    back = np.from_dlpack(t)
    np.testing.assert_array_equal(back, a)
    assert back.dtype == a.dtype
    if a.size:
        assert np.shares_memory(back, a)
    t2 = fg.from_dlpack(fg.from_dlpack(a))  # tensor -> tensor
    assert_equal(t2, a)
    if a.size:
        assert t2.shares_memory_with(t) or np.shares_memory(np.asarray(t2), a)


def test_dlpack_bfloat16_between_tensors():
    t = fg.tensor([1.0, 2.5], dtype=fg.bfloat16)
    u = fg.from_dlpack(t)
    assert u.dtype == fg.bfloat16
    assert u.float().tolist() == [1.0, 2.5]


def test_dlpack_keeps_producer_alive():
    t = fg.arange(50).reshape(5, 10)[:, ::3]
    a = np.from_dlpack(t)
    del t
    gc.collect()
    np.testing.assert_array_equal(a, np.arange(50).reshape(5, 10)[:, ::3])
    b = np.arange(20.0)
    u = fg.from_dlpack(b)
    del b
    gc.collect()
    assert_equal(u, np.arange(20.0))


def test_dlpack_copy_and_device_arguments():
    t = fg.arange(6)
    a = np.from_dlpack(t, copy=True)
    assert not np.shares_memory(a, np.asarray(t))
    np.testing.assert_array_equal(a, np.arange(6))
    with pytest.raises(BufferError):
        t.__dlpack__(dl_device=(2, 0))
    with pytest.raises(TypeError):
        fg.from_dlpack([1, 2, 3])


def test_dlpack_capsule_used_once():
    t = fg.arange(3)
    cap = t.__dlpack__()

    class Holder:
        def __dlpack__(self, **kwargs):
            return cap

        def __dlpack_device__(self):
            return (1, 0)

    assert fg.from_dlpack(Holder()).tolist() == [0, 1, 2]
    with pytest.raises((ValueError, RuntimeError)):
        fg.from_dlpack(Holder())


def test_readonly_numpy_through_dlpack():
    a = np.arange(4)
    a.flags.writeable = False
    try:
        t = fg.from_dlpack(a)
    except BufferError:
        return  # numpy refuses to export read-only arrays through legacy DLPack
    assert_equal(t, a)
    with pytest.raises(RuntimeError):
        t.fill_(0)


# ---- PyTorch ------------------------------------------------------------------------------


def test_torch_interop():
    torch = pytest.importorskip("torch")
    x = torch.arange(12, dtype=torch.float32).reshape(3, 4).t()
    t = fg.from_dlpack(x)
    assert t.shape == tuple(x.shape) and t.strides == tuple(x.stride())
    np.testing.assert_array_equal(np.asarray(t), x.numpy())
    t.fill_(2)
    assert bool((x == 2).all())
    y = torch.from_dlpack(fg.arange(6, dtype=fg.int32).reshape(2, 3)[:, ::2])
    assert y.dtype == torch.int32 and y.tolist() == [[0, 2], [3, 5]]
    b = torch.tensor([1.5, -2.0], dtype=torch.bfloat16)
    assert fg.from_dlpack(b).float().tolist() == [1.5, -2.0]
    assert fg.tensor([1.0], dtype=torch.float64).dtype == fg.float64
