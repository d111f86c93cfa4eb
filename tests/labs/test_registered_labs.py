"""Every registered lab runs at smoke scale and honours the contract."""

from __future__ import annotations

import dataclasses
import json

import pytest

from deepdojo.labs import load_all, make_config, run_lab

LAB_NAMES = sorted(
    name for name, spec in load_all().items() if spec.fn.__module__.startswith("deepdojo.labs.")
)


def test_at_least_one_lab_registered():
    assert LAB_NAMES


@pytest.mark.parametrize("name", LAB_NAMES)
def test_lab_config_is_documented_dataclass(name):
    spec = load_all()[name]
    assert dataclasses.is_dataclass(spec.config)
    assert spec.summary, f"lab {name} needs a one-line docstring summary"
    spec.config()  # every field has a default
    for scale in ("smoke", "quick", "full"):  # every scale's sizes pass their own ranges
        cfg = make_config(spec.config, scale=scale)
        assert dataclasses.asdict(cfg)


@pytest.mark.parametrize("name", LAB_NAMES)
def test_lab_runs_at_smoke_scale(name, tmp_path):
    res = run_lab(name, scale="smoke", seed=0, out=tmp_path, progress="off")
    data = json.loads((res.path / "result.json").read_text())
    assert data["claims"], f"lab {name} states no claims"
    assert data["seeds"] == [0]
    for claim in data["claims"]:
        assert isinstance(claim["holds"], bool)
        assert claim["rule"] and claim["statement"]
        assert claim["verdict"] in ("holds", "does not hold", "inconclusive")
        assert claim["holds"] is (claim["verdict"] == "holds")
        assert claim["kind"] in ("finding", "check")
        if claim["verdict"] != "holds":
            assert claim["why"], f"{name}/{claim['id']}: a verdict other than holds needs a why"
    counts = data["claim_counts"]
    assert counts["findings"] + counts["checks"] == len(data["claims"])
    for fig in data["figures"]:
        assert (res.path / fig["path"]).stat().st_size > 0
    assert (res.path / "index.html").exists()
