"""Optuna back ends by name: samplers and pruners (the shared storage: :mod:`.storage`)."""

from __future__ import annotations

from typing import Any

import optuna

from deepdojo.search.storage import DEFAULT_STORAGE, open_storage, safe_url
from deepdojo.search.study import SearchError

__all__ = ["DEFAULT_STORAGE", "PRUNERS", "SAMPLERS", "make_pruner", "make_sampler", "open_storage",
           "safe_url"]

SAMPLERS = ("tpe", "random", "cmaes")
PRUNERS = ("median", "hyperband", None)


def make_sampler(name: Any, seed: int | None = 0) -> optuna.samplers.BaseSampler:
    """Optuna sampler by name: ``"tpe"``, ``"random"`` or ``"cmaes"`` (seeded).

    An ``optuna.samplers.BaseSampler`` instance is returned as is.
    """
    if isinstance(name, optuna.samplers.BaseSampler):
        return name
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "cmaes":  # categorical parameters fall back to random sampling, quietly
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    raise SearchError(f"sampler must be one of {', '.join(SAMPLERS)}; got {name!r}")


def make_pruner(name: Any) -> optuna.pruners.BasePruner:
    """Optuna pruner by name: ``"median"``, ``"hyperband"`` or ``None`` (never prune).

    ``median`` stops a trial whose intermediate value is worse than the median of earlier
    trials at the same step (after 5 startup trials and 1 warm-up step); ``hyperband``
    runs successive halving brackets over the epochs. A ``BasePruner`` instance is returned as
    is.
    """
    if isinstance(name, optuna.pruners.BasePruner):
        return name
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner()
    if name is None or name == "none":
        return optuna.pruners.NopPruner()
    raise SearchError(f"pruner must be one of median, hyperband or None; got {name!r}")
