"""ferrograd.data: datasets, DataLoader (shuffling, collation, the TensorDataset fast
path), random_split and the embedded digits."""

from __future__ import annotations

import collections
import gzip
from importlib import resources

import numpy as np
import pytest

import ferrograd as fg
from ferrograd.data import (
    DataLoader,
    Dataset,
    Subset,
    TensorDataset,
    default_collate,
    load_digits,
    random_split,
)


def column_dataset(n=10):
    x = fg.tensor(np.arange(n * 3, dtype=np.float32).reshape(n, 3))
    y = fg.tensor(np.arange(n) * 10, dtype=fg.int64)
    return TensorDataset(x, y)


def first_column(loader) -> list[list[int]]:
    """The sample indices of each batch (column 0 of x is 3 * index)."""
    return [(np.asarray(x)[:, 0] / 3).astype(int).tolist() for x, _ in loader]


def test_tensor_dataset_items_and_errors():
    ds = column_dataset()
    assert len(ds) == 10
    x, y = ds[4]
    assert x.tolist() == [12.0, 13.0, 14.0] and y.item() == 40
    with pytest.raises(ValueError, match="Size mismatch"):
        TensorDataset(fg.zeros(3, 2), fg.zeros(4))


@pytest.mark.parametrize(("batch_size", "drop_last", "sizes"),
                         [(4, False, [4, 4, 2]), (4, True, [4, 4]), (5, False, [5, 5]),
                          (20, False, [10]), (20, True, [])])
def test_batches_in_order(batch_size, drop_last, sizes):
    loader = DataLoader(column_dataset(), batch_size=batch_size, drop_last=drop_last)
    assert len(loader) == len(sizes)
    batches = list(loader)
    assert [len(y) for _, y in batches] == sizes
    flat = [i for batch in first_column(loader) for i in batch]
    assert flat == list(range(sum(sizes)))
    for x, y in batches:
        assert isinstance(x, fg.Tensor) and x.dtype == fg.float32 and x.shape[1:] == (3,)
        assert y.dtype == fg.int64
        np.testing.assert_array_equal(np.asarray(y), np.asarray(x)[:, 0] / 3 * 10)


def test_shuffle_is_a_seeded_permutation_per_epoch():
    ds = column_dataset(50)
    loader = DataLoader(ds, batch_size=8, shuffle=True, generator=123)
    epoch1, epoch2 = first_column(loader), first_column(loader)
    for epoch in (epoch1, epoch2):
        assert sorted(i for b in epoch for i in b) == list(range(50))
    assert epoch1 != epoch2  # a new order every epoch
    assert epoch1 != [list(range(i, min(i + 8, 50))) for i in range(0, 50, 8)]
    again = DataLoader(ds, batch_size=8, shuffle=True, generator=123)
    assert first_column(again) == epoch1 and first_column(again) == epoch2
    other = DataLoader(ds, batch_size=8, shuffle=True, generator=124)
    assert first_column(other) != epoch1


def test_shuffle_with_generator_object_and_global_seed():
    ds = column_dataset(30)
    g = fg.Generator()
    g.manual_seed(5)
    a = first_column(DataLoader(ds, batch_size=7, shuffle=True, generator=g))
    g.manual_seed(5)
    assert first_column(DataLoader(ds, batch_size=7, shuffle=True, generator=g)) == a
    fg.manual_seed(1)
    b = first_column(DataLoader(ds, batch_size=7, shuffle=True))
    fg.manual_seed(1)
    assert first_column(DataLoader(ds, batch_size=7, shuffle=True)) == b
    with pytest.raises(TypeError, match="generator"):
        DataLoader(ds, shuffle=True, generator="seed")


def test_fast_path_equals_per_sample_collation():
    ds = column_dataset(23)
    fast = list(DataLoader(ds, batch_size=5, shuffle=True, generator=9))
    slow = list(DataLoader(ds, batch_size=5, shuffle=True, generator=9,
                           collate_fn=default_collate))
    assert len(fast) == len(slow) == 5
    for f, s in zip(fast, slow):
        assert isinstance(f, list) and isinstance(s, list)
        for a, b in zip(f, s):
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_random_split_and_subset_fast_path():
    ds = column_dataset(20)
    train, test = random_split(ds, [15, 5], generator=0)
    assert isinstance(train, Subset) and (len(train), len(test)) == (15, 5)
    assert sorted(train.indices + test.indices) == list(range(20))
    assert train.indices != sorted(train.indices)  # really shuffled
    again, _ = random_split(ds, [15, 5], generator=0)
    assert again.indices == train.indices
    x, y = train[3]
    assert x[0].item() == 3 * train.indices[3] and y.item() == 10 * train.indices[3]
    fast = list(DataLoader(train, batch_size=4))
    slow = list(DataLoader(train, batch_size=4, collate_fn=default_collate))
    for f, s in zip(fast, slow):
        np.testing.assert_array_equal(np.asarray(f[0]), np.asarray(s[0]))
        np.testing.assert_array_equal(np.asarray(f[1]), np.asarray(s[1]))
    # Fractions: floors, then the remainder one by one to the first subsets (PyTorch's rule).
    parts = random_split(column_dataset(10), [0.45, 0.45, 0.1], generator=1)
    assert [len(p) for p in parts] == [5, 4, 1]
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(ds, [10, 5])


Point = collections.namedtuple("Point", "x y")


def test_default_collate_containers_and_numbers():
    batch = [
        {"image": np.full((2, 2), i, dtype=np.uint8), "label": i, "weight": 0.5 * i,
         "flag": i % 2 == 0, "name": f"s{i}", "pair": (fg.tensor([i, -i]), np.float32(i)),
         "point": Point(i, 2.0 * i)}
        for i in range(3)
    ]
    out = default_collate(batch)
    assert out["image"].dtype == fg.uint8 and out["image"].shape == (3, 2, 2)
    assert out["image"][2].tolist() == [[2, 2], [2, 2]]
    assert out["label"].dtype == fg.int64 and out["label"].tolist() == [0, 1, 2]
    assert out["weight"].dtype == fg.float64 and out["weight"].tolist() == [0.0, 0.5, 1.0]
    assert out["flag"].dtype == fg.bool and out["flag"].tolist() == [True, False, True]
    assert out["name"] == ["s0", "s1", "s2"]
    pair = out["pair"]
    assert isinstance(pair, list) and pair[0].shape == (3, 2)
    assert pair[0].tolist() == [[0, 0], [1, -1], [2, -2]]
    assert pair[1].dtype == fg.float32 and pair[1].tolist() == [0.0, 1.0, 2.0]
    assert isinstance(out["point"], Point) and out["point"].y.tolist() == [0.0, 2.0, 4.0]
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="default_collate"):
        default_collate([object(), object()])


def test_default_collate_matches_torch():
    pytest.importorskip("torch")
    from torch.utils.data import default_collate as torch_collate

    batch = [(np.arange(3, dtype=np.float32) * i, i, 0.25 * i) for i in range(4)]
    ours, theirs = default_collate(batch), torch_collate(batch)
    assert isinstance(theirs, list) and isinstance(ours, list)
    for a, b in zip(ours, theirs):
        assert a.dtype.name == str(b.dtype).removeprefix("torch.")
        np.testing.assert_array_equal(np.asarray(a), b.numpy())


class SquaresDataset(Dataset):
    def __len__(self):
        return 7

    def __getitem__(self, i):
        return {"x": fg.tensor([float(i)]), "y": i * i}


def test_custom_dataset_and_unbatched_loading():
    loader = DataLoader(SquaresDataset(), batch_size=3)
    batches = list(loader)
    assert len(loader) == 3 and [b["y"].tolist() for b in batches] == [[0, 1, 4], [9, 16, 25],
                                                                          [36]]
    assert batches[0]["x"].shape == (3, 1)
    single = list(DataLoader(SquaresDataset(), batch_size=None))
    assert len(single) == 7 and single[3]["y"] == 9
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(SquaresDataset(), batch_size=0)
    with pytest.raises(NotImplementedError):
        len(Dataset())


# ---- the digits


def test_digits_split_shapes_and_values():
    train, test = load_digits("train"), load_digits("test")
    assert train.images.shape == (1437, 1, 8, 8) and test.images.shape == (360, 1, 8, 8)
    assert train.images.dtype == fg.float32 and train.labels.dtype == fg.int64
    for part in (train, test):
        pixels = np.asarray(part.images)
        assert pixels.min() == 0.0 and pixels.max() == 1.0
        np.testing.assert_array_equal(pixels * 16, np.round(pixels * 16))  # counts 0..16
        assert sorted(set(np.asarray(part.labels).tolist())) == list(range(10))
    # Stratified: every digit is ~20% test.
    all_counts = np.bincount(np.asarray(load_digits(None).labels), minlength=10)
    test_counts = np.bincount(np.asarray(test.labels), minlength=10)
    assert np.all(np.abs(test_counts - all_counts * 360 / 1797) < 1)
    flat = load_digits("test", flatten=True)
    assert flat.images.shape == (360, 64)
    np.testing.assert_array_equal(np.asarray(flat.images), pixels.reshape(360, 64))
    with pytest.raises(ValueError, match="split"):
        load_digits("validation")


def test_digits_are_the_uci_file_and_the_split_is_a_partition():
    with resources.files("ferrograd.data").joinpath("digits.csv.gz").open("rb") as raw:
        table = np.loadtxt(gzip.open(raw, "rt"), delimiter=",")
    everything = load_digits(None)
    assert everything.images.shape == (1797, 1, 8, 8)
    np.testing.assert_array_equal(np.asarray(everything.images).reshape(-1, 64) * 16,
                                  table[:, :64])
    np.testing.assert_array_equal(np.asarray(everything.labels), table[:, 64])
    # The first digit of the UCI file is a 0 whose top row is 0 0 5 13 9 1 0 0.
    assert everything.labels[0].item() == 0
    assert (np.asarray(everything.images[0, 0, 0]) * 16).tolist() == [0, 0, 5, 13, 9, 1, 0, 0]

    def rows(part):
        return sorted(map(tuple, np.column_stack([np.asarray(part.images).reshape(-1, 64),
                                                  np.asarray(part.labels)]).tolist()))

    assert sorted(rows(load_digits("train")) + rows(load_digits("test"))) == rows(everything)


def test_digits_split_is_pinned():
    """The split is part of the API (the demo's accuracies refer to it): it never changes."""
    test = load_digits("test")
    assert np.asarray(test.labels).sum() == PINNED_TEST_LABEL_SUM
    assert np.asarray(test.labels[:12]).tolist() == PINNED_FIRST_TEST_LABELS
    assert float(np.asarray(test.images).sum()) == PINNED_TEST_PIXEL_SUM


def test_digits_calls_return_fresh_tensors():
    a = load_digits("test")
    a.images[0] = 5.0
    assert load_digits("test").images.max().item() == 1.0


PINNED_TEST_LABEL_SUM = 1614
PINNED_FIRST_TEST_LABELS = [4, 6, 2, 3, 8, 3, 7, 9, 8, 9, 5, 8]
PINNED_TEST_PIXEL_SUM = 7071.5
