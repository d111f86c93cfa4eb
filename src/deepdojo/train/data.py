"""How the Trainer walks over data: in-memory ``(X, y)`` by index, or any DataLoader.

In-memory data is shuffled by index with a seeded ``torch.Generator`` and sliced per batch: no
``DataLoader``, no collate, no worker processes. The permutation of epoch ``e`` depends only on
``(seed, e)``, so a resumed run sees exactly the same order and can jump to batch ``k``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

Batch = tuple[torch.Tensor, torch.Tensor]


def as_tensor(value: Any, name: str) -> torch.Tensor:
    """A tensor from a tensor or a NumPy array (no copy when possible)."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    raise TypeError(f"{name} must be a torch.Tensor or numpy array, got {type(value).__name__}")


class InMemoryData:
    """``(X, y)`` held as two tensors of equal length ``N``, batched by index; or ``X`` alone
    (``y=None``: batches are the tensors ``X_b``, for tasks without targets).

    Parameters
    ----------
    X : Tensor or ndarray, shape ``(N, ...)``
    y : Tensor or ndarray, shape ``(N, ...)``, or None
    """

    def __init__(self, X: Any, y: Any = None) -> None:
        self.X = as_tensor(X, "X")
        self.y = None if y is None else as_tensor(y, "y")
        if self.y is not None and self.X.shape[0] != self.y.shape[0]:
            raise ValueError(
                f"X and y must have the same number of rows, got {self.X.shape[0]} and "
                f"{self.y.shape[0]}"
            )
        if self.X.shape[0] == 0:
            raise ValueError("data is empty (0 rows)")

    def __len__(self) -> int:
        return self.X.shape[0]

    def to(self, device: torch.device) -> InMemoryData:
        """Move both tensors once, so batches are sliced on the device."""
        return InMemoryData(self.X.to(device), None if self.y is None else self.y.to(device))

    def num_batches(self, batch_size: int) -> int:
        return -(-len(self) // batch_size)

    def order(self, shuffle: bool, seed: int, epoch: int) -> torch.Tensor | None:
        """The index order of ``epoch``: a seeded permutation, or ``None`` (identity)."""
        if not shuffle:
            return None
        gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        return torch.randperm(len(self), generator=gen).to(self.X.device)

    def batches(
        self, batch_size: int, order: torch.Tensor | None, start: int = 0
    ) -> Iterator[Any]:
        """Yield ``(X_b, y_b)`` (or ``X_b`` without ``y``) from batch index ``start`` on,
        following ``order`` (a subset of the row indices, e.g. one rank's shard) or the rows as
        stored."""
        n = len(self) if order is None else len(order)
        X, y = self.X, self.y
        for lo in range(start * batch_size, n, batch_size):
            if order is None:
                if y is None:
                    yield X[lo : lo + batch_size]
                else:
                    yield X[lo : lo + batch_size], y[lo : lo + batch_size]
            else:
                idx = order[lo : lo + batch_size]  # (B,)
                yield X[idx] if y is None else (X[idx], y[idx])


def make_data(data: Any, name: str = "data") -> InMemoryData | DataLoader:
    """Accept a DataLoader, an ``(X, y)`` pair (tuple, list, ``Split``), anything with ``.X``/
    ``.y``, or a bare tensor/array ``X``; anything else is a TypeError naming ``name``."""
    if isinstance(data, (DataLoader, InMemoryData)):
        return data
    if isinstance(data, (torch.Tensor, np.ndarray)):
        return InMemoryData(data)
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return InMemoryData(data[0], data[1])
    if hasattr(data, "X") and hasattr(data, "y"):
        return InMemoryData(data.X, data.y)
    raise TypeError(
        f"{name} must be a DataLoader, an (X, y) pair of tensors/arrays or a tensor X, got "
        f"{type(data).__name__}"
    )


def loader_batches(loader: DataLoader, start: int = 0) -> Iterator[Batch]:
    """Yield ``(inputs, targets)`` from a DataLoader, skipping the first ``start`` batches."""
    it = iter(loader)
    for batch in itertools.islice(it, start, None):
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise TypeError("a DataLoader given to the Trainer must yield (inputs, targets) pairs")
        yield batch[0], batch[1]


def skip_batches(loader: DataLoader, start: int = 0) -> Iterator[Any]:
    """The loader's batches as it yields them, from batch ``start`` on."""
    it = iter(loader)
    return itertools.islice(it, start, None) if start else it


def to_device(batch: Any, device: torch.device) -> Any:
    """``batch`` with every tensor in it (tuples, lists, dicts) moved to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch if batch.device == device else batch.to(device, non_blocking=True)
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch


def batch_len(batch: Any) -> int:
    """Number of examples in ``batch``: the length of its first tensor (1 if it has none)."""
    if isinstance(batch, torch.Tensor):
        return len(batch) if batch.ndim else 1
    if isinstance(batch, (tuple, list)):
        for b in batch:
            return batch_len(b)
    if isinstance(batch, dict):
        for b in batch.values():
            return batch_len(b)
    return 1


def num_batches(data: InMemoryData | DataLoader, batch_size: int) -> int | None:
    """Batches per epoch, or ``None`` when the loader has no length."""
    if isinstance(data, InMemoryData):
        return data.num_batches(batch_size)
    try:
        return len(data)
    except TypeError:
        return None
