"""The imbalanced-data lab: settings, entry plumbing, selection rules, typed config and claims."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepdojo.labs.framework import LabContext, LabError, make_config, rules
from deepdojo.labs.framework.config import scale_values
from deepdojo.labs.imbalanced_data import ImbalanceLabConfig, claims
from deepdojo.labs.imbalanced_data.entries import ENTRIES, EntryOutput, _related_task, make_setting
from deepdojo.labs.imbalanced_data.measure import (
    ConstantRun,
    EntryRun,
    Measurements,
    Scores,
    best_technique,
    evaluate,
    paired,
    parse_setting,
    per_seed,
)


def test_breast_cancer_setting_keeps_the_ratio_in_every_split():
    s = make_setting("breast_cancer", 0, 1 / 10, seed=1, num_samples=0)
    for y in (s.y_train, s.y_val, s.y_test):
        counts = torch.bincount(y, minlength=2)
        assert counts[1] >= 1 and 0.06 < counts[1] / counts[0] < 0.15
    assert torch.allclose(s.X_train.mean(0), torch.zeros(30), atol=1e-4)  # train statistics
    again = make_setting("breast_cancer", 0, 1 / 10, seed=1, num_samples=0)
    assert torch.equal(again.X_test, s.X_test)
    assert s.name == "breast_cancer 1:10"  # the same text as a cfg.settings entry


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
    m = evaluate(out, y_val, y_test)
    assert m.f1 == 0.0  # nothing reaches 0.5
    assert 0.3 < m.tuned_threshold < 0.35 and m.f1_tuned == pytest.approx(1.0)
    assert m.pr_auc == pytest.approx(1.0) and m.accuracy == 0.5


def _scores(**kw: float) -> Scores:
    base = dict.fromkeys(Scores.__dataclass_fields__, 0.0)
    return Scores(**{**base, **kw})


def _run(setting: str, seed: int, entry: str, **kw: float) -> EntryRun:
    return EntryRun(setting, seed, entry, ENTRIES[entry][1] if entry in ENTRIES else "x", 0.0,
                    _scores(**kw))


def test_best_technique_is_chosen_on_validation_not_test():
    runs = [_run("a", 0, name, val_pr_auc=0.9 if name == "focal loss" else 0.5,
                 pr_auc=0.1 if name == "focal loss" else 0.95) for name in ENTRIES]
    assert best_technique(runs) == "focal loss"


def test_paired_differences_match_setting_and_seed():
    runs = [_run("a", 0, "x", pr_auc=1.0), _run("a", 0, "y", pr_auc=0.25),
            _run("b", 1, "y", pr_auc=0.5), _run("b", 1, "x", pr_auc=0.0)]
    assert paired(runs, "x", "y", "pr_auc", "pr_auc") == [0.75, -0.5]


def test_per_seed_averages_over_the_settings_of_each_seed():
    runs = [_run("a", 0, "x", f1=0.2), _run("b", 0, "x", f1=0.6), _run("a", 1, "x", f1=1.0),
            _run("b", 1, "x", f1=0.0), _run("a", 0, "y", f1=9.0)]
    assert per_seed(runs, "x", "f1") == pytest.approx([0.4, 0.5])


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("digits 1:20", ("digits", 1 / 20)), ("mnist1d 1:30", ("mnist1d", 1 / 30)),
     (" breast_cancer 1:10 ", ("breast_cancer", 1 / 10))],
)  # fmt: skip
def test_parse_setting(text, parsed):
    assert parse_setting(text) == parsed


@pytest.mark.parametrize("text", ["digits 1:0", "cifar 1:10", "digits 20", "digits 1:2.5"])
def test_parse_setting_rejects_bad_text(text):
    with pytest.raises(ValueError, match="'<kind> 1:<N>'"):
        parse_setting(text)


def test_config_keeps_its_field_names_and_the_old_sizes_per_scale():
    old = {"digit", "mnist1d_class", "mnist1d_samples", "hidden", "epochs", "batch_size", "lr",
           "bagging_members", "accuracy_floor"}
    assert old <= set(vars(ImbalanceLabConfig()))
    # v1: `or ctx.pick(...)` for mnist1d_samples, epochs, bagging_members; SETTINGS by scale
    assert scale_values(ImbalanceLabConfig) == {
        "mnist1d_samples": {"smoke": 1000, "quick": 2000, "full": 6000},
        "epochs": {"smoke": 2, "quick": 15, "full": 40},
        "bagging_members": {"smoke": 2, "quick": 5, "full": 10},
        "settings": {"smoke": ("digits 1:20",),
                     "quick": ("digits 1:20", "breast_cancer 1:10", "mnist1d 1:30"),
                     "full": ("digits 1:20", "digits 1:100", "breast_cancer 1:10",
                              "mnist1d 1:30")},
    }
    cfg = make_config(ImbalanceLabConfig, {"settings": "digits 1:50,mnist1d 1:30"}, scale="smoke")
    assert cfg.settings == ("digits 1:50", "mnist1d 1:30")


@pytest.mark.parametrize(
    ("key", "text", "message"),
    [("digit", "10", "digit must be <= 9"), ("epochs", "0", "epochs must be >= 1"),
     ("lr", "0", "lr must be > 0"), ("accuracy_floor", "1.2", "accuracy_floor must be <= 1")],
)  # fmt: skip
def test_bad_sizes_are_refused(key, text, message):
    with pytest.raises(LabError, match=message):
        make_config(ImbalanceLabConfig, {key: text}, scale="smoke")


def test_bad_setting_is_refused_before_any_training(tmp_path):
    from deepdojo.labs.imbalanced_data import run

    cfg = make_config(ImbalanceLabConfig, {"settings": "digits 1:20,cifar 1:10"}, scale="smoke")
    ctx = LabContext("imbalanced-data", scale="smoke", out_dir=tmp_path, progress="off")
    with pytest.raises(LabError, match="'cifar 1:10' is not"):
        run(cfg, ctx)
    assert not ctx.metrics


def _measurements() -> Measurements:
    res = Measurements(val_positives=[3, 4, 3, 5, 4, 2])
    for seed in range(3):
        for setting in ("a", "b"):
            res.constant.append(ConstantRun(setting, seed, 0.95, 0.0, 0.5, 0.0))
            lift = 0.1 * (seed + 1) if setting == "a" else -0.05
            res.runs.append(_run(setting, seed, "plain network", pr_auc=0.5, val_pr_auc=0.5,
                                 f1=0.3, f1_tuned=0.3 + lift, tuned_threshold=0.2))
            res.runs.append(_run(setting, seed, "focal loss", pr_auc=0.4 + 0.01 * seed,
                                 val_pr_auc=0.7))
    return res


def test_claims_on_hand_made_measurements(tmp_path):
    cfg = ImbalanceLabConfig()
    ctx = LabContext("imbalanced-data", scale="quick", out_dir=tmp_path, progress="off")
    res = _measurements()
    claims.accuracy_misleads(cfg, ctx, res)
    claims.best_beats_plain(ctx, res, "focal loss")
    claims.threshold_tuning(ctx, res)
    acc, best, thr = ctx.claims
    assert acc.kind == "check" and acc.verdict == "holds" and len(acc.values) == 6
    # one value per seed, the mean over the two settings
    assert best.values_a == pytest.approx([0.4, 0.41, 0.42])
    assert best.values_b == pytest.approx([0.5, 0.5, 0.5])
    assert best.verdict == "does not hold"
    assert "focal loss led on validation PR-AUC (0.700 against the plain network's 0.500)" in (
        best.why)
    assert thr.values == pytest.approx([0.025, 0.075, 0.125])
    assert thr.ci == pytest.approx(list(rules.t_interval([0.025, 0.075, 0.125])))
    assert thr.verdict == "inconclusive"  # 3 seeds, a wide interval straddling 0
    assert "seeds would decide it" in thr.why


def test_accuracy_check_fails_when_the_constant_predictor_scores_minority_f1(tmp_path):
    ctx = LabContext("imbalanced-data", scale="quick", out_dir=tmp_path, progress="off")
    res = _measurements()
    res.constant[2] = ConstantRun("a", 1, 0.85, 0.1, 0.5, 0.0)
    claims.accuracy_misleads(ImbalanceLabConfig(), ctx, res)
    c = ctx.claims[0]
    assert c.verdict == "does not hold" and c.seed_holds[2] is False
    assert "minority F1 == 0" in c.why
