"""Imbalance-aware classification metrics, written out in NumPy and cross-checked with sklearn.

Inputs may be torch tensors, NumPy arrays or lists. Shapes: ``y_true`` ``(N,)`` integer labels
in ``[0, C)``; ``y_pred`` ``(N,)`` labels; ``scores`` ``(N,)`` for binary problems (any
monotone score of the positive class: probability or logit) or ``(N, C)`` per-class scores.

Why these: with 1 positive in 100, predicting "negative" always scores 99 % accuracy and 0
minority recall. Per-class recall/precision/F1, balanced accuracy (mean recall), MCC, the
G-mean and PR-AUC all expose it; ROC-AUC is reported for completeness but is optimistic under
heavy imbalance because the false-positive *rate* hides many false positives.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "average_precision",
    "balanced_accuracy",
    "classification_report",
    "confusion_matrix",
    "g_mean",
    "matthews_corrcoef",
    "precision_recall_curve",
    "precision_recall_f1",
    "roc_auc",
    "roc_curve",
]


def as_numpy(x: Any, name: str) -> np.ndarray:
    """Convert a tensor/array/list to a NumPy array (detached, on CPU)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    return arr


def check_labels(y: Any, name: str = "y_true", num_classes: int | None = None) -> np.ndarray:
    """Return ``y`` as a 1-D int64 array of labels in ``[0, num_classes)``."""
    arr = as_numpy(y, name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D class labels (N,), got shape {arr.shape}")
    if arr.dtype.kind == "f":
        if not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} must hold integer class labels, got non-integer floats")
    elif arr.dtype.kind not in "iub":
        raise TypeError(f"{name} must hold integer class labels, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.min() < 0:
        raise ValueError(f"{name} labels must be >= 0, got {arr.min()}")
    if num_classes is not None and arr.max() >= num_classes:
        raise ValueError(
            f"{name} has label {arr.max()} but the outputs have only {num_classes} classes; "
            "labels must be in [0, num_classes)"
        )
    return arr


def _check_same_length(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if len(a) != len(b):
        raise ValueError(f"{name_a} has {len(a)} samples but {name_b} has {len(b)}")


def _binary_scores(y_true: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate a binary problem: ``y`` in {0, 1} with both present, ``scores`` shape (N,)."""
    y = check_labels(y_true, "y_true")
    s = as_numpy(scores, "scores").astype(np.float64)
    if s.ndim == 2 and s.shape[1] == 1:
        s = s[:, 0]
    if s.ndim != 1:
        raise ValueError(f"binary scores must have shape (N,), got {s.shape}")
    _check_same_length(y, s, "y_true", "scores")
    if y.max() > 1:
        raise ValueError(f"binary metrics need y_true in {{0, 1}}, got label {y.max()}")
    if len(np.unique(y)) < 2:
        raise ValueError(
            f"y_true has a single class ({y[0]}); PR/ROC curves need both positives and negatives"
        )
    if not np.all(np.isfinite(s)):
        raise ValueError("scores contain NaN or inf")
    return y, s


def _binary_clf_curve(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, ...]:
    """Cumulative false/true positives at each distinct score, highest score first."""
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    distinct = np.where(np.diff(s))[0]
    ends = np.r_[distinct, len(y) - 1]  # last index of each run of tied scores
    tps = np.cumsum(y)[ends]
    fps = 1 + ends - tps
    return fps, tps, s[ends]


def precision_recall_curve(y_true: Any, scores: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision and recall of "positive iff score >= t" for every distinct threshold ``t``.

    Returns ``(precision, recall, thresholds)`` with thresholds increasing and a final point
    ``(precision=1, recall=0)`` appended, as ``sklearn.metrics.precision_recall_curve``.
    """
    y, s = _binary_scores(y_true, scores)
    fps, tps, thresholds = _binary_clf_curve(y, s)
    precision = tps / (tps + fps)
    recall = tps / tps[-1]
    return np.r_[precision[::-1], 1.0], np.r_[recall[::-1], 0.0], thresholds[::-1]


def average_precision(y_true: Any, scores: Any) -> float:
    """PR-AUC as average precision, :math:`AP = \\sum_n (R_n - R_{n-1}) P_n` (no interpolation).

    Its chance level is the positive prevalence, not 0.5: a useful yardstick under imbalance.
    For ``(N, C)`` scores returns the macro average of one-vs-rest AP over classes present.
    """
    s = as_numpy(scores, "scores")
    if s.ndim == 2 and s.shape[1] > 1:
        return _one_vs_rest(average_precision, y_true, s)
    precision, recall, _ = precision_recall_curve(y_true, scores)
    return float(-np.sum(np.diff(recall) * precision[:-1]))


def roc_curve(y_true: Any, scores: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False- and true-positive rates for decreasing thresholds, starting at ``(0, 0)``."""
    y, s = _binary_scores(y_true, scores)
    fps, tps, thresholds = _binary_clf_curve(y, s)
    fpr = np.r_[0.0, fps / fps[-1]]
    tpr = np.r_[0.0, tps / tps[-1]]
    return fpr, tpr, np.r_[np.inf, thresholds]


def roc_auc(y_true: Any, scores: Any) -> float:
    """Area under the ROC curve (trapezoids; ties count half). Macro one-vs-rest for (N, C)."""
    s = as_numpy(scores, "scores")
    if s.ndim == 2 and s.shape[1] > 1:
        return _one_vs_rest(roc_auc, y_true, s)
    fpr, tpr, _ = roc_curve(y_true, scores)
    return float(np.trapezoid(tpr, fpr))


def _one_vs_rest(metric: Any, y_true: Any, s: np.ndarray) -> float:
    y = check_labels(y_true, "y_true", num_classes=s.shape[1])
    _check_same_length(y, s, "y_true", "scores")
    if len(np.unique(y)) < 2:
        raise ValueError(f"y_true has a single class ({y[0]}); ranking metrics need two or more")
    present = np.unique(y)
    return float(np.mean([metric((y == c).astype(np.int64), s[:, c]) for c in present]))


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int | None = None) -> np.ndarray:
    """Counts ``M[i, j]`` of samples with true class ``i`` predicted as ``j``; shape (C, C)."""
    y = check_labels(y_true, "y_true", num_classes)
    p = check_labels(y_pred, "y_pred", num_classes)
    _check_same_length(y, p, "y_true", "y_pred")
    c = num_classes if num_classes is not None else int(max(y.max(), p.max())) + 1
    return np.bincount(y * c + p, minlength=c * c).reshape(c, c)


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with 0 where ``den == 0`` (sklearn's ``zero_division=0``)."""
    return np.divide(num, den, out=np.zeros_like(num, dtype=np.float64), where=den > 0)


def precision_recall_f1(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class precision, recall, F1 and support from a confusion matrix (0 when undefined)."""
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    precision = _safe_div(tp, cm.sum(axis=0))
    recall = _safe_div(tp, cm.sum(axis=1))
    f1 = _safe_div(2 * precision * recall, precision + recall)
    return {"precision": precision, "recall": recall, "f1": f1, "support": cm.sum(axis=1)}


def balanced_accuracy(cm: np.ndarray) -> float:
    """Mean per-class recall over classes that occur: :math:`\\frac1C \\sum_c TP_c / N_c`."""
    cm = np.asarray(cm, dtype=np.float64)
    support = cm.sum(axis=1)
    return float(np.mean(np.diag(cm)[support > 0] / support[support > 0]))


def g_mean(cm: np.ndarray) -> float:
    """Geometric mean of per-class recalls; binary: :math:`\\sqrt{TPR \\cdot TNR}`."""
    cm = np.asarray(cm, dtype=np.float64)
    support = cm.sum(axis=1)
    recall = np.diag(cm)[support > 0] / support[support > 0]
    return float(np.prod(recall) ** (1.0 / len(recall)))


def matthews_corrcoef(cm: np.ndarray) -> float:
    """Matthews correlation coefficient (Gorodkin's multi-class form); 0 when undefined.

    .. math::
        MCC = \\frac{c\\,s - \\sum_k p_k t_k}
                    {\\sqrt{(s^2 - \\sum_k p_k^2)(s^2 - \\sum_k t_k^2)}}

    with ``c`` correct predictions, ``s`` samples, ``t_k``/``p_k`` true/predicted counts of k.
    """
    cm = np.asarray(cm, dtype=np.float64)
    t, p = cm.sum(axis=1), cm.sum(axis=0)
    c, s = np.trace(cm), cm.sum()
    den = np.sqrt((s**2 - p @ p) * (s**2 - t @ t))
    return float((c * s - t @ p) / den) if den > 0 else 0.0


def classification_report(
    y_true: Any,
    y_pred: Any = None,
    scores: Any = None,
    *,
    num_classes: int | None = None,
    threshold: float | None = None,
) -> dict[str, Any]:
    """Every imbalance-aware metric in one dict.

    Parameters
    ----------
    y_true : (N,) int labels.
    y_pred : (N,) int labels, optional
        Hard predictions. If omitted they come from ``scores``: argmax for ``(N, C)``;
        ``score >= threshold`` for binary ``(N,)`` scores (``threshold`` is required then, e.g.
        0.5 for probabilities, 0 for logits, or the value from :func:`tune_threshold`).
    scores : (N,) or (N, C), optional
        Enables ``pr_auc`` (average precision) and ``roc_auc``; binary scores are for class 1.
        Two-column scores ``(N, 2)`` (probabilities or logits) are ranked by ``s1 - s0``, so
        both metrics are class 1's, as ``sklearn``'s binary ones; ``C > 2`` columns give the
        macro one-vs-rest average.
    num_classes : int, optional
        Defaults to ``C`` of ``(N, C)`` scores, else 2 for binary scores, else the largest label+1.

    Returns
    -------
    dict with ``per_class`` (``precision``, ``recall``, ``f1``, ``support`` lists),
    ``macro_{precision,recall,f1}``, ``weighted_{precision,recall,f1}``, ``accuracy``,
    ``balanced_accuracy``, ``mcc``, ``g_mean``, ``confusion_matrix`` (list of lists), and
    ``pr_auc``/``roc_auc`` when ``scores`` are given. For two classes, ``positive_precision``,
    ``positive_recall`` and ``positive_f1`` are class 1's (put the minority class at label 1).
    """
    y, y_pred, s, num_classes = _report_inputs(y_true, y_pred, scores, num_classes, threshold)
    cm = confusion_matrix(y, y_pred, num_classes)
    prf = precision_recall_f1(cm)
    weights = prf["support"] / prf["support"].sum()
    out: dict[str, Any] = {
        "per_class": {k: v.tolist() for k, v in prf.items()},
        "accuracy": float(np.trace(cm) / cm.sum()),
        "balanced_accuracy": balanced_accuracy(cm),
        "mcc": matthews_corrcoef(cm),
        "g_mean": g_mean(cm),
        "confusion_matrix": cm.tolist(),
    }
    for k in ("precision", "recall", "f1"):
        out[f"macro_{k}"] = float(prf[k].mean())
        out[f"weighted_{k}"] = float(weights @ prf[k])
        if num_classes == 2:
            out[f"positive_{k}"] = float(prf[k][1])
    if s is not None:
        # two columns: rank by class 1's margin s1 - s0 (monotone in p1 for probabilities and
        # for logits); a macro average would add the majority's near-perfect AP
        ranked = s[:, 1] - s[:, 0] if s.ndim == 2 and s.shape[1] == 2 else s
        out["pr_auc"] = average_precision(y, ranked)
        out["roc_auc"] = roc_auc(y, ranked)
    return out


def _report_inputs(
    y_true: Any, y_pred: Any, scores: Any, num_classes: int | None, threshold: float | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int]:
    s = None if scores is None else as_numpy(scores, "scores").astype(np.float64)
    if s is not None and s.ndim == 2 and s.shape[1] == 1:
        s = s[:, 0]
    if num_classes is None and s is not None:
        num_classes = s.shape[1] if s.ndim == 2 else 2
    if s is not None and s.ndim == 2 and num_classes != s.shape[1]:
        raise ValueError(f"num_classes={num_classes} but scores have {s.shape[1]} columns")
    y = check_labels(y_true, "y_true", num_classes)
    if len(np.unique(y)) < 2:
        raise ValueError(f"y_true has a single class ({y[0]}); imbalance metrics need >= 2")
    if y_pred is None:
        if s is None:
            raise ValueError("give y_pred or scores")
        if s.ndim == 2:
            y_pred = s.argmax(axis=1)
        elif threshold is None:
            raise ValueError("binary scores need threshold= (0.5 for probabilities, 0 for logits)")
        else:
            y_pred = (s >= threshold).astype(np.int64)
    if s is not None:
        _check_same_length(y, s, "y_true", "scores")
    if num_classes is None:
        num_classes = int(max(y.max(), as_numpy(y_pred, "y_pred").max())) + 1
    return y, check_labels(y_pred, "y_pred", num_classes), s, num_classes
