"""Sections: a lab that records a ``sections`` table gets its claims and figures grouped."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from deepdojo.labs import LABS, load_all, register_lab, run_lab
from deepdojo.labs.framework import plt
from deepdojo.labs.framework import rules as R
from deepdojo.report import build_site
from deepdojo.report.runpage import run_view, sections_view

LAB = "zz-sections-test-lab"
PLAIN = "zz-sections-plain-lab"


@dataclass
class Cfg:
    offset: float = 0.0


def _fig(ctx, name: str) -> None:
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [1, 0])
    ctx.figure(name, fig, caption=f"figure {name}")


def sectioned(cfg: Cfg, ctx) -> None:
    """Two sections; one claim and one figure belong to none; one listed claim is not stated."""
    for name in ("alpha_fig", "beta_fig", "loose_fig"):
        _fig(ctx, name)
    n = len(ctx.seeds)
    ctx.claim("alpha-holds", "Alpha statement", R.AtLeast(0.5), values=[0.9] * n)
    ctx.claim("beta-fails", "Beta statement", R.AtMost(0.1), values=[0.9] * n)
    ctx.claim("beta-check", "Beta check", R.AtLeast(0.0), values=[1.0] * n, kind="check")
    ctx.claim("loose-claim", "Loose statement", R.AtLeast(0.0), values=[1.0] * n)
    ctx.table("sections", [
        {"section": "Alpha part", "claims": "alpha-holds", "figures": "alpha_fig", "cpu_s": 1.5},
        {"section": "Beta part", "claims": "beta-fails beta-check beta-full-only",
         "figures": "beta_fig", "cpu_s": None},
    ])


def plain(cfg: Cfg, ctx) -> None:
    """No sections table: the page is laid out as before."""
    _fig(ctx, "only_fig")
    ctx.claim("plain-holds", "Plain statement", R.AtLeast(0.0), values=[1.0] * len(ctx.seeds))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    load_all()
    register_lab(LAB, questions=("Q19",), config=Cfg)(sectioned)
    register_lab(PLAIN, questions=("Q19",), config=Cfg)(plain)
    root = tmp_path_factory.mktemp("sections")
    runs = root / "runs"
    run = run_lab(LAB, scale="quick", out=runs, progress="off")
    run_lab(PLAIN, scale="quick", out=runs, progress="off")
    build_site(runs, root / "site")
    yield {"site": root / "site", "result": run.result}
    LABS.pop(LAB, None)
    LABS.pop(PLAIN, None)


def test_sections_view_groups_claims_and_figures(site):
    view = run_view(site["result"])
    names = [s["name"] for s in view["sections"]]
    assert names == ["Alpha part", "Beta part"]
    alpha, beta = view["sections"]
    assert [c["id"] for c in alpha["claims"]] == ["alpha-holds"]
    assert [c["id"] for c in beta["claims"]] == ["beta-fails", "beta-check"]
    assert beta["not_stated"] == ["beta-full-only"]
    assert [f["name"] for f in alpha["figures"]] == ["alpha_fig"]
    assert alpha["cpu_s"] == "1.5 s" and beta["cpu_s"] == ""
    assert alpha["counts"]["n_hold"] == 1 and beta["counts"]["n_fail"] == 1
    assert beta["counts"]["n_checks"] == 1
    assert [c["id"] for c in view["other_claims"]] == ["loose-claim"]
    assert [f["name"] for f in view["other_figures"]] == ["loose_fig"]


def test_without_table_nothing_is_grouped():
    claims = [{"id": "a"}]
    figs = [{"name": "f"}]
    assert sections_view({"tables": {"other": []}}, claims, figs) == ([], claims, figs)


def test_a_claim_named_twice_goes_to_the_first_section():
    result = {"tables": {"sections": [{"section": "one", "claims": "a", "figures": "f"},
                                      {"section": "two", "claims": "a b", "figures": "f g"}]}}
    claims = [{"id": "a", "kind": "finding", "verdict": "holds"},
              {"id": "b", "kind": "finding", "verdict": "holds"}]
    secs, rest, rest_f = sections_view(result, claims, [{"name": "f"}, {"name": "g"}])
    assert [c["id"] for c in secs[0]["claims"]] == ["a"]
    assert [c["id"] for c in secs[1]["claims"]] == ["b"]
    assert [f["name"] for f in secs[1]["figures"]] == ["g"]
    assert rest == [] and rest_f == []


def _block(text: str, start: str, end: str) -> str:
    i = text.index(start)
    return text[i: text.index(end, i)]


def _lab_block(text: str, lab: str) -> str:
    """One lab's card on a question page: up to the next lab card or the pager."""
    rest = text[text.index(f'id="lab-{lab}"'):]
    ends = [rest.find(m, 1) for m in ('<section class="card lab"', '<div class="pager">')]
    return rest[: min(e for e in ends if e > 0)]


def test_question_page_shows_each_section_with_its_verdicts_and_figure(site):
    text = (site["site"] / "questions" / "Q19.html").read_text()
    lab = _lab_block(text, LAB)
    alpha = _block(lab, "<h4>Alpha part", "</section>")
    beta = _block(lab, "<h4>Beta part", "</section>")
    assert "Alpha statement" in alpha and "Beta statement" not in alpha
    assert f"../labs/{LAB}/figures/alpha_fig.png" in alpha
    assert "beta_fig.png" not in alpha and "1.5 s CPU" in alpha
    assert "Beta statement" in beta and "Beta check" in beta
    assert f"../labs/{LAB}/figures/beta_fig.png" in beta
    assert re.search(r"Decided at full scale only.*beta-full-only", beta, re.S)
    assert 'class="badge fails"' in beta
    rest = lab[lab.index("Other claims"):]
    assert "Loose statement" in rest and "loose_fig.png" in rest
    # the section navigation links to anchors that exist
    for anchor in re.findall(r'href="#(sec-[^"]+)"', lab):
        assert f'id="{anchor}"' in lab


def test_lab_page_is_sectioned_too_and_plain_lab_is_not(site):
    lab_page = (site["site"] / "labs" / LAB / "index.html").read_text()
    assert lab_page.count('class="app-section"') == 2
    assert "<caption>sections</caption>" not in lab_page  # shown as the sections themselves
    text = (site["site"] / "questions" / "Q19.html").read_text()
    plain_block = _lab_block(text, PLAIN)
    assert "app-section" not in plain_block and "Plain statement" in plain_block
    assert ">Claims</h4>" in plain_block
