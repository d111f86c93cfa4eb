"""Threshold tuning (brute force on validation) and the calibration curve (vs sklearn)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve as sk_calibration_curve
from sklearn.metrics import f1_score

from deepdojo.metrics import (
    apply_threshold,
    calibration_curve,
    expected_calibration_error,
    tune_threshold,
)


def _case(seed: int, n: int = 300):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.08).astype(np.int64)
    y[:2] = [0, 1]
    return y, 1 / (1 + np.exp(-(rng.normal(size=n) + 2.0 * y - 2.5)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_f1_threshold_is_the_brute_force_optimum(seed):
    y, s = _case(seed)
    t = tune_threshold(y, s, objective="f1")
    best = max(f1_score(y, (s >= c).astype(int), zero_division=0) for c in np.unique(s))
    assert f1_score(y, apply_threshold(s, t)) == pytest.approx(best)
    assert t not in set(s.tolist())  # a midpoint between two validation scores


@pytest.mark.parametrize("costs", [{"fp": 1.0, "fn": 10.0}, (1.0, 1.0), (5.0, 1.0)])
def test_cost_threshold_is_the_brute_force_optimum(costs):
    y, s = _case(7)
    c_fp, c_fn = (costs["fp"], costs["fn"]) if isinstance(costs, dict) else costs

    def cost(pred):
        return c_fp * np.sum((pred == 1) & (y == 0)) + c_fn * np.sum((pred == 0) & (y == 1))

    candidates = np.r_[np.unique(s), np.inf]
    best = min(cost((s >= c).astype(int)) for c in candidates)
    t = tune_threshold(y, s, objective="cost", costs=costs)
    assert cost(apply_threshold(s, t)) == pytest.approx(best)


def test_higher_fn_cost_lowers_the_threshold():
    y, s = _case(8)
    cheap_fn = tune_threshold(y, s, objective="cost", costs=(1.0, 1.0))
    dear_fn = tune_threshold(y, s, objective="cost", costs=(1.0, 20.0))
    assert dear_fn < cheap_fn


def test_threshold_errors():
    with pytest.raises(ValueError, match="single class"):
        tune_threshold([0, 0, 0], [0.1, 0.5, 0.9])
    with pytest.raises(ValueError, match="costs"):
        tune_threshold([0, 1], [0.1, 0.9], objective="cost")
    with pytest.raises(ValueError, match="objective"):
        tune_threshold([0, 1], [0.1, 0.9], objective="acc")
    with pytest.raises(ValueError, match=r"y_true in \{0, 1\}"):
        tune_threshold([0, 1, 2], [0.1, 0.5, 0.9])


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_calibration_curve_matches_sklearn(strategy):
    y, p = _case(9, n=500)
    ours = calibration_curve(y, p, n_bins=8, strategy=strategy)
    ref = sk_calibration_curve(y, p, n_bins=8, strategy=strategy)
    assert np.allclose(ours[0], ref[0]) and np.allclose(ours[1], ref[1])
    assert ours[2].sum() == len(y)


def test_ece_zero_for_perfectly_calibrated_bins_and_positive_otherwise():
    y = np.r_[np.zeros(80), np.ones(20)].astype(int)
    assert expected_calibration_error(y, np.full(100, 0.2)) == pytest.approx(0.0)
    assert expected_calibration_error(y, np.full(100, 0.7)) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="probabilities"):
        calibration_curve(y, np.full(100, 1.5))
