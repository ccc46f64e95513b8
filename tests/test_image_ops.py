"""Image ops (pooling, pad, interpolate) and their backward primitives against numpy
references: sliding windows for pooling, np.pad for padding, explicit PyTorch coordinate
formulas for interpolation, float64 central differences and adjoint identities for the
backward primitives. An optional test compares with torch.nn.functional when installed.

Tolerances: values that are copied or compared (max pooling, pad, nearest) must match
exactly; sums (average pooling, linear interpolation) to 1e-12 relative in float64 and
2e-6 in float32; half types to their own precision after a float32 computation."""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import pytest
from conftest import to_np
from hypothesis import given
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view

import ferrograd as fg
from ferrograd import _core

# ---- numpy references --------------------------------------------------------------------


def out_size(n, k, s, p, d, ceil):
    """PyTorch's pooling_output_shape."""
    num = n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil else 0)
    o = num // s + 1
    if ceil and (o - 1) * s >= n + p:
        o -= 1
    return o


def _windows(a, nsp, kernel, stride, dil, out):
    """Windows of the last ``nsp`` axes of the padded array ``a``: shape (*batch, *out,
    prod(kernel)), window elements in row-major order."""
    eff = [(k - 1) * d + 1 for k, d in zip(kernel, dil)]
    axes = tuple(range(a.ndim - nsp, a.ndim))
    w = sliding_window_view(a, eff, axis=axes)
    nb = a.ndim - nsp
    sl = ((slice(None),) * nb
          + tuple(slice(0, (o - 1) * s + 1, s) for o, s in zip(out, stride))
          + tuple(slice(None, None, d) for d in dil))
    w = w[sl]
    return w.reshape(*w.shape[: nb + nsp], math.prod(w.shape[nb + nsp:]))


def _pad_for_pool(a, nsp, kernel, stride, pad, dil, out, fill):
    spatial = a.shape[a.ndim - nsp:]
    widths = [(0, 0)] * (a.ndim - nsp)
    for n, k, s, p, d, o in zip(spatial, kernel, stride, pad, dil, out):
        need = (o - 1) * s + (k - 1) * d + 1
        widths.append((p, max(0, need - n - p)))
    return np.pad(a, widths, constant_values=fill), widths


def ref_max_pool(x, kernel, stride, pad, dil, ceil):
    nsp = len(kernel)
    spatial = x.shape[x.ndim - nsp:]
    out = [out_size(n, k, s, p, d, ceil) for n, k, s, p, d in zip(spatial, kernel, stride, pad, dil)]
    if x.dtype.kind == "f":
        fill = -np.inf
    else:
        fill = np.iinfo(x.dtype).min
    xp, _ = _pad_for_pool(x, nsp, kernel, stride, pad, dil, out, fill)
    flat = np.arange(math.prod(spatial)).reshape(spatial)
    fp, _ = _pad_for_pool(flat, nsp, kernel, stride, pad, dil, out, -1)
    wv = _windows(xp, nsp, kernel, stride, dil, out)
    wi = _windows(fp, nsp, kernel, stride, dil, out)
    arg = np.argmax(wv, axis=-1)
    vals = np.take_along_axis(wv, arg[..., None], -1)[..., 0]
    idx = np.take_along_axis(np.broadcast_to(wi, wv.shape), arg[..., None], -1)[..., 0]
    return vals, idx.astype(np.int64)


def ref_avg_pool(x, kernel, stride, pad, ceil, count_include_pad, divisor_override):
    nsp = len(kernel)
    spatial = x.shape[x.ndim - nsp:]
    one = [1] * nsp
    out = [out_size(n, k, s, p, 1, ceil) for n, k, s, p in zip(spatial, kernel, stride, pad)]
    xp, widths = _pad_for_pool(x, nsp, kernel, stride, pad, one, out, 0)
    valid = _pad_for_pool(np.ones(spatial), nsp, kernel, stride, pad, one, out, 0)[0]
    # 1 inside the input or its declared padding, 0 in the extra room ceil_mode needs.
    masks = [(np.arange(p + n + w[1]) < n + 2 * p).astype(float)
             for n, p, w in zip(spatial, pad, widths[x.ndim - nsp:])]
    ext = functools.reduce(np.multiply.outer, masks)
    s = _windows(xp, nsp, kernel, stride, one, out).sum(-1)
    cnt = _windows(valid, nsp, kernel, stride, one, out).sum(-1)
    extent = _windows(ext, nsp, kernel, stride, one, out).sum(-1)
    div = divisor_override if divisor_override else (extent if count_include_pad else cnt)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(cnt > 0, s / div, 0.0)
    return r.astype(x.dtype)


def ref_adaptive(x, out, op):
    nsp = len(out)
    spatial = x.shape[x.ndim - nsp:]
    res = np.zeros(x.shape[: x.ndim - nsp] + tuple(out), dtype=x.dtype)
    idx = np.zeros(res.shape, dtype=np.int64)
    flat = np.arange(math.prod(spatial)).reshape(spatial)
    for pos in itertools.product(*[range(o) for o in out]):
        sl = tuple(slice(i * n // o, -(-(i + 1) * n // o)) for i, n, o in zip(pos, spatial, out))
        win = x[(Ellipsis,) + sl].reshape(*x.shape[: x.ndim - nsp], -1)
        if op == "avg":
            res[(Ellipsis,) + pos] = win.mean(-1)
        else:
            a = np.argmax(win, -1)
            res[(Ellipsis,) + pos] = np.take_along_axis(win, a[..., None], -1)[..., 0]
            idx[(Ellipsis,) + pos] = flat[sl].reshape(-1)[a]
    return res, idx


def ref_pad(x, pad, mode, value=0):
    """np.pad with PyTorch's pad order and negative pads: constant and circular crop first
    (PyTorch wraps the cropped input), reflect/replicate pad first (PyTorch reflects in
    the uncropped input's frame)."""
    pairs = [(0, 0)] * (x.ndim - len(pad) // 2)
    pairs += [(pad[2 * i], pad[2 * i + 1]) for i in reversed(range(len(pad) // 2))]
    pos = [(max(a, 0), max(b, 0)) for a, b in pairs]
    crop = tuple(slice(max(-a, 0), n - max(-b, 0)) for (a, b), n in zip(pairs, x.shape))
    if mode in ("constant", "circular"):
        c = x[crop]
        if mode == "constant":
            return np.pad(c, pos, mode="constant", constant_values=value)
        return np.pad(c, pos, mode="wrap")
    p = np.pad(x, pos, mode={"reflect": "reflect", "replicate": "edge"}[mode])
    crop2 = tuple(slice(max(-a, 0), p.shape[i] - max(-b, 0)) for i, (a, b) in enumerate(pairs))
    return p[crop2]


def nearest_index(n_in, n_out, scale, exact):
    """PyTorch's nearest_idx / nearest_exact_idx (float32 arithmetic)."""
    r = np.float32(1.0 / scale) if scale else np.float32(n_in) / np.float32(n_out)
    out = []
    for o in range(n_out):
        if not exact and n_out == n_in:
            i = o
        elif not exact and n_out == 2 * n_in:
            i = o >> 1
        elif exact:
            i = int(np.floor(np.float32((o + 0.5) * np.float64(r))))
        else:
            i = int(np.floor(np.float32(o) * r))
        out.append(min(i, n_in - 1))
    return np.array(out)


def linear_matrix(n_in, n_out, align, scale):
    """The (n_out, n_in) matrix of PyTorch's 1-D linear interpolation (float64 maths)."""
    m = np.zeros((n_out, n_in))
    if n_out == n_in:
        return np.eye(n_in)
    if align:
        ratio = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    else:
        ratio = 1.0 / scale if scale else n_in / n_out
    for o in range(n_out):
        real = ratio * o if align else max(ratio * (o + 0.5) - 0.5, 0.0)
        i0 = min(int(np.floor(np.float32(real))), n_in - 1)
        l1 = min(max(real - i0, 0.0), 1.0)
        i1 = i0 + 1 if i0 < n_in - 1 else i0
        m[o, i0] += 1 - l1
        m[o, i1] += l1
    return m


def apply_axes(x, mats):
    """Applies one matrix per trailing axis (separable resampling)."""
    nsp = len(mats)
    for a, m in enumerate(mats):
        ax = x.ndim - nsp + a
        x = np.moveaxis(np.tensordot(x, m, axes=([ax], [1])), -1, ax)
    return x


def nearest_matrix(n_in, n_out, scale, exact):
    m = np.zeros((n_out, n_in))
    m[np.arange(n_out), nearest_index(n_in, n_out, scale, exact)] = 1
    return m


def fd_grad(f, x, h=1e-6):
    """Central finite differences of the scalar f at x (float64)."""
    g = np.zeros_like(x)
    flat, gf = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        fp = f(x)
        flat[i] = old - h
        fm = f(x)
        flat[i] = old
        gf[i] = (fp - fm) / (2 * h)
    return g


def distinct(shape, rng, dtype=np.float64):
    """Values at least 0.25 apart (no ties, so max pooling is differentiable)."""
    n = math.prod(shape)
    return (rng.permutation(n) * 0.25 - n / 8).reshape(shape).astype(dtype)


def f64(t):
    return np.asarray(t.astype(fg.float64))


# ---- strategies ----------------------------------------------------------------------------


@st.composite
def pool_cases(draw, dil=True, min_batch=0):
    k = draw(st.integers(1, 3))
    kernel = [draw(st.integers(1, 3)) for _ in range(k)]
    stride = [draw(st.integers(1, 3)) for _ in range(k)]
    dilation = [draw(st.integers(1, 2)) if dil else 1 for _ in range(k)]
    padding = [draw(st.integers(0, kk // 2)) for kk in kernel]
    ceil = draw(st.booleans())
    sizes = []
    for kk, d, p in zip(kernel, dilation, padding):
        lo = max(1, (kk - 1) * d + 1 - 2 * p)
        sizes.append(draw(st.integers(lo, lo + (4 if k == 3 else 6))))
    batch = ((draw(st.integers(min_batch, 2)), draw(st.integers(1, 3))) if draw(st.booleans())
             else (draw(st.integers(1, 3)),))
    return batch + tuple(sizes), kernel, stride, padding, dilation, ceil


def layouts(a: np.ndarray, kind: str):
    """A ferrograd tensor with ``a``'s values: contiguous, a permuted view or a sliced view."""
    if kind == "permuted":
        base = np.ascontiguousarray(np.moveaxis(a, 0, -1))
        return fg.tensor(base).moveaxis(-1, 0)
    if kind == "sliced":
        big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
        big[..., ::2] = a
        return fg.tensor(big)[..., ::2]
    return fg.tensor(a)


LAYOUTS = st.sampled_from(["contiguous", "permuted", "sliced"])
POOL_FNS = {1: (fg.max_pool1d, fg.avg_pool1d), 2: (fg.max_pool2d, fg.avg_pool2d),
            3: (fg.max_pool3d, fg.avg_pool3d)}


# ---- max pooling ----------------------------------------------------------------------------


@given(case=pool_cases(), layout=LAYOUTS, dtype=st.sampled_from([np.float64, np.float32, np.int32,
                                                                 np.uint8, np.float16]),
       seed=st.integers(0, 2**16), none_stride=st.booleans())
def test_max_pool_matches_sliding_windows(case, layout, dtype, seed, none_stride):
    shape, kernel, stride, padding, dilation, ceil = case
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 50, size=shape).astype(dtype)  # above the padding's fill value
    if none_stride:
        stride = kernel
    fn = POOL_FNS[len(kernel)][0]
    v, i = fn(layouts(a, layout), kernel, None if none_stride else stride, padding, dilation,
              ceil, return_indices=True)
    rv, ri = ref_max_pool(a, kernel, stride, padding, dilation, ceil)
    assert v.dtype == fg.tensor(a).dtype and i.dtype == fg.int64
    np.testing.assert_array_equal(np.asarray(v), rv)
    np.testing.assert_array_equal(np.asarray(i), ri)


def test_max_pool_nan_wins_and_ties_take_first():
    x = np.array([[[1.0, np.nan, 3.0, 2.0], [5.0, 5.0, 0.0, 0.0]]])
    v, i = fg.max_pool2d(fg.tensor(x), (1, 2), return_indices=True)
    got = np.asarray(v)
    assert np.isnan(got[0, 0, 0]) and got[0, 0, 1] == 3.0 and got[0, 1, 0] == 5.0
    np.testing.assert_array_equal(np.asarray(i), [[[1, 2], [4, 6]]])


def test_max_pool_bfloat16_and_default_stride():
    a = np.arange(2 * 3 * 6 * 6, dtype=np.float32).reshape(2, 3, 6, 6) % 17
    t = fg.tensor(a).astype(fg.bfloat16)
    v = fg.max_pool2d(t, 3)
    assert v.dtype == fg.bfloat16 and v.shape == (2, 3, 2, 2)
    np.testing.assert_array_equal(to_np(v), ref_max_pool(a, [3, 3], [3, 3], [0, 0], [1, 1], False)[0])


def test_adaptive_max_pool_matches_reference():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((2, 3, 7, 5))
    v, i = fg.adaptive_max_pool2d(fg.tensor(a), (3, None), return_indices=True)
    rv, ri = ref_adaptive(a, (3, 5), "max")
    np.testing.assert_array_equal(np.asarray(v), rv)
    np.testing.assert_array_equal(np.asarray(i), ri)
    v1 = fg.adaptive_max_pool1d(fg.tensor(a[0]), 4)
    np.testing.assert_array_equal(np.asarray(v1), ref_adaptive(a[0], (4,), "max")[0])


# ---- average pooling ------------------------------------------------------------------------


@given(case=pool_cases(dil=False), layout=LAYOUTS, seed=st.integers(0, 2**16),
       count_include_pad=st.booleans(), override=st.sampled_from([None, None, 3, -2]))
def test_avg_pool_matches_sliding_windows(case, layout, seed, count_include_pad, override):
    shape, kernel, stride, padding, _, ceil = case
    k = len(kernel)
    a = np.random.default_rng(seed).standard_normal(shape)
    fn = POOL_FNS[k][1]
    kw = {} if k == 1 else {"divisor_override": override}
    got = fn(layouts(a, layout), kernel, stride, padding, ceil, count_include_pad, **kw)
    want = ref_avg_pool(a, kernel, stride, padding, ceil, count_include_pad, kw.get("divisor_override"))
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-12)
    got32 = fn(fg.tensor(a.astype(np.float32)), kernel, stride, padding, ceil, count_include_pad, **kw)
    assert got32.dtype == fg.float32
    np.testing.assert_allclose(np.asarray(got32), want, rtol=2e-6, atol=1e-5)


@pytest.mark.parametrize("dtype", [fg.float16, fg.bfloat16])
def test_avg_pool_half_types_accumulate_in_float32(dtype):
    a = np.random.default_rng(2).standard_normal((2, 3, 9, 9)).astype(np.float32)
    t = fg.tensor(a).astype(dtype)
    got = fg.avg_pool2d(t, 3, 2, 1)
    assert got.dtype == dtype
    want = ref_avg_pool(to_np(t).astype(np.float64), [3, 3], [2, 2], [1, 1], False, True, None)
    tol = 1e-2 if dtype == fg.bfloat16 else 2e-3
    np.testing.assert_allclose(to_np(got).astype(np.float64), want, rtol=tol, atol=tol)


@given(shape=st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 9), st.integers(1, 9)),
       out=st.tuples(st.integers(1, 6), st.integers(1, 6)), seed=st.integers(0, 99),
       layout=LAYOUTS)
def test_adaptive_avg_pool_matches_reference(shape, out, seed, layout):
    a = np.random.default_rng(seed).standard_normal(shape)
    got = fg.adaptive_avg_pool2d(layouts(a, layout), out)
    np.testing.assert_allclose(np.asarray(got), ref_adaptive(a, out, "avg")[0], rtol=1e-12, atol=1e-13)
    g1 = fg.adaptive_avg_pool1d(fg.tensor(a[0]), out[0])
    np.testing.assert_allclose(np.asarray(g1), ref_adaptive(a[0], out[:1], "avg")[0], rtol=1e-12)


def test_adaptive_avg_pool_3d_and_global():
    a = np.random.default_rng(3).standard_normal((2, 2, 5, 4, 6))
    got = fg.adaptive_avg_pool3d(fg.tensor(a), (2, 3, None))
    np.testing.assert_allclose(np.asarray(got), ref_adaptive(a, (2, 3, 6), "avg")[0], rtol=1e-12)
    g = fg.adaptive_avg_pool2d(fg.tensor(a[0]), 1)
    np.testing.assert_allclose(np.asarray(g)[..., 0, 0], a[0].mean(axis=(-2, -1)), rtol=1e-12)


# ---- pad ------------------------------------------------------------------------------------


@st.composite
def pad_cases(draw, mode):
    k = draw(st.integers(1, 3))
    batched = draw(st.booleans())
    lead = (draw(st.integers(1, 2)), draw(st.integers(1, 3))) if batched else (draw(st.integers(1, 3)),)
    sizes = tuple(draw(st.integers(1, 5)) for _ in range(k))
    pad = []
    for n in reversed(sizes):
        if mode == "reflect":
            lo, hi = -(n // 2), n - 1
        elif mode == "circular":
            lo, hi = -(n // 2), n - n // 2
        else:
            lo, hi = -(n // 2), 4
        pad += [draw(st.integers(lo, hi)), draw(st.integers(lo, hi))]
    pad = pad[: 2 * k]
    for i in range(k):  # keep every padded dim non-empty
        n = sizes[k - 1 - i]
        if n + pad[2 * i] + pad[2 * i + 1] < 1:
            pad[2 * i] = pad[2 * i + 1] = 0
        if mode == "circular":  # wraps at most once around the cropped input
            m = n - max(-pad[2 * i], 0) - max(-pad[2 * i + 1], 0)
            if max(pad[2 * i], pad[2 * i + 1]) > m:
                pad[2 * i] = pad[2 * i + 1] = 0
    return lead + sizes, tuple(pad)


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@given(data=st.data(), layout=LAYOUTS)
def test_pad_matches_numpy(mode, data, layout):
    shape, pad = data.draw(pad_cases(mode))
    a = np.random.default_rng(0).standard_normal(shape)
    got = fg.pad(layouts(a, layout), pad, mode=mode, value=1.5 if mode == "constant" else None)
    want = ref_pad(a, pad, mode, 1.5)
    assert got.shape == want.shape
    np.testing.assert_array_equal(np.asarray(got), want)


@given(shape=st.lists(st.integers(0, 4), min_size=1, max_size=5),
       dtype=st.sampled_from(["bool", "int8", "uint16", "int64", "float16", "bfloat16", "float64"]),
       data=st.data())
def test_constant_pad_any_dtype_any_dims(shape, dtype, data):
    npairs = data.draw(st.integers(0, len(shape)))
    pad = []
    for i in range(npairs):
        n = shape[-1 - i]
        pad += [data.draw(st.integers(-n, 3)), data.draw(st.integers(-n, 3))]
        if n + pad[-1] + pad[-2] < 0:
            pad[-2:] = [0, 0]
    a = (np.arange(math.prod(shape)).reshape(shape) % 7).astype(np.float32)
    t = fg.tensor(a).astype(getattr(fg, dtype))
    got = fg.pad(t, pad, value=2)
    assert got.dtype == t.dtype
    want = ref_pad(to_np(t), pad, "constant", to_np(fg.tensor(2.0).astype(t.dtype)))
    np.testing.assert_array_equal(to_np(got), want)


def test_non_constant_pad_integer_and_half_dtypes():
    a = np.arange(24).reshape(2, 3, 4)
    for dt in (fg.int16, fg.uint8, fg.float16, fg.bfloat16):
        t = fg.tensor(a).astype(dt)
        got = fg.pad(t, (2, 1, 1, 0), mode="reflect")
        np.testing.assert_array_equal(to_np(got).astype(np.int64), ref_pad(a, (2, 1, 1, 0), "reflect"))


# ---- interpolate ----------------------------------------------------------------------------


@st.composite
def interp_cases(draw):
    mode = draw(st.sampled_from(["nearest", "nearest-exact", "linear", "bilinear", "trilinear"]))
    k = {"linear": 1, "bilinear": 2, "trilinear": 3}.get(mode) or draw(st.integers(1, 3))
    n = draw(st.integers(0, 2))
    c = draw(st.integers(1, 2))
    sizes = tuple(draw(st.integers(1, 6)) for _ in range(k))
    align = draw(st.sampled_from([None, False, True])) if mode not in ("nearest", "nearest-exact") else None
    if draw(st.booleans()):
        out = tuple(draw(st.integers(1, 9)) for _ in range(k))
        scale = None
    else:
        scale = tuple(draw(st.sampled_from([0.5, 0.7, 1.0, 1.5, 2.0, 2.3, 3.0])) for _ in range(k))
        out = tuple(math.floor(s * m) for s, m in zip(scale, sizes))
        if min(out) < 1:
            scale = None
            out = tuple(max(o, 1) for o in out)
    return (n, c) + sizes, out, scale, mode, align


def interp_mats(sizes, out, scale, mode, align):
    mats = []
    for a, (ni, no) in enumerate(zip(sizes, out)):
        s = scale[a] if scale else None
        if mode.startswith("nearest"):
            mats.append(nearest_matrix(ni, no, s, mode == "nearest-exact"))
        else:
            mats.append(linear_matrix(ni, no, bool(align), s))
    return mats


@given(case=interp_cases(), layout=LAYOUTS, seed=st.integers(0, 99))
def test_interpolate_matches_coordinate_formulas(case, layout, seed):
    shape, out, scale, mode, align = case
    a = np.random.default_rng(seed).standard_normal(shape)
    kw = {"scale_factor": scale} if scale else {"size": out}
    got = fg.interpolate(layouts(a, layout), mode=mode, align_corners=align, **kw)
    want = apply_axes(a, interp_mats(shape[2:], out, scale, mode, align))
    assert got.shape == want.shape
    if mode.startswith("nearest"):
        np.testing.assert_array_equal(np.asarray(got), want)
    else:
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-12)
        got32 = fg.interpolate(fg.tensor(a.astype(np.float32)), mode=mode, align_corners=align, **kw)
        np.testing.assert_allclose(np.asarray(got32), want, rtol=2e-6, atol=2e-6)


def test_interpolate_nearest_integer_dtypes_and_area():
    a = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    got = fg.interpolate(fg.tensor(a.astype(np.uint8)), size=(7, 3))
    want = apply_axes(a, [nearest_matrix(4, 7, None, False), nearest_matrix(5, 3, None, False)])
    np.testing.assert_array_equal(np.asarray(got), want.astype(np.uint8))
    area = fg.interpolate(fg.tensor(a.astype(np.float64)), size=(2, 3), mode="area")
    np.testing.assert_allclose(np.asarray(area), ref_adaptive(a.astype(np.float64), (2, 3), "avg")[0])
    b = fg.interpolate(fg.tensor(a.astype(np.float32)).astype(fg.bfloat16), scale_factor=2,
                       mode="bilinear")
    assert b.dtype == fg.bfloat16 and b.shape == (2, 3, 8, 10)


def test_interpolate_recompute_scale_factor():
    a = np.random.default_rng(4).standard_normal((1, 1, 5))
    got = fg.interpolate(fg.tensor(a), scale_factor=1.7, mode="linear", recompute_scale_factor=True)
    np.testing.assert_allclose(np.asarray(got), apply_axes(a, [linear_matrix(5, 8, False, None)]),
                               rtol=1e-12)


# ---- backward primitives ----------------------------------------------------------------------


def check_backward(forward, backward, x, rng, tol=1e-7):
    """backward(G) against central differences of sum(forward(x) * G), float64."""
    y = forward(x)
    g = rng.standard_normal(y.shape)
    got = np.asarray(backward(fg.tensor(g)))
    want = fd_grad(lambda z: float((forward(z) * g).sum()), x.copy())
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    return got, g


@given(case=pool_cases(), seed=st.integers(0, 999))
def test_max_pool_backward_finite_differences(case, seed):
    shape, kernel, stride, padding, dilation, ceil = case
    if math.prod(shape) > 300:
        shape = shape[:-len(kernel)] + tuple(min(s, 4) for s in shape[-len(kernel):])
        if any(out_size(n, k, s, p, d, ceil) < 1
               for n, k, s, p, d in zip(shape[-len(kernel):], kernel, stride, padding, dilation)):
            return
    rng = np.random.default_rng(seed)
    x = distinct(shape, rng)
    k = len(kernel)
    fn = POOL_FNS[k][0]

    def fwd(z):
        y = np.asarray(fn(fg.tensor(z), kernel, stride, padding, dilation, ceil))
        return np.where(np.isinf(y), 0.0, y)  # empty windows give -inf

    _, idx = fn(fg.tensor(x), kernel, stride, padding, dilation, ceil, return_indices=True)
    got, g = check_backward(fwd, lambda g: _core._max_pool_backward(g, idx, shape, spatial_dims=k), x, rng)
    # Every output gradient lands somewhere unless its window is empty.
    np.testing.assert_allclose(got.sum(), (g * (np.asarray(idx) >= 0)).sum(), rtol=1e-12, atol=1e-12)


@given(case=pool_cases(dil=False), seed=st.integers(0, 999), count_include_pad=st.booleans(),
       override=st.sampled_from([None, 5]))
def test_avg_pool_backward_is_the_adjoint(case, seed, count_include_pad, override):
    shape, kernel, stride, padding, _, ceil = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    args = (kernel, stride, padding, ceil, count_include_pad)
    y = np.asarray(_core._avg_pool(fg.tensor(x), *args, override, len(kernel)))
    g = rng.standard_normal(y.shape)
    gin = np.asarray(_core._avg_pool_backward(fg.tensor(g), shape, *args, override, len(kernel)))
    # <avg(x), g> == <x, avg^T(g)> (average pooling is linear)
    np.testing.assert_allclose((y * g).sum(), (x * gin).sum(), rtol=1e-10, atol=1e-10)


def test_avg_pool_backward_finite_differences():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 2, 5, 6))
    args = ((3, 2), (2, 1), (1, 1), True, False)

    def fwd(z):
        return np.asarray(fg.avg_pool2d(fg.tensor(z), *args))

    check_backward(fwd, lambda g: _core._avg_pool_backward(g, x.shape, *args), x, rng)
    # An int kernel with spatial_dims, and divisor_override.
    y = fg.avg_pool1d(fg.tensor(x[0]), 2)
    gin = _core._avg_pool_backward(fg.ones(y.shape, dtype=fg.float64), x[0].shape, 2, spatial_dims=1)
    np.testing.assert_allclose(np.asarray(gin)[..., :6], 0.5)


@given(shape=st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(1, 6), st.integers(1, 6)),
       out=st.tuples(st.integers(1, 5), st.integers(1, 5)), seed=st.integers(0, 99))
def test_adaptive_avg_pool_backward(shape, out, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)

    def fwd(z):
        return np.asarray(fg.adaptive_avg_pool2d(fg.tensor(z), out))

    got, g = check_backward(fwd, lambda g: _core._adaptive_avg_pool_backward(g, shape), x, rng)
    np.testing.assert_allclose(got.sum(), g.sum(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@given(data=st.data(), seed=st.integers(0, 99))
def test_pad_backward(mode, data, seed):
    shape, pad = data.draw(pad_cases(mode))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    y = np.asarray(fg.pad(fg.tensor(x), pad, mode=mode))
    g = rng.standard_normal(y.shape)
    gin = np.asarray(_core._pad_backward(fg.tensor(g), shape, pad, mode))
    assert gin.shape == x.shape
    np.testing.assert_allclose((y * g).sum(), (x * gin).sum(), rtol=1e-10, atol=1e-10)
    if mode != "constant":  # every output element is a copy of exactly one input element
        np.testing.assert_allclose(gin.sum(), g.sum(), rtol=1e-10, atol=1e-10)


def test_pad_backward_finite_differences():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 4, 5))
    for mode, pad in [("reflect", (3, 2, 1, 2)), ("replicate", (2, -1, 0, 3)),
                      ("circular", (2, 3, -1, 1)), ("constant", (1, -2, 2, 0))]:
        check_backward(lambda z, m=mode, p=pad: np.asarray(fg.pad(fg.tensor(z), p, mode=m)),
                       lambda g, m=mode, p=pad: _core._pad_backward(g, x.shape, p, m), x, rng)


@given(case=interp_cases(), seed=st.integers(0, 99))
def test_interpolate_backward_is_the_transpose(case, seed):
    shape, out, scale, mode, align = case
    rng = np.random.default_rng(seed)
    g = rng.standard_normal(shape[:2] + out)
    gin = _core._interpolate_backward(fg.tensor(g), shape, mode, align, scale)
    mats = interp_mats(shape[2:], out, scale, mode, align)
    want = apply_axes(g, [m.T for m in mats])
    np.testing.assert_allclose(np.asarray(gin), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.asarray(gin).sum(), g.sum(), rtol=1e-10, atol=1e-10)


def test_interpolate_backward_finite_differences_and_dtypes():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((1, 2, 3, 4))
    for mode, align in [("bilinear", False), ("bilinear", True), ("nearest", None)]:
        check_backward(
            lambda z, m=mode, a=align: np.asarray(fg.interpolate(fg.tensor(z), size=(5, 7), mode=m,
                                                                 align_corners=a)),
            lambda g, m=mode, a=align: _core._interpolate_backward(g, x.shape, m, a), x, rng)
    g = fg.ones((1, 2, 6, 8), dtype=fg.float16)
    gin = _core._interpolate_backward(g, x.shape, "bilinear", False, 2.0)
    assert gin.dtype == fg.float16
    np.testing.assert_allclose(to_np(gin).astype(np.float64).sum(), 96, rtol=1e-3)
    gin = _core._interpolate_backward(fg.ones((1, 2, 2, 2)), x.shape, "area")
    np.testing.assert_allclose(np.asarray(gin).sum(), 8, rtol=1e-6)


def test_backward_dtypes_follow_grad():
    x = np.random.default_rng(8).standard_normal((1, 2, 4, 4)).astype(np.float32)
    v, i = fg.max_pool2d(fg.tensor(x), 2, return_indices=True)
    g = fg.ones(v.shape, dtype=fg.bfloat16)
    gin = _core._max_pool_backward(g, i, x.shape)
    assert gin.dtype == fg.bfloat16 and to_np(gin).sum() == 8
    gin = _core._max_pool_backward(fg.ones(v.shape), i.astype(fg.int32), x.shape)
    assert gin.dtype == fg.float32 and np.asarray(gin).sum() == 8


# ---- errors ----------------------------------------------------------------------------------

X4 = fg.zeros((1, 2, 4, 4))
ERRORS = [
    (lambda: fg.max_pool2d(X4, 0), ValueError, "kernel_size must be positive"),
    (lambda: fg.max_pool2d(X4, 2, stride=0), ValueError, "stride must be positive"),
    (lambda: fg.max_pool2d(X4, 2, padding=2), ValueError, "at most half"),
    (lambda: fg.max_pool2d(X4, 2, padding=-1), ValueError, "non-negative"),
    (lambda: fg.max_pool2d(X4, 2, dilation=0), ValueError, "dilation must be positive"),
    (lambda: fg.max_pool2d(X4, 5), ValueError, "too small"),
    (lambda: fg.max_pool2d(X4, (2, 2, 2)), ValueError, "kernel_size"),
    (lambda: fg.max_pool2d(fg.zeros((4, 4)), 2), ValueError, "expected a 3-D"),
    (lambda: fg.max_pool2d(fg.zeros((1, 0, 4, 4)), 2), ValueError, "non-empty"),
    (lambda: fg.max_pool2d(X4.astype(fg.bool), 2), TypeError, "bool"),
    (lambda: fg.max_pool2d(X4, 2.5), TypeError, "float"),
    (lambda: fg.avg_pool2d(X4.astype(fg.int32), 2), TypeError, "floating-point"),
    (lambda: fg.avg_pool2d(X4, 2, divisor_override=0), ValueError, "divisor_override"),
    (lambda: fg.adaptive_avg_pool2d(X4, (2, -1)), ValueError, "non-negative"),
    (lambda: fg.adaptive_avg_pool2d(X4, (2, 2, 2)), ValueError, "output_size"),
    (lambda: fg.pad(X4, (1,)), ValueError, "pairs"),
    (lambda: fg.pad(X4, (1, 1) * 5), ValueError, "pairs"),
    (lambda: fg.pad(X4, (-3, -3)), ValueError, "negative size"),
    (lambda: fg.pad(X4, (4, 0, 0, 0), mode="reflect"), ValueError, "less than the size"),
    (lambda: fg.pad(X4, (5, 0, 0, 0), mode="circular"), ValueError, "more than once"),
    (lambda: fg.pad(X4, (1, 0), mode="reflect"), ValueError, "1 to 3"),
    (lambda: fg.pad(X4, (1, 1) * 4, mode="replicate"), ValueError, "1 to 3"),
    (lambda: fg.pad(fg.zeros(4), (1, 1), mode="reflect"), ValueError, "(C, *spatial)"),
    (lambda: fg.pad(X4, (1, 1), mode="wrap"), ValueError, "mode must be"),
    (lambda: fg.pad(X4, (1, 1), mode="reflect", value=2.0), ValueError, "value"),
    (lambda: fg.interpolate(X4, size=3, scale_factor=2), ValueError, "only one"),
    (lambda: fg.interpolate(X4), ValueError, "either size or scale_factor"),
    (lambda: fg.interpolate(X4, size=(3, 3, 3)), ValueError, "same number of spatial"),
    (lambda: fg.interpolate(X4, scale_factor=(2, 2, 2)), ValueError, "same number of spatial"),
    (lambda: fg.interpolate(fg.zeros((1, 2, 4)), size=3, mode="bilinear"), ValueError, "4-D"),
    (lambda: fg.interpolate(X4, size=3, mode="linear"), ValueError, "3-D"),
    (lambda: fg.interpolate(X4, size=3, mode="trilinear"), ValueError, "5-D"),
    (lambda: fg.interpolate(X4, size=3, align_corners=True), ValueError, "align_corners"),
    (lambda: fg.interpolate(X4, size=3, mode="cubic"), ValueError, "mode must be"),
    (lambda: fg.interpolate(X4, size=0), ValueError, "greater than 0"),
    (lambda: fg.interpolate(X4, scale_factor=float("nan")), ValueError, "finite"),
    (lambda: fg.interpolate(fg.zeros((2, 2)), size=3), ValueError, "3-D, 4-D or 5-D"),
    (lambda: fg.interpolate(X4.astype(fg.int64), size=3, mode="bilinear"), TypeError,
     "floating-point"),
    (lambda: _core._max_pool_backward(fg.ones((1, 2, 2, 2)), fg.zeros((1, 2, 2, 2), dtype=fg.int64) + 16,
                                      (1, 2, 4, 4)), IndexError, "out of range"),
    (lambda: _core._max_pool_backward(fg.ones((1, 2, 2, 2)), fg.zeros((1, 2, 2, 2)), (1, 2, 4, 4)),
     TypeError, "integer"),
    (lambda: _core._max_pool_backward(fg.ones((1, 3, 2, 2)), fg.zeros((1, 3, 2, 2), dtype=fg.int64),
                                      (1, 2, 4, 4)), ValueError, "does not match"),
    (lambda: _core._avg_pool_backward(fg.ones((1, 2, 3, 3)), (1, 2, 4, 4), 2), ValueError,
     "does not match"),
    (lambda: _core._pad_backward(fg.ones((1, 2, 4, 5)), (1, 2, 4, 4), (1, 1)), ValueError,
     "padded shape"),
    (lambda: _core._interpolate_backward(fg.ones((1, 3, 8, 8)), (1, 2, 4, 4), "bilinear"),
     ValueError, "does not match"),
    (lambda: _core._adaptive_avg_pool_backward(fg.ones((3, 3, 3, 3, 3)), (4, 4, 4, 4, 4)),
     ValueError, "does not match"),
    (lambda: _core._max_pool(X4, 2, spatial_dims=-1), ValueError, "non-negative"),
    (lambda: _core._max_pool(X4, 2, spatial_dims=10**9), ValueError, "spatial_dims"),
    (lambda: _core._max_pool_backward(X4, X4.astype(fg.int64), X4.shape, spatial_dims=4), ValueError,
     "spatial_dims"),
    # Absurd sizes fail cleanly (MemoryError), never by aborting on allocation.
    (lambda: fg.adaptive_avg_pool2d(X4, (2**50, 2)), MemoryError, "too large"),
    (lambda: fg.interpolate(X4, size=(2**50, 2)), MemoryError, "too large"),
    (lambda: fg.pad(X4, (0, 2**50, 0, 0), mode="replicate"), MemoryError, "too large"),
    (lambda: fg.pad(X4, (0, 2**50)), MemoryError, ""),
    (lambda: _core._avg_pool_backward(fg.ones((1, 1, 1, 1)), (1, 1, 2**40, 2**40), 1), MemoryError,
     "too large"),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors(i):
    fn, exc, msg = ERRORS[i]
    with pytest.raises(exc, match=None) as info:
        fn()
    assert msg in str(info.value), str(info.value)


# ---- large inputs take the parallel paths -----------------------------------------------------


def test_large_inputs_parallel_paths_agree():
    rng = np.random.default_rng(9)
    a = rng.standard_normal((2, 8, 64, 64)).astype(np.float32)
    t = fg.tensor(a)
    v, i = fg.max_pool2d(t, 3, 2, 1, return_indices=True)
    rv, ri = ref_max_pool(a, [3, 3], [2, 2], [1, 1], [1, 1], False)
    np.testing.assert_array_equal(np.asarray(v), rv)
    np.testing.assert_array_equal(np.asarray(i), ri)
    got = fg.interpolate(t, scale_factor=2, mode="bilinear")
    want = apply_axes(a.astype(np.float64), [linear_matrix(64, 128, False, 2.0)] * 2)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-5)
    gin = np.asarray(_core._max_pool_backward(fg.ones(v.shape), i, a.shape))
    assert gin.sum() == v.numel()
    p = fg.pad(t, (3, 3, 3, 3), mode="reflect")
    np.testing.assert_array_equal(np.asarray(p), ref_pad(a, (3, 3, 3, 3), "reflect"))


# ---- against PyTorch, when installed ----------------------------------------------------------


def test_matches_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(10)

    def both(a):
        return fg.tensor(a), torch.from_numpy(a.copy())

    def same(got, want, exact=False):
        want = want.numpy()
        assert got.shape == want.shape, (got.shape, want.shape)
        if exact:
            np.testing.assert_array_equal(np.asarray(got), want)
        else:
            np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-6)

    for _ in range(30):
        k = int(rng.integers(1, 4))
        kernel = [int(rng.integers(1, 4)) for _ in range(k)]
        stride = [int(rng.integers(1, 4)) for _ in range(k)]
        dil = [int(rng.integers(1, 3)) for _ in range(k)]
        pad = [int(rng.integers(0, kk // 2 + 1)) for kk in kernel]
        ceil = bool(rng.integers(0, 2))
        sizes = [max(1, (kk - 1) * d + 1 - 2 * p) + int(rng.integers(0, 5))
                 for kk, d, p in zip(kernel, dil, pad)]
        a = rng.standard_normal([2, 3, *sizes]).astype(np.float32)
        x, tx = both(a)
        fgmax, fgavg = POOL_FNS[k]
        tmax = getattr(F, f"max_pool{k}d")
        tavg = getattr(F, f"avg_pool{k}d")
        v, i = fgmax(x, kernel, stride, pad, dil, ceil, return_indices=True)
        tv, ti = tmax(tx, kernel, stride, pad, dil, ceil, return_indices=True)
        empty = np.asarray(i) < 0  # PyTorch leaves garbage indices for empty windows
        same(v, tv, exact=True)
        np.testing.assert_array_equal(np.where(empty, -1, np.asarray(i)), np.where(empty, -1, ti.numpy()))
        if k == 3 and min(s - kk for s, kk in zip(sizes, kernel)) < 0:
            continue  # PyTorch's avg_pool3d (alone) rejects inputs smaller than the kernel
        for cip in (True, False):
            same(fgavg(x, kernel, stride, pad, ceil, cip), tavg(tx, kernel, stride, pad, ceil, cip))
        # Backward primitives against autograd.
        tx.requires_grad_(True)
        tv = tmax(tx, kernel, stride, pad, dil, ceil)
        g = rng.standard_normal(tuple(tv.shape)).astype(np.float32)
        if not empty.any():
            (tgrad,) = torch.autograd.grad(tv, tx, torch.from_numpy(g))
            same(_core._max_pool_backward(fg.tensor(g), i, a.shape, spatial_dims=k), tgrad)
        ta = tavg(tx, kernel, stride, pad, ceil, False)
        g = rng.standard_normal(tuple(ta.shape)).astype(np.float32)
        (tgrad,) = torch.autograd.grad(ta, tx, torch.from_numpy(g))
        same(_core._avg_pool_backward(fg.tensor(g), a.shape, kernel, stride, pad, ceil, False,
                                      spatial_dims=k), tgrad)

    a = rng.standard_normal((2, 3, 7, 9)).astype(np.float32)
    x, tx = both(a)
    same(fg.adaptive_avg_pool2d(x, (3, 4)), F.adaptive_avg_pool2d(tx, (3, 4)))
    v, i = fg.adaptive_max_pool2d(x, (4, 5), return_indices=True)
    tv, ti = F.adaptive_max_pool2d(tx, (4, 5), return_indices=True)
    same(v, tv, exact=True)
    same(i, ti, exact=True)
    for mode, pads in [("constant", (1, -2, 3, 0)), ("reflect", (3, 2, 1, 6)), ("replicate", (2, -1, 4, 0)),
                       ("circular", (2, 3, -1, 1)), ("reflect", (2, 1)), ("replicate", (1, 2, 1, 0, 0, 1))]:
        b = {2: a[0], 4: a, 6: a[None]}[len(pads)]
        xb, tb = both(b)
        same(fg.pad(xb, pads, mode=mode), F.pad(tb, pads, mode=mode), exact=True)
        tb.requires_grad_(True)
        ty = F.pad(tb, pads, mode=mode)
        g = rng.standard_normal(tuple(ty.shape)).astype(np.float32)
        (tgrad,) = torch.autograd.grad(ty, tb, torch.from_numpy(g))
        same(_core._pad_backward(fg.tensor(g), b.shape, pads, mode), tgrad)
    cases = [
        (a[:, :, 0], dict(size=13, mode="linear")),
        (a[:, :, 0], dict(scale_factor=1.7, mode="linear", align_corners=True)),
        (a, dict(size=(5, 20), mode="bilinear")),
        (a, dict(scale_factor=(2.3, 0.6), mode="bilinear")),
        (a, dict(size=(10, 4), mode="bilinear", align_corners=True)),
        (a, dict(size=(10, 4))),
        (a, dict(scale_factor=1.5)),
        (a, dict(scale_factor=(3, 0.5), mode="nearest-exact")),
        (a, dict(size=(3, 4), mode="area")),
        (a[None], dict(size=(3, 9, 5), mode="trilinear")),
        (a[None], dict(scale_factor=2, mode="nearest")),
    ]
    for b, kw in cases:
        xb, tb = both(b)
        got = fg.interpolate(xb, **kw)
        same(got, F.interpolate(tb, **kw), exact=kw.get("mode", "nearest").startswith("nearest"))
        tb.requires_grad_(True)
        ty = F.interpolate(tb, **kw)
        g = rng.standard_normal(tuple(ty.shape)).astype(np.float32)
        (tgrad,) = torch.autograd.grad(ty, tb, torch.from_numpy(g))
        sf = kw.get("scale_factor")
        mode = kw.get("mode", "nearest")
        scale = None if sf is None or mode == "area" else sf
        same(_core._interpolate_backward(fg.tensor(g), b.shape, mode, kw.get("align_corners"), scale), tgrad)
