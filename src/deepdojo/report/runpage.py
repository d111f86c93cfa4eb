"""Render one run's ``index.html``, and the view model shared with the evidence site.

The HTML templates and the CSS live in ``deepdojo/report/templates/`` and are loaded from the
package path with Jinja2.
:func:`run_view` turns a ``result.json`` dict into pre-formatted strings; the templates only
lay them out. Pages are self-contained: inline CSS, no scripts, no external assets, figures
referenced by relative paths.

Sections. A lab that answers a question with several parts (the autoencoder labs: one part
per application) declares them by recording a table named ``sections`` (:data:`SECTIONS_TABLE`),
one row per section, in order::

    ctx.table("sections", [{"section": "Denoising",
                            "claims": "dae-beats-filters-digits dae-improves-on-noisy-digits",
                            "figures": "denoising", "cpu_s": 12.3}, ...])

``claims`` and ``figures`` are space-separated claim ids and figure names; ``cpu_s`` (optional)
is the section's run time. The run page and every question page then show each section under
its name with its verdicts and its figures; claims and figures no section names follow under
"Other claims" / "Figures". A listed claim the run did not state (decided at full scale only)
is named in its section as such. Labs without the table render as before.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2

from deepdojo.report.glance import interval_bar
from deepdojo.report.mathtext import render_math

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
_MISSING = "\u2014"  # em dash for "no value"


@functools.lru_cache(maxsize=1)
def template_env() -> jinja2.Environment:
    """The Jinja2 environment over ``deepdojo/report/templates`` (autoescaped, strict), with
    the ``math`` filter (``$...$`` drawn as formulas, :mod:`deepdojo.report.mathtext`)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["math"] = render_math
    return env


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
    """Per-seed values as ``{"text", "ok"}``; ``ok`` is the seed's value against the rule's
    condition (``seed_holds``), or None when the claim has none."""
    values = claim.get("values") or []
    marks = claim.get("seed_holds")
    if not isinstance(marks, list) or len(marks) != len(values):
        marks = [None] * len(values)
    return [{"text": fmt_value(v), "ok": None if m is None else bool(m)}
            for v, m in zip(values, marks, strict=True)]


VERDICT_CLASS = {"holds": "holds", "does not hold": "fails", "inconclusive": "inconclusive"}


def verdict_of(claim: Mapping[str, Any]) -> str:
    """The claim's verdict; results written before verdicts existed have only ``holds``."""
    verdict = claim.get("verdict")
    if verdict in VERDICT_CLASS:
        return str(verdict)
    return "holds" if claim.get("holds") else "does not hold"


def stability_badge(row: Mapping[str, Any] | None) -> dict[str, str] | None:
    """The stability badge of one claim from its ``stability.json`` row (None: no verify)."""
    if row is None:
        return None
    verdicts = [v or "missing" for v in row.get("verdicts", [])]
    n = len(verdicts)
    if row.get("environment_dependent"):
        return {"class": "idle", "text": "timing: not in stability",
                "title": "environment-dependent claim; verdicts " + " / ".join(verdicts)}
    if row.get("agree"):
        return {"class": "stable", "text": f"stable {n}/{n} seed sets",
                "title": f"same verdict on {n} disjoint seed sets"}
    return {"class": "unstable", "text": "flips across seed sets",
            "title": "verdicts per seed set: " + " / ".join(verdicts)}


def claim_view(
    claim: Mapping[str, Any], stability: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """One claim with its numbers formatted: verdict, kind, value, 95% interval and margin,
    per-seed values (each marked against the rule's condition), mean +- spread, why, and the
    stability badge when ``stability`` (the claim's ``stability.json`` row) is given."""
    values = claim.get("values")
    mean, spread = claim.get("mean"), claim.get("spread")
    ci = claim.get("ci")
    seeds = seed_marks(claim)
    verdict = verdict_of(claim)
    return {
        "seeds": seeds,
        "has_seed_rule": any(s["ok"] is not None for s in seeds),
        "seeds_passing": sum(1 for s in seeds if s["ok"]),
        "id": str(claim.get("id", "")),
        "statement": str(claim.get("statement", "")),
        "rule": str(claim.get("rule", "")),
        "verdict": verdict,
        "verdict_class": VERDICT_CLASS[verdict],
        "holds": verdict == "holds",
        "kind": "check" if claim.get("kind") == "check" else "finding",
        "environment_dependent": bool(claim.get("environment_dependent")),
        "why": str(claim.get("why") or ""),
        "value_text": fmt_value(claim.get("value")),
        "ci_text": (f"[{fmt_value(ci[0])}, {fmt_value(ci[1])}]"
                    if isinstance(ci, Sequence) and len(ci) == 2 else _MISSING),
        "margin_text": fmt_value(claim.get("margin")),
        "has_margin": claim.get("margin") is not None,
        "values_text": ", ".join(fmt_value(v) for v in values) if values else _MISSING,
        "mean_text": (
            f"{fmt_value(mean)} \u00b1 {fmt_value(spread)}" if mean is not None else _MISSING
        ),
        "stability": stability_badge(stability),
        "bar": interval_bar(claim, verdict),
    }


def count_claims(claims: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Verdict counts of the findings, with checks counted apart (claim views or dicts)."""
    out = {"n_hold": 0, "n_fail": 0, "n_inconclusive": 0, "n_checks": 0, "n_checks_failing": 0}
    key = {"holds": "n_hold", "does not hold": "n_fail", "inconclusive": "n_inconclusive"}
    for c in claims:
        if c.get("kind") == "check":
            out["n_checks"] += 1
            out["n_checks_failing"] += verdict_of(c) != "holds"
        else:
            out[key[verdict_of(c)]] += 1
    return out


def sum_counts(counts: Sequence[Mapping[str, int]]) -> dict[str, int]:
    """Add up :func:`count_claims` dicts (for a question or the whole site)."""
    total = count_claims([])
    for c in counts:
        for k in total:
            total[k] += int(c.get(k, 0))
    return total


def _stability_view(stability: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not stability:
        return None
    share = stability.get("stability")
    return {
        "text": "no claims counted" if share is None else f"{share:.0%}",
        "agreeing": stability.get("agreeing", 0),
        "counted": stability.get("counted", 0),
        "sets": len(stability.get("runs", [])),
        "verify_id": str(stability.get("verify_id", "")),
        "ok": share is not None and share >= 0.95,
    }


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _table_view(name: str, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Columns in first-seen order; a column is right-aligned when all its values are numbers."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    heads: list[dict[str, Any]] = []
    for col in columns:
        present = [row[col] for row in rows if row.get(col) is not None]
        heads.append({"name": col, "numeric": bool(present) and all(map(_is_number, present))})
    cells = [
        [{"text": fmt_value(row.get(c["name"])), "numeric": c["numeric"]} for c in heads]
        for row in rows
    ]
    return {"name": name, "columns": heads, "rows": cells}


SECTIONS_TABLE = "sections"


def _words(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return str(value or "").split()


def sections_view(
    result: Mapping[str, Any],
    claims: Sequence[Mapping[str, Any]],
    figures: Sequence[Mapping[str, Any]],
) -> tuple[list[dict[str, Any]], list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """Group claim and figure views by the run's ``sections`` table (see the module docstring).

    Returns ``(sections, other_claims, other_figures)``: each section is ``{"name",
    "claims", "counts", "figures", "not_stated", "cpu_s"}``; a claim or figure goes to the
    first section naming it, the rest keep the run's order. Without a ``sections`` table:
    ``([], claims, figures)``.
    """
    rows = (result.get("tables") or {}).get(SECTIONS_TABLE) or []
    if not rows:
        return [], list(claims), list(figures)
    by_id = {str(c["id"]): c for c in claims}
    by_name = {str(f["name"]): f for f in figures}
    used_c: set[str] = set()
    used_f: set[str] = set()
    out = []
    for row in rows:
        ids = [i for i in _words(row.get("claims")) if i not in used_c]
        names = [n for n in _words(row.get("figures")) if n in by_name and n not in used_f]
        used_c.update(ids)
        used_f.update(names)
        out.append({
            "name": str(row.get("section", "")),
            "claims": [by_id[i] for i in ids if i in by_id],
            "counts": count_claims([by_id[i] for i in ids if i in by_id]),
            "not_stated": [i for i in ids if i not in by_id],
            "figures": [by_name[n] for n in names],
            "cpu_s": fmt_seconds(row["cpu_s"]) if row.get("cpu_s") is not None else "",
        })
    return (out, [c for c in claims if str(c["id"]) not in used_c],
            [f for f in figures if str(f["name"]) not in used_f])


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
    stability: Mapping[str, Any] | None = None,
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
    stability : mapping, optional
        The lab's newest ``stability.json`` (from ``deepdojo verify``): each claim then gets
        a stability badge, and the run a stability line.
    """
    rows = {str(r.get("id")): r for r in (stability or {}).get("claims", [])}
    claims = [claim_view(c, rows.get(str(c.get("id")))) for c in result.get("claims", [])]
    timings = result.get("timings", {}) or {}
    figures = [
        {
            "name": str(f.get("name", "")),
            "caption": str(f.get("caption") or ""),
            "src": _figure_src(str(f.get("path", "")), fig_base, fig_exists),
        }
        for f in result.get("figures", [])
    ]
    sections, other_claims, other_figures = sections_view(result, claims, figures)
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
        "findings": [c for c in claims if c["kind"] == "finding"],
        "checks": [c for c in claims if c["kind"] == "check"],
        "counts": count_claims(claims),
        "stability": _stability_view(stability),
        "figures": figures,
        "sections": sections,
        "other_claims": other_claims,
        "other_figures": other_figures,
        "metrics": [(k, fmt_value(v)) for k, v in (result.get("metrics") or {}).items()],
        "tables": [_table_view(k, v) for k, v in (result.get("tables") or {}).items()
                   if not (sections and k == SECTIONS_TABLE)],  # shown as the sections
        "notes": [str(n) for n in result.get("notes", [])],
        "config": [
            (k, "None" if v is None else fmt_value(v))
            for k, v in (result.get("config") or {}).items()
        ],
        "overrides": list((result.get("overrides") or {}).keys()),
        "environment": _environment_rows(result.get("environment") or {}),
        "timings": [(f"timings.{k}", fmt_seconds(v)) for k, v in timings.items()],
        "question_links": [],
        "history": None,
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
    stability: Mapping[str, Any] | None = None,
    history: Mapping[str, Any] | None = None,
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
    fig_exists, stability : optional
        See :func:`run_view`.
    history : mapping, optional
        The lab's run history (:func:`deepdojo.report.history.history_view`), shown as a
        table of how values and verdicts moved between runs.
    """
    run = run_view(result, fig_exists=fig_exists, stability=stability)
    run["question_links"] = [dict(q) for q in question_links]
    run["history"] = history
    template = template_env().get_template("run.html")
    return template.render(run=run, root=root, generated=now_text())
