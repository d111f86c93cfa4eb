"""Broken run files: each costs one warning line naming the file; the rest of the report builds.

Cases from a newcomer's probe: a result.json holding ``[1, 2, 3]``, a claim without
``statement``, a non-numeric ``value``, a truncated file.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deepdojo.cli import app
from deepdojo.labs import LABS, register_lab, run_lab
from deepdojo.labs.framework import rules as R
from deepdojo.report import build_site, question_summary
from deepdojo.report.results import ResultWarning, check_result

GOOD = "zz-broken-good"
BAD = "zz-broken-bad"


def _lab(cfg, ctx) -> None:
    """Two claims."""
    ctx.claim("first-claim", "The first statement", R.AtLeast(0.5), values=[0.9] * len(ctx.seeds))
    ctx.claim("second-claim", "The second statement", R.AtLeast(0.5),
              values=[0.8] * len(ctx.seeds))


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """One real result.json (smoke run of a toy lab) to copy and break."""
    from dataclasses import make_dataclass

    cfg = make_dataclass("BrokenCfg", [])
    register_lab(GOOD, questions=("Q09",), config=cfg)(_lab)
    register_lab(BAD, questions=("Q09",), config=cfg)(_lab)
    root = tmp_path_factory.mktemp("template")
    res = run_lab(GOOD, scale="smoke", out=root, progress="off")
    yield json.loads((res.path / "result.json").read_text())
    LABS.pop(GOOD, None)
    LABS.pop(BAD, None)


def _write_runs(root: Path, template: dict, bad_text: str) -> tuple[Path, Path]:
    """A runs folder with a good run of GOOD and one run of BAD whose result.json is
    ``bad_text``; returns (runs, the bad file)."""
    runs = root / "runs"
    good = runs / GOOD / "20260101-000000-smoke-s0"
    good.mkdir(parents=True)
    (good / "result.json").write_text(json.dumps(template))
    bad = runs / BAD / "20260102-000000-smoke-s0"
    bad.mkdir(parents=True)
    (bad / "result.json").write_text(bad_text)
    return runs, bad / "result.json"


def _broken(template: dict, change) -> str:
    data = json.loads(json.dumps(template))
    data["lab"] = BAD
    change(data)
    return json.dumps(data)


def _drop_statement(d):
    del d["claims"][0]["statement"]


def _text_value(d):
    d["claims"][0]["value"] = "high"


def _text_numbers(d):
    d["claims"][0].update(spread="wide", ci=["low", "high"], values=[0.9, "x"])


CASES = {
    "a list": (lambda t: "[1, 2, 3]", "holds a list, not a JSON object; skipped", False),
    "truncated": (lambda t: json.dumps(t)[:200], "not valid JSON (", False),
    "empty": (lambda t: "", "not valid JSON (", False),
    "no statement": (lambda t: _broken(t, _drop_statement),
                     "claim 'first-claim' has no 'statement'; shown without one", True),
    "text value": (lambda t: _broken(t, _text_value),
                   "claim 'first-claim': 'value' is not a number ('high'); shown as missing",
                   True),
    "text spread, ci, values": (lambda t: _broken(t, _text_numbers),
                                "claim 'first-claim': 'ci' is not a pair of numbers", True),
    "claims not a list": (lambda t: _broken(t, lambda d: d.update(claims={"a": 1})),
                          "'claims' is an object ({'a': 1}), not a list; left out", True),
    "claim not an object": (lambda t: _broken(t, lambda d: d["claims"].insert(0, 7)),
                            "claim 1 is a number (7), not an object; skipped", True),
}


@pytest.mark.parametrize("case", list(CASES))
def test_site_builds_and_warns_once_naming_the_file(template, tmp_path, case):
    make, message, shown = CASES[case]
    runs, bad_file = _write_runs(tmp_path, template, make(template))
    warned: list[str] = []
    index = build_site(runs, tmp_path / "site", warn=warned.append)
    assert index.is_file()
    assert any(w.startswith(f"{bad_file}: ") and message in w for w in warned), warned
    assert all("\n" not in w for w in warned)
    good_page = (tmp_path / "site" / "labs" / GOOD / "index.html").read_text()
    assert "The first statement" in good_page and "The second statement" in good_page
    bad_page = tmp_path / "site" / "labs" / BAD / "index.html"
    assert bad_page.is_file() == shown
    if shown and case != "claims not a list":  # the rest of the broken run is still shown
        assert "The second statement" in bad_page.read_text()
    assert "The second statement" in (tmp_path / "site" / "questions" / "Q09.html").read_text()


def test_a_broken_newest_run_falls_back_to_the_older_one(template, tmp_path):
    runs, bad_file = _write_runs(tmp_path, template, "{")
    older = runs / BAD / "20250101-000000-smoke-s0"
    older.mkdir()
    data = dict(template, lab=BAD, started="2000-01-01T00:00:00+00:00")
    (older / "result.json").write_text(json.dumps(data))
    with pytest.warns(ResultWarning, match="not valid JSON"):
        summary = question_summary("Q09", runs)
    (lab,) = [e for e in summary["labs"] if e["name"] == BAD]
    assert lab["ran"] and lab["run_dir"] == str(older)


def test_a_broken_stability_file_warns_and_the_badges_are_left_out(template, tmp_path):
    runs, _ = _write_runs(tmp_path, template, json.dumps(dict(template, lab=BAD)))
    verify = runs / GOOD / "verify-20260101-000000-smoke-s0"
    verify.mkdir()
    (verify / "stability.json").write_text('{"scale": "smoke", "stability": "most", '
                                          '"claims": 3}')
    warned: list[str] = []
    build_site(runs, tmp_path / "site", warn=warned.append)
    stability = verify / "stability.json"
    assert f"{stability}: 'stability' is not a number ('most'); left out" in warned
    assert f"{stability}: 'claims' is a number, not a list; left out" in warned


def test_check_result_keeps_good_claims_untouched(template):
    warned: list[str] = []
    assert check_result(template, Path("r.json"), warned.append)["claims"] == template["claims"]
    assert warned == []


def test_without_warn_a_result_warning_is_issued(template, tmp_path):
    runs, bad_file = _write_runs(tmp_path, template, "[1, 2, 3]")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        build_site(runs, tmp_path / "site")
    assert [str(w.message) for w in caught if w.category is ResultWarning] == [
        f"{bad_file}: holds a list, not a JSON object; skipped"]


@pytest.mark.parametrize("case", ["a list", "no statement", "text value", "truncated",
                                  "text spread, ci, values"])
def test_cli_report_and_show_warn_on_stderr_and_exit_0(template, tmp_path, case):
    make, message, _ = CASES[case]
    runs, bad_file = _write_runs(tmp_path, template, make(template))
    runner = CliRunner()
    for argv in (["report", "--runs", str(runs), "--out", str(tmp_path / "site")],
                 ["show", "Q09", "--runs", str(runs)]):
        result = runner.invoke(app, argv)
        assert result.exit_code == 0, result.output
        lines = result.stderr.strip().splitlines()
        assert lines and all(w.startswith(f"warning: {bad_file}: ") for w in lines), lines
        assert len(lines) == (3 if case.startswith("text spread") else 1)
        assert any(message in w for w in lines)
        assert "Traceback" not in result.output
    assert "first-claim" in result.stdout and "second-claim" in result.stdout
    shutil.rmtree(tmp_path / "site")
