"""Search throughput against worker processes: trials per minute with 1, 2 and 4 workers, on
SQLite and on PostgreSQL.

Two objectives:

- ``mlp``: the digits MLP (``ModelObjective("mlp", "digits", epochs=E)``), compute-bound: a
  trial trains for about a second, so workers scale until the cores run out;
- ``instant``: the ``Quadratic`` toy (no training), storage-bound: every trial is a handful of
  reads and writes, so this shows what the storage itself allows. SQLite takes one writer at a
  time (a file lock): its rate stops growing, or falls, as workers are added. PostgreSQL
  locks rows, not the file.

Each configuration runs ``tune(..., workers=k)`` on a fresh study (random sampler, no
pruning) in this process, after a warm-up. Two rates: *wall* includes starting the ``k``
spawned workers (each imports torch; ``k = 1`` runs in this process), *running* counts from
the first trial's start to the last trial's end (the trials' own timestamps), which is the
rate a long study sees. Speed-up is of the running rate, against 1 worker on the same storage
and objective. A
throwaway PostgreSQL cluster is started for the run (``initdb`` under
``/usr/lib/postgresql/*/bin``, the ``distributed`` extra for psycopg); without them the
PostgreSQL rows are left out with the reason. On a machine shared with other jobs the numbers
are noisy: run it when quiet, and read workers beyond the core count as oversubscription.

Run::

    .venv/bin/python bench/search_scaling.py                         # 16 mlp, 120 instant trials
    .venv/bin/python bench/search_scaling.py --mlp-trials 8 --instant-trials 60 --workers 1 2
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from deepdojo.search import ModelObjective, Quadratic, tune


@contextlib.contextmanager
def postgres() -> Iterator[str | None]:
    """URL prefix ``postgresql://postgres@127.0.0.1:PORT/`` of a throwaway cluster, or None."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    try:
        import psycopg
    except ImportError:
        print("PostgreSQL rows left out: pip install -e '.[distributed]'")
        yield None
        return
    if not bins:
        print("PostgreSQL rows left out: no initdb (apt-get install postgresql)")
        yield None
        return
    bindir = Path(bins[-1]).parent
    run_as: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="deepdojo-bench-pg-"))
    if os.geteuid() == 0:  # initdb refuses root: the server runs as the postgres user
        run_as = ["runuser", "-u", "postgres", "--"]
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = str(root / "data")
    try:
        subprocess.run([*run_as, str(bindir / "initdb"), "-D", data, "-U", "postgres",
                        "--auth=trust", "--no-sync"], check=True, capture_output=True)
        subprocess.run([*run_as, str(bindir / "pg_ctl"), "-D", data, "-w", "-l",
                        str(root / "log"), "-o", f"-p {port} -k {root} "  # fsync on, as SQLite's
                        "-c listen_addresses=127.0.0.1 -c max_connections=100", "start"],
                       check=True, capture_output=True)
        with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres",
                             autocommit=True) as conn:
            conn.execute("CREATE DATABASE bench")
        yield f"postgresql://postgres@127.0.0.1:{port}/bench"
    finally:
        subprocess.run([*run_as, str(bindir / "pg_ctl"), "-D", data, "-m", "immediate", "-w",
                        "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def measure(objective: Any, n_trials: int, url: str | None, study: str, workers: int
            ) -> tuple[float, float]:
    """(wall seconds of ``tune``, seconds from the first trial's start to the last one's end)
    for ``n_trials`` trials on a fresh study. The span leaves out starting the workers."""
    direction = "minimize" if isinstance(objective, Quadratic) else "maximize"
    t0 = time.perf_counter()
    r = tune(objective, n_trials=n_trials, storage=url, study_name=study, workers=workers,
             sampler="random", pruner=None, direction=direction, progress="off")
    wall = time.perf_counter() - t0
    trials = [t for t in r.study.get_trials(deepcopy=False) if t.datetime_complete]
    span = max(t.datetime_complete for t in trials) - min(t.datetime_start for t in trials)
    return wall, span.total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--mlp-trials", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=2, help="epochs per mlp trial")
    parser.add_argument("--instant-trials", type=int, default=120)
    args = parser.parse_args()
    objectives = {"mlp": (ModelObjective("mlp", "digits", epochs=args.epochs), args.mlp_trials),
                  "instant": (Quadratic(), args.instant_trials)}
    for objective, _ in objectives.values():  # warm up: imports, data sets, allocator
        measure(objective, 2, None, "warm-up", 1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, postgres() as pg:
        backends = {"sqlite": lambda name: f"sqlite:///{tmp}/{name}.db"}
        if pg is not None:
            backends["postgresql"] = lambda _name: pg
        for backend, url_of in backends.items():
            for label, (objective, n) in objectives.items():
                base = None
                for k in args.workers:
                    name = f"{label}-{k}"
                    wall, span = measure(objective, n, url_of(name), name, k)
                    base = base or span  # the first worker count (1 by default) is the base
                    rows.append((backend, label, k, n, wall, 60 * n / wall, 60 * n / span,
                                 base / span))
                    print(f"{backend:10s} {label:8s} workers={k}: {n} trials in {wall:.1f} s "
                          f"(trials ran for {span:.1f} s)", flush=True)
    print(f"\n{os.cpu_count()} CPU cores; load average at the end "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}\n")
    print("| storage | objective | workers | trials | wall s | trials/min (wall) "
          "| trials/min (running) | speed-up (running) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for backend, label, k, n, wall, rate, running, speedup in rows:
        print(f"| {backend} | {label} | {k} | {n} | {wall:.1f} | {rate:.0f} | {running:.0f} "
              f"| {speedup:.2f}x |")


if __name__ == "__main__":
    main()
