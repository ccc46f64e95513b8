"""Type promotion of elementwise ops: every op for every pair of dtypes, Python scalars
(weak) and numpy scalars (strong), and the errors.

The rules (PyTorch's, with numpy's signed/unsigned lattice):
* same kind: the larger dtype; signed + unsigned: the smallest signed dtype holding both
  (int8 + uint8 = int16, int32 + uint32 = int64), int64 + uint64 = float64;
* int or bool with float: the float dtype; float16 + bfloat16 = float32;
* bool + bool stays bool for add / multiply / maximum / minimum;
* true division (and the other float-only ops) of ints gives the default float dtype;
* comparisons and logical ops give bool.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from conftest import ALL_DTYPE_NAMES, NP_DTYPES, holds, to_np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import ferrograd as fg

FLOATS = ["float16", "bfloat16", "float32", "float64"]
SIGNED = ["int8", "int16", "int32", "int64"]
UNSIGNED = ["uint8", "uint16", "uint32", "uint64"]
SIZE = {"bool": 1, "int8": 1, "int16": 2, "int32": 4, "int64": 8, "uint8": 1, "uint16": 2,
        "uint32": 4, "uint64": 8, "float16": 2, "bfloat16": 2, "float32": 4, "float64": 8}

ARITH = ["add", "subtract", "multiply", "floor_divide", "remainder", "pow", "maximum",
         "minimum"]
FLOAT_MATH = ["divide", "atan2", "hypot", "copysign", "nextafter", "logaddexp"]
COMPARE = ["equal", "not_equal", "less", "less_equal", "greater", "greater_equal"]
LOGICAL = ["logical_and", "logical_or", "logical_xor"]
BITWISE = ["bitwise_and", "bitwise_or", "bitwise_xor"]
SHIFTS = ["bitwise_left_shift", "bitwise_right_shift"]


def promote(a: str, b: str) -> str:
    """The promotion rule, written from the spec (independently of ferrograd's table)."""
    if a == b:
        return a
    if a == "bool":
        return b
    if b == "bool":
        return a
    fa, fb = a in FLOATS, b in FLOATS
    if fa and fb:
        if {a, b} == {"float16", "bfloat16"}:
            return "float32"
        return a if SIZE[a] >= SIZE[b] else b
    if fa:
        return a
    if fb:
        return b
    sa, sb = a in SIGNED, b in SIGNED
    if sa == sb:
        return a if SIZE[a] >= SIZE[b] else b
    s, u = (a, b) if sa else (b, a)
    if SIZE[s] > SIZE[u]:
        return s
    return {1: "int16", 2: "int32", 4: "int64", 8: "float64"}[SIZE[u]]


def tensor_of(name, values=(1, 2, 3, 1), device="cpu"):
    dt = np.float32 if name == "bfloat16" else NP_DTYPES[name]
    t = fg.tensor(np.array(values).astype(dt), device=device)
    return t.astype(fg.bfloat16) if name == "bfloat16" else t


def dt(name):
    return getattr(fg, name)


PAIRS = list(itertools.product(ALL_DTYPE_NAMES, repeat=2))
#: (device, a, b): every pair on the CPU, pairs of dtypes the GPU holds on the GPU
DEVICE_PAIRS = [pytest.param(d, a, b, id=f"{d}-{a}-{b}") for d in ("cpu", "gpu")
                for a, b in PAIRS if holds(d, a) and holds(d, b)]
#: those whose promoted dtype the device holds too (GPU int32 with uint32 is refused)
HELD_PAIRS = [p for p in DEVICE_PAIRS if holds(p.values[0], promote(*p.values[1:]))]


def test_promotion_rule_examples():
    # sanity of the reference itself against the spec's examples
    assert promote("int8", "uint8") == "int16"
    assert promote("int32", "uint32") == "int64"
    assert promote("int64", "uint64") == "float64"
    assert promote("int64", "float16") == "float16"
    assert promote("float16", "bfloat16") == "float32"
    assert promote("bool", "uint16") == "uint16"
    assert promote("int64", "uint8") == "int64"
    assert promote("uint16", "int8") == "int32"


@pytest.mark.parametrize("device,a,b", DEVICE_PAIRS, indirect=["device"])
def test_result_dtype_every_op_every_pair(device, a, b):
    ta, tb = tensor_of(a, (1, 2, 3, 1), device), tensor_of(b, (1, 1, 2, 3), device)
    p = promote(a, b)
    if not holds(device, p):
        # int32 with uint32 is int64, which the GPU does not hold: refused, not narrowed
        for op in ARITH + BITWISE:
            with pytest.raises(TypeError, match="int64"):
                getattr(fg, op)(ta, tb)
        return
    for op in ARITH:
        if p == "bool" and op not in ("add", "multiply", "maximum", "minimum"):
            if op == "subtract":
                with pytest.raises(TypeError):
                    fg.subtract(ta, tb)
            continue
        r = getattr(fg, op)(ta, tb)
        assert r.dtype == dt(p), (op, a, b, r.dtype, p)
    for op in FLOAT_MATH:
        r = getattr(fg, op)(ta, tb)
        expected = p if p in FLOATS else "float32"
        assert r.dtype == dt(expected), (op, a, b, r.dtype, expected)
    for op in COMPARE + LOGICAL:
        r = getattr(fg, op)(ta, tb)
        assert r.dtype == fg.bool, (op, a, b, r.dtype)
    for op in BITWISE + SHIFTS:
        if p in FLOATS:
            with pytest.raises(TypeError):
                getattr(fg, op)(ta, tb)
        elif p == "bool" and op in SHIFTS:
            continue  # shifts of bool by bool: not specified
        else:
            r = getattr(fg, op)(ta, tb)
            assert r.dtype == dt(p), (op, a, b, r.dtype, p)


def np_values(t):
    return np.array(to_np(t))


def edge_values(name):
    if name == "bool":
        return [False, True, True, False]
    if name in FLOATS:
        return [-2.5, 0.0, 3.0, 100.0]
    ii = np.iinfo(NP_DTYPES[name])
    return [int(ii.min), int(ii.max), 0, 1] if ii.min < 0 else [int(ii.max), 0, 1, 7]


@pytest.mark.parametrize("device,a,b", HELD_PAIRS, indirect=["device"])
def test_mixed_values_are_computed_in_the_promoted_dtype(device, a, b):
    """int8(-128) + uint8(255) is 127 in int16 (no wrap in either input dtype), etc."""
    ta, tb = tensor_of(a, edge_values(a), device), tensor_of(b, edge_values(b)[::-1], device)
    p = promote(a, b)
    pn = np.float32 if p == "bfloat16" else NP_DTYPES[p]
    with np.errstate(all="ignore"):  # e.g. int64 max -> float16 is inf
        va, vb = np_values(ta).astype(pn), np_values(tb).astype(pn)
    ops = {"add": np.add, "multiply": np.multiply, "maximum": np.maximum,
           "minimum": np.minimum, "less": np.less, "equal": np.equal,
           "greater_equal": np.greater_equal}
    if p != "bool":
        ops["subtract"] = np.subtract
    with np.errstate(all="ignore"):
        for op, f in ops.items():
            got = getattr(fg, op)(ta, tb)
            exp = f(va, vb)
            if p == "bfloat16" and exp.dtype != np.bool_:
                # bfloat16 results: through float32, within one bfloat16 ulp
                np.testing.assert_allclose(np_values(got), exp, rtol=2.0**-8, atol=0)
            elif p == "float16" and exp.dtype != np.bool_:
                np.testing.assert_array_equal(np_values(got), exp.astype(np.float16))
            else:
                np.testing.assert_array_equal(np_values(got), exp, err_msg=f"{op} {a} {b}")


def test_signed_unsigned_comparisons_are_exact():
    neg = fg.tensor(np.array([-1], np.int8))
    big = fg.tensor(np.array([255], np.uint8))
    assert (neg < big).tolist() == [True]
    assert (fg.tensor(np.array([-1], np.int32)) < fg.tensor(np.array([2**32 - 1], np.uint32))
            ).tolist() == [True]
    assert (fg.tensor(np.array([-1], np.int64)) < fg.tensor(np.array([2**64 - 1], np.uint64))
            ).tolist() == [True]
    assert (fg.tensor(np.array([-128], np.int8)) + fg.tensor(np.array([255], np.uint8))
            ).tolist() == [127]


@pytest.mark.parametrize("name", ALL_DTYPE_NAMES)
def test_unary_result_dtypes(name):
    t = tensor_of(name, (0, 1, 1, 0))
    fl = name if name in FLOATS else "float32"
    for op in ("sqrt", "exp", "log", "sin", "tanh", "erf", "sigmoid", "softplus", "silu",
               "gelu", "reciprocal", "expm1", "log1p", "atan", "elu", "leaky_relu"):
        assert getattr(fg, op)(t).dtype == dt(fl), (op, name)
    for op in ("isnan", "isinf", "isfinite", "signbit", "logical_not"):
        assert getattr(fg, op)(t).dtype == fg.bool, (op, name)
    for op in ("positive", "abs", "floor", "ceil", "trunc", "round"):
        assert getattr(fg, op)(t).dtype == dt(name), (op, name)
    if name != "bool":
        assert fg.negative(t).dtype == dt(name)
        assert fg.square(t).dtype == dt(name)
    else:
        with pytest.raises(TypeError):
            fg.negative(t)
        with pytest.raises(TypeError):
            -t  # noqa: B018
    if name in FLOATS:
        with pytest.raises(TypeError):
            fg.bitwise_invert(t)
        with pytest.raises(TypeError):
            ~t  # noqa: B018
    else:
        assert (~t).dtype == dt(name)


def test_integer_true_division_uses_the_default_float(restore_default_dtype):
    t = fg.tensor(np.array([1, 2, 3], np.int32))
    assert (t / t).dtype == fg.float32
    assert (t / 2).dtype == fg.float32
    assert fg.exp(t).dtype == fg.float32
    assert (t * 2.5).dtype == fg.float32
    np.testing.assert_array_equal(to_np(t / 2), np.array([0.5, 1.0, 1.5], np.float32))
    fg.set_default_dtype(fg.float64)
    assert (t / t).dtype == fg.float64
    assert fg.exp(t).dtype == fg.float64
    assert (t * 2.5).dtype == fg.float64
    np.testing.assert_array_equal(to_np(fg.tensor(np.array([1, 3], np.int64)) / 3),
                                  np.array([1, 3]) / 3)
    # float tensors keep their dtype whatever the default
    assert (fg.tensor(np.array([1.0], np.float32)) / 3).dtype == fg.float32


# ---- Python scalars are weak, numpy scalars are strong ---------------------------------


@pytest.mark.parametrize("name", ALL_DTYPE_NAMES)
def test_python_scalars_are_weak(name):
    t = tensor_of(name, (0, 1, 1, 0))
    fl = name if name in FLOATS else "float32"
    # a float scalar: float tensors keep their dtype, others go to the default float
    for r in (t * 2.5, 2.5 * t, t + 0.5, 0.5 - t if name != "bool" else t + 0.5, t / 2.0):
        assert r.dtype == dt(fl), (name, r.dtype)
    # an int scalar: int and float tensors keep their dtype, bool goes to int64
    it = "int64" if name == "bool" else name
    for r in (t + 1, 1 + t, t * 3, 3 * t, fg.maximum(t, 1), t // 1 if name != "bool" else t + 1):
        assert r.dtype == dt(it), (name, r.dtype)
    # a bool scalar never promotes
    assert (t + True).dtype == dt(name)
    assert (t * False).dtype == dt(name)
    # comparisons with scalars give bool
    assert (t < 1).dtype == fg.bool and (t == 0.5).dtype == fg.bool


def test_weak_scalar_values():
    t8 = fg.tensor(np.array([1, -2, 100], np.int8))
    r = t8 + 1
    assert r.dtype == fg.int8
    np.testing.assert_array_equal(to_np(r), np.array([2, -1, 101], np.int8))
    f = fg.tensor(np.array([1.5, 2.0], np.float32))
    r = f * 2.0
    assert r.dtype == fg.float32
    np.testing.assert_array_equal(to_np(r), [3.0, 4.0])
    b = fg.tensor(np.array([True, False]))
    r = b + 1
    assert r.dtype == fg.int64
    np.testing.assert_array_equal(to_np(r), [2, 1])
    ti = fg.tensor(np.array([1, 2], np.int16))
    r = ti * 2.5
    assert r.dtype == fg.float32
    np.testing.assert_array_equal(to_np(r), [2.5, 5.0])
    h = fg.tensor(np.array([1.0], np.float16))
    assert (h * 1e-3).dtype == fg.float16
    bf = fg.tensor(np.array([1.0], np.float32)).astype(fg.bfloat16)
    assert (bf + 1).dtype == fg.bfloat16 and (bf * 0.5).dtype == fg.bfloat16


@pytest.mark.parametrize("tname", ALL_DTYPE_NAMES)
@pytest.mark.parametrize("sname", ["bool", "int8", "uint8", "int32", "int64", "uint64",
                                   "float16", "float32", "float64"])
def test_numpy_scalars_are_strong(tname, sname):
    t = tensor_of(tname, (0, 1, 1, 0))
    s = NP_DTYPES[sname](1)
    p = promote(tname, sname)
    if p == "bool":
        assert (t * s).dtype == fg.bool
        return
    assert (t + s).dtype == dt(p), (tname, sname, (t + s).dtype, p)
    assert (t * s).dtype == dt(p)
    assert fg.add(t, s).dtype == dt(p)
    assert fg.maximum(t, s).dtype == dt(p)


def test_numpy_scalar_examples():
    f = fg.tensor(np.array([1.5, 2.0], np.float32))
    r = f * np.float64(2.0)
    assert isinstance(r, fg.Tensor) and r.dtype == fg.float64
    np.testing.assert_array_equal(to_np(r), [3.0, 4.0])
    assert (f * np.float32(2.0)).dtype == fg.float32
    assert (fg.tensor(np.array([1], np.int8)) + np.int64(3)).dtype == fg.int64
    assert (fg.tensor(np.array([1], np.uint8)) + np.int8(3)).dtype == fg.int16
    assert (fg.tensor(np.array([1], np.int32)) * np.float16(2)).dtype == fg.float16


def test_reflected_numpy_scalar_gives_a_tensor():
    """``np.float64(2) * t``: the tensor's reflected operator handles it (as PyTorch, via
    ``__array_priority__``), giving a tensor with the strong scalar's promotion."""
    f = fg.tensor(np.array([1.5, 2.0], np.float32))
    r = np.float64(2.0) * f
    assert isinstance(r, fg.Tensor), type(r)
    assert r.dtype == fg.float64
    np.testing.assert_array_equal(to_np(r), [3.0, 4.0])


# ---- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", FLOATS)
def test_bitwise_ops_on_floats_raise_type_error(name):
    t = tensor_of(name)
    i = tensor_of("int32")
    for op in BITWISE + SHIFTS:
        for x, y in ((t, t), (t, i), (i, t)):
            with pytest.raises(TypeError):
                getattr(fg, op)(x, y)
    for expr in (lambda: t & t, lambda: t | 1, lambda: 1 ^ t, lambda: t << 1, lambda: i >> t,
                 lambda: i & 1.5):
        with pytest.raises(TypeError):
            expr()


def test_bool_subtraction_raises_type_error():
    b = fg.tensor(np.array([True, False]))
    with pytest.raises(TypeError):
        b - b
    with pytest.raises(TypeError):
        fg.subtract(b, b)
    with pytest.raises(TypeError):
        b.sub_(b)
    with pytest.raises(TypeError):
        b - True
    with pytest.raises(TypeError):
        -b  # noqa: B018
    np.testing.assert_array_equal(to_np(b), [True, False])
    # with any non-bool operand it is ordinary subtraction
    r = b - fg.tensor(np.array([1, 1], np.int16))
    assert r.dtype == fg.int16
    np.testing.assert_array_equal(to_np(r), [0, -1])


@given(st.data())
def test_non_broadcastable_shapes_raise_value_error(data):
    a = data.draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=4))
    b = data.draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=4))
    try:
        np.broadcast_shapes(a, b)
        return  # broadcastable: covered elsewhere
    except ValueError:
        pass
    ta, tb = fg.zeros(a), fg.zeros(b)
    for f in (fg.add, fg.multiply, fg.less, fg.maximum, fg.atan2, fg.logical_and,
              lambda x, y: x + y, lambda x, y: x / y, lambda x, y: x >= y,
              lambda x, y: fg.where(fg.zeros(a, dtype=fg.bool), x, y)):
        with pytest.raises(ValueError):
            f(ta, tb)


def test_non_broadcastable_examples():
    with pytest.raises(ValueError):
        fg.ones((2, 3)) + fg.ones((3, 2))
    with pytest.raises(ValueError):
        fg.ones(3) * fg.ones(4)
    with pytest.raises(ValueError):
        fg.ones((0,)) - fg.ones((2,))
    with pytest.raises(ValueError):
        fg.clip(fg.ones(3), fg.ones(2), None)
    assert tuple((fg.ones((2, 1, 3)) + fg.ones((4, 1))).shape) == (2, 4, 3)


def test_inplace_same_kind_casting():
    cases = [  # (tensor dtype, operand, allowed)
        ("int32", 1.5, False), ("int32", fg.tensor(np.array([1.0], np.float32)), False),
        ("int64", fg.tensor(np.array([1], np.int8)), True),
        ("int8", fg.tensor(np.array([1], np.int64)), True),
        ("float32", fg.tensor(np.array([1.0], np.float64)), True),
        ("float16", 2.5, True), ("bool", 1, False), ("bool", True, True),
        ("uint8", 3, True),
    ]
    for name, other, ok in cases:
        t = tensor_of(name, (1,))
        before = np_values(t).copy()
        if ok:
            t += other
            assert t.dtype == dt(name)
        else:
            with pytest.raises(TypeError):
                t += other
            np.testing.assert_array_equal(np_values(t), before)
    t = tensor_of("float32", (1,))
    with pytest.raises(TypeError):
        t &= 1
    t = tensor_of("int32", (4,))
    with pytest.raises(TypeError):
        t /= t
    with pytest.raises(TypeError):
        t.sqrt_()


def test_nan_and_inf_survive_promotion():
    h = fg.tensor(np.array([math.inf, -math.inf, math.nan], np.float16))
    r = h + fg.tensor(np.array([0, 0, 0], np.int64))
    assert r.dtype == fg.float16
    v = to_np(r)
    assert v[0] == math.inf and v[1] == -math.inf and math.isnan(v[2])
    r = h + fg.tensor(np.array([0.0, 0.0, 0.0], np.float32)).astype(fg.bfloat16)
    assert r.dtype == fg.float32
    v = to_np(r)
    assert v[0] == math.inf and v[1] == -math.inf and math.isnan(v[2])
