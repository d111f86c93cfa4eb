"""The frameworks lab (Q11): its interleaved timer, its agreement measure, and a smoke run."""

from __future__ import annotations

import statistics
import sys

import pytest
import torch
from deepdojo_testing import require

from deepdojo.labs.framework import LabContext, LabError, make_config
from deepdojo.labs.frameworks import FrameworksConfig, run
from deepdojo.labs.frameworks.measure import Latency, agreement, interleaved_latency
from deepdojo.models import create

for _module in ("onnx", "onnxruntime", "onnxscript"):
    require(_module, extra="onnx")


def test_interleaved_latency_rotates_the_arm_order_and_counts_calls():
    order: list[str] = []
    arms = {k: (lambda k=k: order.append(k)) for k in "abc"}
    out = interleaved_latency(arms, batch=8, repeats=4, calls=2, warmup=1)
    assert order[:3] == ["a", "b", "c"]  # warm-up
    timed = order[3:]
    firsts = [timed[i * 6] for i in range(4)]  # the first arm of each repeat
    assert firsts == ["a", "b", "c", "a"]
    assert all(timed.count(k) == 8 for k in "abc")  # 4 repeats x 2 calls
    assert all(len(lat.per_repeat_s) == 4 and lat.batch == 8 for lat in out.values())


def test_latency_median_and_throughput():
    lat = Latency("eager", 64, [0.002, 0.001, 0.004])
    assert lat.median_s == 0.002
    assert lat.throughput == pytest.approx(64 / 0.002)


@pytest.mark.parametrize("kwargs", [{"repeats": 0}, {"calls": 0}, {"warmup": -1}])
def test_interleaved_latency_bad_counts(kwargs):
    args = {"batch": 1, "repeats": 2, "calls": 2, **kwargs}
    with pytest.raises(ValueError, match="repeats and calls must be >= 1"):
        interleaved_latency({"a": lambda: None}, **args)


def test_agreement_of_an_exported_classifier(tmp_path):
    torch.manual_seed(0)
    net = create("plain_mlp", in_features=5, num_classes=4, depth=3, width=8).eval()
    X = torch.randn(50, 5)
    y = net(X).argmax(1).detach()  # labels the model gets right by construction
    a = agreement("mlp", net, X[:3], X, y, str(tmp_path / "m.onnx"))
    assert (a.model, a.exporter, a.agreement) == ("mlp", "dynamo", 1.0)
    assert a.accuracy_torch == 1.0 and a.accuracy_onnx == 1.0
    assert 0.0 <= a.max_abs_diff < 1e-5


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    cfg = make_config(FrameworksConfig, scale="smoke")
    ctx = LabContext("frameworks", scale="smoke", seed=0, progress="off",
                     out_dir=tmp_path_factory.mktemp("frameworks"))
    run(cfg, ctx)
    return cfg, ctx


def test_smoke_run_states_checks_and_timing_claims(smoke):
    cfg, ctx = smoke
    claims = {c.id: c for c in ctx.claims}
    assert set(claims) == {"exported-same-predictions", "exported-logits-within-tolerance",
                           "onnxruntime-faster-batch1-mlp", "onnxruntime-faster-batch1-cnn",
                           "onnxruntime-faster-batch1-transformer"}
    for cid in ("exported-same-predictions", "exported-logits-within-tolerance"):
        assert claims[cid].kind == "check" and claims[cid].verdict == "holds"
        assert not claims[cid].environment_dependent
    for name in ("mlp", "cnn", "transformer"):
        c = claims[f"onnxruntime-faster-batch1-{name}"]
        assert c.kind == "finding" and c.environment_dependent
        assert len(c.values) == cfg.repeats and all(v > 0 for v in c.values)
        assert c.verdict in ("holds", "does not hold", "inconclusive") and c.why


def test_smoke_run_tables_and_figure(smoke):
    cfg, ctx = smoke
    rows = ctx.tables["latency"]
    assert {(r["model"], r["batch"]) for r in rows} == {
        (m, b) for m in ("mlp", "cnn", "transformer") for b in cfg.batches}
    for r in rows:
        if r["arm"] == "eager":
            assert r["ratio_to_eager"] == 1.0
        assert r["rows_per_s"] == pytest.approx(r["batch"] / (r["median_us"] * 1e-6))
    agree = ctx.tables["agreement"]
    assert {r["model"] for r in agree} == {"mlp", "cnn"}
    assert all(r["agreement"] == 1.0 and r["accuracy_torch"] == r["accuracy_onnx"]
               for r in agree)
    ratios = [r["ratio_to_eager"] for r in rows if r["arm"] == "onnxruntime"]
    assert ctx.metrics["median_speedup_batch1"] > 0 and statistics.median(ratios) > 0
    assert [f["name"] for f in ctx.figures] == ["latency_table"]


def test_batch_one_must_be_timed(tmp_path):
    cfg = make_config(FrameworksConfig, {"batches": "(64,)"}, scale="smoke")
    ctx = LabContext("frameworks", scale="smoke", out_dir=tmp_path, progress="off")
    with pytest.raises(LabError, match="batch 1 must be timed"):
        run(cfg, ctx)


def test_missing_extra_is_a_lab_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    ctx = LabContext("frameworks", scale="smoke", out_dir=tmp_path, progress="off")
    with pytest.raises(LabError, match=r"pip install 'deepdojo\[onnx\]'"):
        run(make_config(FrameworksConfig, scale="smoke"), ctx)
