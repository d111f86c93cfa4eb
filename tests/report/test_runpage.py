"""The shared run-page view: number formatting, claims and escaping."""

from __future__ import annotations

from deepdojo.labs._runpage import claim_view, fmt_seconds, fmt_value, render_run_page, run_view


def test_fmt_value():
    assert fmt_value(None) == "\u2014"
    assert fmt_value(True) == "true"
    assert fmt_value(12) == "12"
    assert fmt_value(0.123456) == "0.1235"
    assert fmt_value(1.5e-7) == "1.5e-07"
    assert fmt_value(float("nan")) == "nan" and fmt_value("inf") == "inf"
    assert fmt_value([1, 2.5]) == "[1, 2.5]"
    long = fmt_value(list(range(20)))
    assert long.startswith("[0, 1, 2, 3, 4, 5, \u2026, 19]") and "(20 values)" in long
    assert fmt_value({"a": 0.5}) == "a: 0.5"


def test_fmt_seconds():
    assert fmt_seconds(3.21) == "3.2 s"
    assert fmt_seconds(125) == "2 min 05 s"


def test_claim_view_mean_and_spread():
    c = claim_view(
        {
            "id": "c",
            "statement": "s",
            "rule": "r",
            "holds": False,
            "value": 0.2,
            "values": [0.1, 0.3],
            "mean": 0.2,
            "spread": 0.2,
        }
    )
    assert (c["holds"], c["value_text"], c["values_text"], c["mean_text"]) == (
        False,
        "0.2",
        "0.1, 0.3",
        "0.2 \u00b1 0.2",
    )
    assert c["has_seed_rule"] is False and [s["ok"] for s in c["seeds"]] == [None, None]
    single = claim_view({"id": "d", "holds": True, "value": None})
    assert single["values_text"] == single["mean_text"] == single["value_text"] == "\u2014"


def _result(**kw):
    base = {
        "lab": "toy<lab>",
        "summary": "S & T",
        "claims": [],
        "command": "deepdojo run x",
        "figures": [{"name": "f", "path": "figures/f.png", "caption": "c"}],
        "tables": {"t": [{"name": "a", "acc": 0.5}, {"name": "b", "acc": None}]},
    }
    return base | kw


def test_table_columns_numeric_alignment():
    view = run_view(_result())
    (table,) = view["tables"]
    assert [(c["name"], c["numeric"]) for c in table["columns"]] == [("name", False), ("acc", True)]


def test_missing_figure_has_no_src_and_page_escapes():
    view = run_view(_result(), fig_base="../x/", fig_exists=lambda p: False)
    assert view["figures"][0]["src"] is None
    assert run_view(_result(), fig_base="../x/")["figures"][0]["src"] == "../x/figures/f.png"
    page = render_run_page(_result())
    assert "toy&lt;lab&gt;" in page and "S &amp; T" in page and "<script" not in page
    assert "This run stated no claims." in page


def test_seed_verdicts_marked_with_legend():
    claim = {"id": "c", "statement": "s", "rule": "r", "holds": True, "value": 0.2,
             "values": [0.1, -0.3, 0.2], "mean": 0.0, "spread": 0.5,
             "seed_holds": [True, False, True]}
    c = claim_view(claim)
    assert [(s["text"], s["ok"]) for s in c["seeds"]] == [("0.1", True), ("-0.3", False),
                                                           ("0.2", True)]
    assert c["has_seed_rule"] and c["seeds_passing"] == 2
    page = render_run_page(_result(claims=[claim]))
    assert '<span class="seed seed-bad"' in page and page.count('class="seed seed-ok"') >= 2
    assert "-0.3&nbsp;&#10007;" in page and "0.1&nbsp;&#10003;" in page
    assert "(2/3 seeds pass)" in page and "at least 2/3" in page
    plain = render_run_page(_result(claims=[{**claim, "seed_holds": None}]))
    assert 'class="seed seed-bad"' not in plain and "at least 2/3" not in plain
    assert "0.1, -0.3, 0.2" in plain
