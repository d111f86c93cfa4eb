"""``verify``: K disjoint seed sets, stability.json, and the share of agreeing claims."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from deepdojo.labs import LABS, LabContext, LabError, latest_runs, register_lab, verify_lab
from deepdojo.labs.framework import rules as R
from deepdojo.labs.framework.verify import compare_verdicts, latest_stability


@dataclass
class FlipConfig:
    bias: float = 0.0  # added to the noisy arm


def _flip(cfg: FlipConfig, ctx: LabContext) -> None:
    """A lab with a steady claim, a claim whose verdict depends on the seed set, and a timing."""
    base = ctx.seeds[0] // 1000
    n = len(ctx.seeds)
    ctx.claim("steady", "always high", R.AtLeast(0.5), values=[0.9, 0.91, 0.92, 0.93, 0.94][:n])
    # even bases: clearly above 0; odd bases: clearly below
    sign = 1.0 if base % 2 == 0 else -1.0
    ctx.claim("flips", "depends on the seeds", R.Greater(), a=[sign + cfg.bias] * n,
              b=[0.01 * i for i in range(n)])
    ctx.claim("speed", "fast", R.AtMost(1.0), values=[0.5 + 0.3 * (base % 2)] * n,
              environment_dependent=True)
    ctx.claim("chk", "by construction", R.EverySeed(R.AtMost(0.0)), values=[0.0] * n,
              kind="check")
    ctx.metric("seeds", ctx.seeds)


@pytest.fixture()
def flip_lab():
    register_lab("test-verify-flip", questions=("Q02",), config=FlipConfig)(_flip)
    yield "test-verify-flip"
    LABS.pop("test-verify-flip", None)


def test_verify_writes_stability_over_disjoint_seed_sets(flip_lab, tmp_path):
    res = verify_lab(flip_lab, seed_sets=3, seed=4, scale="quick", out=tmp_path,
                     progress="off")
    assert res.path.parent == tmp_path / flip_lab and res.path.name.startswith("verify-")
    st = json.loads((res.path / "stability.json").read_text())
    assert st == res.stability
    assert st["base_seeds"] == [4, 5, 6]
    assert st["seeds"] == [[4000 + i for i in range(5)], [5000 + i for i in range(5)],
                           [6000 + i for i in range(5)]]
    flat = [s for seeds in st["seeds"] for s in seeds]
    assert len(set(flat)) == len(flat)  # disjoint
    rows = {r["id"]: r for r in st["claims"]}
    assert rows["steady"]["verdicts"] == ["holds"] * 3 and rows["steady"]["agree"]
    assert rows["flips"]["verdicts"] == ["holds", "does not hold", "holds"]
    assert rows["flips"]["agree"] is False
    assert rows["speed"]["counted"] is False and rows["speed"]["environment_dependent"]
    assert rows["chk"]["kind"] == "check" and rows["chk"]["agree"]
    # counted: steady, flips, chk (speed is environment-dependent) -> 2 of 3 agree
    assert (st["counted"], st["agreeing"]) == (3, 2)
    assert st["stability"] == pytest.approx(2 / 3)
    assert st["inconclusive_findings"] == 0.0
    for k in range(3):
        result = json.loads((res.path / f"set-{k}" / "result.json").read_text())
        assert result["seed"] == 4 + k and (res.path / f"set-{k}" / "index.html").is_file()
    assert latest_runs(tmp_path) == {}  # verify sets are not the lab's latest run
    assert latest_stability(tmp_path / flip_lab, "quick")["verify_id"] == res.path.name
    assert latest_stability(tmp_path / flip_lab, "full") is None


def test_verify_refreshes_the_latest_run_page(flip_lab, tmp_path):
    from deepdojo.labs import run_lab

    run = run_lab(flip_lab, scale="quick", out=tmp_path, progress="off")
    assert "flips across seed sets" not in (run.path / "index.html").read_text()
    verify_lab(flip_lab, seed_sets=2, seed=0, out=tmp_path, progress="off")
    page = (run.path / "index.html").read_text()
    assert "stable 2/2 seed sets" in page and "flips across seed sets" in page


def test_verify_bad_input_and_nothing_left_behind(flip_lab, tmp_path):
    with pytest.raises(LabError, match="--seed-sets must be an integer >= 2"):
        verify_lab(flip_lab, seed_sets=1, out=tmp_path)
    with pytest.raises(LabError, match="no field 'nope'"):
        verify_lab(flip_lab, overrides={"nope": "1"}, out=tmp_path)
    with pytest.raises(LabError, match="finite"):
        verify_lab(flip_lab, overrides={"bias": "nan"}, out=tmp_path)
    assert not (tmp_path / flip_lab).exists() or not any((tmp_path / flip_lab).iterdir())


def test_compare_verdicts_handles_missing_claims_and_old_results():
    a = {"claims": [{"id": "x", "holds": True}, {"id": "y", "verdict": "inconclusive"}]}
    b = {"claims": [{"id": "x", "holds": True}]}
    cmp = compare_verdicts([a, b])
    rows = {r["id"]: r for r in cmp["claims"]}
    assert rows["x"]["verdicts"] == ["holds", "holds"] and rows["x"]["agree"]
    assert rows["y"]["verdicts"] == ["inconclusive", None] and not rows["y"]["agree"]
    assert cmp["stability"] == 0.5
    assert cmp["inconclusive_findings"] == pytest.approx(1 / 3)
    assert compare_verdicts([{"claims": []}])["stability"] is None
