"""``deepdojo ask "why does zero init fail"``: the questions that match, with evidence.

The answer bank, the labs' summaries and (when ``runs/`` holds runs) their claim statements
are ranked against the typed question (:mod:`deepdojo.report.search`); the best matches are
printed with their short answer and the verdicts of their labs' latest claims.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from deepdojo.cli.app import UsageError, app, handles_errors, out, verdict_text

BACKENDS = ("tfidf", "encoder")
MAX_CLAIMS = 5  # findings shown per lab (checks are left to `deepdojo show`)


def short_answer(text: str, sentences: int = 2) -> str:
    """The first ``sentences`` sentences of ``text``."""
    parts = re.split(r"(?<=[.!?])\s+", text.strip())
    return " ".join(parts[:sentences])


def gather_evidence(runs: Path) -> tuple[dict[str, list[str]], dict[str, list[Any]]]:
    """``(lab summaries by qid, labs by qid)`` from the registry and the latest runs."""
    from deepdojo.report.evidence import gather

    summaries: dict[str, list[str]] = defaultdict(list)
    labs: dict[str, list[Any]] = defaultdict(list)
    for lab in gather(runs, warn=lambda message: None).values():
        for qid in lab.questions:
            summaries[qid].append(lab.summary)
            labs[qid].append(lab)
    return summaries, labs


def build_ranker(backend: str, runs: Path) -> tuple[Any, dict[str, list[Any]]]:
    """A fitted ranker over the answer bank and claim statements, and the labs by question."""
    from deepdojo.report.search import make_ranker, question_docs

    summaries, labs = gather_evidence(runs)
    claims = {qid: [str(c.get("statement", "")) for lab in ls if lab.result
                    for c in lab.result.get("claims", [])] for qid, ls in labs.items()}
    return make_ranker(backend, question_docs(claims, summaries)), labs


def print_evidence(qid: str, labs: list[Any], indent: str = "   ") -> None:
    """For each lab answering ``qid``: its latest run and up to :data:`MAX_CLAIMS` findings
    with their verdicts (or "not run yet")."""
    for lab in labs:
        if lab.result is None:
            out.print(f"{indent}[dim]{lab.name}: not run yet (deepdojo run {lab.name})[/]")
            continue
        scale = lab.result.get("scale", "")
        note = ": plumbing only, not evidence" if scale == "smoke" else ""
        out.print(f"{indent}lab [bold]{lab.name}[/] [dim](run {lab.result.get('run_id', '')}, "
                  f"{scale} scale{note})[/]")
        findings = [c for c in lab.result.get("claims", []) if c.get("kind") != "check"]
        for c in findings[:MAX_CLAIMS]:
            out.print(f"{indent}  {verdict_text(c)}: {escape(str(c.get('statement', '')))}",
                      soft_wrap=True)
        if len(findings) > MAX_CLAIMS:
            out.print(f"{indent}  [dim]... {len(findings) - MAX_CLAIMS} more: "
                      f"deepdojo show {qid}[/]")


def _print_match(rank_no: int, qid: str, score: float, labs: list[Any]) -> None:
    from deepdojo.answers import QUESTIONS

    q = QUESTIONS[qid]
    out.print(f"[bold]{rank_no}. {qid}  {escape(q.question)}[/]  [dim](match {score:.2f})[/]")
    out.print("   " + escape(short_answer(q.answer)), soft_wrap=True)
    print_evidence(qid, labs)
    out.print()


@app.command("ask")
@handles_errors
def ask_cmd(
    query: str = typer.Argument(..., metavar="QUESTION", help="Your question, in your words."),
    top: int = typer.Option(3, "--top", metavar="N", help="How many questions to show."),
    backend: str = typer.Option(
        "tfidf", "--backend", metavar="NAME",
        help="tfidf (default) or encoder (the bundled sentence encoder; text extra)."),
    runs: Path = typer.Option(Path("runs"), "--runs", metavar="DIR",
                              help="Folder with lab runs (verdicts of the latest runs)."),
) -> None:
    """Find the questions that match yours; show short answers and the labs' verdicts."""
    from deepdojo.report.search import rank

    if not query.strip():
        raise UsageError("QUESTION must not be empty")
    if not 1 <= top <= 20:
        raise UsageError(f"--top must be between 1 and 20, got {top}")
    if backend not in BACKENDS:
        raise UsageError(f"--backend must be tfidf or encoder, got {backend!r}")
    try:
        ranker, labs = build_ranker(backend, runs)
    except ImportError as e:
        raise UsageError(str(e)) from None
    for i, (qid, score) in enumerate(rank(ranker, query, top), start=1):
        _print_match(i, qid, score, labs.get(qid, []))
