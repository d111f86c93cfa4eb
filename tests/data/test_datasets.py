"""Bundled/generated datasets and the seeded, stratified train/val/test split."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from deepdojo.data import (
    DataSplits,
    Split,
    datasets,
    load_breast_cancer,
    load_digits,
    load_mnist1d,
    sample_images,
    train_val_test_split,
)

MNIST1D_N = 200  # small: generation costs ~0.3 ms per sample


def _all_rows(splits: DataSplits) -> torch.Tensor:
    return torch.cat([splits.train.X, splits.val.X, splits.test.X])


def _check_partition(splits: DataSplits, X: torch.Tensor) -> None:
    """Every original row appears exactly once across the three splits."""
    rows = _all_rows(splits).reshape(len(X), -1).tolist()
    original = X.reshape(len(X), -1).tolist()
    assert sorted(map(tuple, rows)) == sorted(map(tuple, original))


def _toy(n: int = 200, classes: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    X = torch.arange(n * 3, dtype=torch.float32).reshape(n, 3)  # unique rows
    y = torch.arange(n) % classes
    return X, y


# ----------------------------------------------------------------------------- split


def test_split_sizes_partition_and_types():
    X, y = _toy(200, 4)
    s = train_val_test_split(X, y, val_fraction=0.2, test_fraction=0.1, seed=3, name="toy")
    assert (len(s.train.y), len(s.val.y), len(s.test.y)) == (140, 40, 20)
    assert isinstance(s.train, Split) and s.name == "toy"
    assert s.num_classes == 4 and s.input_shape == (3,)
    _check_partition(s, X)
    # X and y stay paired: in the toy data y == row index % 4 and row index == X[:, 0] / 3
    for part in (s.train, s.val, s.test):
        Xp, yp = part  # unpacks like a tuple
        assert torch.equal((Xp[:, 0] / 3).long() % 4, yp)


def test_split_is_stratified():
    X = torch.randn(400, 2)
    y = torch.cat([torch.zeros(300), torch.ones(100)]).long()  # 75% / 25%
    s = train_val_test_split(X, y, val_fraction=0.2, test_fraction=0.2, seed=0)
    for part in (s.train, s.val, s.test):
        assert part.y.float().mean().item() == pytest.approx(0.25, abs=0.01)


def test_split_deterministic_per_seed_and_differs_across_seeds():
    X, y = _toy(120, 3)
    a = train_val_test_split(X, y, seed=7)
    b = train_val_test_split(X, y, seed=7)
    c = train_val_test_split(X, y, seed=8)
    assert torch.equal(a.train.X, b.train.X) and torch.equal(a.test.y, b.test.y)
    assert not torch.equal(a.train.X, c.train.X)


def test_split_without_stratify_accepts_float_targets_and_numpy():
    X = np.random.default_rng(0).normal(size=(50, 2))
    y = np.linspace(0.0, 1.0, 50)
    s = train_val_test_split(X, y, stratify=False, seed=1)
    assert s.num_classes == 0 and s.train.y.dtype == torch.float64
    assert len(s.train.y) + len(s.val.y) + len(s.test.y) == 50
    paired = {tuple(r): v for r, v in zip(X.tolist(), y.tolist(), strict=True)}
    for Xp, yp in (s.train, s.val, s.test):
        for r, v in zip(Xp.tolist(), yp.tolist(), strict=True):
            assert paired[tuple(r)] == v


def test_split_bool_labels_become_int64_classes():
    X = torch.randn(60, 2)
    y = torch.arange(60) % 3 == 0  # 1/3 True
    s = train_val_test_split(X, y, seed=0)
    assert s.num_classes == 2 and s.train.y.dtype == torch.int64
    assert s.test.y.float().mean().item() == pytest.approx(1 / 3, abs=0.05)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"val_fraction": 0.0}, "val_fraction must be in \\(0, 1\\)"),
        ({"test_fraction": 1.0}, "test_fraction must be in \\(0, 1\\)"),
        ({"test_fraction": -0.1}, "test_fraction"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, "val_fraction \\+ test_fraction"),
    ],
)
def test_split_rejects_bad_fractions(kwargs, match):
    X, y = _toy(40, 2)
    with pytest.raises(ValueError, match=match):
        train_val_test_split(X, y, **kwargs)


def test_split_rejects_bad_inputs():
    X, y = _toy(40, 2)
    with pytest.raises(ValueError, match="same number of samples"):
        train_val_test_split(X[:-1], y)
    with pytest.raises(ValueError, match="y must be 1-D"):
        train_val_test_split(X, y[:, None])
    with pytest.raises(ValueError, match="stratify=True needs integer class labels"):
        train_val_test_split(X, y.float())
    with pytest.raises(TypeError, match="val_fraction must be a float"):
        train_val_test_split(X, y, val_fraction="0.2")
    with pytest.raises(ValueError, match="too few"):
        train_val_test_split(X[:2], y[:2])
    with pytest.raises(ValueError, match="num_classes=2 but y holds label 3"):
        train_val_test_split(X, torch.arange(40) % 4, num_classes=2)
    with pytest.raises(ValueError, match="class labels in y must be >= 0"):
        train_val_test_split(X, y - 1)
    with pytest.raises(TypeError, match="seed must be an int"):
        train_val_test_split(X, y, seed=1.5)
    with pytest.raises(ValueError, match="seed must be in"):
        train_val_test_split(X, y, seed=-1)
    with pytest.raises(ValueError, match="stratified split failed"):
        train_val_test_split(X[:12], torch.arange(12) % 6)  # 2 per class, 2-sample test split


# ----------------------------------------------------------------------------- bundled


def test_load_digits_shapes_range_and_flat():
    s = load_digits(seed=0)
    n = len(s.train.y) + len(s.val.y) + len(s.test.y)
    assert n == 1797 and s.num_classes == 10 and s.input_shape == (1, 8, 8)
    assert s.train.X.shape[1:] == (1, 8, 8) and s.train.X.dtype == torch.float32
    assert s.train.y.dtype == torch.int64 and set(s.train.y.tolist()) == set(range(10))
    X = _all_rows(s)
    assert X.min().item() == 0.0 and X.max().item() == 1.0
    flat = load_digits(flat=True, seed=0)
    assert flat.input_shape == (64,)
    assert torch.equal(flat.train.X, s.train.X.reshape(-1, 64))  # same split, same order


def test_load_breast_cancer_standardized_with_train_statistics():
    s = load_breast_cancer(seed=1)
    assert s.input_shape == (30,) and s.num_classes == 2
    assert len(s.train.y) + len(s.val.y) + len(s.test.y) == 569
    assert torch.allclose(s.train.X.mean(0), torch.zeros(30), atol=1e-4)
    assert torch.allclose(s.train.X.std(0), torch.ones(30), atol=1e-4)
    assert s.val.X.mean(0).abs().max() > 1e-3  # val is not re-standardized on its own stats
    raw = load_breast_cancer(seed=1, standardize=False)
    mean, std = raw.train.X.mean(0), raw.train.X.std(0)
    assert torch.allclose((raw.test.X - mean) / std, s.test.X, atol=1e-4)
    # sklearn's coding: 212 malignant (0), 357 benign (1)
    assert int(torch.cat([s.train.y, s.val.y, s.test.y]).sum()) == 357


def test_load_mnist1d_offline_deterministic_and_shapes():
    a = load_mnist1d(num_samples=MNIST1D_N, seed=0)
    b = load_mnist1d(num_samples=MNIST1D_N, seed=0)
    assert a.input_shape == (1, 40) and a.num_classes == 10 and a.name == "mnist1d"
    assert len(a.train.y) + len(a.val.y) + len(a.test.y) == MNIST1D_N
    assert a.train.X.dtype == torch.float32 and a.train.y.dtype == torch.int64
    assert torch.equal(a.train.X, b.train.X) and torch.equal(a.test.y, b.test.y)
    y_all = torch.cat([a.train.y, a.val.y, a.test.y])
    assert torch.equal(torch.bincount(y_all), torch.full((10,), MNIST1D_N // 10))
    X_all = _all_rows(a)
    assert abs(X_all.mean().item()) < 0.05 and abs(X_all.std().item() - 1.0) < 0.05


def test_load_mnist1d_independent_of_global_rng_and_seed_matters():
    random.seed(123)
    np.random.seed(123)
    torch.manual_seed(123)
    before = (random.random(), np.random.rand(), torch.rand(1).item())
    random.seed(123)
    np.random.seed(123)
    torch.manual_seed(123)
    datasets._mnist1d_arrays.cache_clear()  # make sure mnist1d really generates here
    s0 = load_mnist1d(num_samples=MNIST1D_N, seed=0, flat=True)
    after = (random.random(), np.random.rand(), torch.rand(1).item())
    assert before == after  # loading never disturbs the caller's random streams
    s1 = load_mnist1d(num_samples=MNIST1D_N, seed=1, flat=True)
    assert s0.input_shape == (40,)
    assert not torch.equal(_all_rows(s0), _all_rows(s1))


def test_load_mnist1d_returns_fresh_tensors():
    a = load_mnist1d(num_samples=MNIST1D_N, seed=2)
    a.train.X.zero_()
    b = load_mnist1d(num_samples=MNIST1D_N, seed=2)
    assert b.train.X.abs().sum() > 0  # the in-process cache was not modified


@pytest.mark.parametrize("n", [0, 95, 105])
def test_load_mnist1d_rejects_bad_num_samples(n):
    with pytest.raises(ValueError, match="num_samples"):
        load_mnist1d(num_samples=n)


def test_sample_images():
    images = sample_images()
    assert len(images) == 2
    for img in images:
        assert img.ndim == 3 and img.shape[0] == 3 and img.dtype == torch.float32
        assert img.min().item() >= 0.0 and img.max().item() <= 1.0
        assert img.std().item() > 0.05  # real photos, not blank


def test_head_keeps_first_training_rows_only():
    data = load_digits(flat=True, seed=0)
    small = data.head(10)
    assert torch.equal(small.train.X, data.train.X[:10])
    assert torch.equal(small.train.y, data.train.y[:10])
    assert small.val is data.val and small.test is data.test and small.name == data.name
    assert data.head(None) is data
    with pytest.raises(ValueError, match="n_train must be a positive int or None, got 0"):
        data.head(0)
