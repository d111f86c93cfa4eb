"""Lab: random search vs TPE vs TPE with median pruning at an equal trial budget (Q15).

Setup. Each strategy gets the same number of trials of the same search space: a plain MLP on
the digits data (learning rate log-uniform over four decades, optimizer, batch size, depth,
width, dropout), trained for ``epochs`` epochs per trial by
:class:`deepdojo.search.ModelObjective`, which reports each epoch's validation accuracy to the
trial. Strategies: Optuna's ``RandomSampler``; ``TPESampler`` (after ``startup`` random trials
it models good vs bad configurations); and TPE with a ``MedianPruner`` (a trial whose
validation accuracy at some epoch is below the median of earlier trials at that epoch is
stopped). Every seed uses a different data split, initialization and sampler seed.

Measured per seed and strategy: the best validation accuracy found, the total epochs trained
over all trials (the search's compute cost: deterministic, unlike wall time on a shared
machine), the wall time of the whole search (reported, not judged), and how many trials were
pruned. Studies live in an in-memory storage (nothing is
written outside the run folder).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

import optuna

from deepdojo.labs import LabContext, register_lab
from deepdojo.search import Categorical, Float, Int, ModelObjective, tune

STRATEGIES = ("random", "tpe", "tpe+pruning")
COLORS = {"random": "tab:gray", "tpe": "tab:blue", "tpe+pruning": "tab:orange"}
STYLES = {"random": "-", "tpe": "-", "tpe+pruning": "--"}  # dashed: may overlap plain TPE


@dataclass
class SearchLabConfig:
    trials: int = 0  # trials per strategy and seed; 0 = by scale (smoke 3, quick 14, full 40)
    epochs: int = 0  # epochs per trial (the pruner's steps); 0 = by scale (1, 6, 10)
    startup: int = 5  # TPE's random startup trials (and the pruner's startup trials)
    lr_low: float = 1e-4  # learning-rate range, log-uniform
    lr_high: float = 1.0  # (too large a rate diverges: the sampler must learn to avoid it)
    cost_ratio_max: float = 0.9  # claim: pruned TPE's total epochs trained <= this x TPE's
    quality_tolerance: float = 0.02  # claim: pruning costs at most this much best val acc


def _space(cfg: SearchLabConfig) -> dict[str, Any]:
    return {
        "lr": Float(cfg.lr_low, cfg.lr_high, log=True),
        "optimizer": Categorical(("sgd", "adam")),
        "batch_size": Categorical((32, 64, 128)),
        "depth": Int(2, 4),
        "width": Categorical((16, 32, 64)),
        "dropout": Float(0.0, 0.5),
    }


def _search(cfg: SearchLabConfig, strategy: str, seed: int, trials: int, epochs: int) -> Any:
    """One study of ``trials`` trials with ``strategy``; returns the TuneResult."""
    objective = ModelObjective("plain_mlp", "digits", _space(cfg), epochs=epochs, seed=seed)
    if strategy == "random":
        sampler: Any = optuna.samplers.RandomSampler(seed=seed)
    else:
        sampler = optuna.samplers.TPESampler(n_startup_trials=cfg.startup, seed=seed)
    pruner: Any = None
    if strategy == "tpe+pruning":
        pruner = optuna.pruners.MedianPruner(n_startup_trials=cfg.startup, n_warmup_steps=1)
    return tune(objective, n_trials=trials, storage=None, study_name=f"{strategy}-{seed}",
                sampler=sampler, pruner=pruner, progress="off")


def _epochs_trained(result: Any) -> int:
    """Total epochs trained over all trials of a study: each trial reports once per epoch, so
    a pruned trial counts the epochs it ran before it was stopped."""
    return sum(len(t.intermediate_values) for t in result.study.trials)


def _best_so_far(result: Any) -> list[float]:
    """Best complete value after each trial (pruned trials keep the previous best)."""
    best, out = 0.0, []
    for t in result.study.trials:
        if t.state == optuna.trial.TrialState.COMPLETE:
            best = max(best, t.value)
        out.append(best)
    return out


def _plot_curves(runs: dict[str, list[Any]]) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.2, 3.8))
    for s in STRATEGIES:
        curves = [_best_so_far(r) for r in runs[s]]
        n = min(len(c) for c in curves)
        mean = [statistics.fmean(c[i] for c in curves) for i in range(n)]
        for c in curves:
            ax.plot(range(1, n + 1), c[:n], color=COLORS[s], alpha=0.25, linewidth=0.8)
        ax.plot(range(1, n + 1), mean, STYLES[s], color=COLORS[s], linewidth=2,
                label=f"{s} (mean)")
    ax.set_xlabel("trial")
    ax.set_ylabel("best validation accuracy so far")
    ax.set_title("Search progress at an equal trial budget (thin: one seed)", fontsize=10)
    ax.legend(fontsize=8)
    return fig


def _plot_cost(rows: list[dict[str, Any]]) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=(11.0, 3.4))
    for ax, key, label in ((a1, "epochs_trained", "epochs trained in the search"),
                           (a2, "wall_s", "wall time of the search (s)"),
                           (a3, "pruned", "trials pruned")):
        means = [statistics.fmean(r[key] for r in rows if r["strategy"] == s) for s in STRATEGIES]
        ax.bar(STRATEGIES, means, color=[COLORS[s] for s in STRATEGIES])
        for i, s in enumerate(STRATEGIES):
            vals = [r[key] for r in rows if r["strategy"] == s]
            ax.scatter([i] * len(vals), vals, color="black", s=12, zorder=3)
        ax.set_ylabel(label)
        ax.set_title(f"{label} (bar: mean, dots: seeds)", fontsize=9)
    fig.tight_layout()
    return fig


def _claims(ctx: LabContext, cfg: SearchLabConfig, rows: list[dict[str, Any]]) -> None:
    def per_seed(strategy: str, key: str) -> list[float]:
        return [r[key] for r in rows if r["strategy"] == strategy]

    tpe, rnd, pr = (per_seed(s, "best_val_acc") for s in ("tpe", "random", "tpe+pruning"))
    diff = [a - b for a, b in zip(tpe, rnd, strict=True)]
    ctx.claim("tpe-vs-random",
              "At an equal trial budget, TPE finds a configuration at least as good as random "
              "search (best validation accuracy)",
              rule="mean over seeds of best_val_acc(TPE) - best_val_acc(random) >= 0",
              values=diff, holds=statistics.fmean(diff) >= 0, seed_rule=lambda v: v >= 0)
    cost = [a / b for a, b in zip(per_seed("tpe+pruning", "epochs_trained"),
                                  per_seed("tpe", "epochs_trained"), strict=True)]
    ctx.claim("pruning-saves-time",
              "Median pruning makes a TPE search of the same number of trials cheaper: it "
              "trains fewer epochs in total (wall time is reported but not judged: it is noisy "
              "on a shared machine)",
              rule=f"mean over seeds of epochs_trained(TPE+pruning) / epochs_trained(TPE) <= "
                   f"{cfg.cost_ratio_max}",
              values=cost, holds=statistics.fmean(cost) <= cfg.cost_ratio_max,
              seed_rule=lambda v: v <= cfg.cost_ratio_max)
    loss = [a - b for a, b in zip(tpe, pr, strict=True)]
    ctx.claim("pruning-keeps-quality",
              "Pruning costs little search quality: the best validation accuracy stays close "
              "to that of TPE without pruning",
              rule=f"mean over seeds of best_val_acc(TPE) - best_val_acc(TPE+pruning) <= "
                   f"{cfg.quality_tolerance}",
              values=loss, holds=statistics.fmean(loss) <= cfg.quality_tolerance,
              seed_rule=lambda v: v <= cfg.quality_tolerance)


@register_lab("search", questions=("Q15",), config=SearchLabConfig)
def run(cfg: SearchLabConfig, ctx: LabContext) -> None:
    """Random search vs TPE vs TPE with pruning: best validation accuracy, cost, pruning."""
    trials = cfg.trials or ctx.pick(smoke=3, quick=14, full=40)
    epochs = cfg.epochs or ctx.pick(smoke=1, quick=6, full=10)
    runs: dict[str, list[Any]] = {s: [] for s in STRATEGIES}
    rows: list[dict[str, Any]] = []
    _search(cfg, "random", ctx.seed, 1, 1)  # warm-up (data load, first kernels): not timed
    jobs = [(s, seed) for seed in ctx.seeds for s in STRATEGIES]
    for strategy, seed in ctx.progress(jobs, "searches", total=len(jobs)):
        r = _search(cfg, strategy, seed, trials, epochs)
        runs[strategy].append(r)
        rows.append({"strategy": strategy, "seed": seed, "best_val_acc": r.best_value,
                     "epochs_trained": _epochs_trained(r), "wall_s": r.wall_s,
                     "pruned": r.n_pruned, "complete": r.n_complete,
                     "best_params": str(r.best_params)})
    ctx.table("searches", rows)
    for s in STRATEGIES:
        for key in ("best_val_acc", "epochs_trained", "wall_s", "pruned"):
            ctx.metric(f"{key}.{s}", statistics.fmean(r[key] for r in rows
                                                       if r["strategy"] == s))
    ctx.metric("trials_per_search", trials)
    ctx.metric("epochs_per_trial", epochs)
    ctx.figure("best_so_far", _plot_curves(runs),
               caption="Best validation accuracy after each trial, per strategy (claims "
                       "tpe-vs-random and pruning-keeps-quality).")
    ctx.figure("cost", _plot_cost(rows),
               caption="Epochs trained by each search (claim pruning-saves-time), its wall "
                       "time (reported only) and the trials pruned.")
    _claims(ctx, cfg, rows)
