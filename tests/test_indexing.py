"""Basic and advanced indexing, reads and writes, against numpy."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import (
    arange_array,
    assert_equal,
    assert_same_layout,
    basic_index,
    index_dtype,
    int_result,
    shapes,
    to_np,
)
from hypothesis import given
from hypothesis import strategies as st

import ferrograd as fg


def make(shape, dtype=None, device="cpu"):
    """A tensor on ``device`` with distinct values (int64 by default, int32 on the GPU) and
    its values in numpy (a view of it on the CPU)."""
    dtype = dtype or index_dtype(device)
    t = fg.tensor(arange_array(shape, dtype), device=device)
    return t, (np.asarray(t) if device == "cpu" else to_np(t))


def idx_tensor(a, device):
    """An index (or mask) array as a tensor on ``device`` (int32 indices on the GPU)."""
    a = np.asarray(a)
    if a.dtype.kind in "iu":
        a = a.astype(index_dtype(device))
    return fg.tensor(a, device=device)


def np_result(a, idx):
    """numpy's result as an array (numpy returns scalars for full integer indexing)."""
    return np.asarray(a[idx])


# ---- basic indexing ---------------------------------------------------------------------


@given(shapes(0, 4).flatmap(lambda s: st.tuples(st.just(s), basic_index(s))))
def test_basic_index_is_view(device, case):
    shape, idx = case
    t, base = make(shape, device=device)
    v = t[idx]
    expected = base[idx]
    assert_equal(v, np.asarray(expected))
    assert v.shares_memory_with(t)
    if isinstance(expected, np.ndarray):
        assert_same_layout(v, expected)


@given(shapes(1, 4, 1), st.data())
def test_single_int_and_negative(device, shape, data):
    t, base = make(shape, device=device)
    i = data.draw(st.integers(-shape[0], shape[0] - 1))
    assert_equal(t[i], np_result(base, i))
    if len(shape) == 1:
        assert t[i].ndim == 0
        assert t[i].item() == base[i]


@given(shapes(1, 3, 0, 6), st.data())
def test_slices_any_step(device, shape, data):
    t, base = make(shape, device=device)
    n = shape[0]
    sl = slice(data.draw(st.none() | st.integers(-2 * n - 2, 2 * n + 2)),
               data.draw(st.none() | st.integers(-2 * n - 2, 2 * n + 2)),
               data.draw(st.none() | st.integers(-7, 7).filter(bool)))
    assert_equal(t[sl], base[sl])
    assert_same_layout(t[sl], base[sl])


def test_none_and_ellipsis(device):
    t, base = make((2, 3, 4), device=device)
    for idx in [None, (None, None), ..., (..., None), (None, ..., 1), (0, ..., None, 1),
                (..., 0), (Ellipsis, slice(None, None, -1), None), ()]:
        assert_equal(t[idx], np_result(base, idx))


def test_index_errors(device):
    t = fg.zeros(2, 3, device=device)
    for bad in (2, -3, (0, 3), (1, -4), (0, 0, 0), (..., 0, 0, 0), (0, ..., 0, ...)):
        with pytest.raises(IndexError):
            t[bad]
    for bad in (1.0, (0, 1.5), "a", slice(0.5, 2)):
        with pytest.raises(IndexError):
            t[bad]
    with pytest.raises(IndexError):
        fg.tensor(3, device=device)[0]
    with pytest.raises(IndexError):
        t[[0, 2]]
    with pytest.raises(IndexError):
        t[[-3]]
    with pytest.raises(IndexError):
        t[np.array([0.0, 1.0])]
    with pytest.raises(IndexError):
        t[np.array([True, False, True])]  # mask shape does not match
    with pytest.raises(IndexError):
        t[fg.tensor([True, False], device=device), fg.tensor([True], device=device)]


def test_empty_nested_list_index(device):
    """numpy reads ``[[]]`` as an empty integer index of shape (1, 0)."""
    a = int_result(device, np.arange(3))  # arange's default int: int32 on the GPU
    assert_equal(fg.arange(3, device=device)[[[]]], a[[[]]])
    assert_equal(fg.arange(3, device=device)[[[], []]], a[[[], []]])


def test_setitem_value_with_extra_leading_ones(device):
    """numpy (and PyTorch) drop leading size-1 dims of the value on assignment."""
    for shape, idx, vshape in [((3,), slice(None), (1, 3)), ((2, 3), 0, (1, 1, 3)),
                               ((2, 3), (slice(None), [0, 2]), (1, 2, 2)),
                               ((0,), slice(None), (1, 0))]:
        t, base = make(shape, device=device)
        expected = base.copy()
        value = np.arange(int(np.prod(vshape))).reshape(vshape) + 100
        expected[idx] = value
        t[idx] = value
        assert_equal(t, expected)
        t[idx] = fg.tensor(value.astype(index_dtype(device)), device=device)
        assert_equal(t, expected)


def test_slice_with_zero_step_raises(device):
    with pytest.raises(ValueError):
        fg.zeros(3, device=device)[::0]


# ---- advanced indexing ------------------------------------------------------------------


def index_kinds(values, device="cpu"):
    """The same integer index as a list, numpy array and ferrograd tensor (on the CPU, and
    on ``device``: a CPU index tensor may index a GPU tensor)."""
    arr = np.asarray(values, dtype=np.int64)
    kinds = [arr, arr.astype(np.int32), arr.astype(np.uint8), fg.tensor(arr)]
    if device != "cpu":
        kinds.append(idx_tensor(arr, device))
    if arr.size and arr.ndim:
        kinds.append(arr.tolist())  # an empty nested list has lost its shape
    return kinds


@st.composite
def int_index_array(draw, n, max_dims=2):
    shape = draw(shapes(0, max_dims, 0, 3))
    if n == 0:
        shape = tuple(0 for _ in shape) if shape else (0,)
        return np.zeros(shape, np.int64)
    return np.asarray(draw(st.lists(st.integers(-n, n - 1), min_size=int(np.prod(shape)),
                                     max_size=int(np.prod(shape)))), np.int64).reshape(shape)


@given(shapes(1, 4, 0, 4), st.data())
def test_int_array_one_axis(device, shape, data):
    t, base = make(shape, device=device)
    axis = data.draw(st.integers(0, len(shape) - 1))
    arr = data.draw(int_index_array(shape[axis]))
    idx = (slice(None),) * axis + (arr,)
    expected = base[idx]
    for kind in index_kinds(arr, device):
        if isinstance(kind, np.ndarray) and kind.dtype == np.uint8 and (arr < 0).any():
            continue
        got = t[(slice(None),) * axis + (kind,)]
        assert_equal(got, expected)
        if arr.ndim:  # an advanced index gathers into new memory (a 0-d one acts as an int)
            assert not got.shares_memory_with(t) or got.size == 0


@st.composite
def advanced_case(draw):
    """Several advanced indices (adjacent or separated by slices) plus basic items."""
    shape = draw(shapes(2, 4, 1, 4))
    bshape = draw(shapes(0, 2, 1, 3))
    items = []
    for n in shape:
        kind = draw(st.sampled_from(["adv", "slice", "int", "none"]))
        if kind == "adv":
            vals = draw(st.lists(st.integers(-n, n - 1), min_size=int(np.prod(bshape)),
                                 max_size=int(np.prod(bshape))))
            items.append(np.asarray(vals, np.int64).reshape(bshape))
        elif kind == "int":
            items.append(draw(st.integers(-n, n - 1)))
        elif kind == "none":
            items.append(None)
            items.append(draw(st.sampled_from([slice(None), slice(None, None, -1)])))
        else:
            items.append(draw(slices_for_adv(n)))
    if not any(isinstance(i, np.ndarray) for i in items):
        n = shape[0]
        first = next(k for k, i in enumerate(items) if i is not None)  # indexes dim 0
        items[first] = np.asarray([draw(st.integers(-n, n - 1))], np.int64)
    return shape, tuple(items)


@st.composite
def slices_for_adv(draw, n):
    return slice(draw(st.none() | st.integers(-n, n)), draw(st.none() | st.integers(-n, n)),
                 draw(st.sampled_from([None, 1, 2, -1, -2])))


def as_kind(idx, kind, device="cpu"):
    out = []
    for i in idx:
        if isinstance(i, np.ndarray):
            i = {"list": i.tolist(), "numpy": i, "tensor": idx_tensor(i, device)}[kind]
        out.append(i)
    return tuple(out)


@given(advanced_case(), st.sampled_from(["list", "numpy", "tensor"]))
def test_advanced_mixed(device, case, kind):
    """Covers numpy's rule: advanced indices separated by a slice put their dims first."""
    shape, idx = case
    t, base = make(shape, device=device)
    expected = np_result(base, idx)
    if kind == "list" and any(isinstance(i, np.ndarray) and i.ndim == 0 for i in idx):
        kind = "numpy"  # a 0-d list is an int, not an array
    assert_equal(t[as_kind(idx, kind, device)], expected)


def test_separated_advanced_indices_go_first(device):
    t, base = make((2, 3, 4, 5), device=device)
    i, j = [0, 1, 1], [4, 0, 2]
    for idx in [(i, slice(None), slice(None), j), (slice(None), [0, 2, 1], slice(1, 3), j),
                (0, slice(None), [1, 2], [3, 4]), (i, 0, slice(None), j),
                (slice(None), i, slice(None), j)]:
        got = t[idx]
        assert got.shape == np_result(base, idx).shape
        assert_equal(got, np_result(base, idx))


def test_adjacent_advanced_indices_stay_in_place(device):
    t, base = make((2, 3, 4, 5), device=device)
    idx = (slice(None), [0, 2], [1, 3], slice(None))
    assert t[idx].shape == (2, 2, 5)
    assert_equal(t[idx], base[idx])


def test_advanced_broadcasting_of_index_arrays(device):
    t, base = make((4, 5), device=device)
    rows = np.array([[0], [3]])
    cols = np.array([1, 2, 4])
    assert_equal(t[rows, cols], base[rows, cols])
    assert_equal(t[idx_tensor(rows, device), idx_tensor(cols, device)], base[rows, cols])
    with pytest.raises(IndexError):
        t[[0, 1], [0, 1, 2]]


# ---- boolean masks ----------------------------------------------------------------------


@st.composite
def mask_case(draw):
    shape = draw(shapes(1, 3, 0, 4))
    k = draw(st.integers(1, len(shape)))
    start = draw(st.integers(0, len(shape) - k))
    mshape = shape[start:start + k]
    bits = draw(st.lists(st.booleans(), min_size=int(np.prod(mshape)),
                         max_size=int(np.prod(mshape))))
    mask = np.asarray(bits, bool).reshape(mshape)
    return shape, start, mask


@given(mask_case(), st.sampled_from(["numpy", "tensor", "list"]))
def test_boolean_mask(device, case, kind):
    shape, start, mask = case
    t, base = make(shape, device=device)
    idx = (slice(None),) * start + (mask,)
    expected = base[idx]
    m = {"numpy": mask, "tensor": idx_tensor(mask, device), "list": mask.tolist()}[kind]
    if kind == "list" and mask.size == 0:
        m = idx_tensor(mask, device)  # [] would be an (empty) integer index
    got = t[(slice(None),) * start + (m,)]
    assert_equal(got, expected)


@given(shapes(0, 3, 0, 4), st.booleans())
def test_full_mask_and_scalar_bool(device, shape, flag):
    t, base = make(shape, device=device)
    mask = (base % 3) == 1
    assert_equal(t[mask], base[mask])
    assert_equal(t[idx_tensor(mask, device)], base[mask])
    assert_equal(t[flag], base[flag])
    assert_equal(t[True], base[True])
    assert_equal(t[False], base[False])
    assert_equal(t[..., True], base[..., True])


def test_mask_combined_with_ints(device):
    t, base = make((3, 4, 2), device=device)
    m = np.array([True, False, True, True])
    for idx in [(slice(None), m), (0, m), (m[:3], 1), (slice(None), m, 1), (m[:3], slice(None), [1, 0])]:
        assert_equal(t[idx], np_result(base, idx))


# ---- assignment -------------------------------------------------------------------------


def value_kinds(v, dtype, device="cpu"):
    """The same value as a numpy array, nested list, and tensor on ``device`` (plus a scalar
    if 0-d)."""
    v = np.asarray(v, dtype)
    kinds = [v, fg.tensor(v, device=device)]
    if v.size:
        kinds.append(v.tolist())  # an empty nested list loses its shape
    if v.ndim == 0:
        kinds.append(v.item())
    return kinds


@st.composite
def broadcastable_value(draw, target_shape, dtype=np.int64):
    """A value whose shape broadcasts to ``target_shape``."""
    k = draw(st.integers(0, len(target_shape)))
    vshape = tuple(1 if draw(st.booleans()) else n for n in target_shape[len(target_shape) - k:])
    n = int(np.prod(vshape))
    return np.asarray(draw(st.lists(st.integers(-100, 100), min_size=n, max_size=n)),
                      dtype).reshape(vshape)


@given(shapes(0, 4).flatmap(lambda s: st.tuples(st.just(s), basic_index(s))), st.data())
def test_setitem_basic(device, case, data):
    shape, idx = case
    target = np.asarray(arange_array(shape)[idx]).shape
    value = data.draw(broadcastable_value(target))
    for v in value_kinds(value, index_dtype(device), device):
        t, base = make(shape, device=device)
        expected = base.copy()
        expected[idx] = value
        t[idx] = v
        assert_equal(t, expected)


@given(advanced_case(), st.sampled_from(["list", "numpy", "tensor"]), st.data())
def test_setitem_advanced(device, case, kind, data):
    shape, idx = case
    if kind == "list" and any(isinstance(i, np.ndarray) and i.ndim == 0 for i in idx):
        kind = "numpy"
    target = np_result(arange_array(shape), idx).shape
    value = data.draw(broadcastable_value(target))
    # with repeated indices numpy keeps the last write; compare only when unambiguous
    pos = np_result(np.arange(int(np.prod(shape))).reshape(shape), idx)
    unique = len(np.unique(pos)) == pos.size
    for v in value_kinds(value, index_dtype(device), device):
        t, base = make(shape, device=device)
        expected = base.copy()
        expected[idx] = value
        t[as_kind(idx, kind)] = v
        if unique:
            assert_equal(t, expected)
        else:
            # every written element holds one of the values aimed at it
            got = np.asarray(t)
            vals = np.broadcast_to(value, target)
            for p in np.unique(pos):
                assert got.reshape(-1)[p] in vals[pos == p]


@given(mask_case(), st.data())
def test_setitem_mask(device, case, data):
    shape, start, mask = case
    idx = (slice(None),) * start + (mask,)
    target = arange_array(shape)[idx].shape
    value = data.draw(broadcastable_value(target))
    for v in value_kinds(value, index_dtype(device), device):
        for m in (mask, idx_tensor(mask, device)):
            t, base = make(shape, device=device)
            expected = base.copy()
            expected[idx] = value
            t[(slice(None),) * start + (m,)] = v
            assert_equal(t, expected)


@given(shapes(0, 3), st.integers(-5, 5))
def test_setitem_true_and_everything(device, shape, value):
    t, base = make(shape, device=device)
    expected = base.copy()
    expected[True] = value
    t[True] = value
    assert_equal(t, expected)
    t[...] = fg.tensor(value + 1, dtype=t.dtype, device=device)
    expected[...] = value + 1
    assert_equal(t, expected)


def test_setitem_casts_value_to_tensor_dtype(device):
    t = fg.zeros(4, dtype=fg.int32, device=device)
    t[1:3] = np.array([2.7, -1.2])
    expected = np.zeros(4, np.int32)
    expected[1:3] = np.array([2.7, -1.2])
    assert_equal(t, expected)
    f = fg.zeros(3, device=device)
    f[[0, 2]] = 5
    assert_equal(f, np.array([5, 0, 5], np.float32))
    b = fg.zeros(3, dtype=fg.bool, device=device)
    b[1] = 1
    assert b.tolist() == [False, True, False]


def test_setitem_shape_mismatch_and_errors(device):
    t = fg.zeros(3, 4, device=device)
    with pytest.raises(ValueError):
        t[0] = np.ones(3)
    with pytest.raises(ValueError):
        t[[0, 1]] = np.ones((3, 4))
    with pytest.raises(IndexError):
        t[3] = 1
    with pytest.raises(IndexError):
        t[0, 0, 0] = 1
    with pytest.raises(IndexError):
        t[[0, 5]] = 1
    with pytest.raises(IndexError):
        t[1.0] = 1


def test_setitem_overlapping_self(device):
    t, base = make((6,), device=device)
    expected = base.copy()
    expected[1:] = expected[:-1].copy()  # numpy handles the overlap
    t[1:] = t[:-1]
    assert_equal(t, expected)
    t2, base2 = make((3, 3), device=device)
    e2 = base2.copy()
    e2[...] = e2.T.copy()
    t2[...] = t2.T
    assert_equal(t2, e2)


def test_getitem_with_tensor_scalar_index(device):
    t, base = make((4, 3), device=device)
    assert_equal(t[idx_tensor(2, device)], base[2])
    assert_equal(t[idx_tensor(-1, device), 1], base[-1, 1])
    assert_equal(t[fg.tensor(2)], base[2])  # a CPU index tensor works for a GPU tensor too
    assert_equal(t[np.int64(1)], base[1])
    assert_equal(t[np.int32(1), np.int8(2)], base[1, 2])


@given(st.integers(1, 12), st.data())
def test_copy_between_overlapping_views(device, n, data):
    """``dst.copy_(src)`` on overlapping views of one buffer behaves as if src were copied
    first (numpy's assignment semantics)."""
    a = np.arange(n, dtype=index_dtype(device))
    t = fg.tensor(a, device=device)
    src_sl = data.draw(slices_for_adv(n))
    m = len(range(*src_sl.indices(n)))
    starts = [s for s in range(n) if len(range(s, n)) >= m]
    start = data.draw(st.sampled_from(starts))
    step = data.draw(st.sampled_from([1, -1])) if m > 1 else 1
    dst_sl = slice(start, start + m) if step == 1 else slice(start + m - 1, start - 1 if start else None, -1)
    expected = a.copy()
    expected[dst_sl] = expected[src_sl].copy()
    t[dst_sl].copy_(t[src_sl])
    assert_equal(t, expected)
    t2 = fg.tensor(a, device=device)
    t2[dst_sl] = t2[src_sl]
    assert_equal(t2, expected)
