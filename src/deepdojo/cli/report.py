"""``deepdojo report``, ``questions`` and ``show``: the evidence site and the answers."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from deepdojo.cli.app import app, check_out_dir, claims_table, err, handles_errors, out


def warn(message: str) -> None:
    """One ``warning: <file>: <problem>`` line on stderr per run file the report could not
    fully use."""
    err.print(f"warning: {message}", markup=False, highlight=False, soft_wrap=True)


@app.command("report")
@handles_errors
def report_cmd(
    runs: Path = typer.Option(Path("runs"), "--runs", metavar="DIR", help="Folder with lab runs."),
    out_dir: Path = typer.Option(
        Path("site"), "--out", metavar="DIR", help="Folder for the static site."
    ),
) -> None:
    """Build the evidence site from the latest run of each lab; prints site/index.html."""
    from deepdojo.report import build_site
    from deepdojo.report.evidence import check_runs_dir

    check_runs_dir(runs)
    check_out_dir(out_dir)
    index = build_site(runs_dir=runs, out_dir=out_dir, warn=warn)
    out.print(f"evidence site: {Path(index).resolve()}")


@app.command("questions")
@handles_errors
def questions_cmd() -> None:
    """List the twenty questions (Q01..Q20) and the labs that answer them."""
    from deepdojo.answers import QUESTIONS
    from deepdojo.labs import load_all

    labs = load_all()
    table = Table(show_header=True)
    table.add_column("id", style="bold")
    table.add_column("question")
    table.add_column("labs")
    for qid, q in QUESTIONS.items():
        names = [n for n, s in sorted(labs.items()) if qid in s.questions]
        table.add_row(qid, q.question, ", ".join(names) or "[dim]no lab yet[/]")
    out.print(table)


@app.command("show")
@handles_errors
def show_cmd(
    qid: str = typer.Argument(..., metavar="QID", help="Question id, e.g. Q09."),
    runs: Path | None = typer.Option(
        None, "--runs", metavar="DIR",
        help="Folder with lab runs; must exist when given.  [default: runs, if it exists]",
    ),
) -> None:
    """Show a question, our short answer and the claims of the latest runs."""
    from deepdojo.report import question_summary
    from deepdojo.report.evidence import check_runs_dir

    if runs is not None:  # a folder named on the command line must exist (a typo is an error)
        check_runs_dir(runs)
    summary = question_summary(qid.upper(), runs or Path("runs"), warn=warn)
    out.print(f"[bold]{summary['id']}  {summary['question']}[/]\n")
    out.print(summary["answer"], soft_wrap=True)
    if not summary["labs"]:
        out.print("\n[dim]No lab answers this question yet.[/]")
    for lab in summary["labs"]:
        if lab.get("claims") is None:
            out.print(f"\n[dim]{lab['name']}: no run yet — `deepdojo run {lab['name']}`[/]")
            continue
        out.print()
        title = f"{lab['name']} (run {lab['run_id']}, scale {lab['scale']})"
        out.print(claims_table(title, lab["claims"]))
        if lab.get("stability") is not None:
            out.print(f"  verdict stability over disjoint seed sets: {lab['stability']:.0%}")
        if lab["scale"] == "smoke":
            out.print("[yellow]smoke scale checks plumbing only: these verdicts are not "
                      f"evidence; run `deepdojo run {lab['name']}` for quick scale[/]")
