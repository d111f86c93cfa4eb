"""Plots of a study: optimization history, parameter importances, parallel coordinates.

Drawn with plain matplotlib (no experimental Optuna plotting API). Each function takes an
``optuna.Study`` and an optional ``ax`` and returns the figure it drew on.
"""

from __future__ import annotations

import math
from typing import Any

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState


def _axes(ax: Any, size: tuple[float, float]) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=size)
        return fig, ax
    return ax.figure, ax


def plot_history(study: optuna.Study, ax: Any = None) -> Any:
    """Objective value of every trial in order, and the best value so far (a step line).

    Pruned trials are drawn as crosses at their last reported intermediate value.
    """
    fig, ax = _axes(ax, (6.0, 3.8))
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED and t.intermediate_values]
    xs = [t.number for t in done]
    ys = [t.value for t in done]
    ax.scatter(xs, ys, s=18, label="complete", color="tab:blue")
    if pruned:
        last = [t.intermediate_values[max(t.intermediate_values)] for t in pruned]
        ax.scatter([t.number for t in pruned], last, marker="x", s=22, color="tab:gray",
                   label="pruned (last report)")
    best, run = [], -math.inf if maximize else math.inf
    for y in ys:
        run = max(run, y) if maximize else min(run, y)
        best.append(run)
    if xs:
        ax.step(xs, best, where="post", color="tab:red", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel("objective value")
    ax.set_title(f"Optimization history: {study.study_name}")
    ax.legend(fontsize=8)
    return fig


def plot_importances(importances: dict[str, float], ax: Any = None, title: str = "") -> Any:
    """Horizontal bars of fANOVA importances (fractions of the objective's variance)."""
    fig, ax = _axes(ax, (5.5, 0.45 * max(len(importances), 2) + 1.2))
    names = list(importances)[::-1]  # most important on top
    ax.barh(names, [importances[n] for n in names], color="tab:green")
    ax.set_xlabel("fANOVA importance (share of variance)")
    ax.set_title(title or "Hyperparameter importances")
    ax.set_xlim(0, max([*importances.values(), 1e-9]) * 1.1)
    return fig


def _scale(dist: Any, value: Any) -> float:
    """Map one parameter value to [0, 1] on its distribution's axis (log axes in log)."""
    if isinstance(dist, CategoricalDistribution):
        n = len(dist.choices)
        return dist.to_internal_repr(value) / max(n - 1, 1)
    if isinstance(dist, (FloatDistribution, IntDistribution)):
        lo, hi, v = float(dist.low), float(dist.high), float(value)
        if dist.log:
            lo, hi, v = math.log(lo), math.log(hi), math.log(v)
        return 0.5 if hi == lo else (v - lo) / (hi - lo)
    return 0.5


def _ends(dist: Any) -> tuple[str, str]:
    if isinstance(dist, CategoricalDistribution):
        return str(dist.choices[0]), str(dist.choices[-1])
    return f"{dist.low:.3g}", f"{dist.high:.3g}"


def plot_parallel_coordinates(study: optuna.Study, ax: Any = None) -> Any:
    """One line per complete trial across the parameter axes, coloured by objective value.

    Each axis spans its distribution (log axes in log space; categorical choices evenly
    spaced); the axis ends are labelled with the range's ends.
    """
    import matplotlib.pyplot as plt

    fig, ax = _axes(ax, (7.5, 4.0))
    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    names = sorted({n for t in done for n in t.params})
    if not done or not names:
        ax.set_title("Parallel coordinates: no complete trials")
        return fig
    values = [t.value for t in done]
    lo, hi = min(values), max(values)
    cmap = plt.get_cmap("viridis")
    order = sorted(range(len(done)), key=lambda i: values[i])  # best drawn last (on top)
    if study.direction == optuna.study.StudyDirection.MINIMIZE:
        order = order[::-1]
    for i in order:
        t = done[i]
        ys = [_scale(t.distributions[n], t.params[n]) if n in t.params else math.nan
              for n in names]
        c = cmap(0.5 if hi == lo else (values[i] - lo) / (hi - lo))
        ax.plot(range(len(names)), ys, color=c, alpha=0.75, linewidth=1.2)
    dists = {n: next(t.distributions[n] for t in done if n in t.params) for n in names}
    ax.set_xticks(range(len(names)), [f"{n}\n{_ends(dists[n])[0]}..{_ends(dists[n])[1]}"
                                      for n in names], fontsize=7)
    for k in range(len(names)):
        ax.axvline(k, color="black", linewidth=0.6)
    ax.set_yticks([0, 1], ["low", "high"])
    ax.set_ylabel("position in range")
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(lo, hi))
    fig.colorbar(sm, ax=ax, label="objective value")
    ax.set_title(f"Parallel coordinates: {study.study_name}")
    return fig
