"""The 8x8 handwritten digits shipped inside the package.

``digits.csv.gz`` is scikit-learn's copy (``sklearn/datasets/data/digits.csv.gz``) of the
test set of the UCI "Optical Recognition of Handwritten Digits" data (E. Alpaydin and
C. Kaynak, 1998; CC BY 4.0): 1,797 rows of 64 pixel counts in 0..16 and the label.
"""

from __future__ import annotations

import functools
import gzip
from importlib import resources
from typing import NamedTuple

import numpy as np

from .. import _core
from .._core import Tensor
from .._creation import tensor
from ._random import randperm

N_SAMPLES = 1797
N_TEST = 360  # 20%: 1,437 training and 360 test images
SPLIT_SEED = 20240607  # fixed forever: every install sees the same split


class Digits(NamedTuple):
    images: Tensor  # float32 (N, 1, 8, 8) in [0, 1], or (N, 64) with flatten=True
    labels: Tensor  # int64 (N,) in 0..9


@functools.lru_cache(maxsize=1)
def _raw() -> tuple[np.ndarray, np.ndarray]:
    with resources.files(__package__).joinpath("digits.csv.gz").open("rb") as raw:
        with gzip.open(raw, "rt") as text:
            table = np.loadtxt(text, delimiter=",", dtype=np.uint8)
    if table.shape != (N_SAMPLES, 65):
        raise RuntimeError(f"digits.csv.gz is damaged: table of shape {table.shape}")
    table.setflags(write=False)
    return table[:, :64], table[:, 64]


@functools.lru_cache(maxsize=1)
def _test_mask() -> np.ndarray:
    """A stratified split: each digit gives its share of the 360 test images (largest
    remainder rounding), chosen by a Philox permutation so it is the same everywhere."""
    _, labels = _raw()
    counts = np.bincount(labels, minlength=10)
    share = counts * N_TEST / N_SAMPLES
    per_class = np.floor(share).astype(np.int64)
    remainder_order = np.argsort(-(share - per_class), kind="stable")
    per_class[remainder_order[:N_TEST - per_class.sum()]] += 1
    order = randperm(N_SAMPLES, SPLIT_SEED).numpy()
    mask = np.zeros(N_SAMPLES, dtype=bool)
    for digit in range(10):
        members = order[labels[order] == digit]
        mask[members[:per_class[digit]]] = True
    return mask


def load_digits(split: str | None = "train", *, flatten: bool = False) -> Digits:
    """The UCI handwritten digits as ``Digits(images, labels)`` ferrograd tensors.

    ``split``: ``"train"`` (1,437 images), ``"test"`` (360), or ``None`` (all 1,797 in
    file order). The split is fixed and stratified (every digit is ~20% test).
    ``images`` are float32 of shape (N, 1, 8, 8) scaled from 0..16 to [0, 1] (or (N, 64)
    with ``flatten=True``); ``labels`` are int64 digits. Each call returns new tensors.
    """
    pixels, labels = _raw()
    if split is not None:
        if split not in ("train", "test"):
            raise ValueError(f"load_digits: split must be 'train', 'test' or None, got {split!r}")
        keep = _test_mask() if split == "test" else ~_test_mask()
        pixels, labels = pixels[keep], labels[keep]
    images = pixels.astype(np.float32) / np.float32(16)
    images = images if flatten else images.reshape(-1, 1, 8, 8)
    return Digits(tensor(images), tensor(labels.astype(np.int64), dtype=_core.int64))
