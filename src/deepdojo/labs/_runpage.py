"""Render one run's ``index.html``, and the view model shared with the evidence site.

The HTML templates and the CSS live in ``deepdojo/report/templates/`` and are loaded from the
package path with Jinja2, so labs render pages without importing :mod:`deepdojo.report`.
:func:`run_view` turns a ``result.json`` dict into pre-formatted strings; the templates only
lay them out. Pages are self-contained: inline CSS, no scripts, no external assets, figures
referenced by relative paths.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "report" / "templates"
_MISSING = "\u2014"  # em dash for "no value"


@functools.lru_cache(maxsize=1)
def template_env() -> jinja2.Environment:
    """The Jinja2 environment over ``deepdojo/report/templates`` (autoescaped, strict)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def fmt_value(value: Any) -> str:
    """Format a number (4 significant digits), string, list or dict for a table cell."""
    if value is None:
        return _MISSING
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(value) if not math.isfinite(value) else f"{value:.4g}"
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {fmt_value(v)}" for k, v in value.items())
    if isinstance(value, Sequence):
        items = list(value)
        if len(items) > 8:  # long curves: show the ends, say how many
            shown = [fmt_value(v) for v in items[:6]] + ["\u2026", fmt_value(items[-1])]
            return f"[{', '.join(shown)}] ({len(items)} values)"
        return f"[{', '.join(fmt_value(v) for v in items)}]"
    return str(value)


def fmt_seconds(seconds: Any) -> str:
    """``12.3 s`` or ``2 min 05 s``."""
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
        return fmt_value(seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(float(seconds), 60.0)
    return f"{int(minutes)} min {rest:02.0f} s"


def seed_marks(claim: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per-seed values as ``{"text", "ok"}``; ``ok`` is the seed's verdict under the claim's
    per-seed rule (``seed_holds``), or None when the claim has no per-seed rule."""
    values = claim.get("values") or []
    marks = claim.get("seed_holds")
    if not isinstance(marks, list) or len(marks) != len(values):
        marks = [None] * len(values)
    return [{"text": fmt_value(v), "ok": None if m is None else bool(m)}
            for v, m in zip(values, marks, strict=True)]


def claim_view(claim: Mapping[str, Any]) -> dict[str, Any]:
    """One claim with its numbers formatted: value, per-seed values (with each seed's verdict
    under the per-seed rule when there is one), mean +- spread."""
    values = claim.get("values")
    mean, spread = claim.get("mean"), claim.get("spread")
    seeds = seed_marks(claim)
    return {
        "seeds": seeds,
        "has_seed_rule": any(s["ok"] is not None for s in seeds),
        "seeds_passing": sum(1 for s in seeds if s["ok"]),
        "id": str(claim.get("id", "")),
        "statement": str(claim.get("statement", "")),
        "rule": str(claim.get("rule", "")),
        "holds": bool(claim.get("holds")),
        "value_text": fmt_value(claim.get("value")),
        "values_text": ", ".join(fmt_value(v) for v in values) if values else _MISSING,
        "mean_text": (
            f"{fmt_value(mean)} \u00b1 {fmt_value(spread)}" if mean is not None else _MISSING
        ),
    }


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _table_view(name: str, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Columns in first-seen order; a column is right-aligned when all its values are numbers."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    heads = []
    for col in columns:
        present = [row[col] for row in rows if row.get(col) is not None]
        heads.append({"name": col, "numeric": bool(present) and all(map(_is_number, present))})
    cells = [
        [{"text": fmt_value(row.get(c["name"])), "numeric": c["numeric"]} for c in heads]
        for row in rows
    ]
    return {"name": name, "columns": heads, "rows": cells}


def _environment_rows(env: Mapping[str, Any]) -> list[tuple[str, str]]:
    rows = []
    for key, value in env.items():
        if isinstance(value, Mapping):  # {"torch": "2.13.0", ...} -> "torch 2.13.0 · ..."
            text = " \u00b7 ".join(f"{k} {fmt_value(v)}" for k, v in value.items())
        else:
            text = "none" if value is None else fmt_value(value)
        rows.append((key, text))
    return rows


def _figure_src(path: str, fig_base: str, fig_exists: Callable[[str], bool] | None) -> str | None:
    if not path or (fig_exists is not None and not fig_exists(path)):
        return None
    return fig_base + path


def run_view(
    result: Mapping[str, Any],
    *,
    fig_base: str = "",
    fig_exists: Callable[[str], bool] | None = None,
) -> dict[str, Any]:
    """Turn a ``result.json`` dict into the pre-formatted view the templates render.

    Parameters
    ----------
    result : mapping
        The content of a run's ``result.json``.
    fig_base : str
        Prefix for figure links (``"../labs/<lab>/"`` on a question page, ``""`` beside the
        run's own ``figures/`` folder).
    fig_exists : callable, optional
        ``fig_exists(rel_path)`` tells whether a figure file is really there; missing ones
        are shown as missing instead of as a broken image.
    """
    claims = [claim_view(c) for c in result.get("claims", [])]
    timings = result.get("timings", {}) or {}
    figures = [
        {
            "name": str(f.get("name", "")),
            "caption": str(f.get("caption") or ""),
            "src": _figure_src(str(f.get("path", "")), fig_base, fig_exists),
        }
        for f in result.get("figures", [])
    ]
    return {
        "lab": str(result.get("lab", "")),
        "summary": str(result.get("summary", "")),
        "run_id": str(result.get("run_id", "")),
        "questions": list(result.get("questions", [])),
        "scale": str(result.get("scale", "")),
        "seeds_text": ", ".join(str(s) for s in result.get("seeds", [])) or _MISSING,
        "device": str(result.get("device", "")),
        "started": _fmt_started(result.get("started")),
        "total_time": fmt_seconds(timings.get("total_s")),
        "command": str(result.get("command", "")),
        "claims": claims,
        "n_hold": sum(c["holds"] for c in claims),
        "n_fail": sum(not c["holds"] for c in claims),
        "figures": figures,
        "metrics": [(k, fmt_value(v)) for k, v in (result.get("metrics") or {}).items()],
        "tables": [_table_view(k, v) for k, v in (result.get("tables") or {}).items()],
        "notes": [str(n) for n in result.get("notes", [])],
        "config": [
            (k, "None" if v is None else fmt_value(v))
            for k, v in (result.get("config") or {}).items()
        ],
        "overrides": list((result.get("overrides") or {}).keys()),
        "environment": _environment_rows(result.get("environment") or {}),
        "timings": [(f"timings.{k}", fmt_seconds(v)) for k, v in timings.items()],
        "question_links": [],
    }


def _fmt_started(text: Any) -> str:
    try:
        stamp = datetime.fromisoformat(str(text))
    except ValueError:
        return str(text or _MISSING)
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(UTC)
    return stamp.strftime("%Y-%m-%d %H:%M:%S UTC")


def now_text() -> str:
    """The current UTC time as ``2026-01-31 12:00 UTC`` for page footers."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def render_run_page(
    result: dict[str, Any],
    *,
    root: str | None = None,
    question_links: Sequence[Mapping[str, str]] = (),
    fig_exists: Callable[[str], bool] | None = None,
) -> str:
    """A standalone page for one run: claims with verdicts, figures, metrics, config, command.

    Parameters
    ----------
    result : dict
        The run's ``result.json`` content. Figures are linked as ``figures/<name>.png``,
        relative to the page, so the page sits beside the run's ``figures/`` folder.
    root : str, optional
        Relative path from the page to the evidence site's root (``"../../"``); ``None`` for
        the page written into the run folder, which then has no site navigation.
    question_links : sequence of {"id", "href"}
        Links to the site's question pages.
    fig_exists : callable, optional
        See :func:`run_view`.
    """
    run = run_view(result, fig_exists=fig_exists)
    run["question_links"] = [dict(q) for q in question_links]
    template = template_env().get_template("run.html")
    return template.render(run=run, root=root, generated=now_text())
