"""Norm-based helpers: ``normalize``, ``cosine_similarity``, ``pairwise_distance``."""

from __future__ import annotations

from ...linalg import vector_norm
from .._ops import Tensor, clip


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """``x / max(||x||_p, eps)`` along ``dim``."""
    norm = vector_norm(input, axis=dim, keepdims=True, ord=p)
    return input / clip(norm, min=eps)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Cosine of the angle between ``x1`` and ``x2`` along ``dim`` (each norm clamped at
    ``eps``; the inputs broadcast)."""
    n1 = clip(vector_norm(x1, axis=dim, keepdims=True), min=eps)
    n2 = clip(vector_norm(x2, axis=dim, keepdims=True), min=eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """``||x1 - x2 + eps||_p`` over the last dim."""
    return vector_norm(x1 - x2 + eps, axis=-1, keepdims=keepdim, ord=p)
