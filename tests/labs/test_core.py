"""The lab contract: registry, context, claims, config overrides and the runner's files."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
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
    ctx.claim("positive", "values are non-negative", rule="min >= 0",
              holds=min(values) >= 0, values=values)
    ctx.claim("impossible", "values exceed 100", rule="mean > 100",
              holds=sum(values) / len(values) > 100, values=values)
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
    assert data["seeds"] == [5, 6, 7]
    assert data["config"]["steps"] == 3
    assert data["command"] == f"deepdojo run {toy_lab} --scale quick --seed 5"
    assert (res.path / "figures" / "values.png").read_bytes()[:4] == b"\x89PNG"
    assert (res.path / "index.html").exists()
    claims = {c["id"]: c for c in data["claims"]}
    assert claims["positive"]["holds"] is True
    assert claims["impossible"]["holds"] is False  # a claim that fails is recorded, not raised
    vals = claims["positive"]["values"]
    assert len(vals) == 3
    assert claims["positive"]["mean"] == pytest.approx(sum(vals) / 3)
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
    assert ctx.seeds == [10, 11, 12, 13, 14]
    assert ctx.pick(smoke=1, quick=2, full=3) == 3
    assert list(ctx.progress(range(3))) == [0, 1, 2]
    ctx.claim("a", "s", rule="r", holds=True, value=1.0)
    with pytest.raises(ValueError, match="already stated"):
        ctx.claim("a", "s", rule="r", holds=True, value=1.0)
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


def test_seed_rule_needs_two_thirds_of_seeds(tmp_path):
    ctx = LabContext("x", scale="quick", out_dir=tmp_path, progress="off")
    lucky = ctx.claim("lucky", "gap shrinks", rule="mean > 0", holds=True,
                      values=[-0.016, 0.040, -0.010], seed_rule=lambda v: v > 0)
    assert lucky.holds is False and lucky.seed_holds == [False, True, False]
    assert lucky.rule == "mean > 0; and per seed on >= 2 of 3 seeds"
    steady = ctx.claim("steady", "gap shrinks", rule="mean > 0", holds=True,
                       values=[0.01, 0.02, -0.001], seed_rule=lambda v: v > 0)
    assert steady.holds is True
    mean_fails = ctx.claim("mean-fails", "gap shrinks", rule="mean > 0", holds=False,
                           values=[0.01, 0.02, 0.03], seed_rule=lambda v: v > 0)
    assert mean_fails.holds is False
    with pytest.raises(ValueError, match="seed_rule needs per-seed values"):
        ctx.claim("no-values", "s", rule="r", holds=True, value=1.0, seed_rule=bool)


def test_seed_rule_text_not_repeated_for_every_seed_rules(tmp_path):
    ctx = LabContext("x", scale="quick", out_dir=tmp_path, progress="off")
    c = ctx.claim("all", "s", rule="v > 0 on every seed", holds=True,
                  values=[1.0, 2.0, -1.0], seed_rule=lambda v: v > 0)
    assert c.rule == "v > 0 on every seed"
    assert c.seed_holds == [True, True, False] and c.holds is True  # 2 of 3 still required
