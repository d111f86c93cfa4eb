"""Imbalance losses against their formulas written out by hand (float64) and against torch."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from deepdojo.nn.losses import (
    ClassBalancedLoss,
    FocalLoss,
    LDAMLoss,
    LogitAdjustedLoss,
    effective_number_weights,
)

D = torch.float64


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def test_binary_focal_matches_handwritten_formula_elementwise():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(7, generator=g, dtype=D) * 3
    target = torch.tensor([1, 0, 1, 1, 0, 0, 1], dtype=D)
    got = FocalLoss(reduction="none")(logits, target)
    for i in range(7):
        p = _sigmoid(float(logits[i]))
        y = float(target[i])
        p_t = p if y == 1 else 1 - p
        alpha_t = 0.25 if y == 1 else 0.75
        expected = -alpha_t * (1 - p_t) ** 2 * math.log(p_t)
        assert float(got[i]) == pytest.approx(expected, rel=1e-12)


def test_binary_focal_defaults_are_retinanet():
    loss = FocalLoss()
    assert loss.alpha == 0.25 and loss.gamma == 2.0 and loss.task == "binary"


def test_binary_focal_gamma0_no_alpha_is_bce():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(4, 3, generator=g, dtype=D)
    target = torch.randint(0, 2, (4, 3), generator=g).to(D)
    got = FocalLoss(alpha=None, gamma=0.0)(logits, target)
    assert torch.allclose(got, F.binary_cross_entropy_with_logits(logits, target), atol=1e-14)


def test_multiclass_focal_matches_formula_and_ce_at_gamma0():
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(5, 4, generator=g, dtype=D)
    target = torch.tensor([0, 3, 1, 1, 2])
    alpha = [0.5, 1.0, 2.0, 0.5]
    got = FocalLoss(alpha=alpha, gamma=1.5, task="multiclass", reduction="none")(logits, target)
    for i in range(5):
        row = [math.exp(float(v)) for v in logits[i]]
        p_t = row[int(target[i])] / sum(row)
        expected = -alpha[int(target[i])] * (1 - p_t) ** 1.5 * math.log(p_t)
        assert float(got[i]) == pytest.approx(expected, rel=1e-12)
    ce = FocalLoss(gamma=0.0, task="multiclass")(logits, target)
    assert torch.allclose(ce, F.cross_entropy(logits, target), atol=1e-14)


def test_multiclass_focal_dense_per_pixel_targets():
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(2, 3, 4, 5, generator=g, dtype=D)  # (N, C, H, W)
    target = torch.randint(0, 3, (2, 4, 5), generator=g)
    dense = FocalLoss(gamma=2.0, task="multiclass", reduction="none")(logits, target)
    assert dense.shape == (2, 4, 5)
    flat = FocalLoss(gamma=2.0, task="multiclass", reduction="none")(
        logits.permute(0, 2, 3, 1).reshape(-1, 3), target.reshape(-1)
    )
    assert torch.allclose(dense.reshape(-1), flat, atol=1e-14)


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_focal_gradcheck(task):
    g = torch.Generator().manual_seed(4)
    if task == "binary":
        logits = torch.randn(6, generator=g, dtype=D, requires_grad=True)
        target = torch.randint(0, 2, (6,), generator=g).to(D)
        loss = FocalLoss()
    else:
        logits = torch.randn(6, 3, generator=g, dtype=D, requires_grad=True)
        target = torch.randint(0, 3, (6,), generator=g)
        loss = FocalLoss(alpha=[1.0, 2.0, 0.5], task="multiclass")
    assert torch.autograd.gradcheck(lambda z: loss(z, target), (logits,))


def test_binary_focal_gradient_matches_closed_form():
    # d FL / dz for y=1, alpha=1: gamma (1-p)^(g-1) p log p (1-p)... written via p_t = p.
    z = torch.tensor([0.3, -1.2], dtype=D, requires_grad=True)
    y = torch.ones(2, dtype=D)
    FocalLoss(alpha=None, gamma=2.0, reduction="sum")(z, y).backward()
    for i in range(2):
        p = _sigmoid(float(z.detach()[i]))
        # FL = -(1-p)^2 log p ; dp/dz = p(1-p)
        d_dp = 2 * (1 - p) * math.log(p) - (1 - p) ** 2 / p
        assert float(z.grad[i]) == pytest.approx(d_dp * p * (1 - p), rel=1e-10)


def test_effective_number_weights_formula_and_normalisation():
    counts = [500, 50, 5]
    beta = 0.99
    w = effective_number_weights(counts, beta)
    raw = [(1 - beta) / (1 - beta**n) for n in counts]
    expected = [r * 3 / sum(raw) for r in raw]
    assert w.tolist() == pytest.approx(expected, rel=1e-12)
    assert float(w.sum()) == pytest.approx(3.0)
    assert effective_number_weights(counts, 0.0).tolist() == pytest.approx([1.0, 1.0, 1.0])


def test_effective_number_rejects_empty_class():
    with pytest.raises(ValueError, match="empty class"):
        effective_number_weights([10, 0], 0.9)


def test_class_balanced_ce_is_weighted_elementwise_ce():
    g = torch.Generator().manual_seed(5)
    logits = torch.randn(8, 3, generator=g, dtype=D)
    target = torch.randint(0, 3, (8,), generator=g)
    counts = [100, 20, 4]
    w = effective_number_weights(counts, 0.999)
    got = ClassBalancedLoss(counts, 0.999, loss="ce")(logits, target)
    per = F.cross_entropy(logits, target, reduction="none")
    assert float(got) == pytest.approx(float((w[target] * per).mean()), rel=1e-6)


def test_class_balanced_bce_weights_each_element_by_its_class():
    logits = torch.tensor([0.5, -0.3, 2.0], dtype=D)
    target = torch.tensor([1.0, 0.0, 0.0], dtype=D)
    w = effective_number_weights([90, 10], 0.99)
    got = ClassBalancedLoss([90, 10], 0.99, loss="bce", reduction="none")(logits, target)
    for i in range(3):
        p = _sigmoid(float(logits[i]))
        y = float(target[i])
        expected = -float(w[int(y)]) * (y * math.log(p) + (1 - y) * math.log(1 - p))
        assert float(got[i]) == pytest.approx(expected, rel=1e-6)


def test_logit_adjusted_matches_formula():
    logits = torch.tensor([[1.0, 0.2, -0.5]], dtype=D)
    target = torch.tensor([2])
    counts = [70, 20, 10]
    tau = 1.0
    got = float(LogitAdjustedLoss(counts, tau)(logits, target))
    priors = [c / 100 for c in counts]
    adj = [float(logits[0, c]) + tau * math.log(priors[c]) for c in range(3)]
    expected = -(adj[2] - math.log(sum(math.exp(a) for a in adj)))
    assert got == pytest.approx(expected, rel=1e-6)


def test_logit_adjusted_binary_formula():
    z = torch.tensor([0.4], dtype=D)
    y = torch.tensor([1.0], dtype=D)
    got = float(LogitAdjustedLoss([95, 5], task="binary")(z, y))
    expected = -math.log(_sigmoid(0.4 + math.log(5 / 95)))
    assert got == pytest.approx(expected, rel=1e-6)


def test_ldam_matches_formula():
    logits = torch.tensor([[0.3, -0.1, 0.2], [0.0, 0.5, -0.4]], dtype=D)
    target = torch.tensor([1, 2])
    counts = [1000, 100, 10]
    m, s = 0.5, 5.0
    got = float(LDAMLoss(counts, max_margin=m, scale=s)(logits, target))
    deltas = [n**-0.25 for n in counts]
    deltas = [d * m / max(deltas) for d in deltas]
    total = 0.0
    for i in range(2):
        y = int(target[i])
        z = [float(v) for v in logits[i]]
        z[y] -= deltas[y]
        z = [s * v for v in z]
        total += -(z[y] - math.log(sum(math.exp(v) for v in z)))
    assert got == pytest.approx(total / 2, rel=1e-5)
    assert deltas[2] == pytest.approx(m)


@pytest.mark.parametrize(
    "make",
    [
        lambda: FocalLoss(task="multiclass"),
        lambda: ClassBalancedLoss([5, 5, 5]),
        lambda: LogitAdjustedLoss([5, 5, 5]),
        lambda: LDAMLoss([5, 5, 5]),
    ],
)
def test_labels_not_matching_outputs_raise(make):
    logits = torch.randn(4, 3)
    with pytest.raises(ValueError, match="target labels must be in"):
        make()(logits, torch.tensor([0, 1, 3, 2]))
    with pytest.raises(ValueError, match="target shape"):
        make()(logits, torch.tensor([0, 1]))


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="gamma"):
        FocalLoss(gamma=-1)
    with pytest.raises(ValueError, match="binary alpha"):
        FocalLoss(alpha=[0.1, 0.9])
    with pytest.raises(ValueError, match="binary target shape"):
        FocalLoss()(torch.zeros(4, 1), torch.zeros(4))
    with pytest.raises(ValueError, match="alpha has 2 class weights"):
        FocalLoss(alpha=[1.0, 1.0], task="multiclass")(torch.zeros(2, 3), torch.tensor([0, 1]))


@pytest.mark.parametrize(
    "make",
    [
        lambda: ClassBalancedLoss([40, 8, 2], 0.99, loss="focal"),
        lambda: LogitAdjustedLoss([40, 8, 2], tau=1.5),
        lambda: LDAMLoss([40, 8, 2], max_margin=0.5, scale=4.0),
    ],
)
def test_other_losses_gradcheck(make):
    g = torch.Generator().manual_seed(6)
    logits = torch.randn(5, 3, generator=g, dtype=D, requires_grad=True)
    target = torch.tensor([0, 2, 1, 2, 0])
    loss = make().double()
    assert torch.autograd.gradcheck(lambda z: loss(z, target), (logits,))
