"""GANOverSampler: imbalanced-learn's interface, class counts, determinism, the data's range."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from imblearn.over_sampling import SMOTE

from deepdojo.oversample import GANOverSampler


def _data(seed=0):
    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.normal(0, 1, (60, 3)), rng.normal(4, 0.5, (15, 3)),
                        rng.normal(-4, 0.5, (5, 3))])
    y = np.array(["a"] * 60 + ["b"] * 15 + ["c"] * 5)
    return X, y


def _fast(**kw):
    return GANOverSampler(epochs=20, hidden=(16,), batch_size=32, **kw)


def test_auto_strategy_counts_match_smote():
    X, y = _data()
    Xr, yr = _fast(random_state=0).fit_resample(X, y)
    _, ys = SMOTE(k_neighbors=3, random_state=0).fit_resample(X, y)
    assert Counter(yr) == Counter(ys) == {"a": 60, "b": 60, "c": 60}
    np.testing.assert_array_equal(Xr[:80], X)  # the original rows come first, unchanged
    assert Xr.shape == (180, 3)


def test_dict_and_minority_strategies():
    X, y = _data()
    _, yr = _fast(sampling_strategy={"c": 20}, random_state=0).fit_resample(X, y)
    assert Counter(yr) == {"a": 60, "b": 15, "c": 20}
    _, yr = _fast(sampling_strategy="minority", random_state=0).fit_resample(X, y)
    assert Counter(yr) == {"a": 60, "b": 15, "c": 60}


def test_same_random_state_same_rows_and_samples_in_range():
    X, y = _data()
    a, _ = _fast(random_state=3).fit_resample(X, y)
    b, _ = _fast(random_state=3).fit_resample(X, y)
    c, _ = _fast(random_state=4).fit_resample(X, y)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a[80:], c[80:])
    assert (a[80:] >= X.min(0)).all() and (a[80:] <= X.max(0)).all()


def test_the_generator_learns_the_class_conditional_means():
    X, y = _data()
    sampler = GANOverSampler(sampling_strategy={"b": 100, "c": 100}, epochs=150, hidden=(32,),
                             random_state=0)
    Xr, yr = sampler.fit_resample(X, y)
    new_X, new_y = Xr[80:], yr[80:]
    assert abs(new_X[new_y == "b"].mean() - 4.0) < 1.0
    assert abs(new_X[new_y == "c"].mean() + 4.0) < 1.0
    assert set(sampler.history_.last) >= {"train_loss_d", "train_loss_g"}


def test_bad_parameters_are_rejected():
    X, y = _data()
    with pytest.raises(ValueError, match="epochs"):
        GANOverSampler(epochs=0).fit_resample(X, y)
