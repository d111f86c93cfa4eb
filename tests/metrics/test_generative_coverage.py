"""precision_recall (k-NN manifolds), modes_covered, classifier_features: hand-checked sets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepdojo.metrics import classifier_features, modes_covered, precision_recall


def test_identical_sets_give_one_and_one():
    x = np.random.default_rng(0).normal(size=(50, 4))
    assert precision_recall(x, x.copy(), k=3) == (1.0, 1.0)


def test_disjoint_far_sets_give_zero_and_zero():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(40, 3))
    assert precision_recall(real, rng.normal(size=(40, 3)) + 100.0, k=3) == (0.0, 0.0)


def test_a_hand_computed_one_dimensional_case():
    """Real {0, 1, 2, 3}, k=1: every real radius is 1, so the real manifold is [-1, 4].
    Fake {0.5, 3.5, 10, 10.2}: 0.5 and 3.5 inside, 10 and 10.2 outside -> precision 1/2.
    Fake radii (k=1): 3.0, 3.0, 0.2, 0.2; balls [-2.5, 3.5], [0.5, 6.5], around 10: all four
    real points inside -> recall 1."""
    real = np.array([[0.0], [1.0], [2.0], [3.0]])
    fake = np.array([[0.5], [3.5], [10.0], [10.2]])
    assert precision_recall(real, fake, k=1) == (0.5, 1.0)


def test_mode_collapse_keeps_precision_and_loses_recall():
    """Fakes drawn from one of two real clusters: (nearly) all on the real manifold,
    covering about half of it (recall ~ 0.5)."""
    rng = np.random.default_rng(1)
    real = np.concatenate([rng.normal(size=(200, 2)), rng.normal(size=(200, 2)) + 20.0])
    fake = rng.normal(size=(400, 2)) * 0.5
    precision, recall = precision_recall(real, fake, k=3)
    assert precision > 0.98  # a tail point or two of the narrower fakes may leave the balls
    assert 0.3 < recall <= 0.5


def test_precision_recall_matches_a_brute_force_loop():
    rng = np.random.default_rng(2)
    real, fake = rng.normal(size=(30, 3)), rng.normal(size=(25, 3)) * 1.5
    k = 2

    def radii(s):
        return [sorted(np.linalg.norm(s - p, axis=1))[k] for p in s]

    def share(q, c, r):
        return np.mean([any(np.linalg.norm(x - cj) <= rj for cj, rj in zip(c, r, strict=True))
                        for x in q])

    want = (share(fake, real, radii(real)), share(real, fake, radii(fake)))
    got = precision_recall(torch.tensor(real), fake, k=k, chunk=7)  # chunks of 7 rows
    np.testing.assert_allclose(got, want)


def test_precision_recall_argument_errors():
    x = np.zeros((5, 2))
    with pytest.raises(ValueError, match="k must be an int >= 1"):
        precision_recall(x, x, k=0)
    with pytest.raises(ValueError, match="needs more than k=5 samples"):
        precision_recall(x, x, k=5)
    with pytest.raises(ValueError, match="2 features but fake_features has 3"):
        precision_recall(x, np.zeros((5, 3)))


def test_modes_covered_counts_classes_above_the_share():
    labels = np.array([0] * 50 + [1] * 45 + [2] * 4 + [3] * 1)  # N=100, K=4: need 0.1*25=2.5
    assert modes_covered(labels, 4) == 3
    assert modes_covered(labels, 4, min_share=0.0) == 4  # one sample is enough
    assert modes_covered(torch.tensor(labels), 10) == 4  # need 0.1*10 = 1 sample
    assert modes_covered(np.zeros(100, dtype=int), 10) == 1  # total collapse: one mode
    with pytest.raises(ValueError, match="labels must lie in 0..3"):
        modes_covered(np.array([0, 4]), 4)
    with pytest.raises(ValueError, match="ints"):
        modes_covered(np.array([0.5]), 4)


def test_classifier_features_reads_the_penultimate_layer():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Dropout(0.5),
                              torch.nn.Linear(5, 3)).train()
    x = torch.randn(9, 6)
    feats = classifier_features(net, x, batch_size=4)
    want = torch.relu(net[0](x)).double().detach().numpy()  # eval mode: dropout off
    np.testing.assert_allclose(feats, want, rtol=1e-6)
    assert net.training  # mode restored
    first = classifier_features(net, x, layer=net[0])
    np.testing.assert_allclose(first, x.double().numpy())
    with pytest.raises(ValueError, match="no nn.Linear"):
        classifier_features(torch.nn.ReLU(), x)
