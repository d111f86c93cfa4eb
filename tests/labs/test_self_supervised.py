"""The ``self-supervised`` lab at smoke scale: every arm runs, tables, figures and claims."""

from __future__ import annotations

import json

import pytest

from deepdojo.labs import run_lab
from deepdojo.labs.framework import make_config
from deepdojo.labs.self_supervised import FULL_ONLY, SelfSupervisedConfig


def test_quick_config_is_the_documented_budget():
    cfg = make_config(SelfSupervisedConfig, scale="quick")
    assert cfg.fractions == (0.01, 0.1) and not cfg.extended and not cfg.full_only_claims
    full = make_config(SelfSupervisedConfig, scale="full")
    assert full.fractions == (0.01, 0.1, 1.0) and full.extended and full.full_only_claims
    assert full.seeds == 4 and len(full.simclr_lrs) * len(full.temperatures) == len(
        full.vicreg_lrs) * len(full.vicreg_sim_coeffs) == len(full.pretext_lrs) == len(
        full.finetune_lrs) == 4  # equal tuning effort: every arm a grid of 4 at full
    assert cfg.cv_below == 0 and full.cv_below == 100  # quick: a validation third, full: CV
    assert full.transfer and full.digits_supervised and full.epochs == 100  # version 4.1
    assert len(cfg.temperatures) == len(cfg.vicreg_sim_coeffs) == len(cfg.finetune_lrs) == len(
        cfg.pretext_lrs) == 1  # quick: one fixed setting for every arm


def test_smoke_run(tmp_path):
    res = run_lab("self-supervised", scale="smoke", seed=0, out=tmp_path, progress="off")
    data = json.loads((res.path / "result.json").read_text())
    assert {f["name"] for f in data["figures"]} == {"accuracy_vs_labels", "embedding_pca"}
    claims = {c["id"]: c for c in data["claims"]}
    assert {"simclr-beats-random-encoder", "vicreg-beats-random-encoder",
            "simclr-no-collapse", "ssl-advantage-largest-with-fewest-labels",
            "collapse-check-flags-constant-embeddings"} <= set(claims)
    assert not set(FULL_ONLY) & set(claims)  # judged at full scale only
    assert claims["collapse-check-flags-constant-embeddings"]["verdict"] == "holds"
    assert claims["collapse-check-flags-constant-embeddings"]["kind"] == "check"
    tables = data["tables"]
    arms = {r["arm"] for r in tables["accuracy"] if r["data"] == "mnist1d"}
    # smoke runs every arm, the full-only ones included, so their code paths are tested
    assert {"simclr (probe)", "vicreg (probe)", "order (probe)", "masked (probe)",
            "random (probe)", "supervised (end to end)", "simclr (knn)",
            "simclr fine-tuned, backbone lr x0.1"} <= arms
    assert {r["arm"] for r in tables["accuracy"] if r["data"] == "digits"} >= {
        "rotation (probe)", "simclr (probe)"}
    assert all(0.0 <= r["mean"] <= 1.0 for r in tables["accuracy"])
    assert "noise_floor.aa_random_encoders_mean_abs" in data["metrics"]
    # smoke tunes a 2-point grid per method on the pool's validation part (never test)
    tuning = tables["pretraining_tuning_mnist1d"]
    assert sorted((r["method"], r.get("temperature"), r.get("sim_coeff")) for r in tuning
                  if r["method"] in ("simclr", "vicreg")) == [
        ("simclr", 0.2, None), ("simclr", 0.5, None), ("vicreg", None, 10.0),
        ("vicreg", None, 25.0)]
    assert sorted(r["lr"] for r in tuning if r["method"] == "order") == [1e-3, 3e-3]
    best = max((r for r in tuning if r["method"] == "simclr"),
               key=lambda r: r["val_probe_accuracy"])
    assert data["metrics"]["chosen.mnist1d.simclr.temperature"] == best["temperature"]
    assert {r["method"] for r in tables["pretraining_tuning_digits"]} == {"simclr", "rotation"}
    # the no-collapse check judges centred embeddings; the uncentred statistic is kept
    row = next(r for r in tables["collapse"] if r["arm"] == "simclr" and r["data"] == "mnist1d")
    assert row["std_sqrt_d_centred"][0] >= row["std_sqrt_d_uncentred"][0] - 1e-6


def test_bad_override_is_one_line():
    from deepdojo.labs.framework import LabError

    with pytest.raises(LabError, match="epochs"):
        make_config(SelfSupervisedConfig, {"epochs": "0"}, scale="quick")
