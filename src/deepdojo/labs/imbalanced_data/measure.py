"""Measurements of the imbalanced-data lab: every entry on every setting and seed, scored.

Nothing here is judged or drawn (see ``claims`` and ``figures``). Results are dataclasses;
the leaderboard tables are lists of flat rows.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from deepdojo.metrics import apply_threshold, classification_report, tune_threshold

from .entries import ENTRIES, EntryOutput, Hyper, Setting, active_entries, make_setting

KINDS = ("digits", "breast_cancer", "mnist1d")  # the base datasets a setting can cut
METRICS = ("f1", "f1_tuned", "pr_auc", "balanced_accuracy", "mcc", "roc_auc")  # leaderboard


def parse_setting(text: str) -> tuple[str, float]:
    """``"digits 1:20"`` -> ``("digits", 1 / 20)``: a base dataset and its imbalance ratio.

    Raises ValueError naming the accepted form for anything else.
    """
    kind, sep, n = text.strip().partition(" 1:")
    if not sep or kind not in KINDS or not n.isdigit() or int(n) < 1:
        raise ValueError(f"settings: {text!r} is not '<kind> 1:<N>' with kind in {KINDS} and "
                         "an integer N >= 1")  # fmt: skip
    return kind, 1 / int(n)


@dataclass
class Scores:
    """Test metrics of one entry at its default threshold, and at the threshold tuned for
    minority F1 on validation (``f1_tuned``, ``tuned_threshold``); ``val_pr_auc`` is the
    only validation number (it chooses the best technique)."""

    f1: float
    f1_tuned: float
    pr_auc: float
    roc_auc: float
    balanced_accuracy: float
    mcc: float
    accuracy: float
    val_pr_auc: float
    tuned_threshold: float


def evaluate(out: EntryOutput, y_val: Any, y_test: Any) -> Scores:
    """Test metrics at the default threshold and at the threshold tuned on validation."""
    rep = classification_report(y_test, scores=out.test, threshold=out.threshold)
    tuned = tune_threshold(y_val, out.val, objective="f1")
    rep_tuned = classification_report(y_test, apply_threshold(out.test, tuned), num_classes=2)
    val_ap = classification_report(y_val, scores=out.val, threshold=out.threshold)["pr_auc"]
    return Scores(
        f1=rep["positive_f1"], f1_tuned=rep_tuned["positive_f1"], pr_auc=rep["pr_auc"],
        roc_auc=rep["roc_auc"], balanced_accuracy=rep["balanced_accuracy"], mcc=rep["mcc"],
        accuracy=rep["accuracy"], val_pr_auc=val_ap, tuned_threshold=tuned,
    )  # fmt: skip


@dataclass
class EntryRun:
    """One entry on one setting and seed: its scores and its wall time (fit + predict)."""

    setting: str
    seed: int
    entry: str
    kind: str  # "plain", "technique" or "classical" (see ``entries.ENTRIES``)
    seconds: float
    scores: Scores

    def metric(self, name: str) -> float:
        return float(getattr(self.scores, name))


@dataclass
class ConstantRun:
    """The constant 'majority' predictor on one setting and seed (test split)."""

    setting: str
    seed: int
    accuracy: float
    positive_f1: float
    balanced_accuracy: float
    mcc: float

    def row(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Measurements:
    """Everything the claims and figures need.

    ``outputs`` and ``settings`` keep the first seed's scores and splits, keyed by
    ``(setting name, entry)`` and setting name; ``val_positives`` the minority count of each
    (setting, seed)'s validation split.
    """

    runs: list[EntryRun] = field(default_factory=list)
    constant: list[ConstantRun] = field(default_factory=list)
    outputs: dict[tuple[str, str], EntryOutput] = field(default_factory=dict)
    settings: dict[str, Setting] = field(default_factory=dict)
    val_positives: list[int] = field(default_factory=list)


def measure(jobs: Iterable[tuple[str, int, float, int]], hp: Hyper, num_samples: int,
            first_seed: int) -> Measurements:
    """Every entry on every job ``(kind, rare class, ratio, seed)``."""
    res = Measurements()
    for kind, rare, ratio, seed in jobs:
        s = make_setting(kind, rare, ratio, seed, num_samples)
        res.val_positives.append(int(s.y_val.sum()))
        const = classification_report(s.y_test, np.zeros(len(s.y_test), int), num_classes=2)
        res.constant.append(ConstantRun(s.name, seed, const["accuracy"], const["positive_f1"],
                                        const["balanced_accuracy"], const["mcc"]))  # fmt: skip
        for name, (fn, group) in active_entries(hp).items():
            t0 = time.perf_counter()
            out = fn(s, hp, seed)
            scores = evaluate(out, s.y_val, s.y_test)
            res.runs.append(EntryRun(s.name, seed, name, group, time.perf_counter() - t0,
                                     scores))  # fmt: skip
            if seed == first_seed:
                res.outputs[(s.name, name)] = out
                res.settings[s.name] = s
    return res


def _spread(values: list[float]) -> float:
    return max(values) - min(values) if values else 0.0


def leaderboard(runs: Sequence[EntryRun], by_setting: bool) -> list[dict[str, Any]]:
    """Mean and spread (max - min over seeds) of each metric per entry (and setting)."""
    keys = sorted({(r.setting if by_setting else "all", r.entry) for r in runs},
                  key=lambda k: k[0])  # fmt: skip
    table = []
    for setting, entry in keys:
        sel = [r for r in runs if r.entry == entry and (not by_setting or r.setting == setting)]
        seeds = sorted({r.seed for r in sel})
        row: dict[str, Any] = {"setting": setting, "entry": entry, "kind": sel[0].kind}
        for m in METRICS:
            per_seed = [statistics.fmean(r.metric(m) for r in sel if r.seed == s) for s in seeds]
            row[m] = statistics.fmean(per_seed)
            row[f"{m}_spread"] = _spread(per_seed)
        table.append(row)
    return sorted(table, key=lambda r: (r["setting"], -r["pr_auc"]))


def paired(runs: Sequence[EntryRun], a: str, b: str, metric_a: str,
           metric_b: str) -> list[float]:
    """Per (setting, seed), sorted: ``metric_a`` of entry ``a`` minus ``metric_b`` of ``b``."""
    index = {(r.setting, r.seed, r.entry): r for r in runs}
    pairs = sorted({(r.setting, r.seed) for r in runs})
    return [index[(*p, a)].metric(metric_a) - index[(*p, b)].metric(metric_b) for p in pairs]


def per_seed(runs: Sequence[EntryRun], entry: str, metric: str) -> list[float]:
    """``metric`` of ``entry`` averaged over the settings, one value per seed (sorted)."""
    seeds = sorted({r.seed for r in runs})
    return [statistics.fmean(r.metric(metric) for r in runs if r.entry == entry and r.seed == s)
            for s in seeds]  # fmt: skip


def best_technique(runs: Sequence[EntryRun]) -> str:
    """The technique with the highest mean *validation* PR-AUC (test data not looked at),
    among the techniques that ran."""
    ran = {r.entry for r in runs}
    names = [n for n, (_, group) in ENTRIES.items() if group == "technique" and n in ran]
    return max(names, key=lambda n: statistics.fmean(r.scores.val_pr_auc for r in runs
                                                     if r.entry == n))  # fmt: skip
