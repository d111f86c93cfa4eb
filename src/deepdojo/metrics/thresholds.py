"""Decision-threshold tuning: choose the threshold on validation data, apply it to test data.

A network trained on 1:100 data puts few positives above 0.5 even when it ranks them well
(high PR-AUC). Moving the threshold trades precision for recall without retraining; choose it on
a validation split (never on test) by maximum F1 or by minimum expected cost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from deepdojo.metrics.classification import _binary_clf_curve, _binary_scores, as_numpy

__all__ = ["apply_threshold", "threshold_curve", "tune_threshold"]


def threshold_curve(y_true: Any, scores: Any) -> dict[str, np.ndarray]:
    """Counts of the rule "positive iff score >= t" at every candidate threshold.

    Candidates are the distinct scores (decreasing) plus ``+inf`` (predict nothing positive).
    Returns a dict of arrays ``thresholds, tp, fp, fn, tn, precision, recall, f1``.
    """
    y, s = _binary_scores(y_true, scores)
    fps, tps, thr = _binary_clf_curve(y, s)
    pos, neg = int(y.sum()), int(len(y) - y.sum())
    tp = np.r_[0, tps].astype(np.float64)
    fp = np.r_[0, fps].astype(np.float64)
    fn, tn = pos - tp, neg - fp
    precision = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=(tp + fp) > 0)
    recall = tp / pos
    f1 = np.divide(2 * tp, 2 * tp + fp + fn, out=np.zeros_like(tp), where=(2 * tp + fp + fn) > 0)
    thresholds = np.r_[np.inf, thr]
    return {
        "thresholds": thresholds,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }


def _costs(costs: Mapping[str, float] | Sequence[float] | None) -> tuple[float, float]:
    if costs is None:
        raise ValueError('objective="cost" needs costs={"fp": c_fp, "fn": c_fn}')
    if isinstance(costs, Mapping):
        unknown = set(costs) - {"fp", "fn"}
        if unknown or len(costs) != 2:
            raise ValueError(f'costs must have exactly the keys "fp" and "fn", got {sorted(costs)}')
        c_fp, c_fn = float(costs["fp"]), float(costs["fn"])
    else:
        if len(costs) != 2:
            raise ValueError(f"costs must be (c_fp, c_fn), got {costs!r}")
        c_fp, c_fn = float(costs[0]), float(costs[1])
    if c_fp < 0 or c_fn < 0 or c_fp + c_fn == 0:
        raise ValueError(f"costs must be >= 0 and not both 0, got fp={c_fp}, fn={c_fn}")
    return c_fp, c_fn


def tune_threshold(
    y_val: Any,
    scores_val: Any,
    *,
    objective: str = "f1",
    costs: Mapping[str, float] | Sequence[float] | None = None,
) -> float:
    """The threshold that maximises F1 or minimises cost on validation data.

    .. math::
        t^* = \\arg\\max_t F_1(t) \\quad\\text{or}\\quad
        t^* = \\arg\\min_t \\; c_{FP}\\,FP(t) + c_{FN}\\,FN(t)

    over the rules "positive iff score >= t". Any ``t`` between the chosen validation score and
    the next lower one gives the same validation result; the midpoint is returned so that test
    scores falling between the two are not decided by an accident of which end was picked.
    Ties in the objective go to the higher threshold (fewer positives).

    Parameters
    ----------
    y_val : (N,) labels in {0, 1}; both classes must be present.
    scores_val : (N,) scores of class 1 (probabilities or logits; any monotone score).
    objective : {"f1", "cost"}
    costs : {"fp": c_fp, "fn": c_fn} or (c_fp, c_fn)
        Required for ``objective="cost"``.

    Returns
    -------
    float
        Apply with :func:`apply_threshold` (``score >= t``) to the test scores. May be ``inf``
        (never predict positive) when that is cheapest.
    """
    if objective not in ("f1", "cost"):
        raise ValueError(f'objective must be "f1" or "cost", got {objective!r}')
    curve = threshold_curve(y_val, scores_val)
    if objective == "f1":
        best = int(np.argmax(curve["f1"]))  # first max = highest threshold
    else:
        c_fp, c_fn = _costs(costs)
        best = int(np.argmin(c_fp * curve["fp"] + c_fn * curve["fn"]))
    thresholds = curve["thresholds"]
    chosen = float(thresholds[best])
    if best + 1 < len(thresholds):
        return 0.5 * (chosen + float(thresholds[best + 1])) if np.isfinite(chosen) else chosen
    return chosen


def apply_threshold(scores: Any, threshold: float) -> np.ndarray:
    """Hard 0/1 predictions ``(scores >= threshold)`` as int64, shape (N,)."""
    s = as_numpy(scores, "scores").astype(np.float64)
    if s.ndim == 2 and s.shape[1] == 1:
        s = s[:, 0]
    if s.ndim != 1:
        raise ValueError(f"scores must have shape (N,) for a binary threshold, got {s.shape}")
    return (s >= threshold).astype(np.int64)
