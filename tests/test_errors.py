"""Error handling: a fuzz test over the public API plus specific error classes.

Every call must either return or raise one of the documented exception classes; anything
else (OverflowError, SystemError, AttributeError, a crash or an abort) is a bug.
"""

from __future__ import annotations

import math
import resource

import numpy as np
import pytest
from conftest import assert_runs_cleanly
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ferrograd as fg

ALLOWED = (ValueError, TypeError, IndexError, RuntimeError, MemoryError)

HUGE = [2**31, 2**32, 2**40, 2**62, 2**63 - 1, 2**63, 2**64, 2**100,
        -(2**31), -(2**40), -(2**62), -(2**63), -(2**64)]
# Sizes are small or absurd, never "merely large": a test must not allocate gigabytes.
sizes = st.one_of(st.integers(-3, 5), st.sampled_from(HUGE))
ints = st.one_of(st.integers(-6, 6), st.sampled_from(HUGE))
junk = st.sampled_from([None, "ab", 1.5, float("nan"), float("inf"), [1, [2]], (), [], {},
                        object(), b"xy", 3 + 4j, np.float64(2.0), np.array([1.5]), slice(1)])
int_like = st.one_of(ints, junk)
shape_like = st.one_of(st.lists(sizes, max_size=4).map(tuple), st.lists(sizes, max_size=3),
                       sizes, junk, st.lists(st.one_of(sizes, junk), max_size=3))
axes_like = st.one_of(ints, st.lists(ints, max_size=4).map(tuple), junk, st.none())

DTYPES = [getattr(fg, n) for n in ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16",
                                   "uint32", "uint64", "float16", "bfloat16", "float32", "float64")]
dtype_like = st.one_of(st.sampled_from(DTYPES), st.none(),
                       st.sampled_from(["float32", "int8", "nope", "", np.complex64, np.float64,
                                        np.dtype("U3"), object, int, float, bool, str, 3, 2.5,
                                        fg.device("cpu")]))
device_like = st.sampled_from([None, "cpu", fg.device("cpu"), "gpu", "gpu:0", "gpu:x", "tpu", 3,
                               "", "cpu:0"])


@st.composite
def tensors(draw):
    """Small tensors of any dtype and layout (views, broadcasts, 0-d, empty)."""
    shape = draw(st.lists(st.integers(0, 4), max_size=4).map(tuple))
    dtype = draw(st.sampled_from(DTYPES))
    t = fg.arange(math.prod(shape)).reshape(shape).astype(dtype)
    kind = draw(st.sampled_from(["plain", "T", "flip", "expand", "slice"]))
    if kind == "T":
        t = t.T
    elif kind == "flip":
        t = t.flip()
    elif kind == "expand":
        t = t.unsqueeze(0).expand(2, *shape)
    elif kind == "slice" and t.ndim:
        t = t[::-2]
    return t


tensor_like = st.one_of(tensors(), tensors(), junk, st.lists(st.integers(-3, 3), max_size=4),
                        st.builds(lambda n: np.arange(n), st.integers(0, 4)))
index_like = st.one_of(ints, junk, st.none(), st.just(Ellipsis), st.booleans(),
                       st.lists(ints, max_size=3), st.tuples(ints, ints),
                       st.tuples(st.just(Ellipsis), ints, st.none()),
                       st.builds(slice, st.none() | ints, st.none() | ints, st.none() | ints),
                       tensors(), st.builds(lambda n: np.arange(n) % 2 == 0, st.integers(0, 5)))
scalar_like = st.one_of(ints, st.floats(allow_nan=True), st.booleans(), junk, tensors())


def d(data, strategy):
    return data.draw(strategy)


# Each entry draws its own arguments and calls one public function.
OPS = {
    # creation
    "tensor": lambda x: fg.tensor(d(x, tensor_like), dtype=d(x, dtype_like)),
    "asarray": lambda x: fg.asarray(d(x, tensor_like), dtype=d(x, dtype_like),
                                    copy=d(x, st.sampled_from([None, True, False]))),
    "zeros": lambda x: fg.zeros(d(x, shape_like), dtype=d(x, dtype_like), device=d(x, device_like)),
    "zeros_varargs": lambda x: fg.zeros(*d(x, st.lists(sizes, max_size=3))),
    "ones": lambda x: fg.ones(d(x, shape_like), dtype=d(x, dtype_like)),
    "empty": lambda x: fg.empty(d(x, shape_like), dtype=d(x, dtype_like)),
    "full": lambda x: fg.full(d(x, shape_like), d(x, scalar_like), dtype=d(x, dtype_like)),
    "zeros_like": lambda x: fg.zeros_like(d(x, tensor_like), dtype=d(x, dtype_like)),
    "ones_like": lambda x: fg.ones_like(d(x, tensor_like)),
    "empty_like": lambda x: fg.empty_like(d(x, tensor_like)),
    "full_like": lambda x: fg.full_like(d(x, tensor_like), d(x, scalar_like)),
    "rand_like": lambda x: fg.rand_like(d(x, tensor_like), dtype=d(x, dtype_like)),
    "arange": lambda x: fg.arange(d(x, scalar_like), d(x, st.none() | scalar_like),
                                  d(x, scalar_like), dtype=d(x, dtype_like)),
    "linspace": lambda x: fg.linspace(d(x, scalar_like), d(x, scalar_like), d(x, int_like),
                                      endpoint=d(x, st.booleans()), dtype=d(x, dtype_like)),
    "eye": lambda x: fg.eye(d(x, int_like), d(x, st.none() | int_like), k=d(x, int_like),
                            dtype=d(x, dtype_like)),
    "rand": lambda x: fg.rand(d(x, shape_like), dtype=d(x, dtype_like)),
    "randn": lambda x: fg.randn(d(x, shape_like), dtype=d(x, dtype_like)),
    "randint": lambda x: fg.randint(d(x, scalar_like), d(x, scalar_like), d(x, shape_like),
                                    dtype=d(x, dtype_like)),
    "uniform": lambda x: fg.uniform(d(x, scalar_like), d(x, scalar_like), d(x, shape_like)),
    "normal": lambda x: fg.normal(d(x, scalar_like), d(x, scalar_like), d(x, shape_like),
                                  dtype=d(x, dtype_like)),
    "manual_seed": lambda x: fg.manual_seed(d(x, int_like)),
    "generator": lambda x: fg.rand(2, generator=fg.Generator().manual_seed(d(x, int_like))),
    "generator_arg": lambda x: fg.rand(2, generator=d(x, junk)),
    "device": lambda x: fg.device(d(x, device_like)),
    "requires_grad": lambda x: fg.zeros(2, requires_grad=d(x, st.booleans())),
    # dtypes and conversions
    "astype": lambda x: d(x, tensors()).astype(d(x, dtype_like)),
    "to": lambda x: d(x, tensors()).to(d(x, st.one_of(dtype_like, device_like))),
    "methods": lambda x: getattr(d(x, tensors()), d(x, st.sampled_from(
        ["float", "double", "half", "bfloat16", "long", "int", "short", "byte", "bool",
         "contiguous", "clone", "item", "tolist", "numpy", "__len__", "__float__", "__int__",
         "__bool__", "__index__", "__repr__", "is_contiguous", "numel", "storage_offset"])))(),
    "python_index": lambda x: [1, 2, 3][d(x, tensors())],
    "iterate": lambda x: list(d(x, tensors())),
    # views
    "reshape": lambda x: d(x, tensors()).reshape(d(x, shape_like)),
    "view": lambda x: d(x, tensors()).view(d(x, st.one_of(shape_like, dtype_like))),
    "reshape_fn": lambda x: fg.reshape(d(x, tensors()), d(x, shape_like),
                                       copy=d(x, st.sampled_from([None, True, False]))),
    "permute": lambda x: d(x, tensors()).permute(d(x, axes_like)),
    "permute_dims": lambda x: fg.permute_dims(d(x, tensors()), d(x, axes_like)),
    "transpose": lambda x: d(x, tensors()).transpose(d(x, int_like), d(x, int_like)),
    "T_mT": lambda x: (d(x, tensors()).T, d(x, tensors()).mT),
    "expand": lambda x: d(x, tensors()).expand(d(x, shape_like)),
    "broadcast_to": lambda x: fg.broadcast_to(d(x, tensor_like), d(x, shape_like)),
    "squeeze": lambda x: d(x, tensors()).squeeze(d(x, axes_like)),
    "unsqueeze": lambda x: d(x, tensors()).unsqueeze(d(x, int_like)),
    "expand_dims": lambda x: fg.expand_dims(d(x, tensors()), d(x, axes_like)),
    "flip": lambda x: fg.flip(d(x, tensors()), d(x, axes_like)),
    "narrow": lambda x: d(x, tensors()).narrow(d(x, int_like), d(x, int_like), d(x, int_like)),
    "select": lambda x: d(x, tensors()).select(d(x, int_like), d(x, int_like)),
    "diagonal": lambda x: d(x, tensors()).diagonal(d(x, int_like), d(x, int_like), d(x, int_like)),
    "unfold": lambda x: d(x, tensors()).unfold(d(x, int_like), d(x, int_like), d(x, int_like)),
    "flatten": lambda x: d(x, tensors()).flatten(d(x, int_like), d(x, int_like)),
    "unflatten": lambda x: d(x, tensors()).unflatten(d(x, int_like), d(x, shape_like)),
    "moveaxis": lambda x: fg.moveaxis(d(x, tensors()), d(x, axes_like), d(x, axes_like)),
    # indexing and in-place writes
    "getitem": lambda x: d(x, tensors())[d(x, index_like)],
    "setitem": lambda x: d(x, tensors()).clone().__setitem__(d(x, index_like), d(x, scalar_like)),
    "setitem_tensor": lambda x: d(x, tensors()).clone().__setitem__(d(x, index_like),
                                                                    d(x, tensor_like)),
    "fill_": lambda x: d(x, tensors()).clone().fill_(d(x, scalar_like)),
    "copy_": lambda x: d(x, tensors()).clone().copy_(d(x, tensor_like)),
    "zero_": lambda x: d(x, tensors()).zero_(),
    # interop
    "from_numpy": lambda x: fg.from_numpy(d(x, tensor_like)),
    "from_dlpack": lambda x: fg.from_dlpack(d(x, tensor_like)),
    "dlpack_out": lambda x: np.from_dlpack(d(x, tensors())),
    # manipulation
    "concat": lambda x: fg.concat(d(x, st.lists(tensor_like, max_size=3)), d(x, int_like)),
    "cat": lambda x: fg.cat(d(x, st.one_of(st.lists(tensors(), max_size=3), junk)),
                            d(x, int_like)),
    "stack": lambda x: fg.stack(d(x, st.lists(tensor_like, max_size=3)), d(x, int_like)),
    "split": lambda x: fg.split(d(x, tensors()), d(x, st.one_of(int_like, st.lists(ints))),
                                axis=d(x, int_like)),
    "split_dim": lambda x: fg.split(d(x, tensors()), d(x, st.one_of(int_like, st.lists(ints))),
                                    dim=d(x, int_like)),
    "t_split": lambda x: d(x, tensors()).split(d(x, st.one_of(int_like, st.lists(ints))),
                                               d(x, int_like)),
    "chunk": lambda x: d(x, tensors()).chunk(d(x, int_like), d(x, int_like)),
    "unstack": lambda x: fg.unstack(d(x, tensors()), axis=d(x, int_like)),
    "unbind": lambda x: d(x, tensors()).unbind(d(x, int_like)),
    "tile": lambda x: fg.tile(d(x, tensor_like), d(x, shape_like)),
    "repeat": lambda x: fg.repeat(d(x, tensor_like), d(x, shape_like), d(x, st.none() | int_like)),
    "t_repeat": lambda x: d(x, tensors()).repeat(d(x, shape_like)),
    "roll": lambda x: fg.roll(d(x, tensor_like), d(x, axes_like), d(x, axes_like)),
    "broadcast_arrays": lambda x: fg.broadcast_arrays(*d(x, st.lists(tensor_like, max_size=3))),
    "broadcast_shapes": lambda x: fg.broadcast_shapes(*d(x, st.lists(shape_like, max_size=3))),
    "meshgrid": lambda x: fg.meshgrid(*d(x, st.lists(tensor_like, max_size=3)),
                                      indexing=d(x, st.sampled_from(["xy", "ij", "ji", None]))),
    "tril": lambda x: fg.tril(d(x, tensor_like), d(x, int_like)),
    "triu": lambda x: fg.triu(d(x, tensor_like), d(x, int_like)),
    "nonzero": lambda x: fg.nonzero(d(x, tensor_like)),
}


def check_result(r):
    """Whatever comes back must be a coherent tensor (or a container of them)."""
    if isinstance(r, (list, tuple)):
        for v in r:
            check_result(v)
    elif isinstance(r, fg.Tensor):
        assert r.ndim == len(r.shape)
        assert r.size == math.prod(r.shape)
        assert all(isinstance(n, int) and n >= 0 for n in r.shape)
        if max(r.shape, default=0) <= 64:  # small enough to read back
            assert len(r.tolist() if r.ndim else [r.item()]) == (r.shape[0] if r.ndim else 1)


@pytest.fixture
def memory_cap():
    """Caps the address space, so that an over-large allocation fails with MemoryError
    instead of swapping or getting the test run killed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as f:
        in_use = int(f.read().split()[0]) * resource.getpagesize()
    cap = in_use + (1 << 30)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    before = fg.get_default_dtype()
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        fg.set_default_dtype(before)


@pytest.mark.parametrize("name", sorted(OPS))
@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_public_api(memory_cap, name, data):
    try:
        r = OPS[name](data)
    except NotImplementedError:
        assert name == "requires_grad", "NotImplementedError is only for requires_grad=True"
        return
    except ALLOWED:
        return
    check_result(r)


# ---- specific error classes -----------------------------------------------------------


def test_shape_mismatch_is_value_error():
    with pytest.raises(ValueError):
        fg.zeros(2, 3).reshape(4)
    with pytest.raises(ValueError):
        fg.zeros(2, 3).broadcast_to((2, 4))
    with pytest.raises(ValueError):
        fg.cat([fg.zeros(2, 3), fg.zeros(2, 4)])
    with pytest.raises(ValueError):
        fg.stack([fg.zeros(2), fg.zeros(3)])
    with pytest.raises(ValueError):
        fg.zeros(2, 3).copy_(fg.zeros(4))
    with pytest.raises(ValueError):
        fg.zeros(3)[...] = fg.zeros(2)
    with pytest.raises(ValueError):
        fg.broadcast_shapes((2,), (3,))
    with pytest.raises(ValueError):
        fg.zeros(-1)


def test_bad_dtype_is_type_error():
    for bad in ("float128", "complex64", np.complex64, object, "", 5, 0):
        with pytest.raises(TypeError):
            fg.zeros(2, dtype=bad)
        with pytest.raises(TypeError):
            fg.ones(2, dtype=bad)
        with pytest.raises(TypeError):
            fg.arange(3).astype(bad)
    with pytest.raises(TypeError):
        fg.tensor(np.array(["x"]))
    with pytest.raises(TypeError):
        fg.arange(4).view(fg.float16)  # element size differs


def test_out_of_range_is_index_error():
    t = fg.zeros(2, 3)
    with pytest.raises(IndexError):
        t[2]
    with pytest.raises(IndexError):
        t[:, -4]
    with pytest.raises(IndexError):
        t.select(0, 5)
    with pytest.raises(IndexError):
        t.permute(0, 2)
    with pytest.raises(IndexError):
        t.transpose(0, 2)
    with pytest.raises(IndexError):
        t.squeeze(3)
    with pytest.raises(IndexError):
        t.stride(2)
    with pytest.raises(IndexError):
        fg.cat([t, t], 2)
    with pytest.raises(IndexError):
        t[[0, 9]]


def test_huge_shapes_do_not_abort():
    with pytest.raises((ValueError, MemoryError)):
        fg.zeros(2**40, 2**40)
    with pytest.raises((ValueError, MemoryError)):
        fg.ones(2**62)
    with pytest.raises((ValueError, MemoryError)):
        fg.empty(2**63 - 1, 2)
    with pytest.raises((ValueError, MemoryError)):
        fg.zeros(2**31, 2**31, 2**31)


HUGE_CALLS = [
    "fg.zeros(2**40, 2**40)", "fg.zeros(2**40)", "fg.ones(2**33)", "fg.arange(2**40)",
    "fg.rand(2**40)", "fg.randint(0, 5, (2**40,))", "fg.eye(2**20)", "fg.linspace(0, 1, 2**40)",
    "fg.full((2**40,), 1)", "fg.zeros(1).expand(2**40).contiguous()",
    "fg.zeros(1).expand(2**40).clone()", "fg.arange(2).expand(2**39, 2).T.flatten()",
    "fg.zeros(1).expand(2**40).astype(fg.float64)", "fg.tile(fg.zeros(2), [2**40])",
    "fg.repeat(fg.zeros(2), 2**40)", "fg.zeros(2).repeat(2**40)",
    "fg.roll(fg.zeros(1).expand(2**40), 1)", "fg.tril(fg.zeros(1, 1).expand(2**20, 2**20))",
    "fg.cat([fg.zeros(1).expand(2**40)] * 2)", "fg.stack([fg.zeros(1).expand(2**40)] * 2)",
    "fg.nonzero(fg.ones(1).expand(2**40))",
    "fg.zeros(3)[fg.zeros(1, dtype=fg.int64).expand(2**40)]",
    "fg.zeros(1).expand(2**40)[fg.ones(1, dtype=fg.bool).expand(2**40)]",
    "fg.zeros(3).__setitem__(fg.zeros(1, dtype=fg.int64).expand(2**40), 1.0)",
]


@pytest.mark.parametrize("call", HUGE_CALLS)
def test_huge_allocations_fail_cleanly(call):
    """Allocation failures are a ValueError or MemoryError, never an abort (checked in a
    child process with a capped address space, so an abort cannot end the test run)."""
    out = assert_runs_cleanly(f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, resource.RLIM_INFINITY))
        import ferrograd as fg
        try:
            {call}
        except (ValueError, MemoryError) as e:
            print(type(e).__name__)
        else:
            print("no error")
    """)
    assert out.strip() in ("ValueError", "MemoryError")


OVERFLOW_CALLS = [
    "fg.zeros(2**64)", "fg.zeros((2, 2**70))", "t.reshape(2**64, -1)", "t.view(2**64)",
    "t.unsqueeze(2**64)", "t.transpose(0, -(2**70))", "t.permute(2**63, 0)", "t.squeeze(2**63)",
    "t.select(0, 2**63)", "t.narrow(0, 2**64, 1)", "t.narrow(0, 0, -1)", "t.narrow(0, 0, 2**64)",
    "t.unfold(0, -1, 1)", "t.unfold(0, 1, -1)", "t.diagonal(2**63)", "t.flatten(0, 2**63)",
    "t.unflatten(2**63, (1,))", "t.stride(2**63)", "t[2**64]", "t[:, 2**64:]",
    "fg.eye(2**63)", "fg.eye(2, k=2**63)", "fg.linspace(0, 1, 2**63)", "fg.arange(2**64, 2**65)",
    "fg.full((2,), 2**64)", "t.fill_(2**64)", "fg.tril(t, 2**63)", "fg.cat([t], 2**63)",
    "fg.stack([t], 2**63)", "fg.repeat(t, 2, axis=2**63)", "fg.roll(t, 2**63, 0)",
    "fg.roll(t, 1, 2**63)", "fg.manual_seed(2**130)", "fg.Generator().manual_seed(2**200)",
]


@pytest.mark.parametrize("call", OVERFLOW_CALLS)
def test_out_of_range_python_ints_raise_allowed_classes(call):
    """Python ints beyond 64 bits (or negative where a size is expected) must be reported as
    ValueError/TypeError/IndexError, not PyO3's default OverflowError."""
    t = fg.zeros(2, 3)
    with pytest.raises(ALLOWED):
        eval(call, {"fg": fg, "t": t})


def test_wrong_argument_types():
    t = fg.zeros(2, 3)
    with pytest.raises(TypeError):
        t.reshape("a")
    with pytest.raises(TypeError):
        t.permute(None)
    with pytest.raises(TypeError):
        fg.zeros(None)
    with pytest.raises(TypeError):
        t.fill_("x")
    with pytest.raises(TypeError):
        fg.from_numpy(t)
    with pytest.raises((TypeError, ValueError)):
        fg.cat(None)
    for like in (fg.zeros_like, fg.ones_like, fg.empty_like, fg.rand_like, fg.randn_like):
        with pytest.raises(TypeError):
            like(None)
    with pytest.raises(TypeError):
        fg.full_like(None, 1)
    for bad in (None, [1, 2], "x"):
        with pytest.raises(TypeError):
            fg.from_dlpack(bad)
