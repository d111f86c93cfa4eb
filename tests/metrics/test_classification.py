"""Metrics cross-checked against sklearn.metrics (and imblearn for the G-mean)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from imblearn.metrics import geometric_mean_score
from sklearn import metrics as skm

from deepdojo.metrics import (
    average_precision,
    classification_report,
    confusion_matrix,
    precision_recall_curve,
    roc_auc,
)


def _binary_case(seed: int, n: int = 200, prevalence: float = 0.1):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prevalence).astype(np.int64)
    y[:2] = [0, 1]
    scores = rng.normal(size=n) + 1.5 * y
    scores[10:30] = np.round(scores[10:30], 1)  # ties
    return y, scores


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binary_ranking_metrics_match_sklearn(seed):
    y, s = _binary_case(seed)
    assert average_precision(y, s) == pytest.approx(skm.average_precision_score(y, s), abs=1e-12)
    assert roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    p, r, t = precision_recall_curve(torch.tensor(y), torch.tensor(s))
    p2, r2, t2 = skm.precision_recall_curve(y, s)
    # sklearn drops thresholds beyond full recall; compare on the shared tail
    k = len(t2)
    assert np.allclose(p[-k - 1 :], p2) and np.allclose(r[-k - 1 :], r2) and np.allclose(t[-k:], t2)


def test_multiclass_ranking_metrics_are_macro_one_vs_rest():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 150)
    s = rng.normal(size=(150, 3)) + np.eye(3)[y]
    expected = np.mean([skm.average_precision_score(y == c, s[:, c]) for c in range(3)])
    assert average_precision(y, s) == pytest.approx(expected, abs=1e-12)
    probs = np.exp(s) / np.exp(s).sum(1, keepdims=True)
    assert roc_auc(y, probs) == pytest.approx(skm.roc_auc_score(y, probs, multi_class="ovr"))


@pytest.mark.parametrize("num_classes", [2, 4])
def test_report_matches_sklearn(num_classes):
    rng = np.random.default_rng(num_classes)
    y = rng.choice(
        num_classes, 300, p=np.r_[0.7, np.full(num_classes - 1, 0.3 / (num_classes - 1))]
    )
    pred = np.where(rng.random(300) < 0.7, y, rng.integers(0, num_classes, 300))
    rep = classification_report(y, pred, num_classes=num_classes)
    p, r, f, sup = skm.precision_recall_fscore_support(y, pred, zero_division=0)
    assert np.allclose(rep["per_class"]["precision"], p)
    assert np.allclose(rep["per_class"]["recall"], r)
    assert np.allclose(rep["per_class"]["f1"], f)
    assert rep["per_class"]["support"] == sup.tolist()
    for avg in ("macro", "weighted"):
        ref = skm.precision_recall_fscore_support(y, pred, average=avg, zero_division=0)
        assert [rep[f"{avg}_{k}"] for k in ("precision", "recall", "f1")] == pytest.approx(ref[:3])
    assert rep["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert rep["mcc"] == pytest.approx(skm.matthews_corrcoef(y, pred))
    assert rep["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert rep["g_mean"] == pytest.approx(geometric_mean_score(y, pred))
    assert rep["confusion_matrix"] == skm.confusion_matrix(y, pred).tolist()


def test_report_from_binary_scores_with_threshold():
    y, s = _binary_case(5)
    rep = classification_report(y, scores=s, threshold=0.7)
    pred = (s >= 0.7).astype(int)
    assert rep["positive_f1"] == pytest.approx(skm.f1_score(y, pred))
    assert rep["pr_auc"] == pytest.approx(skm.average_precision_score(y, s))
    assert rep["roc_auc"] == pytest.approx(skm.roc_auc_score(y, s))


def test_report_from_two_column_scores_ranks_the_positive_class():
    y, s = _binary_case(6)
    p1 = 1 / (1 + np.exp(-s))  # monotone in s: the same ranking
    probs = np.stack([1 - p1, p1], axis=1)  # (N, 2) probabilities
    logits = np.log(probs) + np.random.default_rng(1).normal(size=(len(s), 1))  # any shift
    for scores in (probs, logits):
        rep = classification_report(y, scores=scores)
        # class 1's AP, not the mean with the majority's (near 1 under imbalance)
        assert rep["pr_auc"] == pytest.approx(skm.average_precision_score(y, s))
        assert rep["roc_auc"] == pytest.approx(skm.roc_auc_score(y, s))


def test_constant_predictor_has_high_accuracy_but_zero_minority_f1():
    y = np.r_[np.zeros(99), 1].astype(int)
    rep = classification_report(y, np.zeros(100, dtype=int), num_classes=2)
    assert rep["accuracy"] == pytest.approx(0.99)
    assert rep["positive_f1"] == 0.0 and rep["mcc"] == 0.0 and rep["g_mean"] == 0.0
    assert rep["balanced_accuracy"] == pytest.approx(0.5)


def test_confusion_matrix_shape_and_counts():
    cm = confusion_matrix([0, 0, 1, 2], [0, 1, 1, 0], num_classes=3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 0]]


def test_clear_errors():
    with pytest.raises(ValueError, match="single class"):
        average_precision([1, 1, 1], [0.2, 0.3, 0.4])
    with pytest.raises(ValueError, match="single class"):
        classification_report([0, 0, 0], [0, 1, 0])
    with pytest.raises(ValueError, match="only 3 classes"):
        classification_report([0, 1, 3], scores=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="has 3 samples but scores has 2"):
        roc_auc([0, 1, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="threshold"):
        classification_report([0, 1, 0], scores=[0.1, 0.2, 0.3])
    with pytest.raises(TypeError, match="integer class labels"):
        classification_report(np.array(["a", "b"]), [0, 1])
