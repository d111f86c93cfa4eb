"""Gather the evidence for each question: registered labs and their latest runs.

Which labs answer a question comes from the lab registry (``LABS[name].questions``); a run
whose lab is no longer registered still counts for the questions its ``result.json`` lists.
Run files are read by :mod:`deepdojo.report.results`: a broken one costs one warning line
naming it, never the whole report.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepdojo.answers import QUESTIONS, get_question
from deepdojo.labs import LABS, LabError, load_all
from deepdojo.labs import claim_counts as verdict_counts
from deepdojo.report.results import (
    Warn,
    default_warn,
    lab_runs,
    latest_results,
    latest_stability,
)


@dataclass
class LabEvidence:
    """One lab as seen by the report: registry entry and (maybe) its latest run."""

    name: str
    questions: tuple[str, ...]
    summary: str
    registered: bool
    run_dir: Path | None = None
    result: dict[str, Any] | None = None
    stability: dict[str, Any] | None = None  # newest verify run at the run's scale
    runs: list[tuple[Path, dict[str, Any]]] = field(default_factory=list)  # newest first


def check_runs_dir(runs_dir: str | Path) -> Path:
    """Return ``runs_dir`` as a Path; a missing folder is a :class:`LabError` (a ValueError)."""
    path = Path(runs_dir)
    if path.exists() and not path.is_dir():
        raise LabError(f"runs folder {str(path)!r} is a file, not a folder of lab runs")
    if not path.is_dir():
        raise LabError(
            f"runs folder {str(path)!r} does not exist; run a lab first "
            f"(deepdojo run --all --out {path})"
        )
    return path


def gather(runs_dir: str | Path, warn: Warn | None = None) -> dict[str, LabEvidence]:
    """Every registered lab plus every lab with a run under ``runs_dir``, by name.

    A missing ``runs_dir`` simply means no lab has run; callers that need it to exist use
    :func:`check_runs_dir` first. ``warn(message)`` gets one line per run file that could
    not be used, or only partly (default: a :class:`~deepdojo.report.results.ResultWarning`).
    """
    warn = warn or default_warn
    load_all()
    labs = {
        name: LabEvidence(name, tuple(spec.questions), spec.summary, registered=True)
        for name, spec in LABS.items()
    }
    for name, (run_dir, result) in latest_results(Path(runs_dir), warn).items():
        if name not in labs:  # a run of a lab that is no longer registered
            qids = tuple(q for q in result.get("questions", []) if q in QUESTIONS)
            labs[name] = LabEvidence(name, qids, str(result.get("summary", "")), False)
        labs[name].run_dir = run_dir
        labs[name].result = result
        labs[name].stability = latest_stability(run_dir.parent, result.get("scale"), warn)
        # every run of the lab, for its history; broken files were warned about above
        labs[name].runs = [(d, r) for d, r in lab_runs(run_dir.parent, lambda message: None)
                           if (r.get("lab") or d.parent.name) == name]
    return dict(sorted(labs.items()))


def labs_for(qid: str, labs: dict[str, LabEvidence]) -> list[LabEvidence]:
    """The labs answering question ``qid``, sorted by name."""
    return [lab for lab in labs.values() if qid in lab.questions]


def api_available(name: str) -> bool:
    """Whether the dotted name ``deepdojo.x.y`` resolves to a module or attribute now."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        except Exception:  # a module broken at import is not available either
            return False
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return False
        return True
    return False


def claim_counts(result: dict[str, Any] | None) -> tuple[int, int]:
    """``(holding, not holding)`` among a run's claims (``(0, 0)`` without a run)."""
    claims = (result or {}).get("claims", [])
    held = sum(bool(c.get("holds")) for c in claims)
    return held, len(claims) - held


def question_summary(
    qid: str, runs_dir: str | Path = "runs", warn: Warn | None = None
) -> dict[str, Any]:
    """Question, our answer and the claims of the latest run of each lab answering it.

    Used by ``deepdojo show Q09``. A missing ``runs_dir`` is not an error here: the labs are
    then listed as not run (the CLI refuses a missing ``--runs`` it was given). ``warn``: see
    :func:`gather`.

    Returns
    -------
    dict
        ``id, title, question, answer, key_points, api`` and ``labs``: a list of dicts with
        ``name, summary, registered, ran`` and, when it ran, ``run_dir, run_id, scale,
        started, command, total_s, holding, not_holding, counts`` (verdicts of the findings,
        checks apart), ``stability`` (the newest verify run's share, or None) and ``claims``
        (the result.json claim records).
    """
    question = get_question(qid)
    labs = []
    for lab in labs_for(question.id, gather(runs_dir, warn)):
        entry: dict[str, Any] = {
            "name": lab.name,
            "summary": lab.summary,
            "registered": lab.registered,
            "ran": lab.result is not None,
        }
        if lab.result is not None:
            held, failed = claim_counts(lab.result)
            entry |= {
                "run_dir": str(lab.run_dir),
                "run_id": lab.result.get("run_id"),
                "scale": lab.result.get("scale"),
                "started": lab.result.get("started"),
                "command": lab.result.get("command"),
                "total_s": (lab.result.get("timings") or {}).get("total_s"),
                "holding": held,
                "not_holding": failed,
                "counts": verdict_counts(lab.result.get("claims", [])),
                "stability": (lab.stability or {}).get("stability"),
                "claims": list(lab.result.get("claims", [])),
            }
        labs.append(entry)
    return {
        "id": question.id,
        "title": question.title,
        "question": question.question,
        "answer": question.answer,
        "key_points": list(question.key_points),
        "api": list(question.api),
        "labs": labs,
    }
