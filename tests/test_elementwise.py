"""Elementwise ops against numpy: every op, every dtype it is defined for, broadcasting,
non-contiguous inputs, special values, operators, in-place forms and ``out=``.

Accuracy bounds (stated per op in ``UNARY`` / ``BINARY`` below) are in units in the last
place of the *result* dtype, measured against the float64 reference rounded to that dtype:

* 0 ulp ("exact"): IEEE basic operations (+ - * / sqrt, reciprocal), rounding functions,
  copysign, nextafter, floor_divide / remainder (numpy's algorithm), comparisons, all
  integer ops. float16 is computed through float32 and rounded once, which is still the
  correctly rounded float16 result for these ops, so float16 is exact too.
* 4 ulp: float32/float64 transcendental ops (polynomial approximations accurate to a few
  ulp); 8 ulp for ops composed from two of them (silu, softplus, elu, gelu, logaddexp).
* sin / cos: only for |x| <= 1e4, absolute error <= 4 float32 ulps of 1 (4 * 2**-23).
* float16 / bfloat16 transcendental results: 1 ulp of the half dtype (computed in float32
  and rounded once, so they can sit one rounding step from the rounded float64 value).
* bfloat16 is compared through float32 with a tolerance of 1 bfloat16 ulp for the exact
  ops (and the half-dtype bound above for the rest).
* A tiny absolute slack (the dtype's smallest normal number) for transcendental results
  that underflow into the subnormal range.
* GPU adapters that flush float32 subnormals to zero (``gpu_flushes_subnormals``; WGSL
  allows it, NVIDIA's driver does it): a GPU result that misses the reference may instead
  match the reference computed from flushed operands and flushed to zero itself (zeros
  compared by value), except for the ops in ``SUBNORMAL_EXACT``, whose kernels work on the
  bit patterns and must match exactly everywhere.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from conftest import (
    GPU_ATOL,
    GPU_RTOL,
    NP_DTYPES,
    device_params,
    dtypes_on,
    flush_subnormals,
    gpu_flushes_subnormals,
    to_np,
)
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import ferrograd as fg

FLOATS = ["float16", "bfloat16", "float32", "float64"]
SIGNED = ["int8", "int16", "int32", "int64"]
UNSIGNED = ["uint8", "uint16", "uint32", "uint64"]
INTS = SIGNED + UNSIGNED
ALL = ["bool", *INTS, *FLOATS]
DEFAULT_FLOAT = "float32"

# ---- dtype helpers --------------------------------------------------------------------


def storage(name):
    """The numpy dtype holding a ferrograd dtype's values (bfloat16 lives in float32)."""
    return np.dtype(np.float32) if name == "bfloat16" else np.dtype(NP_DTYPES[name])


def fgdt(name):
    return getattr(fg, name)


def bits(name):
    return storage(name).itemsize * 8


def round_bf16(x):
    """float64/float32 values rounded (to nearest even) to bfloat16, held in float32."""
    f = np.asarray(x, dtype=np.float64).astype(np.float32)
    u = f.view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000).astype(np.uint32).view(np.float32)
    return np.where(np.isnan(f), np.float32(np.nan), r)


def round_to(x64, name):
    """float64 reference values rounded to the float dtype ``name`` (as float64)."""
    with np.errstate(all="ignore"):
        if name == "bfloat16":
            return round_bf16(x64).astype(np.float64)
        return np.asarray(x64, np.float64).astype(storage(name)).astype(np.float64)


def spacing(r, name):
    """One ulp of the float dtype ``name`` at each (already rounded) value of ``r``."""
    with np.errstate(all="ignore"):
        if name == "bfloat16":
            return np.abs(np.spacing(np.abs(r).astype(np.float32))).astype(np.float64) * 2.0**16
        return np.abs(np.spacing(np.abs(r).astype(storage(name)))).astype(np.float64)


def tiny(name):
    return float(np.finfo(np.float32 if name == "bfloat16" else storage(name)).tiny)


def make_tensor(a, name, device="cpu"):
    """A contiguous tensor of dtype ``name`` on ``device`` from numpy values (bf16 via
    float32)."""
    a = np.array(a, order="C", copy=True)
    if name == "bfloat16":
        return fg.tensor(a.astype(np.float32)).astype(fg.bfloat16)
    return fg.tensor(a.astype(storage(name)), device=device)


def device_rows(rows, cpu_only_ops=()):
    """(device, dtype, op) params: GPU rows only for dtypes the GPU holds and ops with a
    GPU kernel."""
    return [p for p in device_params(rows)
            if not (p.values[0] == "gpu" and p.values[2] in cpu_only_ops)]


# Every binary op has a GPU kernel (nextafter steps through bit patterns, subnormals
# included); the hook stays for ops added to the CPU first.
CPU_ONLY_BINARY: tuple = ()


def values_of(t, name):
    """The logical values of a tensor as a numpy array in its storage dtype."""
    return np.array(to_np(t))


# ---- adapters that flush subnormals -----------------------------------------------------

#: GPU kernels that work on bit patterns (or f32_key order) and so stay exact for
#: subnormals on every adapter
SUBNORMAL_EXACT = {
    "negative", "positive", "abs", "sign", "relu", "copysign", "nextafter", "maximum",
    "minimum", "equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
    "logical_and", "logical_or", "logical_xor", "logical_not", "isnan", "isinf", "isfinite",
    "signbit",
}
#: how the assertions below run: ``flushed`` while the reference comes from flushed
#: operands (and is flushed itself); with ``masks`` a list, they record each check's
#: per-element failures there instead of raising
_MODEL: dict = {"flushed": False, "masks": None}


def _failures(check, operands, flushed):
    _MODEL.update(flushed=flushed, masks=[])
    try:
        check(*operands)
        return _MODEL["masks"]
    finally:
        _MODEL.update(flushed=False, masks=None)


def with_flush_model(check, got, op, *operands):
    """Runs ``check(*operands)``. On a GPU that flushes subnormals, each element that
    fails it may instead match the reference computed from flushed operands and flushed
    itself (zeros compared by value): element by element, since a kernel can keep some
    subnormals exact (bit-level paths) while the driver flushes others."""
    try:
        check(*operands)
        return
    except AssertionError:
        flushing = got.device.type == "gpu" and gpu_flushes_subnormals()
        if not flushing or op in SUBNORMAL_EXACT:
            raise
    exact = _failures(check, operands, False)
    flushed = _failures(check, [flush_subnormals(x) for x in operands], True)
    assert len(exact) == len(flushed)
    for e, f in zip(exact, flushed):
        both = e & f
        if both.any():
            i = np.flatnonzero(both)[:8]
            raise AssertionError(f"{op}: {both.sum()} of {both.size} match neither the exact nor the "
                                 f"flushed-subnormal reference; got {to_np(got).ravel()[i].tolist()} "
                                 f"for operands {[np.broadcast_to(x, got.shape).ravel()[i].tolist() for x in operands]}")


def _report(bad, message):
    """Raises ``message()`` where ``bad`` has an element, or records ``bad`` (see _MODEL)."""
    if _MODEL["masks"] is not None:
        _MODEL["masks"].append(bad.ravel())
    elif bad.any():
        raise AssertionError(message())


def assert_float_close(got, ref64, name, ulps, atol=0.0, mask=None, zero_sign=False, what=""):
    """``got`` (tensor of float dtype ``name``) within ``ulps`` ulp (+ ``atol``) of the
    float64 reference, with identical nan / inf pattern. ``ulps == 0`` means the correctly
    rounded value exactly (bfloat16: 1 ulp, compared through float32)."""
    assert got.dtype == fgdt(name), (got.dtype, name)
    g = values_of(got, name).astype(np.float64)
    ref64 = np.broadcast_to(np.asarray(ref64, np.float64), g.shape)
    assert g.shape == ref64.shape, (g.shape, ref64.shape)
    r = round_to(ref64, name)
    if mask is None:
        mask = np.ones(g.shape, bool)
    if name == "bfloat16" and ulps == 0:
        ulps = 1
    mask = np.broadcast_to(mask, g.shape)
    g, r, ref64 = g[mask], r[mask], ref64[mask]
    if _MODEL["flushed"]:
        r, ref64, zero_sign = flush_subnormals(r), flush_subnormals(ref64), False
    bad = np.isnan(g) != np.isnan(r)
    bad |= np.isinf(r) & (g != r)
    bad |= np.isinf(g) & ~np.isinf(r)
    fin = np.isfinite(r) & np.isfinite(g)
    with np.errstate(all="ignore"):
        err = np.abs(g - r)
        allowed = ulps * spacing(r, name) + atol
        if got.device.type == "gpu" and (ulps or atol):
            # WGSL builtins: a few float32 ulp, relative (test_gpu.py's tolerances)
            allowed = np.maximum(allowed, GPU_RTOL * np.abs(r) + GPU_ATOL)
    bad |= fin & (err > allowed)
    if zero_sign:
        bad |= (r == 0) & (g == 0) & (np.signbit(r) != np.signbit(g))
    full = np.zeros(mask.shape, bool)
    full[mask] = bad
    i = np.flatnonzero(bad)[:8]
    _report(full, lambda: (
        f"{what} dtype={name} bound={ulps} ulp + {atol}: {bad.sum()} of {bad.size} off\n"
        f"  got      {g[i].tolist()}\n  expected {r[i].tolist()}\n  exact    {ref64[i].tolist()}"))


def assert_exact(got, expected, what=""):
    """Same dtype, shape and values (nan == nan, and the sign of zero for floats)."""
    expected = np.asarray(expected)
    g = to_np(got)
    assert tuple(got.shape) == expected.shape, (what, got.shape, expected.shape)
    assert g.dtype == expected.dtype, (what, g.dtype, expected.dtype)
    if g.dtype.kind == "f":
        flushed = _MODEL["flushed"]
        if flushed:
            expected = flush_subnormals(expected)
        same = (g == expected) | (np.isnan(g) & np.isnan(expected))
        same &= (np.signbit(g) == np.signbit(expected)) | np.isnan(expected) | (flushed & (expected == 0))
    else:
        same = g == expected
    i = np.flatnonzero(~same)[:8]
    _report(~same, lambda: (f"{what}: {(~same).sum()} of {same.size} differ\n"
                            f"  got      {g.ravel()[i].tolist()}\n"
                            f"  expected {expected.ravel()[i].tolist()}"))


# ---- value strategies -----------------------------------------------------------------


def float_specials(name):
    fi = np.finfo(np.float32 if name == "bfloat16" else storage(name))
    vals = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, -2.5, 2.0, -3.0, 7.0, 0.1, -1e-3, 100.0,
            -100.0, 1e4, -1e4, 30.0, -30.0, float(fi.max), -float(fi.max), float(fi.tiny),
            float(fi.smallest_subnormal), -float(fi.smallest_subnormal), 3 * float(fi.tiny) / 7,
            math.inf, -math.inf, math.nan]
    if name == "bfloat16":  # bfloat16's max is below float32's
        vals = [v for v in vals if not (math.isfinite(v) and abs(v) > 3.38e38)] + [3.38e38]
    return vals


def int_specials(name):
    ii = np.iinfo(storage(name))
    b = bits(name)
    cand = [0, 1, -1, 2, -2, 3, -3, 7, -7, 10, -10, b - 1, b, b + 1, 2 * b, -b,
            ii.min, ii.min + 1, ii.max, ii.max - 1, ii.max // 2, ii.min // 2]
    return sorted({int(v) for v in cand if ii.min <= v <= ii.max})


def specials(name):
    if name == "bool":
        return [False, True]
    if name in FLOATS:
        return float_specials(name)
    return int_specials(name)


def elements(name, *, finite_abs=None):
    if name == "bool":
        return st.booleans()
    if name in FLOATS:
        width = {"float16": 16, "bfloat16": 32, "float32": 32, "float64": 64}[name]
        if finite_abs is not None:
            return st.floats(-finite_abs, finite_abs, width=width) | st.sampled_from(
                [0.0, -0.0, math.nan, math.inf, -math.inf])
        return st.sampled_from(float_specials(name)) | st.floats(width=width)
    ii = np.iinfo(storage(name))
    return st.sampled_from(int_specials(name)) | st.integers(int(ii.min), int(ii.max))


LAYOUTS = ["contiguous", "transposed", "negative_step", "expanded"]


@st.composite
def operand(draw, shape, name, elems=None, device="cpu"):
    """(tensor, numpy values): a tensor of dtype ``name`` on ``device``, of logical shape ``shape`` in
    a drawn memory layout (contiguous, permuted, negative-step slice of a bigger tensor,
    or a stride-0 expanded view), and the numpy array of its values."""
    elems = elems if elems is not None else elements(name)
    st_dtype = storage(name)
    layout = draw(st.sampled_from(LAYOUTS))
    ndim = len(shape)
    if layout == "expanded":
        small_shape = tuple(1 if draw(st.booleans()) else n for n in shape)
        small = draw(hnp.arrays(st_dtype, small_shape, elements=elems))
        base = make_tensor(small, name, device)
        t = fg.broadcast_to(base, shape) if draw(st.booleans()) else base.expand(*shape)
        if name == "bfloat16":
            return t, np.broadcast_to(values_of(base, name), shape)
        return t, np.broadcast_to(small, shape)
    a = draw(hnp.arrays(st_dtype, shape, elements=elems))
    if layout == "transposed" and ndim >= 2:
        perm = draw(st.permutations(range(ndim)))
        inv = tuple(int(i) for i in np.argsort(perm))
        t = make_tensor(a.transpose(perm), name, device).permute(inv)
    elif layout == "negative_step" and ndim >= 1:
        big = np.zeros(tuple(2 * n for n in shape), st_dtype)
        idx = (slice(None, None, -2),) * ndim
        big[idx] = a
        t = make_tensor(big, name, device)[idx]
    else:
        t = make_tensor(a, name, device)
    assert tuple(t.shape) == tuple(shape) and t.device.type == device
    if name == "bfloat16":
        return t, values_of(t, name)
    return t, a


def two_shapes():
    return hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=0,
                                             max_side=4).map(lambda s: s.input_shapes)


OPERATORS = [
    ("+", lambda x, y: x + y, "add"), ("-", lambda x, y: x - y, "subtract"),
    ("*", lambda x, y: x * y, "multiply"), ("/", lambda x, y: x / y, "divide"),
    ("//", lambda x, y: x // y, "floor_divide"), ("%", lambda x, y: x % y, "remainder"),
    ("**", lambda x, y: x**y, "pow"), ("&", lambda x, y: x & y, "bitwise_and"),
    ("|", lambda x, y: x | y, "bitwise_or"), ("^", lambda x, y: x ^ y, "bitwise_xor"),
    ("<<", lambda x, y: x << y, "bitwise_left_shift"),
    (">>", lambda x, y: x >> y, "bitwise_right_shift"),
    ("==", lambda x, y: x == y, "equal"), ("!=", lambda x, y: x != y, "not_equal"),
    ("<", lambda x, y: x < y, "less"), ("<=", lambda x, y: x <= y, "less_equal"),
    (">", lambda x, y: x > y, "greater"), (">=", lambda x, y: x >= y, "greater_equal"),
]
OPERATOR_OF = {op: fn for _, fn, op in OPERATORS}


# ---- binary ops: references -----------------------------------------------------------

#: name -> (family, ulps for float results, defined for bool)
BINARY = {
    "add": ("arith", 0), "subtract": ("arith", 0), "multiply": ("arith", 0),
    "floor_divide": ("arith", 0), "remainder": ("arith", 0), "pow": ("arith", 2),
    "maximum": ("arith", 0), "minimum": ("arith", 0),
    "divide": ("float", 0), "atan2": ("float", 4), "hypot": ("float", 2),
    "copysign": ("float", 0), "nextafter": ("float", 0), "logaddexp": ("float", 8),
    "equal": ("compare", 0), "not_equal": ("compare", 0), "less": ("compare", 0),
    "less_equal": ("compare", 0), "greater": ("compare", 0), "greater_equal": ("compare", 0),
    "logical_and": ("logical", 0), "logical_or": ("logical", 0), "logical_xor": ("logical", 0),
    "bitwise_and": ("bitwise", 0), "bitwise_or": ("bitwise", 0), "bitwise_xor": ("bitwise", 0),
    "bitwise_left_shift": ("shift", 0), "bitwise_right_shift": ("shift", 0),
}
NP_BINARY = {
    "add": np.add, "subtract": np.subtract, "multiply": np.multiply,
    "floor_divide": np.floor_divide, "remainder": np.remainder, "pow": np.power,
    "maximum": np.maximum, "minimum": np.minimum, "divide": np.divide, "atan2": np.arctan2,
    "hypot": np.hypot, "copysign": np.copysign, "nextafter": np.nextafter,
    "logaddexp": np.logaddexp, "equal": np.equal, "not_equal": np.not_equal,
    "less": np.less, "less_equal": np.less_equal, "greater": np.greater,
    "greater_equal": np.greater_equal, "logical_and": np.logical_and,
    "logical_or": np.logical_or, "logical_xor": np.logical_xor,
    "bitwise_and": np.bitwise_and, "bitwise_or": np.bitwise_or,
    "bitwise_xor": np.bitwise_xor, "bitwise_left_shift": np.left_shift,
    "bitwise_right_shift": np.right_shift,
}
BOOL_UNDEFINED = {"subtract", "floor_divide", "remainder", "pow", "bitwise_left_shift",
                  "bitwise_right_shift"}


def binary_dtypes(op):
    fam = BINARY[op][0]
    if fam in ("bitwise",):
        return ["bool", *INTS]
    if fam == "shift":
        return INTS
    return [d for d in ALL if not (d == "bool" and op in BOOL_UNDEFINED)]


def int_pow_reference(a, b, name):
    """Integer power with wrap-around, and PyTorch's rule for negative exponents."""
    dt = storage(name)
    n = bits(name)
    out = np.empty(np.broadcast_shapes(a.shape, b.shape), dt)
    a, b = np.broadcast_to(a, out.shape), np.broadcast_to(b, out.shape)
    for idx in np.ndindex(out.shape):
        x, y = int(a[idx]), int(b[idx])
        if y >= 0:
            r = pow(x, y, 1 << n)
        elif x == 1:
            r = 1
        elif x == -1:
            r = 1 if y % 2 == 0 else -1
        else:
            r = 0
        r %= 1 << n
        if dt.kind == "i" and r >= 1 << (n - 1):
            r -= 1 << n
        out[idx] = r
    return out


def check_binary(op, name, got, a, b):
    """``got`` = ferrograd's ``op`` of same-dtype operands with values ``a``, ``b``."""
    with_flush_model(lambda a, b: _check_binary(op, name, got, a, b), got, op, a, b)


def _check_binary(op, name, got, a, b):
    fam, ulps = BINARY[op]
    f = NP_BINARY[op]
    shape = np.broadcast_shapes(a.shape, b.shape)
    with np.errstate(all="ignore"):
        if fam in ("compare", "logical"):
            assert_exact(got, f(a, b), op)
            return
        if fam in ("bitwise", "shift"):
            assert_exact(got, f(a, b).astype(storage(name)), op)
            return
        if name not in FLOATS and (fam == "float"):  # ints/bool compute in float32
            a, b, name = a.astype(np.float32), b.astype(np.float32), DEFAULT_FLOAT
        if name not in FLOATS:
            if op == "pow":
                exp = int_pow_reference(a, b, name)
            else:
                exp = f(a, b)
            assert_exact(got, np.broadcast_to(exp, shape).astype(storage(name)), op)
            return
        if ulps == 0 and name != "bfloat16":
            exp = f(a.astype(storage(name)), b.astype(storage(name)))
            # numpy's sign of zero for maximum/minimum of (-0.0, 0.0) is an implementation
            # detail; compare zeros by value there.
            sign = op not in ("maximum", "minimum")
            if sign:
                assert_exact(got, np.broadcast_to(exp, shape), op)
            else:
                assert_float_close(got, exp.astype(np.float64), name, 0, what=op)
            return
        if op in ("floor_divide", "remainder", "nextafter", "copysign", "maximum", "minimum"):
            # bfloat16: these are exact in float32 on bfloat16 values (nextafter steps in
            # bfloat16 itself, checked separately).
            if op == "nextafter":
                return check_bf16_nextafter(got, a, b)
            exp = f(a.astype(np.float32), b.astype(np.float32)).astype(np.float64)
        else:
            exp = f(a.astype(np.float64), b.astype(np.float64))
        half = name in ("float16", "bfloat16")
        bound = max(ulps, 1) if half else ulps
        assert_float_close(got, exp, name, bound, atol=tiny(name) if ulps else 0.0, what=op)


def check_bf16_nextafter(got, a, b):
    """nextafter in bfloat16: one bfloat16 step from a towards b."""
    a32 = np.broadcast_to(a, got.shape).astype(np.float32)
    b32 = np.broadcast_to(b, got.shape).astype(np.float32)
    u = a32.view(np.uint32).astype(np.int64)
    step = np.where(a32 < b32, 1, -1) * np.where(np.signbit(a32), -1, 1) << 16
    nxt = ((u + step) & 0xFFFFFFFF).astype(np.uint32).view(np.float32)
    smallest = np.float32(2.0**-133)
    nxt = np.where(a32 == 0, np.where(b32 > 0, smallest, -smallest), nxt)
    exp = np.where(a32 == b32, b32, nxt)
    exp = np.where(np.isnan(a32) | np.isnan(b32), np.float32(np.nan), exp)
    g = values_of(got, "bfloat16")
    np.testing.assert_array_equal(g, exp)


def special_grid(op, name):
    v = specials(name)
    if op == "pow" and name in INTS:
        # exponents: small ones (and a few big ones: pow of 0, 1 and -1 stays cheap)
        b = sorted({x for x in v if -9 <= x <= 70} | {x for x in v if abs(x) > 70})
    else:
        b = v
    a = np.array(v, dtype=storage(name))[:, None]
    b = np.array(b, dtype=storage(name))[None, :]
    return a, b


@pytest.mark.parametrize(
    "device,name,op", device_rows([(d, op) for op in BINARY for d in binary_dtypes(op)],
                                  CPU_ONLY_BINARY),
    indirect=["device"],
)
def test_binary_special_value_grid(device, name, op):
    """All pairs of edge values (0, -0.0, +-1, min/max, subnormals, inf, nan, bit widths),
    broadcast as a column against a row."""
    a, b = special_grid(op, name)
    got = getattr(fg, op)(make_tensor(a, name, device), make_tensor(b, name, device))
    assert tuple(got.shape) == (a.shape[0], b.shape[1])
    if name == "bfloat16":
        a, b = round_bf16(a), round_bf16(b)
    check_binary(op, name, got, a, b)


def binary_elements(op, name, side):
    if op == "pow" and name in INTS and side == 1:
        lo = -5 if name in SIGNED else 0
        return st.integers(lo, 70) | st.sampled_from(int_specials(name))
    return elements(name)


def device_ops(ops, cpu_only=()):
    """(device, op) params; ``cpu_only`` ops have no GPU kernel yet."""
    return [(d, op) for d in ("cpu", "gpu") for op in ops if not (d == "gpu" and op in cpu_only)]


@pytest.mark.parametrize("device,op", device_ops(BINARY, CPU_ONLY_BINARY), indirect=["device"])
@given(data=st.data())
def test_binary_hypothesis(device, op, data):
    name = data.draw(st.sampled_from(dtypes_on(device, binary_dtypes(op))), label="dtype")
    sa, sb = data.draw(two_shapes(), label="shapes")
    ta, a = data.draw(operand(sa, name, binary_elements(op, name, 0), device), label="a")
    tb, b = data.draw(operand(sb, name, binary_elements(op, name, 1), device), label="b")
    got = getattr(fg, op)(ta, tb)
    check_binary(op, name, got, a, b)
    # the inputs are untouched
    np.testing.assert_array_equal(values_of(ta, name), a)
    # the operator (``+ - * / // % ** & | ^ << >> == != < <= > >=``) and method forms
    if op in OPERATOR_OF:
        form = data.draw(st.sampled_from(["operator", "method", "numpy_rhs"]), label="form")
        if form == "operator":
            check_binary(op, name, OPERATOR_OF[op](ta, tb), a, b)
        elif form == "method":
            check_binary(op, name, getattr(ta, op)(tb), a, b)
        elif name != "bfloat16":  # a numpy array operand is converted to a tensor
            if device == "gpu" and np.ndim(b) > 0:
                # ...on the host: next to a GPU tensor that is a device mix, which is an
                # error, never an implicit upload (as in PyTorch).
                with pytest.raises(RuntimeError, match="one device"):
                    OPERATOR_OF[op](ta, b)
            else:
                check_binary(op, name, OPERATOR_OF[op](ta, b), a, b)


# ---- floor division / remainder / pow: the rules spelled out ---------------------------


@pytest.mark.parametrize("device,name", device_params(INTS), indirect=["device"])
def test_integer_division_by_zero_is_zero(device, name):
    a = make_tensor(np.array([0, 1, 7, np.iinfo(storage(name)).max], storage(name)), name,
                    device)
    z = make_tensor(np.zeros(4, storage(name)), name, device)
    assert_exact(a // z, np.zeros(4, storage(name)), "x // 0")
    assert_exact(a % z, np.zeros(4, storage(name)), "x % 0")
    assert_exact(fg.floor_divide(a, 0), np.zeros(4, storage(name)), "floor_divide(x, 0)")
    assert_exact(fg.remainder(a, 0), np.zeros(4, storage(name)), "remainder(x, 0)")


@pytest.mark.parametrize("device,name", device_params(SIGNED), indirect=["device"])
def test_integer_floor_division_python_sign_rules(device, name):
    dt = storage(name)
    xs = [7, -7, 7, -7, 6, -6, 0, 1, -1]
    ys = [2, 2, -2, -2, -3, 3, -5, -3, 3]
    t = make_tensor(np.array(xs, dt), name, device)
    u = make_tensor(np.array(ys, dt), name, device)
    assert_exact(t // u, np.array([x // y for x, y in zip(xs, ys)], dt), "//")
    assert_exact(t % u, np.array([x % y for x, y in zip(xs, ys)], dt), "%")
    # the wrap-around case: min // -1 (numpy: min, with remainder 0)
    m = make_tensor(np.array([np.iinfo(dt).min], dt), name, device)
    assert_exact(m // -1, np.array([np.iinfo(dt).min], dt), "min // -1")
    assert_exact(m % -1, np.array([0], dt), "min % -1")


@pytest.mark.parametrize("device,name", device_params(["float16", "float32", "float64"]),
                         indirect=["device"])
def test_float_floor_division_and_remainder_edges(device, name):
    dt = storage(name)
    t = make_tensor(np.array([1.0, -1.0, 0.0, -0.0, math.inf, 5.0, -5.0, 5.0, -5.0], dt), name,
                    device)
    u = make_tensor(np.array([0.0, 0.0, 0.0, 0.0, 1.0, 3.0, 3.0, -3.0, -3.0], dt), name, device)
    fd = values_of(t // u, name)
    assert fd[0] == math.inf and fd[1] == -math.inf
    assert np.isnan(fd[2]) and np.isnan(fd[3]) and np.isnan(fd[4])
    np.testing.assert_array_equal(fd[5:], [1.0, -2.0, -2.0, 1.0])
    rem = values_of(t % u, name)
    assert np.isnan(rem[:5]).all()
    np.testing.assert_array_equal(rem[5:], [2.0, 1.0, -1.0, -2.0])  # sign of the divisor
    # Python / numpy: x % inf keeps x when the signs agree, and is inf otherwise
    r = fg.remainder(make_tensor(np.array([1.0, -1.0], dt), name, device), math.inf)
    np.testing.assert_array_equal(values_of(r, name), [1.0, math.inf])


@pytest.mark.parametrize("device,name", device_params(SIGNED), indirect=["device"])
def test_integer_pow_negative_exponent_follows_pytorch(device, name):
    dt = storage(name)
    base = make_tensor(np.array([1, -1, -1, 2, -2, 0, 5, 1, -1], dt), name, device)
    expo = make_tensor(np.array([-1, -1, -2, -1, -3, -1, -2, -7, -7], dt), name, device)
    assert_exact(base ** expo, np.array([1, -1, 1, 0, 0, 0, 0, 1, -1], dt), "int pow")
    assert_exact(fg.pow(base, -3), np.array([1, -1, -1, 0, 0, 0, 0, 1, -1], dt), "pow(t, -3)")
    assert_exact(base ** 0, np.ones(9, dt), "t ** 0")


@pytest.mark.parametrize("device,name", device_params(INTS), indirect=["device"])
def test_shift_by_bit_width_or_more(device, name):
    dt = storage(name)
    n = bits(name)
    ii = np.iinfo(dt)
    x = np.array([1, 3, ii.max, ii.min, 5, ii.max], dt)
    s = np.array([n, n + 1, n - 1, n - 1, 2 * n, 0], dt)
    tx, ts = make_tensor(x, name, device), make_tensor(s, name, device)
    assert_exact(tx << ts, np.left_shift(x, s), "<<")
    assert_exact(tx >> ts, np.right_shift(x, s), ">>")
    assert_exact(tx << n, np.zeros(6, dt), "<< width")
    if name in SIGNED:  # arithmetic shift: negatives go to -1
        neg = make_tensor(np.array([-1, -5, ii.min], dt), name, device)
        assert_exact(neg >> n, np.array([-1, -1, -1], dt), ">> width (negative)")
        assert_exact(neg >> (n + 3), np.array([-1, -1, -1], dt), ">> beyond width")


# ---- unary ops ------------------------------------------------------------------------

SQRT_HALF = 1.0 / math.sqrt(2.0)


def _vec(f):
    return np.vectorize(f, otypes=[np.float64])


def _sigmoid(x):
    if math.isnan(x):
        return math.nan
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _softplus(x):
    if math.isnan(x) or x == math.inf:
        return x
    # log(1 + e^x) = max(x, 0) + log1p(e^-|x|), exact in float64 to ~1 ulp
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def _silu(x):
    if math.isinf(x):
        return x if x > 0 else -0.0
    return x * _sigmoid(x)


def _gelu(x):
    if math.isnan(x):
        return x
    if math.isinf(x):
        return x if x > 0 else -0.0
    # erfc's argument must not be rounded: for large |x| a one-ulp error in x/sqrt(2) moves
    # the result by ~x^2 ulps. Carry z = x/sqrt(2) as hi + lo (1/sqrt(2) to 106 bits,
    # exact product via Fraction) and apply erfc's first-order correction.
    c_hi, c_lo = 0.7071067811865476, -4.833646656726457e-17
    hi = x * c_hi
    lo = float(Fraction(x) * Fraction(c_hi) - Fraction(hi)) + x * c_lo
    corr = 2.0 / math.sqrt(math.pi) * math.exp(-hi * hi) * lo
    return 0.5 * x * (math.erfc(-hi) + corr)


def _gelu_tanh(x):
    if math.isnan(x):
        return x
    if math.isinf(x):
        return x if x > 0 else -0.0
    inner = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3) if abs(x) < 1e100 else x
    # 1 + tanh(u) = 2 / (1 + e^{-2u}), without cancellation for u << 0
    if inner > 0:
        return 0.5 * x * (1.0 + math.tanh(inner))
    e = -2.0 * inner
    if e > 700.0:
        return x * math.exp(-e)
    return x / (1.0 + math.exp(e))


def _elu(alpha):
    def f(x):
        return x if (x > 0 or math.isnan(x)) else alpha * math.expm1(x)
    return f


def _leaky(slope):
    def f(x):
        return x if (x > 0 or math.isnan(x)) else x * slope
    return f


def _rsqrt(x):
    with np.errstate(all="ignore"):
        return 1.0 / np.sqrt(x)


#: name -> (float64 reference, ulps, which zeros keep their sign)
FLOAT_UNARY = {
    "sqrt": (np.sqrt, 0, True), "rsqrt": (_rsqrt, 2, False), "reciprocal": (np.reciprocal, 0, True),
    "exp": (np.exp, 4, False), "exp2": (np.exp2, 4, False), "expm1": (np.expm1, 4, True),
    "log": (np.log, 4, False), "log1p": (np.log1p, 4, True), "log2": (np.log2, 4, False),
    "log10": (np.log10, 4, False), "sin": (np.sin, None, True), "cos": (np.cos, None, False),
    "tan": (np.tan, 4, True), "asin": (np.arcsin, 4, True), "acos": (np.arccos, 4, False),
    "atan": (np.arctan, 4, True), "sinh": (np.sinh, 4, True), "cosh": (np.cosh, 4, False),
    "tanh": (np.tanh, 4, True), "asinh": (np.arcsinh, 4, True), "acosh": (np.arccosh, 4, False),
    "atanh": (np.arctanh, 4, True), "erf": (_vec(math.erf), 4, True),
    "sigmoid": (_vec(_sigmoid), 4, False), "softplus": (_vec(_softplus), 8, False),
    "silu": (_vec(_silu), 8, False), "gelu": (_vec(_gelu), 8, False),
    "gelu_tanh": (_vec(_gelu_tanh), 8, False),
}
#: exact ops that keep the dtype: name -> (numpy reference, dtypes)
SAME_DTYPE_UNARY = {
    "negative": (np.negative, [*INTS, *FLOATS]),
    "positive": (np.positive, ALL),
    "abs": (np.abs, ALL),
    "sign": (np.sign, [*INTS, *FLOATS]),
    "square": (np.square, [*INTS, *FLOATS]),
    "floor": (np.floor, ALL),
    "ceil": (np.ceil, ALL),
    "trunc": (np.trunc, ALL),
    "round": (np.round, ALL),  # half to even
    "relu": (lambda x: np.where(x > 0, x, np.zeros_like(x)) if x.dtype.kind != "f"
             else np.where(np.isnan(x) | (x > 0), x, np.zeros_like(x)), [*INTS, *FLOATS]),
    "bitwise_invert": (np.invert, ["bool", *INTS]),
}
BOOL_UNARY = {
    "isnan": np.isnan, "isinf": np.isinf, "isfinite": np.isfinite, "signbit": np.signbit,
    "logical_not": np.logical_not,
}


def call_unary(op, t):
    if op == "gelu_tanh":
        return fg.gelu(t, approximate="tanh")
    return getattr(fg, op)(t)


def check_unary(op, name, got, a):
    with_flush_model(lambda a: _check_unary(op, name, got, a), got, op, a)


def _check_unary(op, name, got, a):
    with np.errstate(all="ignore"):
        if op in BOOL_UNARY:
            ref = a.astype(np.float64) if name == "bfloat16" else a
            if op == "signbit" and name == "bool":
                ref = np.zeros(a.shape, bool)
            elif op in ("isnan", "isinf") and name not in FLOATS:
                ref = np.zeros(a.shape, bool)
            elif op == "isfinite" and name not in FLOATS:
                ref = np.ones(a.shape, bool)
            else:
                ref = BOOL_UNARY[op](ref)
            assert_exact(got, ref, op)
            return
        if op in SAME_DTYPE_UNARY:
            f = SAME_DTYPE_UNARY[op][0]
            if name in ("bool", *INTS) and op in ("floor", "ceil", "trunc", "round"):
                ref = a.copy()  # integers are already integral
            elif name == "bool" and op in ("abs", "positive"):
                ref = a.copy()
            else:
                ref = f(a)
            if name == "bfloat16" or (op == "sign" and name in FLOATS):
                # the sign of a zero result of sign() is not specified (numpy: +0.0)
                assert_float_close(got, ref.astype(np.float64), name, 0,
                                   zero_sign=op not in ("relu", "sign"), what=op)
            else:
                assert_exact(got, np.asarray(ref).astype(storage(name)), op)
            return
        # float math: ints and bool are computed in the default float dtype
        if name not in FLOATS:
            a, name = a.astype(np.float32), DEFAULT_FLOAT
        ref_fn, ulps, zero_sign = FLOAT_UNARY[op]
        x64 = a.astype(np.float64)
        ref = ref_fn(x64)
        half = name in ("float16", "bfloat16")
        if op in ("sin", "cos"):
            mask = ~np.isfinite(x64) | (np.abs(x64) <= 1e4)
            if half:
                assert_float_close(got, ref, name, 1, atol=4 * 2.0**-23, mask=mask, what=op)
            else:
                assert_float_close(got, ref, name, 0, atol=4 * 2.0**-23 if name == "float32"
                                   else 4 * 2.0**-52, mask=mask, zero_sign=zero_sign, what=op)
            return
        bound = max(ulps, 1) if half else ulps
        atol = tiny(name) if ulps else 0.0
        # the limit at -inf of silu / gelu is checked on its own (test_activation_limits)
        mask = x64 != -np.inf if op in ("silu", "gelu", "gelu_tanh") else None
        assert_float_close(got, ref, name, bound, atol=atol, zero_sign=zero_sign, mask=mask,
                           what=op)


def unary_dtypes(op):
    if op in SAME_DTYPE_UNARY:
        return SAME_DTYPE_UNARY[op][1]
    return ALL


UNARY_OPS = [*FLOAT_UNARY, *SAME_DTYPE_UNARY, *BOOL_UNARY]


def test_unary_table_covers_every_function():
    from ferrograd import _math

    assert set(_math.UNARY) | {"gelu", "gelu_tanh"} == set(UNARY_OPS)
    assert set(_math.BINARY) == set(BINARY)


# Ops whose GPU kernels would not meet the bounds above (none: sin, cos and tan have their
# own argument reduction, shaders/trig.wgsl; the hook stays for ops added to the CPU first).
GPU_INACCURATE_UNARY: tuple = ()


@pytest.mark.parametrize("device,name,op",
                         device_rows([(d, op) for op in UNARY_OPS for d in unary_dtypes(op)],
                                     GPU_INACCURATE_UNARY),
                         indirect=["device"])
def test_unary_special_values(device, name, op):
    v = np.array(specials(name), dtype=storage(name))
    t = make_tensor(v, name, device)
    if name == "bfloat16":
        v = values_of(t, name)
    got = call_unary(op, t)
    check_unary(op, name, got, v)


def unary_elements(op, name):
    if op in ("sin", "cos") and name in FLOATS:
        return elements(name, finite_abs=1e4 if name != "float16" else 6e4)
    return elements(name)


@pytest.mark.parametrize("device,op", device_ops(UNARY_OPS, GPU_INACCURATE_UNARY), indirect=["device"])
@given(data=st.data())
def test_unary_hypothesis(device, op, data):
    name = data.draw(st.sampled_from(dtypes_on(device, unary_dtypes(op))), label="dtype")
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5),
                      label="shape")
    t, a = data.draw(operand(shape, name, unary_elements(op, name), device), label="x")
    got = call_unary(op, t)
    check_unary(op, name, got, a)


@pytest.mark.parametrize("op", ["exp", "log", "tanh", "sigmoid", "expm1", "sin", "cos", "erf",
                                "log1p", "softplus", "silu", "gelu", "gelu_tanh"])
@pytest.mark.parametrize("device,name", device_params(["float32", "float64"]),
                         indirect=["device"])
def test_unary_dense_sweep(device, name, op):
    """A dense sweep of each polynomial approximation's range (all reduction intervals)."""
    dt = storage(name)
    lim = {"exp": 100.0, "expm1": 100.0, "sigmoid": 120.0, "softplus": 120.0, "silu": 120.0,
           "tanh": 12.0, "erf": 6.0, "gelu": 12.0, "gelu_tanh": 12.0, "sin": 1e4, "cos": 1e4,
           "log": None, "log1p": None}[op]
    if lim is None:
        x = np.concatenate([np.geomspace(1e-38 if name == "float32" else 1e-300, 1e38, 20001),
                            1.0 + np.linspace(-0.5, 0.5, 20001), np.linspace(-0.99, 4, 5001)])
    else:
        x = np.concatenate([np.linspace(-lim, lim, 40001), np.linspace(-1, 1, 20001),
                            np.geomspace(1e-30, 1.0, 2001), -np.geomspace(1e-30, 1.0, 2001)])
    x = x.astype(dt)
    check_unary(op, name, call_unary(op, fg.tensor(x, device=device)), x)


# ---- activation parameters, where, clip -----------------------------------------------


@pytest.mark.parametrize("device,name", device_params(FLOATS), indirect=["device"])
@given(data=st.data())
def test_leaky_relu_and_elu(device, name, data):
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5))
    t, a = data.draw(operand(shape, name, device=device))
    slope = data.draw(st.sampled_from([0.01, 0.2, 1.0, 0.0, -0.5, 3.0]))
    alpha = data.draw(st.sampled_from([1.0, 0.5, 2.0, 0.0]))
    x64 = a.astype(np.float64)
    # the parameter is used in the tensor's dtype (as PyTorch): slope * x rounds once
    assert_float_close(fg.leaky_relu(t, slope), _vec(_leaky(slope))(x64), name, 1,
                       what="leaky_relu")
    assert_float_close(fg.leaky_relu(t, negative_slope=slope), _vec(_leaky(slope))(x64), name,
                       1, what="leaky_relu")
    half = name in ("float16", "bfloat16")
    assert_float_close(fg.elu(t, alpha), _vec(_elu(alpha))(x64), name, 1 if half else 8,
                       atol=tiny(name), what="elu")
    assert_float_close(fg.elu(t, alpha=alpha), _vec(_elu(alpha))(x64), name, 1 if half else 8,
                       atol=tiny(name), what="elu")


def test_activation_defaults_and_bad_arguments(device):
    x = fg.tensor(np.array([-2.0, -0.5, 0.0, 3.0], np.float32), device=device)
    assert_float_close(fg.leaky_relu(x), np.array([-0.02, -0.005, 0.0, 3.0]), "float32", 1)
    assert_float_close(fg.elu(x), np.array([math.expm1(-2), math.expm1(-0.5), 0, 3]),
                       "float32", 4)
    np.testing.assert_array_equal(to_np(fg.relu(x)), [0, 0, 0, 3])
    np.testing.assert_array_equal(to_np(fg.gelu(x)), to_np(fg.gelu(x, approximate="none")))
    assert not np.array_equal(to_np(fg.gelu(x)), to_np(fg.gelu(x, approximate="tanh")))
    with pytest.raises(ValueError):
        fg.gelu(x, approximate="erf")
    for op in ("sigmoid", "softplus", "silu", "relu", "gelu", "elu", "leaky_relu"):
        assert getattr(fg, op)(x).dtype == fg.float32
        np.testing.assert_array_equal(to_np(getattr(x, op)()), to_np(getattr(fg, op)(x)))


@pytest.mark.parametrize("device,name", device_params(FLOATS), indirect=["device"])
def test_activation_limits_at_infinity(device, name):
    """silu(x) = x * sigmoid(x) and gelu(x) = x * Phi(x) tend to 0 as x -> -inf (and to x as
    x -> +inf); the limit, not inf * 0 = nan (sigmoid and softplus already give their limits)."""
    t = make_tensor(np.array([-math.inf, math.inf], storage(name)), name, device)
    for op in ("silu", "gelu", "gelu_tanh", "sigmoid", "softplus", "elu"):
        got = values_of(call_unary(op, t), name)
        lo = {"sigmoid": 0.0, "softplus": 0.0, "elu": -1.0}.get(op, 0.0)
        hi = {"sigmoid": 1.0}.get(op, math.inf)
        assert got.tolist() == [lo, hi], (op, name, got.tolist())


def test_where_against_numpy_all_dtypes(device):
    for name in dtypes_on(device, ALL):
        v = np.array(specials(name), dtype=storage(name))
        a = make_tensor(v, name, device)
        b = make_tensor(v[::-1].copy(), name, device)
        cond = np.arange(v.size) % 3 == 0
        got = fg.where(fg.tensor(cond, device=device), a, b)
        assert got.dtype == fgdt(name)
        exp = np.where(cond, values_of(a, name), values_of(b, name))
        np.testing.assert_array_equal(values_of(got, name), exp)
        assert (np.signbit(values_of(got, name)) == np.signbit(exp)).all() or name == "bool"


@given(data=st.data())
def test_where_broadcasting_and_layouts(device, data):
    name = data.draw(st.sampled_from(dtypes_on(device, ALL)))
    shapes3 = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=4,
                                                          min_side=0, max_side=4)).input_shapes
    tc, c = data.draw(operand(shapes3[0], "bool", device=device))
    ta, a = data.draw(operand(shapes3[1], name, device=device))
    tb, b = data.draw(operand(shapes3[2], name, device=device))
    got = fg.where(tc, ta, tb)
    exp = np.where(c, a, b)
    assert got.dtype == fgdt(name)
    assert tuple(got.shape) == exp.shape
    np.testing.assert_array_equal(values_of(got, name), exp)
    # method form: self where condition else other
    np.testing.assert_array_equal(values_of(ta.where(tc, tb), name), exp)
    # Python scalars are weak (but bool with an int scalar is the default int, as bool + 1:
    # int64, and int32 on the GPU)
    got_s = fg.where(tc, ta, 0)
    default_int = fg.int64 if device == "cpu" else fg.int32
    assert got_s.dtype == (default_int if name == "bool" else fgdt(name))
    np.testing.assert_array_equal(values_of(got_s, name), np.where(c, a, 0))


@given(data=st.data())
def test_clip_against_numpy(device, data):
    name = data.draw(st.sampled_from(dtypes_on(device, [*INTS, *FLOATS])), label="dtype")
    sx, sb = data.draw(two_shapes())
    tx, x = data.draw(operand(sx, name, device=device))
    lo_hi = data.draw(hnp.arrays(storage(name), (2,), elements=elements(name)))
    lo, hi = np.sort(lo_hi) if not np.isnan(lo_hi.astype(np.float64)).any() else lo_hi
    if name == "bfloat16":
        lo, hi = round_bf16(lo), round_bf16(hi)
    if np.isnan(np.float64(lo)) or np.isnan(np.float64(hi)):
        return _check_clip_nan_bounds(tx, x, name)
    exp = np.minimum(np.maximum(x, lo), hi)
    for got in (fg.clip(tx, lo.item(), hi.item()), fg.clamp(tx, lo.item(), hi.item()),
                tx.clip(lo.item(), hi.item()), tx.clamp(min=lo.item(), max=hi.item())):
        assert got.dtype == fgdt(name)
        np.testing.assert_array_equal(values_of(got, name), exp)
    # one-sided, and tensor bounds that broadcast
    np.testing.assert_array_equal(values_of(fg.clip(tx, lo.item()), name), np.maximum(x, lo))
    np.testing.assert_array_equal(values_of(fg.clip(tx, max=hi.item()), name), np.minimum(x, hi))
    tb, bnd = data.draw(operand(sb, name, device=device))
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(values_of(fg.clip(tx, tb, hi.item()), name),
                                      np.minimum(np.maximum(x, bnd), hi))
        np.testing.assert_array_equal(values_of(fg.clip(tx, None, tb), name), np.minimum(x, bnd))


def _check_clip_nan_bounds(tx, x, name):
    got = values_of(fg.clip(tx, math.nan, None), name)
    assert np.isnan(got).all()  # numpy and PyTorch: a nan bound gives nan


def test_clip_min_greater_than_max_gives_max(device):
    x = fg.tensor(np.array([1.0, 5.0, 3.0, math.nan], np.float32), device=device)
    got = to_np(fg.clip(x, 4.0, 2.0))
    np.testing.assert_array_equal(got, np.clip(np.array([1, 5, 3, np.nan], np.float32), 4, 2))
    xi = fg.tensor(np.array([-3, 0, 9], np.int32), device=device)
    np.testing.assert_array_equal(to_np(fg.clip(xi, 5, 1)), [1, 1, 1])


def test_clip_inplace_and_out(device):
    a = np.array([-2.0, 0.5, 7.0], np.float32)
    t = fg.tensor(a, device=device)
    ptr, alias = t.data_ptr(), t.detach()
    r = t.clamp_(0.0, 1.0)
    assert t.data_ptr() == ptr and alias.shares_memory_with(t)
    np.testing.assert_array_equal(to_np(t), [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(to_np(alias), [0.0, 0.5, 1.0])  # written into the storage
    assert r is None or np.array_equal(to_np(r), to_np(t))
    o = fg.zeros(3, device=device)
    fg.clip(fg.tensor(a, device=device), -1.0, 1.0, out=o)
    np.testing.assert_array_equal(to_np(o), [-1.0, 0.5, 1.0])


# ---- operators ------------------------------------------------------------------------



SCALAR_CASES = [
    ("add", lambda t, s: t + s, lambda t, s: s + t),
    ("subtract", lambda t, s: t - s, lambda t, s: s - t),
    ("multiply", lambda t, s: t * s, lambda t, s: s * t),
    ("divide", lambda t, s: t / s, lambda t, s: s / t),
    ("floor_divide", lambda t, s: t // s, lambda t, s: s // t),
    ("remainder", lambda t, s: t % s, lambda t, s: s % t),
    ("pow", lambda t, s: t**s, lambda t, s: s**t),
]


@pytest.mark.parametrize("op,fwd,rev", SCALAR_CASES, ids=[c[0] for c in SCALAR_CASES])
@pytest.mark.parametrize("device,name", device_params(["int8", "int32", "uint8", "uint32", "int64",
                                                       "float16", "float32", "float64",
                                                       "bfloat16"]),
                         indirect=["device"])
def test_reflected_operators_with_python_scalars(op, fwd, rev, device, name):
    dt = storage(name)
    if name in FLOATS:
        v = np.array([0.0, -0.0, 1.0, -1.5, 2.0, 3.0, 0.25, -7.0, math.inf, math.nan], dt)
        scalars = [2.0, -3.0, 0.5, 2]
    else:
        ii = np.iinfo(dt)
        v = np.array(sorted({0, 1, 2, 3, 7, ii.max, ii.min, 5 if ii.min == 0 else -5}), dt)
        scalars = [2, 3, 1] if op == "pow" else [2, 3, -1 if ii.min < 0 else 1, 0]
    t = make_tensor(v, name, device)
    a = values_of(t, name)
    for s in scalars:
        sa = np.array(s).astype(dt) if not (name in FLOATS and op == "pow") else np.array(s, dt)
        if name not in FLOATS and op == "pow":
            rev_ok = (a >= 0).all()  # s ** negative int: PyTorch rule, tested elsewhere
        else:
            rev_ok = True
        got = fwd(t, s)
        assert got.dtype == (fgdt(DEFAULT_FLOAT) if op == "divide" and name not in FLOATS
                             else fgdt(name)), (op, name, got.dtype)
        check_binary(op, name, got, a, sa.reshape(1))
        if rev_ok:
            got_r = rev(t, s)
            check_binary(op, name, got_r, sa.reshape(1), a)


@pytest.mark.parametrize("device,name", device_params(ALL), indirect=["device"])
def test_unary_operators(device, name):
    v = np.array(specials(name), dtype=storage(name))
    t = make_tensor(v, name, device)
    a = values_of(t, name)
    with np.errstate(all="ignore"):
        if name != "bool":
            check_unary("negative", name, -t, a)
        else:
            with pytest.raises(TypeError):
                -t  # noqa: B018
        check_unary("abs", name, abs(t), a)
        check_unary("positive", name, +t, a)
        if name in FLOATS:
            with pytest.raises(TypeError):
                ~t  # noqa: B018
        elif name == "bool":
            assert_exact(~t, ~a, "~bool")  # logical not
        else:
            assert_exact(~t, np.invert(a), "~")


def test_negative_zero_and_special_results(device):
    x = fg.tensor(np.array([-0.0, 0.0], np.float32), device=device)
    g = to_np(-x)
    assert list(np.signbit(g)) == [False, True]
    assert list(np.signbit(to_np(abs(x)))) == [False, False]
    assert list(np.signbit(to_np(fg.sqrt(x)))) == [True, False]
    assert to_np(fg.reciprocal(x)).tolist() == [-math.inf, math.inf]
    assert to_np(fg.log(x)).tolist() == [-math.inf, -math.inf]
    y = fg.tensor(np.array([math.inf, -math.inf, math.nan, -1.0], np.float32), device=device)
    assert_float_close(fg.exp(y), [math.inf, 0.0, math.nan, math.exp(-1)], "float32", 4)
    np.testing.assert_array_equal(to_np(fg.tanh(y))[:3], [1.0, -1.0, math.nan])
    np.testing.assert_array_equal(to_np(fg.sigmoid(y))[:3], [1.0, 0.0, math.nan])
    assert np.isnan(to_np(fg.log(y))[[1, 2, 3]]).all()
    assert np.isnan(to_np(fg.sin(y))[:3]).all() and np.isnan(to_np(fg.cos(y))[:3]).all()


# ---- in-place -------------------------------------------------------------------------

INPLACE = [
    ("+=", "add"), ("-=", "subtract"), ("*=", "multiply"), ("/=", "divide"),
    ("//=", "floor_divide"), ("%=", "remainder"), ("**=", "pow"), ("&=", "bitwise_and"),
    ("|=", "bitwise_or"), ("^=", "bitwise_xor"), ("<<=", "bitwise_left_shift"),
    (">>=", "bitwise_right_shift"),
]


def apply_inplace(sym, t, u):
    ns = {"t": t, "u": u}
    exec(f"t {sym} u", ns)  # noqa: S102
    return ns["t"]


@pytest.mark.parametrize("sym,op", INPLACE, ids=[i[0] for i in INPLACE])
@given(data=st.data())
def test_inplace_operators_write_into_storage(device, sym, op, data):
    names = [d for d in dtypes_on(device, binary_dtypes(op))
             if not (op == "divide" and d not in FLOATS)]
    name = data.draw(st.sampled_from(names))
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
    ushape = data.draw(hnp.broadcastable_shapes(shape, min_dims=0, max_dims=len(shape),
                                                min_side=0, max_side=4)
                       .filter(lambda s: np.broadcast_shapes(shape, s) == shape))
    a = data.draw(hnp.arrays(storage(name), shape, elements=binary_elements(op, name, 0)))
    tu, b = data.draw(operand(ushape, name, binary_elements(op, name, 1), device))
    t = make_tensor(a, name, device)
    a = values_of(t, name)
    ptr, alias = t.data_ptr(), t.detach()
    view = np.asarray(t) if name != "bfloat16" and device == "cpu" else None
    expected = getattr(fg, op)(make_tensor(a, name, device), tu)
    t2 = apply_inplace(sym, t, tu)
    assert t2 is t
    assert t.data_ptr() == ptr and t.dtype == fgdt(name) and tuple(t.shape) == shape
    assert alias.shares_memory_with(t)
    check_binary(op, name, t, a, b)
    np.testing.assert_array_equal(values_of(t, name), values_of(expected, name))
    np.testing.assert_array_equal(values_of(alias, name), values_of(t, name))  # same storage
    if view is not None and view.size:
        np.testing.assert_array_equal(view, values_of(t, name))  # the same memory changed
    # the method form
    t3 = make_tensor(a, name, device)
    r = getattr(t3, op + "_")(tu)
    np.testing.assert_array_equal(values_of(t3, name), values_of(expected, name))
    assert r is None or r is t3 or np.array_equal(values_of(r, name), values_of(t3, name),
                                                  equal_nan=name in FLOATS)


@pytest.mark.parametrize("device,name", device_params(["float32", "float64"]),
                         indirect=["device"])
def test_unary_inplace_methods(device, name):
    a = np.array([-2.0, -0.5, 0.0, 0.3, 1.0, 4.0], storage(name))
    for op in ["exp", "log1p", "tanh", "sigmoid", "abs", "neg", "floor", "sqrt", "relu",
               "sin", "square", "round"]:
        t = fg.tensor(a.copy(), device=device)
        alias = t.detach()
        base = np.asarray(t) if device == "cpu" else None
        fresh = to_np(getattr(fg, op)(fg.tensor(a.copy(), device=device)))
        getattr(t, op + "_")()
        np.testing.assert_array_equal(to_np(alias), fresh, err_msg=op)  # written into the storage
        if base is not None:
            np.testing.assert_array_equal(base, fresh, err_msg=op)  # in the same memory


def test_inplace_through_views_matches_numpy(device):
    dt = np.float64 if device == "cpu" else np.float32
    rtol = 4e-16 if device == "cpu" else GPU_RTOL
    a = np.arange(24, dtype=dt).reshape(4, 6)
    t = fg.tensor(a.copy(), device=device)
    v = t.T[::2]
    v += 1
    an = a.copy()
    vn = an.T[::2]
    vn += 1
    np.testing.assert_array_equal(to_np(t), an)
    w = t[::-1, 1::2]
    w *= fg.tensor(np.array([2.0, 3.0, 4.0], dt), device=device)
    an[::-1, 1::2] *= np.array([2.0, 3.0, 4.0], dt)
    np.testing.assert_array_equal(to_np(t), an)
    t[1].exp_()
    an[1] = np.exp(an[1])
    np.testing.assert_allclose(to_np(t), an, rtol=rtol)
    t[:, 2].add_(5)
    an[:, 2] += 5
    np.testing.assert_allclose(to_np(t), an, rtol=rtol)


def test_inplace_dtype_rules(device):
    ti = fg.tensor(np.array([1, 2, 3], np.int32), device=device)
    with pytest.raises(TypeError):
        ti += 1.5
    with pytest.raises(TypeError):
        ti /= 2
    with pytest.raises(TypeError):
        ti += fg.tensor(np.array([1.0, 2.0, 3.0], np.float32), device=device)
    with pytest.raises(TypeError):
        ti.exp_()
    with pytest.raises(TypeError):
        ti.add_(0.5)
    np.testing.assert_array_equal(to_np(ti), [1, 2, 3])  # unchanged after the refusals
    tb = fg.tensor(np.array([True, False]), device=device)
    with pytest.raises(TypeError):
        tb += 1
    tf = fg.tensor(np.array([1.0, 2.0], np.float32), device=device)
    tf += fg.tensor(np.array([1, 2], np.int32), device=device)  # int into float: fine
    assert tf.dtype == fg.float32
    np.testing.assert_array_equal(to_np(tf), [2.0, 4.0])


def test_inplace_dtype_rules_for_wide_and_narrow_dtypes():
    # float64, int64 and int8 operands: dtypes the GPU does not hold
    # same-kind downcasts are allowed (as numpy's same_kind rule)
    tf = fg.tensor(np.array([1.0, 2.0], np.float32))
    tf += fg.tensor(np.array([0.1, 0.2], np.float64))
    assert tf.dtype == fg.float32
    np.testing.assert_array_equal(to_np(tf), np.array([1.1, 2.2]).astype(np.float32))
    tf += fg.tensor(np.array([1, 2], np.int64))  # int into float: fine
    np.testing.assert_array_equal(to_np(tf), (np.array([1.1, 2.2]) + [1, 2]).astype(np.float32))
    t8 = fg.tensor(np.array([100, -100], np.int8))
    t8 += fg.tensor(np.array([100, -100], np.int64))
    assert t8.dtype == fg.int8
    np.testing.assert_array_equal(to_np(t8), np.array([200, -200]).astype(np.int8))


@pytest.mark.parametrize("device,name", device_params(["float32", "float64"]),
                         indirect=["device"])
def test_inplace_refuses_shape_growth(device, name):
    dt = fgdt(name)
    t = fg.tensor(np.array([1.0, 2.0, 3.0]), dtype=dt, device=device)
    with pytest.raises(ValueError):
        t += fg.ones((2, 3), dtype=dt, device=device)
    with pytest.raises(ValueError):
        t.mul_(fg.ones((2, 3), dtype=dt, device=device))
    with pytest.raises(ValueError):
        t += fg.ones(4, dtype=dt, device=device)
    np.testing.assert_array_equal(to_np(t), [1.0, 2.0, 3.0])
    s = fg.tensor(2.0, dtype=dt, device=device)
    with pytest.raises(ValueError):
        s += fg.ones(3, dtype=dt, device=device)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 17, 64, 200])
@pytest.mark.parametrize("device,name", device_params(["int32", "float32", "float64"]),
                         indirect=["device"])
def test_inplace_aliasing(n, device, name):
    a = arange_square(n, name)
    t = fg.tensor(a.copy(), device=device)
    t += t.T
    exp = a.copy()
    exp += exp.T.copy()
    np.testing.assert_array_equal(to_np(t), exp)
    t = fg.tensor(a.copy(), device=device)
    t.sub_(t.T)
    np.testing.assert_array_equal(to_np(t), a - a.T)
    # overlapping shifted views of one buffer
    flat = np.arange(3 * n, dtype=storage(name))
    tf = fg.tensor(flat.copy(), device=device)
    dst = tf[1:]
    dst += tf[:-1]
    ref = flat.copy()
    ref[1:] += ref[:-1].copy()
    np.testing.assert_array_equal(to_np(tf), ref)
    tf = fg.tensor(flat.copy(), device=device)
    dst = tf[:-1]
    dst *= tf[1:]
    ref = flat.copy()
    ref[:-1] *= ref[1:].copy()
    np.testing.assert_array_equal(to_np(tf), ref)


def arange_square(n, name):
    return (np.arange(n * n) % 97 - 40).reshape(n, n).astype(storage(name))


# ---- out= -----------------------------------------------------------------------------


@given(data=st.data())
def test_out_argument(device, data):
    name = data.draw(st.sampled_from(dtypes_on(device, ["int16", "int32", "int64", "uint8",
                                                        "uint32", "float32", "float64",
                                                        "float16", "bfloat16"])))
    sa, sb = data.draw(two_shapes())
    ta, a = data.draw(operand(sa, name, device=device))
    tb, b = data.draw(operand(sb, name, device=device))
    shape = np.broadcast_shapes(sa, sb)
    out = make_tensor(np.zeros(shape, storage(name)), name, device)
    ptr = out.data_ptr()
    op = data.draw(st.sampled_from(["add", "multiply", "maximum", "bitwise_and"]
                                   if name in INTS else ["add", "multiply", "maximum", "atan2"]))
    r = getattr(fg, op)(ta, tb, out=out)
    assert out.data_ptr() == ptr
    check_binary(op, name, out, a, b)
    assert r.shares_memory_with(out) or out.size == 0
    np.testing.assert_array_equal(values_of(r, name), values_of(out, name))
    # unary out=
    out2 = make_tensor(np.zeros(sa, storage(name)), name, device)
    uop = "abs" if name in UNSIGNED else "negative"
    getattr(fg, uop)(ta, out=out2)
    check_unary(uop, name, out2, a)


def test_out_into_a_view_and_errors(device):
    dt, it = (fg.float64, fg.int64) if device == "cpu" else (fg.float32, fg.int32)
    base = fg.zeros((3, 4), dtype=dt, device=device)
    x = fg.tensor(np.arange(4.0), dtype=dt, device=device)
    fg.multiply(x, 2.0, out=base[1])
    fg.exp(x[:3], out=base[:, 0])
    ref = np.zeros((3, 4))
    ref[1] = np.arange(4.0) * 2
    ref[:, 0] = np.exp(np.arange(3.0))
    np.testing.assert_allclose(to_np(base), ref, rtol=4e-16 if device == "cpu" else GPU_RTOL)
    with pytest.raises(ValueError):
        fg.add(x, x, out=fg.zeros(3, dtype=dt, device=device))
    with pytest.raises(TypeError):
        fg.add(x, x, out=np.zeros(4))
    with pytest.raises(TypeError):
        fg.divide(x, x, out=fg.zeros(4, dtype=it, device=device))
