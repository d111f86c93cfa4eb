"""``deepdojo verify``: rerun a lab on disjoint seed sets and measure verdict stability."""

from __future__ import annotations

from pathlib import Path

import typer

from deepdojo.cli.app import (
    UsageError,
    app,
    check_device,
    check_scale,
    handles_errors,
    out,
)


@app.command("verify")
@handles_errors
def verify_cmd(
    lab: str = typer.Argument(..., help="Lab name (see `deepdojo labs`)."),
    seed_sets: int = typer.Option(3, "--seed-sets", help="Disjoint seed sets to run (>= 2)."),
    seed: int = typer.Option(
        0, "--seed", help="First base seed; the sets use bases seed, seed+1, ..."
    ),
    scale: str = typer.Option("quick", "--scale", help="smoke | quick | full"),
    set_: list[str] = typer.Option(
        None, "--set", help="Config override key=value (repeatable), type- and range-checked."
    ),
    out_dir: Path = typer.Option(Path("runs"), "--out", help="Folder for run results."),
    device: str = typer.Option("cpu", "--device", help="cpu | cuda"),
    threads: int = typer.Option(1, "--threads", help="torch CPU threads (0: torch's)."),
) -> None:
    """Rerun a lab with K disjoint seed sets; write runs/<lab>/verify-<id>/stability.json."""
    from rich.table import Table

    from deepdojo.labs import parse_overrides, verify_lab

    check_scale(scale)
    check_device(device)
    if seed_sets < 2:
        raise UsageError(f"--seed-sets must be an integer >= 2, got {seed_sets}")
    if seed < 0:
        raise UsageError(f"--seed must be a non-negative integer, got {seed}")
    res = verify_lab(lab, seed_sets=seed_sets, seed=seed, scale=scale,
                     overrides=parse_overrides(set_ or []), out=out_dir, device=device,
                     threads=threads or None)
    st = res.stability
    table = Table(title=f"{lab}: verdicts over {seed_sets} seed sets", title_justify="left")
    table.add_column("claim", style="bold", overflow="fold")
    for base in st["base_seeds"]:
        table.add_column(f"base {base}")
    table.add_column("agree")
    for row in st["claims"]:
        agree = ("[dim]not counted[/]" if not row["counted"]
                 else "[green]yes[/]" if row["agree"] else "[red]no[/]")
        table.add_row(row["id"], *[v or "missing" for v in row["verdicts"]], agree)
    out.print(table)
    share = st["stability"]
    text = "no claims counted" if share is None else f"{share:.0%}"
    out.print(f"stability {text} ({st['agreeing']} of {st['counted']} claims agree)")
    out.print(f"  written to {res.path / 'stability.json'}", soft_wrap=True, highlight=False)
