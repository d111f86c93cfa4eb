"""A rich progress bar for the Trainer that stays quiet when output is not a terminal.

Per batch it only adds to a local counter; the bar's count and the loss it shows are pushed to
rich at most a few times per second (and at the end of each epoch), so the bar costs little
even at small batch sizes.
"""

from __future__ import annotations

import sys
import time
from typing import Any

_REFRESH_S = 0.25  # minimum seconds between loss text updates


def want_progress(progress: str) -> bool:
    """``"on"`` → True, ``"off"`` → False, ``"auto"`` → whether stderr is a terminal."""
    if progress not in ("auto", "on", "off"):
        raise ValueError(f"progress must be 'auto', 'on' or 'off', got {progress!r}")
    if progress == "auto":
        return sys.stderr.isatty()
    return progress == "on"


class EpochBar:
    """One bar per fit: ``epoch e/E  ━━━━  batch/total  loss 0.123``.

    A no-op object when ``enabled`` is False, so the Trainer calls it unconditionally.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._progress: Any = None
        self._task: Any = None
        self._last = 0.0
        self._pending = 0  # batches done since the bar was last updated

    def __enter__(self) -> EpochBar:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=False,
                refresh_per_second=4,  # the render thread competes with training for cores
            )
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def start_epoch(self, epoch: int, epochs: int, total: int | None, done: int = 0) -> None:
        if self._progress is None:
            return
        if self._task is not None:
            self._progress.update(self._task, visible=True)
        self._task = self._progress.add_task(
            f"epoch {epoch + 1}/{epochs}", total=total, completed=done, status=""
        )

    def advance(self, loss: float) -> None:
        if self._progress is None:
            return
        self._pending += 1
        now = time.monotonic()
        if now - self._last > _REFRESH_S:
            self._last = now
            self._progress.update(self._task, advance=self._pending, status=f"loss {loss:.4g}")
            self._pending = 0

    def end_epoch(self, record: dict[str, Any]) -> None:
        if self._progress is None:
            return
        if self._pending:
            self._progress.update(self._task, advance=self._pending)
            self._pending = 0
        shown = [f"{k} {v:.4g}" for k, v in record.items() if k.endswith(("loss", "acc"))
                 and isinstance(v, float)]
        self._progress.update(self._task, status="  ".join(shown))
