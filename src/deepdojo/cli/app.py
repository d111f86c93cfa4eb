"""The shared pieces of the ``deepdojo`` command line: the Typer app, consoles, error handling.

Every command module (``run``, ``verify``, ``report``, ...) registers its commands on
:data:`app`. Bad input (unknown lab, bad ``--set``, missing runs) exits with code 2 and one
readable line; ``deepdojo --debug ...`` shows the traceback instead.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
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
state = {"debug": False}
SCALES = ("smoke", "quick", "full")


class UsageError(ValueError):
    """A user-facing problem with the command line."""


def handles_errors(fn: F) -> F:
    """Turn user errors into one line on stderr and exit code 2 (traceback with --debug)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (ValueError, TypeError, FileNotFoundError, KeyError) as e:
            if state["debug"]:
                raise
            message = e.args[0] if isinstance(e, KeyError) and e.args else e
            err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    state["debug"] = debug


def check_scale(scale: str) -> None:
    if scale not in SCALES:
        raise UsageError(f"--scale must be smoke, quick or full, got {scale!r}")


def check_device(device: str) -> None:
    if device not in ("cpu", "cuda"):
        raise UsageError(f"--device must be cpu or cuda, got {device!r}")


_VERDICT_STYLE = {"holds": "[green]holds[/]", "does not hold": "[red]does not hold[/]",
                  "inconclusive": "[yellow]inconclusive[/]"}


def verdict_text(claim: dict[str, Any]) -> str:
    """The claim's verdict, coloured (old results have only ``holds``)."""
    verdict = claim.get("verdict") or ("holds" if claim.get("holds") else "does not hold")
    return _VERDICT_STYLE.get(verdict, verdict)


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def claims_table(title: str, claims: list[dict[str, Any]]) -> Table:
    """A run's claims: id (checks marked), statement, value with spread, 95% CI, verdict."""
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("claim", style="bold", overflow="fold")
    table.add_column("statement")
    table.add_column("value", justify="right")
    table.add_column("95% CI", justify="right")
    table.add_column("verdict")
    for c in claims:
        spread = "" if c.get("spread") is None else f" ±{c['spread']:.2g}"
        ci = c.get("ci")
        ci_text = f"[{fmt(ci[0])}, {fmt(ci[1])}]" if ci else "-"
        name = c["id"] + (" (check)" if c.get("kind") == "check" else "")
        table.add_row(name, c["statement"], fmt(c["value"]) + spread, ci_text, verdict_text(c))
    return table


def counts_line(counts: dict[str, int]) -> str:
    """``findings: 3 hold, 1 does not hold, 0 inconclusive; checks: 2/2 pass``."""
    line = (f"findings: {counts['holds']} hold, {counts['does not hold']} do not hold, "
            f"{counts['inconclusive']} inconclusive")
    if counts["checks"]:
        line += f"; checks: {counts['checks'] - counts['checks failing']}/{counts['checks']} pass"
    return line
