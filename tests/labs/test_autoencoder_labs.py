"""The autoencoder labs: their measurement helpers, and one smoke run each."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

from deepdojo.labs import run_lab
from deepdojo.labs.autoencoder_apps import measure as B
from deepdojo.labs.autoencoders import measure as A
from deepdojo.labs.shared.autoencoding import (
    cached_fit,
    clear_fit_cache,
    fit_reconstruction,
    manifold_data,
    pick,
)
from deepdojo.models import MLPAutoEncoder


def test_manifold_data_linear_is_a_plane_and_nonlinear_is_not():
    lin, _, _ = manifold_data(600, "linear", 0)
    curved, _, _ = manifold_data(600, "nonlinear", 0)
    share = {k: PCA(2).fit(x.numpy()).explained_variance_ratio_.sum()
             for k, x in (("linear", lin), ("nonlinear", curved))}
    assert share["linear"] > 0.99
    assert share["nonlinear"] < 0.8


def test_fit_reconstruction_keeps_the_best_validation_weights():
    X, Xv, _ = manifold_data(300, "linear", 1)
    torch.manual_seed(0)
    ae = MLPAutoEncoder(20, 2, (16,), activation="tanh")
    res = fit_reconstruction(ae, X, Xv, epochs=20, lr=1e-2, seed=0)
    assert not res.diverged and 0 <= res.best_epoch < 20
    assert float((ae(Xv) - Xv).pow(2).mean()) == pytest.approx(res.val_mse, rel=1e-5)
    chosen, scores = pick([1.0, 2.0, 3.0], lambda v: (v - 2.2) ** 2)
    assert chosen == 2.0 and len(scores) == 3
    assert pick([1.0, 2.0], lambda v: float("nan") if v == 1.0 else 5.0)[0] == 2.0


def test_cached_fit_returns_the_weights_a_rerun_gives():
    X, Xv, _ = manifold_data(200, "nonlinear", 2)

    def build() -> MLPAutoEncoder:
        return MLPAutoEncoder(20, 2, (8,), activation="tanh")

    clear_fit_cache()
    torch.manual_seed(5)
    plain = build()
    ref = fit_reconstruction(plain, X, Xv, epochs=3, lr=1e-2, seed=5)
    first, r1 = cached_fit("t", build, X, Xv, init_seed=5, epochs=3, lr=1e-2, seed=5)
    again, r2 = cached_fit("t", build, X, Xv, init_seed=5, epochs=3, lr=1e-2, seed=5)
    assert r1 == r2 == ref and not again.training
    for a, b, c in zip(plain.parameters(), first.parameters(), again.parameters(), strict=True):
        assert torch.equal(a, b) and torch.equal(b, c)
    other, r3 = cached_fit("t", build, X, Xv, init_seed=6, epochs=3, lr=1e-2, seed=6)
    assert r3 != r1
    moved, r4 = cached_fit("t", build, X + 0.1, Xv, init_seed=5, epochs=3, lr=1e-2, seed=5)
    assert r4 != r1
    clear_fit_cache()


def test_filters_and_scores():
    img = torch.rand(3, 64)
    same = A._filter(img, 8, "blur", 1e-3)
    torch.testing.assert_close(same, img, atol=1e-4, rtol=0)
    const = torch.full((2, 64), 0.5)
    torch.testing.assert_close(A._filter(const, 8, "median", 3), const)
    p, s = A._scores(img, img + 0.1, 8)
    assert p == pytest.approx(20.0, abs=1e-4)  # PSNR of a uniform 0.1 error at range 1
    assert 0 < s < 1


def test_labelled_subset_covers_every_class():
    y = np.repeat(np.arange(10), 50)
    idx = A.labelled_subset(y, 0.01, seed=3)
    assert len(idx) == 10 and set(y[idx]) == set(range(10))
    assert len(np.unique(A.labelled_subset(y, 0.1, seed=3))) == 50


def test_digits_one_class_out_trains_on_normal_rows_only():
    Xtr, Xv, yv, Xt, yt, out = B.anomaly_data("digits", 1003)
    assert int(out) == 3 and Xtr.shape[1] == 64
    assert 0.05 < yt.mean() < 0.2 and yv.sum() > 0


def test_als_recovers_a_low_rank_matrix_and_autorec_beats_the_item_mean():
    low = B.rec_split("low_rank", 0, 120, 90, 0.3)
    mf = B.mf_als(low[0], 3, 1.0, 10, 0)
    assert B._rmse(mf, low[2]) < 0.7 * B._rmse(B.item_mean(low[0]), low[2])
    tr, _, te = B.rec_split("nonlinear", 0, 150, 100, 0.25)
    ar = B.fit_autorec(tr, 50, 1e-2, 1e-2, 200, 0)
    assert B._rmse(ar, te) < B._rmse(B.item_mean(tr), te) - 0.1


def test_hide_keeps_one_cell_per_row_and_hits_the_rate():
    X = np.zeros((2000, 10))
    Xm, miss = B._hide(X, 0.5, np.random.default_rng(0))
    assert (~miss).any(axis=1).all()
    assert np.isnan(Xm).sum() == miss.sum()
    assert 0.4 < miss.mean() < 0.5


@pytest.mark.parametrize("lab", ["autoencoders", "autoencoder-apps"])
def test_lab_smoke_has_its_figures_and_claims(lab, tmp_path):
    res = run_lab(lab, scale="smoke", seed=0, out=tmp_path, progress="off")
    data = json.loads((res.path / "result.json").read_text())
    figs = {f["name"] for f in data["figures"]}
    ids = {c["id"] for c in data["claims"]}
    if lab == "autoencoders":
        assert figs == {"dimred", "features", "denoising", "generation"}
        assert {"ae-beats-pca-nonlinear",
                "dae-beats-filters-photos", "dae-beats-filters-digits"} <= ids
        assert "vae-samples-look-like-digits" not in ids  # decided at full scale only
    else:
        assert figs == {"anomaly", "recommender", "imputation"}
        assert {"ae-beats-ocsvm-tabular", "autorec-beats-mf-nonlinear",
                "autorec-beats-item-mean", "masked-ae-beats-mean-imputation"} <= ids
        assert "masked-ae-beats-iterative-nonlinear" not in ids  # full scale only
    assert data["questions"] == ["Q05"] if "questions" in data else True
    assert any(k.startswith("time.") for k in data["metrics"])
    assert data["metrics"]["claims_decided_at_full_scale"]
    # one section per application: every claim stated (full-only ones too) and every figure
    # belongs to exactly one, each with its CPU time
    sections = data["tables"]["sections"]
    assert len(sections) == (4 if lab == "autoencoders" else 3)
    named = [i for s in sections for i in s["claims"].split()]
    assert len(named) == len(set(named)) and ids | set(
        data["metrics"]["claims_decided_at_full_scale"]) == set(named)
    assert {f for s in sections for f in s["figures"].split()} == figs
    assert all(isinstance(s["cpu_s"], float) for s in sections)
    # an A/A noise floor wherever a margin is set at this scale
    floors = {k for k in data["metrics"] if k.startswith("noise_floor.")}
    if lab == "autoencoders":
        assert {"noise_floor.sheet_nonlinear_rel",
                "noise_floor.dae_digits_psnr_db", "noise_floor.dae_photos_psnr_db"} <= floors
    else:
        assert {"noise_floor.ae_roc_auc_breast_cancer", "noise_floor.autorec_rmse_nonlinear",
                "noise_floor.masked_ae_rmse_breast_cancer"} <= floors
