"""The gru, attention and transformer labs: sizes per scale, ranges, and how claims are judged."""

from __future__ import annotations

import pytest

from deepdojo.labs.attention import AttentionLabConfig, VariantRun
from deepdojo.labs.attention import _claim as attention_claim
from deepdojo.labs.attention import _growth_claim as attention_growth_claim
from deepdojo.labs.framework import LabContext, LabError, make_config
from deepdojo.labs.gru import GRULabConfig
from deepdojo.labs.gru.claims import comparison_claims
from deepdojo.labs.gru.measure import RecallRun
from deepdojo.labs.shared.seq import LengthSweep
from deepdojo.labs.transformer import ModelRun, TransformerLabConfig
from deepdojo.labs.transformer import _claims as transformer_claims

# The sizes each lab uses per scale (version 2 of the three labs, issue 15).
SIZES = {
    GRULabConfig: {
        "smoke": {"lengths": (6,), "steps": 5, "n_train": 64, "n_test": 500,
                  "lrs": (1e-3, 3e-3, 1e-2), "gate_biases": (1.0, 3.0, 5.0), "distractors": 4},
        "quick": {"lengths": (10, 80), "steps": 300, "n_train": 2000, "n_test": 500},
        "full": {"lengths": (10, 40, 80, 150, 250), "steps": 1500, "n_train": 4000},
    },
    AttentionLabConfig: {
        "smoke": {"lengths": (0, 20), "n_train": 64, "steps": 4, "num_test": 32,
                  "length_sweep": True, "attribution_steps": 3},
        "quick": {"length_sweep": False, "attribution_length": 20, "attribution_steps": 600,
                  "attribution_examples": 100, "num_test": 300, "lr": 1e-2},
        "full": {"lengths": (0, 30), "length_sweep": True, "steps": 6000, "patience": 600,
                 "n_train": 4000, "lrs": (1e-3, 3e-3, 1e-2), "max_widen": 2},
    },
    TransformerLabConfig: {
        "smoke": {"lengths": (0,), "max_steps": 4, "n_train": 64, "n_test": 32},
        "quick": {"lengths": (0,), "max_steps": 600, "target": 0.5, "stop_at_target": True,
                  "transformer_lrs": (1e-3, 3e-3, 1e-2), "gru_lrs": (1e-3, 3e-3, 1e-2),
                  "warmups": (30, 100, 300), "max_widen": 2, "patience": 0,
                  "timing_lengths": (0, 30, 60), "timing_repeats": 7},
        "full": {"lengths": (30,), "max_steps": 3000, "target": 0.8, "stop_at_target": False,
                 "patience": 600, "n_train": 4000, "n_test": 500},
    },
}


@pytest.mark.parametrize("cls", list(SIZES))
@pytest.mark.parametrize("scale", ["smoke", "quick", "full"])
def test_sizes_per_scale_are_the_ones_the_labs_used(cls, scale):
    cfg = make_config(cls, scale=scale)
    for name, value in SIZES[cls][scale].items():
        assert getattr(cfg, name) == value, name


@pytest.mark.parametrize(
    ("cls", "overrides", "message"),
    [
        (GRULabConfig, {"lengths": "10,2"}, r"lengths must be >= 3, got 2"),
        (GRULabConfig, {"lrs": "0.01,0"}, r"lrs must be > 0"),
        (GRULabConfig, {"distractors": "-1"}, r"distractors must be >= 0"),
        (GRULabConfig, {"num_symbols": "1"}, r"num_symbols must be >= 2"),
        (GRULabConfig, {"memory_unit_fraction": "1"}, r"memory_unit_fraction must be >= 2"),
        (AttentionLabConfig, {"steps": "0"}, r"steps must be >= 1"),
        (AttentionLabConfig, {"clip": "nan"}, r"clip must be finite"),
        (TransformerLabConfig, {"target": "1.5"}, r"target must be <= 1"),
        (TransformerLabConfig, {"warmups": "25,0"}, r"warmups must be >= 1"),
        (TransformerLabConfig, {"max_param_ratio": "0.9"}, r"max_param_ratio must be >= 1"),
        (TransformerLabConfig, {"max_steps": "0"}, r"max_steps must be >= 1"),
    ],
)
def test_bad_sizes_are_refused_before_any_training(cls, overrides, message):
    with pytest.raises(LabError, match=message):
        make_config(cls, overrides, scale="quick")


@pytest.fixture
def ctx(tmp_path):
    return LabContext("seq-test", scale="quick", seed=0, out_dir=tmp_path, progress="off")


def _by_id(ctx):
    return {c.id: c for c in ctx.claims}


def _recall(accs, grads):
    return [RecallRun(acc=a, grad_init=1e-3, grad_trained=g) for a, g in zip(accs, grads,
                                                                               strict=True)]


def test_gru_comparison_claims_pair_gru_and_rnn_per_seed(ctx):
    cfg = GRULabConfig()
    results = {("gru", 80): _recall([1.0, 0.98, 1.0, 0.97, 0.99], [1e-2, 2e-2, 1e-2, 3e-2, 1e-2]),
               ("rnn", 80): _recall([0.26, 0.25, 0.3, 0.24, 0.25], [1e-6, 1e-7, 1e-7, 1e-6, 1e-8])}
    comparison_claims(ctx, results, 80, cfg)
    c = _by_id(ctx)
    beats = c["gru-beats-rnn-long"]
    assert beats.verdict == "holds" and beats.margin == 0.1
    assert beats.values == pytest.approx([0.74, 0.73, 0.7, 0.73, 0.74])
    grad = c["gru-gradient-reaches-first-step"]
    assert grad.verdict == "holds"
    assert grad.values == pytest.approx([4, 5.30103, 5, 4.47712, 6], abs=1e-5)  # log10 ratios


def test_gru_gradient_claim_counts_a_vanished_gradient_at_the_float32_bound(ctx):
    results = {("gru", 80): _recall([1.0] * 2, [1e-2, 1e-2]),
               ("rnn", 80): _recall([0.25] * 2, [0.0, 1e-6])}
    comparison_claims(ctx, results, 80, GRULabConfig())
    claim = _by_id(ctx)["gru-gradient-reaches-first-step"]
    assert claim.values == pytest.approx([-2 + 149 * 0.30103, 4], abs=1e-3)  # 2^-149
    assert "1 of 2 RNN and 0 of 2 GRU gradients are exactly 0 in float32" in claim.why
    assert "log10 = -44.9, an upper bound" in claim.why


def test_gru_beats_rnn_does_not_hold_when_the_rnn_also_recalls(ctx):
    results = {("gru", 10): _recall([1.0] * 5, [1.0] * 5),
               ("rnn", 10): _recall([0.99, 1.0, 0.98, 1.0, 0.99], [2.0] * 5)}
    comparison_claims(ctx, results, 10, GRULabConfig())
    c = _by_id(ctx)
    beats = c["gru-beats-rnn-long"]
    assert beats.verdict == "does not hold"
    assert "the GRU reaches 1.00 test accuracy and the vanilla RNN 0.99" in beats.why
    assert "also carries the symbol" in beats.why
    assert c["gru-gradient-reaches-first-step"].verdict == "does not hold"


def _sweep(rows: dict[str, list], L: int, chars: float = 40.0) -> LengthSweep:
    sweep = LengthSweep()
    sweep.results = {(k, L): v for k, v in rows.items()}
    sweep.mean_chars = {L: chars}
    return sweep


def _variants(exact):
    return [VariantRun(exact=e, chars=e, train_s=1.0) for e in exact]


def test_attention_claim_is_judged_on_the_weaker_variant_of_each_seed(ctx):
    sweep = _sweep({"none": _variants([0.1] * 5),
                    "additive": _variants([0.9, 0.9, 0.1, 0.9, 0.9]),
                    "multiplicative": _variants([0.9, 0.1, 0.9, 0.9, 0.9])}, 45)
    attention_claim(ctx, sweep, 45)
    claim = _by_id(ctx)["attention-beats-none-long"]
    assert claim.values_a == pytest.approx([0.9, 0.1, 0.1, 0.9, 0.9])  # per-seed minimum
    assert claim.values == pytest.approx([0.8, 0.0, 0.0, 0.8, 0.8])
    assert claim.verdict == "inconclusive"  # mean 0.48 but two seeds at 0: wide interval


def test_attention_claim_holds_when_both_variants_win(ctx):
    sweep = _sweep({"none": _variants([0.2, 0.25, 0.2, 0.3, 0.2]),
                    "additive": _variants([0.9, 0.95, 0.92, 0.9, 0.93]),
                    "multiplicative": _variants([0.85, 0.9, 0.9, 0.88, 0.9])}, 45)
    attention_claim(ctx, sweep, 45)
    assert _by_id(ctx)["attention-beats-none-long"].verdict == "holds"


def test_attention_gap_growth_pairs_seeds_and_needs_a_working_short_baseline(ctx):
    sweep = _sweep({"none": _variants([0.1] * 5),
                    "additive": _variants([0.9] * 5),
                    "multiplicative": _variants([0.85, 0.9, 0.9, 0.88, 0.9])}, 30)
    short = {("none", 0): _variants([0.7, 0.75, 0.8, 0.7, 0.72]),
             ("additive", 0): _variants([0.95] * 5),
             ("multiplicative", 0): _variants([0.95] * 5)}
    sweep.results.update(short)
    attention_growth_claim(ctx, sweep, (0, 30))
    claim = _by_id(ctx)["attention-gap-grows-with-length"]
    assert claim.values_a == pytest.approx([0.75, 0.8, 0.8, 0.78, 0.8])
    assert claim.values_b == pytest.approx([0.25, 0.2, 0.15, 0.25, 0.23])
    assert claim.verdict == "holds"


def test_attention_gap_growth_does_not_hold_with_a_baseline_at_the_floor(ctx):
    sweep = _sweep({k: _variants([0.9 if k != "none" else 0.1] * 5) for k in
                    ("none", "additive", "multiplicative")}, 30)
    sweep.results.update({(k, 0): _variants([0.9 if k != "none" else 0.1] * 5)
                          for k in ("none", "additive", "multiplicative")})
    attention_growth_claim(ctx, sweep, (0, 30))
    claim = _by_id(ctx)["attention-gap-grows-with-length"]
    assert claim.verdict == "does not hold" and "condition not met" in claim.why


def _model_runs(exact, steps, converged=True):
    return [ModelRun(exact=e, chars=e, steps_to_target=n, best_val=e, steps=n or 600,
                     final_loss=0.1, cpu_s=1.0, wall_s=1.0, curve=[(25, e)],
                     converged=converged)
            for e, n in zip(exact, steps, strict=True)]


def _times(tf_ms, gru_ms, repeats=9):
    return {60: {"transformer": [tf_ms / 1e3] * repeats,
                 "gru+attention": [gru_ms / 1e3] * repeats}}


def _tf_cfg(**kw):
    return make_config(TransformerLabConfig, {k: str(v) for k, v in kw.items()}, scale="quick")


def test_transformer_steps_to_target_and_per_step_time(ctx):
    results = {("transformer", 0): _model_runs([0.5] * 5, [300, 325, 275, 300, 350]),
               ("gru+attention", 0): _model_runs([0.6] * 5, [100, 100, 125, 100, 100])}
    transformer_claims(ctx, results, 0, {"transformer": 100, "gru+attention": 110},
                       _times(10.0, 20.0), _tf_cfg())
    c = _by_id(ctx)
    faster = c["transformer-trains-faster"]
    assert faster.verdict == "does not hold" and not faster.environment_dependent
    assert faster.values == pytest.approx([3, 3.25, 2.2, 3, 3.5])
    assert "needs 310 steps on average and the GRU+attention 105" in faster.why
    cheaper = c["transformer-cheaper-per-step"]
    assert cheaper.verdict == "holds" and cheaper.environment_dependent
    assert cheaper.values == pytest.approx([0.5] * 9) and "thread" in cheaper.statement
    assert "transformer-matches-recurrent" not in c  # decided at full scale only
    assert any("decided at full scale" in n for n in ctx.notes)


def test_transformer_never_reaching_the_target_counts_as_max_steps_and_gru_must_reach_it(ctx):
    results = {("transformer", 0): _model_runs([0.1] * 3, [None, 300, None]),
               ("gru+attention", 0): _model_runs([0.6] * 3, [100, None, 100])}
    transformer_claims(ctx, results, 0, {"transformer": 100, "gru+attention": 110},
                       _times(10.0, 20.0, 3), _tf_cfg())
    faster = _by_id(ctx)["transformer-trains-faster"]
    assert faster.values == pytest.approx([6, 0.5, 6])  # 600 / 100, 300 / 600, 600 / 100
    assert faster.verdict == "does not hold" and "condition not met" in faster.why


def test_transformer_match_is_judged_at_full_scale_and_needs_a_working_baseline(ctx):
    cfg = make_config(TransformerLabConfig, scale="full")
    results = {("transformer", 30): _model_runs([0.9, 0.92, 0.88, 0.91, 0.9], [300] * 5),
               ("gru+attention", 30): _model_runs([0.93, 0.95, 0.9, 0.94, 0.92], [100] * 5)}
    transformer_claims(ctx, results, 30, {"transformer": 100, "gru+attention": 110},
                       _times(30.0, 20.0), cfg)
    c = _by_id(ctx)
    assert c["transformer-matches-recurrent"].verdict == "holds"
    cheaper = c["transformer-cheaper-per-step"]
    assert cheaper.verdict == "does not hold" and "30.0 CPU ms" in cheaper.why


def test_transformer_match_fails_when_both_models_fail(tmp_path):
    ctx = LabContext("seq-test", scale="full", seed=0, out_dir=tmp_path, progress="off")
    results = {("transformer", 30): _model_runs([0.3] * 5, [None] * 5),
               ("gru+attention", 30): _model_runs([0.3, 0.31, 0.3, 0.29, 0.3], [100] * 5)}
    transformer_claims(ctx, results, 30, {"transformer": 100, "gru+attention": 110},
                       _times(10.0, 20.0), make_config(TransformerLabConfig, scale="full"))
    match = _by_id(ctx)["transformer-matches-recurrent"]
    assert match.verdict == "does not hold" and "condition not met" in match.why


def test_transformer_lab_refuses_unequal_model_sizes_before_training(tmp_path):
    import deepdojo.labs.transformer  # noqa: F401  registers the lab
    from deepdojo.labs import run_lab

    with pytest.raises(LabError, match=r"differ by .*x > max_param_ratio=1.5; resize"):
        run_lab("transformer", scale="smoke", seed=0, out=tmp_path, progress="off",
                overrides={"d_model": "128"})


def test_attribution_claim_counts_steps_whose_median_rho_reaches_half(ctx):
    from deepdojo.labs.attention import AttributionRun, _attribution_claim

    low = {s: AttributionRun(0.9, [0.1, 0.2, 0.6, 0.3]) for s in range(5)}  # 1 of 4 agree
    _attribution_claim(ctx, low, AttentionLabConfig())
    claim = _by_id(ctx)["attention-is-not-attribution"]
    assert claim.values == pytest.approx([0.25] * 5) and claim.verdict == "holds"
    assert "only 25% of the output steps agree" in claim.why


def test_attribution_claim_needs_a_trained_model(tmp_path):
    from deepdojo.labs.attention import AttributionRun, _attribution_claim

    ctx = LabContext("seq-test", scale="quick", seed=0, out_dir=tmp_path, progress="off")
    _attribution_claim(ctx, {s: AttributionRun(0.1, [0.1, 0.2]) for s in range(5)},
                       AttentionLabConfig())
    claim = _by_id(ctx)["attention-is-not-attribution"]
    assert claim.verdict == "does not hold" and "has learned the task" in claim.why


def test_gru_full_only_claims_are_held_back_below_full_scale(ctx):
    from deepdojo.labs.gru import FULL_ONLY

    assert make_config(GRULabConfig, scale="full").full_only_claims
    assert not make_config(GRULabConfig, scale="quick").full_only_claims
    results = {(k, 80): _recall([1.0] * 5, [1e-2] * 5) for k in ("gru", "rnn", "lstm")}
    comparison_claims(ctx, results, 80, GRULabConfig())
    stated = {c.id for c in ctx.claims}
    assert {"gru-beats-rnn-long", "gru-gradient-reaches-first-step"} <= stated
    assert set(FULL_ONLY) == stated | {"lstm-matches-gru-long"}
