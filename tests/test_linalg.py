"""``ferrograd.linalg`` against ``numpy.linalg``.

Tolerances: float64 results within 1e-12 relative (1e-10 for singular values, relative to
the largest one); float32 within 2e-6 relative (norms of float32 are compared with
numpy's float64 result rounded to float32: ferrograd accumulates more precisely than
numpy's float32 arithmetic); integer inputs are compared as float64 and must come back in
the default float dtype.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import ferrograd as fg
from ferrograd import linalg as LA

VECTOR_ORDS = [2, 1, np.inf, -np.inf, 0, 3, 0.5, -1, -2.5]
MATRIX_ORDS = ["fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf]
TOL = {np.float32: 2e-6, np.float64: 1e-12, np.int64: 1e-12}


def values(dtype):
    if np.dtype(dtype).kind in "iu":
        return st.integers(-20, 20)
    # Zero or magnitudes in [2**-10, 1e3]: numpy's unscaled sums would underflow on
    # tinier values (tested separately below).
    mag = st.floats(2.0 ** -10, 1e3, width=32)
    return st.one_of(st.just(0.0), mag, mag.map(lambda v: -v))


def arrays(dtype, min_dims=0, max_dims=4, min_side=0, max_side=4):
    return hnp.arrays(dtype, hnp.array_shapes(min_dims=min_dims, max_dims=max_dims,
                                               min_side=min_side, max_side=max_side),
                      elements=values(dtype))


def view_of(a: np.ndarray, transpose: bool) -> fg.Tensor:
    """A tensor over ``a``'s values, optionally as a non-contiguous (reversed-axes) view."""
    if transpose and a.ndim >= 2:
        return fg.tensor(np.ascontiguousarray(a.T)).T
    return fg.tensor(a)


def np_or_error(fn):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            return fn(), None
        except (ValueError, IndexError, np.linalg.LinAlgError) as e:
            return None, e


def assert_close(got: fg.Tensor, want, dtype):
    want = np.asarray(want)
    out_dtype = np.dtype(dtype) if np.dtype(dtype).kind == "f" else np.dtype(np.float32)
    g = np.asarray(got)
    assert g.dtype == out_dtype, (g.dtype, out_dtype)
    assert g.shape == want.shape, (g.shape, want.shape)
    tol = TOL.get(dtype, 1e-12) if out_dtype == np.float64 else 2e-6
    np.testing.assert_allclose(g, want.astype(out_dtype), rtol=tol, atol=0)


def reference(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float64)


# ---- vector_norm -----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@given(data=st.data())
def test_vector_norm_matches_numpy(dtype, data):
    a = data.draw(arrays(dtype))
    axis = data.draw(st.one_of(
        st.none(),
        st.integers(-a.ndim, a.ndim - 1) if a.ndim else st.none(),
        st.sets(st.integers(0, a.ndim - 1), max_size=a.ndim).map(tuple) if a.ndim else st.none(),
    ))
    ord = data.draw(st.sampled_from(VECTOR_ORDS))
    keepdims = data.draw(st.booleans())
    t = view_of(a, data.draw(st.booleans()))
    want, err = np_or_error(lambda: np.linalg.vector_norm(reference(a), axis=axis,
                                                          keepdims=keepdims, ord=ord))
    if err is not None:
        with pytest.raises(type(err) if not isinstance(err, np.linalg.LinAlgError)
                           else ValueError):
            LA.vector_norm(t, axis=axis, keepdims=keepdims, ord=ord)
        return
    got = LA.vector_norm(t, axis=axis, keepdims=keepdims, ord=ord)
    assert_close(got, want, dtype)


@pytest.mark.parametrize("ord", VECTOR_ORDS)
def test_vector_norm_inf_and_nan(ord):
    for vals in ([1.0, np.inf, -2.0], [1.0, np.nan, 2.0], [np.inf, np.nan], [-np.inf, 0.0]):
        a = np.array(vals)
        want, _ = np_or_error(lambda a=a: np.linalg.vector_norm(a, ord=ord))
        for dtype in (np.float32, np.float64):
            got = LA.vector_norm(fg.tensor(a.astype(dtype)), ord=ord)
            np.testing.assert_allclose(np.asarray(got), np.asarray(want, dtype=dtype),
                                       rtol=2e-6)


def test_vector_norm_empty():
    e = fg.zeros((0, 3))
    assert LA.vector_norm(e).item() == 0.0
    assert LA.vector_norm(e, axis=0).tolist() == [0.0, 0.0, 0.0]
    assert LA.vector_norm(e, axis=0, ord=np.inf).tolist() == [0.0, 0.0, 0.0]
    assert LA.vector_norm(e, axis=0, ord=-1).tolist() == [math.inf] * 3
    assert LA.vector_norm(e, axis=1).shape == (0,)
    assert LA.vector_norm(e, axis=1, ord=-np.inf).shape == (0,)
    with pytest.raises(ValueError, match="minimum"):
        LA.vector_norm(e, axis=0, ord=-np.inf)


def test_vector_norm_does_not_overflow_or_underflow():
    cases = [(np.float32, 1e30), (np.float32, 1e-30), (np.float32, 3e38), (np.float32, 1e-44),
             (np.float64, 1e200), (np.float64, 1e-200), (np.float64, 1e308),
             (np.float64, 5e-324), (np.float16, 6e4), (np.float16, 1e-4)]
    for dtype, v in cases:
        a = np.array([v, -v, v, v], dtype=dtype)
        exact = 2 * float(a[0])  # sqrt(4 v^2)
        got = LA.vector_norm(fg.tensor(a))
        assert got.dtype == getattr(fg, np.dtype(dtype).name)
        if exact > float(np.finfo(dtype).max):
            assert got.item() == math.inf
        else:
            assert math.isclose(got.item(), exact, rel_tol=1e-6 if dtype != np.float16 else 1e-3)
        got3 = LA.vector_norm(fg.tensor(a.astype(np.float64)), ord=3)
        assert math.isclose(got3.item(), 4 ** (1 / 3) * float(a[0]), rel_tol=1e-12)
    # Mixed rows: one needs rescaling, one does not (and must be unchanged).
    a = np.array([[1e200, 1e200], [3.0, 4.0]])
    got = np.asarray(LA.vector_norm(fg.tensor(a), axis=1))
    assert got[1] == 5.0 and math.isclose(got[0], math.sqrt(2) * 1e200, rel_tol=1e-15)
    # Zero rows stay zero.
    assert LA.vector_norm(fg.zeros((2, 3)), axis=1).tolist() == [0.0, 0.0]


def test_vector_norm_errors():
    x = fg.ones(3)
    with pytest.raises(ValueError):
        LA.vector_norm(x, ord="fro")
    with pytest.raises(ValueError):
        LA.vector_norm(x, ord=float("nan"))
    with pytest.raises(IndexError):
        LA.vector_norm(x, axis=1)
    with pytest.raises(ValueError, match="duplicate"):
        LA.vector_norm(fg.ones((2, 2)), axis=(0, -2))


def test_norm_dtypes(restore_default_dtype):
    assert LA.vector_norm(fg.tensor([3, 4])).dtype == fg.float32
    assert LA.vector_norm(fg.tensor([3, 4])).item() == 5.0
    assert LA.vector_norm(fg.tensor([True, False, True]), ord=1).item() == 2.0
    fg.set_default_dtype(fg.float64)
    assert LA.vector_norm(fg.tensor([3, 4])).dtype == fg.float64
    assert LA.matrix_norm(fg.tensor([[3, 4]]), ord=2).dtype == fg.float64
    assert LA.vector_norm(fg.tensor([3.0, 4.0], dtype=fg.float16)).dtype == fg.float16
    assert LA.vector_norm(fg.tensor([3.0, 4.0], dtype=fg.bfloat16)).dtype == fg.bfloat16
    assert LA.matrix_norm(fg.eye(3, dtype=fg.float16), ord="nuc").item() == 3.0


# ---- matrix_norm / svdvals ---------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@given(data=st.data())
def test_matrix_norm_matches_numpy(dtype, data):
    a = data.draw(arrays(dtype, min_dims=2, max_dims=4))
    ord = data.draw(st.sampled_from(MATRIX_ORDS))
    keepdims = data.draw(st.booleans())
    t = view_of(a, data.draw(st.booleans()))
    want, err = np_or_error(lambda: np.linalg.matrix_norm(reference(a), keepdims=keepdims,
                                                          ord=ord))
    if err is not None:
        with pytest.raises(ValueError):
            LA.matrix_norm(t, keepdims=keepdims, ord=ord)
        return
    got = LA.matrix_norm(t, keepdims=keepdims, ord=ord)
    if ord in ("nuc", 2, -2):
        # Singular values: relative to the largest of each matrix.
        g = np.asarray(got).astype(np.float64)
        assert g.shape == want.shape
        scale = np.linalg.matrix_norm(reference(a), ord=2, keepdims=keepdims) if a.size else 1.0
        rel = 1e-10 if np.asarray(got).dtype == np.float64 else 2e-6
        np.testing.assert_allclose(g, want, rtol=rel, atol=rel * np.max(scale, initial=0) * 4)
        return
    assert_close(got, want, dtype)


@given(data=st.data())
def test_svdvals_match_numpy(data):
    shape = data.draw(hnp.array_shapes(min_dims=2, max_dims=4, min_side=0, max_side=7))
    seed = data.draw(st.integers(0, 2 ** 16))
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    if data.draw(st.booleans()) and a.shape[-1] > 1:
        a[..., -1] = a[..., 0] * 2.0  # rank-deficient
    if data.draw(st.booleans()):
        a = a * 10.0 ** data.draw(st.integers(-150, 150))
    t = view_of(a, data.draw(st.booleans()))
    got = np.asarray(LA.svdvals(t))
    want = np.linalg.svd(a, compute_uv=False)
    assert got.shape == want.shape
    if want.size:
        top = want[..., :1]
        scale = np.where(top == 0, 1.0, top)
        np.testing.assert_allclose(got / scale, want / scale, rtol=0, atol=1e-13)


def test_svdvals_float32_and_ill_conditioned():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((5, 6, 4)).astype(np.float32)
    got = LA.svdvals(fg.tensor(a))
    assert got.dtype == fg.float32 and got.shape == (5, 4)
    want = np.linalg.svd(a.astype(np.float64), compute_uv=False).astype(np.float32)
    np.testing.assert_allclose(np.asarray(got), want, rtol=2e-6)
    # A Hilbert matrix: condition number ~1e13; Jacobi keeps the small values accurate.
    n = 8
    h = 1.0 / (np.arange(n)[:, None] + np.arange(n)[None, :] + 1.0)
    got = np.asarray(LA.svdvals(fg.tensor(h)))
    want = np.linalg.svd(h, compute_uv=False)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_allclose(got[:3], want[:3], rtol=1e-13)


def test_svdvals_special_inputs():
    assert LA.svdvals(fg.zeros((3, 2))).tolist() == [0.0, 0.0]
    assert LA.svdvals(fg.zeros((2, 0, 3))).shape == (2, 0)
    assert LA.svdvals(fg.tensor([[3, 0], [0, -4]])).tolist() == [4.0, 3.0]
    s = LA.svdvals(fg.tensor([[1.0, np.nan], [0.0, 1.0]]))
    assert np.isnan(np.asarray(s)).all()
    s = LA.svdvals(fg.tensor([[1.0, np.inf], [0.0, 1.0]]))
    assert np.isnan(np.asarray(s)).all()
    with pytest.raises(ValueError):
        LA.svdvals(fg.ones(3))


def test_matrix_norm_inf_nan_and_errors():
    a = np.array([[1.0, np.inf], [2.0, 3.0]])
    for ord in ("fro", 1, -1, np.inf, -np.inf):
        np.testing.assert_equal(np.asarray(LA.matrix_norm(fg.tensor(a), ord=ord)),
                                np.linalg.matrix_norm(a, ord=ord))
    assert np.isnan(LA.matrix_norm(fg.tensor(a), ord=2).item())
    with pytest.raises(ValueError):
        LA.matrix_norm(fg.ones(3))
    for bad in (3, 0, "foo", None, True):
        with pytest.raises(ValueError):
            LA.matrix_norm(fg.ones((2, 2)), ord=bad)


def test_large_batch_of_small_matrices():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((2000, 4, 3))
    np.testing.assert_allclose(np.asarray(LA.matrix_norm(fg.tensor(a), ord=2)),
                               np.linalg.matrix_norm(a, ord=2), rtol=1e-12)
    b = rng.standard_normal((60, 50))
    np.testing.assert_allclose(np.asarray(LA.svdvals(fg.tensor(b))),
                               np.linalg.svd(b, compute_uv=False), rtol=1e-11)


# ---- norm (numpy.linalg.norm) ----------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@given(data=st.data())
def test_norm_matches_numpy(dtype, data):
    a = data.draw(arrays(dtype, min_dims=1, max_dims=3))
    nd = a.ndim
    axis = data.draw(st.one_of(
        st.none(), st.integers(-nd, nd - 1),
        st.lists(st.integers(-nd, nd - 1), min_size=2, max_size=2).map(tuple)
        if nd >= 2 else st.none()))
    ord = data.draw(st.sampled_from([None] + VECTOR_ORDS + MATRIX_ORDS))
    keepdims = data.draw(st.booleans())
    t = view_of(a, data.draw(st.booleans()))
    want, err = np_or_error(lambda: np.linalg.norm(reference(a), ord=ord, axis=axis,
                                                   keepdims=keepdims))
    if err is not None:
        with pytest.raises((ValueError, IndexError)):
            LA.norm(t, ord=ord, axis=axis, keepdims=keepdims)
        return
    got = LA.norm(t, ord=ord, axis=axis, keepdims=keepdims)
    if ord in ("nuc", 2, -2) and isinstance(axis, tuple) or (
            axis is None and nd == 2 and ord in ("nuc", 2, -2)):
        g = np.asarray(got).astype(np.float64)
        assert g.shape == np.shape(want)
        atol = 4e-6 * max(np.abs(reference(a)).sum(), 1.0)
        np.testing.assert_allclose(g, want, rtol=2e-6, atol=atol)
        return
    assert_close(got, want, dtype)


def test_norm_torch_spellings():
    a = np.arange(24.0).reshape(2, 3, 4) - 10
    t = fg.tensor(a)
    np.testing.assert_allclose(np.asarray(LA.norm(t, dim=1, keepdim=True)),
                               np.linalg.norm(a, axis=1, keepdims=True), rtol=1e-12)
    with pytest.raises(TypeError):
        LA.norm(t, axis=1, dim=1)


def test_tensor_norm_pytorch_semantics():
    a = np.arange(12.0).reshape(3, 4) - 5
    t = fg.tensor(a)
    assert math.isclose(t.norm().item(), np.sqrt((a ** 2).sum()), rel_tol=1e-12)
    assert math.isclose(fg.norm(t).item(), np.sqrt((a ** 2).sum()), rel_tol=1e-12)
    # A number p is a vector norm over all elements (not numpy's matrix norm).
    assert math.isclose(t.norm(1).item(), np.abs(a).sum(), rel_tol=1e-12)
    assert math.isclose(t.norm(p=np.inf).item(), np.abs(a).max(), rel_tol=1e-12)
    np.testing.assert_allclose(np.asarray(t.norm(dim=1, keepdim=True)),
                               np.linalg.norm(a, axis=1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(t.norm(3, 0)),
                               np.linalg.norm(a, ord=3, axis=0), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(t.norm(p="fro", dim=(0, 1))),
                               np.linalg.norm(a), rtol=1e-12)
    assert math.isclose(t.norm(p="nuc").item(), np.linalg.norm(a, "nuc"), rel_tol=1e-12)
    b = fg.tensor(np.arange(24.0).reshape(2, 3, 4))
    np.testing.assert_allclose(np.asarray(b.norm(p="nuc", dim=(1, 2))),
                               np.linalg.matrix_norm(np.asarray(b), ord="nuc"), rtol=1e-12)
    with pytest.raises(ValueError):
        b.norm(p="nuc")
    with pytest.raises(ValueError):
        t.norm(p="bogus")
    assert fg.tensor([3, 4]).norm(dtype=fg.float64).dtype == fg.float64


# ---- the other members ---------------------------------------------------------------


def test_trace_and_diagonal():
    a = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    t = fg.tensor(a)
    for off in (-3, -1, 0, 1, 2, 5):
        np.testing.assert_array_equal(np.asarray(LA.diagonal(t, offset=off)),
                                      np.linalg.diagonal(a, offset=off))
        np.testing.assert_array_equal(np.asarray(LA.trace(t, offset=off)),
                                      np.linalg.trace(a, offset=off))
    assert LA.diagonal(t).data_ptr() == t.data_ptr()  # a view
    np.testing.assert_array_equal(np.asarray(LA.trace(t.mT)), np.linalg.trace(a.swapaxes(-1, -2)))
    assert LA.trace(fg.ones((3, 3), dtype=fg.int8)).dtype == fg.int64
    assert LA.trace(fg.ones((3, 3)), dtype=fg.float64).dtype == fg.float64
    with pytest.raises(ValueError):
        LA.trace(fg.ones(3))


def test_cross():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 3))
    b = rng.standard_normal((2, 1, 3))
    np.testing.assert_allclose(np.asarray(LA.cross(fg.tensor(a), fg.tensor(b))),
                               np.linalg.cross(a, b), rtol=1e-14)
    c = rng.integers(-5, 5, (3, 5))
    d = rng.integers(-5, 5, (3, 5))
    got = LA.cross(fg.tensor(c), fg.tensor(d), axis=0)
    np.testing.assert_array_equal(np.asarray(got), np.cross(c, d, axis=0))
    with pytest.raises(ValueError, match="size 3"):
        LA.cross(fg.ones((2, 2)), fg.ones((2, 2)))


def test_matmul_outer_tensordot_vecdot_transpose():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((2, 3, 4))
    b = rng.standard_normal((4, 5))
    np.testing.assert_allclose(np.asarray(LA.matmul(fg.tensor(a), fg.tensor(b))),
                               np.linalg.matmul(a, b), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(LA.tensordot(fg.tensor(a), fg.tensor(b), axes=1)),
                               np.linalg.tensordot(a, b, axes=1), rtol=1e-12)
    c = rng.standard_normal((3, 4))
    np.testing.assert_allclose(np.asarray(LA.vecdot(fg.tensor(a), fg.tensor(c))),
                               np.linalg.vecdot(a, c), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(LA.vecdot(fg.tensor(a), fg.tensor(a), axis=1)),
                               np.linalg.vecdot(a, a, axis=1), rtol=1e-12)
    x, y = rng.standard_normal(3), rng.standard_normal(4)
    np.testing.assert_allclose(np.asarray(LA.outer(fg.tensor(x), fg.tensor(y))),
                               np.linalg.outer(x, y), rtol=1e-15)
    with pytest.raises(ValueError):
        LA.outer(fg.ones((2, 2)), fg.ones(2))
    t = LA.matrix_transpose(fg.tensor(a))
    np.testing.assert_array_equal(np.asarray(t), np.linalg.matrix_transpose(a))
    with pytest.raises(ValueError):
        LA.matrix_transpose(fg.ones(3))


def test_namespace():
    assert fg.linalg.vector_norm is LA.vector_norm
    assert callable(fg.einsum) and callable(fg.norm)
    for name in LA.__all__:
        assert callable(getattr(LA, name))
