"""The shared run-page view: number formatting, claims and escaping."""

from __future__ import annotations

from deepdojo.report.runpage import claim_view, fmt_seconds, fmt_value, render_run_page, run_view


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
    assert "(2/3 seeds)" in page
    plain = render_run_page(_result(claims=[{**claim, "seed_holds": None}]))
    assert 'class="seed seed-bad"' not in plain
    assert "0.1, -0.3, 0.2" in plain


def _claim(cid, verdict, **kw):
    return {"id": cid, "statement": f"statement {cid}", "rule": "r", "value": 0.1,
            "holds": verdict == "holds", "verdict": verdict, **kw}


def test_verdicts_kinds_interval_and_why_on_the_page():
    claims = [
        _claim("a", "holds", ci=[0.12, 0.2], margin=0.1, why="A wins by {x}"),
        _claim("b", "does not hold", why="the RNN also reaches 0.91"),
        _claim("c", "inconclusive", ci=[0.05, 0.25], margin=0.1,
               why="the 95% interval [0.05, 0.25] straddles the margin 0.1"),
        _claim("k", "holds", kind="check"),
        _claim("t", "holds", environment_dependent=True),
    ]
    view = run_view(_result(claims=claims))
    assert view["counts"] == {"n_hold": 2, "n_fail": 1, "n_inconclusive": 1, "n_checks": 1,
                              "n_checks_failing": 0}
    a, b, c, k, _ = view["claims"]
    assert (a["verdict_class"], b["verdict_class"], c["verdict_class"]) == (
        "holds", "fails", "inconclusive")
    assert a["ci_text"] == "[0.12, 0.2]" and a["margin_text"] == "0.1" and a["has_margin"]
    assert b["ci_text"] == "\u2014" and not b["has_margin"]
    assert k["kind"] == "check"
    page = render_run_page(_result(claims=claims))
    assert '<span class="badge inconclusive">? inconclusive</span>' in page
    assert '<span class="badge fails">&#10007; does not hold</span>' in page
    assert '<span class="why">the RNN also reaches 0.91</span>' in page
    assert "A wins by {x}" in page  # why text is shown as written (never re-formatted)
    assert "[0.05, 0.25]" in page and "margin 0.1" in page
    assert 'class="holds check" id="claim-k"' in page and ">environment-dependent</span>" in page
    assert '<span class="reason">A wins by {x}</span>' in page  # "holds": the reason, quieter
    # checks sit in their own table, after the findings
    assert page.index('class="claims findings"') < page.index('id="claim-a"')
    assert page.index('class="claims checks"') < page.index('id="claim-k"')
    assert page.count('<svg class="ibar"') == 2  # claims a and c have an interval
    assert "1/1 checks pass" in page and "1 inconclusive" in page and "2 hold<" in page


def test_old_results_without_verdicts_still_render():
    old = {"id": "o", "statement": "s", "rule": "r", "value": 1.0, "holds": False}
    view = run_view(_result(claims=[old]))
    assert view["claims"][0]["verdict"] == "does not hold"
    assert view["claims"][0]["kind"] == "finding" and view["claims"][0]["why"] == ""
    assert view["counts"]["n_fail"] == 1


def test_stability_badges_when_a_verify_run_exists():
    claims = [_claim("a", "holds"), _claim("b", "inconclusive"),
              _claim("t", "holds", environment_dependent=True)]
    stability = {"verify_id": "verify-x", "runs": ["set-0", "set-1", "set-2"], "counted": 2,
                 "agreeing": 1, "stability": 0.5, "claims": [
                     {"id": "a", "verdicts": ["holds"] * 3, "agree": True},
                     {"id": "b", "verdicts": ["holds", "inconclusive", "holds"],
                      "agree": False},
                     {"id": "t", "verdicts": ["holds", "does not hold", "holds"],
                      "agree": False, "environment_dependent": True}]}
    view = run_view(_result(claims=claims), stability=stability)
    a, b, t = (c["stability"] for c in view["claims"])
    assert a == {"class": "stable", "text": "stable 3/3 seed sets",
                 "title": "same verdict on 3 disjoint seed sets"}
    assert b["class"] == "unstable" and "holds / inconclusive / holds" in b["title"]
    assert t["class"] == "idle" and t["text"] == "timing: not in stability"
    assert view["stability"]["text"] == "50%" and not view["stability"]["ok"]
    page = render_run_page(_result(claims=claims), stability=stability)
    assert "stable 3/3 seed sets" in page and "flips across seed sets" in page
    assert "1 of 2 claims keep their verdict over 3 disjoint seed sets" in page
    assert "stable 3/3" not in render_run_page(_result(claims=claims))
