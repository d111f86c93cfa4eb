"""The lab contract: registry, context, claims, config overrides and the runner's files."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

import pytest

from deepdojo.labs import (
    LABS,
    LabContext,
    LabError,
    latest_runs,
    load_result,
    make_config,
    parse_overrides,
    register_lab,
    run_lab,
)
from deepdojo.labs.framework import claim_counts, plt
from deepdojo.labs.framework import rules as R


@dataclass
class ToyConfig:
    steps: int = 3  # how many numbers to draw
    scale_factor: float = 2.0  # multiplies the mean
    name: str = "toy"  # a label
    sizes: tuple[int, ...] = (1, 2)  # a tuple field
    fail: bool = False  # raise inside the lab
    maybe: int | None = None  # optional field


def _toy(cfg: ToyConfig, ctx: LabContext) -> None:
    """A toy lab that records one of everything."""
    import torch

    values = [float(torch.rand(()).item()) * cfg.scale_factor for _ in ctx.seeds]
    ctx.metric("first", values[0])
    ctx.table("rows", [{"seed": s, "value": v} for s, v in zip(ctx.seeds, values)])
    fig, ax = plt.subplots()
    ax.plot(values)
    ctx.figure("values", fig, caption="the values")
    ctx.claim("positive", "values are non-negative", R.EverySeed(R.AtLeast(0.0)),
              values=values, metric="draw", kind="check")
    ctx.claim("impossible", "values exceed 100", R.AtLeast(100.0), values=values,
              metric="draw", why={"does not hold": "the draws stay below {max:.1f}"})
    if cfg.fail:
        raise RuntimeError("boom")


@pytest.fixture()
def toy_lab():
    register_lab("test-toy-core", questions=("Q08",), config=ToyConfig)(_toy)
    yield "test-toy-core"
    LABS.pop("test-toy-core", None)


def test_run_writes_result_figures_and_page(toy_lab, tmp_path):
    res = run_lab(toy_lab, scale="quick", seed=5, out=tmp_path, progress="off")
    assert res.path.parent == tmp_path / toy_lab
    data = json.loads((res.path / "result.json").read_text())
    assert data["seeds"] == [5000, 5001, 5002, 5003, 5004]
    assert data["config"]["steps"] == 3
    assert data["command"] == f"deepdojo run {toy_lab} --scale quick --seed 5"
    assert (res.path / "figures" / "values.png").read_bytes()[:4] == b"\x89PNG"
    assert (res.path / "index.html").exists()
    claims = {c["id"]: c for c in data["claims"]}
    assert claims["positive"]["holds"] is True
    assert claims["positive"]["kind"] == "check" and claims["positive"]["ci"] is None
    assert claims["impossible"]["holds"] is False  # a claim that fails is recorded, not raised
    assert claims["impossible"]["verdict"] == "does not hold"
    top = max(claims["impossible"]["values"])
    assert claims["impossible"]["why"] == f"the draws stay below {top:.1f}"
    assert claims["impossible"]["rule"] == "mean draw over seeds >= 100 (95% interval)"
    assert len(claims["impossible"]["ci"]) == 2 and claims["impossible"]["margin"] == 100.0
    vals = claims["positive"]["values"]
    assert len(vals) == 5
    assert claims["positive"]["mean"] == pytest.approx(sum(vals) / 5)
    assert claims["positive"]["spread"] == pytest.approx(max(vals) - min(vals))
    assert claims["positive"]["value"] == pytest.approx(claims["positive"]["mean"])
    assert data["environment"]["packages"]["torch"]
    assert data["timings"]["total_s"] >= 0


def test_same_seed_same_numbers(toy_lab, tmp_path):
    a = run_lab(toy_lab, scale="smoke", seed=1, out=tmp_path, progress="off")
    b = run_lab(toy_lab, scale="smoke", seed=1, out=tmp_path, progress="off")
    assert a.path != b.path
    assert a.result["metrics"] == b.result["metrics"]


def test_failed_run_leaves_nothing_behind(toy_lab, tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        run_lab(toy_lab, scale="smoke", out=tmp_path, overrides={"fail": "true"})
    leftovers = list((tmp_path / toy_lab).iterdir())
    assert leftovers == []
    assert latest_runs(tmp_path) == {}


def test_latest_runs_picks_newest(toy_lab, tmp_path):
    run_lab(toy_lab, scale="smoke", seed=1, out=tmp_path)
    second = run_lab(toy_lab, scale="smoke", seed=2, out=tmp_path)
    assert latest_runs(tmp_path)[toy_lab] == second.path
    assert load_result(second.path)["seed"] == 2


def test_make_config_types():
    cfg = make_config(ToyConfig, {"steps": "7", "scale_factor": "0.5", "sizes": "3,4,5",
                                  "fail": "no", "maybe": "none", "name": "x"})
    assert (cfg.steps, cfg.scale_factor, cfg.sizes, cfg.fail, cfg.maybe, cfg.name) == (
        7, 0.5, (3, 4, 5), False, None, "x")
    assert make_config(ToyConfig, {"maybe": "4"}).maybe == 4


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"steps": "many"}, "steps=many: expected a value of type int"),
        ({"nope": "1"}, "ToyConfig has no field 'nope'"),
        ({"fail": "maybe"}, "expected a value of type bool"),
    ],
)
def test_make_config_errors(overrides, message):
    with pytest.raises(LabError, match=message):
        make_config(ToyConfig, overrides)


def test_parse_overrides():
    assert parse_overrides(["a=1", " b = x=y "]) == {"a": "1", "b": "x=y"}
    with pytest.raises(LabError, match="key=value"):
        parse_overrides(["novalue"])


def test_register_validates():
    with pytest.raises(ValueError, match="Q01..Q20"):
        register_lab("test-bad-q", questions=("Q21",), config=ToyConfig)
    with pytest.raises(TypeError, match="dataclass"):
        register_lab("test-bad-cfg", questions=("Q01",), config=dict)
    with pytest.raises(ValueError, match="lab name"):
        register_lab("Bad Name", questions=("Q01",), config=ToyConfig)


def test_context_scale_and_claim_validation(tmp_path):
    ctx = LabContext("x", scale="full", seed=10, out_dir=tmp_path, progress="off")
    assert ctx.seeds == list(range(10_000, 10_010))
    assert LabContext("x", scale="smoke", seed=3, out_dir=tmp_path).seeds == [3000]
    assert set(LabContext("x", seed=0, out_dir=tmp_path).seeds).isdisjoint(
        LabContext("x", seed=1, out_dir=tmp_path).seeds)
    with pytest.raises(LabError, match="seed must be a non-negative int"):
        LabContext("x", seed=-1, out_dir=tmp_path)
    assert not hasattr(ctx, "pick")  # sizes live in the config
    assert list(ctx.progress(range(3))) == [0, 1, 2]
    ctx.claim("a", "s", R.AtLeast(0.0), values=[1.0])
    with pytest.raises(ValueError, match="already stated"):
        ctx.claim("a", "s", R.AtLeast(0.0), values=[1.0])
    with pytest.raises(LabError, match="scale must be one of"):
        LabContext("x", scale="huge", out_dir=tmp_path)


@dataclass
class _Unused:
    items: list[int] = field(default_factory=list)  # list field parses too


def test_list_field():
    assert make_config(_Unused, {"items": "[1, 2]"}).items == [1, 2]


def test_threads_set_for_the_run_and_restored(toy_lab, tmp_path):
    import torch

    before = torch.get_num_threads()
    res = run_lab(toy_lab, scale="smoke", out=tmp_path, threads=1)
    assert res.result["environment"]["torch_threads"] == 1
    assert torch.get_num_threads() == before
    with pytest.raises(LabError, match="threads must be a positive int"):
        run_lab(toy_lab, scale="smoke", out=tmp_path, threads=0)


def test_the_legacy_claim_call_is_gone(tmp_path):
    ctx = LabContext("x", scale="quick", out_dir=tmp_path, progress="off")
    with pytest.raises(TypeError, match="rule must be a rule object"):
        ctx.claim("old", "s", rule="mean > 0", values=[1.0, 2.0])
    with pytest.raises(TypeError, match="unexpected keyword argument 'holds'"):
        ctx.claim("old2", "s", R.AtLeast(0.0), values=[1.0, 2.0], holds=True)


def test_paired_claim_records_arms_interval_and_templates(tmp_path):
    ctx = LabContext("x", scale="quick", out_dir=tmp_path, progress="off")
    a = [0.90, 0.92, 0.91, 0.93, 0.94]
    b = [0.70, 0.75, 0.72, 0.71, 0.74]
    c = ctx.claim("gru-beats-rnn", "A beats B", R.Greater(margin=0.1), a=a, b=b,
                  metric="test accuracy", why={"holds": "A {a_mean:.3f} vs B {b_mean:.3f} "
                                                        "after {steps} steps"},
                  facts={"steps": 40})
    d = [x - y for x, y in zip(a, b)]
    assert c.values == pytest.approx(d)
    assert c.values_a == a and c.values_b == b
    assert c.verdict == "holds" and c.holds is True
    assert c.ci == pytest.approx(list(R.t_interval(d)))
    assert c.why == "A 0.920 vs B 0.724 after 40 steps"
    assert c.margin == 0.1 and c.kind == "finding" and c.metric == "test accuracy"
    ratio = ctx.claim("ratio", "same speed", R.WithinFactor(2.0), a=[2.0, 4.0], b=[1.0, 4.0])
    assert ratio.values == [2.0, 1.0]  # paired ratio rules judge a / b


def test_requires_and_inconclusive_and_bad_calls(tmp_path):
    ctx = LabContext("x", scale="quick", out_dir=tmp_path, progress="off")
    c = ctx.claim("r", "s", R.AtLeast(0.0), values=[1.0, 2.0, 3.0],
                  requires={"no run diverged": False, "clipping acted": True})
    assert c.verdict == "does not hold" and c.why == "condition not met: no run diverged"
    assert c.requires == {"no run diverged": False, "clipping acted": True}
    assert c.rule.endswith("; requires no run diverged, clipping acted")
    inc = ctx.claim("i", "s", R.Greater(0.1), values=[0.05, 0.25, 0.12],
                    why={"inconclusive": "Decided at full scale."})
    assert inc.verdict == "inconclusive" and inc.holds is False
    assert inc.why.startswith("the 95% interval [") and inc.why.endswith("Decided at full scale.")
    smoke = LabContext("x", scale="smoke", out_dir=tmp_path)
    assert smoke.claim("one", "s", R.Greater(), a=[1.0], b=[0.0]).why == "one seed: no interval"
    with pytest.raises(TypeError, match="exactly one of values= or a= and b="):
        ctx.claim("e1", "s", R.AtLeast(0.0), values=[1.0], a=[1.0], b=[0.0])
    with pytest.raises(TypeError, match="exactly one of"):
        ctx.claim("e2", "s", R.AtLeast(0.0), a=[1.0])
    with pytest.raises(ValueError, match="pair seed by seed"):
        ctx.claim("e3", "s", R.Greater(), a=[1.0, 2.0], b=[0.0])
    with pytest.raises(ValueError, match="unknown field 'mena'"):
        ctx.claim("e4", "s", R.AtLeast(0.0), values=[1.0, 2.0], why={"holds": "{mena}"})
    with pytest.raises(ValueError, match="why keys must be verdicts"):
        ctx.claim("e5", "s", R.AtLeast(0.0), values=[1.0, 2.0], why={"fails": "x"})
    with pytest.raises(ValueError, match="kind must be"):
        ctx.claim("e6", "s", R.AtLeast(0.0), values=[1.0, 2.0], kind="fact")
    with pytest.raises(TypeError, match="rule must be a rule object"):
        ctx.claim("e8", "s", 0.5, values=[1.0, 2.0])
    assert [c.id for c in ctx.claims] == ["r", "i"]


def test_checks_are_kept_out_of_the_finding_counts(tmp_path):
    ctx = LabContext("x", scale="quick", out_dir=tmp_path, progress="off")
    ctx.claim("chk", "by construction", R.EverySeed(R.AtMost(1e-6)), values=[0.0] * 5,
              kind="check")
    ctx.claim("bad-chk", "broken", R.EverySeed(R.AtMost(1e-6)), values=[1.0] * 5, kind="check")
    ctx.claim("f1", "finding", R.AtLeast(0.5), values=[0.9, 0.91, 0.92])
    ctx.claim("f2", "finding", R.AtLeast(0.5), values=[0.1, 0.11, 0.12])
    ctx.claim("f3", "finding", R.AtLeast(0.5), values=[0.1, 0.9, 0.5])
    counts = claim_counts([dataclasses.asdict(c) for c in ctx.claims])
    assert counts == {"findings": 3, "holds": 1, "does not hold": 1, "inconclusive": 1,
                      "checks": 2, "checks failing": 1}
    # old result.json claims (no kind, no verdict) count as findings from holds
    assert claim_counts([{"holds": True}, {"holds": False}])["findings"] == 2
