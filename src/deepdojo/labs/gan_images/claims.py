"""The ``gan-images`` lab's claims: rules and margins fixed here, before any run."""

from __future__ import annotations

import math
import statistics
from typing import Any

from deepdojo.labs.framework import AtLeast, EverySeed, Greater, LabContext, Less

LOG_FD_MARGIN = 0.2  # "lower Frechet distance" = at least ~18% lower (log units)
PR_MARGIN = 0.05  # precision / recall points
# the GAN-vs-VAE margins in use: max(fixed margin, A/A noise floor) -- no margin inside the
# floor (the floor: mean over seeds of |arm - its twin|, the larger of the GAN's and the VAE's;
# NaN where no twin was trained, then the fixed margin)
MIN_MARGIN = {"log_fd": LOG_FD_MARGIN, "precision": PR_MARGIN, "recall": PR_MARGIN}
MATCH_MARGIN = 0.10  # attribute match rate above the real-data rate
DIGIT_ACC = 0.7  # the prompted digit is recognised at least this often
# decided at full scale only (see the lab docstring): their quick verdicts were inconclusive
# or changed between the seed sets 0, 7 and 12345
FULL_ONLY = ("gan-digits-fd-below-vae", "gan-mnist1d-fd-below-vae", "gan-mnist1d-covers-all-modes",
             "gan-mnist1d-recall-above-vae", "t2i-thickness-follows-prompt")


def _log(xs: list[float]) -> list[float]:
    return [math.log(x) if x > 0 and math.isfinite(x) else math.inf for x in xs]


def _m(xs: list[float]) -> float:
    return statistics.fmean(xs)


def _metric(s: Any, m: str) -> float:
    if m == "log_fd":
        return math.log(s.fd) if s.fd > 0 and math.isfinite(s.fd) else math.inf
    return float(getattr(s, m))


def aa_floor(runs: list, arm: str, m: str) -> float:
    """The A/A noise floor of ``arm`` ("gan" or "vae") on measure ``m`` (log_fd, precision,
    recall): the mean over seeds of ``|arm - its twin|``; NaN without twins or when a value
    is not finite."""
    twins = [getattr(g, f"{arm}_aa") for g in runs]
    if any(t is None for t in twins):
        return math.nan
    diffs = [abs(_metric(getattr(g, arm), m) - _metric(t, m)) for g, t in zip(runs, twins,
                                                                             strict=True)]
    return _m(diffs) if all(math.isfinite(d) for d in diffs) else math.nan


def margins(runs: list) -> dict[str, float]:
    """``max(MIN_MARGIN[m], floor_gan(m), floor_vae(m))`` per measure (NaN floors ignored)."""
    out = {}
    for m, lo in MIN_MARGIN.items():
        floors = [f for f in (aa_floor(runs, "gan", m), aa_floor(runs, "vae", m))
                  if not math.isnan(f)]
        out[m] = max([lo, *floors])
    return out


def state_claims(ctx: LabContext, cfg: Any, gens: dict, t2i: list, floors: dict) -> None:
    for name, runs in gens.items():
        model = "DCGAN" if name == "digits" else "MLP GAN"
        data = "8x8 digits" if name == "digits" else "MNIST-1D"
        gan, vae, real = ([getattr(g, arm) for g in runs] for arm in ("gan", "vae", "real"))
        facts = {"gan_fd": _m([s.fd for s in gan]), "vae_fd": _m([s.fd for s in vae]),
                 "real_fd": _m([s.fd for s in real]), "floor": floors[name],
                 "gan_p": _m([s.precision for s in gan]), "gan_r": _m([s.recall for s in gan]),
                 "vae_p": _m([s.precision for s in vae]), "vae_r": _m([s.recall for s in vae]),
                 "modes_min": min(s.modes for s in gan), "epochs": cfg.gan_epochs,
                 **{f"floor_{arm}_{m}": aa_floor(runs, arm, m) for arm in ("gan", "vae")
                    for m in MIN_MARGIN}}
        mg = margins(runs)
        requires = {"no GAN run diverged": not any(g.gan_run.diverged for g in runs)}
        if cfg.aa_twin:
            requires["no A/A twin GAN diverged"] = not any(g.aa_diverged for g in runs)
        ctx.claim(
            f"gan-{name}-fd-below-vae",
            f"On {data}, the {model}'s samples are closer to real test data than the VAE's "
            "(lower Frechet distance on the judge's features)",
            Less(margin=mg["log_fd"]), a=_log([s.fd for s in gan]), b=_log([s.fd for s in vae]),
            metric="log Frechet distance to the test split, A = GAN, B = VAE (each at its best "
                   "validation-FD checkpoint)",
            why={"does not hold": "FD {gan_fd:.2f} (GAN) vs {vae_fd:.2f} (VAE), real vs real "
                                  "{real_fd:.2f}, after {epochs} GAN epochs: the VAE's decoded "
                                  "means sit near class prototypes in the judge's feature "
                                  "space, which the GAN has not matched at this budget "
                                  "(A/A floors: GAN {floor_gan_log_fd:.2f}, VAE "
                                  "{floor_vae_log_fd:.2f})."},
            facts=facts, requires=requires,
        )
        ctx.claim(
            f"gan-{name}-above-real-floor",
            f"Check: on {data}, the {model} has not reached the real-vs-real floor: its "
            "Frechet distance stays above that of a second real sample (any imperfect "
            "generator does; it places the other distances)",
            Greater(margin=LOG_FD_MARGIN), a=_log([s.fd for s in gan]),
            b=_log([s.fd for s in real]),
            metric="log Frechet distance to the test split, A = GAN, B = real training images",
            kind="check",
            why={"does not hold": "FD {gan_fd:.2f} (GAN) vs {real_fd:.2f} (real): the GAN's "
                                  "samples are as close to test data as real images are."},
            facts=facts,
        )
        ctx.claim(
            f"gan-{name}-covers-all-modes",
            f"On {data}, the {model} covers all 10 classes (no mode collapse) on every seed",
            EverySeed(AtLeast(10)), values=[float(s.modes) for s in gan],
            metric="classes the judge finds with >= 10% of a uniform share",
            why={"does not hold": "as few as {modes_min} of 10 classes on a seed after {epochs} "
                                  "epochs: a class the generator rarely makes."},
            facts=facts,
        )
        ctx.claim(
            f"gan-{name}-precision-above-vae",
            f"On {data}, more of the {model}'s samples lie on the real-data manifold than the "
            "VAE's (precision)",
            Greater(margin=mg["precision"]), a=[s.precision for s in gan],
            b=[s.precision for s in vae],
            metric=f"improved precision (k = {cfg.k}, as many samples as test images), "
                   "A = GAN, B = VAE",
            why={"does not hold": "precision {gan_p:.2f} (GAN) vs {vae_p:.2f} (VAE): in the "
                                  "judge's feature space the VAE's smooth decoded means look "
                                  "like typical digits, while part of the GAN's samples fall "
                                  "between classes."},
            facts=facts,
        )
        ctx.claim(
            f"gan-{name}-recall-above-vae",
            f"On {data}, the {model}'s samples cover more of the real data's variety than the "
            "VAE's (recall)",
            Greater(margin=mg["recall"]), a=[s.recall for s in gan], b=[s.recall for s in vae],
            metric=f"improved recall (k = {cfg.k}, as many samples as test images), "
                   "A = GAN, B = VAE",
            why={"does not hold": "recall {gan_r:.2f} (GAN) vs {vae_r:.2f} (VAE)."},
            facts=facts,
        )
        ctx.claim(
            f"real-{name}-covers-all-modes",
            f"Check: a real sample of {data} covers all 10 classes and is near the test set",
            EverySeed(AtLeast(10)), values=[float(s.modes) for s in real], kind="check",
            metric="classes the judge finds in real training images",
        )
    _text_claims(ctx, t2i)


def _text_claims(ctx: LabContext, t2i: list) -> None:
    facts = {"acc_real": _m([t.digit_acc_real for t in t2i]), "encoder": t2i[0].backend,
             "thick_shuf": _m([t.thick_shuffled for t in t2i]),
             "slant_shuf": _m([t.slant_shuffled for t in t2i])}
    requires = {"no GAN run diverged": not any(t.gan_run.diverged for t in t2i)}
    ctx.claim(
        "t2i-prompted-digit-recognised",
        "A DCGAN conditioned on the prompt's text embedding draws the prompted digit: the judge "
        "recognises it",
        AtLeast(DIGIT_ACC), values=[t.digit_acc for t in t2i],
        metric="judge's accuracy on the prompted digit (chance 0.1)",
        why={"does not hold": "{mean:.2f} of the samples are read as the prompted digit (real "
                              "test images: {acc_real:.2f}; encoder {encoder})."},
        facts=facts, requires=requires,
    )
    for attr, word in (("thick", "thickness"), ("slant", "slant")):
        ctx.claim(
            f"t2i-{word}-follows-prompt",
            f"The samples match the prompted {word} more often than a random real image of "
            "the prompted digit does",
            Greater(margin=MATCH_MARGIN), a=[getattr(t, f"{attr}_match") for t in t2i],
            b=[getattr(t, f"{attr}_real") for t in t2i],
            metric=f"{word} match rate, A = samples, B = random real image of the same digit",
            why={"does not hold": "{a_mean:.2f} vs {b_mean:.2f} (the samples scored against "
                                  f"shuffled same-digit prompts: {{{attr}_shuf:.2f}}): the "
                                  f"generator does not act on the {word} words of the prompt "
                                  "at this budget."},
            facts=facts, requires=requires,
        )
