"""``linear`` and ``bilinear``: matmuls against a ``(out, in)`` weight."""

from __future__ import annotations

from ... import _einsum
from .._ops import Tensor


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias`` over any leading batch dims."""
    out = input @ weight.mT if weight.ndim == 2 else input @ weight
    return out if bias is None else out + bias


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``y_k = x1^T W_k x2 + b_k`` with ``weight`` of shape ``(out, in1, in2)``."""
    if input1.shape[:-1] != input2.shape[:-1]:
        raise ValueError(f"bilinear: input1 {tuple(input1.shape)} and input2 {tuple(input2.shape)} "
                         "must have the same batch dims")
    out = _einsum.einsum("...i,oij,...j->...o", input1, weight, input2)
    return out if bias is None else out + bias
