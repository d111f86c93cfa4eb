"""Generated features, minority augmentation, balanced bagging, transfer head and detectors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from deepdojo.data.imbalance import class_counts
from deepdojo.data.imbalance_features import ClassDistanceFeatures, augment_minority
from deepdojo.data.imbalance_models import (
    AutoencoderDetector,
    BalancedBaggingEnsemble,
    KNNDistanceDetector,
    balanced_bootstrap,
    replace_head,
)


def _blobs(n0=60, n1=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.cat([torch.randn(n0, 2, generator=g), torch.randn(n1, 2, generator=g) + 4])
    y = torch.cat([torch.zeros(n0, dtype=torch.long), torch.ones(n1, dtype=torch.long)])
    return X, y


def test_distance_features_match_brute_force():
    X, y = _blobs()
    new = torch.tensor([[0.5, -0.2], [3.0, 4.0]])
    feats = ClassDistanceFeatures(k=3).fit(X, y).transform(new)
    assert feats.shape == (2, 2 + 2 + 2)
    assert torch.allclose(feats[:, :2], new)
    for c in (0, 1):
        members = X[y == c].double()
        for i in range(2):
            d = ((members - new[i].double()) ** 2).sum(1).sqrt()
            assert feats[i, 2 + c].item() == pytest.approx(
                (new[i].double() - members.mean(0)).norm().item(), rel=1e-5
            )
            assert feats[i, 4 + c].item() == pytest.approx(
                d.sort().values[:3].mean().item(), rel=1e-5
            )


def test_distance_features_fit_transform_leaves_self_out():
    X, y = _blobs()
    feats = ClassDistanceFeatures(k=1, kinds=("knn",), keep_inputs=False).fit_transform(X, y)
    own = feats[torch.arange(len(y)), y]
    assert (own > 0).all()  # never its own zero distance
    plain = ClassDistanceFeatures(k=1, kinds=("knn",), keep_inputs=False).fit(X, y).transform(X)
    assert torch.allclose(plain[torch.arange(len(y)), y], torch.zeros(len(y)))
    cent = ClassDistanceFeatures(kinds=("centroid",), keep_inputs=False).fit_transform(X, y)
    for i in range(len(y)):  # own class: the centroid of the other members; others: full
        others = X[(y == y[i]) & (torch.arange(len(y)) != i)].double()
        rest = X[y == 1 - y[i]].double()
        assert cent[i, y[i]].item() == pytest.approx((X[i] - others.mean(0)).norm().item(),
                                                     rel=1e-5)
        assert cent[i, 1 - y[i]].item() == pytest.approx((X[i] - rest.mean(0)).norm().item(),
                                                         rel=1e-5)


def test_augment_minority_stays_in_class_and_counts():
    X, y = _blobs()
    Xa, ya = augment_minority(X, y, method="mixup", factor=2.0, seed=0)
    assert class_counts(ya).tolist() == [60, 24]
    assert torch.equal(Xa[: len(X)], X)
    new = Xa[len(X) :]
    minority = X[y == 1]
    lo, hi = minority.min(0).values, minority.max(0).values
    assert ((new >= lo - 1e-6) & (new <= hi + 1e-6)).all()  # convex combinations of class 1
    Xn, yn = augment_minority(X, y, method="noise", noise_std=0.5, seed=1)
    assert class_counts(yn).tolist() == [60, 16]
    gap = (Xn[len(X) :] - minority.mean(0)).norm(dim=1).mean()
    assert gap < 3.0  # near class 1 (class 0 is ~5.7 away)
    assert not torch.equal(Xn, augment_minority(X, y, method="noise", seed=2).X)


def test_balanced_bootstrap_is_balanced():
    y = torch.tensor([0] * 50 + [1] * 5 + [2] * 10)
    idx = balanced_bootstrap(y, mode="under", seed=0)
    assert class_counts(y[idx]).tolist() == [5, 5, 5]
    idx = balanced_bootstrap(y, mode="over", seed=0)
    assert class_counts(y[idx]).tolist() == [50, 50, 50]


def test_bagging_trains_members_on_balanced_bootstraps_and_averages():
    X, y = _blobs()
    seen = []

    def fit_fn(model, Xb, yb):
        seen.append(class_counts(yb, 2).tolist())
        with torch.no_grad():
            model.weight.fill_(float(len(seen)))
            model.bias.zero_()

    ens = BalancedBaggingEnsemble(lambda: nn.Linear(2, 1), fit_fn, n_estimators=3).fit(X, y)
    assert seen == [[8, 8]] * 3
    x = torch.tensor([[0.1, 0.2]])
    expected = torch.stack([torch.sigmoid(torch.tensor(m * 0.3)) for m in (1, 2, 3)]).mean()
    assert ens(x).shape == (1,)
    assert ens(x).item() == pytest.approx(expected.item(), rel=1e-6)


def test_replace_head_keeps_body_and_freezes():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Sequential(nn.Linear(8, 10)))
    body = model[0].weight.clone()
    replace_head(model, 1, freeze_body=True)
    assert model(torch.randn(3, 4)).shape == (3, 1)
    assert torch.equal(model[0].weight, body)
    assert not model[0].weight.requires_grad and model[2][0].weight.requires_grad
    with pytest.raises(ValueError, match="no nn.Linear"):
        replace_head(nn.ReLU(), 2)


def test_detectors_score_minority_higher():
    X, y = _blobs(n0=80, n1=10)
    majority = X[y == 0]
    for det in (KNNDistanceDetector(k=3), AutoencoderDetector(2, (4, 1), epochs=20, seed=0)):
        scores = det.fit(majority).score(X)
        assert scores.shape == (90,)
        assert scores[y == 1].mean() > scores[y == 0].mean()
    with pytest.raises(RuntimeError, match="fit"):
        KNNDistanceDetector().score(X)
