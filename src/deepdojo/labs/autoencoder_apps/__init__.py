r"""Lab: what autoencoders are for, part 2 -- anomaly detection, recommenders, imputation (Q05).

Each application against the tools a practitioner would use instead, same splits and seeds:

1. **Anomaly detection.** :class:`deepdojo.anomaly.AutoEncoderDetector` (AE and VAE
   reconstruction error) vs ``IsolationForest`` and ``OneClassSVM``, trained on normal rows
   only; ROC-AUC and PR-AUC on test. Digits one-class-out (one class, drawn per seed, is the
   anomaly) and breast cancer (benign normal, malignant anomalous). Each detector's setting
   (code size; ``max_samples``; RBF ``gamma``) is chosen on validation ROC-AUC per seed.
2. **Recommender.** I-AutoRec vs the item mean and matrix factorisation (ALS) on held-out
   ratings (RMSE), on generated ratings with nonlinear user-item structure and, as the
   labelled control, on low-rank ratings where MF is the right model. MF's (rank, lambda) and
   AutoRec's (hidden size, weight decay) come from grids of the same size, chosen on the
   first seed's validation ratings.
3. **Imputation.** :class:`deepdojo.impute.AutoEncoderImputer` (masked AE) vs
   ``SimpleImputer`` (mean), ``KNNImputer`` (k on validation) and ``IterativeImputer`` at
   10/30/50% cells missing (MCAR): RMSE on the hidden test cells (standardized units), on
   breast cancer and on a curved 2-D sheet in 20-D (nonlinear structure, where a chain of
   linear regressions should fall short). The AE's lr is chosen on the first seed's
   validation cells (then fixed), KNN's k on every seed's validation cells.

Margins (fixed before any run): ROC-AUC 0.02, RMSE 0.02 (recommender) and 0.02
(imputation, standardized units), the item-mean gap 0.05. The claims are at 30% missing.

Changed after the first development runs (seed 0, then seeds 7 and 12345), rules and margins
untouched: each seed's digits value is the mean over two held-out classes, ``seed % 10`` and
``(seed + 5) % 10``, instead of one random class (one class per seed made the AUC swing by
0.25 between seeds, so most digits claims stayed inconclusive; now quick covers all ten
classes and every seed set compares like with like), and the imputer AE's lr is chosen on
the first seed only (like every other AE here) to keep quick within a minute of CPU.

CPU budget (2026-12-04, after seeing quick runs of 58-62 s CPU against the 60 s budget; no rule,
margin, grid or claim judged at quick changed): at quick each seed holds out one digits class
(``digits_classes = 1``: ``seed % 10``, so quick's digits numbers cover classes 0-4), at full
two as before -- every digits claim is decided at full scale only, so quick's digits section
is shown, not judged; and the first seed's MF and AutoRec fits at the settings chosen on its
validation ratings are reused instead of refitted (identical predictions).

Noise floors (A/A: the same AE arm, data and settings, init from ``seed + 500``; the mean
|difference| over seeds; ``noise_floor.*``), measured at the scale where each claim with a
margin is judged. Quick, base seed 7 (measured for every arm): AE ROC-AUC 0.023 on digits and
0.013 on breast cancer (margin 0.02); AutoRec RMSE 0.013 on nonlinear and 0.024 on low-rank
ratings (margin 0.02; item-mean gap 0.05); masked-AE RMSE 0.023 on breast cancer and 0.021 on
the sheet (margin 0.02; mean gap 0.05). Where the margin sits inside the floor the claim
cannot be shown at quick, so from this version these are decided at full scale only, margins
unchanged: ae-beats-iforest-digits and ae-beats-ocsvm-digits (quick seed 7: inconclusive
[0.009, 0.133] and [-0.055, 0.113]), mf-beats-autorec-low-rank (held, [0.079, 0.177]),
masked-ae-no-gain-over-iterative-tabular (held, [-0.124, -0.0003]) and
masked-ae-beats-knn-nonlinear (did not hold, [0.084, 0.139]). At quick the floors of those
arms are no longer measured (CPU budget); at full they are. Their full-scale verdicts under
this version (with the floor measured at full) are still to be run.

Decided at full scale only (``full_only_claims``; measured and shown at quick):
ae-anomaly-auc-digits, ae-beats-iforest-tabular and masked-ae-beats-iterative-nonlinear. Their
quick verdicts changed between the seed sets 0, 7 and 12345 (intervals touching their bars:
AUC 0.873 / 0.874 / 0.870 against 0.8; the imputation gain 0.048 / 0.056 / 0.046 against 0.02).
Full scale, base seed 0 (10 seeds, 243 s CPU): digits AUC 0.899 [0.864, 0.934] holds; AE vs
IsolationForest on breast cancer -0.027 does not hold; masked AE vs IterativeImputer on the
sheet -0.094 [-0.120, -0.068] holds; AE vs IsolationForest on digits +0.097 holds; AE vs
one-class SVM on digits +0.070 [0.002, 0.139] stays inconclusive.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import numpy as np

from deepdojo.labs.framework import (
    AtLeast,
    AtMost,
    EverySeed,
    Greater,
    LabContext,
    Less,
    plt,
    ranged,
    register_lab,
    scaled,
)
from deepdojo.labs.shared.autoencoding import pick, record_sections

from . import measure as M

AUC_MARGIN = 0.02
RMSE_MARGIN = 0.02
MEAN_GAP = 0.05
CLAIM_RATE = 0.3
AA_OFFSET = 500  # A/A twins: the same AE arm, data and settings, init from seed + 500
# One section per application on the question page: (title, claim-id prefixes, figures, the
# ``time.<key>_cpu_s`` metric); see deepdojo.report.runpage for the ``sections`` table.
SECTIONS = (
    ("Anomaly detection: AE / VAE vs IsolationForest and one-class SVM",
     ("ae-anomaly-", "ae-beats-", "vae-", "detector-"), ("anomaly",), "anomaly_detection"),
    ("Recommender: AutoRec vs item mean and matrix factorisation", ("autorec-", "mf-"),
     ("recommender",), "recommender"),
    ("Imputation: masked AE vs Simple, KNN and Iterative imputers", ("masked-ae-", "imputer-"),
     ("imputation",), "imputation"),
)
FULL_ONLY = ("ae-anomaly-auc-digits", "ae-beats-iforest-tabular",
             "masked-ae-beats-iterative-nonlinear",
             # margins inside their quick A/A floors (see the docstring):
             "ae-beats-iforest-digits", "ae-beats-ocsvm-digits", "mf-beats-autorec-low-rank",
             "masked-ae-no-gain-over-iterative-tabular", "masked-ae-beats-knn-nonlinear")


@dataclass
class AutoencoderAppsConfig:
    det_epochs: int = scaled(smoke=2, quick=30, full=80, low=1)  # detector AE epochs
    det_codes: tuple[int, ...] = ranged((4, 8), low=1)  # AE/VAE code sizes tried
    gammas: tuple[float, ...] = ranged((0.3, 1.0, 3.0), low=0.0, low_open=True)  # x 'scale'
    max_samples: tuple[float, ...] = ranged((0.5, 1.0), low=0.0, high=1.0, low_open=True)
    contamination: float = ranged(0.1, low=0.0, high=0.5, low_open=True)  # detector threshold
    # digits classes held out per seed (their mean): 1 at quick, where no digits claim is
    # judged (CPU budget; see the docstring), 2 at full
    digits_classes: int = scaled(smoke=2, quick=1, full=2, low=1, high=2)
    users: int = scaled(smoke=40, quick=200, full=400, low=5)  # generated ratings: users
    items: int = scaled(smoke=30, quick=150, full=300, low=5)  # ... and items
    density: float = ranged(0.2, low=0.0, high=1.0, low_open=True)  # share of ratings seen
    ranks: tuple[int, ...] = ranged((2, 5, 10), low=1)  # MF ranks tried
    regs: tuple[float, ...] = ranged((1.0, 5.0), low=0.0, low_open=True)  # MF lambdas tried
    als_iters: int = scaled(smoke=2, quick=10, full=20, low=1)  # ALS sweeps
    autorec_hidden: tuple[int, ...] = ranged((50, 200), low=1)  # AutoRec sizes tried
    autorec_wds: tuple[float, ...] = ranged((1e-3, 1e-2, 5e-2), low=0.0)  # weight decays tried
    autorec_lr: float = ranged(1e-2, low=0.0, low_open=True)  # AutoRec Adam lr
    autorec_epochs: int = scaled(smoke=5, quick=300, full=600, low=1)  # full-batch steps
    rates: tuple[float, ...] = scaled(smoke=(0.3,), quick=(0.1, 0.3, 0.5), full=(0.1, 0.3, 0.5),
                                      low=0.0, high=1.0, low_open=True, high_open=True)
    sheet_n: int = scaled(smoke=200, quick=800, full=2000, low=50)  # rows of the curved sheet
    knn_ks: tuple[int, ...] = ranged((5, 15), low=1)  # KNNImputer k tried
    ae_lrs: tuple[float, ...] = ranged((3e-3, 1e-2), low=0.0, low_open=True)  # imputer lrs
    imp_epochs: int = scaled(smoke=2, quick=60, full=150, low=1)  # imputer AE epochs
    iterative_iter: int = ranged(10, low=1)  # IterativeImputer rounds (sklearn's default)
    full_only_claims: bool = scaled(smoke=False, quick=False, full=True)  # state FULL_ONLY


@register_lab("autoencoder-apps", questions=("Q05",), config=AutoencoderAppsConfig)
def run(cfg: AutoencoderAppsConfig, ctx: LabContext) -> None:
    """Autoencoders for anomaly detection, recommendation and imputation, each vs its
    classical baselines."""
    M.clear_memo()
    try:
        _run(cfg, ctx)
    finally:
        M.clear_memo()


def _run(cfg: AutoencoderAppsConfig, ctx: LabContext) -> None:
    seeds, s0 = ctx.seeds, ctx.seeds[0]
    t = time.process_time()
    anom = {ds: [M.anomaly(ds, s, codes=cfg.det_codes, epochs=cfg.det_epochs, gammas=cfg.gammas,
                           max_samples=cfg.max_samples, contamination=cfg.contamination,
                           keep_scores=s == s0, aa_offset=_aa(cfg, ds != "digits"),
                           digits_classes=cfg.digits_classes)
                 for s in ctx.progress(seeds, f"anomaly {ds}")]
            for ds in ("digits", "breast_cancer")}
    for ds, a_runs in anom.items():
        if "ae_aa" in a_runs[0].roc:
            ctx.metric(f"noise_floor.ae_roc_auc_{ds}", statistics.fmean(
                abs(r.roc["ae"] - r.roc["ae_aa"]) for r in a_runs))
    t = _lap(ctx, "anomaly_detection", t)
    recs, chosen = {}, []
    for kind in ("nonlinear", "low_rank"):
        tr, va, _ = M.rec_split(kind, s0, cfg.users, cfg.items, cfg.density)

        def mf_val(rg: tuple[int, float], tr=tr, va=va) -> float:
            return M._rmse(M._memo(M.mf_als, tr, rg[0], rg[1], cfg.als_iters, s0), va)

        def ar_val(hw: tuple[int, float], tr=tr, va=va) -> float:
            return M._rmse(M._memo(M.fit_autorec, tr, hw[0], hw[1], cfg.autorec_lr,
                                   cfg.autorec_epochs, s0), va)  # fmt: skip

        mf, mf_scores = pick([(r, g) for r in cfg.ranks for g in cfg.regs], mf_val)
        ar, ar_scores = pick([(h, w) for h in cfg.autorec_hidden for w in cfg.autorec_wds], ar_val)
        chosen += [{"section": f"recommender {kind}", "arm": "mf", "setting": str(k),
                    "val_rmse": v, "chosen": k == mf} for k, v in mf_scores.items()]
        chosen += [{"section": f"recommender {kind}", "arm": "autorec", "setting": str(k),
                    "val_rmse": v, "chosen": k == ar} for k, v in ar_scores.items()]
        recs[kind] = [M.recommender(kind, s, users=cfg.users, items=cfg.items,
                                    density=cfg.density, mf=mf, als_iters=cfg.als_iters,
                                    autorec=ar, autorec_lr=cfg.autorec_lr,
                                    autorec_epochs=cfg.autorec_epochs,
                                    aa_offset=_aa(cfg, kind == "nonlinear"))
                      for s in ctx.progress(seeds, f"recommender {kind}")]
        if "autorec_aa" in recs[kind][0].rmse:
            ctx.metric(f"noise_floor.autorec_rmse_{kind}", statistics.fmean(
                abs(r.rmse["autorec"] - r.rmse["autorec_aa"]) for r in recs[kind]))
    t = _lap(ctx, "recommender", t)
    imps = {}
    for ds in ("breast_cancer", "sheet"):
        for rate in ctx.progress(cfg.rates, ds):
            def one(s: int, lrs: tuple[float, ...], ds=ds, rate=rate) -> M.Imputation:
                return M.imputation(ds, rate, s, n=cfg.sheet_n, knn_ks=cfg.knn_ks, ae_lrs=lrs,
                                    ae_epochs=cfg.imp_epochs, iterative_iter=cfg.iterative_iter,
                                    aa_offset=_aa(cfg, ds == "breast_cancer")
                                    if rate == CLAIM_RATE else 0)

            first = one(s0, cfg.ae_lrs)  # the AE's lr: first seed's validation cells
            lr = float(first.chosen["masked_ae"])  # type: ignore[arg-type]
            imps[(ds, rate)] = [first] + [one(s, (lr,)) for s in seeds[1:]]
        if (ds, CLAIM_RATE) in imps and "masked_ae_aa" in imps[(ds, CLAIM_RATE)][0].rmse:
            ctx.metric(f"noise_floor.masked_ae_rmse_{ds}", statistics.fmean(
                abs(r.rmse["masked_ae"] - r.rmse["masked_ae_aa"]) for r in imps[(ds, CLAIM_RATE)]))
    _lap(ctx, "imputation", t)
    for ds, a_runs in anom.items():
        chosen += [{"section": f"anomaly {ds}", "arm": k, "setting": str(v), "val_rmse": None,
                    "chosen": True} for r in a_runs for k, v in r.chosen.items()
                   if k not in ("ae_train_flagged", "n_train")]
    for (ds, rate), i_runs in imps.items():
        chosen += [{"section": f"imputation {ds} {rate:g}", "arm": k, "setting": str(v),
                    "val_rmse": None, "chosen": True} for r in i_runs for k, v in r.chosen.items()]
    ctx.table("chosen_settings", chosen)
    _tables(ctx, seeds, anom, recs, imps)
    _figures(ctx, cfg, anom, recs, imps)
    _claims(ctx, cfg, anom, recs, imps)
    record_sections(ctx, SECTIONS)
    if not cfg.full_only_claims:
        ctx.hold_for_full_scale(FULL_ONLY)


def _aa(cfg: AutoencoderAppsConfig, judged_at_quick: bool) -> int:
    """The A/A twin's seed offset where a claim with a margin is judged at this scale, else 0
    (the claims decided at full scale measure their floor at full scale)."""
    return AA_OFFSET if judged_at_quick or cfg.full_only_claims else 0


def _lap(ctx: LabContext, name: str, t: float) -> float:
    now = time.process_time()
    ctx.metric(f"time.{name}_cpu_s", round(now - t, 2))
    return now


def _tables(ctx: LabContext, seeds: list[int], anom, recs, imps) -> None:
    ctx.table("anomaly", [{"data": ds, "seed": s, "anomaly_class": r.anomaly, "detector": k,
                           "roc_auc": r.roc[k], "pr_auc": r.pr[k], "base_rate": r.pr["base_rate"]}
                          for ds, runs in anom.items() for s, r in zip(seeds, runs, strict=True)
                          for k in r.roc])
    ctx.table("recommender", [{"data": kind, "seed": s, "method": k, "rmse": v}
                              for kind, runs in recs.items()
                              for s, r in zip(seeds, runs, strict=True) for k, v in r.rmse.items()])
    ctx.table("imputation", [{"data": ds, "missing": rate, "seed": s, "method": k, "rmse": v}
                             for (ds, rate), runs in imps.items()
                             for s, r in zip(seeds, runs, strict=True)
                             for k, v in r.rmse.items()])
    for (ds, rate), runs in imps.items():
        for k in runs[0].rmse:
            ctx.metric(f"imputation.{ds}.{rate:g}.{k}", statistics.fmean(r.rmse[k] for r in runs))


def _col(runs: list, attr: str, key: str) -> list[float]:
    return [getattr(r, attr)[key] for r in runs]


def _claims(ctx: LabContext, cfg: AutoencoderAppsConfig, anom, recs, imps) -> None:
    dg, bc = anom["digits"], anom["breast_cancer"]
    ctx.claim("ae-anomaly-auc-digits",
              "Reconstruction error of an AE trained on nine digit classes flags the tenth",
              AtLeast(0.8), values=_col(dg, "roc", "ae"),
              metric="test ROC-AUC of the AE score (one class out)",
              why={"does not hold": "mean ROC-AUC {mean:.3f}; the held-out class rebuilds "
                                    "almost as well as the trained ones."})
    for base in ("iforest", "ocsvm"):
        for ds, runs in (("digits", dg), ("tabular", bc)):
            ctx.claim(
                f"ae-beats-{base}-{ds}",
                f"AE reconstruction error ranks anomalies better than "
                f"{'IsolationForest' if base == 'iforest' else 'a one-class SVM'} on "
                f"{'digits (one class out)' if ds == 'digits' else 'breast cancer (malignant)'}",
                Greater(margin=AUC_MARGIN), a=_col(runs, "roc", "ae"), b=_col(runs, "roc", base),
                metric=f"test ROC-AUC, A = AE, B = {base}",
                why={"does not hold": "AE {a_mean:.3f} vs " + base + " {b_mean:.3f}: "
                                      "both tuned on validation ROC-AUC."})
    ctx.claim("detector-flags-contamination",
              "AutoEncoderDetector flags the contamination share of its training rows",
              EverySeed(AtMost(0.0)), kind="check",
              values=[max(0.0, abs(r.chosen["ae_train_flagged"] - cfg.contamination)
                          - 1 / r.chosen["n_train"] - 1e-9) for r in dg + bc],
              metric="|share flagged - contamination| beyond one row, per seed and dataset")
    nl, lr_ = recs["nonlinear"], recs["low_rank"]
    ctx.claim("autorec-beats-item-mean", "AutoRec predicts held-out ratings better than each "
              "item's mean rating", Less(margin=MEAN_GAP), a=_col(nl, "rmse", "autorec"),
              b=_col(nl, "rmse", "item_mean"), metric="held-out RMSE (nonlinear ratings), "
              "A = AutoRec, B = item mean",
              why={"does not hold": "AutoRec {a_mean:.3f} vs item mean {b_mean:.3f}."})
    ctx.claim("autorec-beats-mf-nonlinear", "On ratings with nonlinear user-item structure, "
              "AutoRec beats matrix factorisation", Less(margin=RMSE_MARGIN),
              a=_col(nl, "rmse", "autorec"), b=_col(nl, "rmse", "mf"),
              metric="held-out RMSE (nonlinear ratings), A = AutoRec, B = MF",
              why={"does not hold": "AutoRec {a_mean:.3f} vs MF {b_mean:.3f}: at this density "
                                    "a tuned low-rank model captures the smooth structure "
                                    "well enough, and AutoRec's item-wise network overfits "
                                    "the few ratings per item."})
    ctx.claim("mf-beats-autorec-low-rank", "Control: on low-rank ratings matrix factorisation "
              "beats AutoRec", Greater(margin=RMSE_MARGIN), a=_col(lr_, "rmse", "autorec"),
              b=_col(lr_, "rmse", "mf"), metric="held-out RMSE (low-rank ratings), "
              "A = AutoRec, B = MF",
              why={"does not hold": "AutoRec {a_mean:.3f} vs MF {b_mean:.3f}."})
    bc30, sh30 = imps.get(("breast_cancer", CLAIM_RATE)), imps.get(("sheet", CLAIM_RATE))
    if bc30 is None or sh30 is None:
        return
    ctx.claim("masked-ae-beats-mean-imputation", "At 30% missing, the masked AE imputes breast "
              "cancer cells better than the column mean", Less(margin=MEAN_GAP),
              a=_col(bc30, "rmse", "masked_ae"), b=_col(bc30, "rmse", "mean"),
              metric="RMSE on hidden test cells (standardized), A = masked AE, B = mean",
              why={"does not hold": "masked AE {a_mean:.3f} vs mean {b_mean:.3f}."})
    ctx.claim("masked-ae-beats-iterative-nonlinear", "At 30% missing on a curved 2-D sheet "
              "(nonlinear structure), the masked AE beats IterativeImputer",
              Less(margin=RMSE_MARGIN), a=_col(sh30, "rmse", "masked_ae"),
              b=_col(sh30, "rmse", "iterative"),
              metric="RMSE on hidden test cells (standardized), A = masked AE, B = iterative",
              why={"does not hold": "masked AE {a_mean:.3f} vs IterativeImputer {b_mean:.3f}."})
    ctx.claim("masked-ae-no-gain-over-iterative-tabular", "Control: on breast cancer, whose "
              "features are mostly linearly related, the masked AE gains nothing over "
              "IterativeImputer", AtMost(RMSE_MARGIN),
              values=[i - a for i, a in zip(_col(bc30, "rmse", "iterative"),
                                            _col(bc30, "rmse", "masked_ae"), strict=True)],
              metric="IterativeImputer RMSE - masked AE RMSE (breast cancer, 30% missing)",
              why={"does not hold": "the masked AE is better by {mean:.3f}."})
    ctx.claim("masked-ae-beats-knn-nonlinear", "At 30% missing on the curved sheet, the masked "
              "AE beats KNNImputer", Less(margin=RMSE_MARGIN), a=_col(sh30, "rmse", "masked_ae"),
              b=_col(sh30, "rmse", "knn"),
              metric="RMSE on hidden test cells (standardized), A = masked AE, B = KNN",
              why={"does not hold": "masked AE {a_mean:.3f} vs KNN {b_mean:.3f}: with many "
                                    "rows on a 2-D sheet, neighbours are close."})


def _figures(ctx: LabContext, cfg: AutoencoderAppsConfig, anom, recs, imps) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    sc = anom["digits"][0].scores
    if sc:
        bins = np.linspace(0, max(sc["normal"].max(), sc["anomaly"].max()), 40)
        axes[0].hist(sc["normal"], bins, alpha=0.6, density=True, label="normal digits")
        axes[0].hist(sc["anomaly"], bins, alpha=0.6, density=True,
                     label=f"held-out class {anom['digits'][0].anomaly.split('+')[0]}")
        axes[0].axvline(float(sc["threshold"]), color="k", ls="--",
                        label=f"threshold (contamination {cfg.contamination:g})")
        axes[0].set(xlabel="reconstruction error (test)", ylabel="density",
                    title="AE anomaly score, digits (first seed)")
        axes[0].legend(fontsize=7)
    names = ("ae", "vae", "iforest", "ocsvm")
    for j, runs in enumerate(anom.values()):
        for i, k in enumerate(names):
            vals = _col(runs, "roc", k)
            x = j * 5 + i
            axes[1].scatter([x] * len(vals), vals, color=f"C{i}", s=12,
                            label=k if j == 0 else None)
            axes[1].plot([x - 0.3, x + 0.3], [np.mean(vals)] * 2, color=f"C{i}")
    axes[1].set(xticks=[1.5, 6.5], xticklabels=list(anom), ylabel="test ROC-AUC",
                title="Detectors per seed (bar = mean)")
    axes[1].legend(fontsize=7)
    ctx.figure("anomaly", fig, caption="Left: AE reconstruction error of normal and anomalous "
               "test rows with the contamination threshold. Right: ROC-AUC per seed.")

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for j, (_kind, runs) in enumerate(recs.items()):
        for i, k in enumerate(("item_mean", "mf", "autorec")):
            vals = _col(runs, "rmse", k)
            x = j * 4 + i
            ax.scatter([x] * len(vals), vals, color=f"C{i}", s=12, label=k if j == 0 else None)
            ax.plot([x - 0.3, x + 0.3], [np.mean(vals)] * 2, color=f"C{i}")
    ax.set(xticks=[1, 5], xticklabels=["nonlinear ratings", "low-rank (control)"],
           ylabel="held-out RMSE", title="Recommenders per seed")
    ax.legend(fontsize=7)
    ctx.figure("recommender", fig, caption="Held-out RMSE per seed; bar = mean.")

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=False)
    for ax, ds in zip(axes, ("breast_cancer", "sheet"), strict=True):
        for i, k in enumerate(("mean", "knn", "iterative", "masked_ae")):
            per = np.array([_col(imps[(ds, r)], "rmse", k) for r in cfg.rates])  # (rates, seeds)
            ax.plot(cfg.rates, per, color=f"C{i}", alpha=0.2)
            ax.plot(cfg.rates, per.mean(1), color=f"C{i}", marker="o", label=k)
        ax.set(xlabel="share of cells missing", ylabel="RMSE on hidden cells",
               title="breast cancer" if ds == "breast_cancer" else "curved 2-D sheet (20-D)")
        ax.legend(fontsize=7)
    ctx.figure("imputation", fig, caption="Imputation error vs missing rate (thin: seeds).")
