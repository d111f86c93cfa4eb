"""Run history of one lab: how each claim's value and verdict moved between its runs.

When ``runs/<lab>/`` holds several runs (other seeds, other scales, a rerun after a change),
the lab page shows a small table: one column per run (newest first, at most
:data:`MAX_RUNS`), one row per claim, each cell the verdict mark and the judged value. A row
whose verdict differs between runs is flagged, since that is what a reader looks for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from deepdojo.report.runpage import VERDICT_CLASS, fmt_value, verdict_of

MAX_RUNS = 6
_MARK = {"holds": "\u2713", "does not hold": "\u2717", "inconclusive": "?"}


def history_view(runs: Sequence[tuple[Path, Mapping[str, Any]]]) -> dict[str, Any] | None:
    """The history table of a lab's runs (newest first); None with fewer than two runs.

    Returns
    -------
    dict
        ``columns``: ``[{run_id, scale, seeds, started}]``; ``rows``: ``[{id, statement,
        moved, cells: [{text, verdict, class} or None]}]`` (None: the run lacks the claim);
        ``n_more``: runs left out beyond :data:`MAX_RUNS`.
    """
    if len(runs) < 2:
        return None
    shown = list(runs)[:MAX_RUNS]
    columns = []
    for run_dir, result in shown:
        seeds = [str(s) for s in result.get("seeds", [])]
        seeds_text = (", ".join(seeds) if len(seeds) <= 3
                      else f"{seeds[0]}\u2026{seeds[-1]} ({len(seeds)})")
        columns.append({"run_id": str(result.get("run_id") or run_dir.name),
                        "scale": str(result.get("scale", "")),
                        "seeds": seeds_text,
                        "started": str(result.get("started", ""))[:16].replace("T", " ")})
    order: list[str] = []
    statements: dict[str, str] = {}
    by_run: list[dict[str, Mapping[str, Any]]] = []
    for _, result in shown:
        claims = {str(c.get("id")): c for c in result.get("claims", [])}
        for cid, c in claims.items():
            if cid not in statements:
                order.append(cid)
                statements[cid] = str(c.get("statement", ""))
        by_run.append(claims)
    rows = []
    for cid in order:
        cells: list[dict[str, str] | None] = []
        for claims in by_run:
            c = claims.get(cid)
            if c is None:
                cells.append(None)
                continue
            verdict = verdict_of(c)
            cells.append({"text": f"{_MARK[verdict]} {fmt_value(c.get('value'))}",
                          "verdict": verdict, "class": VERDICT_CLASS[verdict]})
        verdicts = {c["verdict"] for c in cells if c is not None}
        rows.append({"id": cid, "statement": statements[cid], "moved": len(verdicts) > 1,
                     "cells": cells})
    return {"columns": columns, "rows": rows, "n_more": len(runs) - len(shown),
            "n_moved": sum(r["moved"] for r in rows)}
