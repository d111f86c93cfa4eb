"""What keeps a study honest: one problem per study, safe names and folders, clean interrupts.

- **Problem identity.** A study records the problem its trials solve (for a
  :class:`~deepdojo.search.ModelObjective`: model, data, epochs, seed and search space; for any
  objective: its name and the direction) in the study user attribute ``deepdojo.problem``.
  Resuming it with another problem raises :class:`SearchError` naming each difference, so
  trials of two problems never mix and ``best_value`` always belongs to the problem asked.
- **Names and folders.** A study name becomes a folder (``out/<study>``): it may not contain a
  path separator or be ``.``/``..``; ``out`` must be a folder (or not exist yet) that can be
  written. Both are checked before any trial.
- **Interrupts.** Every trial records the process that runs it (user attribute
  ``deepdojo.worker``, ``host:pid``). A trial left ``RUNNING`` by a process of this machine that
  is gone (Ctrl-C, ``kill``) is marked ``FAIL``, so the study resumes cleanly: finished
  (complete or pruned) trials count, failed ones are run again. A Ctrl-C that comes while
  Optuna is making the next trial (the trial exists, its worker is not recorded yet) waits
  until the trial records its worker and then stops it, so it is failed like any other; a
  second Ctrl-C stops at once (a trial left without a worker then counts as an orphan and is
  failed by a later run, see :data:`ORPHAN_GRACE_S`).
- **Exactly the total.** Workers (on any machine) stop once the study holds its total of
  finished trials, but two of them may start a last trial at the same moment. A trial whose
  lower-numbered finished or running trials already make the total is *surplus*: it does not
  run, is marked ``FAIL`` with user attribute ``deepdojo.surplus`` and stops its worker, so
  the study never ends with more finished trials than asked (numbers come from the database,
  so all workers agree on the order).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

PROBLEM_ATTR = "deepdojo.problem"
WORKER_ATTR = "deepdojo.worker"
SURPLUS_ATTR = "deepdojo.surplus"
_CLAIMED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)


class SearchError(ValueError):
    """Bad search input (storage, sampler, pruner, workers, study); the message is one line."""


class TuneInterrupted(KeyboardInterrupt):  # noqa: N818 (a KeyboardInterrupt, named as one)
    """Ctrl-C stopped :func:`~deepdojo.search.tune`; the study is consistent and resumable.

    A ``KeyboardInterrupt``, so code that does not know it still stops as on Ctrl-C. ``str(e)``
    is one line for the user. Attributes: ``study_name``, ``finished`` (complete or pruned
    trials the study holds) and ``n_trials`` (the total asked for).
    """

    def __init__(self, study_name: str, finished: int, n_trials: int) -> None:
        self.study_name, self.finished, self.n_trials = study_name, finished, n_trials
        super().__init__(
            f"interrupted: study {study_name!r} holds {finished} of {n_trials} finished "
            "trials; run the same command again to resume"
        )


# --- problem identity ---------------------------------------------------------------------

def problem_of(objective: Callable[..., Any], direction: str) -> dict[str, Any]:
    """The JSON-able identity of the problem ``objective`` solves in ``direction``.

    ``{"objective": "<module>.<qualname>", "direction": ..., **objective.study_attrs()}``;
    objectives without ``study_attrs`` are identified by their name only.
    """
    owner = objective if hasattr(objective, "__qualname__") else type(objective)
    name, module = owner.__qualname__, owner.__module__
    problem: dict[str, Any] = {"objective": f"{module}.{name}", "direction": direction}
    attrs = getattr(objective, "study_attrs", None)
    if callable(attrs):
        problem.update(attrs())
    return json.loads(json.dumps(problem))  # what the storage gives back: lists, not tuples


def _describe(key: str, stored: Any, asked: Any) -> str:
    if key == "space" and isinstance(stored, Mapping) and isinstance(asked, Mapping):
        names = sorted(k for k in {*stored, *asked} if stored.get(k) != asked.get(k))
        return f"space differs in {', '.join(names)}"
    return f"{key}={stored!r} (this run: {asked!r})"


def check_problem(study: optuna.Study, problem: dict[str, Any]) -> None:
    """Record ``problem`` on a study that has none; refuse a study recorded for another one.

    A study that records no problem (created before problems were recorded, or by Optuna
    directly) is checked for its direction only, then adopts ``problem``. Raises
    :class:`SearchError` naming every difference (the study's value, then this run's).
    """
    recorded = study.user_attrs.get(PROBLEM_ATTR)
    # Any study knows its direction; older or foreign studies record nothing else.
    stored = recorded if recorded is not None else {"direction": study.direction.name.lower()}
    diffs = [_describe(k, stored.get(k), problem.get(k))
             for k in sorted(stored if recorded is None else {*stored, *problem})
             if stored.get(k) != problem.get(k)]
    if diffs:
        raise SearchError(
            f"study {study.study_name!r} holds trials of another problem: {'; '.join(diffs)}; "
            "resume it with the same settings or choose another study name"
        )
    if recorded is None:
        study.set_user_attr(PROBLEM_ATTR, problem)


# --- names and folders ----------------------------------------------------------------------

def check_study_name(name: Any) -> str:
    """``name`` if it can name a folder inside ``out``; else :class:`SearchError`.

    Refused: a non-string or empty name, one with a path separator (``/``, ``\\``), a NUL
    byte, or ``.``/``..`` (each would write outside ``out/<study>``).
    """
    if not isinstance(name, str) or not name.strip():
        raise SearchError(f"study name must be a non-empty string; got {name!r}")
    seps = {"/", "\\", "\0", os.sep, *(os.altsep or "")}
    if any(s in name for s in seps) or name in (".", ".."):
        raise SearchError(
            f"study name {name!r} must be a plain name (no path separators, not '.' or '..'): "
            "it names the report folder inside --out"
        )
    return name


def check_out(out: str | Path, study_name: str) -> Path:
    """The report folder ``out/<study_name>``, checked before any trial runs; nothing created.

    Raises :class:`SearchError` when ``out`` (or a folder above it, or ``out/<study_name>``) is
    an existing file, or when the nearest existing folder cannot be written.
    """
    folder = Path(out) / check_study_name(study_name)
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        if existing == folder:
            raise SearchError(f"--out {str(out)!r}: the study's report folder {str(folder)!r} "
                              "is a file")
        where = "" if existing == Path(out) else f" ({str(existing)!r} is a file)"
        raise SearchError(f"--out {str(out)!r} must be a folder, not a file{where}")
    if existing.exists() and not os.access(existing, os.W_OK | os.X_OK):
        raise SearchError(f"--out {str(out)!r}: cannot write in {str(existing)!r}")
    return folder


# --- workers and interrupts ------------------------------------------------------------------

def worker_id() -> str:
    """``host:pid`` of this process, as recorded on each trial it runs."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


# A RUNNING trial that records no worker this long after its start is an orphan: its process
# lost the database between creating the trial and recording itself on it (a live worker
# records itself at once), so no machine can tell it is its own.
ORPHAN_GRACE_S = 120.0


def _orphan(t: optuna.trial.FrozenTrial) -> bool:
    if WORKER_ATTR in t.user_attrs or t.datetime_start is None:
        return False
    return (datetime.now() - t.datetime_start).total_seconds() >= ORPHAN_GRACE_S


def fail_stale_trials(study: optuna.Study) -> list[int]:
    """Mark ``FAIL`` the ``RUNNING`` trials whose process on this machine is gone (or is this
    one, which runs none between calls), and orphans (no worker recorded, started
    :data:`ORPHAN_GRACE_S` ago or more); returns their numbers.

    Trials of other machines, and of live processes here, are left alone.
    """
    host, me, failed = socket.gethostname(), os.getpid(), []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        h, _, pid = str(t.user_attrs.get(WORKER_ATTR, "")).rpartition(":")
        mine_and_dead = h == host and pid.isdigit() and (int(pid) == me or not _alive(int(pid)))
        if not (mine_and_dead or _orphan(t)):
            continue
        try:
            study.tell(t.number, state=TrialState.FAIL)
            failed.append(t.number)
        except (ValueError, RuntimeError):  # finished meanwhile by its owner
            pass
    return failed


class SurplusTrial(Exception):  # noqa: N818 (the trial is surplus; not an error to report)
    """Raised by :class:`Guarded` for a trial beyond the study's total (see the module doc)."""


def claims_ahead(trial: optuna.Trial) -> int:
    """How many trials numbered below ``trial`` are finished (complete, pruned) or running."""
    trials = trial.study.get_trials(deepcopy=False, states=_CLAIMED)
    return sum(t.number < trial.number for t in trials)


@dataclass
class Guarded:
    """``objective`` that records its worker on each trial and notices Ctrl-C and a lost
    database.

    Optuna marks the interrupted trial ``FAIL`` itself and logs it with a traceback; while
    :func:`quiet_interrupts` is active that log is dropped (the caller prints one line). A
    storage error raised inside the objective (``trial.report`` when the database has gone)
    is noticed the same way: the caller says it in one line.
    """

    objective: Callable[[optuna.Trial], float]
    total: int | None = None  # finished trials the study should hold; later ones are surplus
    interrupted: bool = False
    surplus: list[int] = field(default_factory=list)  # numbers of the surplus trials met
    pending: bool = False  # a Ctrl-C held back while no trial had its worker recorded
    running: bool = False  # inside the objective: a Ctrl-C stops it there

    def __call__(self, trial: optuna.Trial) -> float:
        from deepdojo.search.storage import storage_cause

        trial.set_user_attr(WORKER_ATTR, worker_id())
        if self.pending:  # Ctrl-C while Optuna made this trial: now that it is ours, stop it
            self.interrupted = True
            raise KeyboardInterrupt
        if self.total is not None and claims_ahead(trial) >= self.total:
            trial.set_user_attr(SURPLUS_ATTR, True)
            self.surplus.append(trial.number)
            trial.study.stop()  # optimize(catch=(SurplusTrial,)) marks it FAIL and returns
            raise SurplusTrial(f"trial {trial.number} is beyond the study's {self.total}")
        self.running = True
        try:
            return self.objective(trial)
        except KeyboardInterrupt:
            self.interrupted = True
            raise
        except Exception as e:
            if storage_cause(e) is not None:  # the database is gone: tune() says it in a line
                self.interrupted = True
            raise
        finally:
            self.running = False

    def _on_sigint(self, signum: int, frame: Any) -> None:
        """Ctrl-C: stop the objective now, or, between trials, once the next trial has
        recorded its worker (a second Ctrl-C stops at once)."""
        if self.running or self.pending:
            raise KeyboardInterrupt
        self.pending = True


@contextmanager
def quiet_interrupts(guard: Guarded) -> Iterator[None]:
    """Drop Optuna's "Trial N failed ..." records once ``guard`` saw Ctrl-C or a lost database,
    and those of surplus trials; in the main thread, hold back a Ctrl-C that comes between
    trials until the next trial has recorded its worker (:meth:`Guarded._on_sigint`; one held
    back when the trials run out is raised on leaving)."""
    logger = logging.getLogger("optuna.study._optimize")

    def keep(record: logging.LogRecord) -> bool:
        message = record.getMessage()  # Optuna logs two "Trial N failed ..." lines per failure
        surplus = any(message.startswith(f"Trial {n} failed") for n in guard.surplus)
        return not (guard.interrupted or surplus)

    logger.addFilter(keep)
    main = threading.current_thread() is threading.main_thread()  # signals reach it only
    previous = signal.signal(signal.SIGINT, guard._on_sigint) if main else None
    try:
        yield
        if guard.pending:  # Ctrl-C after the last trial: the caller stops as interrupted
            guard.interrupted = True
            raise KeyboardInterrupt
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)
        logger.removeFilter(keep)
