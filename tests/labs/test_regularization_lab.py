"""The regularization lab's small noisy training set and strength selection."""

from __future__ import annotations

import dataclasses

from deepdojo.data import load_digits
from deepdojo.labs.regularization import RegularizationLabConfig, _pick, _small_noisy_split


def test_small_noisy_split_mislabels_exactly_the_requested_fraction():
    cfg = dataclasses.replace(RegularizationLabConfig(), n_train=100, label_noise=0.3)
    data, (X, y) = _small_noisy_split(cfg, seed=1)
    assert X.shape == (100, 64) and y.shape == (100,)
    # find each chosen image in the clean training split to recover its true label
    clean_X, clean_y = load_digits(flat=True, seed=1).train
    match = (X[:, None, :] == clean_X[None, :, :]).all(dim=2)  # (100, N_train)
    true = clean_y[match.float().argmax(dim=1)]
    assert match.any(dim=1).all()
    assert int((true != y).sum()) == 30
    again = _small_noisy_split(cfg, seed=1)[1]
    assert (again[1] == y).all() and (again[0] == X).all()  # same seed, same set


def test_pick_uses_validation_accuracy_then_loss_never_test():
    runs = [
        {"method": "l2", "strength": 1e-4, "val_acc": 0.8, "val_loss": 0.5, "test_acc": 0.99},
        {"method": "l2", "strength": 1e-3, "val_acc": 0.9, "val_loss": 0.7, "test_acc": 0.10},
        {"method": "l2", "strength": 1e-2, "val_acc": 0.9, "val_loss": 0.6, "test_acc": 0.20},
        {"method": "l1", "strength": 1e-5, "val_acc": 1.0, "val_loss": 0.1, "test_acc": 0.5},
    ]
    assert _pick(runs, "l2")["strength"] == 1e-2
