"""deepdojo.search: hyperparameter search on Optuna.

``tune`` runs a study (TPE, random or CMA-ES sampling; median or Hyperband pruning) in one
process or in several worker processes that share one storage (SQLite on one machine,
PostgreSQL/MySQL across machines). Spaces are data (:mod:`deepdojo.search.space`), the
``PruningCallback`` connects the Trainer to the pruner, and ``TuneResult`` reports the best
configuration, fANOVA importances and plots. A study records the problem it solves and
refuses another (:mod:`deepdojo.search.study`); Ctrl-C raises :class:`TuneInterrupted` and
leaves the study resumable. The shared storage (:mod:`deepdojo.search.storage`) is opened so
that workers starting together on a fresh database all succeed, and its failures say what
they are; a database lost mid-study raises :class:`StorageLost`.
"""

from deepdojo.search.objectives import (
    ModelObjective,
    PruningCallback,
    Quadratic,
    add_dropout,
    tunable_models,
)
from deepdojo.search.report import plot_history, plot_importances, plot_parallel_coordinates
from deepdojo.search.result import TuneResult
from deepdojo.search.space import (
    Categorical,
    Float,
    Int,
    default_space,
    parse_space,
    space_to_dict,
    suggest,
)
from deepdojo.search.storage import StorageLost
from deepdojo.search.study import TuneInterrupted, check_out, check_study_name
from deepdojo.search.tune import (
    DEFAULT_STORAGE,
    SearchError,
    load,
    make_pruner,
    make_sampler,
    open_storage,
    tune,
)

__all__ = [
    "DEFAULT_STORAGE",
    "Categorical",
    "Float",
    "Int",
    "ModelObjective",
    "PruningCallback",
    "Quadratic",
    "SearchError",
    "StorageLost",
    "TuneInterrupted",
    "TuneResult",
    "add_dropout",
    "check_out",
    "check_study_name",
    "default_space",
    "load",
    "make_pruner",
    "make_sampler",
    "open_storage",
    "parse_space",
    "plot_history",
    "plot_importances",
    "plot_parallel_coordinates",
    "space_to_dict",
    "suggest",
    "tunable_models",
    "tune",
]
