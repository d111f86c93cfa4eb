r"""The doctor's rules: from per-layer numbers to named findings with remedies.

The same rules serve :func:`~deepdojo.diagnose.diagnose` (one batch) and the
:class:`~deepdojo.diagnose.Doctor` callback (during training). Inputs are the per-layer
gradient norms :math:`\|G_l\|` of the weight layers in model order (first = input side,
last = output side), the activation statistics of :class:`~deepdojo.diagnose.ActivationMonitor`
and the loss. With :math:`r = \|G_\text{first}\| / \|G_\text{last}\|`:

============  =====================================================================  ==========
kind          rule (defaults of :class:`Thresholds`)                                  layers
============  =====================================================================  ==========
non_finite    the loss or any layer's gradient norm is NaN/inf                        non-finite
vanishing     :math:`r < 10^{-2}` (``vanishing_ratio``): the input-side gradient is     layers below
              over 100× smaller than the output-side one                             0.01·last
exploding     :math:`r > 10^{2}` (``exploding_ratio``) or any
              :math:`\|G_l\| > 10^{3}` (``exploding_norm``; meant for losses averaged  layers above
              over the batch)                                                        100·last
dead_units    a ReLU/ReLU6 layer has ≥ 50% (``dead_fraction``) units never positive   those layers
              on the batch
saturation    a sigmoid/tanh layer has ≥ 50% (``saturated_fraction``) outputs within  those layers
              0.02 of a bound (see :func:`~deepdojo.diagnose.monitors.activation_stats`)
healthy       none of the above fired
============  =====================================================================  ==========

The gradient rules are skipped when a gradient is non-finite (the ratio means nothing then);
when the first and last gradients are both zero, :math:`r` is NaN and only the
``exploding_norm`` rule can fire.
Remedies come from Q07 and are listed per kind in :data:`REMEDIES`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = ("vanishing", "exploding", "dead_units", "saturation", "non_finite", "healthy")

REMEDIES: dict[str, list[str]] = {
    "vanishing": [
        "He/Xavier initialization matched to the activation",
        "a ReLU-family activation instead of sigmoid/tanh",
        "batch normalization before the activations",
        "skip (residual) connections",
    ],
    "exploding": [
        "gradient clipping by global norm",
        "gradient normalization",
        "weight regularization (L2 penalty / weight decay)",
        "a lower learning rate with warmup and decay",
        "smaller initial weights (He/Xavier scale)",
    ],
    "dead_units": [
        "a lower learning rate",
        "LeakyReLU/GELU instead of ReLU",
        "He initialization with zero biases",
        "batch normalization before the activations",
    ],
    "saturation": [
        "smaller initial weights (Xavier scale)",
        "batch normalization before the activations",
        "a ReLU-family activation",
        "standardized inputs",
    ],
    "non_finite": [
        "a lower learning rate",
        "gradient clipping",
        "check the inputs and targets for NaN/inf",
        "the non-finite guard (skip the bad step)",
    ],
    "healthy": [],
}

_NOTES = {
    "vanishing": "gradient clipping does not help here: it only ever shrinks gradients",
}


@dataclass(frozen=True)
class Thresholds:
    """The rules' thresholds (see the module docstring for what each one judges)."""

    vanishing_ratio: float = 1e-2  # r = |G_first|/|G_last| below this: vanishing
    exploding_ratio: float = 1e2  # r above this: exploding
    exploding_norm: float = 1e3  # any layer's gradient norm above this: exploding
    dead_fraction: float = 0.5  # share of never-positive units that flags a ReLU layer
    saturated_fraction: float = 0.5  # share of saturated outputs that flags a sigmoid/tanh layer

    def __post_init__(self) -> None:
        for name in ("vanishing_ratio", "exploding_ratio", "exploding_norm",
                     "dead_fraction", "saturated_fraction"):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{name} must be a number, got {value!r} "
                                f"({type(value).__name__})")  # fmt: skip
            if name.endswith("fraction") and not 0 < value <= 1:
                raise ValueError(f"{name} must be a fraction in (0, 1], got {value!r}")
            if not name.endswith("fraction") and not value > 0:
                raise ValueError(f"{name} must be > 0, got {value!r}")
        if self.vanishing_ratio > self.exploding_ratio:
            raise ValueError(f"vanishing_ratio must not exceed exploding_ratio, got "
                             f"{self.vanishing_ratio!r} > {self.exploding_ratio!r}")  # fmt: skip


@dataclass
class Finding:
    """One diagnosis: what (``kind``), where (``layers``), why (``evidence``), what to do.

    Attributes
    ----------
    kind : str
        One of ``vanishing``, ``exploding``, ``dead_units``, ``saturation``, ``non_finite``,
        ``healthy``.
    layers : list[str]
        The layers involved (module names).
    evidence : dict[str, float]
        The numbers the rule judged (e.g. ``first_to_last_ratio``).
    remedies : list[str]
        Fixes that fit this kind (from Q07).
    message : str
        One readable sentence.
    step : int or None
        Training step at which it was first seen (set by the Doctor).
    """

    kind: str
    layers: list[str]
    evidence: dict[str, float]
    remedies: list[str] = field(default_factory=list)
    message: str = ""
    step: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (non-finite numbers as strings)."""
        out = asdict(self)
        out["evidence"] = {
            k: v if isinstance(v, int | str) or math.isfinite(v) else str(v)
            for k, v in self.evidence.items()
        }
        return out


def _finding(kind: str, layers: list[str], evidence: dict[str, float], message: str) -> Finding:
    note = _NOTES.get(kind)
    return Finding(kind, layers, evidence, list(REMEDIES[kind]),
                   f"{message} ({note})" if note else message)  # fmt: skip


def _gradient_findings(grads: Mapping[str, float], th: Thresholds) -> list[Finding]:
    names, norms = list(grads), list(grads.values())
    first, last = norms[0], norms[-1]
    # no gradient at the output side: x/0 is inf, but 0/0 says nothing (no ratio rule fires)
    ratio = first / last if last > 0 else (math.inf if first > 0 else math.nan)
    evidence = {"first_to_last_ratio": ratio, "first_grad_norm": first,
                "last_grad_norm": last, "max_grad_norm": max(norms)}  # fmt: skip
    out = []
    if ratio < th.vanishing_ratio:
        small = [n for n, g in grads.items() if g < th.vanishing_ratio * last]
        out.append(_finding("vanishing", small, evidence,
                            f"gradient at {names[0]!r} is {ratio:.2e} of the one at {names[-1]!r}"))
    big = max(norms) > th.exploding_norm
    if ratio > th.exploding_ratio or big:
        layers = [n for n, g in grads.items()
                  if g > th.exploding_ratio * last or g > th.exploding_norm]  # fmt: skip
        out.append(_finding("exploding", layers, evidence,
                            f"gradient grows to {max(norms):.2e} (first/last ratio {ratio:.2e})"))
    return out


def _activation_findings(acts: Mapping[str, Mapping[str, Any]], th: Thresholds) -> list[Finding]:
    out = []
    dead = {n: s["dead"] for n, s in acts.items() if s["dead"] >= th.dead_fraction}
    if dead:
        worst = max(dead.values())
        out.append(_finding("dead_units", list(dead), {"max_dead_fraction": worst,
                            "layers_flagged": float(len(dead))},
                            f"up to {worst:.0%} of ReLU units never fire in {len(dead)} layer(s)"))
    sat = {n: s["saturated"] for n, s in acts.items()
           if s["saturated"] >= th.saturated_fraction}  # fmt: skip
    if sat:
        worst = max(sat.values())
        out.append(_finding("saturation", list(sat), {"max_saturated_fraction": worst,
                            "layers_flagged": float(len(sat))},
                            f"up to {worst:.0%} of outputs saturated in {len(sat)} layer(s)"))
    return out


def check(
    grad_norms: Mapping[str, float],
    activations: Mapping[str, Mapping[str, Any]] | None = None,
    loss: float | None = None,
    thresholds: Thresholds | None = None,
) -> list[Finding]:
    """Apply the rules of this module and return the findings (``[healthy]`` when none fire).

    Parameters
    ----------
    grad_norms : mapping layer -> float
        Per-layer gradient norms in model order (input side first); at least one layer.
    activations : mapping layer -> stats, optional
        ``ActivationMonitor.latest()`` output (keys ``dead`` and ``saturated``, NaN = n/a).
    loss : float, optional
        The batch loss, checked for being finite.
    thresholds : Thresholds, optional
        Rule thresholds (defaults documented above).
    """
    if thresholds is not None and not isinstance(thresholds, Thresholds):
        raise TypeError(f"thresholds must be a Thresholds, got {type(thresholds).__name__}; "
                        "use Thresholds(...), e.g. Thresholds(**your_dict)")  # fmt: skip
    th = thresholds or Thresholds()
    if not grad_norms:
        raise ValueError("grad_norms is empty: the model has no weight layer with a gradient")
    findings: list[Finding] = []
    bad = [n for n, g in grad_norms.items() if not math.isfinite(g)]
    if bad or (loss is not None and not math.isfinite(loss)):
        evidence = {"loss": float("nan") if loss is None else loss,
                    "non_finite_layers": float(len(bad))}  # fmt: skip
        findings.append(_finding("non_finite", bad, evidence,
                                 f"non-finite loss or gradients in {len(bad)} layer(s)"))
    else:
        findings += _gradient_findings(grad_norms, th)
    findings += _activation_findings(activations or {}, th)
    if not findings:
        ratio = list(grad_norms.values())[0] / max(list(grad_norms.values())[-1], 1e-300)
        findings.append(Finding("healthy", [], {"first_to_last_ratio": ratio}, [],
                                "no rule fired"))
    return findings
