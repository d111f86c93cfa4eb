"""Judging representations: collapse statistics, label subsets, probes, kNN, fine-tuning, and
the VICReg / pretext tasks under the Trainer."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from torch import nn

from deepdojo.diagnose import CollapseMonitor, check_collapse, effective_rank, embedding_std
from deepdojo.models.ssl import ProjectionHead, SignalEncoder, permute_segments
from deepdojo.ssl import (
    PretextTask,
    VICRegTask,
    fine_tune,
    fine_tune_steps,
    knn_accuracy,
    label_subset,
    linear_probe,
    split_labelled,
    stratified_folds,
)
from deepdojo.train import Trainer
from deepdojo.train.tasks import ContrastiveTask


# ---------------------------------------------------------------- collapse
def _with_spectrum(singular: list[float], n: int = 20, d: int = 6) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    u, _ = torch.linalg.qr(torch.randn(n, d, generator=g, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    s = torch.tensor(singular + [0.0] * (d - len(singular)), dtype=torch.float64)
    return u @ torch.diag(s) @ v.T  # (n, d) with exactly these singular values


def test_effective_rank_of_a_known_spectrum_is_exact():
    z = _with_spectrum([3.0, 1.0])
    p = np.array([0.75, 0.25])
    assert effective_rank(z, center=False) == pytest.approx(math.exp(-(p * np.log(p)).sum()),
                                                            rel=1e-10)
    assert effective_rank(_with_spectrum([2.0, 2.0, 2.0]), center=False) == pytest.approx(3.0)
    assert effective_rank(torch.ones(10, 4)) == 0.0  # centred all-equal rows: no spectrum


def test_embedding_std_of_collapsed_and_gaussian_embeddings():
    assert embedding_std(torch.full((50, 8), 3.0)) == 0.0
    d = 64
    z = torch.randn(4000, d, generator=torch.Generator().manual_seed(0))
    assert embedding_std(z) == pytest.approx(1 / math.sqrt(d), rel=0.03)


def test_check_collapse_flags_like_the_doctor():
    bad = check_collapse(torch.ones(32, 8) + 1e-9 * torch.randn(32, 8))
    assert bad.kind == "collapse" and bad.remedies and "collapsed" in bad.message
    good = check_collapse(torch.randn(256, 8, generator=torch.Generator().manual_seed(1)))
    assert good.kind == "healthy" and good.evidence["std_times_sqrt_d"] > 0.9
    one_direction = torch.randn(256, 1) * torch.ones(1, 8)  # dimensional collapse
    assert check_collapse(one_direction).kind == "collapse"
    with pytest.raises(ValueError, match="embeddings"):
        embedding_std(torch.randn(1, 4))
    with pytest.raises(ValueError, match="std_ratio"):
        check_collapse(torch.randn(4, 4), std_ratio=0)


# ---------------------------------------------------------------- labels
def test_label_subset_is_stratified_seeded_and_complete_at_one():
    y = torch.arange(10).repeat_interleave(50)  # 10 classes x 50
    idx = label_subset(y, 0.1, seed=3)
    assert np.bincount(y[idx].numpy()).tolist() == [5] * 10
    assert np.array_equal(idx, label_subset(y, 0.1, seed=3))
    assert not np.array_equal(idx, label_subset(y, 0.1, seed=4))
    assert np.bincount(y[label_subset(y, 0.01, 0)].numpy()).tolist() == [1] * 10  # >= 1 each
    assert len(label_subset(y, 1.0, 0)) == 500
    with pytest.raises(ValueError, match="fraction"):
        label_subset(y, 0.0, 0)
    fit, val = split_labelled(y[idx], 1 / 3, 0)
    assert len(set(fit) & set(val)) == 0 and len(fit) + len(val) == 50
    assert np.bincount(y[idx][val].numpy()).tolist() == [1] * 10


# ---------------------------------------------------------------- probes
def _separable(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    centres = torch.tensor([[6.0, 0, 0, 0], [0, 6.0, 0, 0], [0, 0, 6.0, 0]])
    return centres[y] + 0.3 * torch.randn(n, 4, generator=g), y


def test_linear_probe_and_knn_solve_a_separable_toy():
    x, y = _separable(90, 0)
    xt, yt = _separable(300, 1)
    res = linear_probe(x, y, xt, yt, seed=0)
    assert res.accuracy == 1.0 and res.weight_decay in (1e-3, 1e-2, 1e-1)
    assert set(res.val_accuracy) == {1e-3, 1e-2, 1e-1}
    assert knn_accuracy(x, y, xt, yt, k=5) == 1.0
    assert linear_probe(x, y, xt, yt, seed=0) == res  # deterministic
    g = torch.Generator().manual_seed(2)
    noise, noise_test = torch.randn(90, 4, generator=g), torch.randn(300, 4, generator=g)
    assert linear_probe(noise, y, noise_test, yt, seed=0).accuracy < 0.45  # chance is 1/3
    with pytest.raises(ValueError, match="k must"):
        knn_accuracy(x, y, xt, yt, k=0)


def test_fine_tune_is_deterministic_and_a_zero_backbone_scale_freezes_it():
    x, y = _separable(60, 0)
    enc = nn.Sequential(nn.Linear(4, 8), nn.ReLU())
    a = fine_tune(enc, x, y, num_classes=3, steps=30, seed=5, val=(x, y), eval_every=10)
    b = fine_tune(enc, x, y, num_classes=3, steps=30, seed=5)
    for pa, pb in zip(a.model.parameters(), b.model.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert [s for s, _ in a.val_curve] == [10, 20, 30] and a.best_step in (10, 20, 30)
    assert [s for s, _ in a.val_loss_curve] == [10, 20, 30]
    with torch.no_grad():
        ce = float(nn.functional.cross_entropy(a.model.eval()(x), y))
    assert math.isclose(a.val_loss_curve[-1][1], ce, rel_tol=1e-5)  # the final model's CE
    frozen = fine_tune(enc, x, y, num_classes=3, steps=30, seed=5, backbone_lr_scale=0.0)
    assert torch.equal(frozen.model[0][0].weight, enc[0].weight)
    assert not torch.equal(a.model[0][0].weight, enc[0].weight)  # the copy moved, not enc


def test_fine_tune_patience_stops_early_and_steps_stream_the_same_run():
    x, y = _separable(60, 0)
    xv, yv = _separable(60, 1)
    val = (xv, yv[torch.randperm(60, generator=torch.Generator().manual_seed(0))])  # noise
    enc = nn.Sequential(nn.Linear(4, 8), nn.ReLU())
    kw = dict(num_classes=3, steps=400, seed=5, val=val, eval_every=10, lr=0.03)
    full = fine_tune(enc, x, y, **kw)
    early = fine_tune(enc, x, y, patience=3, **kw)
    n = len(early.val_curve)
    assert n < len(full.val_curve)  # shuffled validation labels: no lasting improvement
    assert early.val_curve == full.val_curve[:n]  # the same run, cut short
    assert early.best_step <= early.val_curve[-1][0] - 3 * 10  # three evaluations past it
    stream = fine_tune_steps(enc, x, y, **kw)
    assert [(s, a) for s, a, _ in itertools.islice(stream, n)] == early.val_curve
    with pytest.raises(ValueError, match="patience"):
        fine_tune(enc, x, y, num_classes=3, steps=10, patience=0)


# ---------------------------------------------------------------- tasks
def _fit(task_factory, x):
    losses = []
    for _ in range(2):
        torch.manual_seed(0)
        h = Trainer(task_factory(), seed=0, progress="off").fit(x, epochs=2, batch_size=16)
        losses.append(h["train_loss"])
    return losses


def test_vicreg_and_order_tasks_train_deterministically():
    x = torch.randn(48, 1, 40, generator=torch.Generator().manual_seed(0))

    def vicreg():
        return VICRegTask(SignalEncoder(channels=4, feature_size=8), ProjectionHead(8, 8, 8))

    def order():
        return PretextTask(SignalEncoder(channels=4, feature_size=8), nn.Linear(8, 24),
                           lambda v: permute_segments(v, 4))

    for make in (vicreg, order):
        first, second = _fit(make, x)
        assert first == second and all(math.isfinite(v) for v in first)
    task = vicreg()
    task.loss(x[:8])
    assert task.last_terms is not None and float(task.last_terms.variance) > 0


def test_collapse_monitor_flags_a_constant_encoder_and_passes_a_healthy_one():
    x = torch.randn(64, 1, 40, generator=torch.Generator().manual_seed(0))
    runs = {}
    for name in ("constant", "healthy"):
        torch.manual_seed(0)
        enc = nn.Sequential(nn.Flatten(), nn.Linear(40, 8))
        if name == "constant":
            nn.init.zeros_(enc[1].weight)  # every input maps to the bias
            enc[1].weight.requires_grad_(False)
        monitor = CollapseMonitor(x[:32], every=1)
        task = ContrastiveTask(enc, lr=1e-3)
        Trainer(task, seed=0, progress="off", callbacks=[monitor]).fit(x, epochs=2, batch_size=16)
        runs[name] = monitor
    assert len(runs["healthy"].history) == 2 and not runs["healthy"].findings
    assert runs["constant"].findings[0].kind == "collapse"
    assert runs["constant"].history[0]["std_times_sqrt_d"] == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="inputs"):
        CollapseMonitor(torch.randn(1, 3))


def test_stratified_folds_partition_and_balance_each_class():
    y = np.repeat(np.arange(10), 4)  # 1% of 4,000 MNIST-1D signals: 4 per class
    folds = stratified_folds(y, 3, seed=0)
    assert np.array_equal(np.sort(np.concatenate(folds)), np.arange(40))  # a partition
    assert sorted(len(f) for f in folds) == [13, 13, 14]
    for f in folds:
        counts = np.bincount(y[f], minlength=10)
        assert counts.min() >= 1 and counts.max() <= 2  # 4 / 3 -> 1 or 2 of each class
    assert all(np.array_equal(a, b) for a, b in
               zip(folds, stratified_folds(y, 3, seed=0), strict=True))
    assert not all(np.array_equal(a, b) for a, b in
                   zip(folds, stratified_folds(y, 3, seed=1), strict=True))
    with pytest.raises(ValueError, match="folds"):
        stratified_folds(y, 1, seed=0)
