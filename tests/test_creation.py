"""Creation functions: tensor/asarray, filled tensors, ranges, eye, random, defaults."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import (
    NP_DTYPES,
    arange_array,
    assert_equal,
    dtypes_on,
    index_dtype,
    np_dtypes,
    shapes,
)
from hypothesis import given
from hypothesis import strategies as st

import ferrograd as fg

# ---- tensor() / asarray() -------------------------------------------------------------


@given(shapes(0, 3, 0, 4), st.sampled_from(["int", "float", "bool"]))
def test_tensor_from_nested_lists(shape, kind):
    a = arange_array(shape)
    if kind == "float":
        a = a * 0.5
        expected = a.astype(np.float32)  # Python floats -> float32 (the default dtype)
    elif kind == "bool":
        a = a % 2 == 0
        expected = a
    else:
        expected = a  # Python ints -> int64
    if a.size == 0:
        expected = expected.astype(np.float32)  # [] has no element type: default float
    data = a.tolist()
    if a.size == 0 and a.ndim != 1:
        return  # an empty nested list does not carry its shape
    t = fg.tensor(data)
    assert_equal(t, expected)
    assert_equal(fg.asarray(data), expected)


def test_default_dtypes_of_python_scalars():
    assert fg.tensor(3).dtype == fg.int64
    assert fg.tensor(3.0).dtype == fg.float32
    assert fg.tensor(True).dtype == fg.bool
    assert fg.tensor([1, 2]).dtype == fg.int64
    assert fg.tensor([1, 2.5]).dtype == fg.float32
    assert fg.tensor([True, False]).dtype == fg.bool
    assert fg.tensor([]).dtype == fg.float32
    assert fg.tensor([]).shape == (0,)
    assert fg.tensor(3).shape == ()
    assert fg.tensor(3).item() == 3
    assert fg.tensor(2.5).item() == 2.5
    assert fg.tensor(True).item() is True
    assert fg.tensor((1, 2, 3)).tolist() == [1, 2, 3]


@given(shapes(0, 3), np_dtypes)
def test_numpy_arrays_keep_dtype(shape, dtype):
    a = arange_array(shape, dtype)
    t = fg.tensor(a)
    assert_equal(t, a)
    assert t.dtype == getattr(fg, np.dtype(dtype).name)
    assert not t.shares_memory_with(fg.asarray(a)) or a.size == 0
    s = fg.asarray(a)
    assert_equal(s, a)
    if a.size:
        assert np.shares_memory(np.asarray(s), a)  # asarray shares when it can
        assert not np.shares_memory(np.asarray(t), a)  # tensor() always copies


@given(np_dtypes, st.integers(0, 100))
def test_numpy_scalars_keep_dtype_and_value(dtype, value):
    """numpy scalars keep their dtype, as in PyTorch (np.float64 subclasses float!)."""
    v = np.asarray(value).astype(dtype)[()]
    assert isinstance(v, np.generic)
    for t in (fg.tensor(v), fg.asarray(v)):
        assert t.shape == ()
        assert t.item() == v.item()
        assert t.dtype == getattr(fg, np.dtype(dtype).name)
    many = [fg.tensor(np.asarray(value + i).astype(dtype)[()]) for i in range(3)]
    assert [m.item() for m in many] == [np.asarray(value + i).astype(dtype).item() for i in range(3)]


def test_from_tensor():
    t = fg.arange(6).reshape(2, 3)
    c = fg.tensor(t)
    assert_equal(c, np.arange(6).reshape(2, 3))
    assert not c.shares_memory_with(t)
    a = fg.asarray(t)
    assert a.shares_memory_with(t)
    assert fg.asarray(t, copy=False).shares_memory_with(t)
    assert not fg.asarray(t, copy=True).shares_memory_with(t)
    f = fg.asarray(t, dtype=fg.float64)
    assert_equal(f, np.arange(6.0).reshape(2, 3))
    with pytest.raises(ValueError):
        fg.asarray(t, dtype=fg.float64, copy=False)


def test_from_bytes_and_bytearray():
    t = fg.tensor(b"\x01\x02\xff")
    assert_equal(t, np.array([1, 2, 255], np.uint8))
    ba = bytearray(b"\x00\x05\x07")
    s = fg.asarray(ba)
    assert_equal(s, np.array([0, 5, 7], np.uint8))
    s[0] = 9  # asarray shares a writable buffer
    assert ba[0] == 9
    c = fg.tensor(ba)
    c[1] = 1
    assert ba[1] == 5
    assert_equal(fg.asarray(memoryview(b"ab")), np.array([97, 98], np.uint8))
    ro = fg.asarray(b"xyz")
    with pytest.raises(RuntimeError):
        ro[0] = 1


@given(st.sampled_from(list(NP_DTYPES)), st.sampled_from(list(NP_DTYPES)))
def test_dtype_argument_converts(src, dst):
    a = np.array([0, 1, 2, 3, 100], dtype=NP_DTYPES[src])
    t = fg.tensor(a, dtype=getattr(fg, dst))
    assert t.dtype == getattr(fg, dst)
    assert_equal(t, a.astype(NP_DTYPES[dst]))
    # dtype given as a numpy dtype or a string works too
    assert fg.tensor(a, dtype=np.dtype(NP_DTYPES[dst])).dtype == getattr(fg, dst)
    assert fg.asarray(a, dtype=dst).dtype == getattr(fg, dst)


def test_tensor_from_python_list_with_dtype():
    assert_equal(fg.tensor([1.7, -2.2], dtype=fg.int32), np.array([1.7, -2.2]).astype(np.int32))
    assert_equal(fg.tensor([1, 2], dtype=fg.float64), np.array([1.0, 2.0]))
    assert_equal(fg.tensor([[0, 2]], dtype=fg.bool), np.array([[False, True]]))
    assert fg.tensor([1.5], dtype=fg.bfloat16).tolist() == [1.5]


@given(shapes(1, 3, 1), np_dtypes)
def test_asarray_copy_false_shares(shape, dtype):
    a = arange_array(shape, dtype)
    t = fg.asarray(a, copy=False)
    assert np.shares_memory(np.asarray(t), a)
    t[(0,) * len(shape)] = 1
    assert a[(0,) * len(shape)] == 1
    with pytest.raises(ValueError):
        fg.asarray(a, dtype=fg.float16 if dtype != np.float16 else fg.float32, copy=False)
    c = fg.asarray(a, copy=True)
    assert not np.shares_memory(np.asarray(c), a)
    # a strided numpy view is still shared
    v = a[..., ::-1]
    assert np.shares_memory(np.asarray(fg.asarray(v, copy=False)), a)


def test_asarray_copy_false_for_python_data_raises():
    with pytest.raises(ValueError):
        fg.asarray([1, 2, 3], copy=False)
    with pytest.raises(ValueError):
        fg.asarray(3.0, copy=False)


def test_ragged_and_non_numeric_input():
    with pytest.raises((TypeError, ValueError)):
        fg.tensor([[1, 2], [3]])
    with pytest.raises(TypeError):
        fg.tensor(["a", "b"])
    with pytest.raises(TypeError):
        fg.tensor(np.array(["a"]))
    with pytest.raises(TypeError):
        fg.tensor({1: 2})
    with pytest.raises(TypeError):
        fg.tensor(np.array([1 + 2j]))


# ---- filled tensors -----------------------------------------------------------------------


@given(shapes(0, 4), st.data())
def test_zeros_ones_empty_full(device, shape, data):
    name = data.draw(st.sampled_from([None, *dtypes_on(device, ["float32", "float64", "int32",
                                                                "uint8", "bool", "float16",
                                                                "uint32"])]))
    dt = None if name is None else getattr(fg, name)
    npdt = np.float32 if name is None else NP_DTYPES[name]
    for fn, val in ((fg.zeros, 0), (fg.ones, 1)):
        for t in (fn(shape, dtype=dt, device=device), fn(*shape, dtype=dt, device=device),
                  fn(list(shape), dtype=dt, device=device)):
            assert t.device.type == device
            assert_equal(t, np.full(shape, val, npdt))
            assert t.is_contiguous()
    e = fg.empty(*shape, dtype=dt, device=device)
    assert e.shape == shape and e.dtype == (dt or fg.float32) and e.device.type == device
    # an int fill value's default dtype: int64, int32 on the GPU
    assert_equal(fg.full(shape, 3, dtype=dt, device=device),
                 np.full(shape, 3, npdt if dt else index_dtype(device)))
    base = fg.zeros(shape, dtype=dt, device=device)
    for like in (fg.zeros_like(base), fg.ones_like(base), fg.full_like(base, 2),
                 fg.empty_like(base)):
        assert like.device == base.device
    assert_equal(fg.zeros_like(base), np.zeros(shape, npdt))
    assert_equal(fg.ones_like(base), np.ones(shape, npdt))
    assert_equal(fg.full_like(base, 2), np.full(shape, 2, npdt))
    assert fg.empty_like(base).shape == shape and fg.empty_like(base).dtype == base.dtype
    other = fg.int16 if device == "cpu" else fg.uint32
    assert_equal(fg.zeros_like(base, dtype=other), np.zeros(shape, NP_DTYPES[str(other)[len("ferrograd."):]]))
    assert not fg.zeros_like(base).shares_memory_with(base)


def test_full_default_dtype_follows_fill_value():
    assert fg.full((2,), 3).dtype == fg.int64
    assert fg.full((2,), 3.5).dtype == fg.float32
    assert fg.full((2,), True).dtype == fg.bool
    assert fg.full(3, 1.5).shape == (3,)
    assert_equal(fg.full((2, 2), -7), np.full((2, 2), -7, np.int64))
    assert_equal(fg.full((2,), fg.tensor(4.0)), np.full(2, 4, np.float32))


def test_zero_size_and_scalar_shapes():
    assert fg.zeros(()).shape == ()
    assert fg.zeros().shape == ()
    assert fg.zeros(0).shape == (0,)
    assert fg.ones(2, 0, 3).size == 0
    assert fg.zeros(()).item() == 0.0


# ---- arange / linspace / eye ----------------------------------------------------------------


@given(st.integers(-20, 20), st.integers(-20, 20), st.integers(-5, 5).filter(bool))
def test_arange_int(device, start, stop, step):
    it = index_dtype(device)  # the default int: int64, int32 on the GPU
    assert_equal(fg.arange(start, stop, step, device=device), np.arange(start, stop, step, dtype=it))
    if start >= 0:
        assert_equal(fg.arange(start, device=device), np.arange(start, dtype=it))


@given(st.integers(-8, 8), st.integers(-8, 8), st.sampled_from([0.5, 0.25, -0.5, 1.0, -0.25]))
def test_arange_float(device, start, stop, step):
    start, stop = start / 2, stop / 2  # exactly representable, so lengths are unambiguous
    t = fg.arange(start, stop, step, device=device)
    expected = np.arange(start, stop, step).astype(np.float32)
    assert_equal(t, expected)
    if device == "cpu":  # float64: not on the GPU
        assert_equal(fg.arange(start, stop, step, dtype=fg.float64), np.arange(start, stop, step))


def test_arange_dtypes_and_errors():
    assert fg.arange(5).dtype == fg.int64
    assert fg.arange(5.0).dtype == fg.float32
    assert fg.arange(0, 5, 1.0).dtype == fg.float32
    assert fg.arange(5, dtype=fg.uint8).dtype == fg.uint8
    assert_equal(fg.arange(5, dtype=fg.float64), np.arange(5.0))
    assert_equal(fg.arange(5, 0, -1), np.arange(5, 0, -1))
    assert_equal(fg.arange(0, 1, 0.1), np.arange(0, 1, 0.1).astype(np.float32))
    with pytest.raises(ValueError):
        fg.arange(0, 5, 0)
    with pytest.raises(ValueError):
        fg.arange(0, 5, 0.0)


@given(st.integers(-10, 10), st.integers(-10, 10), st.integers(0, 12), st.booleans())
def test_linspace(device, start, stop, num, endpoint):
    expected = np.linspace(start, stop, num, endpoint=endpoint)
    # float64 on the CPU; float32 on the GPU, within two float32 ulps of 10
    dt, atol = (fg.float64, 1e-13) if device == "cpu" else (fg.float32, 2e-6)
    t = fg.linspace(start, stop, num, endpoint=endpoint, dtype=dt, device=device)
    assert t.device.type == device
    # tolerance: two ulps of the largest magnitude (numpy and ferrograd may round differently)
    np.testing.assert_allclose(np.asarray(t), expected, rtol=0, atol=atol)
    assert t.shape == (num,)
    if num:
        assert np.asarray(t)[0] == start
    if num > 1 and endpoint:
        assert np.asarray(t)[-1] == stop
    s = fg.linspace(start, stop, steps=num, device=device)
    assert s.dtype == fg.float32
    np.testing.assert_allclose(np.asarray(s), np.linspace(start, stop, num).astype(np.float32),
                               rtol=0, atol=2e-6)


def test_linspace_errors():
    with pytest.raises(TypeError):
        fg.linspace(0, 1)
    with pytest.raises(ValueError):
        fg.linspace(0, 1, -1)


@given(st.integers(0, 6), st.none() | st.integers(0, 6), st.integers(-7, 7), st.data())
def test_eye(device, n, m, k, data):
    name = data.draw(st.sampled_from([None, *dtypes_on(device, ["float64", "int32", "bool"])]))
    dt = None if name is None else getattr(fg, name)
    npdt = np.float32 if name is None else NP_DTYPES[name]
    expected = np.eye(n, m, k, dtype=npdt)
    if m is None:
        assert_equal(fg.eye(n, k=k, dtype=dt, device=device), expected)
    else:
        assert_equal(fg.eye(n, m, k=k, dtype=dt, device=device), expected)


def test_eye_negative_raises():
    with pytest.raises(ValueError):
        fg.eye(-1)
    with pytest.raises(ValueError):
        fg.eye(2, -3)


# ---- random -------------------------------------------------------------------------------


@given(shapes(0, 3, 0, 6))
def test_random_shapes_and_dtypes(shape):
    for t in (fg.rand(shape), fg.rand(*shape), fg.randn(*shape), fg.uniform(size=shape),
              fg.normal(size=shape)):
        assert t.shape == shape and t.dtype == fg.float32
    r = fg.randint(0, 10, shape)
    assert r.shape == shape and r.dtype == fg.int64
    assert fg.rand(shape, dtype=fg.float64).dtype == fg.float64
    assert fg.randint(-3, 3, shape, dtype=fg.int8).dtype == fg.int8


def test_rand_range_and_moments():
    fg.manual_seed(0)
    n = 200_000
    u = np.asarray(fg.rand(n, dtype=fg.float64))
    assert u.min() >= 0.0 and u.max() < 1.0
    # tolerances: ~8 standard errors of the mean / variance at n = 200k
    assert abs(u.mean() - 0.5) < 0.006
    assert abs(u.var() - 1 / 12) < 0.002
    z = np.asarray(fg.randn(n, dtype=fg.float64))
    assert abs(z.mean()) < 0.02 and abs(z.std() - 1) < 0.02
    assert abs(np.mean(z ** 3)) < 0.06  # symmetric
    g = np.asarray(fg.normal(3.0, 2.0, (n,)))
    assert abs(g.mean() - 3) < 0.04 and abs(g.std() - 2) < 0.04
    w = np.asarray(fg.uniform(-2.0, 5.0, n))
    assert w.min() >= -2 and w.max() < 5 and abs(w.mean() - 1.5) < 0.05
    f32 = np.asarray(fg.rand(n))
    assert f32.min() >= 0.0 and f32.max() < 1.0


def test_randint_range_and_coverage():
    fg.manual_seed(1)
    r = np.asarray(fg.randint(-3, 4, (20_000,)))
    assert r.min() == -3 and r.max() == 3
    counts = np.bincount(r + 3)
    assert (abs(counts - 20_000 / 7) < 300).all()  # ~6 standard deviations
    h = np.asarray(fg.randint(5, (1000,)))  # randint(high, size)
    assert h.min() >= 0 and h.max() <= 4
    big = np.asarray(fg.randint(0, 2**62, (1000,)))
    assert big.min() >= 0 and big.max() > 2**60
    u8 = np.asarray(fg.randint(0, 256, (5000,), dtype=fg.uint8))
    assert u8.dtype == np.uint8 and u8.max() == 255 and u8.min() == 0


def test_randint_errors():
    with pytest.raises(ValueError):
        fg.randint(5, 5, (3,))
    with pytest.raises(ValueError):
        fg.randint(5, 2, (3,))
    with pytest.raises(TypeError):
        fg.randint(5)


def test_manual_seed_reproducible():
    fg.manual_seed(42)
    a = np.asarray(fg.rand(100)).copy()
    b = np.asarray(fg.randn(3, 4)).copy()
    fg.manual_seed(42)
    np.testing.assert_array_equal(np.asarray(fg.rand(100)), a)
    np.testing.assert_array_equal(np.asarray(fg.randn(3, 4)), b)
    fg.manual_seed(43)
    assert not np.array_equal(np.asarray(fg.rand(100)), a)
    # consecutive calls differ
    fg.manual_seed(42)
    fg.rand(100)
    assert not np.array_equal(np.asarray(fg.rand(100)), a)
    assert fg.initial_seed() == 42


def test_generator_objects():
    g1 = fg.Generator().manual_seed(3)
    g2 = fg.Generator()
    g2.manual_seed(3)
    a = np.asarray(fg.rand(50, generator=g1)).copy()
    fg.manual_seed(99)  # the default generator does not affect explicit ones
    np.testing.assert_array_equal(np.asarray(fg.rand(50, generator=g2)), a)
    assert not np.array_equal(np.asarray(fg.rand(50, generator=g1)), a)
    g3 = fg.Generator().manual_seed(4)
    assert not np.array_equal(np.asarray(fg.rand(50, generator=g3)), a)
    for fn in (lambda g: fg.randn(7, generator=g), lambda g: fg.randint(0, 9, (7,), generator=g),
               lambda g: fg.normal(0.0, 1.0, 7, generator=g),
               lambda g: fg.uniform(0.0, 1.0, 7, generator=g)):
        x = fn(fg.Generator().manual_seed(5)).tolist()
        assert x == fn(fg.Generator().manual_seed(5)).tolist()
    st_ = g1.get_state()
    x = fg.rand(5, generator=g1).tolist()
    g1.set_state(st_)
    assert fg.rand(5, generator=g1).tolist() == x


def test_rand_like():
    base = fg.zeros(3, 2, dtype=fg.float64)
    assert fg.rand_like(base).shape == (3, 2) and fg.rand_like(base).dtype == fg.float64
    assert fg.randn_like(base).dtype == fg.float64


# ---- default dtype ------------------------------------------------------------------------


def test_set_default_dtype(restore_default_dtype):
    fg.set_default_dtype(fg.float64)
    assert fg.get_default_dtype() == fg.float64
    assert fg.zeros(2).dtype == fg.float64
    assert fg.ones(2).dtype == fg.float64
    assert fg.rand(2).dtype == fg.float64
    assert fg.randn(2).dtype == fg.float64
    assert fg.tensor([1.0]).dtype == fg.float64
    assert fg.tensor(1.5).dtype == fg.float64
    assert fg.arange(1.0).dtype == fg.float64
    assert fg.linspace(0, 1, 3).dtype == fg.float64
    assert fg.eye(2).dtype == fg.float64
    assert fg.tensor([1]).dtype == fg.int64  # ints are unaffected
    fg.set_default_dtype(fg.float32)
    assert fg.zeros(2).dtype == fg.float32


def test_set_default_dtype_rejects_non_float(restore_default_dtype):
    for bad in (fg.int32, fg.bool, fg.float16, fg.bfloat16):
        with pytest.raises(TypeError):
            fg.set_default_dtype(bad)
    with pytest.raises(TypeError):
        fg.set_default_dtype("nope")
    assert fg.get_default_dtype() == fg.float32


# ---- devices ------------------------------------------------------------------------------


def test_devices():
    cpu = fg.device("cpu")
    assert cpu == "cpu"
    assert cpu == fg.device("cpu")
    assert str(cpu) == "cpu"
    assert cpu.type == "cpu"
    assert fg.zeros(2, device=cpu).device == "cpu"
    assert fg.zeros(2, device="cpu").device == "cpu"
    assert fg.tensor([1], device=cpu).device == "cpu"
    assert fg.arange(3, device=cpu).tolist() == [0, 1, 2]
    assert fg.rand(2, device="cpu").shape == (2,)
    assert fg.get_default_device() == "cpu"
    assert fg.zeros(2).to("cpu").device == "cpu"
    assert fg.zeros(2).to(cpu, fg.int32).dtype == fg.int32
    assert {fg.device("cpu"): 1}["cpu"] == 1


def test_gpu_device_names_and_creation():
    """GPU names parse everywhere; creating on "gpu" works where an adapter exists and
    raises a RuntimeError (saying how to get a driver) where none does."""
    gpu = fg.device("gpu")
    assert gpu != "cpu" and gpu.type == "gpu" and fg.device("gpu:1").index == 1
    makers = (lambda: fg.zeros(2, device="gpu"), lambda: fg.ones(2, device=gpu),
              lambda: fg.tensor([1.0], device="gpu"), lambda: fg.arange(3, device="gpu:0"),
              lambda: fg.rand(2, device=gpu), lambda: fg.eye(2, device="gpu"),
              lambda: fg.zeros(2).to("gpu"))
    for make in makers:
        if fg.gpu.is_available():
            assert make().device.type == "gpu"
        else:
            with pytest.raises(RuntimeError, match="no GPU"):
                make()
    if fg.gpu.is_available():
        try:
            fg.set_default_device("gpu")
            assert fg.get_default_device() == "gpu" and fg.zeros(2).device.type == "gpu"
        finally:
            fg.set_default_device("cpu")
    else:
        with pytest.raises(RuntimeError):
            fg.set_default_device("gpu")
    assert fg.get_default_device() == "cpu"
    with pytest.raises(ValueError):
        fg.device("tpu")
    with pytest.raises(TypeError):
        fg.zeros(2, device=3)


def test_requires_grad_on_creation():
    for t in (fg.zeros(2, requires_grad=True), fg.tensor([1.0], requires_grad=True),
              fg.randn(3, requires_grad=True), fg.full((2,), 3.0, requires_grad=True)):
        assert t.requires_grad and t.is_leaf and t.grad is None
    assert not fg.zeros(2).requires_grad
    with pytest.raises(RuntimeError, match="floating point"):
        fg.zeros(2, dtype=fg.int64, requires_grad=True)
