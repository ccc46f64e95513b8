"""Autograd against PyTorch's semantics, without PyTorch: finite-difference gradchecks
(float64) of every differentiable op over hypothesis-drawn shapes, broadcasting and
non-contiguous inputs; gradgradchecks; and the behaviour of the tape (accumulation,
retain_graph, hooks, grad mode, in-place rules, custom Functions, memory)."""

from __future__ import annotations

import gc
import math
import threading

import numpy as np
import pytest
from conftest import basic_index, to_np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import ferrograd as fg
from ferrograd.autograd import Function, gradcheck, gradgradcheck

F64 = fg.float64
FEW = settings(max_examples=15, deadline=None)
SOME = settings(max_examples=25, deadline=None)


# ---- inputs --------------------------------------------------------------------------

DOMAINS = {
    "any": lambda r, s: r.uniform(-1.5, 1.5, s),
    # away from 0 (kinks of abs/relu/..., poles of 1/x, atan2's origin)
    "nz": lambda r, s: r.choice([-1.0, 1.0], s) * r.uniform(0.3, 1.5, s),
    "pos": lambda r, s: r.uniform(0.5, 2.0, s),
    "unit": lambda r, s: r.uniform(-0.8, 0.8, s),
    "gt1": lambda r, s: r.uniform(1.2, 3.0, s),
    "gtm1": lambda r, s: r.uniform(-0.5, 2.0, s),
    # two interleaved grids: an "a" value is never within 0.1 of a "b" value (no ties)
    "grid_a": lambda r, s: r.integers(-6, 6, s) * 0.2 + 0.05,
    "grid_b": lambda r, s: r.integers(-6, 6, s) * 0.2 + 0.15,
    # distinct values (sort/topk/max without ties)
    "distinct": lambda r, s: (r.permutation(int(np.prod(s, dtype=int))) * 0.37 - 1.0).reshape(s),
}

LAYOUTS = ["contig", "T", "strided", "flipped"]


def as_layout(a, layout: str, requires_grad: bool = True, device="cpu"):
    """A float64 leaf (float32 on the GPU) holding ``a``'s values, contiguous or as a
    transposed / strided / negatively-strided view of a bigger buffer."""
    a = np.asarray(a, dtype=np.float64 if device == "cpu" else np.float32)
    nd = a.ndim

    def tensor(v):
        return fg.tensor(v, device=device)

    if layout == "T" and nd >= 2:
        t = tensor(np.ascontiguousarray(a.T)).T
    elif layout == "strided" and nd >= 1:
        sl = tuple(slice(1, None, 2) for _ in range(nd))
        big = np.zeros(tuple(2 * s + 1 for s in a.shape), a.dtype)
        big[sl] = a
        t = tensor(big)[sl]
    elif layout == "flipped" and nd >= 1:
        sl = (slice(None, None, -1),) * nd
        t = tensor(np.ascontiguousarray(a[sl]))[sl]
    else:
        t = tensor(a)
    np.testing.assert_array_equal(to_np(t), a)
    return t.requires_grad_(requires_grad)


@st.composite
def leaves(draw, shape, domain="any", device="cpu"):
    seed = draw(st.integers(0, 2**32 - 1))
    layout = draw(st.sampled_from(LAYOUTS))
    return as_layout(DOMAINS[domain](np.random.default_rng(seed), tuple(shape)), layout,
                     device=device)


def small_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def leaf(values, dtype=F64, device="cpu"):
    """A leaf of ``dtype`` (float64 becomes float32 on the GPU, which holds no float64)."""
    if device != "cpu" and dtype == F64:
        dtype = fg.float32
    return fg.tensor(np.asarray(values, dtype=np.float64), dtype=dtype, requires_grad=True,
                     device=device)


def npy(t):
    return to_np(t.detach())


def like(c, t):
    """A constant tensor ``c`` on ``t``'s device (float constants in ``t``'s dtype), so one
    function serves GPU inputs and their float64 CPU reference."""
    if c.device == t.device:
        return c
    dtype = t.dtype if c.dtype.is_floating_point and t.dtype.is_floating_point else None
    return c.to(t.device, dtype) if dtype is not None else c.to(t.device)


# GPU gradients are checked against the CPU's float64 ones (which gradcheck validates):
# finite differences in float32 are too coarse. float32 vs float64: test_gpu's tolerances.
GPU_GRAD_RTOL, GPU_GRAD_ATOL = 1e-4, 1e-5


def _flat_outputs(out):
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in outs if isinstance(o, fg.Tensor) and o.requires_grad]


def _to_cpu64(x):
    if not isinstance(x, fg.Tensor):
        return x
    t = x.detach().cpu()
    if t.dtype.is_floating_point:
        t = t.astype(F64)
    return t.requires_grad_(x.requires_grad)


def _derivatives(fn, inputs, order, seed):
    """Outputs, gradients and (``order`` 2) gradients of the gradients of ``fn`` at
    ``inputs``, for fixed random weights on outputs and gradients (seeded, so the GPU run and
    its CPU reference use the same ones)."""
    rng = np.random.default_rng(seed)
    diff = [x for x in inputs if isinstance(x, fg.Tensor) and x.requires_grad]
    outs = _flat_outputs(fn(*inputs))
    results = [o.detach() for o in outs]
    if not outs or not diff:
        return results
    dev, dt = diff[0].device, diff[0].dtype

    def weights(shape):
        return fg.tensor(rng.uniform(0.5, 1.5, shape), dtype=dt, device=dev)

    gouts = [weights(o.shape) for o in outs]
    grads = fg.autograd.grad(outs, diff, grad_outputs=gouts, allow_unused=True,
                             create_graph=order == 2)
    results += [g.detach() for g in grads if g is not None]
    if order == 2:
        live = [g for g in grads if g is not None and g.requires_grad]
        if live:
            ggs = fg.autograd.grad(live, diff, grad_outputs=[weights(g.shape) for g in live],
                                   allow_unused=True)
            results += [g for g in ggs if g is not None]
    return results


def _check_gpu_against_cpu(fn, inputs, order):
    got = _derivatives(fn, inputs, order, seed=0)
    want = _derivatives(fn, [_to_cpu64(x) for x in inputs], order, seed=0)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.device == inputs[0].device, g.device
        assert tuple(g.shape) == tuple(w.shape)
        wn = npy(w)
        scale = max(1.0, float(np.max(np.abs(wn), initial=0.0)))
        np.testing.assert_allclose(npy(g).astype(np.float64), wn, rtol=GPU_GRAD_RTOL,
                                   atol=GPU_GRAD_ATOL * scale)
    return True


def _on_gpu(inputs):
    return any(isinstance(x, fg.Tensor) and x.device.type != "cpu" for x in inputs)


def check(fn, *inputs, **kw):
    if _on_gpu(inputs):
        assert _check_gpu_against_cpu(fn, inputs, 1)
    else:
        assert gradcheck(fn, inputs, **kw)


def checkgrad2(fn, *inputs, **kw):
    if _on_gpu(inputs):
        assert _check_gpu_against_cpu(fn, inputs, 2)
    else:
        assert gradgradcheck(fn, inputs, **kw)


# ---- elementwise ---------------------------------------------------------------------

BINARY = {
    # name: (function, domain of a, domain of b)
    "add": (lambda a, b: a + b, "any", "any"),
    "sub": (lambda a, b: a - b, "any", "any"),
    "mul": (lambda a, b: a * b, "any", "any"),
    "div": (lambda a, b: a / b, "any", "nz"),
    "pow": (lambda a, b: a**b, "pos", "any"),
    "maximum": (fg.maximum, "grid_a", "grid_b"),
    "minimum": (fg.minimum, "grid_a", "grid_b"),
    "atan2": (fg.atan2, "nz", "nz"),
    "hypot": (fg.hypot, "nz", "nz"),
    "logaddexp": (fg.logaddexp, "any", "any"),
    "copysign": (fg.copysign, "nz", "nz"),
    "remainder": (fg.remainder, "any", "nz"),
}


@pytest.mark.parametrize("name", list(BINARY))
@SOME
@given(data=st.data())
def test_gradcheck_binary_broadcasting(device, name, data):
    fn, da, db = BINARY[name]
    sa, sb = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3)
                       .map(lambda r: r.input_shapes))
    a = data.draw(leaves(sa, da, device=device))
    b = data.draw(leaves(sb, db, device=device))
    if name == "remainder":  # away from the jumps at a / b integer
        q = npy(a) / npy(b)
        assume(np.all(np.abs(q - np.round(q)) > 0.02))
    check(fn, a, b)


@pytest.mark.parametrize("name", list(BINARY))
@FEW
@given(data=st.data())
def test_gradcheck_binary_with_scalar(device, name, data):
    fn, da, db = BINARY[name]
    shape = data.draw(small_shapes())
    a = data.draw(leaves(shape, da, device=device))
    s = float(DOMAINS[db](np.random.default_rng(data.draw(st.integers(0, 99))), ()))
    r = float(DOMAINS[da](np.random.default_rng(data.draw(st.integers(0, 99))), ()))
    if name == "remainder":
        q = npy(a) / s
        assume(np.all(np.abs(q - np.round(q)) > 0.02))
    if name in ("maximum", "minimum") and device != "cpu":
        # A float32 tie with the scalar is the kink, where the gradient splits evenly;
        # the float64 reference, taken at the unrounded scalar, sees no tie there.
        f32 = npy(a).astype(np.float32)
        assume(not np.any(f32 == np.float32(s)) and not np.any(f32 == np.float32(r)))
    check(lambda x: fn(x, s), a)
    if name not in ("remainder", "pow", "copysign", "div"):
        check(lambda x: fn(r, x), a)


INPLACE_METHODS = {"add": "add_", "sub": "sub_", "mul": "mul_", "div": "div_", "pow": "pow_",
                   "maximum": "maximum_", "minimum": "minimum_", "atan2": "atan2_",
                   "hypot": "hypot_", "logaddexp": "logaddexp_", "copysign": "copysign_",
                   "remainder": "remainder_"}


@pytest.mark.parametrize("name", list(BINARY))
@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_gradcheck_binary_inplace_on_nonleaf(device, name, data):
    _, da, db = BINARY[name]
    shape = data.draw(small_shapes(min_dims=1))
    sb = data.draw(hnp.broadcastable_shapes(shape, max_dims=len(shape), max_side=3)
                   .filter(lambda s: np.broadcast_shapes(s, shape) == shape))
    a = data.draw(leaves(shape, da, device=device))
    b = data.draw(leaves(sb, db, device=device))
    if name == "remainder":
        q = npy(a) / npy(b)
        assume(np.all(np.abs(q - np.round(q)) > 0.02))
    method = INPLACE_METHODS[name]

    def fn(a, b):
        y = a * 1.0
        out = getattr(y, method)(b)
        assert out is y or out.data_ptr() == y.data_ptr()
        return y * 1.0

    check(fn, a, b)


def test_gradcheck_binary_scalar_left_operand(device):
    b = leaf([[0.7, -1.3], [1.1, 0.4]], device=device)
    check(lambda x: 2.5 / x, b)
    check(lambda x: 1.7**x, b)
    check(lambda x: fg.copysign(1.5, x) * x, b)
    check(lambda x: fg.remainder(x, 0.9) * 1.0, b)


def test_pow_special_points(device):
    # integer exponents of negative bases, and 0 ** b (PyTorch: d/db = 0 where a == 0, b >= 0)
    x = leaf([-1.5, -0.5, 0.7, 2.0], device=device)
    check(lambda x: x**3, x)
    check(lambda x: x**2.0, x)
    a = leaf([0.0, 0.0, 2.0], device=device)
    b = leaf([2.0, 0.0, 1.5], device=device)
    (a**b).sum().backward()
    # float64 on the CPU; float32 on the GPU, where a few ulp (WGSL's pow) is the bound.
    tol = {} if device == "cpu" else {"rtol": 1e-6}
    np.testing.assert_allclose(npy(a.grad), [0.0, 0.0, 1.5 * 2**0.5], **tol)
    np.testing.assert_allclose(npy(b.grad), [0.0, 0.0, 2**1.5 * math.log(2)], **tol)
    z = leaf([0.0, 1.0], device=device)
    (z**0.0).sum().backward()
    np.testing.assert_array_equal(npy(z.grad), [0.0, 0.0])


def test_maximum_minimum_ties_split_evenly(device):
    a = leaf([1.0, 2.0, 3.0], device=device)
    b = leaf([1.0, 5.0, 3.0], device=device)
    (fg.maximum(a, b) + 2 * fg.minimum(a, b)).sum().backward()
    np.testing.assert_allclose(npy(a.grad), [1.5, 2.0, 1.5])
    np.testing.assert_allclose(npy(b.grad), [1.5, 1.0, 1.5])


UNARY = {
    "neg": (lambda x: -x, "any"),
    "pos": (lambda x: +x, "any"),
    "abs": (fg.abs, "nz"),
    "square": (fg.square, "any"),
    "sqrt": (fg.sqrt, "pos"),
    "rsqrt": (fg.rsqrt, "pos"),
    "reciprocal": (fg.reciprocal, "nz"),
    "exp": (fg.exp, "any"),
    "exp2": (fg.exp2, "any"),
    "expm1": (fg.expm1, "any"),
    "log": (fg.log, "pos"),
    "log1p": (fg.log1p, "gtm1"),
    "log2": (fg.log2, "pos"),
    "log10": (fg.log10, "pos"),
    "sin": (fg.sin, "any"),
    "cos": (fg.cos, "any"),
    "tan": (fg.tan, "any"),
    "asin": (fg.asin, "unit"),
    "acos": (fg.acos, "unit"),
    "atan": (fg.atan, "any"),
    "sinh": (fg.sinh, "any"),
    "cosh": (fg.cosh, "any"),
    "tanh": (fg.tanh, "any"),
    "asinh": (fg.asinh, "any"),
    "acosh": (fg.acosh, "gt1"),
    "atanh": (fg.atanh, "unit"),
    "erf": (fg.erf, "any"),
    "relu": (fg.relu, "nz"),
    "sigmoid": (fg.sigmoid, "any"),
    "softplus": (fg.softplus, "any"),
    "gelu": (fg.gelu, "any"),
    "gelu_tanh": (lambda x: fg.gelu(x, approximate="tanh"), "any"),
    "silu": (fg.silu, "any"),
    "leaky_relu": (lambda x: fg.leaky_relu(x, 0.1), "nz"),
    "elu": (lambda x: fg.elu(x, alpha=0.7), "nz"),
    # piecewise constant: zero gradient away from the jumps
    "sign": (lambda x: fg.sign(x) * 1.0, "nz"),
    "floor": (lambda x: fg.floor(x * 1.0), "any"),
    "ceil": (fg.ceil, "any"),
    "trunc": (fg.trunc, "any"),
    "round": (fg.round, "any"),
}


@pytest.mark.parametrize("name", list(UNARY))
@FEW
@given(data=st.data())
def test_gradcheck_unary(device, name, data):
    fn, dom = UNARY[name]
    x = data.draw(leaves(data.draw(small_shapes()), dom, device=device))
    if name in ("floor", "ceil", "trunc", "round"):
        v = npy(x) * (2 if name == "round" else 1)
        assume(np.all(np.abs(v - np.round(v)) > 0.01))
    check(fn, x)


def test_unary_methods_and_inplace_forms_match(device):
    x = leaf([0.3, -0.8, 1.2], device=device)
    check(lambda x: x.exp().sin().tanh().sigmoid().relu(), x)
    # in-place forms on non-leaves are recorded (each keeps a copy of what it overwrites)
    check(lambda x: (x * 1.0).sin_().add_(1).mul_(2).exp_(), x)


def test_where(device):
    cond = fg.tensor([[True, False, True], [False, False, True]], device=device)
    a = leaf(np.linspace(-1, 1, 6).reshape(2, 3), device=device)
    b = leaf([0.5, -0.25, 2.0], device=device)
    check(lambda a, b: fg.where(like(cond, a), a, b), a, b)
    check(lambda a: fg.where(like(cond, a), a, 0.0), a)
    check(lambda b: fg.where(like(cond, b), 1.5, b), b)
    check(lambda a, b: a.where(like(cond, a), b), a, b)


@FEW
@given(data=st.data())
def test_gradcheck_clip(device, data):
    shape = data.draw(small_shapes())
    x = data.draw(leaves(shape, "grid_a", device=device))
    check(lambda x: fg.clip(x, -0.5, 0.5), x)
    check(lambda x: fg.clip(x, min=-0.3), x)
    check(lambda x: x.clamp(max=0.3), x)
    sl, sh = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, base_shape=shape,
                                                          max_dims=len(shape), max_side=3)
                       .map(lambda r: r.input_shapes))
    lo = data.draw(leaves(sl, "grid_b", device=device))
    hi = data.draw(leaves(sh, "grid_b", device=device))
    assume(np.all(npy(lo) != npy(hi)))  # lo == hi: not differentiable in the bounds
    # includes lo > hi, where the result is hi (as numpy and PyTorch) and hi gets the gradient
    check(lambda x, lo, hi: fg.clip(x, lo, hi), x, lo, hi)
    check(lambda x, lo: fg.clip(x, lo, None), x, lo)
    check(lambda x, hi: fg.clip(x, None, hi), x, hi)


def test_clip_bounds_crossed_gives_gradient_to_max(device):
    x = leaf([1.0, 5.0, 2.5], device=device)
    lo = leaf([3.0, 3.0, 3.0], device=device)
    hi = leaf([2.0, 2.0, 2.0], device=device)
    r = fg.clip(x, lo, hi)
    np.testing.assert_array_equal(npy(r), [2.0, 2.0, 2.0])
    r.sum().backward()
    np.testing.assert_array_equal(npy(x.grad), [0, 0, 0])
    np.testing.assert_array_equal(npy(lo.grad), [0, 0, 0])
    np.testing.assert_array_equal(npy(hi.grad), [1, 1, 1])


# ---- reductions ----------------------------------------------------------------------


@st.composite
def axes_for(draw, ndim):
    if ndim == 0:
        return draw(st.sampled_from([None, ()]))
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1))
    picked = draw(st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim))
    return tuple(a - ndim if draw(st.booleans()) else a for a in picked)


REDUCTIONS = {
    "sum": (lambda x, ax, k: fg.sum(x, axis=ax, keepdims=k), "any"),
    "mean": (lambda x, ax, k: fg.mean(x, axis=ax, keepdims=k), "any"),
    "prod": (lambda x, ax, k: fg.prod(x, axis=ax, keepdims=k), "any"),
    "max": (lambda x, ax, k: fg.max(x, axis=ax, keepdims=k), "distinct"),
    "min": (lambda x, ax, k: fg.min(x, axis=ax, keepdims=k), "distinct"),
    "amax": (lambda x, ax, k: fg.amax(x, axis=ax, keepdims=k), "distinct"),
    "var0": (lambda x, ax, k: fg.var(x, axis=ax, keepdims=k), "any"),
    "var1": (lambda x, ax, k: fg.var(x, axis=ax, keepdims=k, correction=1), "any"),
    "std0": (lambda x, ax, k: fg.std(x, axis=ax, keepdims=k), "any"),
    "std1": (lambda x, ax, k: fg.std(x, axis=ax, keepdims=k, correction=1), "any"),
    "logsumexp": (lambda x, ax, k: fg.logsumexp(x, axis=ax, keepdims=k), "any"),
}


def _reduced_count(shape, ax):
    if ax is None:
        return int(np.prod(shape, dtype=int))
    axs = (ax,) if isinstance(ax, int) else ax
    return int(np.prod([shape[a] for a in axs], dtype=int))


@pytest.mark.parametrize("name", list(REDUCTIONS))
@SOME
@given(data=st.data())
def test_gradcheck_reductions(device, name, data):
    fn, dom = REDUCTIONS[name]
    shape = data.draw(small_shapes(max_dims=3))
    x = data.draw(leaves(shape, dom, device=device))
    ax = data.draw(axes_for(len(shape)))
    keep = data.draw(st.booleans())
    n = _reduced_count(shape, ax)
    if name in ("var1", "std1"):
        assume(n > 1)
    if name.startswith("std"):
        assume(n > 1)  # std of one element is 0: not differentiable
    check(lambda x: fn(x, ax, keep), x)


@SOME
@given(data=st.data())
def test_gradcheck_prod_with_zeros(device, data):
    shape = data.draw(small_shapes(min_dims=1))
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    a = rng.uniform(-1.5, 1.5, shape)
    a[rng.random(shape) < 0.35] = 0.0
    x = as_layout(a, data.draw(st.sampled_from(LAYOUTS)), device=device)
    ax = data.draw(axes_for(len(shape)))
    check(lambda x: fg.prod(x, axis=ax), x)


def test_prod_gradient_with_one_and_two_zeros(device):
    x = leaf([[2.0, 0.0, 3.0], [0.0, 0.0, 5.0]], device=device)
    fg.prod(x, axis=1).sum().backward()
    np.testing.assert_array_equal(npy(x.grad), [[0.0, 6.0, 0.0], [0.0, 0.0, 0.0]])


def test_max_min_ties_split_evenly(device):
    x = leaf([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], device=device)
    fg.max(x, axis=1).sum().backward()
    np.testing.assert_allclose(npy(x.grad), [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    y = leaf([4.0, 1.0, 1.0, 7.0], device=device)
    y.min().backward()
    np.testing.assert_allclose(npy(y.grad), [0, 0.5, 0.5, 0])
    z = leaf([[1.0, 5.0], [5.0, 0.0]], device=device)
    z.max().backward()
    np.testing.assert_allclose(npy(z.grad), [[0, 0.5], [0.5, 0]])


def test_max_with_dim_gives_values_and_indices(device):
    x = leaf([[1.0, 4.0, 2.0], [7.0, 0.5, 3.0]], device=device)
    v, i = x.max(1)
    assert i.requires_grad is False
    v.sum().backward()
    np.testing.assert_array_equal(npy(x.grad), [[0, 1, 0], [1, 0, 0]])
    # with ties the gradient goes to the returned index, as in PyTorch (fg.max(x, axis=)
    # without indices splits it evenly, as amax does)
    t = leaf([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], device=device)
    v, i = t.max(dim=1)
    (v * fg.tensor([1.0, 2.0], dtype=t.dtype, device=device)).sum().backward()
    grad = np.zeros((2, 3))
    grad[[0, 1], npy(i)] = [1.0, 2.0]
    np.testing.assert_array_equal(npy(t.grad), grad)
    u = leaf([[4.0, 1.0], [1.0, 4.0], [1.0, 0.0]], device=device)
    v, i = u.min(0, keepdim=True)
    assert v.shape == i.shape == (1, 2)
    v.sum().backward()
    assert npy(u.grad).sum() == 2.0 and npy(u.grad)[npy(i)[0], [0, 1]].tolist() == [1.0, 1.0]


@pytest.mark.parametrize("log", [False, True])
@SOME
@given(data=st.data())
def test_gradcheck_softmax(device, log, data):
    shape = data.draw(small_shapes(min_dims=1))
    x = data.draw(leaves(shape, device=device))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    f = fg.log_softmax if log else fg.softmax
    w = fg.tensor(np.random.default_rng(1).standard_normal(shape))  # non-trivial output weights
    check(lambda x: f(x, axis=axis) * like(w, x), x)
    check(lambda x: (x.log_softmax(axis) if log else x.softmax(axis)), x)


@pytest.mark.parametrize("prod", [False, True])
@SOME
@given(data=st.data())
def test_gradcheck_cumulative(device, prod, data):
    shape = data.draw(small_shapes(min_dims=1))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    a = rng.uniform(-1.5, 1.5, shape)
    if data.draw(st.booleans()):
        a[rng.random(shape) < 0.3] = 0.0  # zeros: cumprod's gradient without division
    x = as_layout(a, data.draw(st.sampled_from(LAYOUTS)), device=device)
    axis = data.draw(st.none() | st.integers(-len(shape), len(shape) - 1))
    f = fg.cumulative_prod if prod else fg.cumulative_sum
    check(lambda x: f(x, axis=axis), x)
    if axis is not None:
        check(lambda x: (x.cumprod(axis) if prod else x.cumsum(axis)), x)
        check(lambda x: f(x, axis=axis, include_initial=True), x)


def test_cumprod_gradient_with_zeros_exact(device):
    x = leaf([2.0, 0.0, 3.0, 0.0, 5.0], device=device)
    fg.cumulative_prod(x).sum().backward()
    # d/dx0 = 1 + x1 + x1 x2 + ... = 1; d/dx1 = x0 (1 + x2 + x2 x3 + ...) = 2 * 4 = 8;
    # d/dx2 = x0 x1 (...) = 0; d/dx3 = x0 x1 x2 (1 + x4) = 0; d/dx4 = 0
    np.testing.assert_allclose(npy(x.grad), [1.0, 8.0, 0.0, 0.0, 0.0])


# ---- matmul and composites -----------------------------------------------------------

MATMUL_SHAPES = [
    ((3,), (3,)),
    ((3,), (3, 2)),
    ((2, 3), (3,)),
    ((2, 3), (3, 4)),
    ((2, 2, 3), (3, 4)),
    ((2, 3), (4, 3, 2)),
    ((4, 1, 2, 3), (3, 3, 2)),
    ((3,), (2, 3, 4)),
    ((2, 2, 3), (3,)),
    ((1, 2, 3), (2, 3, 1)),
]


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES)
@FEW
@given(data=st.data())
def test_gradcheck_matmul(device, sa, sb, data):
    a = data.draw(leaves(sa, device=device))
    b = data.draw(leaves(sb, device=device))
    check(lambda a, b: a @ b, a, b)
    check(lambda a: fg.matmul(a, like(b.detach(), a)), a)
    check(lambda b: fg.matmul(like(a.detach(), b), b), b)


def test_gradcheck_linalg_composites(device):
    rng = np.random.default_rng(3)
    a = leaf(rng.standard_normal((2, 3, 4)), device=device)
    b = leaf(rng.standard_normal((4, 3, 2)), device=device)
    check(lambda a, b: fg.tensordot(a, b, axes=([1, 2], [1, 0])), a, b)
    u, v = leaf(rng.standard_normal((2, 4)), device=device), leaf(rng.standard_normal(4), device=device)
    check(lambda u, v: fg.vecdot(u, v), u, v)
    check(lambda u, v: fg.outer(u[0], v), u, v)
    check(lambda u, v: fg.dot(u[1], v), u, v)


@pytest.mark.skipif(not hasattr(fg, "einsum"), reason="ferrograd.einsum is not implemented yet")
def test_gradcheck_einsum():
    rng = np.random.default_rng(4)
    a = leaf(rng.standard_normal((2, 3)))
    b = leaf(rng.standard_normal((3, 4)))
    check(lambda a, b: fg.einsum("ij,jk->ik", a, b), a, b)
    check(lambda a: fg.einsum("ii->i", a[:, :2]), a)
    check(lambda a, b: fg.einsum("ij,jk", a, b).sum(), a, b)


@pytest.mark.parametrize("ord", [2, 1, 3, math.inf])
def test_gradcheck_vector_norm(device, ord):  # noqa: A002
    x = leaf(np.random.default_rng(5).standard_normal((3, 4)), device=device)
    check(lambda x: fg.linalg.vector_norm(x, ord=ord, axis=1), x)


# svdvals (linalg beyond matmul) has no GPU kernel yet: CPU only.
@pytest.mark.parametrize("shape", [(4, 3), (2, 5), (2, 3, 3), (3, 1, 4)])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_gradcheck_svdvals_and_spectral_norms(shape, layout):
    # Distinct singular values (a random matrix has them): d s_i / dx = u_i v_i^T.
    x = as_layout(np.random.default_rng(sum(shape)).standard_normal(shape), layout)
    check(lambda x: fg.linalg.svdvals(x), x)
    check(lambda x: fg.linalg.matrix_norm(x, ord="nuc"), x)
    check(lambda x: fg.linalg.matrix_norm(x, ord=2), x)
    check(lambda x: fg.linalg.matrix_norm(x, ord=-2), x)


def test_svdvals_refuses_second_derivatives():
    x = leaf(np.random.default_rng(1).standard_normal((3, 3)))
    (g,) = fg.autograd.grad(fg.linalg.svdvals(x).sum(), x)
    # sum of singular values = trace(U V^T) when all are positive
    u, s, vt = np.linalg.svd(npy(x))
    np.testing.assert_allclose(npy(g), u @ vt, rtol=1e-10, atol=1e-12)
    with pytest.raises(RuntimeError, match="gradients of gradients"):
        fg.autograd.grad(fg.linalg.svdvals(x).sum(), x, create_graph=True)


def test_vector_norm_composite_from_primitives(device):
    # What linalg.vector_norm is built from: sqrt(sum(x * x)), and max(abs(x)).
    x = leaf(np.random.default_rng(5).standard_normal((3, 4)), device=device)
    check(lambda x: fg.sqrt(fg.sum(x * x, axis=1)), x)
    check(lambda x: fg.max(fg.abs(x), axis=1), x)
    check(lambda x: fg.sum(fg.abs(x) ** 3, axis=1) ** (1 / 3), x)


# ---- views and indexing --------------------------------------------------------------

VIEWS = {
    # name: (input shape, function)
    "reshape": ((2, 3, 4), lambda x: x.reshape(4, 6)),
    "reshape-1": ((2, 3, 4), lambda x: x.reshape(-1)),
    "view": ((2, 3, 4), lambda x: x.contiguous().view(6, 4)),
    "permute": ((2, 3, 4), lambda x: x.permute(2, 0, 1)),
    "transpose": ((2, 3, 4), lambda x: x.transpose(0, 2)),
    "swapaxes": ((2, 3, 4), lambda x: fg.swapaxes(x, 0, 1)),
    "T": ((2, 3, 4), lambda x: x.T),
    "mT": ((2, 3, 4), lambda x: x.mT),
    "expand": ((3, 1, 4), lambda x: x.expand(2, 3, 5, 4)),
    "expand_as": ((3, 1, 4), lambda x: x.expand_as(fg.zeros(2, 3, 2, 4))),
    "broadcast_to": ((3, 1), lambda x: fg.broadcast_to(x, (2, 3, 4))),
    "squeeze": ((3, 1, 4), lambda x: x.squeeze(1)),
    "squeeze_all": ((1, 3, 1), lambda x: x.squeeze()),
    "unsqueeze": ((3, 4), lambda x: x.unsqueeze(1)),
    "flip": ((2, 3, 4), lambda x: x.flip(0, 2)),
    "flip_all": ((2, 3), lambda x: fg.flip(x)),
    "narrow": ((2, 5, 3), lambda x: x.narrow(1, 1, 3)),
    "select": ((2, 3, 4), lambda x: x.select(1, -1)),
    "diagonal": ((3, 4), lambda x: x.diagonal()),
    "diagonal_off": ((2, 4, 3), lambda x: x.diagonal(1, 1, 2)),
    "unfold": ((2, 5), lambda x: x.unfold(1, 3, 1)),  # overlapping windows
    "unfold_step": ((7, 2), lambda x: x.unfold(0, 2, 3)),
    "flatten": ((2, 3, 4), lambda x: x.flatten(1)),
    "unflatten": ((2, 6), lambda x: x.unflatten(1, (3, 2))),
    "moveaxis": ((2, 3, 4), lambda x: fg.moveaxis(x, 0, -1)),
    "iter": ((3, 2), lambda x: tuple(x)),
    "unbind": ((3, 2), lambda x: x.unbind(1)),
    "chain": ((2, 3, 4), lambda x: x.T.reshape(12, 2)[::-3].unsqueeze(0).expand(2, 4, 2)),
}


@pytest.mark.parametrize("name", list(VIEWS))
@settings(max_examples=6, deadline=None)
@given(data=st.data())
def test_gradcheck_views(device, name, data):
    shape, fn = VIEWS[name]
    x = data.draw(leaves(shape, device=device))
    check(fn, x)


@SOME
@given(data=st.data())
def test_gradcheck_basic_slicing(device, data):
    shape = data.draw(small_shapes(min_dims=1, max_dims=3, max_side=4))
    x = data.draw(leaves(shape, device=device))
    idx = data.draw(basic_index(shape))
    check(lambda x: x[idx], x)


ADVANCED = {
    "int_list": ((4, 3), lambda x: x[[0, 2, 0, 3]]),  # repeated rows accumulate
    "tensor": ((4, 3), lambda x: x[fg.tensor([[1, 1], [3, 0]])]),
    "two_axes": ((3, 4, 2), lambda x: x[[0, 2, 2], :, [1, 0, 1]]),
    "after_slice": ((3, 4), lambda x: x[1:, [3, 0, 3]]),
    "negative": ((3, 4), lambda x: x[:, [-1, -4]]),
    "mask": ((3, 4), lambda x: x[fg.tensor(np.arange(12).reshape(3, 4) % 3 == 0)]),
    "row_mask": ((3, 4), lambda x: x[fg.tensor([True, False, True])]),
    "ellipsis": ((2, 3, 4), lambda x: x[..., [0, 0, 2]]),
    "none": ((3, 4), lambda x: x[None, [2, 1], None]),
}


@pytest.mark.parametrize("name", list(ADVANCED))
@settings(max_examples=5, deadline=None)
@given(data=st.data())
def test_gradcheck_advanced_index_get(device, name, data):
    shape, fn = ADVANCED[name]
    check(fn, data.draw(leaves(shape, device=device)))


SETITEM = {
    # name: (x shape, v shape, index)
    "int": ((3, 4), (4,), 1),
    "slice": ((3, 4), (2, 4), slice(1, None)),
    "slice_bcast": ((3, 4), (1,), (slice(None), slice(None, None, 2))),
    "ints": ((4, 3), (2, 3), [0, 2]),
    "repeated": ((4, 3), (3, 3), [1, 1, 2]),  # last write wins in value; all get gradient
    "two_axes": ((3, 4), (3,), ([0, 1, 2], [3, 3, 0])),
    "mask": ((3, 4), (), np.arange(12).reshape(3, 4) % 5 == 1),
    "neg_step": ((5,), (3,), slice(None, None, -2)),
}


@pytest.mark.parametrize("name", list(SETITEM))
@settings(max_examples=5, deadline=None)
@given(data=st.data())
def test_gradcheck_setitem(device, name, data):
    sx, sv, idx = SETITEM[name]
    if isinstance(idx, np.ndarray):
        idx = fg.tensor(idx, device=device)
    x = data.draw(leaves(sx, device=device))
    v = data.draw(leaves(sv, device=device))

    def fn(x, v):
        y = x * 1.0  # a non-leaf that setitem may write into
        y[idx] = v
        return y

    if name == "repeated":  # duplicate targets: only the last write is differentiable
        def fn(x, v):  # noqa: F811
            y = x * 1.0
            y[idx] = v
            return y.sum(0) * 0.0 + y[[0, 3]].sum(0)

    check(fn, x, v)


def test_setitem_into_plain_tensor_records_history(device):
    v = leaf([1.0, 2.0], device=device)
    buf = fg.zeros(3, 2, dtype=v.dtype, device=device)
    buf[1] = v
    assert buf.requires_grad and not buf.is_leaf
    (buf * 3).sum().backward()
    np.testing.assert_array_equal(npy(v.grad), [3.0, 3.0])


JOINS = {
    "concat": (lambda a, b: fg.concat([a, b, a], axis=1)),
    "concat0": (lambda a, b: fg.cat([a.T, b.T])),
    "stack": (lambda a, b: fg.stack([a, b[:, :2]], axis=-1)),
    "split": (lambda a, b: tuple(fg.split(b, [1, 3], axis=1))),
    "split_torch": (lambda a, b: tuple(b.split(2, dim=1))),
    "chunk": (lambda a, b: tuple(fg.chunk(b, 3, dim=1))),
    "tile": (lambda a, b: fg.tile(a, (2, 1, 2))),
    "repeat_np": (lambda a, b: fg.repeat(a, 2, axis=1)),
    "repeat_torch": (lambda a, b: a.repeat(2, 1, 3)),
    "roll": (lambda a, b: fg.roll(b, 2, axis=1)),
    "roll_flat": (lambda a, b: fg.roll(b, -3)),
    "tril": (lambda a, b: fg.tril(b, -1)),
    "triu": (lambda a, b: fg.triu(b, 1)),
}


@pytest.mark.parametrize("name", list(JOINS))
@settings(max_examples=6, deadline=None)
@given(data=st.data())
def test_gradcheck_joins(device, name, data):
    a = data.draw(leaves((2, 2), device=device))
    b = data.draw(leaves((2, 5), device=device))
    check(JOINS[name], a, b)


IDX = fg.tensor([2, 0, 2, 1])
GATHERS = {
    "take_flat": ((3, 4), lambda x: fg.take(x, fg.tensor([[11, 0], [5, 5]]))),
    "take_axis": ((3, 4), lambda x: fg.take(x, IDX, axis=1)),
    "take_along_axis": ((3, 4), lambda x: fg.take_along_axis(x, fg.tensor([[3, 3, 0]]).T, axis=1)),
    "gather": ((3, 4), lambda x: fg.gather(x, 0, fg.tensor([[2, 0, 1, 2], [0, 0, 0, 1]]))),
    "gather_m": ((3, 4), lambda x: x.gather(1, fg.tensor([[3], [1], [1]]))),
    "index_select": ((3, 4), lambda x: fg.index_select(x, 1, IDX)),
    "index_select_m": ((4, 2), lambda x: x.index_select(0, IDX)),
}


@pytest.mark.parametrize("name", list(GATHERS))
@settings(max_examples=5, deadline=None)
@given(data=st.data())
def test_gradcheck_gathers(device, name, data):
    shape, fn = GATHERS[name]
    check(fn, data.draw(leaves(shape, device=device)))


@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_gradcheck_scatters(device, data):
    x = data.draw(leaves((3, 4), device=device))
    src = data.draw(leaves((2, 4), device=device))
    index = fg.tensor([[2, 0, 2, 1], [2, 2, 0, 1]])
    check(lambda x, s: fg.scatter_add(x, 0, index, s), x, src)
    check(lambda x, s: x.scatter_add(1, fg.tensor([[0, 0, 3]]), s[:1, :3]), x, src)
    check(lambda x, s: fg.index_add(x, 0, fg.tensor([1, 1]), s), x, src)
    check(lambda x, s: x.index_add(1, fg.tensor([3, 0]), s[:, :3].T, alpha=2.0), x, src)

    def inplace(x, s):
        y = x * 1.0
        y.scatter_add_(0, index, s)
        return y

    check(inplace, x, src)


# float64 gradcheck: CPU only; the GPU's sort/topk gradients are compared with the
# CPU's in tests/test_gpu_sort.py.
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_gradcheck_sort_topk_values(data):
    shape = data.draw(small_shapes(min_dims=1, max_side=4))
    x = data.draw(leaves(shape, "distinct"))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    desc = data.draw(st.booleans())
    check(lambda x: fg.sort(x, axis=axis, descending=desc), x)
    check(lambda x: x.sort(axis, desc).values, x)
    k = data.draw(st.integers(0, shape[axis]))
    check(lambda x: x.topk(k, dim=axis, largest=desc).values, x)


def test_astype_between_float_dtypes():
    x = leaf([0.5, -1.25, 2.0])
    y = x.astype(fg.float32)
    assert y.dtype == fg.float32 and y.grad_fn is not None
    (y * y).sum().backward()
    assert x.grad.dtype == F64
    np.testing.assert_allclose(npy(x.grad), 2 * npy(x), rtol=1e-6)
    for dt in (fg.float16, fg.bfloat16, fg.float32):
        z = leaf([1.0, 2.0], dtype=dt)
        (z.astype(F64) * fg.tensor([3.0, 4.0], dtype=F64)).sum().backward()
        assert z.grad.dtype == dt
        np.testing.assert_array_equal(npy(z.grad.float()), [3.0, 4.0])
    check(lambda x: x.astype(F64) * 2, x)
    # through float32: finite differences are only float32-accurate
    check(lambda x: x.double().float().double(), leaf([0.5, -1.25]), atol=1e-3, eps=1e-3)


def test_float_to_int_cast_is_not_differentiable():
    x = leaf([1.5, 2.5])
    y = x.astype(fg.int64)
    assert not y.requires_grad and y.grad_fn is None


# ---- double backward -----------------------------------------------------------------

GRADGRAD_UNARY = ["exp", "log", "sin", "cos", "tanh", "sigmoid", "softplus", "sqrt", "rsqrt",
                  "reciprocal", "atan", "asin", "erf", "gelu", "gelu_tanh", "silu", "square",
                  "elu", "leaky_relu", "relu", "abs", "expm1", "log1p", "sinh", "acosh", "tan"]


@pytest.mark.parametrize("name", GRADGRAD_UNARY)
def test_gradgradcheck_unary(device, name):
    fn, dom = UNARY[name]
    x = as_layout(DOMAINS[dom](np.random.default_rng(7), (2, 3)), "T", device=device)
    checkgrad2(fn, x)


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "pow", "maximum", "atan2",
                                  "hypot", "logaddexp", "copysign", "remainder"])
def test_gradgradcheck_binary(device, name):
    fn, da, db = BINARY[name]
    rng = np.random.default_rng(8)
    a = as_layout(DOMAINS[da](rng, (2, 3)), "contig", device=device)
    b = as_layout(DOMAINS[db](rng, (3,)), "flipped", device=device)
    checkgrad2(fn, a, b)


@pytest.mark.parametrize("sa,sb", [((3,), (3,)), ((2, 3), (3, 2)), ((2, 2, 3), (3,)),
                                   ((3,), (2, 3, 4))])
def test_gradgradcheck_matmul(device, sa, sb):
    rng = np.random.default_rng(9)
    checkgrad2(lambda a, b: a @ b, leaf(rng.standard_normal(sa), device=device), leaf(rng.standard_normal(sb), device=device))


@pytest.mark.parametrize("name", ["sum", "mean", "prod", "max", "var1", "std1", "logsumexp"])
def test_gradgradcheck_reductions(device, name):
    fn, dom = REDUCTIONS[name]
    x = as_layout(DOMAINS[dom](np.random.default_rng(10), (3, 4)), "strided", device=device)
    checkgrad2(lambda x: fn(x, 1, False), x)
    checkgrad2(lambda x: fn(x, None, False), x)


@pytest.mark.parametrize("f", [fg.softmax, fg.log_softmax])
def test_gradgradcheck_softmax(device, f):
    x = leaf(np.random.default_rng(11).standard_normal((2, 4)), device=device)
    checkgrad2(lambda x: f(x, axis=1), x)
    checkgrad2(lambda x: f(x, axis=0), x)


def test_gradgradcheck_misc(device):
    rng = np.random.default_rng(12)
    x = leaf(rng.uniform(0.5, 1.5, (2, 3)), device=device)
    checkgrad2(lambda x: fg.cumulative_prod(x, axis=1), x)
    checkgrad2(lambda x: fg.cumulative_sum(x, axis=0), x)
    checkgrad2(lambda x: fg.clip(x, 0.7, 1.2) * x, x)
    checkgrad2(lambda x: x[[1, 0, 1]].T.reshape(-1) * x.flatten()[:1], x)
    checkgrad2(lambda x: fg.concat([x, x * x], axis=0).sum(0), x)


def test_gradgradcheck_prod_with_zeros():
    x = leaf([[0.5, 0.0, 2.0], [0.7, 1.3, 3.0], [1.0, 2.0, -1.0], [0.0, 0.4, 0.0]])
    checkgrad2(lambda x: fg.prod(x[:3], axis=1), x)  # at most one zero per group: exact
    checkgrad2(lambda x: fg.prod(x[:3]), x)
    checkgrad2(lambda x: fg.prod(x[:3] * x[:3], axis=0, keepdims=True), x)
    # two zeros in a group: the first derivative is exact, the second is refused
    fg.prod(x, axis=1).sum().backward()
    np.testing.assert_array_equal(npy(x.grad)[3], [0.0, 0.0, 0.0])
    with pytest.raises(RuntimeError, match="two or more zeros"):
        fg.autograd.grad(fg.prod(x, axis=1).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="zeros"):
        fg.autograd.grad(fg.cumulative_prod(x, axis=1).sum(), x, create_graph=True)


def test_gradgradcheck_with_non_differentiable_outputs():
    x = leaf([1.0, 2.0, 0.5])
    checkgrad2(lambda x: (x.exp(), fg.argmax(x), x.sort(0).indices, x * x), x)


def test_gradcheck_catches_a_dropped_graph():
    x = leaf([1.0, 2.0])
    with pytest.raises(fg.autograd.GradcheckError):
        gradcheck(lambda x: fg.tensor(x.detach()) * 2, (x,))
    assert not gradcheck(lambda x: x.detach() * 2, (x,), raise_exception=False)
    assert gradcheck(lambda x: (x * 2, fg.ones(3), fg.argmax(x)), (x,))


def test_zero_size_tensors():
    x = fg.zeros(0, 3, dtype=F64, requires_grad=True)
    (x.exp().sum(0) + fg.prod(x, axis=0) + fg.softmax(x, axis=1).sum(0)).sum().backward()
    assert x.grad.shape == (0, 3)
    a = fg.zeros(2, 0, dtype=F64, requires_grad=True)
    b = fg.zeros(0, 3, dtype=F64, requires_grad=True)
    (a @ b).sum().backward()
    assert a.grad.shape == (2, 0) and b.grad.shape == (0, 3)
    y = leaf([1.0, 2.0, 3.0])
    (y[2:1].sum() + y[fg.tensor([], dtype=fg.int64)].sum()).backward()
    np.testing.assert_array_equal(npy(y.grad), [0.0, 0.0, 0.0])


def test_half_precision_leaves():
    for dt in (fg.float16, fg.bfloat16):
        x = fg.tensor([1.0, 2.0], dtype=dt, requires_grad=True)
        (x.exp() * x).sum().backward()
        assert x.grad.dtype == dt
        want = np.exp([1.0, 2.0]) * (1 + np.array([1.0, 2.0]))
        np.testing.assert_allclose(npy(x.grad.float()), want, rtol=2e-2)


def test_softmax_dtype_argument_keeps_the_graph():
    x = leaf([1.0, 2.0, 0.5], dtype=fg.float32)
    y = fg.softmax(x, axis=0, dtype=F64)
    assert y.dtype == F64 and y.requires_grad
    (y * fg.tensor([1.0, 0.0, 0.0], dtype=F64)).sum().backward()
    p = np.exp([1.0, 2.0, 0.5]) / np.exp([1.0, 2.0, 0.5]).sum()
    np.testing.assert_allclose(npy(x.grad), p[0] * (np.eye(3)[0] - p), rtol=1e-5)
    z = leaf([1.0, 2.0])
    assert fg.log_softmax(z, dtype=fg.float32, axis=0).requires_grad


def test_tensor_of_a_tensor_is_a_new_leaf():
    x = leaf([1.0, 2.0])
    y = fg.tensor(x * 2)
    assert y.is_leaf and not y.requires_grad and y.grad_fn is None
    z = fg.tensor(x, requires_grad=True)
    assert z.is_leaf and z.requires_grad
    (z * 3).sum().backward()
    assert x.grad is None


# ---- behaviour -----------------------------------------------------------------------


def test_gradients_accumulate_across_backward_calls(device):
    x = leaf([1.0, 2.0], device=device)
    (x * x).sum().backward()
    (3 * x).sum().backward()
    np.testing.assert_array_equal(npy(x.grad), [2 + 3, 4 + 3])
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_array_equal(npy(x.grad), [2, 4])
    assert x.grad.grad_fn is None and not x.grad.requires_grad


def test_leaf_grad_is_an_independent_contiguous_tensor(device):
    x = leaf([1.0, 2.0, 3.0], device=device)
    x.sum().backward()  # the incoming gradient is a broadcast of one value
    g = x.grad
    g[0] = 5.0  # must not write into the other elements
    np.testing.assert_array_equal(npy(x.grad), [5.0, 1.0, 1.0])
    y = leaf([1.0, 2.0], device=device)
    ext = fg.tensor([7.0, 8.0], dtype=y.dtype, device=device)
    (y * 1.0).backward(ext)
    y.grad[0] = 0.0
    np.testing.assert_array_equal(npy(ext), [7.0, 8.0])  # grad does not alias gradient=


def test_retain_graph_and_second_backward_error(device):
    x = leaf([1.0, 2.0], device=device)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    g1 = npy(x.grad).copy()
    y.backward()
    np.testing.assert_allclose(npy(x.grad), 2 * g1)
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()
    z = (x * 2).sum()
    fg.autograd.grad(z, x)
    with pytest.raises(RuntimeError, match="retain_graph"):
        z.backward()


def test_backward_of_non_scalar_needs_gradient(device):
    x = leaf([1.0, 2.0], device=device)
    y = x * 2
    with pytest.raises(RuntimeError, match="scalar"):
        y.backward()
    y.backward(fg.tensor([1.0, -1.0], dtype=x.dtype, device=device))
    np.testing.assert_array_equal(npy(x.grad), [2.0, -2.0])
    with pytest.raises(RuntimeError):
        (x * 2).backward(fg.ones(3, dtype=x.dtype, device=device))
    (x[:1] * 4).backward()  # one element: implicit gradient is fine
    np.testing.assert_array_equal(npy(x.grad), [6.0, -2.0])


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError):
        fg.tensor([1.0]).sum().backward()


def test_requires_grad_needs_float_dtype():
    with pytest.raises(RuntimeError, match="floating point"):
        fg.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError):
        fg.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError):
        fg.arange(3, requires_grad=True)
    t = fg.tensor([True])
    with pytest.raises(RuntimeError):
        t.requires_grad = True
    for f in (fg.zeros, fg.ones, fg.randn, fg.rand, fg.empty):
        assert f(2, requires_grad=True).requires_grad
    assert fg.full((2,), 1.5, requires_grad=True).is_leaf


def test_leaf_flags_and_grad_fn_names():
    x = leaf([1.0, 2.0])
    c = fg.tensor([1.0, 2.0])
    assert x.is_leaf and x.requires_grad and x.grad_fn is None and x.grad is None
    assert c.is_leaf and not c.requires_grad
    y = x * 2
    assert not y.is_leaf and y.requires_grad
    assert (c * 2).grad_fn is None and not (c * 2).requires_grad
    names = {
        "mul": y, "add": x + 1, "exp": x.exp(), "sum": x.sum(), "mean": x.mean(),
        "matmul": x @ x, "reshape": x.reshape(2, 1), "permute": x.reshape(1, 2).T,
        "expand": x.expand(3, 2), "index": x[[0]], "where": fg.where(x > 1, x, 0.0),
        "softmax": x.softmax(0), "clip": x.clip(0, 1), "concat": fg.concat([x, x]),
    }
    for n, t in names.items():
        name = t.grad_fn.name()
        assert isinstance(name, str) and name.endswith("Backward"), (n, name)
        assert repr(t.grad_fn) == f"<{name}>"
    assert names["mul"].grad_fn.name() == "MulBackward"
    assert names["sum"].grad_fn.name() == "SumBackward"
    assert names["matmul"].grad_fn.name() == "MatmulBackward"
    # next_functions: (node, output index) per input, None for leaves / constants
    z = (x * 2).exp()
    (prev, nr), = z.grad_fn.next_functions
    assert prev.name() == "MulBackward" and nr == 0
    assert prev.next_functions[0][0] is None
    assert z.grad_fn == z.grad_fn and hash(z.grad_fn) == hash(z.grad_fn)
    with pytest.raises(RuntimeError):
        y.requires_grad = False  # only leaves may turn it off
    x.requires_grad = False
    assert not (x * 2).requires_grad


def test_detach():
    x = leaf([1.0, 2.0])
    y = x * 3
    d = y.detach()
    assert d.is_leaf and not d.requires_grad and d.grad_fn is None
    assert d.data_ptr() == y.data_ptr()
    with fg.no_grad():
        d[0] = 10.0  # shares memory
    assert y[0].item() == 10.0
    z = (d * x).sum()
    z.backward()
    np.testing.assert_array_equal(npy(x.grad), [10.0, 6.0])


def test_no_grad_context_and_decorator():
    x = leaf([1.0, 2.0])
    with fg.no_grad():
        y = x * 2
        assert not fg.is_grad_enabled()
        with fg.enable_grad():
            z = x * 2
            assert fg.is_grad_enabled()
        assert not fg.is_grad_enabled()
    assert fg.is_grad_enabled()
    assert y.grad_fn is None and not y.requires_grad and y.is_leaf
    assert z.grad_fn is not None and z.requires_grad

    @fg.no_grad()
    def f(t):
        return t * 2

    @fg.autograd.no_grad
    def f_bare(t):
        return t * 2

    @fg.enable_grad()
    def g(t):
        return t * 2

    assert not f(x).requires_grad and not f_bare(x).requires_grad
    assert f.__name__ == "f"
    with fg.no_grad():
        assert g(x).requires_grad
    assert fg.is_grad_enabled()

    with pytest.raises(ValueError), fg.no_grad():
        raise ValueError("restores the mode on the way out")
    assert fg.is_grad_enabled()


def test_set_grad_enabled():
    x = leaf([1.0])
    with fg.set_grad_enabled(False):
        assert not (x * 2).requires_grad
        with fg.set_grad_enabled(True):
            assert (x * 2).requires_grad
    assert fg.is_grad_enabled()
    fg.set_grad_enabled(False)  # a plain call takes effect at once
    try:
        assert not fg.is_grad_enabled() and not (x * 2).requires_grad
    finally:
        fg.set_grad_enabled(True)
    assert fg.is_grad_enabled()

    @fg.set_grad_enabled(False)
    def f(t):
        return t * 2

    assert fg.is_grad_enabled()  # decorating does not switch the mode
    assert not f(x).requires_grad
    assert fg.is_grad_enabled()


def test_grad_mode_is_per_thread():
    seen = []
    with fg.no_grad():
        th = threading.Thread(target=lambda: seen.append(fg.is_grad_enabled()))
        th.start()
        th.join()
    assert seen == [True]


def test_no_grad_parameter_update_leaves_leaf_intact(device):
    w = leaf([1.0, 2.0], device=device)
    (w * w).sum().backward()
    with fg.no_grad():
        w -= 0.1 * w.grad
        w.add_(1.0)
        w[0] = 0.5
        w.zero_()
        w.copy_(fg.tensor([3.0, 4.0], device=device))
    assert w.is_leaf and w.requires_grad and w.grad_fn is None
    np.testing.assert_array_equal(npy(w), [3.0, 4.0])


def test_autograd_grad(device):
    x = leaf([1.0, 2.0], device=device)
    y = leaf([3.0], device=device)
    u = leaf([0.5], device=device)
    out = (x * x).sum() * y
    gx, gy = fg.autograd.grad(out, (x, y), retain_graph=True)
    np.testing.assert_array_equal(npy(gx), [6.0, 12.0])
    np.testing.assert_array_equal(npy(gy), [5.0])
    assert x.grad is None and y.grad is None  # grad() does not touch .grad
    with pytest.raises(RuntimeError, match="allow_unused"):
        fg.autograd.grad(out, [x, u], retain_graph=True)
    gx, gu = fg.autograd.grad(out, [x, u], retain_graph=True, allow_unused=True)
    assert gu is None
    gx, gu = fg.autograd.grad(out, [x, u], retain_graph=True, materialize_grads=True)
    np.testing.assert_array_equal(npy(gu), [0.0])
    # with respect to an intermediate tensor, and with grad_outputs
    h = x * 2
    z = h * h
    (gh,) = fg.autograd.grad(z, h, grad_outputs=fg.tensor([1.0, 0.5], dtype=x.dtype, device=device))
    np.testing.assert_array_equal(npy(gh), [4.0, 4.0])
    with pytest.raises(RuntimeError):
        fg.autograd.grad((x * 2).sum(), fg.tensor([1.0], device=device))
    # several outputs
    a, b = x.sum(), (x * x).sum()
    (g,) = fg.autograd.grad([a, b], [x])
    np.testing.assert_array_equal(npy(g), [3.0, 5.0])


def test_autograd_grad_runs_only_what_the_inputs_need():
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    h = x * 2
    h.sum().backward()  # frees h's node
    v = (h * w).sum()
    (gw,) = fg.autograd.grad(v, w, retain_graph=True)  # does not need h's (freed) node
    np.testing.assert_array_equal(npy(gw), [2.0, 4.0])
    (gh,) = fg.autograd.grad(v, h)
    np.testing.assert_array_equal(npy(gh), [3.0, 4.0])
    calls = []

    class Spy(Function):
        @staticmethod
        def forward(ctx, t):
            return t * 1.0

        @staticmethod
        def backward(ctx, g):
            calls.append(1)
            return g

    a, b = leaf([1.0]), leaf([2.0])
    out = Spy.apply(a) + b * 3
    (gb,) = fg.autograd.grad(out, b)
    assert npy(gb).tolist() == [3.0] and calls == []


def test_autograd_backward_function(device):
    x = leaf([1.0, 2.0], device=device)
    a, b = x * 2, x * x
    fg.autograd.backward([a, b], [fg.ones(2, dtype=x.dtype, device=device),
                          fg.tensor([1.0, 2.0], dtype=x.dtype, device=device)])
    np.testing.assert_array_equal(npy(x.grad), [4.0, 10.0])


def test_create_graph_hessian_vector_product():
    rng = np.random.default_rng(13)
    a = rng.standard_normal((4, 4))
    xv, v = rng.standard_normal(4), rng.standard_normal(4)
    x = leaf(xv)
    A = fg.tensor(a)
    f = x @ A @ x + (x**3).sum()
    (g,) = fg.autograd.grad(f, x, create_graph=True)
    assert g.requires_grad and g.grad_fn is not None
    np.testing.assert_allclose(npy(g), (a + a.T) @ xv + 3 * xv**2)
    (hv,) = fg.autograd.grad((g * fg.tensor(v)).sum(), x)
    np.testing.assert_allclose(npy(hv), (a + a.T) @ v + 6 * xv * v)
    # the same through backward(create_graph=True) and .grad
    x2 = leaf(xv)
    f2 = (x2 @ A @ x2 + (x2**3).sum())
    f2.backward(create_graph=True)
    assert x2.grad.requires_grad
    gv = (x2.grad * fg.tensor(v)).sum()
    x2.grad = None
    gv.backward()
    np.testing.assert_allclose(npy(x2.grad), (a + a.T) @ v + 6 * xv * v)


def test_third_derivative():
    x = leaf([0.7])
    (g1,) = fg.autograd.grad(x.sin().sum(), x, create_graph=True)
    (g2,) = fg.autograd.grad(g1.sum(), x, create_graph=True)
    (g3,) = fg.autograd.grad(g2.sum(), x)
    np.testing.assert_allclose(npy(g3), [-math.cos(0.7)])


def test_inplace_on_leaf_requiring_grad_raises_at_once():
    x = leaf([1.0, 2.0])
    for op in (lambda: x.add_(1), lambda: x.mul_(2), lambda: x.exp_(), lambda: x.zero_(),
               lambda: x.fill_(1.0), lambda: x.copy_(fg.ones(2)), lambda: x.clamp_(0, 1)):
        with pytest.raises(RuntimeError, match="leaf"):
            op()
    with pytest.raises(RuntimeError, match="leaf"):
        x += 1
    with pytest.raises(RuntimeError, match="leaf"):
        x[0] = 3.0
    with pytest.raises(RuntimeError, match="leaf"):
        x.scatter_add_(0, fg.tensor([0]), fg.ones(1, dtype=F64))
    np.testing.assert_array_equal(npy(x), [1.0, 2.0])  # nothing was written


def test_inplace_on_saved_tensor_raises_at_backward():
    x = leaf([1.0, 2.0])
    y = x.exp()  # exp saves its output
    y += 1
    with pytest.raises(RuntimeError, match="in-place"):
        y.sum().backward()
    x = leaf([1.0, 2.0])
    h = x * 1.0
    z = h * h  # mul saves its inputs
    h.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        z.sum().backward()
    # modifying a leaf (under no_grad) that a graph saved is caught too
    w = leaf([1.0, 2.0])
    loss = (w * w).sum()
    with fg.no_grad():
        w.add_(1)
    with pytest.raises(RuntimeError, match="version"):
        loss.backward()


def test_inplace_on_unsaved_nonleaf_works():
    x = leaf([1.0, 2.0])
    y = x * 2
    y += 1
    y.mul_(3)
    y.exp_()
    assert not y.is_leaf
    y.sum().backward()
    np.testing.assert_allclose(npy(x.grad), 6 * np.exp(3 * (2 * npy(x) + 1)))
    # ops that do not need their inputs (add, sub) leave them free to be modified
    x = leaf([1.0, 2.0])
    a = x * 2
    b = a + 1
    c = x.sin() * 1.0
    d = c.exp()  # exp needs its output only, so c may change
    a += 5
    c += 1
    (b.sum() + d.sum()).backward()
    np.testing.assert_allclose(npy(x.grad), 2 + np.exp(np.sin([1.0, 2.0])) * np.cos([1.0, 2.0]))


def test_inplace_self_operand():
    x = leaf([1.5, -2.0])
    y = x * 1.0
    y *= y  # both operands are the old value
    y.sum().backward()
    np.testing.assert_allclose(npy(x.grad), 2 * npy(x))
    x = leaf([0.7, 1.3, 0.4])
    for method in INPLACE_METHODS.values():
        if method == "remainder_":
            continue

        def fn(x, method=method):
            y = x * 1.0
            getattr(y, method)(y)
            return y * 1.0

        check(fn, x)
        checkgrad2(fn, x)


def test_inplace_clamp_and_setitem_on_nonleaf():
    x = leaf([-1.0, 0.5, 2.0])
    y = x * 1.0
    y.clamp_(0.0, 1.0)
    y.sum().backward()
    np.testing.assert_array_equal(npy(x.grad), [0.0, 1.0, 0.0])
    x = leaf([1.0, 2.0, 3.0])
    y = x * 2
    y[1] = 0.0
    (y * y).sum().backward()
    np.testing.assert_array_equal(npy(x.grad), [8.0, 0.0, 24.0])


def test_register_hook(device):
    x = leaf([1.0, 2.0], device=device)
    seen = []
    x.register_hook(lambda g: seen.append(npy(g).copy()))  # None: gradient unchanged
    x.register_hook(lambda g: g * 10)
    (x * 3).sum().backward()
    np.testing.assert_array_equal(seen[0], [3.0, 3.0])
    np.testing.assert_array_equal(npy(x.grad), [30.0, 30.0])
    # on a non-leaf: changes what flows further back
    x = leaf([1.0, 2.0], device=device)
    y = x * x
    y.register_hook(lambda g: g * 0.5)
    y.sum().backward()
    np.testing.assert_array_equal(npy(x.grad), [1.0, 2.0])
    with pytest.raises(RuntimeError):
        fg.tensor([1.0], device=device).register_hook(lambda g: g)

    def bad(g):
        raise KeyError("from the hook")

    z = leaf([1.0], device=device)
    z.register_hook(bad)
    with pytest.raises(KeyError, match="from the hook"):
        (z * 2).sum().backward()


def test_retain_grad(device):
    x = leaf([1.0, 2.0], device=device)
    y = x * 3
    y.retain_grad()
    w = y * y
    w.sum().backward()
    np.testing.assert_array_equal(npy(y.grad), 2 * npy(y))
    np.testing.assert_array_equal(npy(x.grad), 6 * npy(y))
    z = x * 2
    z.sum().backward()
    assert z.grad is None  # not retained
    x.retain_grad()  # no-op on a leaf


def test_float32_leaf_through_float64_op():
    x = leaf([1.0, 2.0], dtype=fg.float32)
    w = leaf([0.5, 0.25])  # float64
    y = (x * w).sum()
    assert y.dtype == F64
    y.backward()
    assert x.grad.dtype == fg.float32 and w.grad.dtype == F64
    np.testing.assert_array_equal(npy(x.grad), [0.5, 0.25])
    x.grad = None
    (x @ fg.tensor([1.0, 3.0], dtype=F64)).backward()
    assert x.grad.dtype == fg.float32


def test_grad_setter_validates(device):
    x = leaf([1.0, 2.0], device=device)
    x.grad = fg.tensor([1.0, 1.0], dtype=x.dtype, device=device)
    del x.grad
    assert x.grad is None
    with pytest.raises((ValueError, RuntimeError)):
        x.grad = fg.ones(3, dtype=x.dtype, device=device)


def test_backward_inside_no_grad(device):
    x = leaf([1.0, 2.0], device=device)
    y = (x * x).sum()
    with fg.no_grad():
        y.backward()
    np.testing.assert_array_equal(npy(x.grad), [2.0, 4.0])


def test_grad_with_respect_to_the_output_itself(device):
    x = leaf([1.0, 2.0], device=device)
    y = x * 2
    (g,) = fg.autograd.grad(y, y, fg.tensor([3.0, 4.0], dtype=x.dtype, device=device))
    np.testing.assert_array_equal(npy(g), [3.0, 4.0])


def test_hook_may_register_another_hook():
    # runs in a fresh interpreter: a deadlock would hang the whole session
    from conftest import assert_runs_cleanly

    out = assert_runs_cleanly(
        """
        import ferrograd as fg
        x = fg.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        def hook(g):
            y.register_hook(lambda g: None)
            return g * 3
        y.register_hook(hook)
        y.sum().backward()
        print(x.grad.tolist())
        """,
        timeout=60,
    )
    assert out.strip() == "[6.0, 6.0]"


def test_disjoint_writes_into_a_buffer_keep_earlier_views_valid():
    # the recurrent-buffer pattern: read row t - 1 (a view), write row t
    def run(step):
        w = leaf([0.5, -1.0])
        buf = fg.zeros(4, 2, dtype=F64)
        buf[0] = fg.ones(2, dtype=F64)
        rows = []
        for t in range(1, 4):
            prev = buf[t - 1]
            rows.append(prev)
            buf[t] = step(prev, w)
        (fg.stack(rows).sum() + buf.sum()).backward()
        return npy(w.grad)

    # buf rows 1, 1 + w, 1 + 2w, 1 + 3w; rows 1, 1 + w, 1 + 2w (as PyTorch: [9, 9])
    np.testing.assert_array_equal(run(lambda p, w: p + w), [9.0, 9.0])
    # mul saves the row it read, which shares the buffer's version counter: PyTorch
    # refuses this too
    with pytest.raises(RuntimeError, match="in-place"):
        run(lambda p, w: p * w)


def test_views_used_after_an_inplace_write_to_their_base_follow_its_new_history():
    # PyTorch's rule: a view taken before an in-place write to its base, used after it,
    # differentiates through the base's new history (here the write multiplies by 3).
    x = leaf([1.0, 2.0])
    y = x * 2
    v = y[0:1]
    w = v[0]  # a view of a view: same base
    before = v * 5  # used before the write: keeps the history it had
    y.mul_(3)
    np.testing.assert_array_equal(npy(v), [6.0])
    v.sum().backward(retain_graph=True)
    np.testing.assert_array_equal(npy(x.grad), [6.0, 0.0])
    x.grad = None
    (w * 2).backward(retain_graph=True)
    np.testing.assert_array_equal(npy(x.grad), [12.0, 0.0])
    x.grad = None
    before.sum().backward(retain_graph=True)
    np.testing.assert_array_equal(npy(x.grad), [10.0, 0.0])
    x.grad = None
    v.backward(fg.ones(1, dtype=F64))  # a stale view as the root of backward
    np.testing.assert_array_equal(npy(x.grad), [6.0, 0.0])
    # a transposed, strided view through two in-place writes
    a = leaf(np.arange(6.0).reshape(2, 3))
    b = a * 1.0
    t = b.T[::2]
    b.add_(a)
    b[1] = b[1] + a[1] * a[1]  # b = [2 a0, 2 a1 + a1^2]
    t.sum().backward()
    np.testing.assert_array_equal(npy(a.grad), [[2, 0, 2], [8, 0, 12]])
    # views of leaves: a leaf's history cannot change
    p = leaf([1.0, 2.0])
    pv = p[1:]
    with fg.no_grad():
        p.mul_(2)
    (pv * 3).sum().backward()
    np.testing.assert_array_equal(npy(p.grad), [0.0, 3.0])


def test_view_taken_before_inplace_write_to_its_base():
    x = leaf([1.0, 2.0])
    y = x * 2
    v = y[0:1]
    y.mul_(3)
    v.sum().backward()  # PyTorch: x.grad == [6, 0]; ferrograd still uses y's old history
    np.testing.assert_array_equal(npy(x.grad), [6.0, 0.0])


@pytest.mark.xfail(strict=True, raises=RuntimeError,
                   reason="known limitation: in-place ops on views of tensors with history")
def test_inplace_on_a_view_of_a_nonleaf():
    x = leaf([1.0, 2.0])
    y = x * 2
    y[0] += 1  # PyTorch allows this (CopySlices)
    y.sum().backward()
    np.testing.assert_array_equal(npy(x.grad), [2.0, 2.0])


# ---- custom functions ----------------------------------------------------------------


class ScaledCube(Function):
    @staticmethod
    def forward(ctx, x, k):
        ctx.save_for_backward(x)
        ctx.k = k
        return x**3 * k

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x**2 * ctx.k, None


class MulAdd(Function):
    @staticmethod
    def forward(ctx, a, b, c):
        ctx.save_for_backward(a, b)
        ctx.flags = ctx.needs_input_grad
        return a * b + c

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ga = g * b if ctx.needs_input_grad[0] else None
        gb = g * a if ctx.needs_input_grad[1] else None
        return ga, gb, g


class SortWithIndex(Function):
    @staticmethod
    def forward(ctx, x):
        v, i = x.sort(-1)
        ctx.mark_non_differentiable(i)
        ctx.save_for_backward(i)
        return v, i

    @staticmethod
    def backward(ctx, gv, gi):
        (i,) = ctx.saved_tensors
        out = fg.zeros(gv.shape, dtype=gv.dtype)
        out[fg.arange(gv.shape[0])[:, None], i] = gv
        return out


def test_custom_function():
    x = leaf([0.5, -1.0, 2.0])
    y = ScaledCube.apply(x.sin(), 2.0)
    assert y.grad_fn.name() == "ScaledCubeBackward"
    check(lambda x: ScaledCube.apply(x.sin(), 2.0).exp(), x)
    a, b = leaf([1.0, 2.0]), leaf([3.0])
    c = fg.tensor([0.5, 0.5], dtype=F64)
    check(lambda a, b: MulAdd.apply(a * 1.0, b, c) * a, a, b)
    out = MulAdd.apply(a, b.detach(), c)
    assert out.requires_grad
    out.sum().backward()
    np.testing.assert_array_equal(npy(a.grad), [3.0, 3.0])
    # no input requiring grad: a plain result
    assert MulAdd.apply(c, c, c).grad_fn is None
    with fg.no_grad():
        assert MulAdd.apply(a, b, c).grad_fn is None


def test_custom_function_needs_input_grad():
    a, b = leaf([1.0]), fg.tensor([2.0], dtype=F64)
    seen = {}

    class Probe(Function):
        @staticmethod
        def forward(ctx, x, y, k):
            seen["flags"] = ctx.needs_input_grad
            return x * y * k

        @staticmethod
        def backward(ctx, g):
            return g, None, None

    Probe.apply(a, b, 3)
    assert seen["flags"] == (True, False, False)


def test_custom_function_with_non_differentiable_output():
    x = leaf([[3.0, 1.0, 2.0], [0.0, -1.0, 5.0]])
    v, i = SortWithIndex.apply(x)
    assert v.requires_grad and not i.requires_grad
    (v * fg.tensor([1.0, 2.0, 3.0], dtype=F64)).sum().backward()
    np.testing.assert_array_equal(npy(x.grad), [[3.0, 1.0, 2.0], [2.0, 1.0, 3.0]])


def test_custom_function_returning_its_input():
    class Twice(Function):
        @staticmethod
        def forward(ctx, x):
            return x  # the output becomes a new tensor with its own history

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = leaf([1.0, 2.0])
    y = Twice.apply(x)
    assert y is not x and not y.is_leaf and x.is_leaf
    (y * 1.0).sum().backward()
    np.testing.assert_array_equal(npy(x.grad), [2.0, 2.0])


def test_custom_function_backward_errors_propagate():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            raise ZeroDivisionError("custom backward failed")

    x = leaf([1.0])
    with pytest.raises(ZeroDivisionError, match="custom backward failed"):
        Bad.apply(x).sum().backward()


# ---- memory --------------------------------------------------------------------------


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/statm"), reason="needs /proc")
def test_training_loop_keeps_flat_memory():
    fg.manual_seed(0)
    w1 = (fg.randn(8, 16, dtype=F64) * 0.3).requires_grad_()
    b1 = fg.zeros(16, dtype=F64, requires_grad=True)
    w2 = (fg.randn(16, 1, dtype=F64) * 0.3).requires_grad_()
    b2 = fg.zeros(1, dtype=F64, requires_grad=True)
    params = [w1, b1, w2, b2]
    rng = np.random.default_rng(0)
    xs = fg.tensor(rng.standard_normal((32, 8)))
    ys = fg.tensor(np.sin(rng.standard_normal((32, 1))))
    lr = 0.05
    losses, rss = [], {}
    for step in range(1, 10_001):
        h = (xs @ w1 + b1).relu()
        loss = ((h @ w2 + b2 - ys) ** 2).mean()
        loss.backward()
        with fg.no_grad():
            for p in params:
                p -= lr * p.grad
                p.grad = None
        if step % 1000 == 0:
            losses.append(loss.item())
        if step in (1_000, 10_000):
            gc.collect()
            rss[step] = _rss_bytes()
    assert losses[-1] < losses[0]
    assert all(p.is_leaf and p.grad is None for p in params)
    growth = rss[10_000] - rss[1_000]
    assert growth < 20 * 2**20, f"RSS grew by {growth / 2**20:.1f} MiB over 9,000 steps"
