"""Bundled and generated datasets, and seeded, stratified train/val/test splits.

Everything here works offline: scikit-learn ships digits, breast cancer and the sample photos;
MNIST-1D is generated from the ``mnist1d`` package's templates (its downloader is never called).

Every loader returns a :class:`DataSplits` whose three :class:`Split` s unpack as ``X, y``.
Features are ``float32`` and class labels ``int64``, batch-first.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import random
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch


class Split(NamedTuple):
    """One part of a dataset: features ``X`` of shape ``(N, *input_shape)`` and targets ``y``.

    It is a tuple, so ``X, y = split`` works and it is accepted anywhere ``(X, y)`` is.
    """

    X: torch.Tensor  # (N, *input_shape)
    y: torch.Tensor  # (N,) int64 class labels (or float targets for regression)


@dataclass
class DataSplits:
    """A dataset cut into train, validation and test splits.

    Attributes
    ----------
    train, val, test : Split
        Disjoint parts; together they hold every sample exactly once.
    num_classes : int
        Number of classes (``0`` when the targets are not class labels).
    input_shape : tuple of int
        Shape of one sample, e.g. ``(1, 8, 8)`` for digits images, ``(64,)`` when flat.
    name : str
        Short dataset name, used in labels and reports.
    """

    train: Split
    val: Split
    test: Split
    num_classes: int
    input_shape: tuple[int, ...]
    name: str

    def head(self, n_train: int | None) -> DataSplits:
        """The same splits with only the first ``n_train`` training rows (``None``: all).

        Labs use it to shrink data at smoke scale; validation and test stay whole.
        """
        if n_train is None:
            return self
        if not isinstance(n_train, int) or n_train < 1:
            raise ValueError(f"n_train must be a positive int or None, got {n_train!r}")
        X, y = self.train
        return dataclasses.replace(self, train=Split(X[:n_train], y[:n_train]))


def _check_fractions(val_fraction: float, test_fraction: float) -> None:
    for arg, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{arg} must be a float in (0, 1), got {type(value).__name__}")
        if not 0.0 < value < 1.0:
            raise ValueError(f"{arg} must be in (0, 1), got {value!r}")
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(
            f"val_fraction + test_fraction must be < 1 to leave training data, "
            f"got {val_fraction!r} + {test_fraction!r}"
        )


def _check_seed(seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= seed < 2**32 - 1:
        raise ValueError(f"seed must be in [0, 2**32 - 1), got {seed}")


def _check_targets(
    y: torch.Tensor, stratify: bool, num_classes: int | None
) -> tuple[torch.Tensor, int]:
    """Integer (or bool) targets become int64 class labels; float targets stay as they are."""
    is_label = not (y.is_floating_point() or y.is_complex())
    if stratify and not is_label:
        raise ValueError(f"stratify=True needs integer class labels in y, got dtype {y.dtype}")
    if not is_label:
        return y, 0 if num_classes is None else int(num_classes)
    y = y.long()
    low, high = (int(y.min()), int(y.max())) if len(y) else (0, -1)
    if low < 0:
        raise ValueError(f"class labels in y must be >= 0, got min {low}")
    if num_classes is None:
        num_classes = high + 1
    elif high >= num_classes:
        raise ValueError(f"num_classes={num_classes} but y holds label {high}")
    return y, int(num_classes)


def _as_tensor(a: Any, arg: str) -> torch.Tensor:
    if isinstance(a, torch.Tensor):
        return a
    try:
        return torch.as_tensor(np.asarray(a))
    except (TypeError, ValueError) as err:
        raise TypeError(f"{arg} must be a tensor or array-like, got {type(a).__name__}") from err


def _split_counts(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int]:
    n_test = max(1, round(n * test_fraction))
    n_val = max(1, round(n * val_fraction))
    if n - n_test - n_val < 1:
        raise ValueError(
            f"X has {n} samples: too few for val_fraction={val_fraction} and "
            f"test_fraction={test_fraction} to leave any training samples"
        )
    return n_val, n_test


def _split_indices(
    labels: np.ndarray | None, n: int, n_val: int, n_test: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of train, val and test: test is cut first, then val from the rest.

    ``labels`` (shape ``(n,)``) stratifies both cuts; ``None`` gives a plain seeded shuffle.
    """
    from sklearn.model_selection import train_test_split

    idx = np.arange(n)
    try:
        rest, test = train_test_split(idx, test_size=n_test, random_state=seed, stratify=labels)
        strat_rest = labels[rest] if labels is not None else None
        train, val = train_test_split(
            rest, test_size=n_val, random_state=seed + 1, stratify=strat_rest
        )
    except ValueError as err:  # sklearn: too few samples of a class for stratification
        raise ValueError(f"stratified split failed (try stratify=False): {err}") from err
    return train, val, test


def train_val_test_split(
    X: Any,
    y: Any,
    *,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 0,
    stratify: bool = True,
    num_classes: int | None = None,
    name: str = "custom",
) -> DataSplits:
    """Cut ``(X, y)`` into seeded train/val/test splits, stratified by class by default.

    The test split (``round(N * test_fraction)`` samples) is cut first, then the validation
    split (``round(N * val_fraction)``) from the rest; training gets what is left. With
    ``stratify=True`` each split keeps the class proportions of ``y``. Same seed, same split.

    Parameters
    ----------
    X : tensor or array-like, shape (N, ...)
        Features; numpy arrays become tensors (dtype kept).
    y : tensor or array-like, shape (N,)
        Targets: integer (or bool) class labels, returned as int64 (needed for
        ``stratify=True``), or float values, kept as they are.
    val_fraction, test_fraction : float
        Fractions of ``N`` in ``(0, 1)`` with ``val_fraction + test_fraction < 1``.
    seed : int
        Seed of the shuffle.
    stratify : bool
        Keep class proportions in every split.
    num_classes : int, optional
        Defaults to ``max(y) + 1`` for integer labels, ``0`` otherwise.
    name : str
        Name stored in the result.

    Returns
    -------
    DataSplits
        ``train``, ``val``, ``test`` as :class:`Split` s; ``input_shape == X.shape[1:]``.

    Examples
    --------
    >>> X, y = torch.randn(100, 5), torch.arange(100) % 2
    >>> splits = train_val_test_split(X, y, val_fraction=0.2, test_fraction=0.1, seed=0)
    >>> [len(part.y) for part in (splits.train, splits.val, splits.test)]
    [70, 20, 10]
    >>> X_train, y_train = splits.train
    """
    _check_fractions(val_fraction, test_fraction)
    _check_seed(seed)
    X_t, y_t = _as_tensor(X, "X"), _as_tensor(y, "y")
    if y_t.ndim != 1:
        raise ValueError(f"y must be 1-D with shape (N,), got shape {tuple(y_t.shape)}")
    if X_t.ndim < 1 or X_t.shape[0] != y_t.shape[0]:
        raise ValueError(
            f"X and y must have the same number of samples, got X {tuple(X_t.shape)} "
            f"and y {tuple(y_t.shape)}"
        )
    y_t, num_classes = _check_targets(y_t, stratify, num_classes)
    n_val, n_test = _split_counts(len(y_t), val_fraction, test_fraction)
    labels = y_t.cpu().numpy() if stratify else None
    train, val, test = _split_indices(labels, len(y_t), n_val, n_test, seed)

    def take(ix: np.ndarray) -> Split:
        ix_t = torch.as_tensor(ix, dtype=torch.long)
        return Split(X_t[ix_t].contiguous(), y_t[ix_t].contiguous())

    return DataSplits(take(train), take(val), take(test), num_classes, tuple(X_t.shape[1:]), name)


def load_digits(
    *,
    flat: bool = False,
    seed: int = 0,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
) -> DataSplits:
    """scikit-learn's 1,797 handwritten digits (8x8 grey images, 10 classes), split.

    Pixels (0..16) are scaled to ``x / 16`` in ``[0, 1]``.

    Returns
    -------
    DataSplits
        ``X`` float32 of shape ``(N, 1, 8, 8)``, or ``(N, 64)`` with ``flat=True``;
        ``y`` int64 of shape ``(N,)`` in ``0..9``.
    """
    from sklearn import datasets

    bunch = datasets.load_digits()
    X = torch.as_tensor(bunch.data, dtype=torch.float32) / 16.0  # (N, 64)
    if not flat:
        X = X.reshape(-1, 1, 8, 8)  # (N, 1, 8, 8)
    y = torch.as_tensor(bunch.target, dtype=torch.long)  # (N,)
    return train_val_test_split(
        X, y, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed,
        num_classes=10, name="digits",
    )  # fmt: skip


def load_breast_cancer(
    *,
    seed: int = 0,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    standardize: bool = True,
) -> DataSplits:
    """scikit-learn's Wisconsin breast cancer set: 569 samples, 30 features, 2 classes.

    With ``standardize=True`` each feature becomes ``(x - mean) / std`` using the mean and
    std of the *training* split only (no leakage from val/test).

    Returns
    -------
    DataSplits
        ``X`` float32 of shape ``(N, 30)``; ``y`` int64 of shape ``(N,)``,
        ``0`` malignant and ``1`` benign (scikit-learn's coding).
    """
    from sklearn import datasets

    bunch = datasets.load_breast_cancer()
    X = torch.as_tensor(bunch.data, dtype=torch.float32)  # (N, 30)
    y = torch.as_tensor(bunch.target, dtype=torch.long)  # (N,)
    splits = train_val_test_split(
        X, y, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed,
        num_classes=2, name="breast_cancer",
    )  # fmt: skip
    if standardize:
        mean = splits.train.X.mean(dim=0)  # (30,)
        std = splits.train.X.std(dim=0).clamp_min(1e-12)  # (30,)
        for part in ("train", "val", "test"):
            X_part, y_part = getattr(splits, part)
            setattr(splits, part, Split((X_part - mean) / std, y_part))
    return splits


@functools.lru_cache(maxsize=8)
def _mnist1d_arrays(num_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Generate MNIST-1D offline; cached per ``(num_samples, seed)``, read-only arrays."""
    from mnist1d.data import get_dataset_args, get_templates, make_dataset

    args = get_dataset_args()
    args.num_samples = num_samples
    args.seed = seed
    # make_dataset reseeds Python's and NumPy's global RNGs: restore them so that
    # loading data never changes the random stream of the caller.
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            data = make_dataset(args, get_templates())
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
    X = np.concatenate([data["x"], data["x_test"]]).astype(np.float32)  # (N, 40)
    y = np.concatenate([data["y"], data["y_test"]]).astype(np.int64)  # (N,)
    X.flags.writeable = False
    y.flags.writeable = False
    return X, y


def load_mnist1d(
    *,
    num_samples: int = 4000,
    flat: bool = False,
    seed: int = 0,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
) -> DataSplits:
    """MNIST-1D (Greydanus, 2020): 1-D signals of length 40 drawn from 10 digit templates.

    Generated offline with ``mnist1d.data.make_dataset`` (default arguments, ``num_samples``
    and ``seed`` overridden); the package standardizes the whole set to mean 0, std 1.
    ``num_samples / 10`` samples per class, so ``num_samples`` must be a multiple of 10.
    ``seed`` seeds both generation and the split. Arrays are cached in-process.

    Returns
    -------
    DataSplits
        ``X`` float32 of shape ``(N, 1, 40)``, or ``(N, 40)`` with ``flat=True``;
        ``y`` int64 of shape ``(N,)`` in ``0..9``.
    """
    if isinstance(num_samples, bool) or not isinstance(num_samples, int):
        raise TypeError(f"num_samples must be an int, got {type(num_samples).__name__}")
    if num_samples < 100 or num_samples % 10:
        raise ValueError(f"num_samples must be a multiple of 10 and >= 100, got {num_samples}")
    _check_fractions(val_fraction, test_fraction)
    _check_seed(seed)
    X_np, y_np = _mnist1d_arrays(num_samples, seed)
    X = torch.tensor(X_np)  # (N, 40), a copy: the cache stays untouched
    if not flat:
        X = X.unsqueeze(1)  # (N, 1, 40)
    y = torch.tensor(y_np)  # (N,)
    return train_val_test_split(
        X, y, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed,
        num_classes=10, name="mnist1d",
    )  # fmt: skip


def sample_images() -> list[torch.Tensor]:
    """scikit-learn's two bundled sample photos (``china.jpg``, ``flower.jpg``).

    Returns
    -------
    list of torch.Tensor
        Each float32 of shape ``(3, H, W)`` with values in ``[0, 1]`` (here ``H, W = 427, 640``).
    """
    from sklearn import datasets

    images = datasets.load_sample_images().images  # list of (H, W, 3) uint8
    return [torch.from_numpy(np.array(img)).permute(2, 0, 1).float().div(255.0) for img in images]
