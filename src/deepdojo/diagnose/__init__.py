"""The training doctor: gradient and activation monitors, rules that name problems and remedies.

* :class:`GradientMonitor` — per-layer gradient norm, weight norm, update/weight ratio per step.
* :class:`ActivationMonitor` — per-layer activation mean/std, saturated and dead fractions.
* :func:`check_collapse`, :class:`CollapseMonitor` — has a self-supervised embedding collapsed
  (normalised std, effective rank)? Once, or every epoch as a Trainer callback.
* :func:`diagnose` — one batch in, a list of :class:`Finding` out (rules in :mod:`.rules`).
* :class:`Doctor` — a Trainer callback applying the same rules while training.
* :func:`plot_gradient_flow`, :func:`plot_gradient_heatmap` — the two standard charts.

Both monitors hook into the model only while attached (``with`` block or attach/detach), so
they work with the Trainer and with any hand-written loop (see :mod:`.doctor` for a recipe).
"""

from deepdojo.diagnose.activations import ActivationMonitor, activation_stats
from deepdojo.diagnose.collapse import (
    CollapseMonitor,
    check_collapse,
    effective_rank,
    embedding_std,
)
from deepdojo.diagnose.doctor import Doctor, diagnose
from deepdojo.diagnose.monitors import GradientMonitor, weight_layers
from deepdojo.diagnose.plots import plot_gradient_flow, plot_gradient_heatmap
from deepdojo.diagnose.rules import KINDS, REMEDIES, Finding, Thresholds, check

__all__ = [
    "KINDS",
    "REMEDIES",
    "ActivationMonitor",
    "CollapseMonitor",
    "Doctor",
    "Finding",
    "GradientMonitor",
    "Thresholds",
    "activation_stats",
    "check",
    "check_collapse",
    "diagnose",
    "effective_rank",
    "embedding_std",
    "plot_gradient_flow",
    "plot_gradient_heatmap",
    "weight_layers",
]
