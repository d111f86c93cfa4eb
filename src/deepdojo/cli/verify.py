"""``deepdojo verify``: rerun a lab on disjoint seed sets and measure verdict stability."""

from __future__ import annotations

from pathlib import Path

import typer

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
    from rich.table import Table

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
    table = Table(title=f"{lab}: verdicts over {seed_sets} seed sets", title_justify="left")
    add_claim_column(table, [str(row["id"]) for row in st["claims"]])
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
