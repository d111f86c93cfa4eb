"""The autoencoder family, the detector and the imputer: numbers that could be wrong."""

from __future__ import annotations

import builtins

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from deepdojo.anomaly import AutoEncoderDetector
from deepdojo.impute import AutoEncoderImputer
from deepdojo.models import VAE, AutoRec, MLPAutoEncoder, SmilesVocabulary, create
from deepdojo.models.autoencoder import (
    ConvAutoEncoder,
    DenoisingAutoEncoder,
    MaskedAutoEncoder,
    SmilesAutoEncoder,
    autorec_loss,
    is_valid_smiles,
    load_nci_smiles,
    masked_mse,
)
from deepdojo.nn.losses import gaussian_kl
from deepdojo.train import Trainer
from deepdojo.train.tasks import ReconstructionTask


def _digits(n=400):
    X = load_digits().data[:n] / 16.0
    return torch.tensor(X - X.mean(0), dtype=torch.float32)


def test_linear_autoencoder_reaches_the_pca_subspace_error():
    X = _digits()
    k = 5
    pca = PCA(k).fit(X.numpy())
    pca_err = float(((pca.inverse_transform(pca.transform(X.numpy())) - X.numpy()) ** 2).mean())
    torch.manual_seed(0)
    ae = MLPAutoEncoder(64, code_size=k, hidden=(), activation="identity")
    opt = torch.optim.Adam(ae.parameters(), lr=1e-2)
    for _ in range(1500):
        loss = (ae(X) - X).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    ae_err = float((ae(X) - X).pow(2).mean().detach())
    # Baldi & Hornik: the optimum of a linear AE is the PCA reconstruction; it cannot beat it
    assert ae_err >= pca_err * (1 - 1e-3)
    assert ae_err <= pca_err * 1.03
    # and a 4-code AE cannot reach the 5-component PCA error
    pca4 = PCA(4).fit(X.numpy())
    err4 = float(((pca4.inverse_transform(pca4.transform(X.numpy())) - X.numpy()) ** 2).mean())
    assert err4 > pca_err * 1.03


def test_encode_decode_shapes_and_forward_is_their_composition():
    torch.manual_seed(0)
    x = torch.randn(4, 12)
    for m in (MLPAutoEncoder(12, 3, (8,)), DenoisingAutoEncoder(12, 3, (8,)).eval()):
        z = m.encode(x)
        assert z.shape == (4, 3)
        torch.testing.assert_close(m(x), m.decode(z))
    conv = ConvAutoEncoder(1, 8, code_size=4, channels=(4, 8))
    img = torch.randn(2, 1, 8, 8)
    assert conv.encode(img).shape == (2, 4)
    assert conv(img).shape == img.shape
    with pytest.raises(ValueError, match="image_size must be divisible"):
        ConvAutoEncoder(1, 6, channels=(4, 8))
    with pytest.raises(TypeError, match="in_features must be an int"):
        MLPAutoEncoder(12.0)


def test_denoising_autoencoder_adds_noise_only_in_training():
    torch.manual_seed(0)
    m = DenoisingAutoEncoder(6, 2, (4,), noise_std=0.5)
    x = torch.randn(3, 6)
    assert not torch.equal(m(x), m(x))  # fresh noise every call
    m.eval()
    torch.testing.assert_close(m(x), m.decode(m.encode(x)))


def test_vae_kl_matches_the_closed_form_and_reparameterisation():
    torch.manual_seed(0)
    v = VAE(10, latent_size=3, hidden=(8,))
    x = torch.randn(5, 10)
    mu, logvar = v.encode(x)
    kl = gaussian_kl(mu, logvar)
    # KL(N(mu, s^2) || N(0, 1)) = 0.5 * sum(s^2 + mu^2 - 1 - log s^2), per sample
    expected = 0.5 * (logvar.exp() + mu**2 - 1 - logvar).sum(dim=1)
    torch.testing.assert_close(kl, expected)
    # against torch.distributions
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    torch.testing.assert_close(kl, torch.distributions.kl_divergence(q, p).sum(1))
    terms = v.eval().loss(x, beta=2.0)
    torch.testing.assert_close(terms.total, terms.reconstruction + 2.0 * terms.kl)
    # eval decodes the mean; training samples z = mu + sigma * eps
    torch.testing.assert_close(v(x)[0], v.decode(mu))
    v.train()
    torch.manual_seed(3)
    z = v.reparameterize(mu, logvar)
    torch.manual_seed(3)
    torch.testing.assert_close(z, mu + (0.5 * logvar).exp() * torch.randn_like(mu))
    assert v.sample(7, torch.Generator().manual_seed(0)).shape == (7, 10)


def test_vae_trains_with_reconstruction_task_and_logs_kl_apart():
    torch.manual_seed(0)
    v = VAE(64, latent_size=2, hidden=(32,))
    trainer = Trainer(ReconstructionTask(v, vae=True, beta=0.5, lr=3e-3), progress="off",
                      device="cpu")
    history = trainer.fit(_digits(200), epochs=3, batch_size=50)
    rec = history.records[-1]
    kl = [k for k in rec if k.endswith("kl")]
    assert kl and rec[kl[0]] > 0  # KL logged apart from the reconstruction term
    assert any(k.endswith("reconstruction") for k in rec)


def test_masked_autoencoder_reads_the_mask_and_masked_mse_ignores_nans():
    torch.manual_seed(0)
    m = MaskedAutoEncoder(4, 2, (6,), mask_fraction=0.0).eval()
    x = torch.tensor([[1.0, float("nan"), 3.0, 4.0]])
    out = m(x)
    assert torch.isfinite(out).all()
    same = torch.tensor([[1.0, 123.0, 3.0, 4.0]])  # the hidden cell's value does not matter
    torch.testing.assert_close(m(same, torch.isfinite(x)), out)
    loss = masked_mse(torch.zeros(1, 4), x, torch.isfinite(x))
    assert loss.item() == pytest.approx((1 + 9 + 16) / 3)


def test_autorec_loss_counts_observed_ratings_only():
    pred = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    r = torch.tensor([[2.0, 0.0], [3.0, 1.0]])
    obs = torch.tensor([[True, False], [False, True]])
    assert autorec_loss(pred, r, obs).item() == pytest.approx((1 + 9) / 2)
    assert AutoRec(2, 3)(r).shape == (2, 2)


# ------------------------------------------------------------------ detector
def _blobs(seed=0, n=300):
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((3, 10))
    return rng.standard_normal((n, 3)) @ basis + 0.05 * rng.standard_normal((n, 10))


def test_detector_follows_the_sklearn_outlier_contract():
    X = _blobs()
    det = AutoEncoderDetector(contamination=0.1, epochs=30, code_size=3, hidden=(16,))
    assert det.fit(X) is det
    assert det.n_features_in_ == 10 and hasattr(det, "offset_") and hasattr(det, "model_")
    s = det.score_samples(X)
    np.testing.assert_allclose(det.decision_function(X), s - det.offset_)
    np.testing.assert_allclose(det.reconstruction_error(X), -s)
    pred = det.predict(X)
    assert set(np.unique(pred)) <= {-1, 1}
    # the share flagged on the training data is the contamination (quantile: within 1 row)
    assert abs((pred == -1).mean() - 0.1) <= 1 / len(X) + 1e-12
    # an obvious outlier (far off the 3-d subspace): both detectors call it abnormal
    outlier = np.full((1, 10), 8.0)
    iso = IsolationForest(contamination=0.1, random_state=0).fit(X)
    assert det.predict(outlier)[0] == iso.predict(outlier)[0] == -1
    assert np.sign(det.decision_function(outlier)[0]) == np.sign(iso.decision_function(outlier)[0])
    assert det.score_samples(outlier)[0] < s.min()


def test_detector_in_a_pipeline_and_is_deterministic():
    X = _blobs(1)
    pipe = make_pipeline(StandardScaler(), AutoEncoderDetector(contamination=0.2, epochs=10))
    pred = pipe.fit(X).predict(X)
    assert abs((pred == -1).mean() - 0.2) <= 1 / len(X) + 1e-12
    a = AutoEncoderDetector(epochs=5, random_state=3).fit(X).score_samples(X)
    b = AutoEncoderDetector(epochs=5, random_state=3).fit(X).score_samples(X)
    np.testing.assert_array_equal(a, b)
    vae = AutoEncoderDetector(vae=True, epochs=5).fit(X)
    assert np.isfinite(vae.score_samples(X)).all()


def test_detector_bad_arguments_and_unfitted():
    with pytest.raises(ValueError, match="contamination must be a float in"):
        AutoEncoderDetector(contamination=0.7).fit(_blobs())
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        AutoEncoderDetector().predict(_blobs())
    det = AutoEncoderDetector(epochs=2).fit(_blobs())
    with pytest.raises(ValueError, match="features"):
        det.predict(np.zeros((2, 4)))


def test_imputer_fills_nans_keeps_observed_and_beats_the_mean_on_correlated_columns():
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((400, 2))
    X = np.c_[Z, Z @ rng.standard_normal((2, 6))] + 0.05 * rng.standard_normal((400, 8))
    miss = rng.random(X.shape) < 0.2
    Xm = np.where(miss, np.nan, X)
    filled = AutoEncoderImputer(epochs=60, code_size=4, hidden=(32,)).fit_transform(Xm)
    assert np.isfinite(filled).all()
    np.testing.assert_array_equal(filled[~miss], X[~miss])
    mean_fill = SimpleImputer().fit_transform(Xm)
    ae_rmse = np.sqrt(((filled - X)[miss] ** 2).mean())
    mean_rmse = np.sqrt(((mean_fill - X)[miss] ** 2).mean())
    assert ae_rmse < 0.6 * mean_rmse
    pipe = make_pipeline(AutoEncoderImputer(epochs=2), StandardScaler())
    assert np.isfinite(pipe.fit_transform(Xm)).all()


# ------------------------------------------------------------------ SMILES
def test_smiles_tokenizer_round_trips_every_rdkit_string():
    smiles = load_nci_smiles()
    assert len(smiles) == 4999
    vocab = SmilesVocabulary.from_smiles(smiles)
    assert "Cl" in vocab.stoi and "Br" in vocab.stoi and vocab.itos[:3] == list(vocab.SPECIAL)
    ids = vocab.encode(smiles)
    assert ids[:, 0].eq(vocab.BOS).all()
    assert vocab.decode(ids) == smiles
    assert is_valid_smiles(smiles[0]) and not is_valid_smiles("C1CC(")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        SmilesVocabulary.from_smiles(["CC"]).encode(["CN"])


def test_smiles_autoencoder_learns_to_copy_a_few_strings():
    smiles = load_nci_smiles()[:16]
    vocab = SmilesVocabulary.from_smiles(smiles)
    ids = vocab.encode(smiles)
    torch.manual_seed(0)
    model = SmilesAutoEncoder(len(vocab), embed_dim=16, hidden_size=64, code_size=16)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        logits = model(ids)  # (B, T-1, V)
        loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), ids[:, 1:],
                                                 ignore_index=vocab.PAD)
        opt.zero_grad()
        loss.backward()
        opt.step()
    out = vocab.decode(model.generate(model.encode(ids), ids.shape[1]))
    assert sum(a == b for a, b in zip(out, smiles, strict=True)) >= 12


def test_smiles_decoder_sees_the_code_at_every_step_only_when_fed():
    torch.manual_seed(0)
    ids = torch.tensor([[1, 4, 5, 6, 7, 2], [1, 6, 4, 2, 0, 0]])
    z1, z2 = torch.randn(2, 3), torch.randn(2, 3)
    for feed, differs in ((True, True), (False, False)):
        model = SmilesAutoEncoder(8, embed_dim=4, hidden_size=6, code_size=3, feed_code=feed)
        assert model.decoder_rnn.input_size == 4 + (3 if feed else 0)
        with torch.no_grad():  # the initial state no longer carries the code: h0 = tanh(0) = 0
            model.from_code.weight.zero_()
            model.from_code.bias.zero_()
        a, b = model.decode(z1, ids[:, :-1]), model.decode(z2, ids[:, :-1])
        assert (not torch.allclose(a, b)) is differs
    with pytest.raises(TypeError, match="feed_code must be a bool"):
        SmilesAutoEncoder(8, feed_code=1)


@pytest.mark.parametrize("feed", [True, False])
def test_smiles_greedy_decoding_agrees_with_the_teacher_forced_decoder(feed):
    torch.manual_seed(1)
    model = SmilesAutoEncoder(9, embed_dim=5, hidden_size=7, code_size=4, feed_code=feed).eval()
    z = torch.randn(5, 4)
    out = model.generate(z, max_len=6)  # (5, 8), starts with bos
    assert out.shape == (5, 8) and (out[:, 0] == SmilesVocabulary.BOS).all()
    with torch.no_grad():  # feeding the greedy tokens back predicts the same tokens
        assert torch.equal(model.decode(z, out[:, :-1]).argmax(-1), out[:, 1:])


def test_size_checks_share_one_home_and_one_message():
    from deepdojo.models import autoencoder, smiles_autoencoder
    from deepdojo.utils.checks import check_int

    assert autoencoder._positive_int is smiles_autoencoder._positive_int is check_int
    with pytest.raises(TypeError, match=r"^code_size must be an int, got float$"):
        SmilesAutoEncoder(8, code_size=3.0)
    with pytest.raises(TypeError, match=r"^code_size must be an int, got float$"):
        MLPAutoEncoder(12, code_size=3.0)
    with pytest.raises(ValueError, match=r"^vocab_size must be >= 4, got 3$"):
        SmilesAutoEncoder(3)
    assert SmilesVocabulary.from_smiles(["CC"]).encode(["CC"], np.int64(4)).shape == (1, 6)


def test_rdkit_parts_name_the_chem_extra_when_missing(monkeypatch):
    real = builtins.__import__

    def fake(name, *args, **kwargs):
        if name == "rdkit" or name.startswith("rdkit."):
            raise ImportError("no rdkit")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(ImportError, match=r"deepdojo\[chem\]"):
        load_nci_smiles()
    with pytest.raises(ImportError, match=r"deepdojo\[chem\]"):
        is_valid_smiles("CC")


def test_registry_builds_the_family():
    for name in ("mlp_autoencoder", "conv_autoencoder", "denoising_autoencoder", "vae",
                 "masked_autoencoder", "autorec", "smiles_autoencoder"):
        assert hasattr(create(name), "encode") and hasattr(create(name), "decode")


@pytest.mark.parametrize("estimator", [AutoEncoderDetector(epochs=2), AutoEncoderImputer(epochs=2)],
                         ids=lambda e: type(e).__name__)
def test_sklearn_check_estimator_passes(estimator):
    from sklearn.utils.estimator_checks import check_estimator

    results = check_estimator(estimator, on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results
              if r["status"] == "failed"]
    assert not failed, failed
