"""``deepdojo run``: run labs (one by one, or ``--jobs N`` at a time, longest first)."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from deepdojo.cli.app import (
    UsageError,
    app,
    check_device,
    check_out_dir,
    check_scale,
    check_seed,
    check_threads,
    claims_table,
    counts_line,
    err,
    handles_errors,
    out,
)


@app.command("run")
@handles_errors
def run_cmd(
    labs: list[str] = typer.Argument(
        None, metavar="LAB", help="Lab names (see `deepdojo labs`)."
    ),
    all_labs: bool = typer.Option(False, "--all", help="Run every registered lab."),
    scale: str = typer.Option("quick", "--scale", metavar="SCALE", help="smoke | quick | full"),
    seed: int = typer.Option(
        0, "--seed", metavar="N",
        help="Base seed b; the lab's seeds are b*1000 + i (disjoint per b).",
    ),
    set_: list[str] = typer.Option(
        None, "--set", metavar="KEY=VALUE",
        help="Config override (repeatable), type- and range-checked.",
    ),
    out_dir: Path = typer.Option(
        Path("runs"), "--out", metavar="DIR", help="Folder for run results."
    ),
    device: str = typer.Option("cpu", "--device", metavar="DEVICE", help="cpu | cuda"),
    threads: int = typer.Option(
        1, "--threads", metavar="N", help="torch CPU threads per lab (0: torch's)."
    ),
    jobs: int = typer.Option(
        1, "--jobs", metavar="N", help="Labs run at a time, each in its own process with one "
        "thread."
    ),
) -> None:
    """Run labs and write runs/<lab>/<run-id>/ (result.json, figures, index.html)."""
    from deepdojo.labs import claim_counts, get_lab, load_all, make_config, parse_overrides
    from deepdojo.labs.framework.parallel import LabOutcome, run_labs, say

    # every check before the first line is printed or the first folder is made
    check_scale(scale)
    check_seed(seed)
    check_threads(threads)
    if jobs < 1:
        raise UsageError(f"--jobs must be a positive integer, got {jobs}")
    check_out_dir(out_dir)
    check_device(device)
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
        make_config(get_lab(name).config, overrides, scale=scale)

    totals = claim_counts([])
    failed: list[str] = []
    finished: list[str] = []

    def report(o: LabOutcome) -> None:
        finished.append(o.name)
        if not o.ok:
            failed.append(o.name)
            err.print(f"[bold red]{o.name} failed:[/] {o.error}", highlight=False,
                      soft_wrap=True)
            return
        assert o.result is not None and o.path is not None
        counts = claim_counts(o.result["claims"])
        for k in totals:
            totals[k] += counts[k]
        out.print(claims_table(f"{o.name}: {o.seconds:.1f} s", o.result["claims"]))
        out.print(f"  {counts_line(counts)}", soft_wrap=True)
        out.print(f"  written to {o.path / 'index.html'}", soft_wrap=True, highlight=False)

    say(f"running {len(names)} lab(s) at scale {scale}, seed {seed}, {jobs} job(s)")
    t0 = time.perf_counter()
    try:
        outcomes = run_labs(names, jobs=jobs, scale=scale, seed=seed, overrides=overrides,
                            out=out_dir, device=device, threads=threads or None,
                            on_done=report)
    except KeyboardInterrupt:
        raise KeyboardInterrupt(  # one line from handles_errors, exit 130
            f"interrupted after {len(finished)} of {len(names)} lab(s) ended; the labs still "
            "running left no run folder"
        ) from None
    wall = time.perf_counter() - t0
    if len(names) > 1:
        lab_time = sum(o.seconds for o in outcomes)
        out.print(f"{len(outcomes) - len(failed)} of {len(names)} lab(s) ran in {wall:.0f} s "
                  f"({lab_time:.0f} s of lab time); {counts_line(totals)}", soft_wrap=True)
    if totals["does not hold"] or totals["inconclusive"]:
        out.print("Findings that do not hold or are inconclusive are results, not errors: "
                  "see each claim's why in the reports.", soft_wrap=True)
    if failed:
        raise typer.Exit(1)
