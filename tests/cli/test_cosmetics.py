"""What the CLI prints: help without raw type names, whole claim ids at 80 columns, lab
summaries that end where their sentence ends."""

from __future__ import annotations

import re

import pytest
from rich.console import Console

from deepdojo.cli.app import claims_table
from deepdojo.labs import LABS, load_all, register_lab
from deepdojo.labs.framework.registry import first_sentence

from .conftest import WalkToyConfig

COMMANDS = ("labs", "questions", "run", "verify", "report", "show", "tune")


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_help_shows_no_raw_type_names(invoke, command):
    result = invoke(*([command] if command else []), "--help")
    assert result.exit_code == 0
    raw_type = r"<(str|int|float|bool|path|list\[\w+\]|\w+ range)>"  # as Typer prints them
    assert not re.search(raw_type, result.stdout), result.stdout
    assert "[default: -1]" not in result.stdout


def test_tune_help_shows_sampler_seed_without_a_sentinel(invoke):
    text = " ".join(invoke("tune", "--help").stdout.split())
    assert "--sampler-seed N Sampler seed (default: --seed); differ it per machine." in text


LONG_ID = "small-batch-generalizes-better-at-fixed-lr"  # the longest id in the labs, 42 chars
CLAIMS = [
    {"id": LONG_ID, "statement": "At a fixed learning rate and equal epochs, small batches "
     "reach a higher test accuracy than large ones", "value": -0.01234, "spread": 0.02,
     "ci": [-0.03456, 0.01234], "verdict": "inconclusive"},
    {"id": "tuned-optimizers-close", "statement": "Tuned optimizers end close", "value": 0.5,
     "ci": None, "verdict": "does not hold", "kind": "check"},
]


@pytest.mark.parametrize("width", [80, 100, 160])
def test_claim_ids_are_whole_and_statements_wrap(width):
    console = Console(width=width, record=True, color_system=None)
    console.print(claims_table("lab", CLAIMS, width=width))
    text = console.export_text()
    assert all(len(line) <= width for line in text.splitlines())
    assert LONG_ID in text and "tuned-optimizers-close" in text
    assert "\u2026" not in text  # nothing cut with an ellipsis
    words = " ".join(re.sub(r"[│┃|]", " ", text).split())
    for word in ("inconclusive", "does not hold", "[-0.03456, 0.01234]", "-0.01234 ±0.02",
                 "(check)", "accuracy"):
        assert word in words, word


def test_compact_layout_below_the_five_column_width():
    narrow = Console(width=80, record=True, color_system=None)
    narrow.print(claims_table("lab", CLAIMS, width=80))
    header = narrow.export_text().splitlines()[2]
    assert "verdict, value, 95% CI" in header and "statement" not in header
    wide = Console(width=160, record=True, color_system=None)
    wide.print(claims_table("lab", CLAIMS, width=160))
    assert "statement" in wide.export_text().splitlines()[2]


def test_show_prints_whole_claim_ids_when_piped(toy_lab, invoke, tmp_path):
    assert invoke("run", toy_lab, "--scale", "smoke", "--out", str(tmp_path)).exit_code == 0
    result = invoke("show", "Q09", "--runs", str(tmp_path))
    assert result.exit_code == 0
    assert "echo (check)" in " ".join(result.stdout.split())


def test_first_sentence_joins_wrapped_lines():
    doc = """A leaderboard of imbalance techniques (resampling, weights,
    losses) on several datasets and ratios. Second sentence.

    Setup. More text."""
    assert first_sentence(doc) == ("A leaderboard of imbalance techniques (resampling, "
                                   "weights, losses) on several datasets and ratios.")
    assert first_sentence("One line without a stop") == "One line without a stop"
    assert first_sentence("") == ""
    assert first_sentence("Q: what is 2.5 vs. 3? lower-case goes on. Next") == (
        "Q: what is 2.5 vs. 3? lower-case goes on.")


def test_summary_defaults_to_the_first_sentence():
    def lab(cfg, ctx):
        """Wrapped summary that goes on
        to a second line. Another sentence."""

    register_lab("test-summary-lab", questions=("Q09",), config=WalkToyConfig)(lab)
    try:
        assert LABS["test-summary-lab"].summary == ("Wrapped summary that goes on to a "
                                                    "second line.")
    finally:
        LABS.pop("test-summary-lab", None)


def test_every_registered_summary_is_a_whole_sentence():
    for name, spec in load_all().items():
        assert spec.summary.endswith((".", ")", "?")), (name, spec.summary)
        assert "\n" not in spec.summary, name


def test_labs_lists_the_imbalanced_data_summary_whole(invoke):
    result = invoke("labs")
    text = " ".join(re.sub(r"[│┃|]", " ", result.stdout).split())
    assert "on several datasets and ratios." in text


STABILITY = {"base_seeds": [0, 1, 2], "claims": [
    {"id": LONG_ID, "verdicts": ["does not hold", "inconclusive", None], "counted": True,
     "agree": False},
    {"id": "b", "verdicts": ["holds"] * 3, "counted": False, "agree": True},
]}


@pytest.mark.parametrize("width", [80, 160])
def test_verify_table_keeps_ids_whole_and_every_column(width):
    from deepdojo.cli.verify import stability_table

    console = Console(width=width, record=True, color_system=None)
    console.print(stability_table("lab: verdicts over 3 seed sets", STABILITY, width=width))
    text = console.export_text()
    assert all(len(line.rstrip()) <= width for line in text.splitlines())
    assert LONG_ID in text and "not counted" in text and "\u2026" not in text
    expected = (["2: missing", "0: does not hold"] if width == 80
                else ["base 2", "missing", "does not hold"])
    for word in expected:
        assert word in text, word
