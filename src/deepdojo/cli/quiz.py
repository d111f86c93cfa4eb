"""``deepdojo quiz``: answer the questions in the terminal, then see ours and the evidence.

For each question the quiz reads your answer (one line; Enter alone skips), shows our short
answer, its key points and the verdicts of the latest runs of its labs, and asks whether you
got it (``y``/``n``). The score is appended to a JSON history file (atomic write):
``~/.deepdojo/quiz.json`` unless ``--score-file`` says otherwise. End of input (Ctrl-D) stops
the quiz and records what was answered. ``--reveal`` shows every answer without asking and
records nothing (for reading, or for scripts).
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from deepdojo.cli.app import UsageError, app, handles_errors, out
from deepdojo.cli.ask import print_evidence

DEFAULT_SCORE_FILE = Path.home() / ".deepdojo" / "quiz.json"


def parse_questions(text: str | None) -> list[str]:
    """``"Q01,q9"`` -> ``["Q01", "Q09"]``; ``None`` -> every question."""
    from deepdojo.answers import QUESTIONS
    from deepdojo.answers.bank import normalize_qid

    if text is None:
        return list(QUESTIONS)
    ids = []
    for part in text.split(","):
        try:
            ids.append(normalize_qid(part))
        except ValueError:
            raise UsageError(f"--questions takes ids Q01..Q20 separated by commas, got "
                             f"{part.strip()!r}") from None
    return list(dict.fromkeys(ids))


def _read(prompt: str) -> str | None:
    """One line of input after ``prompt``; None at end of input."""
    out.print(prompt, end="", markup=False, highlight=False)
    try:
        return input()
    except EOFError:
        out.print()
        return None


def _show_evidence(qid: str, labs: list[Any]) -> None:
    from deepdojo.answers import QUESTIONS

    q = QUESTIONS[qid]
    out.print(f"[bold]Our answer:[/] {escape(q.answer)}", soft_wrap=True)
    for point in q.key_points:
        out.print(f"  - {escape(point)}", soft_wrap=True)
    print_evidence(qid, labs, indent="  ")


def record_score(path: Path, entry: dict[str, Any]) -> None:
    """Append ``entry`` to the JSON list in ``path`` (created if missing), atomically."""
    from deepdojo.utils import atomic_write_text

    history: list[Any] = []
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            history = data if isinstance(data, list) else []
        except ValueError:
            history = []  # a broken history is replaced, not fatal
    history.append(entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(history, indent=1) + "\n")


@app.command("quiz")
@handles_errors
def quiz_cmd(
    questions: str | None = typer.Option(None, "--questions", metavar="IDS",
                                         help="Ids to ask, e.g. Q01,Q08 (default: all)."),
    shuffle: bool = typer.Option(False, "--shuffle", help="Ask in random order."),
    reveal: bool = typer.Option(False, "--reveal",
                                help="Show each answer without asking; record no score."),
    runs: Path = typer.Option(Path("runs"), "--runs", metavar="DIR",
                              help="Folder with lab runs (the evidence shown)."),
    score_file: Path = typer.Option(DEFAULT_SCORE_FILE, "--score-file", metavar="FILE",
                                    help="JSON file the score is appended to."),
) -> None:
    """Quiz yourself on the twenty questions; see our answer and the evidence after each."""
    from deepdojo.answers import QUESTIONS
    from deepdojo.cli.ask import gather_evidence

    ids = parse_questions(questions)
    if score_file.exists() and not score_file.is_file():
        raise UsageError(f"--score-file {str(score_file)!r} must be a file, not a folder")
    if shuffle:
        random.shuffle(ids)
    _, labs = gather_evidence(runs)
    right: list[str] = []
    asked: list[str] = []
    for n, qid in enumerate(ids, start=1):
        out.print(f"\n[bold]{n}/{len(ids)}  {qid}  {escape(QUESTIONS[qid].question)}[/]")
        if not reveal and _read("Your answer (Enter to skip): ") is None:
            break
        _show_evidence(qid, labs.get(qid, []))
        if reveal:
            continue
        verdict = _read("Did you get it? [y/n] ")
        if verdict is None:
            break
        asked.append(qid)
        if verdict.strip().lower() in ("y", "yes"):
            right.append(qid)
    if reveal:
        return
    out.print(f"\n[bold]score: {len(right)}/{len(asked)}[/]")
    if asked:
        record_score(score_file, {"when": datetime.now(UTC).isoformat(timespec="seconds"),
                                  "asked": asked, "right": right,
                                  "score": len(right), "total": len(asked)})
        out.print(f"[dim]recorded in {score_file}[/]")
