"""make_imbalanced, splits, class weights, BalancedSampler (incl. DDP shares), ResampledDataset."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

from deepdojo.data.imbalance import (
    SAMPLERS,
    BalancedSampler,
    ResampledDataset,
    class_counts,
    class_weights,
    imbalanced_splits,
    make_imbalanced,
)


def _data(n_major=400, n_minor=100, dim=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.cat(
        [torch.randn(n_major, dim, generator=g), torch.randn(n_minor, dim, generator=g) + 2]
    )
    y = torch.cat([torch.zeros(n_major, dtype=torch.long), torch.ones(n_minor, dtype=torch.long)])
    return X, y


def test_make_imbalanced_hits_the_ratio_and_keeps_rows():
    X, y = _data()
    (Xi, yi), idx = make_imbalanced(X, y, {1: 0.05}, seed=3, return_indices=True)
    assert class_counts(yi).tolist() == [400, 20]
    assert torch.equal(Xi, X[idx]) and torch.equal(yi, y[idx])
    again, idx2 = make_imbalanced(X, y, {1: 0.05}, seed=3, return_indices=True)
    assert torch.equal(idx, idx2)
    _, other = make_imbalanced(X, y, {1: 0.05}, seed=4, return_indices=True)
    assert not torch.equal(idx, other)


def test_make_imbalanced_errors():
    X, y = _data()
    with pytest.raises(ValueError, match="leaves class 1 empty"):
        make_imbalanced(X, y, {1: 0.0001})
    with pytest.raises(ValueError, match="single class"):
        make_imbalanced(X[:50], y[:50], {0: 0.5})
    with pytest.raises(ValueError, match="not in y"):
        make_imbalanced(X, y, {5: 0.5})


def test_imbalanced_splits_keep_ratio_and_reject_empty_minority_split():
    X, y = _data(n_major=1000, n_minor=300)
    splits = imbalanced_splits(X, y, {1: 0.1}, seed=0)
    for part in (splits.train, splits.val, splits.test):
        counts = class_counts(part.y, 2)
        assert 0.07 < counts[1] / counts[0] < 0.13
    with pytest.raises(ValueError, match="class 1 has no samples in the (val|test) split"):
        imbalanced_splits(X, y, {1: 0.002}, seed=0)


def test_class_weights_methods():
    y = torch.tensor([0] * 90 + [1] * 9 + [2] * 1)
    inv = class_weights(y, "inverse")
    assert inv.sum().item() == pytest.approx(3.0)
    assert (inv / inv[0]).tolist() == pytest.approx([1.0, 10.0, 90.0], rel=1e-5)
    sq = class_weights(y, "sqrt_inverse")
    assert (sq / sq[0]).tolist() == pytest.approx([1.0, 10**0.5, 90**0.5], rel=1e-5)
    en = class_weights(y, "effective_number", beta=0.9)
    raw = np.array([(1 - 0.9) / (1 - 0.9**n) for n in (90, 9, 1)])
    assert en.tolist() == pytest.approx((raw * 3 / raw.sum()).tolist(), rel=1e-5)


def test_class_weights_errors():
    with pytest.raises(ValueError, match="single class"):
        class_weights(torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"classes \[2\] have no samples"):
        class_weights(torch.tensor([0, 1, 1]), num_classes=3)
    with pytest.raises(TypeError, match="integer class labels"):
        class_weights(torch.rand(5))


def test_class_weights_with_ce_bce_and_dense_targets():
    g = torch.Generator().manual_seed(0)
    # dense per-pixel targets: weights from pixel counts, ignore_index left out
    mask = torch.randint(0, 3, (2, 4, 4), generator=g)
    mask[0, 0, 0] = 255
    w = class_weights(mask, "inverse", ignore_index=255)
    counts = class_counts(mask[mask != 255])
    assert (w * counts).tolist() == pytest.approx([(w * counts)[0].item()] * 3, rel=1e-5)
    logits = torch.randn(2, 3, 4, 4, generator=g, dtype=torch.float64)
    got = nn.CrossEntropyLoss(weight=w.double(), ignore_index=255)(logits, mask)
    keep = mask != 255
    per = nn.functional.cross_entropy(logits, mask.clamp(max=2), reduction="none")[keep]
    ww = w.double()[mask[keep]]
    assert got.item() == pytest.approx(((ww * per).sum() / ww.sum()).item())
    # binary: pos_weight = w1/w0 equals per-element weights up to the factor w0
    yb = torch.tensor([0.0] * 9 + [1.0])
    wb = class_weights(yb.long())
    z = torch.randn(10, generator=g, dtype=torch.float64)
    with_pos = nn.BCEWithLogitsLoss(pos_weight=(wb[1] / wb[0]).double(), reduction="sum")(
        z, yb.double()
    )
    per_el = nn.BCEWithLogitsLoss(weight=wb.double()[yb.long()], reduction="sum")(z, yb.double())
    assert (with_pos * wb[0]).item() == pytest.approx(per_el.item(), rel=1e-6)


def test_balanced_sampler_class_frequencies_are_balanced():
    y = torch.tensor([0] * 950 + [1] * 50)
    sampler = BalancedSampler(y, mode="over", seed=0)
    assert len(sampler) == 1900
    drawn = y[torch.tensor(list(sampler))]
    share = drawn.float().mean().item()
    # binomial(1900, 0.5): sd 0.0115; 4 sd
    assert abs(share - 0.5) < 0.046
    under = BalancedSampler(y, mode="under", seed=0)
    assert len(under) == 100


def test_balanced_sampler_custom_class_probs():
    y = torch.tensor([0] * 500 + [1] * 100 + [2] * 20)
    sampler = BalancedSampler(y, class_probs=[0.5, 0.3, 0.2], num_samples=5000, seed=1)
    freq = torch.bincount(y[torch.tensor(list(sampler))], minlength=3).double() / 5000
    assert torch.allclose(freq, torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64), atol=0.03)


def test_balanced_sampler_ranks_are_disjoint_shares_of_one_draw():
    y = torch.tensor([0] * 300 + [1] * 30 + [2] * 7)
    ranks = [BalancedSampler(y, num_samples=6000, num_replicas=3, rank=r, seed=5) for r in range(3)]
    for s in ranks:
        s.set_epoch(2)
    shares = [list(s) for s in ranks]
    assert len({len(s) for s in shares}) == 1
    full = ranks[0].draw().tolist()
    positions = [set(range(r, len(full), 3)) for r in range(3)]
    assert all(a.isdisjoint(b) for i, a in enumerate(positions) for b in positions[i + 1 :])
    assert [full[p] for p in range(0, len(full), 3)] == shares[0]
    rebuilt = [shares[r][i] for i in range(len(shares[0])) for r in range(3)]
    assert rebuilt == full
    # every rank's own share is balanced too: 2000 draws each, sd 0.0105, tolerance ~4 sd
    for share in shares:
        freq = torch.bincount(y[torch.tensor(share)], minlength=3).double() / len(share)
        assert torch.allclose(freq, torch.full((3,), 1 / 3, dtype=torch.float64), atol=0.045)


def test_balanced_sampler_epochs_and_seed_determinism():
    y = torch.tensor([0] * 90 + [1] * 10)
    a, b = BalancedSampler(y, seed=1), BalancedSampler(y, seed=1)
    assert list(a) == list(b)
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first


def test_balanced_sampler_errors():
    with pytest.raises(ValueError, match="rank"):
        BalancedSampler(torch.tensor([0, 1]), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="single class"):
        BalancedSampler(torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="class_probs"):
        BalancedSampler(torch.tensor([0, 1]), class_probs=[1.0])
    with pytest.raises(ValueError, match="no samples"):  # class 1 absent: was renormalised away
        BalancedSampler(torch.tensor([0, 2, 2]), class_probs=[0.4, 0.2, 0.4])


@pytest.mark.parametrize("method", SAMPLERS)
def test_resampled_dataset_every_sampler(method):
    X, y = _data(n_major=120, n_minor=20)
    ds = ResampledDataset(X.reshape(140, 3, 1), y, method, seed=0)
    assert ds.X.shape[1:] == (3, 1) and len(ds) == len(ds.y)
    before, after = ds.counts_before.tolist(), ds.counts_after.tolist()
    if method in ("random_over", "smote", "borderline_smote"):
        assert after == [120, 120]
    elif method == "random_under":
        assert after == [20, 20]
    elif method == "tomek":
        assert after[1] == 20 and after[0] <= 120
    else:  # adasyn / smoteenn: roughly balanced
        assert after[1] > before[1]
    x0, y0 = ds[0]
    assert x0.shape == (3, 1) and y0.dtype == torch.long


def test_resampled_dataset_is_imblearn_output():
    from imblearn.over_sampling import SMOTE

    X, y = _data(n_major=60, n_minor=10)
    ds = ResampledDataset(X, y, "smote", seed=3, k_neighbors=3)
    ref_X, ref_y = SMOTE(random_state=3, k_neighbors=3).fit_resample(X.double().numpy(), y.numpy())
    assert np.allclose(ds.X.numpy(), ref_X, atol=1e-6) and (ds.y.numpy() == ref_y).all()


def test_resampled_dataset_errors():
    X, y = _data(n_major=50, n_minor=4)
    with pytest.raises(ValueError, match="k_neighbors=5"):
        ResampledDataset(X, y, "smote")
    with pytest.raises(ValueError, match="method must be one of"):
        ResampledDataset(X, y, "magic")
    with pytest.raises(ValueError, match="single class"):
        ResampledDataset(X[:10], y[:10], "random_over")


def test_balanced_sampler_reads_world_size_and_rank_from_torch_distributed(monkeypatch):
    dist = torch.distributed
    monkeypatch.setattr(dist, "is_available", lambda: True)
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_world_size", lambda: 4)
    monkeypatch.setattr(dist, "get_rank", lambda: 3)
    y = torch.tensor([0] * 90 + [1] * 10)
    sampler = BalancedSampler(y, num_samples=100, seed=0)
    assert (sampler.num_replicas, sampler.rank, len(sampler)) == (4, 3, 25)
    assert list(sampler) == sampler.draw()[3::4].tolist()


def test_make_imbalanced_refuses_to_grow_a_class():
    X = torch.randn(30, 2)
    y = torch.tensor([0] * 20 + [1] * 10)
    with pytest.raises(ValueError, match=r"asks for 16 rows of class 1 but it has only 10"):
        make_imbalanced(X, y, {1: 0.8})
    kept = make_imbalanced(X, y, {1: 0.5})  # exactly its current size: nothing dropped
    assert int((kept.y == 1).sum()) == 10
