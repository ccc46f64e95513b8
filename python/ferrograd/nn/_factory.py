"""Shared helpers for layer constructors: new parameter storage and tuple arguments."""

from __future__ import annotations

import collections.abc
from itertools import repeat

from .. import _core
from . import init
from .parameter import Parameter


def empty_parameter(*shape: int, device=None, dtype=None) -> Parameter:
    """Storage for a parameter that ``reset_parameters`` fills (PyTorch's
    ``torch.empty`` + init pattern; ferrograd's fresh pages are zeroed anyway)."""
    return Parameter(_core._full(tuple(shape), 0.0, dtype=dtype, device=device))


def ntuple(n: int):
    """``ntuple(2)(3) == (3, 3)``; iterables pass through as tuples (PyTorch's ``_pair``)."""
    def parse(x):
        if isinstance(x, collections.abc.Iterable) and not isinstance(x, str):
            return tuple(x)
        return tuple(repeat(x, n))

    parse.__name__ = f"_{n}tuple"
    return parse


single, pair, triple = ntuple(1), ntuple(2), ntuple(3)


def register_affine(module, enabled: bool, bias: bool, shape, device=None, dtype=None) -> None:
    """A norm layer's ``weight`` (and ``bias``) parameters of ``shape``, or ``None``
    entries when the affine part is off (so ``module.weight`` always exists)."""
    if enabled:
        module.weight = empty_parameter(*shape, device=device, dtype=dtype)
        if bias:
            module.bias = empty_parameter(*shape, device=device, dtype=dtype)
        else:
            module.register_parameter("bias", None)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


def reset_affine(module) -> None:
    """A norm layer's default affine: weight ones, bias zeros."""
    if module.weight is not None:
        init.ones_(module.weight)
    if getattr(module, "bias", None) is not None:
        init.zeros_(module.bias)
