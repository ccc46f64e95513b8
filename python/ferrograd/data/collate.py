"""PyTorch's ``default_collate``: a list of samples becomes one batch, container by
container (tensors, numpy arrays and numbers are stacked into ferrograd tensors)."""

from __future__ import annotations

import collections.abc
import numbers

import numpy as np

from .. import _core
from .._core import Tensor
from .._creation import tensor


def default_collate(batch: list):
    """Stacks ``batch`` along a new first axis. Tensors and numpy arrays are stacked;
    Python floats become float64 and ints int64 tensors (as in PyTorch); strings stay a
    list; dicts, tuples, lists and namedtuples are collated field by field (tuples and
    lists come back as lists, as PyTorch's do)."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _core.stack(list(batch))
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "OUSV":
            raise TypeError(f"default_collate: numpy arrays of dtype {elem.dtype} cannot be "
                            "batched")
        return tensor(np.stack(batch))
    if isinstance(elem, np.generic):
        return tensor(np.array(batch))
    if isinstance(elem, bool):
        return tensor(batch, dtype=_core.bool)
    if isinstance(elem, numbers.Integral):
        return tensor(batch, dtype=_core.int64)
    if isinstance(elem, numbers.Real):
        return tensor(batch, dtype=_core.float64)
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        return {key: default_collate([sample[key] for sample in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(list(field)) for field in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(sample) != len(elem) for sample in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return [default_collate(list(field)) for field in zip(*batch)]
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, "
                    f"dicts or lists; found {type(elem).__name__}")
