"""The lab runner: build the context, run the lab, write ``runs/<lab>/<run-id>/`` atomically.

The run is written into a hidden ``.<run-id>.partial`` folder that is renamed into place only
when complete, so a failed or interrupted run leaves nothing half-written behind.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from deepdojo.labs.framework.config import make_config
from deepdojo.labs.framework.context import LabContext, claim_counts
from deepdojo.labs.framework.errors import LabError
from deepdojo.labs.framework.registry import LabSpec, get_lab
from deepdojo.utils import atomic_write_json, atomic_write_text, environment, seed_everything


@dataclass
class RunResult:
    """Where a run was written and its ``result.json`` content."""

    path: Path
    result: dict[str, Any] = field(repr=False)

    @property
    def claims(self) -> list[dict[str, Any]]:
        return self.result["claims"]


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


def reserve_run_dir(parent: Path, stem: str) -> tuple[str, Path]:
    """Reserve a fresh run id ``stem``, ``stem-2``, ... under ``parent``; return it and its
    hidden ``.<id>.partial`` folder.

    The partial folder is created with ``mkdir`` (atomic: exactly one process wins a name) and
    the final name is checked after it, so two runs started in the same second, in two
    processes, get two ids.
    """
    parent.mkdir(parents=True, exist_ok=True)
    n = 1
    while True:
        run_id = stem if n == 1 else f"{stem}-{n}"
        tmp = parent / f".{run_id}.partial"
        n += 1
        try:
            tmp.mkdir()
        except FileExistsError:
            continue
        if (parent / run_id).exists():
            tmp.rmdir()
            continue
        return run_id, tmp


def _recorded(ctx: LabContext) -> dict[str, Any]:
    """What the lab recorded on its context, as JSON-ready result fields."""
    return {
        "metrics": ctx.metrics,
        "tables": ctx.tables,
        "figures": ctx.figures,
        "claims": [dataclasses.asdict(c) for c in ctx.claims],
        "claim_counts": claim_counts([dataclasses.asdict(c) for c in ctx.claims]),
        "notes": ctx.notes,
    }


def reproduce_command(
    lab: str, scale: str, seed: int, overrides: dict[str, str], device: str = "cpu"
) -> str:
    """The CLI line that reruns this exact configuration."""
    parts = ["deepdojo", "run", lab, "--scale", scale, "--seed", str(seed)]
    if device != "cpu":
        parts += ["--device", device.split(":")[0]]
    for k, v in overrides.items():
        parts += ["--set", f"{k}={v}"]
    return " ".join(parts)


def run_lab(
    name: str,
    *,
    scale: str = "quick",
    seed: int = 0,
    overrides: dict[str, str] | None = None,
    out: str | Path = "runs",
    device: str = "cpu",
    progress: str = "auto",
    threads: int | None = 1,
    jobs: int = 1,
) -> RunResult:
    """Run lab ``name`` and write ``<out>/<name>/<run-id>/``; return the path and result.

    The config is built from the lab's dataclass with ``overrides`` (strings, type-checked).
    ``threads`` sets torch's intra-op CPU threads for the run (restored afterwards). Labs train
    small models, where extra threads cost more in synchronisation than they give (and slow
    down badly when the cores are shared), so the default is 1; ``None`` keeps torch's setting.
    ``jobs`` is how many labs ran at the same time in this batch (recorded as ``parallel_jobs``:
    timing claims depend on it).
    """
    spec = get_lab(name)
    overrides = dict(overrides or {})
    cfg = make_config(spec.config, overrides, scale=scale)
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise LabError(f"threads must be a positive int or None, got {threads!r}")
    lab_dir = Path(out) / name
    run_id, tmp = reserve_run_dir(lab_dir, f"{_stamp()}-{scale}-s{seed}")
    try:
        execute(spec, cfg, tmp, run_id=run_id, scale=scale, seed=seed, overrides=overrides,
                device=device, progress=progress, threads=threads, stability_from=lab_dir,
                jobs=jobs)
        tmp.rename(lab_dir / run_id)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    final = lab_dir / run_id
    return RunResult(final, json.loads((final / "result.json").read_text()))


def execute(
    spec: LabSpec,
    cfg: Any,
    dest: Path,
    *,
    run_id: str,
    scale: str,
    seed: int,
    overrides: dict[str, str],
    device: str = "cpu",
    progress: str = "auto",
    threads: int | None = 1,
    stability_from: Path | None = None,
    jobs: int = 1,
) -> dict[str, Any]:
    """Run ``spec`` with the resolved ``cfg`` and write its files into the existing ``dest``.

    Returns the result dict. ``stability_from`` is the lab's folder whose newest verify run
    gives the stability badges of the run page (None: no badges).
    """
    with _cpu_threads(threads):
        ctx = LabContext(spec.name, scale=scale, seed=seed, device=device, out_dir=dest,
                         progress=progress)
        return _run_and_write(spec, cfg, ctx, run_id=run_id, overrides=overrides,
                              stability_from=stability_from, jobs=jobs)


@contextmanager
def _cpu_threads(threads: int | None) -> Iterator[None]:
    """Limit torch's and NumPy/scikit-learn's BLAS/OpenMP threads, restoring them after."""
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits  # ships with scikit-learn

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        torch.set_num_threads(previous)


def _run_and_write(
    spec: LabSpec,
    cfg: Any,
    ctx: LabContext,
    *,
    run_id: str,
    overrides: dict[str, str],
    stability_from: Path | None,
    jobs: int,
) -> dict[str, Any]:
    """Seed, run the lab on ``ctx`` and write result.json and index.html into ctx.out_dir."""
    from deepdojo.labs.framework.verify import latest_stability
    from deepdojo.report.runpage import render_run_page

    seed_everything(ctx.seed)
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    spec.fn(cfg, ctx)
    result = {
        "lab": spec.name,
        "run_id": run_id,
        "questions": list(spec.questions),
        "summary": spec.summary,
        "scale": ctx.scale,
        "seed": ctx.seed,
        "seeds": ctx.seeds,
        "device": ctx.device,
        "config": dataclasses.asdict(cfg),
        "overrides": overrides,
        "command": reproduce_command(spec.name, ctx.scale, ctx.seed, overrides, ctx.device),
        "environment": environment(),
        "parallel_jobs": jobs,
        "started": started.isoformat(timespec="microseconds"),
        "timings": {"total_s": round(time.perf_counter() - t0, 3)},
        **_recorded(ctx),
    }
    atomic_write_json(ctx.out_dir / "result.json", result)
    stability = None if stability_from is None else latest_stability(stability_from, ctx.scale)
    atomic_write_text(ctx.out_dir / "index.html", render_run_page(result, stability=stability))
    return result


def latest_runs(runs_dir: str | Path) -> dict[str, Path]:
    """The newest complete run folder of each lab under ``runs_dir`` (by ``started`` time)."""
    runs_dir = Path(runs_dir)
    found: dict[str, tuple[str, Path]] = {}
    if not runs_dir.is_dir():
        return {}
    for result in runs_dir.glob("*/*/result.json"):
        if result.parent.name.startswith("."):
            continue
        try:
            data = json.loads(result.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict):  # a hand-edited [1, 2, 3]: not a run
            continue
        key = (data.get("started", ""), result.parent.name)
        lab = data.get("lab", result.parent.parent.name)
        if lab not in found or key > (found[lab][0], found[lab][1].name):
            found[lab] = (key[0], result.parent)
    return {lab: p for lab, (_, p) in sorted(found.items())}


def last_duration(runs_dir: str | Path, lab: str, scale: str) -> float | None:
    """Seconds the newest complete run of ``lab`` at ``scale`` took, or None."""
    best: tuple[str, float] | None = None
    for result in (Path(runs_dir) / lab).glob("*/result.json"):
        if result.parent.name.startswith("."):
            continue
        try:
            data = json.loads(result.read_text())
            if data.get("scale") != scale:
                continue
            key = (data.get("started", ""), float(data["timings"]["total_s"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        if best is None or key > best:
            best = key
    return None if best is None else best[1]


def load_result(run_dir: str | Path) -> dict[str, Any]:
    """Read ``result.json`` of a run folder; a missing or broken file is a LabError."""
    path = Path(run_dir) / "result.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise LabError(f"{path}: no result.json (is this a run folder?)") from None
    except ValueError as e:
        raise LabError(f"{path}: not valid JSON ({e})") from None
