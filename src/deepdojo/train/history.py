"""Training history: one record (a dict) per epoch, readable by key.

>>> h = History()
>>> h.append({"epoch": 0, "train_loss": 1.0, "lr": 0.1})
>>> h["train_loss"], h.last["epoch"]
([1.0], 0)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


class History:
    """Per-epoch records written by the :class:`~deepdojo.train.Trainer`.

    Attributes
    ----------
    records : list of dict
        One dict per finished epoch with at least ``epoch`` (0-based), ``train_loss`` and ``lr``
        (the first parameter group's learning rate used by the epoch's last step), plus
        ``train_<metric>``, ``val_loss``, ``val_<metric>``, ``time_s``, ``lrs`` (every
        group's rate, when the optimizer has several) and, when the non-finite guard fired,
        ``nonfinite_steps`` / ``rollbacks``.
    events : list of dict
        Notable events during the run (skipped non-finite steps, rollbacks, resumes), each with
        ``kind``, ``epoch`` and ``step``.
    """

    def __init__(self, records: list[dict[str, Any]] | None = None) -> None:
        self.records: list[dict[str, Any]] = list(records or [])
        self.events: list[dict[str, Any]] = []

    def append(self, record: dict[str, Any]) -> None:
        """Add the record of one finished epoch."""
        self.records.append(record)

    def __getitem__(self, key: str) -> list[Any]:
        """All values of ``key`` in epoch order (``None`` where an epoch lacks it)."""
        if not any(key in r for r in self.records):
            known = sorted({k for r in self.records for k in r})
            raise KeyError(f"history has no key {key!r}; known keys: {known}")
        return [r.get(key) for r in self.records]

    def __contains__(self, key: object) -> bool:
        return any(key in r for r in self.records)

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.records)

    @property
    def last(self) -> dict[str, Any]:
        """The last epoch's record (an empty dict before the first epoch ends)."""
        return self.records[-1] if self.records else {}

    def keys(self) -> list[str]:
        """Every key that appears in some record, in first-seen order."""
        seen: dict[str, None] = {}
        for r in self.records:
            seen.update(dict.fromkeys(r))
        return list(seen)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form: ``{"records": [...], "events": [...]}``."""
        return {"records": [dict(r) for r in self.records], "events": list(self.events)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """Inverse of :meth:`to_dict`."""
        h = cls(data.get("records", []))
        h.events = list(data.get("events", []))
        return h

    def __repr__(self) -> str:
        return f"History(epochs={len(self)}, last={self.last})"
