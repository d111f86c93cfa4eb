"""``TuneResult``: what :func:`deepdojo.search.tune` returns.

The best configuration, trial counts, fANOVA parameter importances, plots, and ``save``
to write them (``summary.json`` and PNGs, atomically) to a folder.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from deepdojo.search import report
from deepdojo.utils import atomic_write_bytes, atomic_write_json


@dataclass
class TuneResult:
    """The outcome of a search.

    Attributes
    ----------
    study : optuna.Study
        The study (its trials live in the storage it was opened from).
    wall_s : float
        Seconds this call to ``tune`` took (0 for a study opened with ``load``).
    saved : dict of str to Path, optional
        What ``tune(..., out=...)`` wrote (:meth:`save`'s return value).
    """

    study: optuna.Study
    wall_s: float = 0.0
    saved: dict[str, Path] | None = None

    @property
    def best_params(self) -> dict[str, Any]:
        """Parameters of the best complete trial."""
        return dict(self.study.best_params)

    @property
    def best_value(self) -> float:
        """Objective value of the best complete trial."""
        return float(self.study.best_value)

    @property
    def best_trial(self) -> optuna.trial.FrozenTrial:
        """The best complete trial (number, params, value, intermediate values)."""
        return self.study.best_trial

    def count(self, state: str) -> int:
        """Trials in ``state``: ``"complete"``, ``"pruned"``, ``"fail"`` or ``"running"``."""
        st = TrialState[state.upper()]
        return len(self.study.get_trials(deepcopy=False, states=(st,)))

    @property
    def n_complete(self) -> int:
        return self.count("complete")

    @property
    def n_pruned(self) -> int:
        return self.count("pruned")

    def importances(self, seed: int = 0) -> dict[str, float]:
        """fANOVA importance of each parameter, summing to 1 (most important first).

        Fits a random forest to (params -> value) over the complete trials and splits the
        objective's variance into per-parameter shares (Hutter et al., 2014). Needs at least
        two complete trials with different parameter values.
        """
        done = self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if len(done) < 2:
            raise ValueError(f"importances need >= 2 complete trials; the study has {len(done)}")
        ev = optuna.importance.FanovaImportanceEvaluator(seed=seed)
        imp = optuna.importance.get_param_importances(self.study, evaluator=ev)
        return {k: float(v) for k, v in imp.items()}

    def plot_history(self, ax: Any = None) -> Any:
        """Objective value per trial and the best so far; returns the matplotlib figure."""
        return report.plot_history(self.study, ax=ax)

    def plot_importances(self, ax: Any = None) -> Any:
        """Bar chart of :meth:`importances`; returns the matplotlib figure."""
        return report.plot_importances(self.importances(), ax=ax,
                                       title=f"fANOVA importances: {self.study.study_name}")

    def plot_parallel_coordinates(self, ax: Any = None) -> Any:
        """Parallel-coordinates plot of complete trials; returns the matplotlib figure."""
        return report.plot_parallel_coordinates(self.study, ax=ax)

    def summary(self) -> dict[str, Any]:
        """A JSON-able record: study, best config and value, trial counts, importances."""
        try:
            importances: dict[str, float] | None = self.importances()
        except (ValueError, RuntimeError):  # too few or identical trials
            importances = None
        complete = self.n_complete
        return {
            "study": self.study.study_name,
            "direction": self.study.direction.name.lower(),
            "best_params": self.best_params if complete else None,
            "best_value": self.best_value if complete else None,
            "best_trial": self.best_trial.number if complete else None,
            "n_complete": complete,
            "n_pruned": self.n_pruned,
            "n_failed": self.count("fail"),
            "importances": importances,
            "wall_s": round(self.wall_s, 3),
        }

    def save(self, folder: str | Path) -> dict[str, Path]:
        """Write ``summary.json`` and ``history.png``, ``importances.png``,
        ``parallel_coordinates.png`` (when there are enough trials) into ``folder``.

        Returns the written paths by name. Every file is written atomically.
        """
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        folder = Path(folder)
        summary = self.summary()
        out = {"summary": atomic_write_json(folder / "summary.json", summary)}
        plots = {"history": self.plot_history, "parallel_coordinates":
                 self.plot_parallel_coordinates}
        if summary["importances"]:
            plots["importances"] = self.plot_importances
        for name, draw in plots.items():
            fig = draw()
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
            plt.close(fig)
            out[name] = atomic_write_bytes(folder / f"{name}.png", buf.getvalue())
        return out
