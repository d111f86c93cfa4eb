"""``deepdojo verify``: rerun a lab on disjoint seed sets and measure verdict stability."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from deepdojo.cli.app import (
    SEED_MAX,
    UsageError,
    add_claim_column,
    app,
    check_device,
    check_out_dir,
    check_scale,
    check_seed,
    check_threads,
    handles_errors,
    out,
)


@app.command("verify")
@handles_errors
def verify_cmd(
    lab: str = typer.Argument(..., metavar="LAB", help="Lab name (see `deepdojo labs`)."),
    seed_sets: int = typer.Option(
        3, "--seed-sets", metavar="K", help="Disjoint seed sets to run (>= 2)."
    ),
    seed: int = typer.Option(
        0, "--seed", metavar="N", help="First base seed; the sets use bases seed, seed+1, ..."
    ),
    scale: str = typer.Option("quick", "--scale", metavar="SCALE", help="smoke | quick | full"),
    set_: list[str] = typer.Option(
        None, "--set", metavar="KEY=VALUE",
        help="Config override (repeatable), type- and range-checked.",
    ),
    out_dir: Path = typer.Option(
        Path("runs"), "--out", metavar="DIR", help="Folder for run results."
    ),
    device: str = typer.Option("cpu", "--device", metavar="DEVICE", help="cpu | cuda"),
    threads: int = typer.Option(
        1, "--threads", metavar="N", help="torch CPU threads (0: torch's)."
    ),
) -> None:
    """Rerun a lab with K disjoint seed sets; write runs/<lab>/verify-<id>/stability.json."""
    from deepdojo.labs import get_lab, make_config, parse_overrides, verify_lab

    # every check before the first line is printed or the first folder is made
    check_scale(scale)
    if seed_sets < 2:
        raise UsageError(f"--seed-sets must be an integer >= 2, got {seed_sets}")
    if seed_sets > SEED_MAX + 1:  # bases seed .. seed + K - 1 must fit under SEED_MAX
        raise UsageError(f"--seed-sets must be at most {SEED_MAX + 1}, got {seed_sets}")
    check_seed(seed, sets=seed_sets)
    check_threads(threads)
    check_out_dir(out_dir)
    check_device(device)
    overrides = parse_overrides(set_ or [])
    make_config(get_lab(lab).config, overrides, scale=scale)
    res = verify_lab(lab, seed_sets=seed_sets, seed=seed, scale=scale, overrides=overrides,
                     out=out_dir, device=device, threads=threads or None)
    st = res.stability
    out.print(stability_table(f"{lab}: verdicts over {seed_sets} seed sets", st))
    share = st["stability"]
    text = "no claims counted" if share is None else f"{share:.0%}"
    out.print(f"stability {text} ({st['agreeing']} of {st['counted']} claims agree)")
    out.print(f"  written to {res.path / 'stability.json'}", soft_wrap=True, highlight=False)


def stability_table(title: str, st: dict[str, Any], width: int | None = None) -> Table:
    """Each claim's verdict per seed set and whether they agree. Claim ids are never cut:
    where a column per seed set does not fit in ``width`` (default: the console's), the
    verdicts share one column, one per line."""
    width = out.width if width is None else width
    ids = [escape(str(row["id"])) for row in st["claims"]]
    table = Table(title=title, title_justify="left")
    add_claim_column(table, ids)
    id_width = max([len(i) for i in ids] + [5])
    wide = id_width + 16 * len(st["base_seeds"]) + 15 <= width  # "does not hold" + borders
    if wide:
        for base in st["base_seeds"]:
            table.add_column(f"base {base}", no_wrap=True)
    else:
        table.add_column("verdicts", no_wrap=True)  # "<base seed>: <verdict>" lines
    table.add_column("agree")
    for name, row in zip(ids, st["claims"], strict=True):
        agree = ("[dim]not counted[/]" if not row["counted"]
                 else "[green]yes[/]" if row["agree"] else "[red]no[/]")
        verdicts = [v or "missing" for v in row["verdicts"]]
        lines = [f"{base}: {v}" for base, v in zip(st["base_seeds"], verdicts, strict=True)]
        table.add_row(name, *(verdicts if wide else ["\n".join(lines)]), agree)
    return table
