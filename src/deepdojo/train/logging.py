"""Per-epoch metrics to files in a run folder: JSONL, CSV and (if installed) TensorBoard.

Both files are rewritten atomically from the whole history at the end of every epoch, so they
are always complete and consistent with a resumed run. Only rank 0 writes.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from deepdojo.train.callbacks import Callback
from deepdojo.utils import atomic_write_text
from deepdojo.utils.io import _jsonable

if TYPE_CHECKING:  # pragma: no cover
    from deepdojo.train.trainer import Trainer


def _is_main_process() -> bool:
    dist = torch.distributed
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def _tensorboard_writer(run_dir: Path) -> Any:
    """A ``SummaryWriter`` when the ``tensorboard`` package is installed, else ``None``."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(log_dir=str(run_dir / "tensorboard"))


class MetricsLogger(Callback):
    """Write ``metrics.jsonl`` (one JSON object per epoch) and ``metrics.csv`` to ``run_dir``.

    Parameters
    ----------
    run_dir : path
        Folder for the files (created).
    tensorboard : bool
        Also write TensorBoard scalars under ``run_dir/tensorboard`` when the ``tensorboard``
        package is installed (silently skipped otherwise).
    """

    def __init__(self, run_dir: str | os.PathLike[str], tensorboard: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.tensorboard = tensorboard
        self._writer: Any = None

    def on_fit_start(self, trainer: Trainer) -> None:
        if self.tensorboard and _is_main_process() and self._writer is None:
            self._writer = _tensorboard_writer(self.run_dir)

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        if not _is_main_process():
            return
        records = [*trainer.history.records, logs]  # logs is appended right after this hook
        write_metrics(self.run_dir, records)
        if self._writer is not None:
            for key, value in logs.items():
                if isinstance(value, (int, float)) and key != "epoch":
                    self._writer.add_scalar(key, value, epoch)
            self._writer.flush()

    def on_fit_end(self, trainer: Trainer) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def on_exception(self, trainer: Trainer, exc: BaseException) -> None:
        self.on_fit_end(trainer)  # close the event file of a run that failed


def write_metrics(run_dir: str | os.PathLike[str], records: list[dict[str, Any]]) -> None:
    """Atomically (re)write ``metrics.jsonl`` and ``metrics.csv`` from ``records``."""
    run_dir = Path(run_dir)
    lines = [json.dumps(_jsonable(r), allow_nan=False) for r in records]
    atomic_write_text(run_dir / "metrics.jsonl", "".join(f"{line}\n" for line in lines))
    keys: dict[str, None] = {}
    for r in records:
        keys.update(dict.fromkeys(r))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(keys), lineterminator="\n")
    writer.writeheader()
    for r in records:
        writer.writerow({k: r.get(k, "") for k in keys})
    atomic_write_text(run_dir / "metrics.csv", buf.getvalue())


def read_metrics(run_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records of ``run_dir/metrics.jsonl``."""
    text = (Path(run_dir) / "metrics.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]
