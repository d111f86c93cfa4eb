"""A toy objective for the cross-process pruning test, run as a worker process.

``python pg_objective.py URL STUDY LEVEL N_TRIALS SEED`` runs ``tune`` with the median
pruner on ``Staircase(LEVEL)``. The test process imports this file under the same module name
(``pg_objective``), so both processes solve the same recorded problem.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import optuna


@dataclass
class Staircase:
    """Reports ``level`` at each of ``steps`` steps (pruning when told), then returns it."""

    level: float
    steps: int = 4

    def study_attrs(self) -> dict[str, Any]:
        return {"steps": self.steps}  # the level is the worker's, not the problem's

    def __call__(self, trial: optuna.Trial) -> float:
        trial.suggest_float("x", 0.0, 1.0)
        for step in range(self.steps):
            trial.report(self.level, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return self.level


def run(url: str, study: str, level: float, n_trials: int, seed: int) -> None:
    from deepdojo.search import tune

    tune(Staircase(level), n_trials=n_trials, storage=url, study_name=study,
         sampler="random", pruner="median", seed=seed, progress="off")


if __name__ == "__main__":
    sys.modules.setdefault("pg_objective", sys.modules["__main__"])
    Staircase.__module__ = "pg_objective"  # the name the test process imports it under
    url, study, level, n, seed = sys.argv[1:]
    run(url, study, float(level), int(n), int(seed))
