"""Manipulation functions against numpy (and PyTorch's conventions where they differ)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import (
    NP_DTYPES,
    arange_array,
    assert_equal,
    dtypes_on,
    holds,
    index_dtype,
    int_result,
    nonempty_shapes,
    shapes,
    to_np,
)
from hypothesis import assume, given
from hypothesis import strategies as st

import ferrograd as fg


def make(shape, dtype=None, device="cpu"):
    """A tensor on ``device`` with distinct values (int64 by default, int32 on the GPU, which
    holds no 64-bit integers) and a numpy copy of it."""
    dtype = dtype or index_dtype(device)
    t = fg.tensor(arange_array(shape, dtype), device=device)
    return t, to_np(t).copy()


def promoted(a, b):
    """ferrograd's promotion: PyTorch's int-with-float rule, numpy's everywhere else."""
    a, b = np.dtype(a), np.dtype(b)
    if (a.kind == "f") != (b.kind == "f"):
        return a if a.kind == "f" else b
    return np.result_type(a, b)


# ---- concat / stack -----------------------------------------------------------------------


@st.composite
def concat_case(draw, device="cpu"):
    shape = draw(nonempty_shapes(1, 3, 4))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    k = draw(st.integers(1, 4))
    shapes_ = []
    for _ in range(k):
        s = list(shape)
        s[axis] = draw(st.integers(0, 3))
        shapes_.append(tuple(s))
    dtypes = [draw(st.sampled_from(dtypes_on(device, NP_DTYPES.values()))) for _ in range(k)]
    return shapes_, axis, dtypes


@given(st.data())
def test_concat(device, data):
    shapes_, axis, dtypes = data.draw(concat_case(device))
    arrays = [arange_array(s, d) for s, d in zip(shapes_, dtypes)]
    out = dtypes[0]
    for d in dtypes[1:]:
        out = promoted(out, d)
    expected = np.concatenate([a.astype(out) for a in arrays], axis=axis)
    tensors = [fg.tensor(a, device=device) for a in arrays]
    if not holds(device, out):
        # int32 with uint32 gives int64, which the GPU does not hold: refused, not narrowed
        with pytest.raises(TypeError, match="int64"):
            fg.concat(tensors, axis)
        return
    for got in (fg.concat(tensors, axis), fg.cat(tensors, axis), fg.cat(tensors, axis=axis),
                fg.concat(arrays, axis=axis)):
        assert_equal(got, expected)
    # views as inputs, and the result owns fresh memory
    got = fg.concat([t.flip() for t in tensors], axis)
    assert_equal(got, np.concatenate([np.flip(a).astype(out) for a in arrays], axis=axis))
    assert not any(got.shares_memory_with(t) for t in tensors)


def test_concat_promotion_examples(device):
    for i in (fg.tensor([1, 2], dtype=fg.int32, device=device),
              fg.tensor([True, True], device=device)):
        f = fg.tensor([0.5], device=device)
        assert fg.cat([i, f]).dtype == fg.float32
        assert fg.cat([i, f]).tolist() == [1.0, 1.0 + (i.dtype == fg.int32), 0.5]
    u = fg.tensor([7], dtype=fg.uint32, device=device)
    assert fg.cat([fg.tensor([True], device=device), u]).dtype == fg.uint32
    if device != "cpu":
        return
    # int64, int8, uint8, uint16, float16 and bfloat16: dtypes the GPU does not hold
    i = fg.tensor([1, 2])
    f = fg.tensor([0.5])
    assert fg.cat([i, f]).dtype == fg.float32
    assert fg.cat([i, f]).tolist() == [1.0, 2.0, 0.5]
    assert fg.cat([fg.tensor([1], dtype=fg.int8), fg.tensor([200], dtype=fg.uint8)]).dtype == fg.int16
    assert fg.cat([fg.tensor([True]), fg.tensor([3], dtype=fg.uint16)]).dtype == fg.uint16
    assert fg.cat([fg.tensor([1.0], dtype=fg.float16),
                   fg.tensor([2.0], dtype=fg.bfloat16)]).dtype == fg.float32


def test_concat_errors(device):
    with pytest.raises(ValueError):
        fg.cat([fg.zeros(2, 3, device=device), fg.zeros(3, 2, device=device)])
    with pytest.raises(ValueError):
        fg.cat([fg.zeros(2, 3, device=device), fg.zeros(2, device=device)])
    with pytest.raises(ValueError):
        fg.cat([])
    with pytest.raises(ValueError):
        fg.cat([fg.tensor(1, device=device), fg.tensor(2, device=device)])
    with pytest.raises(IndexError):
        fg.cat([fg.zeros(2, device=device), fg.zeros(2, device=device)], 1)


@given(shapes(0, 3), st.integers(1, 4), st.data())
def test_stack(device, shape, k, data):
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    arrays = [np.asarray(arange_array(shape, index_dtype(device)) + 100 * i) for i in range(k)]
    expected = np.stack(arrays, axis)
    assert_equal(fg.stack([fg.tensor(a, device=device) for a in arrays], axis), expected)
    assert_equal(fg.stack(arrays, axis=axis), expected)


def test_stack_numpy_scalars():
    values = [np.int64(0), np.int64(100), np.float64(2.5)]
    assert_equal(fg.stack(values[:2]), np.array([0, 100]))
    assert fg.stack(values).tolist() == [0.0, 100.0, 2.5]


def test_stack_errors(device):
    with pytest.raises(ValueError):
        fg.stack([fg.zeros(2, device=device), fg.zeros(3, device=device)])
    with pytest.raises(ValueError):
        fg.stack([])
    with pytest.raises(IndexError):
        fg.stack([fg.zeros(2, device=device)], 2)


# ---- split / chunk / unstack --------------------------------------------------------------


@given(shapes(1, 3, 0, 8), st.data())
def test_split_numpy_sections(device, shape, data):
    t, a = make(shape, device=device)
    axis = data.draw(st.integers(0, len(shape) - 1))
    n = shape[axis]
    divisors = [k for k in range(1, max(n, 1) + 1) if n % k == 0] or [1]
    k = data.draw(st.sampled_from(divisors))
    parts = fg.split(t, k, axis=axis)
    expected = np.split(a, k, axis=axis)
    assert len(parts) == len(expected)
    for p, e in zip(parts, expected):
        assert_equal(p, e)
        assert p.shares_memory_with(t)
    assert len(fg.split(t, k, axis)) == len(expected)


@given(shapes(1, 3, 0, 8), st.data())
def test_split_numpy_indices(device, shape, data):
    t, a = make(shape, device=device)
    axis = data.draw(st.integers(0, len(shape) - 1))
    n = shape[axis]
    points = data.draw(st.lists(st.integers(-n - 2, n + 2), max_size=4))
    expected = np.split(a, points, axis=axis)
    parts = fg.split(t, points, axis=axis)
    assert len(parts) == len(expected)
    for p, e in zip(parts, expected):
        assert_equal(p, e)


def test_split_numpy_unequal_raises(device):
    with pytest.raises(ValueError):
        fg.split(fg.arange(5, device=device), 2, axis=0)
    with pytest.raises(ValueError):
        fg.split(fg.arange(5, device=device), 0, axis=0)


def torch_split_sizes(n, size):
    return [min(size, n - i) for i in range(0, n, size)] or [0]


@given(shapes(1, 3, 0, 8), st.integers(1, 5), st.data())
def test_split_pytorch_chunk_size(device, shape, size, data):
    t, a = make(shape, device=device)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    sizes = torch_split_sizes(shape[dim], size)
    bounds = np.cumsum(sizes)[:-1]
    expected = np.split(a, bounds, axis=dim)
    for parts in (fg.split(t, size, dim=dim), t.split(size, dim), t.split(size, dim=dim)):
        assert [p.shape[dim] for p in parts] == sizes
        for p, e in zip(parts, expected):
            assert_equal(p, e)
            assert p.shares_memory_with(t)


@given(shapes(1, 3, 0, 8), st.data())
def test_split_pytorch_size_list(device, shape, data):
    t, a = make(shape, device=device)
    n = shape[0]
    cuts = sorted(data.draw(st.lists(st.integers(0, n), max_size=3)))
    sizes = list(np.diff([0, *cuts, n]))
    expected = np.split(a, cuts, axis=0)
    for parts in (t.split(sizes), fg.split(t, sizes, dim=0)):
        assert len(parts) == len(expected)
        for p, e in zip(parts, expected):
            assert_equal(p, e)
    with pytest.raises(ValueError):
        t.split([*sizes, 1])


@given(shapes(1, 3, 0, 9), st.integers(1, 6), st.data())
def test_chunk(device, shape, chunks, data):
    t, a = make(shape, device=device)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[dim]
    size = -(-n // chunks) if n else 1
    expected = np.split(a, np.cumsum(torch_split_sizes(n, size))[:-1], axis=dim)
    for parts in (t.chunk(chunks, dim), fg.chunk(t, chunks, dim)):
        assert len(parts) <= chunks
        assert len(parts) == len(expected)
        for p, e in zip(parts, expected):
            assert_equal(p, e)
    with pytest.raises(ValueError):
        t.chunk(0)


@given(shapes(1, 3, 0, 5), st.data())
def test_unstack_unbind(device, shape, data):
    t, a = make(shape, device=device)
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    expected = [np.take(a, i, axis=axis) for i in range(shape[axis])]
    for parts in (fg.unstack(t, axis=axis), fg.unbind(t, axis), t.unbind(axis),
                  fg.unstack(t, dim=axis)):
        assert len(parts) == len(expected)
        for p, e in zip(parts, expected):
            assert_equal(p, e)
            assert p.shares_memory_with(t)


@given(shapes(1, 3, 0, 7), st.integers(1, 5))
def test_array_split(device, shape, sections):
    t, a = make(shape, device=device)
    parts = fg.array_split(t, sections)
    expected = np.array_split(a, sections)
    assert len(parts) == len(expected)
    for p, e in zip(parts, expected):
        assert_equal(p, e)


# ---- tile / repeat ---------------------------------------------------------------------------


@given(shapes(0, 3, 0, 3), st.lists(st.integers(0, 3), max_size=4))
def test_tile(device, shape, reps):
    t, a = make(shape, device=device)
    expected = np.tile(a, reps)
    got = fg.tile(t, reps)
    assert_equal(got, expected)
    assert not got.shares_memory_with(t) or got.size == 0
    if reps:
        assert_equal(t.tile(*reps), expected)
        assert_equal(t.tile(reps), expected)


@given(shapes(0, 3, 0, 3), st.data())
def test_tensor_repeat_is_pytorch_tile(device, shape, data):
    t, a = make(shape, device=device)
    reps = data.draw(st.lists(st.integers(0, 3), min_size=len(shape), max_size=len(shape) + 2))
    assume(reps)
    expected = np.tile(a, reps)
    assert_equal(t.repeat(*reps), expected)
    assert_equal(t.repeat(reps), expected)
    if len(shape) >= 1:
        with pytest.raises(ValueError):
            t.repeat(*reps[: len(shape) - 1]) if len(shape) > 1 else t.repeat(())


@given(shapes(0, 3, 0, 4), st.integers(0, 3))
def test_numpy_repeat_scalar_count(device, shape, r):
    t, a = make(shape, device=device)
    assert_equal(fg.repeat(t, r), np.repeat(a, r))
    for axis in range(-len(shape), len(shape)):
        assert_equal(fg.repeat(t, r, axis=axis), np.repeat(a, r, axis=axis))
        assert_equal(fg.repeat(t, [r], axis=axis), np.repeat(a, [r], axis=axis))


@given(shapes(1, 3, 0, 4), st.data())
def test_numpy_repeat_per_element(device, shape, data):
    t, a = make(shape, device=device)
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    counts = data.draw(st.lists(st.integers(0, 3), min_size=shape[axis], max_size=shape[axis]))
    assert_equal(fg.repeat(t, counts, axis=axis), np.repeat(a, counts, axis=axis))
    flat = data.draw(st.lists(st.integers(0, 3), min_size=a.size, max_size=a.size))
    if a.size != 1:
        assert_equal(fg.repeat(t, flat), np.repeat(a, flat))


def test_numpy_repeat_errors(device):
    with pytest.raises(ValueError):
        fg.repeat(fg.arange(3, device=device), [1, 2], axis=0)
    with pytest.raises(ValueError):
        fg.repeat(fg.arange(3, device=device), -1)
    with pytest.raises(IndexError):
        fg.repeat(fg.arange(3, device=device), 2, axis=1)


# ---- roll -------------------------------------------------------------------------------------


@given(shapes(0, 3, 0, 5), st.integers(-12, 12))
def test_roll_flat(device, shape, shift):
    t, a = make(shape, device=device)
    assert_equal(fg.roll(t, shift), np.roll(a, shift))
    assert_equal(fg.roll(t.T, shift), np.roll(a.T, shift))


@given(shapes(1, 3, 0, 5), st.data())
def test_roll_axes(device, shape, data):
    t, a = make(shape, device=device)
    k = data.draw(st.integers(1, len(shape)))
    axes = data.draw(st.lists(st.integers(-len(shape), len(shape) - 1), min_size=k, max_size=k))
    shifts = data.draw(st.lists(st.integers(-9, 9), min_size=k, max_size=k))
    assert_equal(fg.roll(t, shifts, axes), np.roll(a, shifts, axes))
    assert_equal(fg.roll(t, tuple(shifts), axis=tuple(axes)), np.roll(a, shifts, axes))
    assert_equal(fg.roll(t, shifts[0], axes[0]), np.roll(a, shifts[0], axes[0]))
    assert_equal(fg.roll(t, shifts[0], axes), np.roll(a, shifts[0], axes))


def test_roll_errors(device):
    with pytest.raises(ValueError):
        fg.roll(fg.arange(4, device=device), [1, 2], [0])
    with pytest.raises(ValueError):
        fg.roll(fg.arange(4, device=device), [1, 2])
    with pytest.raises(IndexError):
        fg.roll(fg.arange(4, device=device), 1, 1)


# ---- moveaxis / flatten / unflatten -------------------------------------------------------


@given(nonempty_shapes(1, 4, 3), st.data())
def test_moveaxis_values(device, shape, data):
    t, a = make(shape, device=device)
    nd = len(shape)
    src = data.draw(st.integers(-nd, nd - 1))
    dst = data.draw(st.integers(-nd, nd - 1))
    assert_equal(fg.moveaxis(t, src, dst), np.moveaxis(a, src, dst))


def test_moveaxis_errors(device):
    t = fg.zeros(2, 3, device=device)
    with pytest.raises(IndexError):
        fg.moveaxis(t, 2, 0)
    with pytest.raises(ValueError):
        fg.moveaxis(t, [0, 0], [0, 1])
    with pytest.raises(ValueError):
        fg.moveaxis(t, [0], [0, 1])


@given(shapes(0, 4, 0, 3), st.data())
def test_flatten_unflatten_values(device, shape, data):
    t, a = make(shape, device=device)
    assert_equal(fg.flatten(t), a.reshape(-1))
    if shape:
        s = data.draw(st.integers(0, len(shape) - 1))
        e = data.draw(st.integers(s, len(shape) - 1))
        flat_shape = shape[:s] + (int(np.prod(shape[s:e + 1])),) + shape[e + 1:]
        f = fg.flatten(t, s, e)
        assert_equal(f, a.reshape(flat_shape))
        assert_equal(fg.unflatten(f, s, shape[s:e + 1]), a)


def test_flatten_errors(device):
    with pytest.raises(IndexError):
        fg.zeros(2, 3, device=device).flatten(0, 2)
    with pytest.raises((ValueError, IndexError)):
        fg.zeros(2, 3, device=device).flatten(1, 0)
    with pytest.raises(ValueError):
        fg.zeros(6, device=device).unflatten(0, (4, -1))
    assert fg.tensor(5, device=device).flatten().shape == (1,)


# ---- broadcasting helpers ---------------------------------------------------------------------


@st.composite
def broadcastable_shapes(draw):
    out = draw(shapes(0, 4, 0, 4))
    k = draw(st.integers(1, 4))
    result = []
    for _ in range(k):
        nd = draw(st.integers(0, len(out)))
        s = tuple(1 if draw(st.booleans()) else n for n in out[len(out) - nd:])
        result.append(s)
    return result


@given(broadcastable_shapes())
def test_broadcast_shapes_and_arrays(device, shape_list):
    assert fg.broadcast_shapes(*shape_list) == np.broadcast_shapes(*shape_list)
    arrays = [arange_array(s, index_dtype(device)) for s in shape_list]
    tensors = [fg.tensor(a, device=device) for a in arrays]
    expected = np.broadcast_arrays(*arrays)
    for got in (fg.broadcast_arrays(*tensors), fg.broadcast_tensors(*tensors),
                fg.broadcast_arrays(tensors)):
        assert len(got) == len(expected)
        for g, e, t in zip(got, expected, tensors):
            assert_equal(g, e)
            assert g.shares_memory_with(t)


def test_broadcast_shape_errors(device):
    with pytest.raises(ValueError):
        fg.broadcast_shapes((2, 3), (3, 2))
    with pytest.raises(ValueError):
        fg.broadcast_arrays(fg.zeros(2, device=device), fg.zeros(3, device=device))
    with pytest.raises(ValueError):
        fg.broadcast_shapes((-1,))
    assert fg.broadcast_shapes() == ()
    assert fg.broadcast_shapes(3, (2, 1)) == (2, 3)


@given(st.lists(st.integers(0, 4), min_size=0, max_size=4), st.sampled_from(["xy", "ij"]))
def test_meshgrid(device, sizes, indexing):
    arrays = [(np.arange(n) + 10 * i).astype(index_dtype(device)) for i, n in enumerate(sizes)]
    expected = np.meshgrid(*arrays, indexing=indexing)
    got = fg.meshgrid(*[fg.tensor(a, device=device) for a in arrays], indexing=indexing)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert_equal(g, e)
    if len(sizes) >= 1:
        got2 = fg.meshgrid([fg.tensor(a, device=device) for a in arrays], indexing=indexing)
        for g, e in zip(got2, expected):
            assert_equal(g, e)


def test_meshgrid_default_is_xy(device):
    x, y = fg.meshgrid(fg.arange(3, device=device), fg.arange(2, device=device))
    ex, ey = np.meshgrid(np.arange(3), np.arange(2))
    assert_equal(x, int_result(device, ex))  # arange's default int: int32 on the GPU
    assert_equal(y, int_result(device, ey))
    with pytest.raises(ValueError):
        fg.meshgrid(fg.arange(3, device=device), indexing="yx")


# ---- tril / triu ---------------------------------------------------------------------------


@given(shapes(2, 4, 0, 5), st.integers(-6, 6), st.data())
def test_tril_triu(device, shape, k, data):
    dtype = data.draw(st.sampled_from(dtypes_on(device, [np.int64, np.int32, np.float32,
                                                          np.bool_])))
    t, a = make(shape, dtype, device)
    assert_equal(fg.tril(t, k), np.tril(a, k))
    assert_equal(fg.triu(t, k), np.triu(a, k))
    assert_equal(fg.tril(t), np.tril(a))
    assert_equal(fg.triu(t.mT, k=k), np.triu(np.swapaxes(a, -1, -2), k))
    assert not fg.tril(t, k).shares_memory_with(t) or a.size == 0
    assert_equal(t, arange_array(shape, dtype))  # the input is untouched


def test_tril_needs_two_dims(device):
    with pytest.raises(ValueError):
        fg.tril(fg.arange(3, device=device))
    with pytest.raises(ValueError):
        fg.triu(fg.tensor(1, device=device))


# ---- nonzero --------------------------------------------------------------------------------


@given(shapes(1, 4, 0, 4), st.data())
def test_nonzero(device, shape, data):
    dtype = data.draw(st.sampled_from(dtypes_on(device, [np.int64, np.float32, np.bool_, np.uint8,
                                                          np.int32, np.uint32])))
    bits = data.draw(st.lists(st.integers(0, 2), min_size=int(np.prod(shape)),
                              max_size=int(np.prod(shape))))
    a = (np.asarray(bits).reshape(shape) * (np.arange(int(np.prod(shape))).reshape(shape) % 5)).astype(dtype)
    got = fg.nonzero(fg.tensor(a, device=device))
    expected = np.nonzero(a)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.dtype == (fg.int64 if device == "cpu" else fg.int32)
        np.testing.assert_array_equal(np.asarray(g), e)
    # the indices select exactly the non-zero elements
    t = fg.tensor(a, device=device)
    assert_equal(t[got], a[expected])
    assert_equal(fg.nonzero(t.T)[0], int_result(device, np.nonzero(a.T)[0]))


def test_nonzero_0d_raises(device):
    with pytest.raises(ValueError):
        fg.nonzero(fg.tensor(1, device=device))
