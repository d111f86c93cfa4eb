"""The imbalanced-data lab: settings, entry plumbing, selection rules, typed config and claims."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepdojo.labs.framework import LabContext, LabError, make_config, rules
from deepdojo.labs.framework.config import scale_values
from deepdojo.labs.imbalanced_data import ImbalanceLabConfig, claims, study
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
        "study_samples": {"smoke": 1000, "quick": 10000, "full": 20000},
        "study_epochs": {"smoke": 2, "quick": 20, "full": 40},
        "gan_epochs": {"smoke": 2, "quick": 0, "full": 100},
        "judge_best": {"smoke": True, "quick": False, "full": True},
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
    acc, best = ctx.claims
    assert acc.kind == "check" and acc.verdict == "holds" and len(acc.values) == 6
    # one value per seed, the mean over the two settings
    assert best.values_a == pytest.approx([0.4, 0.41, 0.42])
    assert best.values_b == pytest.approx([0.5, 0.5, 0.5])
    assert best.verdict == "does not hold"
    assert "focal loss led on validation PR-AUC (0.700 against the plain network's 0.500)" in (
        best.why)
    gains = claims.setting_gains(res, "focal loss")
    assert [g["setting"] for g in gains] == ["a", "b"]
    assert gains[0]["gain"] == pytest.approx(-0.09) and gains[0]["plain"] == pytest.approx(0.5)
    assert [gains[0]["lo"], gains[0]["hi"]] == pytest.approx(
        list(rules.t_interval([-0.1, -0.09, -0.08])))


def test_best_technique_claim_names_the_setting_that_carries_the_gain(tmp_path):
    ctx = LabContext("imbalanced-data", scale="quick", out_dir=tmp_path, progress="off")
    res = Measurements()
    for seed in range(4):
        for setting, lift in (("easy", 0.0), ("hard", 0.3 + 0.01 * seed)):
            res.runs.append(_run(setting, seed, "plain network", pr_auc=0.5, val_pr_auc=0.5))
            res.runs.append(_run(setting, seed, "SMOTE", pr_auc=0.5 + lift, val_pr_auc=0.8))
    claims.best_beats_plain(ctx, res, "SMOTE")
    c = ctx.claims[0]
    assert c.verdict == "holds"
    assert "carried by hard (+0.315, plain at 0.500); elsewhere: easy +0.000" in c.why


def test_accuracy_check_fails_when_the_constant_predictor_scores_minority_f1(tmp_path):
    ctx = LabContext("imbalanced-data", scale="quick", out_dir=tmp_path, progress="off")
    res = _measurements()
    res.constant[2] = ConstantRun("a", 1, 0.85, 0.1, 0.5, 0.0)
    claims.accuracy_misleads(ImbalanceLabConfig(), ctx, res)
    c = ctx.claims[0]
    assert c.verdict == "does not hold" and c.seed_holds[2] is False
    assert "minority F1 == 0" in c.why


# ---------------------------------------------------------------- the threshold study


def _study(seed: int, arm: str, **kw: float) -> study.StudyRun:
    base = dict(f1_default=0.3, f1_tuned=0.4, threshold=0.3, ece=0.02, pr_auc=0.4, best_epoch=5)
    return study.StudyRun(8, seed, arm, study.StudyScores(**{**base, **kw}))


def _study_runs() -> list[study.StudyRun]:
    runs = []
    for seed in range(4):
        e = 0.002 * seed
        runs += [_study(seed, study.PLAIN, f1_default=0.10 + e, f1_tuned=0.40 + e,
                        threshold=0.25, ece=0.020 + e),
                 _study(seed, study.REPLICA, f1_default=0.12, f1_tuned=0.41, threshold=0.27,
                        ece=0.021),
                 _study(seed, study.WEIGHTS, f1_default=0.50, f1_tuned=0.55, threshold=0.80 + e,
                        ece=0.080),
                 _study(seed, study.OVER, f1_default=0.55, f1_tuned=0.50 + e, threshold=0.60,
                        ece=0.030 + 2 * e)]
    return runs


def test_study_claims_take_the_weaker_reweighted_arm_per_seed(tmp_path):
    cfg = ImbalanceLabConfig()
    ctx = LabContext("imbalanced-data", scale="quick", out_dir=tmp_path, progress="off")
    runs = _study_runs()
    claims.threshold_tuning(cfg, ctx, runs)
    claims.reweighting_shifts_threshold(cfg, ctx, runs)
    claims.reweighting_worsens_calibration(cfg, ctx, runs)
    claims.tuning_shrinks_gain(cfg, ctx, runs)
    thr, shift, ece, shrink = ctx.claims
    assert thr.values == pytest.approx([0.3] * 4) and thr.verdict == "holds"
    assert "A/A noise of tuned F1 between two plain inits: 0.007" in thr.why
    assert shift.values == pytest.approx([0.35] * 4)  # over-sampling's 0.60 - plain's 0.25
    assert ece.values == pytest.approx([0.010 + 0.002 * s for s in range(4)])  # over-sampling
    assert ece.verdict == "holds"
    # gain at 0.5 minus gain at the tuned thresholds, the smaller of the two arms per seed
    w = [(0.50 - 0.10 - 0.002 * s) - (0.55 - 0.40 - 0.002 * s) for s in range(4)]
    o = [(0.55 - 0.10 - 0.002 * s) - (0.50 - 0.40) for s in range(4)]
    assert shrink.values == pytest.approx([min(a, b) for a, b in zip(w, o)])
    assert shrink.verdict == "holds"
    assert "with tuned thresholds only +0.147 and +0.100" in shrink.why
    assert claims.aa_noise(runs, "threshold") == pytest.approx(0.02)


def test_study_calibration_claim_fails_when_a_reweighted_arm_is_better_calibrated(tmp_path):
    ctx = LabContext("imbalanced-data", scale="quick", out_dir=tmp_path, progress="off")
    runs = [_study(r.seed, r.arm, ece=0.01) if r.arm == study.OVER else r for r in _study_runs()]
    claims.reweighting_worsens_calibration(ImbalanceLabConfig(), ctx, runs)
    c = ctx.claims[0]
    assert c.verdict == "does not hold" and "over-sampling" in c.why


def test_early_stopping_keeps_the_epoch_with_the_lowest_own_validation_loss():
    model = torch.nn.Linear(2, 1, bias=False)
    X_val = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.5, 0.0], [-0.5, 0.0]])
    y_val = torch.tensor([1, 0, 1, 0])
    probe = study._BestOnValidation(model, X_val, y_val, pos_weight=3.0)
    for epoch, w in enumerate((1.0, -1.0, 0.5)):
        with torch.no_grad():
            model.weight.copy_(torch.tensor([[w, 0.0]]))
        probe.on_epoch_end(None, epoch, {})
    probe.on_fit_end(None)
    logits = X_val @ torch.tensor([1.0, 0.0])
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        logits, y_val.float(), pos_weight=torch.tensor(3.0))
    assert probe.best_epoch == 0 and probe.best == pytest.approx(float(expected))
    assert torch.equal(model.weight, torch.tensor([[1.0, 0.0]]))  # restored


def test_study_setting_has_large_val_and_test_splits():
    s = make_setting("mnist1d", 8, 1 / 20, seed=3, num_samples=2000, val_fraction=0.25,
                     test_fraction=0.25)
    n = len(s.y_train) + len(s.y_val) + len(s.y_test)
    assert abs(len(s.y_test) - n / 4) <= 1 and abs(len(s.y_val) - n / 4) <= 1
    pos = [int(y.sum()) for y in (s.y_val, s.y_test)]
    assert abs(pos[0] - pos[1]) <= 1 and min(pos) >= 4  # stratified: the same ratio in each


def test_study_refuses_an_unknown_arm():
    s = make_setting("breast_cancer", 0, 1 / 10, seed=0, num_samples=0)
    with pytest.raises(ValueError, match="arm must be one of"):
        study._arm(s, None, 0, "undersampling")


def test_gan_entry_runs_only_with_gan_epochs_and_balances_the_training_split(monkeypatch):
    from deepdojo.labs.imbalanced_data import entries

    hp = entries.Hyper(hidden=8, epochs=1, batch_size=64, lr=1e-2, members=1)
    assert entries.GAN_ENTRY not in entries.active_entries(hp)
    hp.gan_epochs = 1
    assert list(entries.active_entries(hp)) == list(ENTRIES)
    s = make_setting("breast_cancer", 0, 1 / 10, seed=0, num_samples=0)
    seen = {}
    real = entries._train_bce

    def spy(setting, hp, seed, loss, data=None, callbacks=()):
        seen["y"] = data[1]
        return real(setting, hp, seed, loss, data, callbacks)

    monkeypatch.setattr(entries, "_train_bce", spy)
    out = entries.gan(s, hp, seed=0)
    counts = torch.bincount(seen["y"], minlength=2)
    assert counts[0] == counts[1] == int((s.y_train == 0).sum())  # balanced, real rows kept
    assert out.test.shape == (len(s.y_test),) and out.threshold == 0.5


def test_gan_rows_pair_gan_with_smote_and_plain_on_the_same_seeds():
    res = Measurements()
    for seed in range(3):
        for entry, pr in (("plain network", 0.5), ("SMOTE", 0.6), ("GAN over-sampling", 0.55)):
            res.runs.append(_run("a", seed, entry, pr_auc=pr + 0.01 * seed * (entry == "SMOTE"),
                                 f1_tuned=0.4))
    (row,) = claims.augmentation_rows(res, "GAN over-sampling")
    assert row["setting"] == "a" and row["pr_auc.gan"] == pytest.approx(0.55)
    assert row["pr_auc.gan-smote"] == pytest.approx(-0.06)
    assert [row["pr_auc.gan-smote.lo"], row["pr_auc.gan-smote.hi"]] == pytest.approx(
        list(rules.t_interval([-0.05, -0.06, -0.07])))
    assert row["pr_auc.gan-plain"] == pytest.approx(0.05) and row["f1_tuned.gan-plain"] == 0.0


def test_best_technique_ignores_entries_that_did_not_run():
    runs = [_run("a", 0, n, val_pr_auc=0.6 if n == "SMOTE" else 0.5)
            for n in ENTRIES if n != "GAN over-sampling"]
    assert best_technique(runs) == "SMOTE"
    assert claims.best_vs_plain(Measurements(runs=runs), "SMOTE") == [0.0]
