"""Training utilities: gradient clipping and flat parameter vectors
(``torch.nn.utils``'s names)."""

from __future__ import annotations

import math

from .. import _core
from .._core import Tensor
from ..autograd import no_grad
from ..linalg import vector_norm
from ._ops import cat

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector", "vector_to_parameters"]


def _as_list(parameters) -> list:
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


@no_grad()
def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach=None) -> Tensor:
    """Scales all gradients together so that their joint ``norm_type``-norm is at most
    ``max_norm`` (coefficient ``max_norm / (norm + 1e-6)``, capped at 1). Returns the
    norm before clipping, as a 0-d tensor."""
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    max_norm, norm_type = float(max_norm), float(norm_type)
    if not grads:
        return _core._full((), 0.0, dtype=None)
    per_grad = [vector_norm(g, ord=norm_type) for g in grads]
    total = vector_norm(cat([n.reshape(1).to(grads[0].dtype) for n in per_grad]), ord=norm_type)
    total_value = float(total.item())
    if error_if_nonfinite and not math.isfinite(total_value):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is "
                           "non-finite, so it cannot be clipped. To disable this error and scale the gradients "
                           "by the non-finite norm anyway, set `error_if_nonfinite=False`")
    coef = min(max_norm / (total_value + 1e-6), 1.0)
    for g in grads:
        g.mul_(coef)
    return total


@no_grad()
def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamps every gradient element into ``[-clip_value, clip_value]`` in place."""
    clip_value = float(clip_value)
    for p in _as_list(parameters):
        if p.grad is not None:
            p.grad.clamp_(-clip_value, clip_value)


def parameters_to_vector(parameters) -> Tensor:
    """All parameters flattened and concatenated into one 1-D tensor."""
    return cat([p.reshape(-1) for p in _as_list(parameters)])


@no_grad()
def vector_to_parameters(vec: Tensor, parameters) -> None:
    """Copies consecutive slices of ``vec`` into the parameters (the inverse of
    :func:`parameters_to_vector`)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected Tensor, but got: {type(vec).__name__}")
    offset = 0
    for p in _as_list(parameters):
        n = p.numel()
        p.detach().copy_(vec[offset:offset + n].reshape(p.shape))
        offset += n
