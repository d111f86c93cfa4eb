"""Calibration: do predicted probabilities match observed frequencies?

Resampling, class weights and focal loss all change the scores a network outputs: a model
trained on a balanced resample of 1:100 data over-predicts the minority. The reliability curve
and the expected calibration error make that visible.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepdojo.metrics.classification import _check_same_length, as_numpy, check_labels

__all__ = ["calibration_curve", "expected_calibration_error"]


def _bins(y_true: Any, prob: Any, n_bins: int, strategy: str) -> tuple[np.ndarray, ...]:
    y = check_labels(y_true, "y_true")
    p = as_numpy(prob, "prob").astype(np.float64)
    if p.ndim != 1:
        raise ValueError(f"prob must have shape (N,) (probability of class 1), got {p.shape}")
    _check_same_length(y, p, "y_true", "prob")
    if y.max() > 1:
        raise ValueError(f"calibration needs y_true in {{0, 1}}, got label {y.max()}")
    if p.min() < 0 or p.max() > 1:
        raise ValueError("prob must be probabilities in [0, 1] (apply sigmoid/softmax first)")
    if not isinstance(n_bins, int) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive int, got {n_bins!r}")
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    elif strategy == "quantile":
        edges = np.percentile(p, np.linspace(0, 100, n_bins + 1))
    else:
        raise ValueError(f'strategy must be "uniform" or "quantile", got {strategy!r}')
    ids = np.searchsorted(edges[1:-1], p, side="right")  # bin index in [0, n_bins)
    return y, p, ids


def calibration_curve(
    y_true: Any, prob: Any, *, n_bins: int = 10, strategy: str = "uniform"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reliability curve: observed positive frequency against mean predicted probability.

    Parameters
    ----------
    y_true : (N,) labels in {0, 1}.
    prob : (N,) predicted probability of class 1.
    n_bins : int
    strategy : {"uniform", "quantile"}
        Equal-width bins on [0, 1], or bins holding equal numbers of samples.

    Returns
    -------
    (prob_true, prob_pred, counts)
        Per non-empty bin: the fraction of positives, the mean predicted probability and the
        number of samples; same bins as ``sklearn.calibration.calibration_curve``.
    """
    y, p, ids = _bins(y_true, prob, n_bins, strategy)
    counts = np.bincount(ids, minlength=n_bins)
    sum_true = np.bincount(ids, weights=y, minlength=n_bins)
    sum_pred = np.bincount(ids, weights=p, minlength=n_bins)
    keep = counts > 0
    return sum_true[keep] / counts[keep], sum_pred[keep] / counts[keep], counts[keep]


def expected_calibration_error(y_true: Any, prob: Any, *, n_bins: int = 10) -> float:
    """:math:`ECE = \\sum_b \\frac{n_b}{N} |\\bar y_b - \\bar p_b|` over equal-width bins."""
    prob_true, prob_pred, counts = calibration_curve(y_true, prob, n_bins=n_bins)
    return float(np.sum(counts / counts.sum() * np.abs(prob_true - prob_pred)))
