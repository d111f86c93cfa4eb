r"""Lab: what autoencoders are for, part 1 -- representation (Q05).

Four applications, each against the classical tool a practitioner would use instead, on the
same splits and seeds (``load_digits(seed=s)`` splits each seed differently):

1. **Dimensionality reduction.** An MLP autoencoder (tanh, one hidden layer) with code size
   ``d`` vs PCA at the same ``d``: test reconstruction MSE, and trustworthiness (sklearn) of the
   2-D codes. The claim as practitioners mean it is "an AE beats PCA *when the structure is
   nonlinear*": measured on a curved 2-D sheet in 20-D, with the control of a flat plane in
   20-D (PCA is optimal there, so the AE should gain nothing), then on digits.
2. **Feature learning.** A logistic-regression probe with 1% and 10% of the training labels on
   AE codes (AE trained on every training image, no labels) vs raw pixels vs PCA codes of the
   same size; the probe's ``C`` is chosen on validation for every feature set alike.
3. **Denoising.** A denoising AE vs a Gaussian blur and a median filter (their ``sigma`` and
   window chosen on validation PSNR, as the DAE's learning rate is) on noisy digits and on
   8x8 patches of the sample photos (train on ``china.jpg``, test on ``flower.jpg``); PSNR and
   SSIM from :mod:`deepdojo.metrics`. The DAE must beat the *better* filter.
4. **Generation.** A VAE's samples, scored by a pixel classifier's confidence, against samples
   of a Gaussian fitted to the pixels (the linear generator; the reference arm).

Equal tuning: each AE's Adam learning rate comes from ``lrs`` on the first seed's validation
error (per code size), the filters' and the probe's settings from their grids on validation
per seed; the chosen values are the ``chosen_settings`` table. The AE arms keep their
best-validation epoch. Anomaly detection, recommenders and imputation are the
``autoencoder-apps`` lab; the SMILES autoencoder's section is the ``molecules`` lab's.
Margins (fixed before any run): relative MSE reduction 10%, trustworthiness 0.01, accuracy
0.02, PSNR 0.5 dB, classifier confidence 0.05.

Noise floors (A/A: the same arm on the same data and split, init and batch order from
``seed + 500``; the mean |difference| over seeds), recorded as ``noise_floor.*`` at the scale
where the claim is judged: the curved sheet's 1 - AE/PCA (``sheet_nonlinear_rel``), the flat
plane's (``sheet_linear_rel``), the digits AE's relative MSE and 2-D trustworthiness
(``ae_mse_rel``, ``ae_trust_d2``), the DAE's PSNR on digits and photos (``dae_*_psnr_db``), the
probe accuracy on AE codes (``probe_acc_*pct``) and the VAE samples' confidence
(``vae_conf``). Quick, base seed 7: sheet 0.048 vs margin 0.10; DAE 0.09 dB (digits) and 0.24 dB
(photos) vs 0.5 dB -- margins above their floors. The flat plane's floor is 0.111, above the
margin 0.10 (an AE on a plane lands in init-dependent solutions, 0.07 to 0.39 worse than PCA):
ae-no-gain-on-linear-data (a control that held at quick, [-0.39, -0.07]) cannot be shown at
quick with that margin, so from this version it is decided at full scale only; its margin is
unchanged.

Changed after the first development run (seed 0), rules and margins untouched: the VAE's
reconstruction term is Bernoulli (``bce``, as Kingma & Welling use for binarised digits) instead
of MSE, because with MSE the KL term dominated and the posterior collapsed (KL 0.3 nats,
samples a blur) -- a strawman generator; the lr grid gained 3e-2 because 1e-2, its top, was
chosen for every arm; the DAE's code grew from 32 to 64 (denoising needs no tight bottleneck);
the 2-D sheets train with batches of 32 (600 rows gave only 300 steps).

CPU budget (2026-12-04, after seeing quick runs of 61-65 s CPU against the 60 s budget; no
rule, margin, grid or judged arm changed): a fit repeated with the same data, init and settings
(the first seed's tuning fit at the chosen lr; the d = 16 digits AE that the probe reads, the
same as the dimensionality-reduction AE at d = 16) reuses its weights
(:func:`~deepdojo.labs.shared.autoencoding.cached_fit`; numbers identical, checked on seed 7),
and quick sweeps the digits code sizes 2, 8, 16 instead of 2, 4, 8, 16 (that curve is shown
at quick and judged by no claim at quick; full keeps all four).

Decided at full scale only (``full_only_claims``; their measurements, tables and figures stay
at quick): ae-no-gain-on-linear-data (see noise floors), ae-beats-pca-digits-d2,
ae-codes-more-trustworthy-digits, the four
ae-features-beat-* claims and vae-samples-look-like-digits. At quick (5 seeds) their effects
sit next to their margins and their verdicts changed between the seed sets 0, 7 and 12345
(e.g. the probe gain at 10% labels: does not hold / inconclusive; the VAE's confidence gain
0.068 / 0.030 / 0.037 against a margin of 0.05), so quick cannot decide them.
Full scale, base seed 0 (10 seeds, 298 s CPU): d = 2 MSE gain 0.286 [0.275, 0.297] holds;
trustworthiness +0.094 holds; probe at 1% labels: vs PCA +0.054 holds, vs raw pixels +0.037
[0.007, 0.067] inconclusive; at 10% labels both do not hold (+0.001, -0.005); VAE confidence
+0.102 [0.087, 0.118] holds.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import numpy as np

from deepdojo.labs.framework import LabContext, ranged, register_lab, scaled
from deepdojo.labs.shared.autoencoding import (
    clear_fit_cache,
    manifold_data,
    pick,
    record_sections,
)
from deepdojo.labs.shared.clock import SectionClock

from . import measure as M
from .claims import state_claims
from .figures import plot_all

FULL_ONLY = ("ae-no-gain-on-linear-data", "ae-beats-pca-digits-d2",
             "ae-codes-more-trustworthy-digits",
             "ae-features-beat-raw-1pct", "ae-features-beat-pca-1pct",
             "ae-features-beat-raw-10pct", "ae-features-beat-pca-10pct",
             "vae-samples-look-like-digits")
# The question page shows one section per application: (title, claim-id prefixes, figures,
# the ``time.<key>_cpu_s`` metric); see deepdojo.report.runpage for the ``sections`` table.
SECTIONS = (
    ("Dimensionality reduction: AE vs PCA", ("ae-beats-pca-", "ae-no-gain-", "ae-codes-"),
     ("dimred",), "dimensionality_reduction"),
    ("Feature learning: probe on AE codes vs raw pixels and PCA", ("ae-features-",),
     ("features",), "feature_learning"),
    ("Denoising: DAE vs blur and median filters", ("dae-",), ("denoising",), "denoising"),
    ("Generation: VAE samples vs a Gaussian", ("vae-",), ("generation",), "generation"),
)
AA_OFFSET = 500  # A/A twins: the same arm, data and split, init and batch order from seed + 500
SHEET_BATCH = 32  # the 2-D sheets have 600 training rows: smaller batches, more steps


@dataclass
class AutoencodersConfig:
    dims: tuple[int, ...] = scaled(smoke=(2,), quick=(2, 8, 16), full=(2, 4, 8, 16), low=1)
    epochs: int = scaled(smoke=2, quick=60, full=150, low=1)  # AE epochs (best-val kept)
    hidden: int = ranged(64, low=1)  # hidden width of every MLP autoencoder
    lrs: tuple[float, ...] = ranged((3e-3, 1e-2, 3e-2), low=0.0, low_open=True)  # Adam lr grid
    manifold_n: int = scaled(smoke=200, quick=1000, full=2000, low=50)  # rows of the 2-D sheets
    neighbors: int = ranged(5, low=1)  # trustworthiness neighbourhood
    probe_code: int = ranged(16, low=1)  # code size of the features the probe reads
    label_fractions: tuple[float, ...] = ranged((0.01, 0.1), low=0.0, high=1.0, low_open=True)
    probe_cs: tuple[float, ...] = ranged((0.1, 1.0, 10.0), low=0.0, low_open=True)  # probe C
    noise: float = ranged(0.3, low=0.0, low_open=True)  # noise std on digits in [0, 1]
    photo_noise: float = ranged(0.1, low=0.0, low_open=True)  # noise std on photo patches
    n_patches: int = scaled(smoke=200, quick=2000, full=6000, low=20)  # training patches
    dae_code: int = ranged(64, low=1)  # DAE code size (denoising needs no tight bottleneck)
    sigmas: tuple[float, ...] = ranged((0.5, 0.7, 1.0, 1.5), low=0.0, low_open=True)  # blur
    median_sizes: tuple[int, ...] = ranged((2, 3), low=1)  # median windows tried
    vae_latent: int = ranged(8, low=1)  # VAE latent size
    beta: float = ranged(1.0, low=0.0)  # VAE KL weight
    n_samples: int = scaled(smoke=50, quick=500, full=2000, low=1)  # generated samples
    full_only_claims: bool = scaled(smoke=False, quick=False, full=True)  # state FULL_ONLY


@register_lab("autoencoders", questions=("Q05",), config=AutoencodersConfig)
def run(cfg: AutoencodersConfig, ctx: LabContext) -> None:
    """Autoencoders for dimensionality reduction, features, denoising and generation, each vs
    its classical baseline."""
    clear_fit_cache()  # a repeated fit (same data, init, settings) reuses its weights
    try:
        _run(cfg, ctx)
    finally:
        clear_fit_cache()


def _run(cfg: AutoencodersConfig, ctx: LabContext) -> None:
    seeds, s0 = ctx.seeds, ctx.seeds[0]
    E, H = cfg.epochs, cfg.hidden
    chosen: list[dict[str, object]] = []

    def tune(arm: str, score) -> float:  # lr per arm on the first seed's validation error
        lr, scores = pick(cfg.lrs, score)
        chosen.extend({"arm": arm, "setting": "lr", "value": v, "val_score": s,
                       "chosen": v == lr} for v, s in scores.items())
        return lr

    clock = SectionClock(ctx)
    # 1. dimensionality reduction
    sheets: dict[str, list[tuple[float, float]]] = {}
    sheet_aa: dict[str, list[float]] = {"nonlinear": [], "linear": []}
    for kind in ("nonlinear", "linear"):
        tr, va, _ = manifold_data(cfg.manifold_n, kind, s0)
        lr = tune(f"ae d=2 {kind} sheet", lambda a, tr=tr, va=va: M.train_ae(
            tr, va, 2, a, E, H, s0, batch_size=SHEET_BATCH)[1])
        sheets[kind] = []
        for s in ctx.progress(seeds, f"{kind} sheet"):
            X, Xv, Xt = manifold_data(cfg.manifold_n, kind, s)
            a, p = M.ae_vs_pca(X, Xv, Xt, 2, lr, E, H, s, batch_size=SHEET_BATCH)[:2]
            sheets[kind].append((a, p))
            if kind == "nonlinear" or cfg.full_only_claims:  # where its claim is judged
                twin = M.train_ae(X, Xv, 2, lr, E, H, s + AA_OFFSET, batch_size=SHEET_BATCH)[0]
                sheet_aa[kind].append(abs(a - M.mse_of(twin, Xt)) / p)  # A/A of 1 - AE/PCA
        if sheet_aa[kind]:
            ctx.metric(f"noise_floor.sheet_{kind}_rel", statistics.fmean(sheet_aa[kind]))
    Xd, _, Xdv, *_ = M.digits(s0)
    dim_lr = {d: tune(f"ae d={d} digits", lambda a, d=d: M.train_ae(Xd, Xdv, d, a, E, H, s0)[1])
              for d in cfg.dims}
    dimred = [M.dimred_digits(s, cfg.dims, dim_lr, E, H, cfg.neighbors, s == s0)
              for s in ctx.progress(seeds, "digits AE vs PCA")]
    d_aa = cfg.dims[0]
    aa, aa_trust = [], []  # A/A: the same AE on the same split, another init
    for s in seeds if cfg.full_only_claims else ():  # its claims are judged at full scale
        X, _, Xv, _, Xt, _ = M.digits(s)
        twins = [M.train_ae(X, Xv, d_aa, dim_lr[d_aa], E, H, s + o)[0] for o in (0, AA_OFFSET)]
        a1, a2 = (M.mse_of(t, Xt) for t in twins)
        aa.append(abs(a1 - a2) / a1)
        t1, t2 = (M.trust_of(t, Xt, cfg.neighbors) for t in twins)
        aa_trust.append(abs(t1 - t2))
    if aa:
        ctx.metric("noise_floor.ae_mse_rel", statistics.fmean(aa))
        ctx.metric(f"noise_floor.ae_trust_d{d_aa}", statistics.fmean(aa_trust))

    clock.lap("dimensionality_reduction")
    # 2. feature learning
    probe_lr = tune(f"ae d={cfg.probe_code} probe features",
                    lambda a: M.train_ae(Xd, Xdv, cfg.probe_code, a, E, H, s0)[1])
    probes = [M.probe(s, cfg.label_fractions, cfg.probe_cs, cfg.probe_code, probe_lr, E, H)
              for s in ctx.progress(seeds, "linear probes")]
    if cfg.full_only_claims:  # the probe claims are judged at full scale: their A/A there
        twins = [M.probe(s, cfg.label_fractions, cfg.probe_cs, cfg.probe_code, probe_lr, E, H,
                         AA_OFFSET) for s in ctx.progress(seeds, "probe A/A")]
        for f in cfg.label_fractions:
            ctx.metric(f"noise_floor.probe_acc_{round(f * 100)}pct", statistics.fmean(
                abs(p.acc["ae"][f] - t.acc["ae"][f]) for p, t in zip(probes, twins, strict=True)))

    clock.lap("feature_learning")
    # 3. denoising
    den: dict[str, list[M.Denoise]] = {}
    for source, noise in (("digits", cfg.noise), ("photos", cfg.photo_noise)):
        lr = _tune_dae(cfg, source, noise, s0, tune)
        den[source] = [M.denoise(s, source, noise, cfg.sigmas, cfg.median_sizes, lr, E, 2 * H,
                                 cfg.dae_code, cfg.n_patches, 6 if s == s0 else 0, AA_OFFSET)
                       for s in ctx.progress(seeds, f"denoising {source}")]
        ctx.metric(f"noise_floor.dae_{source}_psnr_db", statistics.fmean(
            abs(r.psnr["dae"] - r.psnr["dae_aa"]) for r in den[source]))

    clock.lap("denoising")
    # 4. generation
    gen_lr = tune("vae", lambda a: _vae_val(cfg, s0, a))
    gens = [M.generation(s, cfg.vae_latent, gen_lr, E, H, cfg.beta, cfg.n_samples)
            for s in ctx.progress(seeds, "VAE samples")]
    if cfg.full_only_claims:  # vae-samples-look-like-digits is judged at full scale
        twins = [M.generation(s, cfg.vae_latent, gen_lr, E, H, cfg.beta, cfg.n_samples,
                              AA_OFFSET) for s in ctx.progress(seeds, "VAE A/A")]
        ctx.metric("noise_floor.vae_conf", statistics.fmean(
            abs(g.conf_vae - t.conf_vae) for g, t in zip(gens, twins, strict=True)))

    clock.lap("generation")
    for source, runs in den.items():
        chosen += [{"arm": f"blur {source}", "setting": "sigma", "value": r.sigma,
                    "val_score": None, "chosen": True} for r in runs]
        chosen += [{"arm": f"median {source}", "setting": "size", "value": r.size,
                    "val_score": None, "chosen": True} for r in runs]
    for s, p in zip(seeds, probes, strict=True):
        chosen += [{"arm": f"probe {k} {f:g} seed {s}", "setting": "C", "value": c,
                    "val_score": None, "chosen": True}
                   for k, per in p.chosen_c.items() for f, c in per.items()]
    ctx.table("chosen_settings", chosen)
    _tables(ctx, cfg, seeds, sheets, dimred, probes, den, gens)
    plot_all(ctx, cfg, sheets, dimred, probes, den, gens)
    state_claims(ctx, cfg, sheets, dimred, probes, den, gens, aa)
    record_sections(ctx, SECTIONS)
    if not cfg.full_only_claims:
        ctx.hold_for_full_scale(FULL_ONLY)



def _tune_dae(cfg: AutoencodersConfig, source: str, noise: float, seed: int, tune) -> float:
    """The DAE's lr on the first seed: validation MSE of its output on noisy validation inputs."""
    import torch

    if source == "digits":
        X, _, Xv, *_ = M.digits(seed)
    else:
        X, Xv, _ = M.photo_patches(cfg.n_patches, 8, seed)
    Nv = Xv + noise * torch.randn(Xv.shape, generator=torch.Generator().manual_seed(seed + 1))

    return tune(f"dae {source}", lambda lr: M.fit_dae(
        X, Xv, Nv, noise, lr, cfg.epochs, 2 * cfg.hidden, cfg.dae_code, seed)[1])


def _vae_val(cfg: AutoencodersConfig, seed: int, lr: float) -> float:
    X, _, Xv, *_ = M.digits(seed)
    return M.fit_vae(X, Xv, cfg.vae_latent, lr, cfg.epochs, cfg.hidden, cfg.beta, seed)[1]


def _tables(ctx: LabContext, cfg: AutoencodersConfig, seeds: list[int], sheets, dimred, probes,
            den, gens) -> None:
    ctx.table("sheets", [{"data": k, "seed": s, "ae_mse": a, "pca_mse": p}
                         for k, v in sheets.items() for s, (a, p) in zip(seeds, v, strict=True)])
    ctx.table("digits_dimred", [{"seed": s, "d": d, "ae_mse": r.ae_mse[d], "pca_mse": r.pca_mse[d],
                                 "ae_trust_d2": r.ae_trust, "pca_trust_d2": r.pca_trust}
                                for s, r in zip(seeds, dimred, strict=True) for d in cfg.dims])
    ctx.table("probe", [{"seed": s, "features": k, "labels": f, "test_acc": a}
                        for s, p in zip(seeds, probes, strict=True)
                        for k, per in p.acc.items() for f, a in per.items()])
    ctx.table("denoising", [{"data": src, "seed": s, "method": m, "psnr_db": r.psnr[m],
                             "ssim": r.ssim[m]}
                            for src, runs in den.items() for s, r in zip(seeds, runs, strict=True)
                            for m in r.psnr])
    ctx.table("generation", [{"seed": s, "conf_real": g.conf_real, "conf_vae": g.conf_vae,
                              "conf_gaussian": g.conf_gauss, "kl_test": g.kl}
                             for s, g in zip(seeds, gens, strict=True)])
    for d in cfg.dims:
        ctx.metric(f"digits.ae_mse.d{d}", statistics.fmean(r.ae_mse[d] for r in dimred))
        ctx.metric(f"digits.pca_mse.d{d}", statistics.fmean(r.pca_mse[d] for r in dimred))
    ctx.metric("generation.conf_real", float(np.mean([g.conf_real for g in gens])))
