"""``einsum`` against ``np.einsum``: named cases, random equations, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ferrograd as fg

DTYPES = [np.int64, np.int32, np.int8, np.float32, np.float64]


def _view(a: np.ndarray, mode: str) -> fg.Tensor:
    """A tensor with ``a``'s values: contiguous, a permuted view, or a view with negative
    and non-unit strides."""
    if mode == "contiguous" or a.ndim == 0:
        return fg.tensor(a)
    if mode == "permuted":
        rev = tuple(range(a.ndim))[::-1]
        return fg.tensor(np.ascontiguousarray(a.transpose(rev))).permute(rev)
    # strided: every other element of a doubled last axis, read backwards on axis 0.
    base = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), dtype=a.dtype)
    base[..., ::2] = a[::-1]
    t = fg.tensor(base)[..., ::2].flip(0)
    return t


def _values(rng: np.random.Generator, shape, dtype) -> np.ndarray:
    if np.dtype(dtype) == np.bool_:
        return rng.integers(0, 2, shape).astype(bool)
    return rng.integers(-3, 4, shape).astype(dtype)


def check(eq, *arrays, modes=None, dtype_check=True, **kw):
    modes = modes or ["contiguous"] * len(arrays)
    ts = [_view(a, m) for a, m in zip(arrays, modes)]
    for t, a in zip(ts, arrays):
        np.testing.assert_array_equal(np.asarray(t), a)
    got = fg.einsum(eq, *ts, **kw)
    want = np.einsum(eq, *arrays)
    assert tuple(got.shape) == want.shape, (eq, got.shape, want.shape)
    if dtype_check:
        assert np.asarray(got).dtype == want.dtype, (eq, got.dtype, want.dtype)
    if want.dtype.kind == "f":
        tol = 1e-5 if want.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(np.asarray(got), want, rtol=tol, atol=tol)
    else:
        np.testing.assert_array_equal(np.asarray(got), want)
    return got


NAMED = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("ij,jk", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("i,j->ij", [(3,), (4,)]),
    ("i,i->", [(5,), (5,)]),
    ("i,i", [(5,), (5,)]),
    ("ii", [(4, 4)]),
    ("ii->i", [(4, 4)]),
    ("ij->ji", [(3, 4)]),
    ("ij->", [(3, 4)]),
    ("ij->j", [(3, 4)]),
    ("ijk->kji", [(2, 3, 4)]),
    ("iij->j", [(3, 3, 2)]),
    ("iji->j", [(3, 2, 3)]),
    ("iii->i", [(3, 3, 3)]),
    ("ij,ij->ij", [(3, 4), (3, 4)]),
    ("ij,ij->i", [(3, 4), (3, 4)]),
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),
    ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]),
    ("bhqk,bhkd->bhqd", [(2, 3, 4, 6), (2, 3, 6, 5)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (4, 5)]),
    ("...ij,...jk", [(2, 1, 3, 4), (3, 4, 5)]),
    ("...ii->...i", [(2, 3, 3)]),
    ("i...->...", [(3, 2, 4)]),
    ("...", [(2, 3)]),
    ("...,...", [(2, 3), (3,)]),
    ("ab,bc,cd,de->ae", [(2, 3), (3, 4), (4, 5), (5, 2)]),
    ("ab,cd,bc->ad", [(2, 3), (4, 5), (3, 4)]),
    ("ij,kl->", [(2, 3), (4, 5)]),
    ("i,i,i->i", [(4,), (4,), (4,)]),
    ("Ab,bA", [(2, 3), (3, 2)]),
    ("aB", [(2, 3)]),
    (",->", [(), ()]),
    ("i,->i", [(3,), ()]),
    ("ij,jk->ik", [(3, 0), (0, 5)]),
    ("ij,jk->ik", [(0, 4), (4, 5)]),
    ("bij,bjk->bik", [(0, 3, 4), (0, 4, 5)]),
    ("ij,jk->ik", [(3, 1), (4, 5)]),  # size-1 broadcasting of a named axis
    ("i,i->i", [(1,), (3,)]),
    (" i j , j k -> i k ", [(3, 4), (4, 5)]),
]


@pytest.mark.parametrize("dtype", DTYPES + [np.bool_])
@pytest.mark.parametrize("eq,shapes", NAMED)
def test_named_equations(eq, shapes, dtype):
    rng = np.random.default_rng(0)
    arrays = [_values(rng, s, dtype) for s in shapes]
    check(eq, *arrays)


@pytest.mark.parametrize("eq,shapes", NAMED)
def test_named_equations_non_contiguous(eq, shapes):
    rng = np.random.default_rng(1)
    arrays = [_values(rng, s, np.float64) for s in shapes]
    for mode in ("permuted", "strided"):
        modes = [mode if a.ndim and a.size else "contiguous" for a in arrays]
        check(eq, *arrays, modes=modes)


@pytest.mark.parametrize("optimize", [False, True, "greedy"])
def test_optimize_orders_agree(optimize):
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal(s) for s in [(2, 3), (3, 4), (4, 5), (5, 2)]]
    check("ab,bc,cd,de->ae", *arrays, optimize=optimize)


def test_list_form_and_array_likes():
    a = np.arange(6.0).reshape(2, 3)
    b = np.arange(12.0).reshape(3, 4)
    got = fg.einsum("ij,jk->ik", [fg.tensor(a), fg.tensor(b)])
    np.testing.assert_array_equal(np.asarray(got), a @ b)
    got = fg.einsum("ij,jk->ik", (fg.tensor(a), b))
    np.testing.assert_array_equal(np.asarray(got), a @ b)
    # A plain nested list is one array-like operand (numpy's reading).
    got = fg.einsum("ii", [[1, 2], [3, 4]])
    assert got.item() == 5
    got = fg.einsum("i->", [1, 2, 3])
    assert got.item() == 6


def test_single_operand_results_are_views():
    x = fg.arange(12.0).reshape(3, 4)
    t = fg.einsum("ij->ji", x)
    assert t.data_ptr() == x.data_ptr() and t.shape == (4, 3)
    d = fg.einsum("ii->i", fg.arange(9.0).reshape(3, 3))
    assert d.tolist() == [0.0, 4.0, 8.0]


def test_type_promotion_like_matmul():
    a = fg.ones((2, 3), dtype=fg.int32)
    b = fg.ones((3, 4), dtype=fg.float32)
    assert fg.einsum("ij,jk", a, b).dtype == fg.matmul(a, b).dtype == fg.float32
    c = fg.ones((3, 4), dtype=fg.int64)
    assert fg.einsum("ij,jk", a, c).dtype == fg.int64
    h = fg.ones((3, 4), dtype=fg.float16)
    r = fg.einsum("ij,jk->ik", fg.ones((2, 3), dtype=fg.float16), h)
    assert r.dtype == fg.float16 and r.tolist() == [[3.0] * 4] * 2
    bf = fg.einsum("i,i", fg.ones(4, dtype=fg.bfloat16), fg.ones(4, dtype=fg.bfloat16))
    assert bf.dtype == fg.bfloat16 and bf.item() == 4.0


def test_integer_sums_wrap_in_their_dtype_as_numpy():
    a = np.full(4, 100, dtype=np.int8)
    check("i->", a)
    check("i,i->", a, np.ones(4, dtype=np.int8))


def test_float_values_against_numpy():
    rng = np.random.default_rng(3)
    for dtype in (np.float32, np.float64):
        a = rng.standard_normal((3, 5, 6)).astype(dtype)
        b = rng.standard_normal((3, 6, 7)).astype(dtype)
        c = rng.standard_normal((7, 2)).astype(dtype)
        check("bij,bjk,kl->bil", a, b, c)
        check("bij,bjk->", a, b)


def test_ellipsis_dims_left_out_of_output_are_summed():
    # PyTorch's rule (numpy raises here).
    x = np.arange(24.0).reshape(2, 3, 4)
    got = fg.einsum("...ij->ij", fg.tensor(x))
    np.testing.assert_array_equal(np.asarray(got), x.sum(0))


@pytest.mark.parametrize("eq,shapes,match", [
    ("ij,jk->ik", [(2, 3)], "operand"),
    ("ij->ij", [(2, 3), (3, 4)], "operand"),
    ("ij->i", [(2, 3, 4)], "dimension"),
    ("ijk", [(2, 3)], "dimension"),
    ("...ijk", [(2, 3)], "at least"),
    ("ij,jk", [(2, 3), (4, 5)], "size"),
    ("ii", [(2, 3)], "repeated"),
    ("i1", [(2, 3)], "invalid subscript"),
    ("i.j", [(2, 3)], "ellipsis"),
    ("......", [(2, 3)], "more than one ellipsis"),
    ("ij->ii", [(2, 3)], "more than once"),
    ("ij->k", [(2, 3)], "does not appear"),
    ("ij->i->j", [(2, 3)], "at most once"),
    ("i-j", [(2, 3)], "at most once"),
    ("ij->i$", [(2, 3)], "invalid subscript"),
])
def test_errors(eq, shapes, match):
    ts = [fg.ones(s) for s in shapes]
    with pytest.raises(ValueError, match=match):
        fg.einsum(eq, *ts)


def test_other_argument_errors():
    with pytest.raises(ValueError, match="at least one operand"):
        fg.einsum("ij")
    with pytest.raises(TypeError):
        fg.einsum(3, fg.ones(2))


# ---- random equations ------------------------------------------------------------------


@st.composite
def equations(draw):
    """(equation, shapes): 1 to 3 operands over a few letters with random sizes,
    repeated letters, size-1 broadcasting, an optional ellipsis, explicit or implicit
    output."""
    letters = draw(st.lists(st.sampled_from("abcdeXY"), min_size=1, max_size=5, unique=True))
    sizes = {x: draw(st.integers(0, 4) if draw(st.integers(0, 9)) == 0 else st.integers(1, 4))
             for x in letters}
    ell = draw(st.lists(st.integers(1, 3), max_size=2)) if draw(st.booleans()) else None
    n_ops = draw(st.integers(1, 3))
    terms, shapes = [], []
    for _ in range(n_ops):
        labs = draw(st.lists(st.sampled_from(letters), max_size=4))
        shape = []
        for x in labs:
            n = sizes[x]
            if labs.count(x) == 1 and draw(st.integers(0, 5)) == 0:
                n = 1  # broadcasts
            shape.append(n)
        term = "".join(labs)
        if ell is not None and draw(st.booleans()):
            pos = draw(st.integers(0, len(labs)))
            width = draw(st.integers(0, len(ell)))
            eshape = [draw(st.sampled_from([1, n])) for n in ell[len(ell) - width:]]
            term = term[:pos] + "..." + term[pos:]
            shape = shape[:pos] + eshape + shape[pos:]
        terms.append(term)
        shapes.append(tuple(shape))
    used = sorted({x for t in terms for x in t if x != "."})
    has_ell = any("..." in t for t in terms)
    if draw(st.booleans()):
        out = draw(st.permutations(used))
        out = "".join(out[:draw(st.integers(0, len(out)))])
        if has_ell:
            pos = draw(st.integers(0, len(out)))
            out = out[:pos] + "..." + out[pos:]
        eq = ",".join(terms) + "->" + out
    else:
        eq = ",".join(terms)
    return eq, shapes


@given(case=equations(), dtype=st.sampled_from(DTYPES),
       mode=st.sampled_from(["contiguous", "permuted", "strided"]), seed=st.integers(0, 99))
def test_random_equations_match_numpy(case, dtype, mode, seed):
    eq, shapes = case
    rng = np.random.default_rng(seed)
    arrays = [_values(rng, s, dtype) for s in shapes]
    modes = [mode if a.ndim and a.size else "contiguous" for a in arrays]
    check(eq, *arrays, modes=modes)


@given(case=equations(), seed=st.integers(0, 99))
def test_random_equations_float_values(case, seed):
    eq, shapes = case
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in shapes]
    check(eq, *arrays, optimize=False)
    check(eq, *arrays)
