"""Convolutions with PyTorch's ``torch.nn.functional`` signatures: ``conv1d/2d/3d`` and
``conv_transpose1d/2d/3d``. Batched ``(N, C, *spatial)`` and unbatched ``(C, *spatial)``
inputs; the work is one Rust call (``_core._conv`` / ``_core._conv_transpose``).

Both record autograd nodes (``rust/autograd/func/image.rs``). The raw backward kernels,
for tests and benchmarks, are ``_core._conv_backward_input(grad_out, weight,
input_shape, stride, padding, dilation, groups)`` and ``_core._conv_backward_weight(grad_out,
input, weight_shape, stride, padding, dilation, groups)``; they take the same ``padding``
forms as the forward call ('same'/'valid', ints, or ``(before, after)`` pairs)."""

from __future__ import annotations

from . import _core
from ._core import Tensor

_DIMS = {1: "L", 2: "H, W", 3: "D, H, W"}


def _t(x) -> Tensor:
    return x if isinstance(x, Tensor) else _core._as_tensor(x)


def _batched(name: str, nd: int, x: Tensor, weight: Tensor, weight_layout: str):
    """``x`` with a batch dim, and whether one was added."""
    if weight.ndim != nd + 2:
        raise ValueError(
            f"{name}: weight must be {nd + 2}-D ({weight_layout}, {_DIMS[nd]}), got shape {tuple(weight.shape)}"
        )
    if x.ndim == nd + 1:
        return x.unsqueeze(0), True
    if x.ndim != nd + 2:
        raise ValueError(
            f"{name}: expected a {nd + 1}-D (C, {_DIMS[nd]}) or {nd + 2}-D (N, C, {_DIMS[nd]}) input, "
            f"got shape {tuple(x.shape)}"
        )
    return x, False


def _conv(nd, name, input, weight, bias, stride, padding, dilation, groups):
    weight = _t(weight)
    x, added = _batched(name, nd, _t(input), weight, "C_out, C_in/groups")
    out = _core._conv(x, weight, None if bias is None else _t(bias), stride, padding, dilation, groups)
    return out.squeeze(0) if added else out


def _conv_transpose(nd, name, input, weight, bias, stride, padding, output_padding, groups, dilation):
    weight = _t(weight)
    x, added = _batched(name, nd, _t(input), weight, "C_in, C_out/groups")
    out = _core._conv_transpose(
        x, weight, None if bias is None else _t(bias), stride, padding, output_padding, groups, dilation
    )
    return out.squeeze(0) if added else out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution (cross-correlation) of ``(N, C_in, L)`` by ``(C_out, C_in/groups, k)``.
    ``padding`` is an int, a tuple, or 'valid'/'same'."""
    return _conv(1, "conv1d", input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution of ``(N, C_in, H, W)`` by ``(C_out, C_in/groups, kh, kw)``."""
    return _conv(2, "conv2d", input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution of ``(N, C_in, D, H, W)`` (e.g. video ``(N, C, T, H, W)``) by
    ``(C_out, C_in/groups, kd, kh, kw)``."""
    return _conv(3, "conv3d", input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 1-D convolution; ``weight`` is ``(C_in, C_out/groups, k)``."""
    return _conv_transpose(1, "conv_transpose1d", input, weight, bias, stride, padding, output_padding,
                           groups, dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 2-D convolution; ``weight`` is ``(C_in, C_out/groups, kh, kw)``."""
    return _conv_transpose(2, "conv_transpose2d", input, weight, bias, stride, padding, output_padding,
                           groups, dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 3-D convolution; ``weight`` is ``(C_in, C_out/groups, kd, kh, kw)``."""
    return _conv_transpose(3, "conv_transpose3d", input, weight, bias, stride, padding, output_padding,
                           groups, dilation)
