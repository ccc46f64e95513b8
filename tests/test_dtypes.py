"""dtypes, casts against numpy, bfloat16, Python conversions and printing."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from conftest import ALL_DTYPE_NAMES, NP_DTYPES, arange_array, assert_equal, shapes
from hypothesis import given
from hypothesis import strategies as st

import ferrograd as fg


def test_all_dtypes_exist():
    for name in ALL_DTYPE_NAMES:
        d = getattr(fg, name)
        assert isinstance(d, fg.dtype)
        assert d.name == name
        assert repr(d) == f"ferrograd.{name}"
    sizes = {"bool": 1, "int8": 1, "int16": 2, "int32": 4, "int64": 8, "uint8": 1, "uint16": 2,
             "uint32": 4, "uint64": 8, "float16": 2, "bfloat16": 2, "float32": 4, "float64": 8}
    for name, size in sizes.items():
        assert getattr(fg, name).itemsize == size
        assert fg.zeros(1, dtype=getattr(fg, name)).element_size() == size
    assert len({getattr(fg, n) for n in ALL_DTYPE_NAMES}) == 13
    assert fg.float32.is_floating_point and fg.bfloat16.is_floating_point
    assert not fg.int64.is_floating_point
    assert fg.int8.is_signed and not fg.uint8.is_signed


def test_pytorch_aliases():
    assert fg.float is fg.float32 or fg.float == fg.float32
    assert fg.double == fg.float64
    assert fg.half == fg.float16
    assert fg.long == fg.int64
    assert fg.int == fg.int32
    assert fg.short == fg.int16


def test_dtype_like_arguments():
    for like, expected in [("float64", fg.float64), (np.float64, fg.float64),
                           (np.dtype("int16"), fg.int16), (bool, fg.bool), (int, fg.int64),
                           (float, fg.float32), ("bfloat16", fg.bfloat16), (np.uint32, fg.uint32)]:
        assert fg.zeros(1, dtype=like).dtype == expected
    for bad in ("float128", "complex64", np.complex128, object, 3, "x"):
        with pytest.raises(TypeError):
            fg.zeros(1, dtype=bad)


def test_dtype_pickles():
    import pickle

    for name in ALL_DTYPE_NAMES:
        d = getattr(fg, name)
        assert pickle.loads(pickle.dumps(d)) == d


# ---- casts against numpy ---------------------------------------------------------------

CANDIDATES = [0, 1, -1, 2, -2, 3, 7, 100, 127, -128, 200, 255, 256, -129, 1000, 32767, -32768,
              65535, 65536, 2**31 - 1, -(2**31), 2**32 - 1, 2**40, -(2**40), 2**63 - 1, 0.5, -0.5,
              1.5, -2.5, 2.75, 0.1, 1e-3, 123.25, -77.75, 65504.0, 1e5, 3e38, 1e300,
              math.nan, math.inf, -math.inf]


def source_values(src):
    """Candidate values that ``src`` holds exactly (so the numpy source is well defined)."""
    dt = np.dtype(src)
    out = []
    for v in CANDIDATES:
        if dt == np.bool_:
            continue
        if dt.kind in "iu":
            info = np.iinfo(dt)
            if isinstance(v, int) and info.min <= v <= info.max:
                out.append(v)
        else:
            with np.errstate(all="ignore"):
                x = np.array(v, dt)
            if np.isnan(x) or np.isinf(x) and isinstance(v, float) and math.isinf(v):
                out.append(x)
            elif np.isfinite(x) and float(x) == v:
                out.append(x)
    if dt == np.bool_:
        return np.array([True, False, True])
    return np.array(out, dtype=dt)


def defined_cast(a, dst):
    """Drop NaN/inf/out-of-range float -> int casts (undefined in numpy)."""
    d = np.dtype(dst)
    if a.dtype.kind == "f" and d.kind in "iu":
        info = np.iinfo(d)
        with np.errstate(all="ignore"):
            t = np.trunc(a.astype(np.float64))
        ok = np.isfinite(t) & (t >= info.min) & (t <= info.max)
        # float64 cannot hold 2**63 - 1 / 2**64 - 1: keep a margin at the top of 64-bit types
        if d.itemsize == 8:
            ok &= t < 2.0 ** (63 if d.kind == "i" else 64) - 2048
        return a[ok]
    return a


METHODS = {"float": fg.float32, "double": fg.float64, "half": fg.float16, "long": fg.int64,
           "int": fg.int32, "short": fg.int16, "byte": fg.uint8, "bool": fg.bool,
           "bfloat16": fg.bfloat16}


@pytest.mark.parametrize("src,dst", list(itertools.product(NP_DTYPES, NP_DTYPES)))
def test_astype_matches_numpy(src, dst):
    a = defined_cast(source_values(NP_DTYPES[src]), NP_DTYPES[dst])
    t = fg.tensor(a)
    assert t.dtype == getattr(fg, src)
    with np.errstate(all="ignore"):
        expected = a.astype(NP_DTYPES[dst])
    target = getattr(fg, dst)
    results = [t.astype(target), t.to(target), t.to(dtype=target), t.astype(dst),
               t.astype(np.dtype(NP_DTYPES[dst]))]
    results += [getattr(t, m)() for m, d in METHODS.items() if d == target]
    for r in results:
        assert r.dtype == target
        assert_equal(r, expected)
    # a strided, non-contiguous source converts the same way
    if a.size >= 2:
        assert_equal(t[::-2].astype(target), expected[::-2])


@pytest.mark.parametrize("name", ALL_DTYPE_NAMES)
def test_astype_copy_semantics(name):
    d = getattr(fg, name)
    t = fg.ones(3, dtype=d)
    assert t.astype(d, copy=False).shares_memory_with(t)
    assert not t.astype(d).shares_memory_with(t)  # astype copies by default (numpy)
    assert t.to(d).shares_memory_with(t)  # to() does not (PyTorch)
    assert not t.to(d, copy=True).shares_memory_with(t)


def float32_to_bf16_rne(x: np.ndarray) -> np.ndarray:
    """Round float32 values to bfloat16 (round to nearest even), returned as float32."""
    bits = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    return (rounded & 0xFFFFFFFF).astype(np.uint32).view(np.float32)


@given(st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=50))
def test_bfloat16_exact_values_survive(high_bits):
    bits = (np.asarray(high_bits, np.uint32) << 16)
    x = bits.view(np.float32)
    t = fg.tensor(x).bfloat16()
    assert t.dtype == fg.bfloat16
    back = np.asarray(t.float())
    nan = np.isnan(x)
    assert np.isnan(back[nan]).all()
    np.testing.assert_array_equal(back[~nan].view(np.uint32), bits[~nan])  # exact, signed zeros too
    assert fg.tensor(x, dtype=fg.bfloat16).float().tolist() == t.float().tolist() or nan.any()


@given(st.lists(st.floats(width=32, allow_nan=False), min_size=1, max_size=50))
def test_bfloat16_rounds_to_nearest_even(values):
    x = np.asarray(values, np.float32)
    got = np.asarray(fg.tensor(x).astype(fg.bfloat16).astype(fg.float32))
    np.testing.assert_array_equal(got, float32_to_bf16_rne(x))


def test_bfloat16_examples():
    t = fg.tensor([1.0, 1 + 2**-8, 1 + 3 * 2**-8, -2.5, 3.0e38, 0.0], dtype=fg.float32)
    b = t.bfloat16()
    assert b.float().tolist() == [1.0, 1.0, 1 + 2**-6, -2.5, float(float32_to_bf16_rne(
        np.array([3.0e38], np.float32))[0]), 0.0]
    assert b.tolist()[0] == 1.0
    assert fg.tensor([1, 2, 3]).bfloat16().long().tolist() == [1, 2, 3]
    assert b.double().dtype == fg.float64


# ---- Python conversions ----------------------------------------------------------------


@pytest.mark.parametrize("name", list(NP_DTYPES))
def test_item_and_tolist_types(name):
    a = arange_array((2, 3), NP_DTYPES[name])
    t = fg.tensor(a)
    assert t.tolist() == a.tolist()
    assert t[1, 2].item() == a[1, 2].item()
    assert type(t[1, 2].item()) is type(a[1, 2].item())
    assert fg.tensor(a[0, 0]).tolist() == a[0, 0].item()


def test_python_number_conversions():
    assert float(fg.tensor([2.5])) == 2.5
    assert int(fg.tensor(7)) == 7
    assert int(fg.tensor(-2.7)) == -2
    assert bool(fg.tensor([0])) is False
    assert bool(fg.tensor(3.0)) is True
    assert int(fg.tensor(2**64 - 1, dtype=fg.uint64)) == 2**64 - 1
    assert fg.tensor(2**64 - 1, dtype=fg.uint64).item() == 2**64 - 1
    assert f"{fg.tensor(2.5):.2f}" == "2.50"
    for fn in (float, int, bool, lambda t: t.item()):
        with pytest.raises(ValueError):
            fn(fg.tensor([1, 2]))
        with pytest.raises(ValueError):
            fn(fg.zeros(0))
    with pytest.raises(ValueError):
        int(fg.tensor(float("nan")))


def test_index_protocol():
    assert [10, 20, 30][fg.tensor(1)] == 20
    assert [10, 20, 30][fg.tensor(-1, dtype=fg.int8)] == 30
    assert list(range(10))[fg.tensor(2):fg.tensor(5)] == [2, 3, 4]
    assert "abc"[fg.tensor(True)] == "b"
    with pytest.raises(TypeError):
        [1, 2][fg.tensor(1.0)]
    with pytest.raises((TypeError, ValueError)):
        [1, 2][fg.tensor([0, 1])]


@given(shapes(1, 3, 0, 4))
def test_len_and_iteration(shape):
    a = arange_array(shape)
    t = fg.tensor(a)
    assert len(t) == shape[0]
    rows = list(t)
    assert len(rows) == shape[0]
    for r, e in zip(rows, a):
        assert_equal(r, np.asarray(e))
        assert r.shares_memory_with(t)


def test_len_of_0d_raises():
    with pytest.raises(TypeError):
        len(fg.tensor(1))
    with pytest.raises(TypeError):
        iter(fg.tensor(1))


@given(shapes(0, 3), st.sampled_from(list(NP_DTYPES)))
def test_size_numel_nbytes(shape, name):
    t = fg.zeros(shape, dtype=getattr(fg, name))
    a = np.zeros(shape, NP_DTYPES[name])
    assert t.size == a.size == t.numel() == fg.numel(t)
    assert t.ndim == a.ndim == t.dim()
    assert t.nbytes == a.nbytes
    assert t.itemsize == a.itemsize
    assert t.shape == a.shape
    assert t.is_floating_point() == (a.dtype.kind == "f")


# ---- printing ----------------------------------------------------------------------------


def test_repr_simple():
    assert repr(fg.tensor([1, 2, 3])) == "tensor([1, 2, 3])"
    assert repr(fg.tensor([1.5, 2.0])) == "tensor([1.5, 2. ])"
    assert repr(fg.tensor(3)) == "tensor(3)"
    assert repr(fg.tensor([True, False])) == "tensor([ True, False])"
    assert repr(fg.tensor([1, 2], dtype=fg.int32)) == "tensor([1, 2], dtype=ferrograd.int32)"
    assert repr(fg.tensor([1.0], dtype=fg.float64)) == "tensor([1.], dtype=ferrograd.float64)"
    assert str(fg.tensor([[1, 2], [3, 4]])) == "tensor([[1, 2],\n        [3, 4]])"
    assert "dtype=ferrograd.bfloat16" in repr(fg.tensor([1.0], dtype=fg.bfloat16))
    assert "1.5" in repr(fg.tensor([1.5], dtype=fg.bfloat16))


@given(shapes(0, 3, 0, 4), st.sampled_from(list(NP_DTYPES)))
def test_repr_matches_numpy_values(shape, name):
    a = arange_array(shape, NP_DTYPES[name])
    t = fg.tensor(a)
    body = np.array2string(a, separator=", ", prefix="tensor(")
    r = repr(t)
    assert r.startswith("tensor(" + body)
    default = {"int64", "bool", "float32"}
    assert ("dtype=ferrograd." + name in r) == (name not in default or (a.size == 0 and name != "float32"))
    assert str(t) == r


def test_repr_summarises_large_tensors():
    r = repr(fg.arange(5000))
    assert "..." in r
    assert r.startswith("tensor([   0,    1,    2, ...,")
    assert r.endswith("4997, 4998, 4999])")
    assert len(r) < 200
    r2 = repr(fg.zeros(100, 100))
    assert "..." in r2 and r2.count("\n") < 20
    assert "..." not in repr(fg.arange(10))


def test_repr_of_views_and_empty():
    t = fg.arange(6).reshape(2, 3)
    assert repr(t.T) == "tensor([[0, 3],\n        [1, 4],\n        [2, 5]])"
    assert repr(t[:, ::-2]) == "tensor([[2, 0],\n        [5, 3]])"
    assert repr(fg.zeros(0)) == "tensor([])"
    assert "size=(2, 0)" in repr(fg.zeros(2, 0))
