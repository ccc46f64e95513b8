"""Convolutions against a numpy reference (einsum over sliding windows), the adjoint
identities that tie conv, conv_transpose and the backward primitives together, and
central finite differences. torch is only used by the last test, when installed."""

from __future__ import annotations

import string

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view

import ferrograd as fg
from ferrograd import _core

CONV = {1: fg.conv1d, 2: fg.conv2d, 3: fg.conv3d}
CONV_T = {1: fg.conv_transpose1d, 2: fg.conv_transpose2d, 3: fg.conv_transpose3d}
F64_TOL = 1e-10  # relative to sum |x| |w| over each output's terms
F32_TOL = 2e-5


# ---- numpy references ----------------------------------------------------------------


def _windows(x, kernel, stride, pads, dilation):
    """(N, C, *out, *kernel) windows of x padded by pads [(before, after)]."""
    nd = len(kernel)
    x = np.pad(x, [(0, 0), (0, 0), *pads])
    ext = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    win = sliding_window_view(x, ext, axis=tuple(range(2, 2 + nd)))
    sl = (slice(None),) * 2 + tuple(slice(None, None, s) for s in stride)
    sl += tuple(slice(None, None, d) for d in dilation)
    return win[sl]


def _letters(nd):
    return string.ascii_letters[10:10 + nd], string.ascii_letters[20:20 + nd]


def ref_conv(x, w, b, stride, pads, dilation, groups):
    nd = w.ndim - 2
    win = _windows(x, w.shape[2:], stride, pads, dilation)
    n, c = x.shape[:2]
    out_sp = win.shape[2:2 + nd]
    win = win.reshape(n, groups, c // groups, *out_sp, *w.shape[2:])
    wg = w.reshape(groups, w.shape[0] // groups, c // groups, *w.shape[2:])
    o, k = _letters(nd)
    y = np.einsum(f"ngc{o}{k},gdc{k}->ngd{o}", win, wg)
    y = y.reshape(n, w.shape[0], *out_sp)
    if b is not None:
        y = y + b.reshape(-1, *([1] * nd))
    return y


def ref_conv_weight_grad(gy, x, wshape, stride, pads, dilation, groups):
    nd = len(wshape) - 2
    win = _windows(x, wshape[2:], stride, pads, dilation)
    n, c = x.shape[:2]
    out_sp = win.shape[2:2 + nd]
    win = win.reshape(n, groups, c // groups, *out_sp, *wshape[2:])
    gyg = gy.reshape(n, groups, wshape[0] // groups, *out_sp)
    o, k = _letters(nd)
    return np.einsum(f"ngc{o}{k},ngd{o}->gdc{k}", win, gyg).reshape(wshape)


def ref_conv_transpose(x, w, b, stride, padding, output_padding, dilation, groups):
    """Scatter definition: out[i*s - p + k*d] += x[i] * w[k]."""
    nd = w.ndim - 2
    n, cin = x.shape[:2]
    cog = w.shape[1]
    sp = x.shape[2:]
    full = [(i - 1) * s + d * (k - 1) + 1 + op
            for i, s, d, k, op in zip(sp, stride, dilation, w.shape[2:], output_padding)]
    buf = np.zeros((n, groups, cog, *full), dtype=np.result_type(x, w))
    xg = x.reshape(n, groups, cin // groups, *sp)
    wg = w.reshape(groups, cin // groups, cog, *w.shape[2:])
    o, _ = _letters(nd)
    for tap in np.ndindex(*w.shape[2:]):
        y = np.einsum(f"ngc{o},gcd->ngd{o}", xg, wg[(slice(None),) * 3 + tap])
        sl = tuple(slice(t * d, t * d + (i - 1) * s + 1, s)
                   for t, d, i, s in zip(tap, dilation, sp, stride))
        buf[(slice(None),) * 3 + sl] += y
    crop = tuple(slice(p, f - p) for p, f in zip(padding, full))
    out = buf[(slice(None),) * 3 + crop].reshape(n, groups * cog, *[f - 2 * p for f, p in zip(full, padding)])
    if b is not None:
        out = out + b.reshape(-1, *([1] * nd))
    return out


def assert_conv_close(got, want, scale, tol):
    got = np.asarray(got, dtype=np.float64)
    assert got.shape == want.shape, (got.shape, want.shape)
    err = np.abs(got - want)
    bound = tol * (scale + 1e-300)
    assert np.all(err <= bound), f"max error {err.max()} (bound {bound.max()})"


# ---- strategies ----------------------------------------------------------------------


@st.composite
def conv_cases(draw, max_nd=3):
    nd = draw(st.integers(1, max_nd))
    groups = draw(st.integers(1, 3))
    cig, cog = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    n = draw(st.integers(0, 2) if draw(st.booleans()) else st.just(2))
    small = nd == 3
    kernel = [draw(st.integers(1, 2 if small else 3)) for _ in range(nd)]
    stride = [draw(st.integers(1, 3)) for _ in range(nd)]
    dilation = [draw(st.integers(1, 2)) for _ in range(nd)]
    pads = [draw(st.integers(0, 2)) for _ in range(nd)]
    sizes = []
    for k, d, p in zip(kernel, dilation, pads):
        ext = d * (k - 1) + 1
        sizes.append(draw(st.integers(max(1, ext - 2 * p), ext + (3 if small else 7))))
    seed = draw(st.integers(0, 2**31))
    return dict(nd=nd, groups=groups, cig=cig, cog=cog, n=n, kernel=kernel, stride=stride,
                dilation=dilation, pads=pads, sizes=sizes, seed=seed)


def make(case, dtype=np.float64):
    rng = np.random.default_rng(case["seed"])
    g = case["groups"]
    x = rng.standard_normal((case["n"], g * case["cig"], *case["sizes"])).astype(dtype)
    w = rng.standard_normal((g * case["cog"], case["cig"], *case["kernel"])).astype(dtype)
    b = rng.standard_normal(g * case["cog"]).astype(dtype)
    return x, w, b


def params(case):
    return dict(stride=tuple(case["stride"]), padding=tuple(case["pads"]),
                dilation=tuple(case["dilation"]), groups=case["groups"])


def ref_params(case):
    return (case["stride"], [(p, p) for p in case["pads"]], case["dilation"], case["groups"])


# ---- forward -------------------------------------------------------------------------


@given(conv_cases(), st.booleans())
def test_conv_matches_numpy_f64(case, with_bias):
    x, w, b = make(case)
    b = b if with_bias else None
    got = CONV[case["nd"]](fg.from_numpy(x), fg.from_numpy(w), None if b is None else fg.from_numpy(b),
                           **params(case))
    assert got.dtype == fg.float64
    want = ref_conv(x, w, b, *ref_params(case))
    scale = ref_conv(np.abs(x), np.abs(w), None if b is None else np.abs(b), *ref_params(case))
    assert_conv_close(got, want, scale, F64_TOL)


@given(conv_cases())
def test_conv_matches_numpy_f32(case):
    x, w, b = make(case, np.float32)
    got = CONV[case["nd"]](fg.from_numpy(x), fg.from_numpy(w), fg.from_numpy(b), **params(case))
    assert got.dtype == fg.float32
    x64, w64, b64 = x.astype(np.float64), w.astype(np.float64), b.astype(np.float64)
    want = ref_conv(x64, w64, b64, *ref_params(case))
    scale = ref_conv(np.abs(x64), np.abs(w64), np.abs(b64), *ref_params(case))
    assert_conv_close(got, want, scale, F32_TOL)


@pytest.mark.parametrize("algo", ["", "im2col"])
@pytest.mark.parametrize(
    "shape,cout,k,stride,pad,groups",
    [
        ((4, 8, 20, 20), 16, 3, 1, 1, 1),   # several images: parallel over images
        ((1, 16, 40, 40), 24, 3, 1, 1, 1),  # one image: rows split across threads
        ((3, 12, 33, 17), 12, 5, 2, 2, 3),  # strided, grouped
        ((2, 8, 30, 30), 8, 3, 1, 1, 8),    # depthwise
        ((2, 300, 6, 6), 7, 3, 1, 1, 1),    # K = 2700 spans several K blocks
    ],
)
def test_conv_larger(monkeypatch, algo, shape, cout, k, stride, pad, groups):
    if algo:
        monkeypatch.setenv("FERROGRAD_CONV", algo)
    rng = np.random.default_rng(1)
    for dt, tol in ((np.float64, F64_TOL), (np.float32, F32_TOL)):
        x = rng.standard_normal(shape).astype(dt)
        w = rng.standard_normal((cout, shape[1] // groups, k, k)).astype(dt)
        b = rng.standard_normal(cout).astype(dt)
        got = fg.conv2d(fg.from_numpy(x), fg.from_numpy(w), fg.from_numpy(b), stride, pad, 1, groups)
        rp = ([stride] * 2, [(pad, pad)] * 2, [1, 1], groups)
        x64, w64, b64 = (a.astype(np.float64) for a in (x, w, b))
        want = ref_conv(x64, w64, b64, *rp)
        scale = ref_conv(np.abs(x64), np.abs(w64), np.abs(b64), *rp)
        assert_conv_close(got, want, scale, tol)


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_padding_same_and_valid(nd, k):
    rng = np.random.default_rng(k)
    x = rng.standard_normal((2, 3, *[7] * nd))
    w = rng.standard_normal((4, 3, *[k] * nd))
    for dil in (1, 2):
        same = CONV[nd](fg.from_numpy(x), fg.from_numpy(w), padding="same", dilation=dil)
        total = dil * (k - 1)
        pads = [(total // 2, total - total // 2)] * nd
        want = ref_conv(x, w, None, [1] * nd, pads, [dil] * nd, 1)
        assert same.shape == x.shape[:1] + (4,) + x.shape[2:]
        np.testing.assert_allclose(np.asarray(same), want, rtol=1e-10, atol=1e-10)
    valid = CONV[nd](fg.from_numpy(x), fg.from_numpy(w), padding="valid")
    np.testing.assert_allclose(np.asarray(valid), ref_conv(x, w, None, [1] * nd, [(0, 0)] * nd, [1] * nd, 1),
                               rtol=1e-10, atol=1e-10)


def test_padding_and_params_per_dim():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 2, 9, 11))
    w = rng.standard_normal((3, 2, 3, 2))
    got = fg.conv2d(fg.from_numpy(x), fg.from_numpy(w), stride=(2, 1), padding=(1, 0), dilation=(1, 2))
    want = ref_conv(x, w, None, [2, 1], [(1, 1), (0, 0)], [1, 2], 1)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-10, atol=1e-10)
    # lists work like tuples, and numpy inputs are accepted
    got2 = fg.conv2d(x, w, stride=[2, 1], padding=[1, 0], dilation=[1, 2])
    np.testing.assert_allclose(np.asarray(got2), want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_unbatched(nd):
    rng = np.random.default_rng(nd)
    x = rng.standard_normal((3, *[6] * nd))
    w = rng.standard_normal((2, 3, *[3] * nd))
    b = rng.standard_normal(2)
    got = CONV[nd](fg.from_numpy(x), fg.from_numpy(w), fg.from_numpy(b), padding=1)
    want = ref_conv(x[None], w, b, [1] * nd, [(1, 1)] * nd, [1] * nd, 1)[0]
    assert got.shape == want.shape
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-10, atol=1e-10)
    wt = rng.standard_normal((3, 2, *[3] * nd))
    got_t = CONV_T[nd](fg.from_numpy(x), fg.from_numpy(wt), stride=2)
    want_t = ref_conv_transpose(x[None], wt, None, [2] * nd, [0] * nd, [0] * nd, [1] * nd, 1)[0]
    np.testing.assert_allclose(np.asarray(got_t), want_t, rtol=1e-10, atol=1e-10)


def test_video_conv3d():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 5, 12, 10)).astype(np.float32)  # (N, C, T, H, W)
    w = rng.standard_normal((8, 3, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)
    got = fg.conv3d(fg.from_numpy(x), fg.from_numpy(w), fg.from_numpy(b), stride=(1, 2, 2), padding=1)
    assert got.shape == (2, 8, 5, 6, 5)
    rp = ([1, 2, 2], [(1, 1)] * 3, [1, 1, 1], 1)
    x64, w64, b64 = (a.astype(np.float64) for a in (x, w, b))
    scale = ref_conv(np.abs(x64), np.abs(w64), np.abs(b64), *rp)
    assert_conv_close(got, ref_conv(x64, w64, b64, *rp), scale, F32_TOL)


def test_noncontiguous_inputs():
    rng = np.random.default_rng(6)
    base = rng.standard_normal((9, 4, 3, 14))  # (H, N, C, W): permuted, then sliced
    x_np = base.transpose(1, 2, 0, 3)[:, :2, ::2, 1:-1]
    x = fg.from_numpy(base).permute(1, 2, 0, 3)[:, :2, ::2, 1:-1]
    assert not x.is_contiguous()
    wbase = rng.standard_normal((3, 3, 5, 2))  # (kh, kw, C_out, C_in), flipped along kh
    w_np = wbase.transpose(2, 3, 0, 1)[:, :, ::-1]
    w = fg.from_numpy(wbase).permute(2, 3, 0, 1)[:, :, ::-1]
    bbase = rng.standard_normal(10)
    b_np, b = bbase[::2], fg.from_numpy(bbase)[::2]
    rp = ([1, 1], [(1, 1)] * 2, [1, 1], 1)
    got = fg.conv2d(x, w, b, padding=1)
    want = ref_conv(x_np, w_np, b_np, *rp)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-10, atol=1e-10)
    # the backward primitives on views too
    gy_base = rng.standard_normal(want.shape[::-1])
    gy_np, gy = gy_base.transpose(3, 2, 1, 0), fg.from_numpy(gy_base).permute(3, 2, 1, 0)
    gi = _core._conv_backward_input(gy, w, x.shape, 1, 1, 1, 1)
    gw = _core._conv_backward_weight(gy, x, w.shape, 1, 1, 1, 1)
    np.testing.assert_allclose(np.asarray(gw), ref_conv_weight_grad(gy_np, x_np, w_np.shape, *rp),
                               rtol=1e-10, atol=1e-10)
    want_gi = ref_conv_transpose(gy_np, w_np, None, [1, 1], [1, 1], [0, 0], [1, 1], 1)
    np.testing.assert_allclose(np.asarray(gi), want_gi, rtol=1e-10, atol=1e-10)
    got_t = fg.conv_transpose2d(gy, w, None, 1, 1)
    np.testing.assert_allclose(np.asarray(got_t), want_gi, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("algo", ["", "im2col"])
def test_unreached_infinities_stay_out(monkeypatch, algo):
    """Kernels read past row ends and drop those lanes; values there must not leak in."""
    if algo:
        monkeypatch.setenv("FERROGRAD_CONV", algo)
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 3, 9, 21))
    # Columns 19 and 20 are infinite: the view below ends at 19, which (width 20, stride 2,
    # kernel 3) is in no window, and 20 lies past the end of every row of the view.
    x[..., 19:] = np.inf
    x_used = np.ascontiguousarray(x[..., :20])
    w = rng.standard_normal((5, 3, 3, 3))
    xv = fg.from_numpy(x)[..., :20]  # a view whose row ends are followed by infinities
    y = fg.conv2d(xv, fg.from_numpy(w), stride=(1, 2))
    want = ref_conv(np.where(np.isinf(x_used), 0, x_used), w, None, [1, 2], [(0, 0)] * 2, [1, 1], 1)
    assert np.all(np.isfinite(np.asarray(y)))
    np.testing.assert_allclose(np.asarray(y), want, rtol=1e-10, atol=1e-10)
    # width 20, stride 2, kernel 3: column 19 is in no window, so an infinity there is unseen
    x2 = rng.standard_normal((2, 3, 9, 20))
    x2[..., 19] = np.inf
    gy = rng.standard_normal((2, 5, 7, 9))
    gw = _core._conv_backward_weight(fg.from_numpy(gy), fg.from_numpy(x2), w.shape, (1, 2), 0, 1, 1)
    x2c = np.where(np.isinf(x2), 0, x2)
    want_w = ref_conv_weight_grad(gy, x2c, w.shape, [1, 2], [(0, 0)] * 2, [1, 1], 1)
    np.testing.assert_allclose(np.asarray(gw), want_w, rtol=1e-10, atol=1e-10)
    y2 = fg.conv2d(fg.from_numpy(x2), fg.from_numpy(w), stride=(1, 2))
    np.testing.assert_allclose(np.asarray(y2), ref_conv(x2c, w, None, [1, 2], [(0, 0)] * 2, [1, 1], 1),
                               rtol=1e-10, atol=1e-10)


def test_zero_sizes():
    x = fg.zeros((0, 3, 8, 8))
    w = fg.ones((4, 3, 3, 3))
    y = fg.conv2d(x, w, padding=1)
    assert y.shape == (0, 4, 8, 8)
    assert _core._conv_backward_input(y, w, x.shape, 1, 1, 1, 1).shape == x.shape
    gw = _core._conv_backward_weight(y, x, w.shape, 1, 1, 1, 1)
    assert gw.shape == w.shape and not np.asarray(gw).any()
    assert fg.conv_transpose2d(y, w, padding=1).shape == (0, 3, 8, 8)
    # zero output channels, and an input whose only contribution is padding
    assert fg.conv2d(fg.ones((2, 3, 5, 5)), fg.ones((0, 3, 3, 3))).shape == (2, 0, 3, 3)
    y = fg.conv1d(fg.ones((1, 2, 0)), fg.ones((3, 2, 1)), fg.full((3,), 2.0), padding=1)
    np.testing.assert_array_equal(np.asarray(y), np.full((1, 3, 2), 2.0, np.float32))


# ---- dtypes --------------------------------------------------------------------------


@pytest.mark.parametrize("dt", ["float16", "bfloat16"])
def test_half_dtypes(dt):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    xd, wd = fg.from_numpy(x).astype(dt), fg.from_numpy(w).astype(dt)
    got = fg.conv2d(xd, wd, padding=1)
    assert got.dtype == getattr(fg, dt)
    want = fg.conv2d(xd.float(), wd.float(), padding=1).astype(dt).float()
    np.testing.assert_array_equal(np.asarray(got.float()), np.asarray(want))
    gt = fg.conv_transpose2d(xd, wd.permute(1, 0, 2, 3))
    assert gt.dtype == getattr(fg, dt)


def test_mixed_dtypes_promote_like_matmul():
    x = fg.ones((1, 2, 5, 5), dtype=fg.float32)
    w = fg.ones((3, 2, 3, 3), dtype=fg.float64)
    assert fg.conv2d(x, w).dtype == (x[0, 0, :3, :3] @ w[0, 0]).dtype == fg.float64
    assert fg.conv2d(x.astype(fg.float16), w.astype(fg.float32)).dtype == fg.float32
    assert fg.conv2d(x, w.astype(fg.float32), fg.zeros(3, dtype=fg.float64)).dtype == fg.float64


@pytest.mark.parametrize("dt", ["int32", "int64", "uint8", "bool"])
def test_integer_inputs_raise_type_error(dt):
    x = fg.ones((1, 2, 5, 5), dtype=dt)
    w = fg.ones((3, 2, 3, 3))
    with pytest.raises(TypeError, match="integer convolution is not supported"):
        fg.conv2d(x, w)
    with pytest.raises(TypeError, match="floating-point"):
        fg.conv2d(w[:1, :2].float().reshape(1, 2, 3, 3), x[:, :, :3, :3].permute(1, 0, 2, 3))
    with pytest.raises(TypeError):
        fg.conv_transpose2d(x, w.permute(1, 0, 2, 3))


# ---- transposed convolution ----------------------------------------------------------


@given(conv_cases(), st.booleans(), st.data())
def test_conv_transpose_matches_numpy(case, with_bias, data):
    nd, g = case["nd"], case["groups"]
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal((case["n"], g * case["cig"], *case["sizes"]))
    w = rng.standard_normal((g * case["cig"], case["cog"], *case["kernel"]))
    b = rng.standard_normal(g * case["cog"]) if with_bias else None
    ops = [data.draw(st.integers(0, max(s, d) - 1)) for s, d in zip(case["stride"], case["dilation"])]
    pads = []
    for i, p in enumerate(case["pads"]):
        full = (case["sizes"][i] - 1) * case["stride"][i] + case["dilation"][i] * (case["kernel"][i] - 1) + 1 + ops[i]
        pads.append(min(p, (full - 1) // 2))
    got = CONV_T[nd](fg.from_numpy(x), fg.from_numpy(w), None if b is None else fg.from_numpy(b),
                     stride=tuple(case["stride"]), padding=tuple(pads), output_padding=tuple(ops),
                     groups=g, dilation=tuple(case["dilation"]))
    want = ref_conv_transpose(x, w, b, case["stride"], pads, ops, case["dilation"], g)
    scale = ref_conv_transpose(np.abs(x), np.abs(w), None if b is None else np.abs(b),
                               case["stride"], pads, ops, case["dilation"], g)
    assert_conv_close(got, want, scale, F64_TOL)


def _output_padding(case):
    return tuple((s + 2 * p - (d * (k - 1) + 1)) % st_
                 for s, p, d, k, st_ in zip(case["sizes"], case["pads"], case["dilation"], case["kernel"],
                                            case["stride"]))


@given(conv_cases())
def test_adjoint_identity(case):
    """<conv(x, w), y> == <x, conv_transpose(y, w)> == <x, backward_input(y, w)>."""
    x, w, _ = make(case)
    y_shape = CONV[case["nd"]](fg.from_numpy(x), fg.from_numpy(w), **params(case)).shape
    y = np.random.default_rng(case["seed"] + 1).standard_normal(y_shape)
    lhs = float(np.vdot(np.asarray(CONV[case["nd"]](fg.from_numpy(x), fg.from_numpy(w), **params(case))), y))
    p = params(case)
    ct = CONV_T[case["nd"]](fg.from_numpy(y), fg.from_numpy(w), stride=p["stride"], padding=p["padding"],
                            output_padding=_output_padding(case), groups=p["groups"], dilation=p["dilation"])
    assert ct.shape == x.shape
    bi = _core._conv_backward_input(fg.from_numpy(y), fg.from_numpy(w), x.shape, p["stride"], p["padding"],
                                    p["dilation"], p["groups"])
    np.testing.assert_array_equal(np.asarray(ct), np.asarray(bi))
    rhs = float(np.vdot(x, np.asarray(bi)))
    scale = float(np.vdot(np.abs(x), np.asarray(_core._conv_backward_input(
        fg.from_numpy(np.abs(y)), fg.from_numpy(np.abs(w)), x.shape, p["stride"], p["padding"], p["dilation"],
        p["groups"]))))
    assert abs(lhs - rhs) <= F64_TOL * scale + 1e-300
    # the weight gradient is the adjoint in w
    bw = _core._conv_backward_weight(fg.from_numpy(y), fg.from_numpy(x), w.shape, p["stride"], p["padding"],
                                     p["dilation"], p["groups"])
    assert abs(lhs - float(np.vdot(w, np.asarray(bw)))) <= F64_TOL * scale + 1e-300


# ---- backward primitives -------------------------------------------------------------


@given(conv_cases())
def test_backward_matches_numpy(case):
    x, w, _ = make(case)
    p = params(case)
    rp = ref_params(case)
    y_shape = ref_conv(x, w, None, *rp).shape
    gy = np.random.default_rng(case["seed"] + 2).standard_normal(y_shape)
    args = (p["stride"], p["padding"], p["dilation"], p["groups"])
    gw = _core._conv_backward_weight(fg.from_numpy(gy), fg.from_numpy(x), w.shape, *args)
    want_w = ref_conv_weight_grad(gy, x, w.shape, *rp)
    scale_w = ref_conv_weight_grad(np.abs(gy), np.abs(x), w.shape, *rp)
    assert_conv_close(gw, want_w, scale_w, F64_TOL)
    gi = _core._conv_backward_input(fg.from_numpy(gy), fg.from_numpy(w), x.shape, *args)
    ops = _output_padding(case)
    want_i = ref_conv_transpose(gy, w, None, case["stride"], case["pads"], ops, case["dilation"], case["groups"])
    scale_i = ref_conv_transpose(np.abs(gy), np.abs(w), None, case["stride"], case["pads"], ops, case["dilation"],
                                 case["groups"])
    assert_conv_close(gi, want_i, scale_i, F64_TOL)


@pytest.mark.parametrize(
    "nd,stride,pad,dil,groups",
    [(1, 2, 1, 1, 1), (2, 1, 1, 1, 2), (2, 2, 0, 2, 1), (3, 1, 1, 1, 1), (2, 3, 2, 1, 1)],
)
def test_backward_finite_differences(nd, stride, pad, dil, groups):
    """Each gradient entry against a float64 central difference of L = <conv(x, w), gy>."""
    rng = np.random.default_rng(nd * 10 + stride)
    x = rng.standard_normal((2, 2 * groups, *[5 if nd == 3 else 7] * nd))
    w = rng.standard_normal((2 * groups, 2, *[2 if nd == 3 else 3] * nd))
    args = ((stride,) * nd, (pad,) * nd, (dil,) * nd, groups)

    def conv(x_, w_):
        return np.asarray(CONV[nd](fg.from_numpy(x_), fg.from_numpy(w_), None, *args))

    gy = rng.standard_normal(conv(x, w).shape)
    gi = np.asarray(_core._conv_backward_input(fg.from_numpy(gy), fg.from_numpy(w), x.shape, *args))
    gw = np.asarray(_core._conv_backward_weight(fg.from_numpy(gy), fg.from_numpy(x), w.shape, *args))
    h = 1e-3
    for arr, grad, which in ((x, gi, 0), (w, gw, 1)):
        flat = arr.reshape(-1)
        idx = rng.choice(flat.size, size=min(flat.size, 40), replace=False)
        for i in idx:
            old = flat[i]
            flat[i] = old + h
            up = np.vdot(conv(x, w), gy)
            flat[i] = old - h
            down = np.vdot(conv(x, w), gy)
            flat[i] = old
            fd = (up - down) / (2 * h)
            assert abs(fd - grad.reshape(-1)[i]) <= 1e-8 * (1 + abs(fd)), (which, i, fd, grad.reshape(-1)[i])


@pytest.mark.parametrize("algo", ["", "im2col"])
def test_backward_larger(monkeypatch, algo):
    """Threaded paths: several images (partial weight gradients summed) and one image."""
    if algo:
        monkeypatch.setenv("FERROGRAD_CONV", algo)
    rng = np.random.default_rng(8)
    for n, stride in ((6, 1), (1, 1), (4, 2)):
        x = rng.standard_normal((n, 8, 24, 24))
        w = rng.standard_normal((16, 8, 3, 3))
        rp = ([stride] * 2, [(1, 1)] * 2, [1, 1], 1)
        gy = rng.standard_normal(ref_conv(x, w, None, *rp).shape)
        gw = _core._conv_backward_weight(fg.from_numpy(gy), fg.from_numpy(x), w.shape, stride, 1, 1, 1)
        scale = ref_conv_weight_grad(np.abs(gy), np.abs(x), w.shape, *rp)
        assert_conv_close(gw, ref_conv_weight_grad(gy, x, w.shape, *rp), scale, F64_TOL)
        op = [(24 + 2 - 3) % stride] * 2
        gi = _core._conv_backward_input(fg.from_numpy(gy), fg.from_numpy(w), x.shape, stride, 1, 1, 1)
        want = ref_conv_transpose(gy, w, None, [stride] * 2, [1, 1], op, [1, 1], 1)
        scale = ref_conv_transpose(np.abs(gy), np.abs(w), None, [stride] * 2, [1, 1], op, [1, 1], 1)
        assert_conv_close(gi, want, scale, F64_TOL)


def test_backward_primitive_padding_forms():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((1, 2, 6, 6))
    w = rng.standard_normal((3, 2, 2, 2))
    y = fg.conv2d(fg.from_numpy(x), fg.from_numpy(w), padding="same")
    gy = fg.from_numpy(rng.standard_normal(y.shape))
    a = _core._conv_backward_weight(gy, fg.from_numpy(x), w.shape, 1, "same", 1, 1)
    b = _core._conv_backward_weight(gy, fg.from_numpy(x), w.shape, 1, [(0, 1), (0, 1)], 1, 1)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    c = _core._conv_backward_input(gy, fg.from_numpy(w), x.shape, 1, "same", 1, 1)
    d = _core._conv_backward_input(gy, fg.from_numpy(w), x.shape, [1, 1], ((0, 1), (0, 1)), [1, 1], 1)
    np.testing.assert_array_equal(np.asarray(c), np.asarray(d))


# ---- errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: fg.conv2d(fg.ones((1, 3, 5, 5)), fg.ones((4, 1, 3, 3)), groups=2), "groups"),
        (lambda: fg.conv2d(fg.ones((1, 4, 5, 5)), fg.ones((3, 2, 3, 3)), groups=2), "groups"),
        (lambda: fg.conv2d(fg.ones((1, 4, 5, 5)), fg.ones((4, 3, 3, 3))), "channels"),
        (lambda: fg.conv2d(fg.ones((1, 3, 2, 5)), fg.ones((4, 3, 3, 3))), "larger than the padded input"),
        (lambda: fg.conv1d(fg.ones((1, 3, 4)), fg.ones((4, 3, 3)), dilation=2), "larger than the padded input"),
        (lambda: fg.conv2d(fg.ones((1, 3, 5, 5)), fg.ones((4, 3, 3, 3)), stride=0), "stride must be positive"),
        (lambda: fg.conv2d(fg.ones((1, 3, 5, 5)), fg.ones((4, 3, 3, 3)), dilation=0), "dilation must be positive"),
        (lambda: fg.conv2d(fg.ones((1, 3, 5, 5)), fg.ones((4, 3, 3, 3)), padding=-1), "non-negative"),
        (lambda: fg.conv2d(fg.ones((1, 3, 5, 5)), fg.ones((4, 3, 3, 3)), groups=0), "groups must be positive"),
        (lambda: fg.conv2d(fg.ones((1, 3, 5, 5)), fg.ones((4, 3, 3, 3)), stride=(1, 1, 1)), "stride needs"),
        (lambda: fg.conv2d(fg.ones((1, 3, 5, 5)), fg.ones((4, 3, 3, 3)), padding="full"), "padding must be"),
        (lambda: fg.conv2d(fg.ones((1, 3, 5, 5)), fg.ones((4, 3, 3, 3)), stride=2, padding="same"), "same"),
        (lambda: fg.conv2d(fg.ones((1, 3, 5, 5)), fg.ones((4, 3, 3, 3)), fg.ones(3)), "bias"),
        (lambda: fg.conv2d(fg.ones((1, 1, 3, 5, 5)), fg.ones((4, 3, 3, 3))), "input"),
        (lambda: fg.conv2d(fg.ones((5, 5)), fg.ones((4, 3, 3, 3))), "input"),
        (lambda: fg.conv2d(fg.ones((1, 3, 5, 5)), fg.ones((4, 3, 3))), "weight must be 4-D"),
        (lambda: fg.conv3d(fg.ones((1, 3, 5, 5, 5)), fg.ones((4, 3, 0, 1, 1))), "kernel sizes must be positive"),
        (lambda: fg.conv_transpose2d(fg.ones((1, 3, 5, 5)), fg.ones((4, 2, 3, 3))), "channels"),
        (lambda: fg.conv_transpose2d(fg.ones((1, 4, 5, 5)), fg.ones((4, 2, 3, 3)), stride=2, output_padding=2),
         "output_padding"),
        (lambda: fg.conv_transpose2d(fg.ones((1, 4, 5, 5)), fg.ones((4, 2, 3, 3)), output_padding=-1),
         "non-negative"),
        (lambda: fg.conv_transpose2d(fg.ones((1, 4, 2, 2)), fg.ones((4, 2, 3, 3)), padding=3), "output would"),
        (lambda: fg.conv_transpose2d(fg.ones((1, 4, 5, 5)), fg.ones((4, 2, 3, 3)), padding="same"), "padding"),
        (lambda: fg.conv_transpose2d(fg.ones((1, 4, 5, 5)), fg.ones((4, 2, 3, 3)), groups=3), "groups"),
        (lambda: _core._conv_backward_input(fg.ones((1, 4, 4, 4)), fg.ones((4, 3, 3, 3)), (1, 3, 5, 5)), "grad_out"),
        (lambda: _core._conv_backward_weight(fg.ones((1, 4, 3, 3)), fg.ones((1, 3, 5, 5)), (4, 2, 3, 3)), "channels"),
        (lambda: _core._conv_backward_weight(fg.ones((1, 4, 3, 3)), fg.ones((1, 3, 5, 5)), (4, 3, 3)), "input"),
        (lambda: _core._conv_backward_input(fg.ones((1, 4, 3, 3)), fg.ones((4, 3, 3, 3)), (1, 3, -5, 5)), "negative"),
    ],
)
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---- against PyTorch (only where it is installed) ------------------------------------


def test_against_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(10)
    cases = [
        (2, (2, 4, 11, 9), 6, 3, 2, 1, 1, 2),
        (1, (3, 6, 17), 4, 4, 1, 2, 2, 2),
        (3, (2, 2, 5, 6, 7), 4, 3, 1, 1, 1, 1),
        (2, (1, 3, 8, 8), 3, 3, 1, "same", 2, 3),
    ]
    for nd, xs, cout, k, stride, pad, dil, groups in cases:
        x = rng.standard_normal(xs)
        w = rng.standard_normal((cout, xs[1] // groups, *[k] * nd))
        b = rng.standard_normal(cout)
        tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        conv_t = getattr(F, f"conv{nd}d")
        ty = conv_t(tx, tw, tb, stride, pad, dil, groups)
        got = CONV[nd](fg.from_numpy(x), fg.from_numpy(w), fg.from_numpy(b), stride, pad, dil, groups)
        np.testing.assert_allclose(np.asarray(got), ty.detach().numpy(), rtol=1e-10, atol=1e-10)
        gy = rng.standard_normal(tuple(ty.shape))
        ty.backward(torch.tensor(gy))
        gi = _core._conv_backward_input(fg.from_numpy(gy), fg.from_numpy(w), x.shape, stride, pad, dil, groups)
        gw = _core._conv_backward_weight(fg.from_numpy(gy), fg.from_numpy(x), w.shape, stride, pad, dil, groups)
        np.testing.assert_allclose(np.asarray(gi), tx.grad.numpy(), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(np.asarray(gw), tw.grad.numpy(), rtol=1e-10, atol=1e-10)
        if pad != "same":
            # conv_transpose with the same weight: (C_in_t, C_out_t / groups, *k) = w's layout
            bt = rng.standard_normal(w.shape[1] * groups)
            op = 1 if stride > 1 else 0
            want = getattr(F, f"conv_transpose{nd}d")(
                torch.tensor(gy), torch.tensor(w), torch.tensor(bt), stride, pad, op, groups, dil)
            got = CONV_T[nd](fg.from_numpy(gy), fg.from_numpy(w), fg.from_numpy(bt), stride, pad, op,
                             groups, dil)
            np.testing.assert_allclose(np.asarray(got), want.numpy(), rtol=1e-10, atol=1e-10)
    # float32 against torch's CPU build
    x = rng.standard_normal((4, 3, 16, 16)).astype(np.float32)
    w = rng.standard_normal((8, 3, 3, 3)).astype(np.float32)
    got = fg.conv2d(fg.from_numpy(x), fg.from_numpy(w), padding=1)
    want = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1).numpy()
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-4)
