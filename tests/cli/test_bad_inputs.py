"""Every command, walked with a table of bad inputs: exit 2, one ``error:`` line on stderr, no
traceback, nothing written; ``--debug`` shows the traceback instead."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from deepdojo.cli import app

TOY = "{toy}"
OUT = ["--out", "{out}"]
TUNE = ["tune", "--trials", "1", "--epochs", "1", "--storage", "sqlite:///{tmp}/search.db",
        *OUT]

# (argv, a fragment the one error line must contain); {toy} is a registered toy lab, {tmp} the
# test's folder, {out} a folder that does not exist yet, {file} an existing file, {runs} an
# empty runs folder, {missing} a path that does not exist
BAD_INPUTS: list[tuple[list[str], str]] = [
    (["--bogus"], "No such option: --bogus"),
    (["nope"], "No such command 'nope'"),
    (["labs", "extra"], "unexpected extra argument"),
    (["labs", "--bogus"], "No such option: --bogus"),
    (["questions", "Q01"], "unexpected extra argument"),
    (["run"], "name at least one lab"),
    (["run", "no-such-lab", *OUT], "unknown lab 'no-such-lab'"),
    (["run", TOY, "--all", *OUT], "give lab names or --all, not both"),
    (["run", TOY, "--out", "{file}"], "--out '{file}' must be a folder, not a file"),
    (["run", TOY, "--out", "{file}/sub"], "('{file}' is a file)"),
    (["run", TOY, "--seed", "-1", *OUT], "--seed must be an integer in [0, 4294966], got -1"),
    (["run", TOY, "--seed", "99999999999999999999", *OUT],
     "--seed must be an integer in [0, 4294966], got 99999999999999999999"),
    (["run", TOY, "--seed", "abc", *OUT], "Invalid value for '--seed'"),
    (["run", TOY, "--threads", "-3", *OUT], "--threads must be 0 (torch's default) or a positive"),
    (["run", TOY, "--device", "cuda", *OUT], "--device cuda: CUDA is not available"),
    (["run", TOY, "--device", "tpu", *OUT], "--device must be cpu or cuda, got 'tpu'"),
    (["run", TOY, "--jobs", "0", *OUT], "--jobs must be a positive integer, got 0"),
    (["run", TOY, "--scale", "huge", *OUT], "--scale must be smoke, quick or full"),
    (["run", TOY, "--set", "depth=0", *OUT], "--set depth=0: depth must be >= 2"),
    (["run", TOY, "--set", "nope=1", *OUT], "has no field 'nope'"),
    (["verify"], "Missing argument 'LAB'"),
    (["verify", "no-such-lab", *OUT], "unknown lab 'no-such-lab'"),
    (["verify", TOY, "--seed-sets", "1", *OUT], "--seed-sets must be an integer >= 2, got 1"),
    (["verify", TOY, "--seed", "-1", *OUT], "--seed must be an integer in [0, 4294964], got -1"),
    (["verify", TOY, "--seed", "4294966", "--seed-sets", "3", *OUT],
     "--seed must be an integer in [0, 4294964], got 4294966"),
    (["verify", TOY, "--out", "{file}"], "must be a folder, not a file"),
    (["verify", TOY, "--threads", "-3", *OUT], "--threads must be 0"),
    (["verify", TOY, "--device", "cuda", *OUT], "CUDA is not available"),
    (["verify", TOY, "--set", "depth=1", *OUT], "--set depth=1: depth must be >= 2"),
    (["report", "--runs", "{missing}", *OUT], "runs folder '{missing}' does not exist"),
    (["report", "--runs", "{file}", *OUT], "runs folder '{file}' is a file"),
    (["report", "--runs", "{runs}", "--out", "{file}"], "--out '{file}' must be a folder"),
    (["show"], "Missing argument 'QID'"),
    (["show", "Q99", "--runs", "{runs}"], "Q01..Q20"),
    (["show", "Q09", "--runs", "{missing}"], "runs folder '{missing}' does not exist"),
    (["show", "Q09", "--runs", "{file}"], "is a file"),
    ([*TUNE, "--model", "nope"], "model must be one of"),
    ([*TUNE, "--model", "seq2seq"], "(the classifiers tune can train); got 'seq2seq'"),
    ([*TUNE, "--model", "transformer"], "got 'transformer'"),
    ([*TUNE, "--data", "nope"], "data must be one of"),
    ([*TUNE, "--trials", "0"], "--trials must be a positive integer, got 0"),
    ([*TUNE, "--workers", "0"], "--workers must be a positive integer, got 0"),
    ([*TUNE, "--epochs", "abc"], "Invalid value for '--epochs'"),
    ([*TUNE, "--seed", "-1"], "seed must be an int in [0, 2**32 - 1]; got -1"),
    ([*TUNE, "--seed", "99999999999999999999"], "got 99999999999999999999"),
    ([*TUNE, "--sampler-seed", "-1"], "sampler seed must be an int"),
    ([*TUNE, "--sampler", "grid"], "sampler"),
    ([*TUNE, "--pruner", "nope"], "pruner must be one of"),
    ([*TUNE, "--study", "../x"], "must be a plain name"),
    ([*TUNE, "--out", "{file}"], "--out '{file}' must be a folder, not a file"),
    (["tune", "--trials", "1", "--storage", "postgresql://u:secret@127.0.0.1:1/x", *OUT],
     "u:***@127.0.0.1:1/x"),
    (["ask", " "], "QUESTION must not be empty"),
    (["ask", "why", "--top", "0"], "--top must be between 1 and 20, got 0"),
    (["ask", "why", "--backend", "bm25"], "--backend must be tfidf or encoder, got 'bm25'"),
    (["quiz", "--questions", "Q01,Q99"], "--questions takes ids Q01..Q20"),
    (["quiz", "--score-file", "{runs}"], "--score-file '{runs}' must be a file, not a folder"),
    (["export", "nope", "--onnx", "{out}.onnx"], "unknown model 'nope' and no checkpoint"),
    (["export", "plain_mlp", "--onnx", "{file}"], "--onnx must name a file ending in .onnx"),
]

COMMANDS = ("labs", "questions", "run", "verify", "report", "show", "tune", "export", "ask",
            "quiz")


def test_the_table_walks_every_command():
    registered = {c.name for c in app.registered_commands}
    assert registered == set(COMMANDS)
    walked = {argv[0] for argv, _ in BAD_INPUTS}
    assert set(COMMANDS) <= walked


@pytest.fixture()
def paths(tmp_path, monkeypatch):
    """The placeholders' paths; CUDA reported missing so ``--device cuda`` is always bad."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    (tmp_path / "afile").write_text("not a folder\n")
    (tmp_path / "runs").mkdir()
    return {"tmp": str(tmp_path), "out": str(tmp_path / "out"), "file": str(tmp_path / "afile"),
            "runs": str(tmp_path / "runs"), "missing": str(tmp_path / "typo")}


def _fill(text: str, paths: dict[str, str], toy: str) -> str:
    return text.format(toy=toy, **paths)


def _snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize(("argv", "message"), BAD_INPUTS,
                         ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_is_one_line_and_exit_2(toy_lab, invoke, paths, tmp_path, argv, message):
    before = _snapshot(tmp_path)
    result = invoke(*[_fill(a, paths, toy_lab) for a in argv])
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert _fill(message, paths, toy_lab) in lines[0]
    assert "Traceback" not in result.output
    assert result.stdout == ""  # no "running ..." line before the refusal
    assert "secret" not in result.output
    assert _snapshot(tmp_path) == before  # no lab folder, no database, no site


@pytest.mark.parametrize(("argv", "message"), BAD_INPUTS,
                         ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_debug_raises_instead(toy_lab, invoke, paths, argv, message):
    result = invoke("--debug", *[_fill(a, paths, toy_lab) for a in argv])
    assert result.exit_code != 2
    assert result.exception is not None and not isinstance(result.exception, SystemExit)
    assert "error: " not in result.stderr


def test_debug_prints_a_traceback_from_the_console_script(tmp_path):
    cmd = [sys.executable, "-m", "deepdojo", "--debug", "run", "x-unknown"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr
    assert "unknown lab 'x-unknown'" in proc.stderr
    quiet = subprocess.run(cmd[:3] + cmd[4:], capture_output=True, text=True, timeout=120,
                           cwd=tmp_path)
    assert quiet.returncode == 2 and quiet.stderr.count("\n") == 1
    assert "Traceback" not in quiet.stderr
