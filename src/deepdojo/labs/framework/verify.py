"""Verdict stability: rerun a lab with K disjoint seed sets and compare the verdicts.

``deepdojo verify LAB --seed-sets K`` runs the lab K times, with base seeds ``seed, seed+1,
..., seed+K-1`` (seeds ``base*1000 + i``: the sets are disjoint), into
``runs/<lab>/verify-<id>/set-<k>/``, and writes ``runs/<lab>/verify-<id>/stability.json``:

- per claim: its kind, whether it is environment-dependent, the verdict of each seed set and
  whether they all agree;
- ``stability``: the share of claims, environment-dependent ones excluded, whose verdict is
  identical across the sets (EVIDENCE.md §2 targets at least 95%);
- ``inconclusive_findings``: the share of findings judged inconclusive, over all sets (at most
  a quarter at quick scale: everything inconclusive is not stability).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from deepdojo.labs.framework.config import make_config
from deepdojo.labs.framework.errors import LabError
from deepdojo.labs.framework.registry import get_lab
from deepdojo.utils import atomic_write_json

PREFIX = "verify-"


@dataclass
class VerifyResult:
    """Where a verify run was written and its ``stability.json`` content."""

    path: Path
    stability: dict[str, Any] = field(repr=False)


def compare_verdicts(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Compare the claims of several runs of one lab (one per seed set).

    Returns ``{"claims": [...], "stability": share | None, "counted": n, "agreeing": m,
    "inconclusive_findings": share | None}``. A claim missing from a run gets the verdict
    None there and does not agree. Old claims without ``verdict`` use ``holds``.
    """
    order: list[str] = []
    rows: list[dict[str, Any]] = []
    per_run: list[dict[str, Mapping[str, Any]]] = []
    for result in results:
        claims = {str(c["id"]): c for c in result.get("claims", [])}
        order += [cid for cid in claims if cid not in order]
        per_run.append(claims)
    for cid in order:
        seen = [run.get(cid) for run in per_run]
        first = next(c for c in seen if c is not None)
        verdicts = [None if c is None else
                    c.get("verdict") or ("holds" if c.get("holds") else "does not hold")
                    for c in seen]
        env = any(bool(c.get("environment_dependent")) for c in seen if c is not None)
        rows.append({
            "id": cid,
            "statement": str(first.get("statement", "")),
            "kind": str(first.get("kind", "finding")),
            "environment_dependent": env,
            "verdicts": verdicts,
            "agree": None not in verdicts and len(set(verdicts)) == 1,
            "counted": not env,
        })
    counted = [r for r in rows if r["counted"]]
    agreeing = sum(r["agree"] for r in counted)
    findings = [v for r in rows if r["kind"] == "finding" for v in r["verdicts"] if v]
    return {
        "claims": rows,
        "counted": len(counted),
        "agreeing": agreeing,
        "stability": agreeing / len(counted) if counted else None,
        "inconclusive_findings": (sum(v == "inconclusive" for v in findings) / len(findings)
                                  if findings else None),
    }


def verify_lab(
    name: str,
    *,
    seed_sets: int = 3,
    seed: int = 0,
    scale: str = "quick",
    overrides: dict[str, str] | None = None,
    out: str | Path = "runs",
    device: str = "cpu",
    progress: str = "auto",
    threads: int | None = 1,
) -> VerifyResult:
    """Run lab ``name`` once per seed set (bases ``seed .. seed+seed_sets-1``) and write
    ``<out>/<name>/verify-<id>/`` with one ``set-<k>/`` run folder each and
    ``stability.json``. The folder appears only when every set is done."""
    from deepdojo.labs.framework.parallel import say
    from deepdojo.labs.framework.runner import _stamp, execute, reserve_run_dir

    if isinstance(seed_sets, bool) or not isinstance(seed_sets, int) or seed_sets < 2:
        raise LabError(f"--seed-sets must be an integer >= 2, got {seed_sets!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise LabError(f"--seed must be a non-negative integer, got {seed!r}")
    spec = get_lab(name)
    overrides = dict(overrides or {})
    cfg = make_config(spec.config, overrides, scale=scale)
    lab_dir = Path(out) / name
    verify_id, tmp = reserve_run_dir(lab_dir, f"{PREFIX}{_stamp()}-{scale}-s{seed}")
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    try:
        results, bases = [], [seed + k for k in range(seed_sets)]
        for k, base in enumerate(bases):
            say(f"[{name}] seed set {k + 1}/{seed_sets} (base seed {base})")
            dest = tmp / f"set-{k}"
            dest.mkdir()
            results.append(execute(spec, cfg, dest, run_id=f"{verify_id}/set-{k}",
                                   scale=scale, seed=base, overrides=overrides,
                                   device=device, progress=progress, threads=threads))
        stability = {
            "lab": name,
            "verify_id": verify_id,
            "scale": scale,
            "base_seeds": bases,
            "seeds": [r["seeds"] for r in results],
            "runs": [f"set-{k}" for k in range(seed_sets)],
            "overrides": overrides,
            "started": started.isoformat(timespec="microseconds"),
            "timings": {"total_s": round(time.perf_counter() - t0, 3)},
            **compare_verdicts(results),
        }
        atomic_write_json(tmp / "stability.json", stability)
        tmp.rename(lab_dir / verify_id)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _refresh_latest_page(lab_dir, scale)
    return VerifyResult(lab_dir / verify_id, stability)


def latest_stability(lab_dir: str | Path, scale: str | None = None) -> dict[str, Any] | None:
    """The newest ``stability.json`` under ``lab_dir/verify-*/`` (at ``scale`` if given)."""
    best: tuple[str, dict[str, Any]] | None = None
    for path in Path(lab_dir).glob(f"{PREFIX}*/stability.json"):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict):  # a hand-edited file: not a verify run
            continue
        if scale is not None and data.get("scale") != scale:
            continue
        key = str(data.get("started", ""))
        if best is None or key > best[0]:
            best = (key, data)
    return None if best is None else best[1]


def _refresh_latest_page(lab_dir: Path, scale: str) -> None:
    """Re-render the page of the lab's newest run at ``scale`` so it shows the new badges."""
    from deepdojo.labs.framework.runner import latest_runs
    from deepdojo.report.runpage import render_run_page
    from deepdojo.utils import atomic_write_text

    run = latest_runs(lab_dir.parent).get(lab_dir.name)
    if run is None:
        return
    try:
        result = json.loads((run / "result.json").read_text())
    except (OSError, ValueError):
        return
    if result.get("scale") == scale:
        page = render_run_page(result, stability=latest_stability(lab_dir, scale))
        atomic_write_text(run / "index.html", page)
