"""The evidence site: builds from a tiny fake runs folder, links resolve, verdicts shown."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest

from deepdojo.labs import LABS, LabError, load_all, register_lab, run_lab, verify_lab
from deepdojo.labs.framework import plt
from deepdojo.labs.framework import rules as R
from deepdojo.report import build_site, question_summary

LAB = "zz-report-test-lab"
IDLE_LAB = "zz-report-test-idle"


@dataclass
class ToyConfig:
    offset: float = 0.0  # added to every measured value


def toy_lab(cfg: ToyConfig, ctx) -> None:
    """A toy lab with claims that hold, do not hold, are inconclusive, and a check."""
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])
    ctx.figure("line", fig, caption="A <line> & its caption")
    ctx.metric("acc.toy", 0.5 + cfg.offset)
    ctx.table("rows", [{"scheme": "a", "acc": 0.25}, {"scheme": "b", "acc": 0.75}])
    values = [0.9 + cfg.offset + 0.01 * i for i in range(len(ctx.seeds))]
    # 0.90 and 0.91 miss 0.915 on their own; 3 of 5 seeds pass, so it holds
    ctx.claim("toy-holds", "Toy accuracy is high", R.FractionOfSeeds(R.AtLeast(0.915), 0.6),
              values=values, metric="toy accuracy")
    ctx.claim("toy-fails", "Toy gap is tiny", R.EverySeed(R.AtMost(1e-6)),
              values=[0.125] * len(ctx.seeds), metric="gap",
              why={"does not hold": "the gap stays at {max:.3f}"})
    ctx.claim("toy-unsure", "Toy beats the baseline", R.Greater(margin=0.0),
              a=[0.5, 0.7, 0.4, 0.6, 0.45][: len(ctx.seeds)], b=[0.5] * len(ctx.seeds))
    ctx.claim("toy-check", "Two plus two", R.EverySeed(R.AtLeast(4.0)), values=[4.0],
              kind="check")


def idle_lab(cfg: ToyConfig, ctx) -> None:
    """Registered but never run in these tests."""


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    load_all()
    register_lab(LAB, questions=("Q08", "Q14"), config=ToyConfig)(toy_lab)
    register_lab(IDLE_LAB, questions=("Q14",), config=ToyConfig)(idle_lab)
    root = tmp_path_factory.mktemp("report")
    runs = root / "runs"
    first = run_lab(LAB, scale="smoke", out=runs, progress="off")
    # make it clearly older: ``started`` has one-second resolution and both runs take less
    older = json.loads((first.path / "result.json").read_text())
    older["started"] = "2000-01-01T00:00:00+00:00"
    (first.path / "result.json").write_text(json.dumps(older))
    latest = run_lab(LAB, scale="quick", seed=3, out=runs, progress="off")  # seeds 3000..3004
    verify = verify_lab(LAB, seed_sets=2, scale="quick", seed=3, out=runs, progress="off")
    index = build_site(runs, root / "site")
    yield {"runs": runs, "site": root / "site", "index": index, "first": first, "latest": latest,
           "verify": verify}
    LABS.pop(LAB, None)
    LABS.pop(IDLE_LAB, None)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("href", "src") and value is not None:
                self.links.append(value)
            if name == "id" and value:
                self.ids.add(value)


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_returns_index_and_writes_every_page(built):
    site = built["site"]
    assert built["index"] == site / "index.html" and built["index"].is_file()
    for i in range(1, 21):
        assert (site / "questions" / f"Q{i:02d}.html").is_file()
    assert (site / "labs" / LAB / "index.html").is_file()
    assert (site / "labs" / LAB / "figures" / "line.png").stat().st_size > 0
    assert not (site / "labs" / IDLE_LAB).exists()
    assert not list(site.parent.glob(".site.*")), "temp build folders must be cleaned up"


def test_every_link_resolves_and_nothing_is_external(built):
    pages = sorted(built["site"].rglob("*.html"))
    assert len(pages) >= 22
    checked = 0
    for page in pages:
        parsed = _parse(page)
        assert "link" not in parsed.tags, page  # CSS is inline; scripts are static/*.js
        for link in parsed.links:
            if re.match(r"^https?://", link):  # a reference's URL: well-formed, never fetched
                assert re.match(r"^https?://[\w.-]+\.[a-z]{2,}(/\S*)?$", link), link
                continue
            assert not re.match(r"^([a-z]+:|//|/)", link), f"{page}: non-relative link {link}"
            target, _, fragment = link.partition("#")
            if not target:
                assert fragment in parsed.ids, f"{page}: dangling anchor {link}"
                continue
            assert (page.parent / target).resolve().is_file(), f"{page}: broken link {link}"
            checked += 1
    assert checked > 60


def test_question_page_shows_answer_verdicts_and_numbers(built):
    text = (built["site"] / "questions" / "Q08.html").read_text()
    assert "Weight initialization is the choice" in text  # our short answer
    assert 'class="badge holds"' in text and 'class="badge fails"' in text
    assert 'class="badge inconclusive"' in text
    assert "Toy accuracy is high" in text and "Toy gap is tiny" in text
    # per-seed values 0.9 + 0.01 * i, each marked against the rule's condition
    assert re.search(r'seed-bad"[^>]*>0\.91&nbsp;&#10007;', text)
    assert re.search(r'seed-ok"[^>]*>0\.92&nbsp;&#10003;', text)
    assert "(3/5 seeds)" in text
    assert "toy accuracy &gt;= 0.915 on at least 60% of seeds" in text  # the rule's sentence
    assert "0.92 ± 0.04" in text  # mean ± spread (max - min)
    assert "0.125" in text and "the gap stays at 0.125" in text  # value and filled why
    assert "straddles the margin 0" in text  # the inconclusive claim says why
    assert "stable 2/2 seed sets" in text  # the verify run's badges
    assert ">check</span>" in text and "1/1 checks pass" in text
    assert "deepdojo run zz-report-test-lab --scale quick --seed 3" in text
    assert f"../labs/{LAB}/figures/line.png" in text
    assert "A &lt;line&gt; &amp; its caption" in text  # captions are escaped
    assert "smoke</b>-scale run" not in text


def test_run_folder_page_is_standalone_and_flags_smoke(built):
    page = built["first"].path / "index.html"
    text = page.read_text()
    assert "smoke</b>-scale run" in text and "Toy gap is tiny" in text
    for link in _parse(page).links:
        assert (page.parent / link).is_file(), link  # figures/line.png and result.json


def test_latest_run_is_used(built):
    latest_id = built["latest"].result["run_id"]
    page = (built["site"] / "labs" / LAB / "index.html").read_text()
    assert latest_id in page
    copied = json.loads((built["site"] / "labs" / LAB / "result.json").read_text())
    assert copied["run_id"] == latest_id and copied["seed"] == 3


def test_index_states(built):
    text = (built["site"] / "index.html").read_text()
    rows = dict(re.findall(r'<tr id="(Q\d\d)">(.*?)</tr>', text, flags=re.S))
    assert sorted(rows) == [f"Q{i:02d}" for i in range(1, 21)]
    assert "1 holds" in rows["Q08"] and "1 does not hold" in rows["Q08"]
    assert "1 inconclusive" in rows["Q08"] and "1/1 checks pass" in rows["Q08"]
    lab_row = re.search(rf'<td><a href="labs/{LAB}/index.html">.*?</tr>', text, flags=re.S)[0]
    assert 'class="badge stable"' in lab_row and ">100%</span>" in lab_row
    # the toy lab ran; IDLE_LAB and any real Q14 lab registered by the project did not
    idle = sum(1 for name, s in LABS.items() if "Q14" in s.questions and name != LAB)
    assert idle >= 1
    assert f"{idle} more lab{'s' if idle > 1 else ''} not run yet" in rows["Q14"]
    unanswered = [q for q in rows if not any(q in s.questions for s in LABS.values())]
    for qid in unanswered:
        assert "no lab yet" in rows[qid]
    registered_only = [q for q in rows if q not in unanswered and q not in ("Q08", "Q14")]
    for qid in registered_only:
        assert "not run yet" in rows[qid]


def test_rebuild_replaces_site_and_refuses_foreign_folder(built, tmp_path):
    site = built["site"]
    (site / "stale.txt").write_text("old")
    build_site(built["runs"], site)
    assert not (site / "stale.txt").exists()
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not built by deepdojo"):
        build_site(built["runs"], foreign)
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_missing_runs_dir_is_a_value_error_naming_it(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(LabError, match="nope"):
        build_site(missing, tmp_path / "site")
    assert issubclass(LabError, ValueError)
    assert not (tmp_path / "site").exists()


def test_missing_figure_file_is_shown_not_linked(built, tmp_path):
    import shutil

    runs = tmp_path / "runs"
    shutil.copytree(built["runs"], runs)
    for png in runs.rglob("line.png"):
        png.unlink()
    build_site(runs, tmp_path / "site")
    page = (tmp_path / "site" / "questions" / "Q08.html").read_text()
    assert "figures/line.png" not in page and "is missing from the run folder" in page


def test_question_summary(built):
    summary = question_summary("q14", built["runs"])
    assert summary["id"] == "Q14" and summary["answer"]
    labs = {lab["name"]: lab for lab in summary["labs"]}
    assert labs[IDLE_LAB]["ran"] is False and "claims" not in labs[IDLE_LAB]
    ran = labs[LAB]
    assert ran["ran"] and (ran["holding"], ran["not_holding"]) == (2, 2)
    assert ran["counts"] == {"findings": 3, "holds": 1, "does not hold": 1, "inconclusive": 1,
                             "checks": 1, "checks failing": 0}
    assert ran["stability"] == 1.0
    assert [c["id"] for c in ran["claims"]] == ["toy-holds", "toy-fails", "toy-unsure",
                                                "toy-check"]
    assert question_summary("Q14", built["runs"].parent / "absent")["labs"][0]["ran"] is False
    with pytest.raises(ValueError, match="Q01..Q20"):
        question_summary("Q42", built["runs"])


def test_run_of_unregistered_lab_still_counts(built, tmp_path):
    import shutil

    runs = tmp_path / "runs"
    shutil.copytree(built["runs"], runs)
    gone = json.loads((built["latest"].path / "result.json").read_text())
    gone |= {"lab": "zz-gone-lab", "questions": ["Q01"], "figures": [], "run_id": "r1"}
    (runs / "zz-gone-lab" / "r1").mkdir(parents=True)
    (runs / "zz-gone-lab" / "r1" / "result.json").write_text(json.dumps(gone))
    build_site(runs, tmp_path / "site")
    page = (tmp_path / "site" / "questions" / "Q01.html").read_text()
    assert "no longer registered" in page and "Toy gap is tiny" in page
    index = (tmp_path / "site" / "index.html").read_text()
    row = re.search(r'<tr id="Q01">(.*?)</tr>', index, flags=re.S).group(1)
    assert "1 does not hold" in row and "labs/zz-gone-lab/index.html" in row


def test_site_files_are_readable_by_others(built):
    # a site is served or shared: no page may keep the private mode of a temp file
    for path in [built["site"], *built["site"].rglob("*")]:
        mode = path.stat().st_mode & 0o777
        assert mode == (0o755 if path.is_dir() else 0o644), f"{path}: {oct(mode)}"
