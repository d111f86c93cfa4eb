"""The worker processes of :func:`~deepdojo.search.tune`: each loads the shared study and runs
its share of the trials; all stop once the study holds its total of finished trials.

The process is ours, so it may size torch's thread pool (``threads`` per worker keeps
``workers`` processes from oversubscribing the cores). A database lost mid-study comes back
to the parent as one plain line (:class:`~deepdojo.search.storage.StorageLost`).
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

from deepdojo.search.backends import make_pruner, make_sampler
from deepdojo.search.storage import (
    StorageLost,
    describe_storage_error,
    open_storage,
    quiet_fallback_warnings,
    storage_cause,
)
from deepdojo.search.study import Guarded, SearchError, SurplusTrial, quiet_interrupts

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def lost(storage: str | None, study_name: str, e: BaseException) -> StorageLost:
    """The one-line error for a storage that failed in the middle of study ``study_name``."""
    why = describe_storage_error(storage or "memory", e)
    return StorageLost(f"{why}; study {study_name!r} keeps its finished trials: run the same "
                       "command again once the database is back")


def finished(study: optuna.Study) -> int:
    """Complete or pruned trials the study holds (whoever ran them)."""
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def _worker(
    objective: Callable[[optuna.Trial], float],
    storage: str,
    study_name: str,
    sampler: str,
    pruner: str | None,
    seed: int,
    n_trials: int,
    timeout: float | None,
    threads: int,
    total: int,
) -> bool:
    """One worker process: load the shared study and run up to ``n_trials`` of it, stopping
    early once the study holds ``total`` finished trials (workers on other machines count).
    Returns False when Ctrl-C stopped it (the interrupted trial is marked ``FAIL``).

    The process is ours, so it may size torch's thread pool: ``threads`` per worker keeps
    ``workers`` processes from oversubscribing the cores (which can make 2 workers slower
    than 1).
    """
    import torch

    torch.set_num_threads(threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(
        study_name=study_name,
        storage=open_storage(storage),
        sampler=make_sampler(sampler, seed),
        pruner=make_pruner(pruner),
    )
    guard = Guarded(objective, total=total)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C stops this task only
    try:
        with quiet_interrupts(guard), quiet_fallback_warnings():
            study.optimize(guard, n_trials=n_trials, timeout=timeout,
                           callbacks=[stop_at(total)], catch=(SurplusTrial,))
    except Exception as e:  # a storage error goes back as one plain line (it pickles)
        cause = storage_cause(e)
        if cause is None:
            raise
        raise lost(storage, study_name, cause) from None
    except KeyboardInterrupt:  # Optuna has marked the trial FAIL; tell the parent, quietly
        return False
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    return True


def _ignore_sigint() -> None:
    """Pool initializer: a worker between tasks ignores Ctrl-C (no traceback from the pool)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def sampler_seed(seed: int, stored: int, worker: int) -> int:
    """Seed of worker ``worker``'s sampler when the study already holds ``stored`` trials.

    A fresh study uses ``seed + worker``. A resumed one mixes ``stored`` in: a sampler seeded
    as in the first run would propose that run's parameters again (random search and TPE's
    random startup trials would repeat them one for one).
    """
    if stored == 0:
        return seed + worker
    return int(np.random.SeedSequence([seed % 2**32, stored, worker]).generate_state(1)[0])


def stop_at(total: int) -> optuna.study.MaxTrialsCallback:
    """Stop a worker once the shared study holds ``total`` finished (complete or pruned)
    trials, whoever ran them: the budget is the study's, not each machine's."""
    return optuna.study.MaxTrialsCallback(total, states=FINISHED)


def _shares(total: int, workers: int) -> list[int]:
    """Split ``total`` trials over ``workers`` as evenly as possible (no zero shares)."""
    base, extra = divmod(total, workers)
    return [s for s in (base + (i < extra) for i in range(workers)) if s > 0]


def run_workers(objective: Any, study: optuna.Study, args: dict[str, Any], remaining: int,
                 progress: Any) -> None:
    """Run ``remaining`` trials in separate spawned processes that share the storage;
    ``progress.update(study)`` is called while they run."""
    try:
        pickle.dumps(objective)
    except Exception as e:
        raise SearchError(
            "workers > 1 needs a picklable objective (a module-level function or a "
            f"ModelObjective), not a lambda or closure: {e}"
        ) from None
    shares = _shares(remaining, args["workers"])
    threads = max(1, (os.cpu_count() or 1) // len(shares))
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(len(shares), initializer=_ignore_sigint) as pool:
        jobs = [
            pool.apply_async(
                _worker,
                (objective, args["storage"], study.study_name, args["sampler"], args["pruner"],
                 sampler_seed(args["seed"], args["stored"], i), n, args["timeout"], threads,
                 args["n_trials"]),
            )
            for i, n in enumerate(shares)
        ]
        try:
            while not all(j.ready() for j in jobs):
                progress.update(study)
                time.sleep(0.25)
        except KeyboardInterrupt:
            # Ctrl-C reached the workers too (one process group): let them mark their trials
            # FAIL; any still running after the grace period is ended with the pool, and
            # tune() fails its trial (fail_stale_trials).
            deadline = time.monotonic() + 10
            while not all(j.ready() for j in jobs) and time.monotonic() < deadline:
                time.sleep(0.1)
            raise
        # .get() re-raises a worker's exception here, with its type
        if not all([j.get() for j in jobs]):
            raise KeyboardInterrupt  # a worker was interrupted on its own
    progress.update(study)
