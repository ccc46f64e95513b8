"""Image ops for CNNs with PyTorch's signatures and semantics: max / average / adaptive
pooling over 1-3 spatial dims, ``pad`` and ``interpolate``. The work runs in Rust
(``_core._max_pool``, ...), which records autograd nodes. The raw backward kernels, which
those nodes call from Rust and tests and benchmarks call directly, are
``_core._max_pool_backward``, ``_avg_pool_backward``, ``_adaptive_avg_pool_backward``,
``_pad_backward`` and ``_interpolate_backward``."""

from __future__ import annotations

import math

from . import _core
from ._core import Tensor


def _t(x) -> Tensor:
    return x if isinstance(x, Tensor) else _core._as_tensor(x)


# ---- max pooling -----------------------------------------------------------------------


def _max_pool(k, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    values, indices = _core._max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, k)
    return (values, indices) if return_indices else values


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max pooling of ``(N, C, L)`` or ``(C, L)``; indices are positions along L."""
    return _max_pool(1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max pooling of ``(N, C, H, W)`` or ``(C, H, W)``. ``stride`` defaults to
    ``kernel_size``; ``padding`` (at most half the kernel) counts as -inf. Indices (int64)
    are flat positions ``h * W + w`` within each input plane, as in PyTorch; a NaN in a
    window wins."""
    return _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max pooling of ``(N, C, D, H, W)`` or ``(C, D, H, W)``; indices are flat in D*H*W."""
    return _max_pool(3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


# ---- average pooling -------------------------------------------------------------------


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """Average pooling of ``(N, C, L)`` or ``(C, L)``."""
    return _core._avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                           None, 1)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Average pooling of ``(N, C, H, W)`` or ``(C, H, W)``. The divisor is
    ``divisor_override`` if given, else the window clipped to the padded input
    (``count_include_pad=True``) or the number of input elements it covers."""
    return _core._avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                           divisor_override, 2)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Average pooling of ``(N, C, D, H, W)`` or ``(C, D, H, W)``."""
    return _core._avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                           divisor_override, 3)


# ---- adaptive pooling ------------------------------------------------------------------


def adaptive_avg_pool1d(input, output_size):
    """Adaptive average pooling to length ``output_size``: output ``o`` averages input
    ``[floor(o * L / out), ceil((o + 1) * L / out))``."""
    return _core._adaptive_pool(input, output_size, 1, False)[0]


def adaptive_avg_pool2d(input, output_size):
    """Adaptive average pooling of ``(N, C, H, W)`` / ``(C, H, W)`` to ``output_size``
    (an int or a pair; ``None`` keeps that dim)."""
    return _core._adaptive_pool(input, output_size, 2, False)[0]


def adaptive_avg_pool3d(input, output_size):
    return _core._adaptive_pool(input, output_size, 3, False)[0]


def _adaptive_max(k, input, output_size, return_indices):
    values, indices = _core._adaptive_pool(input, output_size, k, True)
    return (values, indices) if return_indices else values


def adaptive_max_pool1d(input, output_size, return_indices=False):
    return _adaptive_max(1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Adaptive max pooling (windows as :func:`adaptive_avg_pool2d`); indices as
    :func:`max_pool2d`."""
    return _adaptive_max(2, input, output_size, return_indices)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    return _adaptive_max(3, input, output_size, return_indices)


# ---- pad and interpolate ---------------------------------------------------------------


def pad(input, pad, mode="constant", value=None):
    """PyTorch's ``F.pad``: ``pad`` lists (left, right) pairs from the last dim backwards.
    ``constant`` (fill ``value``, default 0) pads any dims of any dtype and crops with
    negative pads; ``reflect``, ``replicate`` and ``circular`` pad the last 1-3 dims of a
    ``(C, *spatial)`` or ``(N, C, *spatial)`` input (reflect needs pads < the dim)."""
    return _core._pad(input, tuple(pad), mode, value)


_SPATIAL_NAMES = {1: "(L)", 2: "(H, W)", 3: "(D, H, W)"}


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """PyTorch's ``F.interpolate`` for ``(N, C, *spatial)`` inputs with 1-3 spatial dims.
    Modes: ``nearest`` (``floor(dst * in / out)``, or ``1 / scale_factor`` when given),
    ``nearest-exact``, ``linear`` (3-D), ``bilinear`` (4-D), ``trilinear`` (5-D) with
    ``align_corners`` False (default, half-pixel centres) or True, and ``area``."""
    x = _t(input)
    dim = x.ndim - 2
    if dim < 1 or dim > 3:
        raise ValueError(f"interpolate: expected a 3-D, 4-D or 5-D (N, C, *spatial) input, "
                         f"got shape {tuple(x.shape)}")
    if antialias:
        raise ValueError("interpolate: antialias=True is not supported")
    if size is not None and scale_factor is not None:
        raise ValueError("interpolate: only one of size or scale_factor should be defined")
    scales = None
    if size is not None:
        if recompute_scale_factor:
            raise ValueError("interpolate: recompute_scale_factor is not meaningful with an "
                             "explicit size")
        if isinstance(size, (list, tuple)):
            if len(size) != dim:
                raise ValueError(
                    f"interpolate: input and output must have the same number of spatial dims, "
                    f"but got input with spatial dims {list(x.shape[2:])} and output size "
                    f"{list(size)}; give the input as (N, C, d1, ...) and the size as (o1, ...)")
            out = list(size)
        else:
            out = [size] * dim
    elif scale_factor is not None:
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != dim:
                raise ValueError(
                    f"interpolate: input and scale_factor must have the same number of spatial "
                    f"dims, but got input with spatial dims {list(x.shape[2:])} and "
                    f"scale_factor {list(scale_factor)}")
            scales = [float(s) for s in scale_factor]
        else:
            scales = [float(scale_factor)] * dim
        if any(not math.isfinite(s) for s in scales):
            raise ValueError(f"interpolate: scale_factor must be finite, got {scale_factor}")
        out = [math.floor(float(n) * s) for n, s in zip(x.shape[2:], scales)]
        if mode == "area" or recompute_scale_factor:
            scales = None
    else:
        raise ValueError("interpolate: either size or scale_factor should be defined")
    return _core._interpolate(x, out, mode, align_corners, scales)
