"""The ``reduction=`` argument shared by the losses, and PyTorch's deprecated
``size_average``/``reduce`` pair that maps onto it."""

from __future__ import annotations

import warnings

from .._ops import Tensor


def legacy_get_string(size_average, reduce, emit_warning: bool = True) -> str:
    """``reduction`` from the old flags (both default to True, meaning 'mean')."""
    if emit_warning:
        warnings.warn("size_average and reduce args will be deprecated, please use reduction instead.",
                      stacklevel=3)
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if size_average and reduce:
        return "mean"
    return "sum" if reduce else "none"


def resolve(size_average, reduce, reduction: str) -> str:
    if size_average is not None or reduce is not None:
        return legacy_get_string(size_average, reduce)
    return reduction


def check(reduction: str, allowed=("none", "mean", "sum")) -> None:
    if reduction not in allowed:
        raise ValueError(f"{reduction} is not a valid value for reduction")


def apply(loss: Tensor, reduction: str) -> Tensor:
    """Per-element ``loss`` reduced as asked: 'none', 'mean' or 'sum'."""
    check(reduction)
    if reduction == "none":
        return loss
    return loss.mean() if reduction == "mean" else loss.sum()


def apply_weighted(loss: Tensor, weight: Tensor | None, reduction: str, mean_over_weights: bool = True) -> Tensor:
    """``loss * weight`` reduced. 'mean' divides by the weights' sum, as PyTorch's
    weighted ``mse_loss``/``l1_loss`` do, or by the element count with
    ``mean_over_weights=False``, as its weighted ``huber_loss`` does."""
    if weight is None:
        return apply(loss, reduction)
    check(reduction)
    if tuple(weight.shape) != tuple(loss.shape):
        raise ValueError("Weights and input must have the same size.")
    weighted = loss * weight
    if reduction == "none":
        return weighted
    if reduction == "sum":
        return weighted.sum()
    return weighted.sum() / weight.sum() if mean_over_weights else weighted.mean()
