"""CLI: commands, exit codes and one-line error messages."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

import pytest
from typer.testing import CliRunner

from deepdojo.cli import app
from deepdojo.labs import LABS, ranged, register_lab
from deepdojo.labs.framework import parallel
from deepdojo.labs.framework import rules as R

runner = CliRunner()


@dataclass
class CliToyConfig:
    n: int = 2  # a number the lab echoes
    depth: int = ranged(3, low=2)  # a ranged field: --set depth=0 is refused
    boom: bool = False  # raise inside the lab


@pytest.fixture()
def cli_lab():
    def run(cfg, ctx):
        """Echo a config value as a claim."""
        if cfg.boom:
            raise RuntimeError("lab exploded")
        ctx.claim("echo", "n is echoed", R.EverySeed(R.AtLeast(cfg.n)),
                  values=[cfg.n] * len(ctx.seeds), kind="check")
        ctx.claim("big", "n is big", R.AtLeast(5.0), values=[cfg.n + 0.1 * i for i in
                                                                  range(len(ctx.seeds))])

    register_lab("test-cli-toy", questions=("Q09",), config=CliToyConfig)(run)
    yield "test-cli-toy"
    LABS.pop("test-cli-toy", None)


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_help_for_every_command():
    for cmd in ([], ["labs"], ["run"], ["report"], ["questions"], ["show"], ["tune"],
                ["verify"]):
        result = invoke(*cmd, "--help")
        assert result.exit_code == 0, result.output
        assert "Usage" in result.output


def test_labs_lists_registered(cli_lab):
    result = invoke("labs")
    assert result.exit_code == 0
    assert "test-cli-toy" in result.output and "Q09" in result.output


def test_run_with_set_writes_run(cli_lab, tmp_path):
    result = invoke("run", cli_lab, "--scale", "smoke", "--set", "n=7", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "holds" in result.output
    runs = list((tmp_path / cli_lab).iterdir())
    assert len(runs) == 1
    assert '"n": 7' in (runs[0] / "result.json").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "no-such-lab"], "unknown lab 'no-such-lab'"),
        (["run", "test-cli-toy", "--set", "n=abc"], "expected a value of type int"),
        (["run", "test-cli-toy", "--set", "m=1"], "has no field 'm'"),
        (["run", "test-cli-toy", "--set", "n"], "--set expects key=value"),
        (["run", "test-cli-toy", "--scale", "huge"], "--scale must be smoke, quick or full"),
        (["run"], "name at least one lab"),
        (["run", "test-cli-toy", "--set", "depth=0"], "--set depth=0: depth must be >= 2"),
        (["run", "test-cli-toy", "--jobs", "0"], "--jobs must be a positive integer, got 0"),
        (["run", "test-cli-toy", "--seed", "-1"], "--seed must be an integer in [0, 4294966]"),
        (["verify", "test-cli-toy", "--seed-sets", "1"], "--seed-sets must be an integer >= 2"),
        (["verify", "test-cli-toy", "--set", "depth=1"], "--set depth=1: depth must be >= 2"),
        (["verify", "no-such-lab"], "unknown lab 'no-such-lab'"),
    ],
)
def test_bad_input_exits_2_with_one_line(cli_lab, tmp_path, args, message):
    result = invoke(*args, "--out", str(tmp_path))
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not any(p.name.startswith(".") for p in tmp_path.rglob("*"))


def test_debug_shows_traceback(cli_lab):
    result = invoke("--debug", "run", "no-such-lab")
    assert result.exit_code != 0 and result.exit_code != 2
    assert "unknown lab" in str(result.exception)


def test_python_dash_m_works():
    proc = subprocess.run([sys.executable, "-m", "deepdojo", "run", "x-unknown"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: unknown lab 'x-unknown'")


def test_tune_runs_and_saves(tmp_path):
    storage = f"sqlite:///{tmp_path / 'search.db'}"
    result = invoke("tune", "--trials", "2", "--epochs", "1", "--storage", storage,
                    "--out", str(tmp_path / "out"), "--pruner", "none")
    assert result.exit_code == 0, result.output
    assert '"n_complete": 2' in result.output
    assert (tmp_path / "out" / "mlp-digits" / "summary.json").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "nope"], "model must be one of"),
        (["--storage", "postgresql://u:secret@127.0.0.1:1/x"], "u:***@127.0.0.1:1/x"),
        (["--sampler", "grid"], "sampler"),
        (["--trials", "0"], "--trials must be a positive integer, got 0"),
        (["--workers", "0"], "--workers must be a positive integer, got 0"),
    ],
)
def test_tune_bad_input_exits_2(tmp_path, args, message):
    result = invoke("tune", "--trials", "1", "--out", str(tmp_path), *args)
    assert result.exit_code == 2
    assert message in result.output
    assert "secret" not in result.output


def test_show_prints_answer_claims_and_smoke_warning(cli_lab, tmp_path):
    assert invoke("run", cli_lab, "--scale", "smoke", "--out", str(tmp_path)).exit_code == 0
    result = invoke("show", "q9", "--runs", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "Q09" in result.output and "echo" in result.output
    assert "not evidence" in result.output
    bad = invoke("show", "Q99", "--runs", str(tmp_path))
    assert bad.exit_code == 2 and "Q01..Q20" in bad.output


def test_report_missing_runs_exits_2(tmp_path):
    result = invoke("report", "--runs", str(tmp_path / "none"), "--out", str(tmp_path / "site"))
    assert result.exit_code == 2
    assert "none" in result.output and len(result.output.strip().splitlines()) == 1


def test_run_prints_start_end_time_and_counts_without_a_terminal(cli_lab, tmp_path):
    result = invoke("run", cli_lab, "--set", "n=7", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert f"start  {cli_lab}" in result.output and f"end    {cli_lab}" in result.output
    assert "findings: 1 hold, 0 do not hold, 0 inconclusive; checks: 1/1 pass" in result.output


def test_run_jobs_2_runs_labs_in_worker_processes(cli_lab, tmp_path, monkeypatch):
    register_lab("test-cli-toy-2", questions=("Q09",), config=CliToyConfig)(
        LABS[cli_lab].fn)
    monkeypatch.setattr(parallel, "START_METHOD", "fork")  # workers see the test's labs
    try:
        result = invoke("run", cli_lab, "test-cli-toy-2", "--scale", "smoke", "--jobs", "2",
                        "--out", str(tmp_path))
    finally:
        LABS.pop("test-cli-toy-2", None)
    assert result.exit_code == 0, result.output
    assert result.output.count("end    test-cli-toy") == 2
    assert "2 of 2 lab(s) ran in" in result.output
    assert len(list((tmp_path / cli_lab).iterdir())) == 1
    assert len(list((tmp_path / "test-cli-toy-2").iterdir())) == 1


def test_a_lab_that_raises_exits_1_after_the_others(cli_lab, tmp_path):
    result = invoke("run", cli_lab, "--scale", "smoke", "--set", "boom=true",
                    "--out", str(tmp_path))
    assert result.exit_code == 1
    assert "RuntimeError: lab exploded" in result.output and "FAILED after" in result.output


def test_verify_command_writes_stability(cli_lab, tmp_path):
    result = invoke("verify", cli_lab, "--seed-sets", "2", "--scale", "smoke",
                    "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "stability 100% (2 of 2 claims agree)" in result.output
    (verify_dir,) = (tmp_path / cli_lab).glob("verify-*")
    assert (verify_dir / "stability.json").is_file()
