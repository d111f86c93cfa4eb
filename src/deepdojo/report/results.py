"""Read run files for the report without trusting them: each problem is one warning line.

A ``result.json`` or ``stability.json`` may be truncated (a disk filled up), hand-edited, or
written by another version. The report shows what it can and says what it could not, in one
line naming the file, instead of stopping on the first bad file:

- a file that is not valid JSON, or whose top level is not an object, is skipped (the lab's
  next newest run is used, if there is one);
- a field of the wrong type is dropped (shown as missing); a claim that is not an object is
  skipped; a claim without ``id`` or ``statement`` is shown with a placeholder.

``warn`` receives each message (``"<file>: <problem>"``); by default it is
:func:`warnings.warn` with :class:`ResultWarning`.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

Warn = Callable[[str], None]

VERDICTS = ("holds", "does not hold", "inconclusive")
KINDS = ("finding", "check")
# result.json fields by the JSON type the report needs; anything else is dropped with a warning
_OBJECT_FIELDS = ("config", "overrides", "metrics", "tables", "timings", "environment")
_LIST_FIELDS = ("claims", "figures", "questions", "notes", "seeds")
_TEXT_FIELDS = ("lab", "summary", "run_id", "scale", "device", "command", "started")
# claim fields: numbers, lists of numbers, free text
_CLAIM_NUMBERS = ("value", "mean", "spread", "margin")
_CLAIM_NUMBER_LISTS = ("values", "values_a", "values_b", "ci")
_CLAIM_TEXT = ("rule", "why", "metric")


class ResultWarning(UserWarning):
    """A run file the report could only partly use (or not at all); the message names it."""


def default_warn(message: str) -> None:
    """Issue ``message`` as a :class:`ResultWarning`."""
    warnings.warn(message, ResultWarning, stacklevel=3)


def _short(value: Any, limit: int = 40) -> str:
    """``repr(value)`` on one line, cut to ``limit`` characters."""
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            int: "a number", float: "a number", type(None): "null"}.get(type(value), "?")


def is_number(value: Any) -> bool:
    """An int or float (JSON number), not a bool; NaN and infinities count (shown as such)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def read_json_object(path: Path, warn: Warn) -> dict[str, Any] | None:
    """The JSON object in ``path``, or None after one warning (unreadable, invalid, not an
    object)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        warn(f"{path}: cannot be read ({e.strerror or e}); skipped")
        return None
    except ValueError as e:  # JSONDecodeError, and bytes that are not UTF-8
        warn(f"{path}: not valid JSON ({' '.join(str(e).split())}); skipped")
        return None
    if not isinstance(data, dict):
        warn(f"{path}: holds {_type_name(data)}, not a JSON object; skipped")
        return None
    return data


def check_result(data: dict[str, Any], path: Path, warn: Warn) -> dict[str, Any]:
    """A copy of a result.json object the report can render: bad fields dropped, each with a
    warning naming ``path``."""
    result = dict(data)
    for key, wanted, empty in ([(k, dict, {}) for k in _OBJECT_FIELDS]
                               + [(k, list, []) for k in _LIST_FIELDS]
                               + [(k, str, "") for k in _TEXT_FIELDS]):
        value = result.get(key)
        if value is not None and not isinstance(value, wanted):
            warn(f"{path}: {key!r} is {_type_name(value)} ({_short(value)}), not "
                 f"{_type_name(empty)}; left out")
            result[key] = empty
    result["questions"] = [q for q in result.get("questions") or [] if isinstance(q, str)]
    result["figures"] = [f for f in result.get("figures") or [] if isinstance(f, dict)]
    result["tables"] = {
        str(name): [r for r in rows if isinstance(r, dict)]
        for name, rows in (result.get("tables") or {}).items() if isinstance(rows, list)
    }
    claims = []
    for i, claim in enumerate(result.get("claims") or []):
        if not isinstance(claim, dict):
            warn(f"{path}: claim {i + 1} is {_type_name(claim)} ({_short(claim)}), not an "
                 "object; skipped")
            continue
        claims.append(check_claim(claim, i, path, warn))
    result["claims"] = claims
    return result


def check_claim(claim: dict[str, Any], index: int, path: Path, warn: Warn) -> dict[str, Any]:
    """A copy of claim number ``index`` (0-based) that every report view can format."""
    c = dict(claim)
    if not isinstance(c.get("id"), str) or not c["id"]:
        warn(f"{path}: claim {index + 1} has no 'id'; shown as 'claim-{index + 1}'")
        c["id"] = f"claim-{index + 1}"
    name = f"claim {c['id']!r}"
    if not isinstance(c.get("statement"), str):
        problem = ("has no 'statement'" if c.get("statement") is None
                   else f"has a 'statement' that is {_type_name(c['statement'])}")
        warn(f"{path}: {name} {problem}; shown without one")
        c["statement"] = "(no statement in result.json)"
    for key in _CLAIM_NUMBERS:
        if c.get(key) is not None and not is_number(c[key]):
            warn(f"{path}: {name}: {key!r} is not a number ({_short(c[key])}); shown as missing")
            c[key] = None
    for key in _CLAIM_NUMBER_LISTS:
        value = c.get(key)
        if value is None:
            continue
        if not isinstance(value, list) or not all(map(is_number, value)) or (
                key == "ci" and len(value) != 2):
            what = "a pair of numbers" if key == "ci" else "a list of numbers"
            warn(f"{path}: {name}: {key!r} is not {what} ({_short(value)}); shown as missing")
            c[key] = None
    if c.get("seed_holds") is not None and not (
            isinstance(c["seed_holds"], list)
            and all(isinstance(v, bool) for v in c["seed_holds"])):
        warn(f"{path}: {name}: 'seed_holds' is not a list of booleans; left out")
        c["seed_holds"] = None
    verdict = c.get("verdict")
    if verdict not in (None, "", *VERDICTS):
        warn(f"{path}: {name}: unknown verdict {_short(verdict)}; judged from 'holds'")
        c["verdict"] = ""
    if c.get("kind") is not None and c["kind"] not in KINDS:
        warn(f"{path}: {name}: unknown kind {_short(c['kind'])}; shown as a finding")
        c["kind"] = "finding"
    for key in _CLAIM_TEXT:
        if c.get(key) is not None and not isinstance(c[key], str):
            c[key] = str(c[key])
    return c


def latest_results(runs_dir: Path, warn: Warn) -> dict[str, tuple[Path, dict[str, Any]]]:
    """The newest readable run of each lab under ``runs_dir``: ``{lab: (run_dir, result)}``.

    Runs are ``<runs_dir>/<lab>/<run-id>/result.json`` (temp folders starting with ``.`` are
    skipped); newest by ``started``, then by folder name. A file that cannot be used is
    skipped with one warning, so an older run of the lab (if any) takes its place.
    """
    found: dict[str, tuple[tuple[str, str], Path, dict[str, Any]]] = {}
    if not runs_dir.is_dir():
        return {}
    for path in sorted(runs_dir.glob("*/*/result.json")):
        if path.parent.name.startswith("."):
            continue
        data = read_json_object(path, warn)
        if data is None:
            continue
        result = check_result(data, path, warn)
        lab = result.get("lab") or path.parent.parent.name
        key = (str(result.get("started") or ""), path.parent.name)
        if lab not in found or key > found[lab][0]:
            found[lab] = (key, path.parent, result)
    return {lab: (run_dir, result) for lab, (_, run_dir, result) in sorted(found.items())}


def lab_runs(lab_dir: Path, warn: Warn) -> list[tuple[Path, dict[str, Any]]]:
    """Every readable run directly under ``lab_dir``, newest first (by ``started``, then
    folder name); verify runs and temp folders are not among them."""
    runs = []
    for path in sorted(lab_dir.glob("*/result.json")):
        if path.parent.name.startswith("."):
            continue
        data = read_json_object(path, warn)
        if data is not None:
            runs.append((path.parent, check_result(data, path, warn)))
    runs.sort(key=lambda r: (str(r[1].get("started") or ""), r[0].name), reverse=True)
    return runs


def latest_stability(lab_dir: Path, scale: str | None, warn: Warn) -> dict[str, Any] | None:
    """The newest usable ``verify-*/stability.json`` under ``lab_dir`` at ``scale``."""
    best: tuple[str, dict[str, Any]] | None = None
    for path in sorted(lab_dir.glob("verify-*/stability.json")):
        data = read_json_object(path, warn)
        if data is None or (scale is not None and data.get("scale") != scale):
            continue
        data = _check_stability(data, path, warn)
        key = str(data.get("started", ""))
        if best is None or key > best[0]:
            best = (key, data)
    return None if best is None else best[1]


def _check_stability(data: dict[str, Any], path: Path, warn: Warn) -> dict[str, Any]:
    out = dict(data)
    share = out.get("stability")
    if share is not None and not (is_number(share) and math.isfinite(share)):
        warn(f"{path}: 'stability' is not a number ({_short(share)}); left out")
        out["stability"] = None
    rows = out.get("claims")
    if rows is not None and not isinstance(rows, list):
        warn(f"{path}: 'claims' is {_type_name(rows)}, not a list; left out")
        rows = []
    out["claims"] = [r for r in rows or [] if isinstance(r, dict)]
    for key in ("agreeing", "counted"):
        if not is_number(out.get(key, 0)):
            out[key] = 0
    if not isinstance(out.get("runs", []), list):
        out["runs"] = []
    return out
