"""Ctrl-C: one line on stderr and exit 130, for ``run`` (a real SIGINT) and ``tune``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import deepdojo.search
from deepdojo.search import TuneInterrupted

SLEEPY = textwrap.dedent('''
    import sys, time
    from dataclasses import dataclass
    from deepdojo.cli import main
    from deepdojo.labs import register_lab

    @dataclass
    class SleepyConfig:
        pass

    def sleepy(cfg, ctx):
        """Sleep until interrupted."""
        (ctx.out_dir / "partial.txt").write_text("half-written")
        print("lab started", flush=True)
        time.sleep(120)

    register_lab("test-sleepy", questions=("Q09",), config=SleepyConfig)(sleepy)
    main(sys.argv[1:])
''')


def test_ctrl_c_during_run_is_one_line_exit_130_and_leaves_no_run(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.Popen(
        [sys.executable, "-c", SLEEPY, "run", "test-sleepy", "--scale", "smoke", "--out",
         str(tmp_path / "runs")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        deadline = time.monotonic() + 120
        assert proc.stdout is not None
        for line in proc.stdout:  # wait until the lab is inside its body
            if "lab started" in line or time.monotonic() > deadline:
                break
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    lines = stderr.strip().splitlines()
    assert lines == ["interrupted: 0 of 1 lab(s) finished and were written; the interrupted "
                     "lab's partial run was removed"]
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
