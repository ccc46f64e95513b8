"""Dropout: zero elements (or whole channels) with probability ``p`` and scale the rest
by ``1 / (1 - p)`` in training; the identity otherwise. Masks come from the global
generator (``ferrograd.manual_seed``)."""

from __future__ import annotations

from .._ops import Tensor, rand


def _check_p(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _masked(input: Tensor, p: float, mask_shape, inplace: bool) -> Tensor:
    if p == 1.0:
        scale = rand(mask_shape, dtype=input.dtype, device=input.device) * 0.0
    else:
        keep = rand(mask_shape, dtype=input.dtype, device=input.device) >= p
        scale = keep.astype(input.dtype) * (1.0 / (1.0 - p))
    if inplace:
        input.mul_(scale)
        return input
    return input * scale


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    _check_p(p)
    if not training or p == 0.0:
        return input
    return _masked(input, p, tuple(input.shape), inplace)


def _feature_dropout(name: str, input: Tensor, p: float, training: bool, inplace: bool, batched_ndim: int):
    """One mask value per (sample, channel): whole feature maps are dropped."""
    _check_p(p)
    if input.ndim not in (batched_ndim - 1, batched_ndim):
        raise RuntimeError(f"{name}: Expected {batched_ndim - 1}D or {batched_ndim}D input, but received a "
                           f"{input.ndim}D input")
    if not training or p == 0.0:
        return input
    # Unbatched inputs have the channel first; batched ones (N, C) first. dropout2d on a
    # 3-D input is channel-wise 1-D dropout over (N, C, L), as PyTorch does today.
    lead = 1 if input.ndim == batched_ndim - 1 and name != "dropout2d" else 2
    shape = tuple(input.shape[:lead]) + (1,) * (input.ndim - lead)
    return _masked(input, p, shape, inplace)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    return _feature_dropout("dropout1d", input, p, training, inplace, 3)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    return _feature_dropout("dropout2d", input, p, training, inplace, 4)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    return _feature_dropout("dropout3d", input, p, training, inplace, 5)
