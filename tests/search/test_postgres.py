"""``deepdojo tune`` on a live PostgreSQL server (the throwaway cluster of ``conftest.py``).

Separate ``deepdojo tune`` processes play the machines: they share one study, start together
on a fresh database, lose the server in the middle, log in with a wrong password, and prune
from each other's reports.
"""

from __future__ import annotations

import importlib.util
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from typer.testing import CliRunner

import deepdojo.search.study
from deepdojo.cli import app
from deepdojo.search import SearchError, open_storage, tune
from deepdojo.search.study import SURPLUS_ATTR, WORKER_ATTR

HERE = Path(__file__).parent
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _tune_cmd(url: str, out: Path, *, trials: int, sampler_seed: int, epochs: int = 1,
              study: str = "machines") -> list[str]:
    """``deepdojo tune`` on the digits MLP, the smallest run (1 epoch, no pruning)."""
    return [sys.executable, "-m", "deepdojo", "tune", "--model", "mlp", "--data", "digits",
            "--trials", str(trials), "--epochs", str(epochs), "--pruner", "none",
            "--storage", url, "--study", study, "--sampler-seed", str(sampler_seed),
            "--out", str(out)]


def _start(cmd: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=ENV)


def _finish(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"worker {proc.pid} still running after {timeout} s: {err[-2000:]}")
    return proc.returncode, out, err


def _trials(url: str, study: str) -> list[optuna.trial.FrozenTrial]:
    storage = optuna.storages.RDBStorage(url)
    try:
        return optuna.load_study(study_name=study, storage=storage).get_trials()
    finally:
        storage.engine.dispose()


def _invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def test_two_machines_started_together_share_one_study(pg_url, tmp_path):
    # Two processes, two sampler seeds, one fresh database: both create the schema at once.
    procs = [_start(_tune_cmd(pg_url, tmp_path / f"out{s}", trials=4, sampler_seed=s))
             for s in (1, 2)]
    results = [_finish(p) for p in procs]
    for rc, _out, err in results:
        assert rc == 0, err
    trials = _trials(pg_url, "machines")
    finished = [t for t in trials if t.state in FINISHED]
    assert len(finished) == 4  # exactly the total, though both raced for the last trials
    host = socket.gethostname()
    by_worker = {t.user_attrs[WORKER_ATTR] for t in finished}
    assert by_worker == {f"{host}:{p.pid}" for p in procs}  # both machines contributed
    assert sorted(t.number for t in trials) == list(range(len(trials)))  # none lost
    assert len({tuple(sorted(t.params.items())) for t in finished}) == 4  # none run twice
    others = [t for t in trials if t.state not in FINISHED]
    assert all(t.state == TrialState.FAIL and t.user_attrs.get(SURPLUS_ATTR) for t in others)
    # A later run of the same command resumes the finished study and adds nothing.
    again = _invoke(*_tune_cmd(pg_url, tmp_path / "out3", trials=4, sampler_seed=3)[3:])
    assert again.exit_code == 0, again.output
    assert [(t.number, t.state) for t in _trials(pg_url, "machines")] == \
        [(t.number, t.state) for t in trials]


_RACE = """
import sys, time
from pathlib import Path
import optuna
from deepdojo.search import open_storage
url, barrier, me, n = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
(barrier / me).touch()  # imported: ready
while len(list(barrier.iterdir())) < n:  # every worker opens the fresh database at once
    time.sleep(0.005)
optuna.create_study(storage=open_storage(url), study_name="race", load_if_exists=True)
print("ok")
"""


def test_workers_opening_a_fresh_database_at_once_all_succeed(pg_url, tmp_path):
    n = 3
    procs = [_start([sys.executable, "-c", _RACE, pg_url, str(tmp_path), str(i), str(n)])
             for i in range(n)]
    for rc, out, err in [_finish(p) for p in procs]:
        assert (rc, out.strip()) == (0, "ok"), err


def test_server_stopped_mid_study_ends_workers_with_one_line(pg_cluster, pg_url, tmp_path,
                                                             monkeypatch):
    procs = [_start(_tune_cmd(pg_url, tmp_path / f"out{s}", trials=500, sampler_seed=s,
                              study="lost")) for s in (1, 2)]
    deadline, done = time.monotonic() + 120, 0
    while done < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
        try:
            done = sum(t.state in FINISHED for t in _trials(pg_url, "lost"))
        except Exception:  # study not created yet, or its tables not yet
            done = 0
    assert done >= 2, "the workers finished fewer than 2 trials in 120 s"
    pg_cluster.stop("fast")
    try:
        results = [_finish(p, timeout=60) for p in procs]
    finally:
        pg_cluster.start()
    for rc, _out, err in results:
        lines = err.strip().splitlines()
        assert rc == 1 and len(lines) == 1, err
        assert lines[0].startswith("error: storage 'postgresql://postgres:***@") and \
            "is unreachable" in lines[0] and "run the same command again" in lines[0], err
    # After the restart the finished trials are intact; a rerun on this host fails the trials
    # the stopped workers left RUNNING and, asked for the finished count, adds nothing.
    trials = _trials(pg_url, "lost")
    finished = [t for t in trials if t.state in FINISHED]
    assert len(finished) >= done
    assert all(t.value is not None and set(t.params) for t in finished)
    rerun = _invoke(*_tune_cmd(pg_url, tmp_path / "o", trials=len(finished), sampler_seed=3,
                               study="lost")[3:])
    assert rerun.exit_code == 0, rerun.output
    after = _trials(pg_url, "lost")
    assert [t.number for t in after if t.state in FINISHED] == [t.number for t in finished]
    # Only an orphan may still run: a trial created in the instant the server stopped, before
    # its worker recorded itself. Once ORPHAN_GRACE_S has passed, a rerun fails it too.
    running = [t for t in after if t.state == TrialState.RUNNING]
    assert all(WORKER_ATTR not in t.user_attrs for t in running), running
    if running:
        monkeypatch.setattr(deepdojo.search.study, "ORPHAN_GRACE_S", 0.0)
        rerun = _invoke(*_tune_cmd(pg_url, tmp_path / "o", trials=len(finished),
                                   sampler_seed=3, study="lost")[3:])
        assert rerun.exit_code == 0, rerun.output
        assert not [t for t in _trials(pg_url, "lost") if t.state == TrialState.RUNNING]


@pytest.mark.parametrize(("password", "database", "says"), [
    ("wrong-pw-123", None, "refused the login: password authentication failed"),
    (None, "no_such_db", 'database "no_such_db" does not exist (create it first)'),
])
def test_login_and_database_errors_say_what_they_are(pg_cluster, tmp_path, password, database,
                                                     says):
    url = pg_cluster.url(database or "postgres", password or "dojo-secret-pw")
    result = CliRunner().invoke(app, ["tune", "--trials", "1", "--storage", url,
                                      "--out", str(tmp_path)])
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert says in lines[0] and "unreachable" not in lines[0]
    assert "postgres:***@127.0.0.1" in lines[0]
    assert "wrong-pw-123" not in result.output and "dojo-secret-pw" not in result.output
    with pytest.raises(SearchError, match=re.escape(says)):
        open_storage(url)


def _pg_objective():
    """``tests/search/pg_objective.py`` under the module name its worker process uses."""
    if "pg_objective" not in sys.modules:
        spec = importlib.util.spec_from_file_location("pg_objective", HERE / "pg_objective.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["pg_objective"] = module
        spec.loader.exec_module(module)
    return sys.modules["pg_objective"]


def test_pruner_decides_from_the_other_workers_reports(pg_cluster, pg_url):
    """A worker whose trials report 0.9 at every step runs the median pruner's 5 startup
    trials; a second process reporting 0.1 is then pruned at step 1, from the first one's
    reports only: on its own (a fresh study) the same worker prunes nothing."""
    pg = _pg_objective()
    first = subprocess.run([sys.executable, str(HERE / "pg_objective.py"), pg_url, "shared",
                            "0.9", "5", "1"], capture_output=True, text=True, env=ENV,
                           timeout=120)
    assert first.returncode == 0, first.stderr
    r = tune(pg.Staircase(0.1), n_trials=8, storage=pg_url, study_name="shared",
             sampler="random", pruner="median", seed=2, progress="off")
    mine = f"{socket.gethostname()}:{os.getpid()}"
    trials = r.study.get_trials()
    theirs = [t for t in trials if t.user_attrs[WORKER_ATTR] != mine]
    ours = [t for t in trials if t.user_attrs[WORKER_ATTR] == mine]
    assert [t.state for t in theirs] == [TrialState.COMPLETE] * 5
    assert [t.state for t in ours] == [TrialState.PRUNED] * 3
    assert all(sorted(t.intermediate_values) == [0, 1] for t in ours)  # stopped at step 1
    alone = tune(pg.Staircase(0.1), n_trials=3, storage=pg_url, study_name="alone",
                 sampler="random", pruner="median", seed=2, progress="off")
    assert [t.state for t in alone.study.get_trials()] == [TrialState.COMPLETE] * 3
