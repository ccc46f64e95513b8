"""Loss functions with ``torch.nn.functional``'s signatures and semantics, composed from
differentiable ops in numerically stable forms (``log_softmax``, ``softplus``). Each
loss's maths is one function; ``cross_entropy`` with class targets runs as one fused
kernel (``_core._cross_entropy``, CPU or GPU) with a fused gradient."""

from __future__ import annotations

import warnings

from ... import _core
from .._ops import Tensor, abs, clip, log, log1p, log_softmax, softplus, take_along_axis, where
from . import _reduction

__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "huber_loss", "kl_div",
    "l1_loss", "mse_loss", "nll_loss", "smooth_l1_loss",
]


def _class_dim(input: Tensor) -> int:
    return 0 if input.ndim == 1 else 1


def _check_class_target(input: Tensor, target: Tensor, class_dim: int) -> None:
    expected = tuple(s for d, s in enumerate(input.shape) if d != class_dim)
    if input.ndim >= 2 and target.ndim >= 1 and input.shape[0] != target.shape[0]:
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
                         f"({target.shape[0]}).")
    if tuple(target.shape) != expected:
        raise ValueError(f"Expected target size {list(expected)}, got {list(target.shape)}")


def _weight_view(weight: Tensor, ndim: int, class_dim: int) -> Tensor:
    """The per-class ``weight`` shaped to broadcast along ``class_dim``."""
    shape = [1] * ndim
    shape[class_dim] = weight.shape[0]
    return weight.reshape(shape)


def _nll_terms(log_probs: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int, class_dim: int):
    """Per-element ``-w[y] * log_probs[y]`` and the weights ``w[y]`` (0 where ignored)."""
    num_classes = log_probs.shape[class_dim]
    valid = target != ignore_index
    safe = where(valid, target, 0)
    if safe.numel():
        lo, hi = int(safe.min().item()), int(safe.max().item())
        if lo < 0 or hi >= num_classes:
            raise IndexError(f"Target {lo if lo < 0 else hi} is out of bounds.")
    picked = take_along_axis(log_probs, safe.unsqueeze(class_dim), axis=class_dim).squeeze(class_dim)
    mask = valid.astype(log_probs.dtype)
    w = mask if weight is None else weight[safe] * mask
    return -picked * w, w


def _weighted_mean(loss_sum: Tensor, weights: Tensor) -> Tensor:
    # PyTorch divides by the total weight of the non-ignored targets (0/0 gives nan).
    return loss_sum / weights.sum()


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class ``target`` under log-probabilities ``input``
    ((N, C), (N, C, d1, ...) or (C,)); 'mean' is weighted by ``weight[target]``."""
    reduction = _reduction.resolve(size_average, reduce, reduction)
    _reduction.check(reduction)
    class_dim = _class_dim(input)
    _check_class_target(input, target, class_dim)
    loss, w = _nll_terms(input, target, weight, ignore_index, class_dim)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return _weighted_mean(loss.sum(), w)


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                  ignore_index: int = -100, reduce=None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """``nll_loss(log_softmax(input))`` for integer class targets, or
    ``-sum(target * log_softmax(input))`` for probability targets (a float ``target``
    shaped like ``input``). ``label_smoothing`` mixes the target with the uniform
    distribution, with PyTorch's weighting and 'mean' normalisation."""
    reduction = _reduction.resolve(size_average, reduce, reduction)
    _reduction.check(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if not target.dtype.is_floating_point:
        # One fused pass (log-softmax, pick, smoothing, weights, reduction) and a one-pass
        # gradient, on the CPU or a GPU (shaders/xent.wgsl); the composed form below is
        # the path for probability targets and the reference.
        return _core._cross_entropy(input, target, weight, ignore_index, label_smoothing, reduction)
    class_dim = _class_dim(input)
    num_classes = input.shape[class_dim]
    log_probs = log_softmax(input, dim=class_dim)
    w_view = None if weight is None else _weight_view(weight, input.ndim, class_dim)

    if target.dtype.is_floating_point:
        if tuple(target.shape) != tuple(input.shape):
            raise ValueError(f"Expected target size {list(input.shape)}, got {list(target.shape)}")
        if label_smoothing > 0.0:
            target = target * (1.0 - label_smoothing) + label_smoothing / num_classes
        terms = log_probs * target
        if w_view is not None:
            terms = terms * w_view
        loss = -terms.sum(class_dim)
        if reduction == "none":
            return loss
        if reduction == "sum":
            return loss.sum()
        return loss.sum() / (input.numel() // num_classes) if input.numel() else loss.sum() * float("nan")

    _check_class_target(input, target, class_dim)
    nll, w = _nll_terms(log_probs, target, weight, ignore_index, class_dim)
    if label_smoothing == 0.0:
        if reduction == "none":
            return nll
        return nll.sum() if reduction == "sum" else _weighted_mean(nll.sum(), w)
    # The smoothing term: -sum_c weight_c * log p_c per element, zero where ignored.
    smooth_terms = log_probs if w_view is None else log_probs * w_view
    valid = (target != ignore_index).astype(log_probs.dtype)
    smooth = -smooth_terms.sum(class_dim) * valid
    eps_c = label_smoothing / num_classes
    if reduction == "none":
        return nll * (1.0 - label_smoothing) + smooth * eps_c
    if reduction == "sum":
        return nll.sum() * (1.0 - label_smoothing) + smooth.sum() * eps_c
    total_w = w.sum()
    return (nll.sum() / total_w) * (1.0 - label_smoothing) + (smooth.sum() / total_w) * eps_c


def _check_same_size(input: Tensor, target: Tensor) -> None:
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"Using a target size ({list(target.shape)}) that is different to the input size "
                         f"({list(input.shape)}) is deprecated. Please ensure they have the same size.")


def _warn_broadcast(input: Tensor, target: Tensor) -> None:
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(f"Using a target size ({tuple(target.shape)}) that is different to the input size "
                      f"({tuple(input.shape)}). This will likely lead to incorrect results due to broadcasting. "
                      "Please ensure they have the same size.", stacklevel=3)


def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
             weight: Tensor | None = None) -> Tensor:
    """Squared error ``(input - target)^2`` (the two broadcast, with a warning, as in
    PyTorch); an elementwise ``weight`` makes 'mean' a weighted mean."""
    _warn_broadcast(input, target)
    reduction = _reduction.resolve(size_average, reduce, reduction)
    diff = input - target
    return _reduction.apply_weighted(diff * diff, weight, reduction)


def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
            weight: Tensor | None = None) -> Tensor:
    """Absolute error ``|input - target|``."""
    _warn_broadcast(input, target)
    reduction = _reduction.resolve(size_average, reduce, reduction)
    return _reduction.apply_weighted(abs(input - target), weight, reduction)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """``0.5 d^2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta`` (L1 for beta=0)."""
    reduction = _reduction.resolve(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    d = abs(input - target)
    if beta == 0.0:
        return _reduction.apply(d, reduction)
    loss = where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta)
    return _reduction.apply(loss, reduction)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """``0.5 d^2`` where ``|d| < delta``, else ``delta (|d| - 0.5 delta)``."""
    _warn_broadcast(input, target)
    d = abs(input - target)
    loss = where(d < delta, d * d * 0.5, (d - 0.5 * delta) * delta)
    return _reduction.apply_weighted(loss, weight, reduction, mean_over_weights=False)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                         reduce=None, reduction: str = "mean") -> Tensor:
    """``-(t log p + (1 - t) log(1 - p))`` for probabilities ``input``; each log is
    clamped at -100 as in PyTorch, so p = 0 or 1 gives a finite loss."""
    reduction = _reduction.resolve(size_average, reduce, reduction)
    _check_same_size(input, target)
    if input.numel() and (bool((input < 0).any().item()) or bool((input > 1).any().item())):
        raise RuntimeError("all elements of input should be between 0 and 1")
    log_p = clip(log(input), min=-100.0)
    log_1mp = clip(log1p(-input), min=-100.0)
    loss = -(target * log_p + (1.0 - target) * log_1mp)
    if weight is not None:
        loss = loss * weight
    return _reduction.apply(loss, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     size_average=None, reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """``binary_cross_entropy(sigmoid(x), t)`` in the stable form
    ``(1 - t) x + (1 + (pos_weight - 1) t) softplus(-x)``; ``pos_weight`` scales the
    positive term (broadcast along the last dim, one value per class)."""
    reduction = _reduction.resolve(size_average, reduce, reduction)
    _check_same_size(input, target)
    log_one_plus_exp = softplus(-input)
    if pos_weight is not None:
        log_weight = (pos_weight - 1.0) * target + 1.0
        loss = (1.0 - target) * input + log_weight * log_one_plus_exp
    else:
        loss = (1.0 - target) * input + log_one_plus_exp
    if weight is not None:
        loss = loss * weight
    return _reduction.apply(loss, reduction)


def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """``target * (log target - input)`` with ``input`` in log space (0 where target is 0);
    ``reduction='batchmean'`` divides the sum by the batch size (the KL divergence)."""
    if size_average is not None or reduce is not None:
        reduction = _reduction.legacy_get_string(size_average, reduce)
    _reduction.check(reduction, ("none", "mean", "sum", "batchmean"))
    if log_target:
        loss = _core._unary("exp", target) * (target - input)
    else:
        positive = target > 0
        safe = where(positive, target, 1.0)
        loss = where(positive, target * (log(safe) - input), 0.0 * input)
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.ndim else 1)
    return _reduction.apply(loss, reduction)
