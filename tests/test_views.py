"""Every view operation against numpy: values, shared memory and strides."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import (
    arange_array,
    assert_equal,
    assert_same_layout,
    dtypes_on,
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
    """A fresh tensor on ``device`` (int64 values by default, int32 on the GPU) and the
    numpy array viewing its memory (on the GPU: a copy of it, which numpy's views of then
    stand for the GPU tensor's views)."""
    dtype = dtype or index_dtype(device)
    t = fg.tensor(arange_array(shape, dtype), device=device)
    if device != "cpu":
        return t, to_np(t)
    base = np.asarray(t)
    assert base.size == 0 or np.shares_memory(base, np.asarray(t))
    return t, base


def check_view(view, base_t, expected_np, base_np):
    """``view`` equals numpy's view, shares the base's memory and has its strides."""
    assert_equal(view, expected_np)
    assert view.device == base_t.device
    assert np.shares_memory(expected_np, base_np) or expected_np.size == 0
    assert view.shares_memory_with(base_t)
    if expected_np.size and view.device.type == "cpu":
        assert np.shares_memory(np.asarray(view), np.asarray(base_t))
    assert_same_layout(view, expected_np)


def is_c_contiguous(t):
    return np.asarray(t).flags.c_contiguous


# ---- reshape / view ------------------------------------------------------------------


@st.composite
def reshape_case(draw):
    shape = draw(shapes(0, 4, 0, 4))
    n = int(np.prod(shape))
    # a target shape with the same element count, maybe with one -1
    factors = []
    rest = n
    for _ in range(draw(st.integers(0, 3))):
        divs = [d for d in range(1, rest + 1) if rest % d == 0] if rest else [0, 1, 2]
        d = draw(st.sampled_from(divs))
        factors.append(d)
        rest = rest // d if d else rest
    factors.append(rest if all(factors) else 0)
    if n == 0 and int(np.prod(factors)) != 0:
        factors.append(0)
    if n and draw(st.booleans()):
        factors[draw(st.integers(0, len(factors) - 1))] = -1
    perm = draw(st.permutations(range(len(shape))))
    return shape, tuple(factors), perm


@given(reshape_case())
def test_reshape_and_view_contiguous(device, case):
    shape, target, _ = case
    t, base = make(shape, device=device)
    expected = base.reshape(target)
    for v in (t.reshape(target), t.reshape(*target), t.view(target), fg.reshape(t, target)):
        check_view(v, t, expected, base)


@given(reshape_case())
def test_reshape_of_permuted(device, case):
    shape, target, perm = case
    t, base = make(shape, device=device)
    tp, bp = t.permute(perm), base.transpose(perm)
    expected = bp.reshape(target)
    r = tp.reshape(target)
    assert_equal(r, expected)
    # numpy copies exactly when no view is possible; so must ferrograd
    assert r.shares_memory_with(t) == np.shares_memory(expected, base) or expected.size == 0
    if np.shares_memory(expected, base):
        assert_same_layout(r, expected)
        check_view(tp.view(target), t, expected, base)
    elif expected.size:
        with pytest.raises(RuntimeError):
            tp.view(target)
        assert r.is_contiguous()


def test_view_raises_on_incompatible_strides(device):
    t = fg.arange(6, device=device).reshape(2, 3)
    with pytest.raises(RuntimeError):
        t.T.view(6)
    r = t.T.reshape(6)
    assert_equal(r, int_result(device, np.arange(6).reshape(2, 3).T.reshape(6)))
    assert not r.shares_memory_with(t)


def test_reshape_copy_flags(device):
    t = fg.arange(6, device=device)
    c = fg.reshape(t, (2, 3), copy=True)
    assert not c.shares_memory_with(t)
    v = fg.reshape(t, (3, 2), copy=False)
    assert v.shares_memory_with(t)
    with pytest.raises(RuntimeError):
        fg.reshape(t.reshape(2, 3).T, (6,), copy=False)


def test_reshape_bad_shapes(device):
    t = fg.arange(6, device=device)
    with pytest.raises(ValueError):
        t.reshape(4, 2)
    with pytest.raises(ValueError):
        t.reshape(-1, -1)
    with pytest.raises(ValueError):
        t.reshape(-2, 3)


# ---- permute / transpose --------------------------------------------------------------


@given(shapes(0, 5).flatmap(lambda s: st.tuples(st.just(s), st.permutations(range(len(s))))))
def test_permute(device, case):
    shape, perm = case
    t, base = make(shape, device=device)
    expected = base.transpose(perm)
    neg = tuple(p - len(shape) for p in perm)
    for v in (t.permute(perm), t.permute(*perm), t.permute(neg), fg.permute(t, perm),
              fg.permute_dims(t, perm), fg.transpose(t, axes=perm)):
        check_view(v, t, expected, base)


@given(nonempty_shapes(1, 4).flatmap(
    lambda s: st.tuples(st.just(s), st.integers(-len(s), len(s) - 1),
                        st.integers(-len(s), len(s) - 1))))
def test_transpose_two_axes(device, case):
    shape, a, b = case
    t, base = make(shape, device=device)
    expected = np.swapaxes(base, a, b)
    for v in (t.transpose(a, b), fg.transpose(t, a, b), t.swapaxes(a, b), fg.swapaxes(t, a, b)):
        check_view(v, t, expected, base)


@given(shapes(0, 5))
def test_T(device, shape):
    t, base = make(shape, device=device)
    check_view(t.T, t, base.T, base)
    check_view(fg.transpose(t), t, base.T, base)


@given(shapes(2, 5))
def test_mT(device, shape):
    t, base = make(shape, device=device)
    check_view(t.mT, t, np.swapaxes(base, -1, -2), base)


def test_mT_needs_two_dims(device):
    with pytest.raises(ValueError):
        _ = fg.arange(3, device=device).mT


def test_permute_errors(device):
    t = fg.zeros(2, 3, 4, device=device)
    with pytest.raises(ValueError):
        t.permute(0, 1)
    with pytest.raises(ValueError):
        t.permute(0, 1, 1)
    with pytest.raises(IndexError):
        t.permute(0, 1, 3)


# ---- expand / broadcast_to ------------------------------------------------------------


@st.composite
def broadcast_case(draw):
    shape = draw(shapes(0, 3, 0, 4))
    target = []
    for n in shape:
        target.append(draw(st.integers(0, 4)) if n == 1 else n)
    lead = draw(shapes(0, 2, 0, 3))
    return shape, tuple(lead) + tuple(target)


@given(broadcast_case())
def test_broadcast_to_and_expand(device, case):
    shape, target = case
    t, base = make(shape, device=device)
    expected = np.broadcast_to(base, target)
    for v in (t.broadcast_to(target), fg.broadcast_to(t, target), t.expand(target),
              t.expand(*target)):
        check_view(v, t, expected, base)
        # broadcast dims have stride 0
        for i, (n, m) in enumerate(zip((1,) * (len(target) - len(shape)) + shape, target)):
            if n == 1 and m > 1:
                assert v.strides[i] == 0


@given(broadcast_case())
def test_expand_minus_one_keeps_size(device, case):
    shape, target = case
    t, base = make(shape, device=device)
    sizes = list(target)
    lead = len(target) - len(shape)
    for i, n in enumerate(shape):
        if n == target[lead + i]:
            sizes[lead + i] = -1
    check_view(t.expand(*sizes), t, np.broadcast_to(base, target), base)


def test_broadcast_errors(device):
    t = fg.zeros(2, 3, device=device)
    with pytest.raises(ValueError):
        t.broadcast_to((3, 3))
    with pytest.raises(ValueError):
        t.expand(3)
    with pytest.raises(ValueError):
        t.expand(-1, -1, 3)


# ---- squeeze / unsqueeze ---------------------------------------------------------------


@given(shapes(0, 5, 0, 3))
def test_squeeze_all(device, shape):
    t, base = make(shape, device=device)
    check_view(t.squeeze(), t, base.squeeze(), base)
    check_view(fg.squeeze(t), t, base.squeeze(), base)


@given(shapes(1, 5, 0, 3).flatmap(lambda s: st.tuples(st.just(s), st.integers(-len(s), len(s) - 1))))
def test_squeeze_axis(device, case):
    shape, axis = case
    t, base = make(shape, device=device)
    if shape[axis] == 1:
        expected = np.squeeze(base, axis)
        for v in (t.squeeze(axis), fg.squeeze(t, axis), fg.squeeze(t, dim=axis),
                  t.squeeze((axis,))):
            check_view(v, t, expected, base)
    else:
        # PyTorch leaves non-1 dims alone; numpy raises. ferrograd follows one of them.
        try:
            v = t.squeeze(axis)
        except ValueError:
            return
        check_view(v, t, base, base)


@given(shapes(0, 4).flatmap(lambda s: st.tuples(st.just(s), st.integers(-len(s) - 1, len(s)))))
def test_unsqueeze(device, case):
    shape, axis = case
    t, base = make(shape, device=device)
    expected = np.expand_dims(base, axis)
    for v in (t.unsqueeze(axis), fg.unsqueeze(t, axis), fg.expand_dims(t, axis)):
        check_view(v, t, expected, base)


@given(shapes(0, 3).flatmap(lambda s: st.tuples(
    st.just(s), st.sets(st.integers(0, len(s) + 1), min_size=1, max_size=2).map(sorted)
    .filter(lambda axes: max(axes) < len(s) + len(axes)))))
def test_expand_dims_tuple(device, case):
    shape, axes = case
    t, base = make(shape, device=device)
    check_view(fg.expand_dims(t, tuple(axes)), t, np.expand_dims(base, tuple(axes)), base)


def test_unsqueeze_out_of_range(device):
    with pytest.raises(IndexError):
        fg.zeros(2, 3, device=device).unsqueeze(3)
    with pytest.raises(IndexError):
        fg.zeros(2, 3, device=device).unsqueeze(-4)


# ---- flip / narrow / select --------------------------------------------------------------


@given(shapes(0, 4).flatmap(lambda s: st.tuples(
    st.just(s), st.sets(st.integers(0, max(len(s) - 1, 0)), max_size=len(s)))))
def test_flip(device, case):
    shape, axes = case
    t, base = make(shape, device=device)
    everything = np.flip(base) if shape else base  # numpy gives a scalar for 0-d
    check_view(t.flip(), t, everything, base)
    check_view(fg.flip(t), t, everything, base)
    if axes:
        axes = tuple(sorted(axes))
        expected = np.flip(base, axes)
        for v in (t.flip(axes), t.flip(*axes), fg.flip(t, axis=axes), fg.flip(t, dims=axes)):
            check_view(v, t, expected, base)


@st.composite
def narrow_case(draw):
    shape = draw(nonempty_shapes(1, 4))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[axis]
    start = draw(st.integers(0, n))
    length = draw(st.integers(0, n - start))
    if draw(st.booleans()) and start < n:
        start -= n  # negative start counts from the end
    return shape, axis, start, length


@given(narrow_case())
def test_narrow(device, case):
    shape, axis, start, length = case
    t, base = make(shape, device=device)
    s = start % shape[axis] if start < 0 else start
    idx = [slice(None)] * len(shape)
    idx[axis] = slice(s, s + length)
    expected = base[tuple(idx)]
    check_view(t.narrow(axis, start, length), t, expected, base)
    check_view(fg.narrow(t, axis, start, length), t, expected, base)


def test_narrow_out_of_range(device):
    t = fg.zeros(4, 3, device=device)
    with pytest.raises((IndexError, ValueError)):
        t.narrow(0, 2, 3)
    with pytest.raises(IndexError):
        t.narrow(2, 0, 1)


@given(nonempty_shapes(1, 4).flatmap(lambda s: st.tuples(st.just(s), st.integers(-len(s), len(s) - 1))
                                     .flatmap(lambda c: st.tuples(st.just(c[0]), st.just(c[1]),
                                                                  st.integers(-c[0][c[1]], c[0][c[1]] - 1)))))
def test_select(device, case):
    shape, axis, index = case
    t, base = make(shape, device=device)
    idx = [slice(None)] * len(shape)
    idx[axis] = index
    expected = base[tuple(idx)]
    if not shape[:axis % len(shape)] + shape[axis % len(shape) + 1:]:
        i = index % shape[0]
        expected = base[i:i + 1].reshape(())  # a 0-d view, not a numpy scalar
    check_view(t.select(axis, index), t, expected, base)


# ---- diagonal ---------------------------------------------------------------------------


@st.composite
def diagonal_case(draw):
    shape = draw(shapes(2, 4, 0, 5))
    nd = len(shape)
    a1 = draw(st.integers(-nd, nd - 1))
    a2 = draw(st.integers(-nd, nd - 1).filter(lambda a: a % nd != a1 % nd))
    offset = draw(st.integers(-6, 6))
    return shape, offset, a1, a2


@given(diagonal_case())
def test_diagonal(device, case):
    shape, offset, a1, a2 = case
    t, base = make(shape, device=device)
    expected = np.diagonal(base, offset, a1, a2)
    for v in (t.diagonal(offset, a1, a2), fg.diagonal(t, offset, a1, a2),
              fg.diagonal(t, offset, dim1=a1, dim2=a2)):
        check_view(v, t, expected, base)


@given(shapes(2, 4))
def test_diagonal_defaults(device, shape):
    t, base = make(shape, device=device)
    check_view(t.diagonal(), t, np.diagonal(base), base)
    check_view(fg.diagonal(t), t, np.diagonal(base), base)


def test_diagonal_same_axis_raises(device):
    with pytest.raises(ValueError):
        fg.zeros(3, 3, device=device).diagonal(0, 1, 1)


# ---- unfold -----------------------------------------------------------------------------


def torch_unfold(a, axis, size, step):
    """PyTorch's ``unfold`` in numpy: windows along ``axis`` become a new last dim."""
    axis %= a.ndim
    w = np.lib.stride_tricks.sliding_window_view(a, size, axis=axis)
    idx = [slice(None)] * w.ndim
    idx[axis] = slice(None, None, step)
    return w[tuple(idx)]


@st.composite
def unfold_case(draw):
    shape = draw(nonempty_shapes(1, 3))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    size = draw(st.integers(0, shape[axis]))
    step = draw(st.integers(1, 4))
    return shape, axis, size, step


@given(unfold_case())
def test_unfold(device, case):
    shape, axis, size, step = case
    t, base = make(shape, device=device)
    expected = torch_unfold(base, axis, size, step)
    check_view(t.unfold(axis, size, step), t, expected, base)


def test_unfold_example(device):
    t = fg.arange(7, device=device)
    u = t.unfold(0, 3, 2)
    assert u.tolist() == [[0, 1, 2], [2, 3, 4], [4, 5, 6]]
    assert u.strides == (2, 1)
    with pytest.raises((ValueError, IndexError, RuntimeError)):
        t.unfold(0, 8, 1)
    with pytest.raises(ValueError):
        t.unfold(0, 2, 0)


# ---- flatten / unflatten / moveaxis -----------------------------------------------------


@given(shapes(0, 5, 0, 3).flatmap(lambda s: st.tuples(
    st.just(s), st.integers(0, max(len(s) - 1, 0)), st.integers(0, max(len(s) - 1, 0)))))
def test_flatten(device, case):
    shape, a, b = case
    t, base = make(shape, device=device)
    expected = base.reshape(-1) if not shape else None
    if shape:
        a, b = min(a, b), max(a, b)
        expected = base.reshape(shape[:a] + (int(np.prod(shape[a:b + 1])),) + shape[b + 1:])
        check_view(t.flatten(a, b), t, expected, base)
        check_view(fg.flatten(t, a - len(shape), b - len(shape)), t, expected, base)
    check_view(t.flatten(), t, base.reshape(-1), base)
    # a non-contiguous input gives a copy with the same values
    assert_equal(t.T.flatten(), base.T.reshape(-1))


@st.composite
def unflatten_case(draw):
    shape = draw(nonempty_shapes(1, 3, 6))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[axis]
    d = draw(st.sampled_from([d for d in range(1, n + 1) if n % d == 0]))
    sizes = [d, n // d]
    if draw(st.booleans()):
        sizes[draw(st.integers(0, 1))] = -1
    return shape, axis, tuple(sizes)


@given(unflatten_case())
def test_unflatten(device, case):
    shape, axis, sizes = case
    t, base = make(shape, device=device)
    ax = axis % len(shape)
    full = [s if s != -1 else shape[ax] // (sizes[0] * sizes[1] * -1) for s in sizes]
    expected = base.reshape(shape[:ax] + tuple(full) + shape[ax + 1:])
    check_view(t.unflatten(axis, sizes), t, expected, base)
    check_view(fg.unflatten(t, axis, sizes), t, expected, base)


@st.composite
def moveaxis_case(draw):
    shape = draw(nonempty_shapes(1, 5, 3))
    nd = len(shape)
    k = draw(st.integers(1, nd))
    src = draw(st.permutations(range(nd)))[:k]
    dst = draw(st.permutations(range(nd)))[:k]
    src = [s - nd if draw(st.booleans()) else s for s in src]
    return shape, src, dst


@given(moveaxis_case())
def test_moveaxis(device, case):
    shape, src, dst = case
    t, base = make(shape, device=device)
    expected = np.moveaxis(base, src, dst)
    check_view(fg.moveaxis(t, src, dst), t, expected, base)
    check_view(t.moveaxis(src, dst), t, expected, base)
    check_view(t.movedim(src, dst), t, expected, base)
    e1 = np.moveaxis(base, src[0], dst[0])
    check_view(fg.moveaxis(t, src[0], dst[0]), t, e1, base)


# ---- contiguous / clone -----------------------------------------------------------------


@given(shapes(0, 4).flatmap(lambda s: st.tuples(st.just(s), st.permutations(range(len(s))))))
def test_contiguous_and_clone(device, case):
    shape, perm = case
    t, base = make(shape, device=device)
    p, bp = t.permute(perm), base.transpose(perm)
    c = p.contiguous()
    assert_equal(c, bp)
    assert c.is_contiguous() and is_c_contiguous(c)
    if bp.size == 0:
        pass  # nothing to share
    elif bp.flags.c_contiguous:
        assert c.shares_memory_with(t)  # already contiguous: no copy
    else:
        assert not c.shares_memory_with(t)
    k = p.clone()
    assert_equal(k, bp)
    assert k.is_contiguous() and not k.shares_memory_with(t)
    assert_equal(fg.clone(p), bp)
    assert_equal(fg.contiguous(p), bp)
    if base.size:
        k.fill_(-1)
        assert_equal(t, arange_array(shape, index_dtype(device)))  # the clone is independent


# ---- chains of views and writes through them ------------------------------------------


@st.composite
def chain_case(draw):
    shape = draw(nonempty_shapes(2, 4, 4))
    perm = draw(st.permutations(range(len(shape))))
    n0 = shape[perm[0]]
    start = draw(st.none() | st.integers(-n0, n0 - 1))
    step = draw(st.integers(-3, -1))
    lead = draw(st.integers(1, 3))
    return shape, perm, slice(start, None, step), lead


@given(chain_case())
def test_chain_permute_slice_expand_reshape(device, case):
    shape, perm, sl, lead = case
    t, base = make(shape, device=device)
    v = t.permute(perm)[sl]
    e = base.transpose(perm)[sl]
    check_view(v, t, e, base)
    v2 = v.unsqueeze(0).expand(lead, *v.shape)
    e2 = np.broadcast_to(e[None], (lead, *e.shape))
    check_view(v2, t, e2, base)
    r = v2.reshape(-1)
    assert_equal(r, e2.reshape(-1))
    # numpy decides whether a view is possible; ferrograd must agree
    if e2.size:
        assert r.shares_memory_with(t) == np.shares_memory(e2.reshape(-1), base)
    f = v2.flip(-1).diagonal(0, 0, -1) if v2.ndim >= 2 else v2
    ef = np.flip(e2, -1).diagonal(0, 0, -1) if e2.ndim >= 2 else e2
    check_view(f, t, ef, base)


@given(shapes(2, 4, 1, 4), st.integers(-3, 3).filter(lambda s: s != 0), st.integers(-9, 9))
def test_write_through_T_slice(device, shape, step, value):
    t, base = make(shape, device=device)
    expected = base.copy()
    v = t.T[::step]
    v[...] = value
    expected.T[::step] = value
    assert_equal(t, expected)

    t2, base2 = make(shape, device=device)
    t2.T[::step].fill_(value)
    assert_equal(t2, expected)


@given(chain_case(), st.integers(-50, 50))
def test_write_through_chain(device, case, value):
    shape, perm, sl, _ = case
    t, base = make(shape, device=device)
    expected = base.copy()
    v = t.permute(perm)[sl].diagonal(0, 0, -1) if len(shape) >= 2 else t
    v.fill_(value)
    # numpy's diagonal is read-only: write through the flat positions it selects
    pos = np.arange(base.size).reshape(shape)
    expected.reshape(-1)[pos.transpose(perm)[sl].diagonal(0, 0, -1).ravel()] = value
    assert_equal(t, expected)
    # copy_ with broadcasting through a view
    t.permute(perm)[sl].copy_(fg.tensor([value + 1], dtype=t.dtype, device=device))
    expected.transpose(perm)[sl] = value + 1
    assert_equal(t, expected)


@given(shapes(1, 3, 1, 4), st.integers(0, 3))
def test_zero_through_narrow(device, shape, start):
    t, base = make(shape, device=device)
    expected = base.copy()
    n = shape[0]
    assume(start < n)
    t.narrow(0, start, n - start).zero_()
    expected[start:] = 0
    assert_equal(t, expected)


def test_write_to_expanded_view_is_rejected_or_consistent(device):
    # writing a scalar through a stride-0 view is harmless; numpy marks such views read-only
    t = fg.zeros(3, device=device)
    e = t.expand(4, 3)
    e.fill_(5)
    assert_equal(t, np.full(3, 5.0, np.float32))


@given(shapes(0, 4), st.data())
def test_views_keep_dtype(device, shape, data):
    name = data.draw(st.sampled_from(dtypes_on(device, ["float32", "int16", "uint8", "bool",
                                                         "float64", "int32", "uint32"])))
    dt = getattr(np, name) if name != "bool" else np.bool_
    t, base = make(shape, dt, device)
    assert t.dtype == getattr(fg, name)
    for v in (t.T, t.flip(), t.reshape(-1), t.unsqueeze(0)):
        assert v.dtype == t.dtype
    check_view(t.T, t, base.T, base)
