"""Ctrl-C: one line on stderr and exit 130, for ``run`` (a real SIGINT) and ``tune``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import deepdojo.search
from deepdojo.search import TuneInterrupted

SLEEPY = textwrap.dedent('''
    import sys, time
    from dataclasses import dataclass
    from deepdojo.cli import main
    from deepdojo.labs import register_lab
    from deepdojo.labs.framework import parallel

    parallel.START_METHOD = "fork"  # --jobs workers see the labs registered here

    @dataclass
    class SleepyConfig:
        pass

    def sleepy(cfg, ctx):
        """Sleep until interrupted."""
        (ctx.out_dir / "partial.txt").write_text("half-written")
        print("lab started", flush=True)
        time.sleep(120)

    for name in ("test-sleepy-a", "test-sleepy-b", "test-sleepy-c"):
        register_lab(name, questions=("Q09",), config=SleepyConfig)(sleepy)
    main(sys.argv[1:])
''')


@pytest.mark.parametrize(("labs", "jobs"), [(1, 1), (3, 2)])
def test_ctrl_c_during_run_is_one_line_exit_130_and_leaves_no_run(tmp_path, labs, jobs):
    names = ["test-sleepy-a", "test-sleepy-b", "test-sleepy-c"][:labs]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.Popen(
        [sys.executable, "-c", SLEEPY, "run", *names, "--jobs", str(jobs), "--scale", "smoke",
         "--out", str(tmp_path / "runs")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True,  # Ctrl-C reaches the whole process group, workers included
    )
    try:
        assert proc.stdout is not None
        seen = ""
        while seen.count("lab started") < jobs:  # every worker is inside a lab's body
            line = proc.stdout.readline()
            assert line, "the CLI ended before its labs started"
            seen += line
        t0 = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=10)
        elapsed = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines() == [
        f"interrupted after 0 of {labs} lab(s) ended; the labs still running left no run folder"]
    assert elapsed < 10  # did not wait for the labs (they sleep 120 s)
    assert not list((tmp_path / "runs").rglob("result.json"))
    assert not list((tmp_path / "runs").rglob("partial.txt"))


def test_ctrl_c_during_tune_is_one_line_exit_130(invoke, tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise TuneInterrupted("mlp-digits", 2, 5)

    monkeypatch.setattr(deepdojo.search, "tune", interrupted)
    result = invoke("tune", "--trials", "5", "--epochs", "1", "--storage",
                    f"sqlite:///{tmp_path}/s.db", "--out", str(tmp_path / "out"))
    assert result.exit_code == 130
    assert result.stderr.strip().splitlines() == [
        "interrupted: study 'mlp-digits' holds 2 of 5 finished trials; run the same command "
        "again to resume"]
    assert result.stdout == ""


def test_ctrl_c_in_any_command_is_one_line(invoke, monkeypatch):
    import deepdojo.labs

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(deepdojo.labs, "load_all", interrupted)
    result = invoke("labs")
    assert result.exit_code == 130
    assert result.stderr.strip().splitlines() == ["interrupted"]
