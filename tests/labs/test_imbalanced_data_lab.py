"""The imbalanced-data lab's settings, entry plumbing and selection rules."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepdojo.labs._imbalance_entries import ENTRIES, EntryOutput, _related_task, make_setting
from deepdojo.labs.imbalanced_data import _best_technique, _evaluate, _paired


def test_breast_cancer_setting_keeps_the_ratio_in_every_split():
    s = make_setting("breast_cancer", 0, 1 / 10, seed=1, num_samples=0)
    for y in (s.y_train, s.y_val, s.y_test):
        counts = torch.bincount(y, minlength=2)
        assert counts[1] >= 1 and 0.06 < counts[1] / counts[0] < 0.15
    assert torch.allclose(s.X_train.mean(0), torch.zeros(30), atol=1e-4)  # train statistics
    again = make_setting("breast_cancer", 0, 1 / 10, seed=1, num_samples=0)
    assert torch.equal(again.X_test, s.X_test)


def test_related_task_is_balanced_and_uses_training_rows_only():
    s = make_setting("breast_cancer", 0, 1 / 10, seed=0, num_samples=0)
    X, y, n = _related_task(s)
    assert n == 2 and len(X) == len(s.X_train)
    assert abs(float(y.float().mean()) - 0.5) < 0.02  # median split
    assert (X[:, 0] == 0).all()  # the predicted feature is masked out


def test_evaluate_tunes_on_validation_and_reports_test():
    y_val = np.array([0, 0, 0, 1, 1])
    y_test = np.array([0, 0, 1, 1])
    out = EntryOutput(np.array([0.1, 0.2, 0.3, 0.35, 0.4]), np.array([0.1, 0.2, 0.33, 0.45]), 0.5)
    m = _evaluate(out, y_val, y_test)
    assert m["f1"] == 0.0  # nothing reaches 0.5
    assert 0.3 < m["tuned_threshold"] < 0.35 and m["f1_tuned"] == pytest.approx(1.0)
    assert m["pr_auc"] == pytest.approx(1.0)


def test_best_technique_is_chosen_on_validation_not_test():
    rows = []
    for name, (_, kind) in ENTRIES.items():
        val = 0.9 if name == "focal loss" else 0.5
        test = 0.1 if name == "focal loss" else 0.95
        rows.append({"entry": name, "kind": kind, "val_pr_auc": val, "pr_auc": test})
    assert _best_technique(rows) == "focal loss"


def test_paired_differences_match_setting_and_seed():
    rows = [
        {"setting": "a", "seed": 0, "entry": "x", "m": 1.0},
        {"setting": "a", "seed": 0, "entry": "y", "m": 0.25},
        {"setting": "b", "seed": 1, "entry": "y", "m": 0.5},
        {"setting": "b", "seed": 1, "entry": "x", "m": 0.0},
    ]
    assert _paired(rows, "x", "y", "m", "m") == [0.75, -0.5]
