"""Datasets and loaders with PyTorch's names (``torch.utils.data``), and the digits."""

from __future__ import annotations

from .collate import default_collate
from .dataloader import DataLoader
from .dataset import Dataset, Subset, TensorDataset, random_split
from .digits import Digits, load_digits

__all__ = ["DataLoader", "Dataset", "Digits", "Subset", "TensorDataset", "default_collate",
           "load_digits", "random_split"]
