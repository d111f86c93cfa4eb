"""The shared pieces of the ``deepdojo`` command line: the Typer app, consoles, error handling.

Every command module (``run``, ``verify``, ``report``, ...) registers its commands on
:data:`app`. Exit codes:

- ``0``: done (a finding that does not hold is a result, not an error);
- ``1``: a lab raised while running (the other labs still ran);
- ``2``: bad input (unknown lab, bad ``--set``, a seed out of range, an ``--out`` that is a
  file, missing runs): one readable line on stderr, checked before any work starts;
  ``deepdojo --debug ...`` shows the traceback instead;
- ``130``: interrupted with Ctrl-C: one line on stderr, nothing half-written left behind.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import typer
import typer.core
from rich.console import Console
from rich.markup import escape
from rich.table import Table

try:  # recent Typer vendors Click as typer._click: its exceptions are the ones raised
    from typer._click import exceptions as click_errors
except ImportError:  # older Typer runs on Click itself
    from click import exceptions as click_errors  # type: ignore[no-redef]

F = TypeVar("F", bound=Callable[..., Any])
_NoArgsIsHelp = getattr(click_errors, "NoArgsIsHelpError", ())  # Click >= 8.2


class _OneLineErrors(typer.core.TyperGroup):
    """The root command: a command-line parse error (unknown option, ``--seed abc``, a
    missing argument) is one ``error:`` line with a pointer to ``--help``, like every other
    bad input (Click's default is a usage block and an error box)."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             windows_expand_args: bool = True, **extra: Any) -> Any:
        # set here too: a parse error can come before the root callback runs
        argv = list(sys.argv[1:] if args is None else args)
        root = argv[: next((i for i, a in enumerate(argv) if not a.startswith("-")), len(argv))]
        state["debug"] = "--debug" in root
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode,
                                windows_expand_args, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False,
                                windows_expand_args=windows_expand_args, **extra)
        except _NoArgsIsHelp as e:
            e.show()
            sys.exit(e.exit_code)
        except click_errors.ClickException as e:
            if state["debug"]:
                raise
            where = e.ctx.command_path if isinstance(e, click_errors.UsageError) and e.ctx else None
            hint = f" (see '{where} --help')" if where else ""
            message = " ".join(e.format_message().split())
            err.print(f"[bold red]error:[/] {escape(message)}{escape(hint)}", highlight=False,
                      soft_wrap=True)
            sys.exit(e.exit_code)
        except typer.Abort:
            err.print("aborted", highlight=False)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    help="deepdojo: the deep-learning interview canon as code and measured experiments.",
    cls=_OneLineErrors,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
# Typer prints an argument's Python type after its name (``LAB <list[str]>``); our arguments
# carry a metavar and help that say what they take, so the raw type name is left out.
typer.core.TyperArgument.display_type_rich = lambda self, ctx: None  # type: ignore[method-assign]
out = Console()
err = Console(stderr=True)
state = {"debug": False}
SCALES = ("smoke", "quick", "full")
SEED_MAX = 4_294_966  # seeds seed*1000 + i (i < 10) and bases seed + k stay below 2**32
INTERRUPTED = 130  # the shell's code for a process stopped by SIGINT (128 + 2)


class UsageError(ValueError):
    """A user-facing problem with the command line."""


def handles_errors(fn: F) -> F:
    """Turn user errors into one line on stderr and exit code 2, and Ctrl-C into one line and
    exit code 130 (tracebacks with --debug)."""

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
        except KeyboardInterrupt as e:
            if state["debug"]:
                raise
            err.print(str(e) or "interrupted", highlight=False, soft_wrap=True, markup=False)
            raise typer.Exit(INTERRUPTED) from None

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
    """``--device`` is ``cpu``, or ``cuda`` on a machine where CUDA is available."""
    if device not in ("cpu", "cuda"):
        raise UsageError(f"--device must be cpu or cuda, got {device!r}")
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise UsageError("--device cuda: CUDA is not available on this machine; "
                             "use --device cpu")


def check_seed(seed: int, flag: str = "--seed", *, sets: int = 1) -> None:
    """``0 <= seed`` and every base ``seed + k`` (``k < sets``) at most :data:`SEED_MAX`.

    A lab draws seeds ``base*1000 + i``; NumPy's legacy seeding takes them below ``2**32``.
    """
    top = SEED_MAX - (sets - 1)
    if not 0 <= seed <= top:
        raise UsageError(f"{flag} must be an integer in [0, {top}], got {seed}")


def check_threads(threads: int) -> None:
    """``--threads`` is 0 (torch's own setting) or a positive count."""
    if threads < 0:
        raise UsageError(f"--threads must be 0 (torch's default) or a positive integer, "
                         f"got {threads}")


def check_out_dir(path: Path, flag: str = "--out") -> None:
    """``path`` is a folder, or can be created as one: nothing above it is a file and the
    nearest existing folder is writable. Nothing is created."""
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        where = "" if existing == path else f" ({str(existing)!r} is a file)"
        raise UsageError(f"{flag} {str(path)!r} must be a folder, not a file{where}")
    if existing.exists() and not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {str(path)!r}: cannot write in {str(existing)!r}")


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


def add_claim_column(table: Table, ids: list[str]) -> None:
    """The claim-id column, as wide as the longest id, so that ids are never cut or folded
    (other columns wrap instead)."""
    width = max([len(i) for i in ids] + [len("claim")])
    table.add_column("claim", style="bold", min_width=width, overflow="fold")


def _claim_cells(c: dict[str, Any]) -> tuple[str, str, str, str]:
    """Escaped id (checks marked), statement, value with spread, and 95% interval."""
    spread = "" if c.get("spread") is None else f" ±{c['spread']:.2g}"
    ci = c.get("ci")
    ci_text = f"[{fmt(ci[0])}, {fmt(ci[1])}]" if ci else "-"
    name = escape(c["id"]) + (" (check)" if c.get("kind") == "check" else "")
    return name, escape(c["statement"]), fmt(c["value"]) + spread, ci_text


def claims_table(title: str, claims: list[dict[str, Any]], width: int | None = None) -> Table:
    """A run's claims: id (checks marked), statement, value with spread, 95% CI, verdict.

    Claim ids are never cut. Where the five columns do not fit in ``width`` (default: the
    console's, 80 when output is piped), the statement goes under the id, and the verdict,
    value and interval share one column, one per line.
    """
    width = out.width if width is None else width
    rows = [_claim_cells(c) for c in claims]
    id_width = max([len(r[0]) for r in rows] + [5])
    number_width = max([len(r[2]) for r in rows] + [len(r[3]) for r in rows] + [6])
    table = Table(title=title, title_justify="left", show_lines=False)
    # five columns with a 20-character statement need id + 2 numbers + verdict + 36 borders
    if id_width + 2 * number_width + 13 + 20 + 16 <= width:
        add_claim_column(table, [r[0] for r in rows])
        table.add_column("statement", ratio=1)
        table.add_column("value", justify="right", no_wrap=True)
        table.add_column("95% CI", justify="right", no_wrap=True)
        table.add_column("verdict", no_wrap=True)
        for r, c in zip(rows, claims, strict=True):
            table.add_row(*r, verdict_text(c))
        return table
    # two columns: the id keeps its width (up to 28 characters less than the console's)
    table.add_column("claim", min_width=min(id_width, max(width - 28, 10)), ratio=1,
                     overflow="fold")
    table.add_column("verdict, value, 95% CI", justify="right")
    for (name, statement, value, ci), c in zip(rows, claims, strict=True):
        table.add_row(f"[bold]{name}[/]\n{statement}", f"{verdict_text(c)}\n{value}\n{ci}")
    return table


def counts_line(counts: dict[str, int]) -> str:
    """``findings: 3 hold, 1 does not hold, 0 inconclusive; checks: 2/2 pass``."""
    line = (f"findings: {counts['holds']} hold, {counts['does not hold']} do not hold, "
            f"{counts['inconclusive']} inconclusive")
    if counts["checks"]:
        line += f"; checks: {counts['checks'] - counts['checks failing']}/{counts['checks']} pass"
    return line
