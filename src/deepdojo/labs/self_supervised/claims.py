"""Tables and claims of the ``self-supervised`` lab (rules fixed before any run)."""

from __future__ import annotations

import math
import statistics

import torch
from scipy import stats

from deepdojo.diagnose import check_collapse
from deepdojo.labs.framework import AtLeast, AtMost, EverySeed, Greater, LabContext

from .measure import SeedRun

SSL_MARGIN = 0.02  # accuracy: SSL probe vs supervised from scratch
CONTROL_MARGIN = 0.03  # accuracy: pretrained vs random frozen encoder
SHRINK_MARGIN = 0.02  # the SSL advantage at 1% minus the one at 10%
TRANSFER_MARGIN = 0.01  # 10x smaller backbone lr vs the same lr everywhere
NO_COLLAPSE = 0.3  # std * sqrt(d) of normalised centred embeddings: healthy ~1, collapsed 0
MIN_RANK = 1.5  # effective rank: the Doctor's collapse threshold (all rows on one line: ~1)
REFERENCE = {"simclr_probe": 0.82, "supervised_cnn": 0.94, "gru": 0.91}  # MNIST-1D project
FEW, SOME, ALL = 0.01, 0.1, 1.0
FULL_ONLY = (
    "simclr-beats-supervised-few-labels",
    "vicreg-beats-supervised-few-labels",
    "simclr-probe-reaches-reference",
    "order-beats-random-encoder",
    "masked-beats-random-encoder",
    "rotation-beats-random-encoder-digits",
    "simclr-beats-supervised-few-labels-digits",
    "simclr-knn-beats-random-knn",
    "finetuned-simclr-beats-supervised-few-labels",
    "small-backbone-lr-helps-transfer",
)


def _probe(runs: list[SeedRun], arm: str, frac: float, kind: str = "probe") -> list[float]:
    return [getattr(r.arms[arm], kind)[frac] for r in runs]


def _sup(runs: list[SeedRun], frac: float) -> list[float]:
    return [r.supervised[frac].accuracy for r in runs]


def _interval(values: list[float]) -> tuple[float, float]:
    """95% t-interval of the mean over seeds (NaN with one seed)."""
    if len(values) < 2:
        return (math.nan, math.nan)
    mean, sem = statistics.fmean(values), statistics.stdev(values) / math.sqrt(len(values))
    half = float(stats.t.ppf(0.975, len(values) - 1)) * sem
    return (mean - half, mean + half)


def tables(ctx: LabContext, cfg, runs: dict[str, list[SeedRun]]) -> None:
    """Accuracy per dataset, arm, evaluation and label fraction (mean, 95% t-interval, seeds);
    the chosen settings; collapse statistics; the A/A noise floor; reference points."""
    rows, chosen, collapse = [], [], []
    for ds, rs in runs.items():
        evals = [(arm, "probe") for arm in rs[0].arms]
        evals += [(arm, "knn") for arm in rs[0].arms if rs[0].arms[arm].knn]
        for frac in sorted(rs[0].arms["random"].probe):  # the dataset's label fractions
            cols = {f"{a} ({k})": _probe(rs, a, frac, k) for a, k in evals}
            if rs[0].supervised:
                cols["supervised (end to end)"] = _sup(rs, frac)
            for scale in rs[0].finetune:
                if frac in rs[0].finetune[scale]:
                    cols[f"simclr fine-tuned, backbone lr x{scale}"] = [
                        r.finetune[scale][frac].accuracy for r in rs]
            for arm, vals in cols.items():
                lo, hi = _interval(vals)
                rows.append({"data": ds, "labels": f"{frac:.0%}", "arm": arm,
                             "mean": statistics.fmean(vals), "ci_low": lo, "ci_high": hi,
                             "per_seed": [round(v, 4) for v in vals]})
                ctx.metric(f"acc.{ds}.{frac:g}.{arm}", statistics.fmean(vals))
            for r in rs if rs[0].supervised else ():
                chosen.append({"data": ds, "labels": f"{frac:.0%}", "seed": r.seed,
                               "supervised_lr": r.supervised[frac].lr,
                               "supervised_steps": r.supervised[frac].steps,
                               **{f"probe_wd.{a}": r.arms[a].probe_wd[frac] for a in r.arms}})
        for arm in rs[0].arms:
            collapse.append({"data": ds, "arm": arm,
                             "std_sqrt_d_centred": [round(r.arms[arm].std_sqrt_d, 3) for r in rs],
                             "std_sqrt_d_uncentred": [round(r.arms[arm].raw_std_sqrt_d, 3)
                                                      for r in rs],
                             "min_dim_std": [round(r.arms[arm].min_dim_std, 3) for r in rs],
                             "effective_rank": [round(r.arms[arm].erank, 2) for r in rs],
                             "collapse_check": [r.arms[arm].collapse for r in rs],
                             "pretrain_cpu_s": round(statistics.fmean(
                                 r.arms[arm].pretrain_s for r in rs), 2)})
    ctx.table("accuracy", rows)
    ctx.table("chosen_settings", chosen)
    ctx.table("collapse", collapse)
    rs = runs["mnist1d"]
    aa = [a - b for a, b in zip(_probe(rs, "random", cfg.fractions[0]),
                                _probe(rs, "random_b", cfg.fractions[0]), strict=True)]
    ctx.metric("noise_floor.aa_random_encoders_sd",
               statistics.stdev(aa) if len(aa) > 1 else math.nan)
    ctx.metric("noise_floor.aa_random_encoders_mean_abs", statistics.fmean(abs(v) for v in aa))
    if ALL in cfg.fractions:
        _reference(ctx, rs)


def _reference(ctx: LabContext, rs: list[SeedRun]) -> None:
    ours = {"simclr_probe": _probe(rs, "simclr", ALL), "supervised_cnn": _sup(rs, ALL),
            "gru": _sup(rs, ALL)}
    rows = []
    for key, ref in REFERENCE.items():
        mean = statistics.fmean(ours[key])
        lo, hi = _interval(ours[key])
        what = {"simclr_probe": "SimCLR linear probe, 100% labels",
                "supervised_cnn": "supervised CNN, 100% labels (ours: the same conv encoder)",
                "gru": "their GRU, 100% labels (ours: the conv encoder)"}[key]
        rows.append({"reference": what, "reported": ref, "ours_mean": mean, "ci_low": lo,
                     "ci_high": hi, "ours_minus_reported": mean - ref})
        ctx.metric(f"reference.{key}.gap", mean - ref)
    ctx.table("reference_points", rows)


def _why_vs(a: str, b: str) -> dict[str, str]:
    return {"does not hold": a + " {a_mean:.3f} vs " + b + " {b_mean:.3f} (difference {mean:+.3f}, "
            "95% interval [{lo:.3f}, {hi:.3f}])."}


def claims(ctx: LabContext, cfg, runs: dict[str, list[SeedRun]]) -> None:
    rs = runs["mnist1d"]
    few, some = (FEW, SOME) if FEW in cfg.fractions else (cfg.fractions[0], cfg.fractions[-1])
    facts = {"epochs": cfg.epochs}
    for m, name in (("simclr", "SimCLR"), ("vicreg", "VICReg")):
        ctx.claim(f"{m}-beats-random-encoder", f"Control: {name} pretraining, not the "
                  f"architecture, makes the features useful: its frozen encoder beats the same "
                  f"encoder left at its random initialisation", Greater(margin=CONTROL_MARGIN),
                  a=_probe(rs, m, some), b=_probe(rs, "random", some),
                  metric=f"MNIST-1D linear-probe test accuracy, {some:.0%} labels, "
                         f"A = {name}, B = random encoder",
                  why={"does not hold": f"{name} " + "{a_mean:.3f} vs random {b_mean:.3f} after "
                                        "{epochs} pretraining epochs."}, facts=facts)
        ctx.claim(f"{m}-beats-supervised-few-labels", f"Pretraining without labels makes a few "
                  f"labels go further: a linear probe on {name} features beats training the "
                  f"same network from scratch on the same {few:.0%} of the labels",
                  Greater(margin=SSL_MARGIN), a=_probe(rs, m, few), b=_sup(rs, few),
                  metric=f"MNIST-1D test accuracy, {few:.0%} labels, A = {name} probe, "
                         f"B = supervised from scratch (same augmentations, tuned lr)",
                  why={"does not hold": f"{name} probe " + "{a_mean:.3f} vs supervised "
                       "{b_mean:.3f}: after {epochs} pretraining epochs the frozen features "
                       "carry less than what a tuned, augmented network learns from the labels "
                       "themselves."}, facts=facts)
        values = [r.arms[m].std_sqrt_d for r in rs]
        ranks = [r.arms[m].erank for r in rs]
        ctx.claim(f"{m}-no-collapse", f"Check: {name} does not collapse: its centred, "
                  f"normalised embeddings keep spreading out and span more than "
                  f"{MIN_RANK:g} directions (an untrained encoder passes this too, so it is a "
                  f"sanity check, not evidence for pretraining)",
                  EverySeed(AtLeast(NO_COLLAPSE)), values=values, kind="check",
                  metric="std of l2-normalised centred test embeddings x sqrt(d) (healthy ~1)",
                  requires={f"effective rank above {MIN_RANK:g} in every seed":
                            min(ranks) > MIN_RANK},
                  facts={"min_rank": min(ranks),
                         "raw_min": min(r.arms[m].raw_std_sqrt_d for r in rs)},
                  why={"does not hold": "std x sqrt(d) of the centred embeddings fell to "
                                        "{min:.3f} in a seed (uncentred {raw_min:.3f}); "
                                        "smallest effective rank {min_rank:.1f}."})
    gain = {(arm, f): [a - b for a, b in zip(_probe(rs, arm, f), _sup(rs, f), strict=True)]
            for arm in ("simclr", "random") for f in (few, some)}
    shrink = {arm: statistics.fmean(gain[arm, few]) - statistics.fmean(gain[arm, some])
              for arm in ("simclr", "random")}
    ctx.claim("ssl-advantage-largest-with-fewest-labels", f"SimCLR pretraining stands best "
              f"against supervised training when labels are scarcest: the gap (SimCLR probe "
              f"minus supervised) is larger at {few:.0%} than at {some:.0%} labels, and it "
              f"narrows more than a random frozen encoder's does (the control)",
              Greater(margin=SHRINK_MARGIN), a=gain["simclr", few], b=gain["simclr", some],
              metric=f"(SimCLR probe - supervised) accuracy, A at {few:.0%}, B at {some:.0%}",
              requires={"the gap narrows more for SimCLR than for a random frozen encoder "
                        "(control)": shrink["simclr"] > shrink["random"]},
              facts={"shrink_simclr": shrink["simclr"], "shrink_random": shrink["random"]},
              why={"does not hold": "the gap is {a_mean:+.3f} at the fewer labels and "
                                    "{b_mean:+.3f} at the more; a random frozen encoder's gap "
                                    "narrows by {shrink_random:+.3f} against SimCLR's "
                                    "{shrink_simclr:+.3f}, so the narrowing comes from a "
                                    "frozen linear probe gaining less from more labels than "
                                    "end-to-end training does, not from pretraining."})
    constant = torch.ones(64, 16)
    gauss = torch.randn(256, 16, generator=torch.Generator().manual_seed(0))
    wrong = float(check_collapse(constant).kind != "collapse") + float(
        check_collapse(gauss).kind != "healthy")
    ctx.claim("collapse-check-flags-constant-embeddings", "The collapse check flags identical "
              "embeddings and passes Gaussian ones", EverySeed(AtMost(0.0)), values=[wrong],
              metric="wrong collapse verdicts (constant, Gaussian)", kind="check")
    _full_claims(ctx, cfg, runs, few, some)


def _full_claims(ctx: LabContext, cfg, runs: dict[str, list[SeedRun]], few: float,
                 some: float) -> None:
    rs = runs["mnist1d"]
    if ALL in cfg.fractions:
        ctx.claim("simclr-probe-reaches-reference", "A SimCLR linear probe on MNIST-1D with all "
                  "labels reaches the MNIST-1D project's ~82%", AtLeast(REFERENCE["simclr_probe"]),
                  values=_probe(rs, "simclr", ALL), metric="linear-probe test accuracy, 100%",
                  why={"does not hold": "mean {mean:.3f}: our small encoder and "
                                        "pretraining budget fall short of the reference."})
    for m in ("order", "masked"):
        if m in rs[0].arms:
            ctx.claim(f"{m}-beats-random-encoder", f"Control: {m} pretraining beats the random "
                      f"frozen encoder", Greater(margin=CONTROL_MARGIN),
                      a=_probe(rs, m, some), b=_probe(rs, "random", some),
                      metric=f"MNIST-1D linear-probe accuracy, {some:.0%} labels",
                      why=_why_vs(m, "random encoder"))
    if rs[0].arms["simclr"].knn:
        ctx.claim("simclr-knn-beats-random-knn", "Frozen SimCLR features beat random ones "
                  "under a kNN vote too", Greater(margin=CONTROL_MARGIN),
                  a=_probe(rs, "simclr", some, "knn"), b=_probe(rs, "random", some, "knn"),
                  metric=f"MNIST-1D kNN test accuracy, {some:.0%} labels",
                  why=_why_vs("SimCLR", "random"))
    if rs[0].finetune:
        small, same = rs[0].finetune.get("0.1"), rs[0].finetune.get("1")
        if small and same and few in small:
            ctx.claim("finetuned-simclr-beats-supervised-few-labels", "Fine-tuning the SimCLR "
                      "encoder (backbone lr x0.1) beats supervised training from scratch with "
                      "few labels", Greater(margin=SSL_MARGIN),
                      a=[r.finetune["0.1"][few].accuracy for r in rs], b=_sup(rs, few),
                      metric=f"MNIST-1D test accuracy, {few:.0%} labels",
                      why=_why_vs("fine-tuned", "supervised"))
            ctx.claim("small-backbone-lr-helps-transfer", "Fine-tuning with a 10x smaller "
                      "backbone lr beats the same lr everywhere (Q15.7)",
                      Greater(margin=TRANSFER_MARGIN),
                      a=[r.finetune["0.1"][few].accuracy for r in rs],
                      b=[r.finetune["1"][few].accuracy for r in rs],
                      metric=f"MNIST-1D test accuracy after fine-tuning, {few:.0%} labels",
                      why=_why_vs("backbone lr x0.1", "x1"))
    dg = runs.get("digits")
    if dg:
        few = min(dg[0].arms["random"].probe)  # digits: the smallest fraction, 3%
        ctx.claim("rotation-beats-random-encoder-digits", "Control: rotation prediction "
                  "pretraining beats the random frozen encoder on digits",
                  Greater(margin=CONTROL_MARGIN), a=_probe(dg, "rotation", some),
                  b=_probe(dg, "random", some), metric=f"digits probe accuracy, {some:.0%}",
                  why=_why_vs("rotation", "random encoder"))
    if dg and dg[0].supervised:
        ctx.claim("simclr-beats-supervised-few-labels-digits", "On digits too, a probe on "
                  "SimCLR features beats supervised training from scratch with few labels",
                  Greater(margin=SSL_MARGIN), a=_probe(dg, "simclr", few), b=_sup(dg, few),
                  metric=f"digits test accuracy, {few:.0%} labels",
                  why=_why_vs("SimCLR probe", "supervised"))
