"""``deepdojo quiz``: reads answers from stdin, shows ours and the evidence, records a score."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from deepdojo.cli import app


def quiz(*args: str, input: str = ""):
    return CliRunner().invoke(app, ["quiz", *args], input=input)


def test_quiz_scores_and_records(tmp_path):
    score = tmp_path / "home" / "quiz.json"
    args = ("--questions", "Q08,q19", "--runs", str(tmp_path), "--score-file", str(score))
    result = quiz(*args, input="zero init keeps units equal\ny\n\nn\n")
    assert result.exit_code == 0, result.output
    assert "1/2  Q08" in result.stdout and "2/2  Q19" in result.stdout
    assert "Our answer:" in result.stdout
    assert "score: 1/2" in result.stdout
    history = json.loads(score.read_text())
    assert history[0]["asked"] == ["Q08", "Q19"] and history[0]["right"] == ["Q08"]
    quiz(*args, input="a\nn\nb\nn\n")  # a second quiz is appended
    history = json.loads(score.read_text())
    assert [h["score"] for h in history] == [1, 0]


def test_quiz_end_of_input_records_what_was_answered(tmp_path):
    score = tmp_path / "quiz.json"
    result = quiz("--questions", "Q01,Q02,Q03", "--runs", str(tmp_path),
                  "--score-file", str(score), input="x\ny\n")
    assert result.exit_code == 0
    assert "score: 1/1" in result.stdout
    assert json.loads(score.read_text())[0]["asked"] == ["Q01"]


def test_quiz_reveal_records_nothing(tmp_path):
    score = tmp_path / "quiz.json"
    result = quiz("--questions", "Q14", "--reveal", "--runs", str(tmp_path),
                  "--score-file", str(score))
    assert result.exit_code == 0
    assert "Our answer:" in result.stdout and not score.exists()


def test_quiz_bad_ids(tmp_path):
    result = quiz("--questions", "Q01,Q99", "--score-file", str(tmp_path / "s.json"))
    assert result.exit_code == 2
    assert "--questions takes ids Q01..Q20" in result.stderr
