"""Claims at a glance: formulas drawn offline, interval bars, run history, the search index."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from deepdojo.report.glance import WIDTH, interval_bar
from deepdojo.report.history import MAX_RUNS, history_view
from deepdojo.report.mathtext import formula_img, has_math, render_math
from deepdojo.report.search import index_script, site_index
from deepdojo.report.site import reference_view


def _svg_of(img: str) -> str:
    data = re.search(r'base64,([A-Za-z0-9+/=]+)"', img).group(1)
    return base64.b64decode(data).decode()


def test_formula_becomes_an_svg_image_and_text_is_escaped():
    html = str(render_math(r"L1 adds $\lambda \sum_i |w_i|$ to <the> loss"))
    assert html.startswith("L1 adds <img class=\"math\"") and html.endswith(" to &lt;the&gt; loss")
    svg = _svg_of(html)
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "<path" in svg  # glyphs as paths
    assert "<metadata>" not in svg and "<text" not in svg  # no date, no font needed
    assert "#ffffff" not in svg  # transparent: the dark theme inverts the glyphs only
    assert 'alt="\\lambda \\sum_i |w_i|"' in html
    em = re.search(r"width:([\d.]+)em;height:([\d.]+)em", html)
    assert 1.0 < float(em.group(1)) < 8 and 0.8 < float(em.group(2)) < 4


def test_formula_output_is_deterministic():
    formula_img.cache_clear()
    first = formula_img(r"\eta \nabla L")
    formula_img.cache_clear()
    assert formula_img(r"\eta \nabla L") == first


@pytest.mark.parametrize("text", ["costs $5 and $6", "a $ b $ c", "no math", "$ x$"])
def test_dollars_that_are_not_math_stay_text(text):
    assert not has_math(text)
    assert str(render_math(text)) == text


def test_formula_mathtext_cannot_parse_is_shown_as_code():
    html = str(render_math(r"bad $\frac{$ end"))
    assert html == r"bad <code>$\frac{$</code> end"


def _claim(**kw):
    return {"ci": [0.2, 0.4], "margin": 0.1, "value": 0.3, "values": [0.25, 0.3, 0.35], **kw}


def test_interval_bar_places_interval_margin_and_seeds():
    svg = str(interval_bar(_claim(), "holds"))
    assert svg.startswith('<svg class="ibar"') and f'width="{WIDTH}"' in svg
    rect = re.search(r'<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', svg)
    x0, w = float(rect.group(1)), float(rect.group(2))
    margin_x = float(re.search(r'<line x1="([\d.]+)"[^>]*stroke-dasharray', svg).group(1))
    dot_x = float(re.search(r'<circle cx="([\d.]+)"', svg).group(1))
    assert margin_x < x0 < dot_x < x0 + w  # margin left of the interval; mean inside it
    # axis from 0.1 - pad to 0.4 + pad over 4..156 px: 0.2 sits at 4 + 152 * 0.124 / 0.348
    assert x0 == pytest.approx(4 + 152 * (0.2 - 0.076) / 0.348, abs=0.1)
    assert svg.count('stroke="var(--muted)"') == 3  # one tick per seed
    assert "var(--ok-line)" in svg and "95% interval [0.2, 0.4], margin 0.1" in svg
    assert "var(--bad-line)" in str(interval_bar(_claim(), "does not hold"))


def test_no_bar_without_a_finite_interval():
    assert interval_bar(_claim(ci=None), "holds") is None
    assert interval_bar(_claim(ci=[0.1, float("nan")]), "holds") is None
    assert "stroke-dasharray" not in str(interval_bar(_claim(margin=None), "inconclusive"))


def _run(run_id, started, verdicts, scale="quick"):
    claims = [{"id": cid, "statement": f"s {cid}", "verdict": v, "value": 0.5,
               "holds": v == "holds"} for cid, v in verdicts.items()]
    return Path("runs/lab") / run_id, {"run_id": run_id, "started": started, "scale": scale,
                                        "seeds": [1, 2, 3, 4, 5], "claims": claims}


def test_history_marks_moved_verdicts_and_missing_claims():
    assert history_view([_run("a", "2026", {"x": "holds"})]) is None
    view = history_view([_run("new", "2026-02", {"x": "holds", "y": "inconclusive"}),
                         _run("old", "2026-01", {"x": "holds", "z": "does not hold"}, "smoke")])
    assert [c["run_id"] for c in view["columns"]] == ["new", "old"]
    assert view["columns"][0]["seeds"] == "1\u20265 (5)" and view["columns"][1]["scale"] == "smoke"
    rows = {r["id"]: r for r in view["rows"]}
    assert list(rows) == ["x", "y", "z"] and view["n_moved"] == 0
    assert rows["y"]["cells"][1] is None and rows["z"]["cells"][0] is None
    assert rows["x"]["cells"][0] == {"text": "\u2713 0.5", "verdict": "holds", "class": "holds"}
    moved = history_view([_run("b", "2", {"x": "holds"}), _run("a", "1", {"x": "inconclusive"})])
    assert moved["rows"][0]["moved"] and moved["n_moved"] == 1
    many = history_view([_run(str(i), str(i), {"x": "holds"}) for i in range(MAX_RUNS + 2)])
    assert len(many["columns"]) == MAX_RUNS and many["n_more"] == 2


def test_search_index_has_questions_api_and_is_a_script():
    entries = site_index({})
    kinds = {e["k"] for e in entries}
    assert kinds == {"question", "api"}
    q08 = next(e for e in entries if e["u"] == "questions/Q08.html")
    assert q08["t"].startswith("Q08 ") and "initialization" in q08["x"]
    assert q08["x"] == q08["x"].lower()
    script = index_script(entries)
    assert script.splitlines()[1].startswith("window.DEEPDOJO_INDEX = [{")


def test_reference_view():
    assert reference_view("Doe, J. (2020). A paper. ICML.") == {
        "text": "Doe, J. (2020). A paper. ICML.", "href": "", "note": ""}
    assert reference_view("See https://arxiv.org/abs/1512.03385.")["href"] == (
        "https://arxiv.org/abs/1512.03385")
    assert reference_view(("T", "javascript:alert(1)"))["href"] == ""
    assert reference_view({"title": "T", "url": "https://x.org/a", "status": "ok"}) == {
        "text": "T", "href": "https://x.org/a", "note": "ok"}
