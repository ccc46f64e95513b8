"""Normalisation layers' maths: batch, layer, group and RMS norm, composed from
differentiable reductions (mean, biased variance, rsqrt) so autograd covers them.
Batch norm runs as a fused Rust kernel (``_core._batch_norm``, on the CPU and for float32
and float16 GPU tensors); the others are
candidates for fusing later, and each lives in one function for that reason."""

from __future__ import annotations

from ... import _core, _reduce
from ...autograd import no_grad
from .._ops import Tensor, rsqrt


def _channel_shape(input: Tensor) -> list:
    """``[1, C, 1, ...]``: per-channel tensors broadcast against ``(N, C, *)``."""
    shape = [1] * input.ndim
    shape[1] = input.shape[1]
    return shape


def _affine(out: Tensor, weight: Tensor | None, bias: Tensor | None, shape) -> Tensor:
    if weight is not None:
        out = out * (weight.reshape(shape) if shape is not None else weight)
    if bias is not None:
        out = out + (bias.reshape(shape) if shape is not None else bias)
    return out


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalises each channel (dim 1) over the batch and spatial dims. Training uses the
    batch's statistics (biased variance) and, if given, updates the running estimates in
    place: ``r = (1 - momentum) * r + momentum * batch`` with the *unbiased* variance, as
    PyTorch does. Otherwise the running estimates normalise."""
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected an (N, C, *) input, got shape {tuple(input.shape)}")
    if input.device.type == "cpu" or input.dtype.name in ("float32", "float16"):
        # One fused pass (CPU, or GPU kernels computing in float32) for the statistics, the output
        # and the running update, and one for the training gradient; the composed form
        # below is the general path (other GPU dtypes).
        return _core._batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)
    axes = (0, *range(2, input.ndim))
    shape = _channel_shape(input)
    if training:
        count = input.numel() // input.shape[1]
        if count <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                             f"{list(input.shape)}")
        mean = _reduce.mean(input, axis=axes, keepdims=True)
        var = _reduce.var(input, axis=axes, keepdims=True, correction=0)
        if running_mean is not None and running_var is not None:
            with no_grad():
                running_mean.copy_(running_mean * (1 - momentum)
                                   + mean.reshape(-1).to(running_mean.dtype) * momentum)
                unbiased = var.reshape(-1).to(running_var.dtype) * (count / (count - 1))
                running_var.copy_(running_var * (1 - momentum) + unbiased * momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are needed when not training")
        mean, var = running_mean.reshape(shape), running_var.reshape(shape)
    out = (input - mean) * rsqrt(var + eps)
    return _affine(out, weight, bias, shape)


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Normalises over the trailing ``normalized_shape`` dims (biased variance)."""
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(normalized_shape)
    if tuple(input.shape[input.ndim - k:]) != normalized_shape:
        raise RuntimeError(f"Given normalized_shape={list(normalized_shape)}, expected input with shape "
                           f"[*, {', '.join(str(s) for s in normalized_shape)}], but got input of size "
                           f"{list(input.shape)}")
    axes = tuple(range(input.ndim - k, input.ndim))
    mean = _reduce.mean(input, axis=axes, keepdims=True)
    var = _reduce.var(input, axis=axes, keepdims=True, correction=0)
    out = (input - mean) * rsqrt(var + eps)
    return _affine(out, weight, bias, None)


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Normalises each of ``num_groups`` channel groups over its channels and spatial dims."""
    if input.ndim < 2:
        raise RuntimeError(f"group_norm: expected an (N, C, *) input, got shape {tuple(input.shape)}")
    n, c = input.shape[0], input.shape[1]
    if c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got "
                           f"input of shape {list(input.shape)} and num_groups={num_groups}")
    grouped = input.reshape(n, num_groups, -1)
    mean = _reduce.mean(grouped, axis=-1, keepdims=True)
    var = _reduce.var(grouped, axis=-1, keepdims=True, correction=0)
    out = ((grouped - mean) * rsqrt(var + eps)).reshape(input.shape)
    return _affine(out, weight, bias, _channel_shape(input))


_FLOAT_EPS = {"float16": 0.0009765625, "bfloat16": 0.0078125, "float32": 1.1920928955078125e-07,
              "float64": 2.220446049250313e-16}


def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, eps: float | None = None) -> Tensor:
    """``x / sqrt(mean(x^2) + eps) * weight`` over the trailing dims; ``eps`` defaults to
    the dtype's machine epsilon, as PyTorch's."""
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(normalized_shape)
    if tuple(input.shape[input.ndim - k:]) != normalized_shape:
        raise RuntimeError(f"rms_norm: normalized_shape {list(normalized_shape)} does not match the input's "
                           f"trailing dims {list(input.shape)}")
    if eps is None:
        eps = _FLOAT_EPS[input.dtype.name]
    axes = tuple(range(input.ndim - k, input.ndim))
    out = input * rsqrt(_reduce.mean(input * input, axis=axes, keepdims=True) + eps)
    return out if weight is None else out * weight


def instance_norm(input: Tensor, running_mean: Tensor | None = None, running_var: Tensor | None = None,
                  weight: Tensor | None = None, bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalises each (sample, channel) plane over its spatial dims: batch norm of the
    input seen as ``(1, N * C, *)``; running stats are averaged over the batch."""
    n, c = input.shape[0], input.shape[1]
    folded = input.reshape(1, n * c, *input.shape[2:])
    rm = running_mean.repeat(n) if running_mean is not None else None
    rv = running_var.repeat(n) if running_var is not None else None
    out = batch_norm(folded, rm, rv, None, None, use_input_stats, momentum, eps).reshape(input.shape)
    if use_input_stats and running_mean is not None and running_var is not None:
        with no_grad():
            running_mean.copy_(rm.reshape(n, c).mean(0))
            running_var.copy_(rv.reshape(n, c).mean(0))
    return _affine(out, weight, bias, _channel_shape(input))
