"""Activation functions with ``torch.nn.functional``'s signatures. Most are one Rust
elementwise op; ``inplace=True`` writes the result into the input (``out=input``)."""

from __future__ import annotations

import warnings

from .. import _ops
from .._ops import Tensor


def _apply(name: str, input: Tensor, inplace: bool, param: float | None = None) -> Tensor:
    if not inplace:
        return _ops.unary(name, input, param)
    _ops.unary(name, input, param, out=input)
    return input  # the caller's object, as PyTorch's in-place ops return


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    return _apply("relu", input, inplace)


def relu_(input: Tensor) -> Tensor:
    return _apply("relu", input, True)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    return _apply("leaky_relu", input, inplace, negative_slope)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    return _apply("leaky_relu", input, True, negative_slope)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    return _apply("elu", input, inplace, alpha)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return _apply("elu", input, True, alpha)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    out = _SELU_SCALE * _ops.unary("elu", input, _SELU_ALPHA)
    return input.copy_(out) if inplace else out


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))`` = ``alpha * elu(x / alpha)``."""
    out = alpha * _ops.unary("elu", input / alpha, 1.0)
    return input.copy_(out) if inplace else out


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """Exact GELU ``x * Phi(x)``, or the tanh approximation with ``approximate='tanh'``."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate argument must be either none or tanh, got {approximate!r}")
    return _ops.unary("gelu" if approximate == "none" else "gelu_tanh", input)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    return _apply("silu", input, inplace)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    out = input * _ops.tanh(_ops.softplus(input))
    return input.copy_(out) if inplace else out


def sigmoid(input: Tensor) -> Tensor:
    return _ops.sigmoid(input)


def tanh(input: Tensor) -> Tensor:
    return _ops.tanh(input)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    out = _ops.clip(input, min=min_val, max=max_val)
    return input.copy_(out) if inplace else out


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    return hardtanh(input, 0.0, 6.0, inplace)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    out = _ops.clip(input / 6.0 + 0.5, min=0.0, max=1.0)
    return input.copy_(out) if inplace else out


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    out = input * _ops.clip(input / 6.0 + 0.5, min=0.0, max=1.0)
    return input.copy_(out) if inplace else out


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta * x)) / beta``, switching to the identity where
    ``beta * x > threshold`` (as PyTorch does, for its numerical stability)."""
    scaled = input * beta if beta != 1.0 else input
    smooth = _ops.softplus(scaled)
    if beta != 1.0:
        smooth = smooth / beta
    return _ops.where(scaled > threshold, input, smooth)


def softsign(input: Tensor) -> Tensor:
    return input / (_ops.abs(input) + 1.0)


def logsigmoid(input: Tensor) -> Tensor:
    """``log(sigmoid(x)) = -softplus(-x)``, stable for large |x|."""
    return -_ops.softplus(-input)


def tanhshrink(input: Tensor) -> Tensor:
    return input - _ops.tanh(input)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """``max(0, x) + weight * min(0, x)`` with one weight, or one per channel (dim 1)."""
    if weight.numel() != 1 and input.ndim >= 2:
        shape = [1] * input.ndim
        shape[1] = weight.numel()
        weight = weight.reshape(shape)
    return _ops.where(input > 0, input, weight * input)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """``a * sigmoid(b)`` where ``a, b`` are the two halves of ``input`` along ``dim``."""
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    n = input.shape[dim]
    if n % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {dim % input.ndim} is size {n}")
    a, b = input.narrow(dim, 0, n // 2), input.narrow(dim, n // 2, n // 2)
    return a * _ops.sigmoid(b)


def _softmax_dim(name: str, ndim: int) -> int:
    # PyTorch's legacy rule for dim=None (it warns too).
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X "
                  "as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    if dim is None:
        dim = _softmax_dim("softmax", input.ndim)
    return _ops.softmax(input, dim=dim, dtype=dtype)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    if dim is None:
        dim = _softmax_dim("softmin", input.ndim)
    return _ops.softmax(-input, dim=dim, dtype=dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    if dim is None:
        dim = _softmax_dim("log_softmax", input.ndim)
    return _ops.log_softmax(input, dim=dim, dtype=dtype)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """``x`` where ``x > threshold``, else ``value``."""
    out = _ops.where(input > threshold, input, _ops.full((), value, dtype=input.dtype))
    return input.copy_(out) if inplace else out
