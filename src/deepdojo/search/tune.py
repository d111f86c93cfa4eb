"""``tune``: hyperparameter search on Optuna, in one process or many sharing one storage.

Every worker is a separate process that opens the same study in the same storage
(``optuna.load_study``) and runs its share of the trials; the sampler reads all finished
trials from the storage, so workers learn from each other. On one machine the storage is a
SQLite file; on many machines it is one PostgreSQL or MySQL URL (see :func:`tune`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import optuna

from deepdojo.search.backends import make_pruner, make_sampler
from deepdojo.search.result import TuneResult
from deepdojo.search.storage import (
    DEFAULT_STORAGE,
    StorageLost,
    open_storage,
    quiet_fallback_warnings,
    safe_url,
    storage_cause,
)
from deepdojo.search.study import (
    Guarded,
    SearchError,
    SurplusTrial,
    TuneInterrupted,
    check_out,
    check_problem,
    check_study_name,
    fail_stale_trials,
    problem_of,
    quiet_interrupts,
)
from deepdojo.search.workers import finished, lost, run_workers, sampler_seed, stop_at

__all__ = ["DEFAULT_STORAGE", "SearchError", "StorageLost", "TuneInterrupted", "load",
           "make_pruner", "make_sampler", "open_storage", "tune"]


def _resolve_objective(objective: Any) -> tuple[Callable[[optuna.Trial], float], str]:
    """A callable objective and its default study name from ``objective`` or a tuple."""
    if isinstance(objective, tuple):
        from deepdojo.search.objectives import ModelObjective

        if len(objective) not in (2, 3):
            raise TypeError("objective tuple must be (model_name, data_name[, space])")
        obj = ModelObjective(*objective)
        return obj, f"{obj.model}-{obj.data}"
    if not callable(objective):
        raise TypeError(
            "objective must be a callable trial -> float or a (model_name, data_name[, space]) "
            f"tuple; got {type(objective).__name__}"
        )
    return objective, getattr(objective, "__name__", type(objective).__name__)


@contextmanager
def _quiet_optuna() -> Iterator[None]:
    """Silence Optuna's per-trial INFO lines for the duration, then restore its verbosity."""
    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)


class _Progress:
    """A rich progress bar over finished trials, with the best value so far."""

    def __init__(self, mode: str, total: int, done: int) -> None:
        if mode not in ("auto", "on", "off"):
            raise SearchError(f"progress must be auto, on or off; got {mode!r}")
        self.show = sys.stderr.isatty() if mode == "auto" else mode == "on"
        self.total, self.done = total, done
        self.bar: Any = None  # a rich Progress while shown
        self.task: Any = None

    def __enter__(self) -> _Progress:
        if self.show:
            from rich.progress import Progress

            self.bar = Progress(*Progress.get_default_columns(), "{task.fields[best]}")
            self.bar.start()
            self.task = self.bar.add_task("tune", total=self.total, completed=self.done, best="")
        return self

    def update(self, study: optuna.Study) -> None:
        if self.bar is None:
            return
        done = finished(study)
        try:
            best = f"best {study.best_value:.4g}"
        except ValueError:  # no complete trial yet
            best = ""
        self.bar.update(self.task, completed=done, best=best)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def tune(
    objective: Callable[[optuna.Trial], float] | tuple[Any, ...],
    *,
    n_trials: int,
    storage: str | None = DEFAULT_STORAGE,
    study_name: str | None = None,
    sampler: str | optuna.samplers.BaseSampler = "tpe",
    pruner: str | optuna.pruners.BasePruner | None = "median",
    workers: int = 1,
    seed: int = 0,
    direction: str = "maximize",
    timeout: float | None = None,
    progress: str = "auto",
    out: str | Path | None = None,
) -> TuneResult:
    """Search hyperparameters with Optuna until the study holds ``n_trials`` finished trials.

    Parameters
    ----------
    objective : callable or tuple
        ``f(trial) -> float`` that samples with ``trial.suggest_*`` (or
        :func:`deepdojo.search.suggest`), or ``(model_name, data_name[, space])`` which trains a
        registered model on a built-in dataset and returns its best validation accuracy
        (:class:`deepdojo.search.ModelObjective`; it reports every epoch, so pruning works).
    n_trials : int
        Finished trials (complete or pruned) the study should hold at the end. A study that
        already exists in ``storage`` resumes: only the missing trials run. Every worker stops
        once the shared study holds ``n_trials`` finished trials, so processes on other
        machines count towards the same total (trials already running then still finish).
    storage : str or None
        Database URL shared by all workers; ``sqlite:///runs/search.db`` by default (the folder
        is created). ``None`` keeps the study in memory (one worker only).
    study_name : str, optional
        Defaults to ``"<model>-<data>"`` for a tuple objective, else the function's name. A
        plain name (no path separators, not ``.``/``..``): it names the report folder. The
        study records the problem its trials solve (model, data, epochs, seed, space and
        direction; see :mod:`deepdojo.search.study`): resuming it with another problem raises
        :class:`SearchError` naming the difference, before any trial.
    sampler : {"tpe", "random", "cmaes"} or optuna sampler
        How the next trial's parameters are proposed; seeded with ``seed`` (worker ``i`` uses
        ``seed + i`` so that workers do not propose identical trials; a resumed study mixes
        the number of stored trials into the seed so it does not replay earlier proposals;
        machines sharing a storage should each get their own ``seed``). A sampler instance
        (e.g. ``TPESampler(n_startup_trials=4)``) is used as given, with ``workers=1`` only.
    pruner : {"median", "hyperband", None} or optuna pruner
        How unpromising trials are stopped early from their reported intermediate values.
    workers : int
        Processes (``spawn``) that share ``storage``, each running its share of the trials.
    direction : {"maximize", "minimize"}
    timeout : float, optional
        Seconds after which each worker stops starting new trials.
    progress : {"auto", "on", "off"}
        A progress bar of finished trials and the best value (``auto``: only on a terminal).
    out : str or Path, optional
        Save the report (:meth:`TuneResult.save`) to ``out/<study_name>`` at the end. Checked
        before any trial: ``out`` must be a folder (or not exist yet) that can be written.

    Returns
    -------
    TuneResult
        ``.best_params``, ``.best_value``, ``.study``, ``.importances()`` (fANOVA), plots and
        ``.save(folder)``; ``.saved`` holds the written paths when ``out`` is given.

    Raises
    ------
    SearchError
        Bad input (a ``ValueError``, one line), always before any trial runs; also a storage
        that cannot be used (unreachable, refused login, missing driver: each said as such).
    StorageLost
        The database stopped answering during the study (a ``RuntimeError``, one line); the
        finished trials are kept and the same call resumes once it is back.
    TuneInterrupted
        Ctrl-C (a ``KeyboardInterrupt``, one line): the interrupted trials are marked ``FAIL``
        and the study resumes from its finished trials when ``tune`` is called again.

    Notes
    -----
    **Many machines.** A worker needs only the storage URL and the study name. Create one
    PostgreSQL (or MySQL) database reachable from every machine, install the driver
    (``pip install 'deepdojo[distributed]'``: psycopg 3, which SQLAlchemy 2 uses for
    ``postgresql://``; or ``pymysql``) and start the same command everywhere::

        deepdojo tune --model mlp --data digits --trials 100 --workers 4 \\
            --storage postgresql://user:password@db-host:5432/deepdojo

    Machines that start together on a fresh database all succeed (the schema is created
    once, see :mod:`deepdojo.search.storage`); pruners read every machine's reports.

    Machines that start at the same moment with the same ``seed`` propose the same first
    (random) trials; from Python, give each machine its own sampler ``seed`` (the CLI's
    ``--seed`` also seeds the data split, which must stay the same across machines).

    Each machine runs ``workers`` processes; all of them read and write the one study, so
    100 finished trials is the shared total and any machine may join, stop or restart later
    (the study resumes). Use ``mysql+pymysql://user:password@db-host/deepdojo`` for MySQL.
    SQLite is fine for processes on one machine but not over a network file system.

    Examples
    --------
    >>> def f(trial):
    ...     x = trial.suggest_float("x", -5, 5)
    ...     return (x - 2) ** 2
    >>> r = tune(f, n_trials=30, storage=None, direction="minimize", pruner=None)
    >>> abs(r.best_params["x"] - 2) < 0.5
    True
    """
    if not isinstance(n_trials, int) or isinstance(n_trials, bool) or n_trials < 1:
        raise SearchError(f"n_trials must be a positive int; got {n_trials!r}")
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise SearchError(f"workers must be a positive int; got {workers!r}")
    if direction not in ("maximize", "minimize"):
        raise SearchError(f"direction must be 'maximize' or 'minimize'; got {direction!r}")
    _Progress(progress, n_trials, 0)  # a bad mode fails here, before the storage opens
    instances = (optuna.samplers.BaseSampler, optuna.pruners.BasePruner)
    if workers > 1 and (isinstance(sampler, instances) or isinstance(pruner, instances)):
        raise SearchError("workers > 1 take sampler and pruner by name (each worker seeds its own)")
    if workers > 1 and storage is None:
        raise SearchError("workers > 1 need a shared storage URL; storage=None is in memory")
    seed_max = 2**32 - workers  # worker i seeds its sampler with seed + i < 2**32
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= seed_max:
        raise SearchError(f"sampler seed must be an int in [0, {seed_max}]; got {seed!r}")
    fn, default_name = _resolve_objective(objective)
    name = check_study_name(study_name or default_name)
    folder = None if out is None else check_out(out, name)
    make_sampler(sampler), make_pruner(pruner)  # fail on bad names before touching storage
    t0 = time.perf_counter()
    st = open_storage(storage)  # a storage that cannot be used: SearchError, before any trial
    try:
        result = _search(fn, st, name, args={
            "workers": workers, "storage": storage, "sampler": sampler, "pruner": pruner,
            "seed": seed, "timeout": timeout, "n_trials": n_trials, "direction": direction,
            "progress": progress})
        result.wall_s = time.perf_counter() - t0
        if folder is not None:
            result.saved = result.save(folder)
    except Exception as e:  # the database went away in the middle of the study
        cause = storage_cause(e)
        if cause is None:
            raise
        raise lost(storage, name, cause) from None
    return result


def _search(fn: Callable[[optuna.Trial], float], st: optuna.storages.BaseStorage | None,
            name: str, args: dict[str, Any]) -> TuneResult:
    """Open (or create) study ``name`` in ``st``, check its problem, run the missing trials."""
    sampler, seed, n_trials = args["sampler"], args["seed"], args["n_trials"]
    with _quiet_optuna(), quiet_fallback_warnings():
        study = optuna.create_study(storage=st, study_name=name,
                                    sampler=make_sampler(sampler, seed),
                                    pruner=make_pruner(args["pruner"]),
                                    direction=args["direction"], load_if_exists=True)
        check_problem(study, problem_of(fn, args["direction"]))
        fail_stale_trials(study)  # left RUNNING by an earlier run of this machine that died
        args["stored"] = stored = len(study.get_trials(deepcopy=False))
        if stored and not isinstance(sampler, optuna.samplers.BaseSampler):  # resuming
            study.sampler = make_sampler(sampler, sampler_seed(seed, stored, 0))
        try:
            _optimize(fn, study, args, args["progress"])
        except KeyboardInterrupt:
            fail_stale_trials(study)
            raise TuneInterrupted(name, finished(study), n_trials) from None
    return TuneResult(study, wall_s=0.0)


def _optimize(fn: Callable[[optuna.Trial], float], study: optuna.Study, args: dict[str, Any],
              progress: str) -> None:
    """Run the trials the study still misses, here or in worker processes."""
    n_trials = args["n_trials"]
    remaining = n_trials - finished(study)
    with _Progress(progress, n_trials, n_trials - max(remaining, 0)) as bar:
        if remaining <= 0:
            return
        if args["workers"] > 1:
            run_workers(fn, study, args, remaining, bar)
            return
        guard = Guarded(fn, total=n_trials)
        with quiet_interrupts(guard):
            study.optimize(guard, n_trials=remaining, timeout=args["timeout"],
                           callbacks=[lambda s, _t: bar.update(s), stop_at(n_trials)],
                           catch=(SurplusTrial,))


def load(study_name: str, storage: str = DEFAULT_STORAGE) -> TuneResult:
    """Open a finished (or running) study from ``storage`` without running trials."""
    st = open_storage(storage)
    try:
        study = optuna.load_study(study_name=study_name, storage=st)
    except KeyError:
        names = ", ".join(optuna.get_all_study_names(st)) or "none"
        raise SearchError(f"no study {study_name!r} in {safe_url(storage)!r}; has: {names}")\
            from None
    return TuneResult(study, wall_s=0.0)
