"""Tensor methods written in Python (composed from the Rust ones)."""

from __future__ import annotations

from . import _manip
from ._core import Tensor


def _split(self, split_size_or_sections, dim=0):
    """PyTorch's ``Tensor.split``: chunk sizes, not numpy's section count."""
    return _manip.split_sizes(self, split_size_or_sections, dim)


def _chunk(self, chunks, dim=0):
    return _manip.chunk(self, chunks, dim)


def _unbind(self, dim=0):
    return _manip.unbind(self, dim)


def _moveaxis(self, source, destination):
    return _manip.moveaxis(self, source, destination)


def _tile(self, *reps):
    from ._core import tile

    return tile(self, reps[0] if len(reps) == 1 and not isinstance(reps[0], int) else reps)


def _size_of(self, dim=None):
    """PyTorch's ``size()``/``size(dim)``; the ``size`` attribute itself is numpy's count."""
    return self.shape if dim is None else self.shape[dim]


for _name, _fn in {
    "split": _split,
    "chunk": _chunk,
    "unbind": _unbind,
    "moveaxis": _moveaxis,
    "movedim": _moveaxis,
    "tile": _tile,
    "shape_at": _size_of,
}.items():
    setattr(Tensor, _name, _fn)

# numpy scalars defer to us in `np.float64(2) * t` (so the result is a Tensor, as in
# PyTorch) instead of converting the tensor to an array.
Tensor.__array_priority__ = 1000
