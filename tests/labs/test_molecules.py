"""The molecules lab: its scores on known strings, the missing extra, and a smoke run."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch
from deepdojo_testing import require

from deepdojo.labs import run_lab
from deepdojo.labs.framework import LabContext, LabError, make_config
from deepdojo.labs.molecules import MoleculesConfig, run
from deepdojo.labs.molecules import measure as M


def test_missing_extra_is_a_lab_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "rdkit", None)
    ctx = LabContext("molecules", scale="smoke", out_dir=tmp_path, progress="off")
    with pytest.raises(LabError, match=r"pip install 'deepdojo\[chem\]'"):
        run(make_config(MoleculesConfig, scale="smoke"), ctx)


def test_chem_scores_count_validity_uniqueness_novelty():
    require("rdkit", extra="chem")
    train = {"CCO"}
    samples = ["CCO", "CCO", "c1ccccc1", "C1CC", "CC(=O)O"]  # C1CC: unclosed ring, invalid
    train_qed = M.qed_of(sorted(train))
    s = M.chem_scores(samples, train, train_qed)
    assert s.validity == pytest.approx(4 / 5)
    assert s.uniqueness == pytest.approx(3 / 4)
    assert s.novelty == pytest.approx(2 / 3)
    assert len(s.qed) == 3 and s.qed_w1 > 0


def test_two_spellings_of_one_molecule_are_one_molecule():
    require("rdkit", extra="chem")
    train = {M.canonical("OCC")}  # ethanol, spelled backwards
    samples = ["CCO", "OCC", "C(O)C", "C1=CC=CC=C1", "c1ccccc1"]  # 2 molecules, 5 strings
    s = M.chem_scores(samples, train, M.qed_of(sorted(train)))
    assert s.validity == 1.0
    assert s.uniqueness == pytest.approx(2 / 5)  # ethanol and benzene
    assert s.novelty == pytest.approx(1 / 2)  # benzene only: ethanol is in training


def test_gaussian_fit_matches_the_codes_moments():
    z = torch.randn(4000, 3, generator=torch.Generator().manual_seed(0)) @ torch.tensor(
        [[1.0, 0.5, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.2]])
    draws = M.gaussian_fit_codes(z, 20000, seed=1).double().numpy()
    np.testing.assert_allclose(np.cov(draws, rowvar=False), np.cov(z.double().numpy(),
                                                                   rowvar=False), atol=0.05)


def test_smoke_run_holds_claims_for_full_scale_and_draws(tmp_path):
    require("rdkit", extra="chem")
    res = run_lab("molecules", scale="smoke", seed=0, out=tmp_path, progress="off")
    result = json.loads((res.path / "result.json").read_text())
    assert [c["id"] for c in result["claims"]] == ["smiles-vocabulary-round-trip"]
    assert result["claims"][0]["verdict"] == "holds"
    assert "latent-gan-validity-above-gaussian-fit" in result["metrics"][
        "claims_decided_at_full_scale"]
    assert {f["name"] for f in result["figures"]} == {"interpolation", "qed", "samplers",
                                                      "training_curves"}
    assert {r["network"] for r in result["tables"]["doctor"]} == {
        "latent gan generator", "latent gan discriminator"}
    interp = result["tables"]["interpolation"]
    assert interp[0]["t"] == 0 and interp[-1]["t"] == 1 and len(interp) == 7
    assert {r["sampler"] for r in result["tables"]["samplers"]} >= {"latent_gan", "gaussian_fit",
                                                                   "prior"}


def test_given_withholds_a_claim_whose_precondition_fails():
    from deepdojo.labs.framework import AtLeast, Given, Greater

    vals = [0.9, 0.92, 0.95, 0.91, 0.93]
    inner = AtLeast(0.5)
    met = Given(inner, "the autoencoder works", True).judge(vals)
    assert met == inner.judge(vals) and met.verdict == "holds"
    j = Given(inner, "the autoencoder works", False, "exactness 0.01").judge(vals)
    assert j.verdict == "inconclusive" and j.ci == met.ci and j.value == met.value
    assert j.why.startswith("withheld: the precondition the autoencoder works is not met "
                            "(exactness 0.01)")
    g = Given(Greater(margin=0.05), "x", False)
    assert g.paired_op == "difference" and g._margin == 0.05
    assert g.sentence("validity").endswith("; judged only if x")


def test_latent_gan_claims_are_withheld_when_the_autoencoder_failed(tmp_path):
    require("rdkit", extra="chem")
    res = run_lab("molecules", scale="smoke", seed=0, out=tmp_path, progress="off",
                  overrides={"full_only_claims": "true"})
    result = json.loads((res.path / "result.json").read_text())
    claims = {c["id"]: c for c in result["claims"]}
    assert result["metrics"]["exact_test"] < 0.5  # one epoch: the constant-string stage
    assert claims["ae-reconstructs-test-molecules"]["verdict"] != "holds"
    gan = [c for i, c in claims.items() if i.startswith("latent-gan-")]
    assert len(gan) == 5
    for c in gan:
        assert c["verdict"] == "inconclusive", c
        assert "withheld: the precondition the autoencoder's mean exact reconstruction" in c["why"]


def test_respell_keeps_each_molecule_and_its_limits():
    require("rdkit", extra="chem")
    from deepdojo.models.autoencoder import SmilesVocabulary

    pool = M.molecules(30, 200)
    vocab = SmilesVocabulary.from_smiles(pool)
    assert M.respell(pool, vocab, 30, 0.0, np.random.default_rng(0)) == pool
    a = M.respell(pool, vocab, 30, 1.0, np.random.default_rng(0))
    assert a == M.respell(pool, vocab, 30, 1.0, np.random.default_rng(0))  # seeded
    assert a != M.respell(pool, vocab, 30, 1.0, np.random.default_rng(1))
    assert sum(x != y for x, y in zip(a, pool, strict=True)) > 100  # most are new spellings
    assert [M.canonical(x) for x in a] == [M.canonical(x) for x in pool]  # same molecules
    assert all(len(SmilesVocabulary.tokenize(x)) <= 30 for x in a)
    vocab.encode(a, 30)  # every token in the vocabulary (raises otherwise)
    half = M.respell(pool, vocab, 30, 0.5, np.random.default_rng(2))
    assert 40 < sum(x != y for x, y in zip(half, pool, strict=True)) < 140
    short = M.respell(pool, vocab, 12, 1.0, np.random.default_rng(0))  # too long: original kept
    assert all(len(SmilesVocabulary.tokenize(x)) <= 12 or x == p
               for x, p in zip(short, pool, strict=True))
