"""``DataLoader``: batches of a dataset, optionally shuffled by a seeded generator."""

from __future__ import annotations

from .. import _core
from .._core import Tensor
from .._creation import arange, tensor
from ._random import as_generator, randperm
from .collate import default_collate
from .dataset import Subset, TensorDataset


class DataLoader:
    """PyTorch's ``DataLoader`` for map-style datasets, loading in the calling process.

    ``shuffle`` draws a new order every epoch from ``generator`` (a
    ``ferrograd.Generator``, an int seed, or ``None`` for the global generator that
    ``ferrograd.manual_seed`` seeds), so a seeded run repeats exactly. ``collate_fn``
    turns a list of samples into a batch (``default_collate`` by default).
    ``batch_size=None`` yields single samples unbatched. ``num_workers`` and
    ``pin_memory`` are accepted for source compatibility and ignored.

    A ``TensorDataset`` (or a ``Subset`` of one) with the default collation is batched
    by indexing each of its tensors with the batch's index tensor: one gather per
    tensor instead of one indexing per sample and a stack.
    """

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool = False,
                 *, collate_fn=None, drop_last: bool = False, generator=None,
                 num_workers: int = 0, pin_memory: bool = False) -> None:
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size <= 0):
            raise ValueError(f"batch_size should be a positive integer or None, got {batch_size}")
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        self.generator = as_generator(generator)
        self.num_workers = num_workers
        self.pin_memory = pin_memory

    def __len__(self) -> int:
        n = len(self.dataset)
        if self.batch_size is None:
            return n
        if self.drop_last:
            return n // self.batch_size
        return -(-n // self.batch_size)

    def _order(self) -> Tensor:
        n = len(self.dataset)
        if self.shuffle:
            return randperm(n, self.generator)
        return arange(n, dtype=_core.int64)

    def __iter__(self):
        order = self._order()
        if self.batch_size is None:
            for i in order.tolist():
                sample = self.dataset[i]
                yield sample if self.collate_fn is None else self.collate_fn(sample)
            return
        columns = _tensor_columns(self.dataset) if self.collate_fn is None else None
        collate = self.collate_fn or default_collate
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            index = order[start:start + self.batch_size]
            if columns is not None:
                tensors, base = columns
                rows = index if base is None else base[index]
                yield [t[rows] for t in tensors]
            else:
                yield collate([self.dataset[i] for i in index.tolist()])


def _tensor_columns(dataset):
    """``(tensors, base_index)`` when ``dataset`` is a TensorDataset, possibly inside
    Subsets (``base_index`` maps the dataset's positions to rows; None: identity), else
    None. Subclasses that override ``__getitem__`` take the general path."""
    if type(dataset).__getitem__ is TensorDataset.__getitem__:
        return dataset.tensors, None
    if type(dataset) is Subset:
        inner = _tensor_columns(dataset.dataset)
        if inner is not None:
            tensors, base = inner
            index = tensor(dataset.indices, dtype=_core.int64)
            return tensors, index if base is None else base[index]
    return None
