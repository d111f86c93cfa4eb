"""The ``deepdojo`` command line: list and run labs, build the evidence site, browse answers.

Every command has ``--help``. Bad input (unknown lab, bad ``--set``, missing runs) exits with
code 2 and one readable line; ``deepdojo --debug ...`` shows the traceback instead.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    help="deepdojo: the deep-learning interview canon as code and measured experiments.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
out = Console()
err = Console(stderr=True)
_state = {"debug": False}


class UsageError(ValueError):
    """A user-facing problem with the command line."""


def _handles_errors(fn: F) -> F:
    """Turn user errors into one line on stderr and exit code 2 (traceback with --debug)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (ValueError, TypeError, FileNotFoundError, KeyError) as e:
            if _state["debug"]:
                raise
            message = e.args[0] if isinstance(e, KeyError) and e.args else e
            err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    _state["debug"] = debug


def _verdict(holds: bool) -> str:
    return "[green]holds[/]" if holds else "[red]does not hold[/]"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def _claims_table(title: str, claims: list[dict[str, Any]]) -> Table:
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("claim", style="bold")
    table.add_column("statement")
    table.add_column("value", justify="right")
    table.add_column("verdict")
    for c in claims:
        spread = "" if c.get("spread") is None else f" ±{c['spread']:.2g}"
        table.add_row(c["id"], c["statement"], _fmt(c["value"]) + spread, _verdict(c["holds"]))
    return table


@app.command("labs")
@_handles_errors
def labs_cmd() -> None:
    """List the registered labs with their question ids and one line each."""
    from deepdojo.labs import load_all

    table = Table(show_header=True)
    table.add_column("lab", style="bold")
    table.add_column("questions")
    table.add_column("what it measures")
    for name, spec in sorted(load_all().items()):
        table.add_row(name, ", ".join(spec.questions), spec.summary)
    out.print(table)


@app.command("run")
@_handles_errors
def run_cmd(
    labs: list[str] = typer.Argument(None, help="Lab names (see `deepdojo labs`)."),
    all_labs: bool = typer.Option(False, "--all", help="Run every registered lab."),
    scale: str = typer.Option("quick", "--scale", help="smoke | quick | full"),
    seed: int = typer.Option(0, "--seed", help="Base seed; noisy claims use seed, seed+1, ..."),
    set_: list[str] = typer.Option(
        None, "--set", help="Config override key=value (repeatable), type-checked."
    ),
    out_dir: Path = typer.Option(Path("runs"), "--out", help="Folder for run results."),
    device: str = typer.Option("cpu", "--device", help="cpu | cuda"),
    threads: int = typer.Option(1, "--threads", help="torch CPU threads per lab (0: torch's)."),
) -> None:
    """Run labs and write runs/<lab>/<run-id>/ (result.json, figures, index.html)."""
    from deepdojo.labs import get_lab, load_all, make_config, parse_overrides, run_lab

    if scale not in ("smoke", "quick", "full"):
        raise UsageError(f"--scale must be smoke, quick or full, got {scale!r}")
    if device not in ("cpu", "cuda"):
        raise UsageError(f"--device must be cpu or cuda, got {device!r}")
    names = list(labs or [])
    if all_labs and names:
        raise UsageError("give lab names or --all, not both")
    if not all_labs and not names:
        raise UsageError("name at least one lab (see `deepdojo labs`) or pass --all")
    names = sorted(load_all()) if all_labs else names
    overrides = parse_overrides(set_ or [])
    if overrides and len(names) > 1:
        raise UsageError("--set applies to one lab's config; run one lab at a time with --set")
    for name in names:  # fail fast on a typo or a bad --set before running anything
        make_config(get_lab(name).config, overrides)
    failed = 0
    for name in names:
        out.print(f"[bold]running {name}[/] (scale={scale}, seed={seed}) ...")
        result = run_lab(
            name,
            scale=scale,
            seed=seed,
            overrides=overrides,
            out=out_dir,
            device=device,
            threads=threads or None,
        )
        seconds = result.result["timings"]["total_s"]
        out.print(_claims_table(f"{name}: {seconds:.1f} s", result.claims))
        out.print(f"  written to {result.path / 'index.html'}")
        failed += sum(not c["holds"] for c in result.claims)
    if failed:
        out.print(f"{failed} claim(s) did not hold: see the reports for the measured values.")


@app.command("report")
@_handles_errors
def report_cmd(
    runs: Path = typer.Option(Path("runs"), "--runs", help="Folder with lab runs."),
    out_dir: Path = typer.Option(Path("site"), "--out", help="Folder for the static site."),
) -> None:
    """Build the evidence site from the latest run of each lab; prints site/index.html."""
    from deepdojo.report import build_site

    index = build_site(runs_dir=runs, out_dir=out_dir)
    out.print(f"evidence site: {Path(index).resolve()}")


@app.command("questions")
@_handles_errors
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
@_handles_errors
def show_cmd(
    qid: str = typer.Argument(..., help="Question id, e.g. Q09."),
    runs: Path = typer.Option(Path("runs"), "--runs", help="Folder with lab runs."),
) -> None:
    """Show a question, our short answer and the claims of the latest runs."""
    from deepdojo.report import question_summary

    summary = question_summary(qid.upper(), runs)
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
        out.print(_claims_table(title, lab["claims"]))
        if lab["scale"] == "smoke":
            out.print("[yellow]smoke scale checks plumbing only: these verdicts are not "
                      f"evidence; run `deepdojo run {lab['name']}` for quick scale[/]")


@app.command("tune")
@_handles_errors
def tune_cmd(
    model: str = typer.Option("mlp", "--model", help="Registered model (mlp, cnn, resnet, ...)."),
    data: str = typer.Option("digits", "--data", help="digits | mnist1d | breast_cancer"),
    trials: int = typer.Option(30, "--trials", help="Finished trials the study should hold."),
    workers: int = typer.Option(1, "--workers", help="Worker processes sharing the storage."),
    storage: str = typer.Option(
        "sqlite:///runs/search.db", "--storage", help="Optuna storage URL (sqlite, postgresql)."
    ),
    study: str = typer.Option("", "--study", help="Study name (default: MODEL-DATA)."),
    sampler: str = typer.Option("tpe", "--sampler", help="tpe | random | cmaes"),
    pruner: str = typer.Option("median", "--pruner", help="median | hyperband | none"),
    epochs: int = typer.Option(10, "--epochs", help="Training epochs per trial."),
    seed: int = typer.Option(0, "--seed", help="Training seed: keep it the same on every machine."),
    sampler_seed: int = typer.Option(
        -1, "--sampler-seed", help="Sampler seed (default: --seed); differ it per machine."
    ),
    out_dir: Path = typer.Option(
        Path("runs/search"), "--out", help="Folder for the summary and plots."
    ),
) -> None:
    """Search hyperparameters on Optuna (resumable; several workers share one storage)."""
    import json

    from deepdojo.search import ModelObjective, tune

    for flag, value in (("--trials", trials), ("--workers", workers), ("--epochs", epochs)):
        if value < 1:
            raise UsageError(f"{flag} must be a positive integer, got {value}")
    objective = ModelObjective(model, data, epochs=epochs, seed=seed)
    name = study or f"{model}-{data}"
    result = tune(
        objective,
        n_trials=trials,
        storage=storage,
        study_name=name,
        sampler=sampler,
        pruner=None if pruner.lower() == "none" else pruner,
        workers=workers,
        seed=seed if sampler_seed < 0 else sampler_seed,
        progress="auto",
    )
    result.save(out_dir / name)
    out.print_json(json.dumps(result.summary()))
    out.print(f"summary and plots: {(out_dir / name).resolve()}")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``deepdojo`` console script and ``python -m deepdojo``."""
    app(args=argv if argv is not None else sys.argv[1:], prog_name="deepdojo")


if __name__ == "__main__":  # pragma: no cover
    main()
