"""A study keeps to one problem, names a safe folder, and survives Ctrl-C resumable.

Everything here is refused before any trial runs: the objectives count their calls to show it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import optuna
import pytest
import sqlalchemy
import torch
from optuna.trial import TrialState

from deepdojo.search import (
    ModelObjective,
    Quadratic,
    SearchError,
    TuneInterrupted,
    check_out,
    tunable_models,
    tune,
)
from deepdojo.search.study import (
    PROBLEM_ATTR,
    SURPLUS_ATTR,
    WORKER_ATTR,
    Guarded,
    SurplusTrial,
    check_problem,
    fail_stale_trials,
    problem_of,
    quiet_interrupts,
)


class Counting(Quadratic):
    """Quadratic that counts its trials (the problem stays Quadratic's)."""

    calls = 0

    def __call__(self, trial):
        Counting.calls += 1
        return super().__call__(trial)


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path}/s.db"


def _states(url, name):
    return [t.state.name for t in optuna.load_study(study_name=name, storage=url).trials]


# --- one problem per study -------------------------------------------------------------------

def test_a_study_records_its_problem_and_refuses_another(url):
    tune(Quadratic(center=(1.0, -2.0)), n_trials=3, storage=url, study_name="q",
         direction="minimize", progress="off")
    study = optuna.load_study(study_name="q", storage=url)
    assert study.user_attrs[PROBLEM_ATTR] == {
        "objective": "deepdojo.search.objectives.Quadratic", "direction": "minimize",
        "center": [1.0, -2.0], "bound": 5.0}
    Counting.calls = 0
    with pytest.raises(SearchError) as err:
        tune(Counting(center=(0.0, 0.0)), n_trials=5, storage=url, study_name="q",
             direction="minimize", progress="off")
    assert str(err.value) == (
        "study 'q' holds trials of another problem: center=[1.0, -2.0] (this run: [0.0, 0.0]); "
        "objective='deepdojo.search.objectives.Quadratic' (this run: "
        f"'{Counting.__module__}.Counting'); resume it with the same settings or choose "
        "another study name")
    assert Counting.calls == 0 and _states(url, "q") == ["COMPLETE"] * 3
    # the same problem resumes
    assert tune(Quadratic(center=(1.0, -2.0)), n_trials=4, storage=url, study_name="q",
                direction="minimize", progress="off").n_complete == 4


def test_the_direction_is_part_of_the_problem_even_for_a_study_optuna_made(url):
    study = optuna.create_study(study_name="d", storage=url, direction="minimize")
    study.optimize(lambda t: t.suggest_float("x0", 0, 1), n_trials=1)
    with pytest.raises(SearchError, match=r"direction='minimize' \(this run: 'maximize'\)"):
        tune(Quadratic(), n_trials=2, storage=url, study_name="d", progress="off")
    # a study without a recorded problem adopts the first one that agrees with its direction
    tune(Quadratic(), n_trials=2, storage=url, study_name="d", direction="minimize",
         progress="off")
    assert optuna.load_study(study_name="d", storage=url).user_attrs[PROBLEM_ATTR]["center"] \
        == [1.0, -2.0]


def _model_problem(**kw):
    args = {"model": "mlp", "data": "digits", "epochs": 10, "seed": 0, **kw}
    return problem_of(ModelObjective(**args), "maximize")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"data": "mnist1d"}, "data='digits' (this run: 'mnist1d')"),
        ({"epochs": 3}, "epochs=10 (this run: 3)"),
        ({"model": "resnet"}, "model='plain_mlp' (this run: 'resnet_mlp')"),
        ({"seed": 7}, "seed=0 (this run: 7)"),
        ({"space": {"lr": {"type": "float", "low": 1e-4, "high": 3e-1, "log": True},
                    "depth": {"type": "int", "low": 2, "high": 3}}},
         "space differs in batch_size, depth, dropout, optimizer, weight_decay, width"),
    ],
)
def test_model_problems_differ_by_model_data_epochs_seed_and_space(change, message):
    study = optuna.create_study(direction="maximize")
    check_problem(study, _model_problem())
    with pytest.raises(SearchError, match="holds trials of another problem") as err:
        check_problem(study, _model_problem(**change))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_an_alias_and_its_model_pose_the_same_problem_and_the_device_does_not_count():
    study = optuna.create_study(direction="maximize")
    check_problem(study, _model_problem(model="mlp"))
    check_problem(study, _model_problem(model="plain_mlp"))
    assert _model_problem() == problem_of(ModelObjective("mlp", "digits", device="cpu:0"),
                                          "maximize")


def test_tune_refuses_other_data_for_a_model_study_before_any_trial(url):
    study = optuna.create_study(study_name="mlp-digits", storage=url, direction="maximize")
    check_problem(study, _model_problem(epochs=2))
    with pytest.raises(SearchError, match=r"data='digits' \(this run: 'mnist1d'\)"):
        tune(ModelObjective("mlp", "mnist1d", epochs=2), n_trials=1, storage=url,
             study_name="mlp-digits", progress="off")
    assert _states(url, "mlp-digits") == []


# --- models tune can train --------------------------------------------------------------------

@pytest.mark.parametrize("model", ["seq2seq", "transformer", "nosuch"])
def test_only_classifiers_can_be_tuned(model):
    with pytest.raises(ValueError) as err:
        ModelObjective(model, "digits")
    listed, _, rest = str(err.value).partition(" (the classifiers tune can train)")
    assert listed.startswith("model must be one of mlp, cnn, resnet, ")
    assert "seq2seq" not in listed and "transformer" not in listed
    assert rest == f"; got {model!r}"


def test_tunable_models_are_the_registered_classifiers():
    names = tunable_models()
    assert names[:3] == ["mlp", "cnn", "resnet"]
    assert {"plain_mlp", "plain_cnn", "resnet_mlp", "resnet_cnn"} <= set(names)
    assert not {"seq2seq", "transformer"} & set(names)


@pytest.mark.parametrize("model", ["cnn", "resnet_cnn"])
def test_convolutional_models_refuse_table_data(model):
    with pytest.raises(ValueError, match="is convolutional and needs image or sequence data "
                                         r"\(digits, mnist1d\); 'breast_cancer' is a table"):
        ModelObjective(model, "breast_cancer")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"seed": -1}, r"seed must be an int in \[0, 2\*\*32 - 1\]; got -1"),
        ({"seed": 99999999999999999999}, "seed must be an int in"),
        ({"seed": 1.0}, "seed must be an int in"),
        ({"epochs": True}, "epochs must be a positive int"),
        ({"device": "gpu"}, "device must be 'cpu' or 'cuda"),
    ],
)
def test_model_objective_checks_seed_epochs_and_device(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ModelObjective("mlp", "digits", **kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_refused():
    with pytest.raises(ValueError, match="no CUDA GPU is available here"):
        ModelObjective("mlp", "digits", device="cuda")


@pytest.mark.parametrize("seed", [-1, 2**32, 2**70, True])
def test_tune_refuses_a_sampler_seed_numpy_cannot_take(seed):
    with pytest.raises(SearchError, match=r"sampler seed must be an int in \[0, "):
        tune(Quadratic(), n_trials=1, storage=None, seed=seed, progress="off")


def test_the_largest_sampler_seed_is_accepted():
    r = tune(Quadratic(), n_trials=1, storage=None, seed=2**32 - 1, progress="off")
    assert r.n_complete == 1


# --- names and folders -------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["../x", "a/b", "..", ".", " ", "a\\b", "/abs", "a\0b"])
def test_study_names_that_leave_out_are_refused_before_the_storage_opens(tmp_path, name):
    with pytest.raises(SearchError, match="study name") as err:
        tune(Quadratic(), n_trials=1, storage=f"sqlite:///{tmp_path}/n.db", study_name=name,
             out=tmp_path / "out", progress="off")
    assert "\n" not in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no database, no folder


def test_an_out_that_is_a_file_is_refused_before_any_trial(tmp_path):
    (tmp_path / "f").write_text("x")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "q").write_text("x")
    Counting.calls = 0
    for out, match in [
        (tmp_path / "f", r"--out '.*/f' must be a folder, not a file$"),
        (tmp_path / "f" / "sub", r"must be a folder, not a file \('.*/f' is a file\)"),
        (tmp_path / "d", r"--out '.*/d': the study's report folder '.*/d/q' is a file$"),
    ]:
        with pytest.raises(SearchError, match=match):
            tune(Counting(), n_trials=2, storage=None, study_name="q", out=out,
                 progress="off")
    assert Counting.calls == 0


def test_out_receives_the_report_in_a_folder_named_after_the_study(tmp_path):
    r = tune(Quadratic(), n_trials=3, storage=None, study_name="q", out=tmp_path / "new" / "o",
             direction="minimize", pruner=None, progress="off")
    assert r.saved["summary"] == tmp_path / "new" / "o" / "q" / "summary.json"
    assert r.saved["summary"].is_file() and r.saved["history"].stat().st_size > 1000
    assert check_out(tmp_path / "new" / "o", "q") == tmp_path / "new" / "o" / "q"


# --- Ctrl-C ------------------------------------------------------------------------------------

def _interrupted_at(n):
    def objective(trial):
        x = trial.suggest_float("x", -1, 1)
        if trial.number == n:
            raise KeyboardInterrupt
        return x * x
    return objective


def test_ctrl_c_in_a_trial_raises_one_line_and_leaves_the_study_resumable(url, capfd):
    with pytest.raises(TuneInterrupted) as err:
        tune(_interrupted_at(2), n_trials=5, storage=url, study_name="i",
             direction="minimize", progress="off")
    assert isinstance(err.value, KeyboardInterrupt)
    assert str(err.value) == ("interrupted: study 'i' holds 2 of 5 finished trials; run the "
                              "same command again to resume")
    assert (err.value.finished, err.value.n_trials) == (2, 5)
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err and "KeyboardInterrupt" not in captured.err
    assert _states(url, "i") == ["COMPLETE", "COMPLETE", "FAIL"]
    again = tune(_interrupted_at(-1), n_trials=5, storage=url, study_name="i",
                 direction="minimize", progress="off")
    assert _states(url, "i") == ["COMPLETE", "COMPLETE", "FAIL"] + ["COMPLETE"] * 3
    assert again.n_complete == 5 and again.summary()["n_failed"] == 1


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_trials_left_running_by_a_gone_process_of_this_machine_are_failed(url):
    study = optuna.create_study(study_name="stale", storage=url, direction="minimize")
    owners = {"dead": f"{socket.gethostname()}:{_dead_pid()}",
              "live": f"{socket.gethostname()}:{os.getppid()}",
              "elsewhere": "another-host:1", "unknown": None}
    numbers = {}
    for who, owner in owners.items():
        trial = study.ask()
        if owner is not None:
            trial.set_user_attr(WORKER_ATTR, owner)
        numbers[who] = trial.number
    assert fail_stale_trials(study) == [numbers["dead"]]
    states = {who: study.trials[n].state for who, n in numbers.items()}
    assert states == {"dead": TrialState.FAIL, "live": TrialState.RUNNING,
                      "elsewhere": TrialState.RUNNING, "unknown": TrialState.RUNNING}


SCRIPT = '''
import sys, time
from deepdojo.search import TuneInterrupted, tune

class Slow:
    def __call__(self, trial):
        x = trial.suggest_float("x", -1, 1)
        time.sleep(1.0)  # long next to the storage work between trials, even on a busy machine
        return x * x

if __name__ == "__main__":
    url, workers, n_trials = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    try:
        tune(Slow(), n_trials=n_trials, storage=url, study_name="c", workers=workers,
             direction="minimize", pruner=None, progress="off")
    except TuneInterrupted as e:  # what the CLI does: one line, exit 130
        print(e, file=sys.stderr)
        sys.exit(130)
'''


def _wait_for(url, ready, timeout=90.0):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            trials = optuna.load_study(study_name="c", storage=url).get_trials(deepcopy=False)
        except KeyError:  # not created yet
            trials = []
        except sqlalchemy.exc.SQLAlchemyError:  # the subprocess is making the schema this
            trials = []  # moment: both insert the alembic version (UNIQUE constraint failed)
        if ready(trials):
            return trials
        time.sleep(0.1)
    raise AssertionError("the tune subprocess never got going")


@pytest.mark.parametrize("workers", [1, 2])
def test_sigint_gives_one_line_exit_130_and_a_resumable_study(tmp_path, workers):
    import signal

    script = tmp_path / "slow_tune.py"
    script.write_text(SCRIPT)
    url = f"sqlite:///{tmp_path}/c.db"

    def running_everywhere(trials):
        done = any(t.state == TrialState.COMPLETE for t in trials)
        owners = {t.user_attrs.get(WORKER_ATTR) for t in trials if t.state == TrialState.RUNNING}
        return done and len(owners - {None}) == workers

    proc = subprocess.Popen([sys.executable, str(script), url, str(workers), "500"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # its own process group, like a terminal's
    try:
        _wait_for(url, running_everywhere)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole foreground group
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("interrupted: study 'c' holds "), err
    states = _states(url, "c")
    assert "RUNNING" not in states and 1 <= states.count("FAIL") <= workers, states
    finished = states.count("COMPLETE")
    assert f"holds {finished} of 500 finished trials" in lines[0]
    # resume (in one process: cheaper, and any worker count may resume a study): only the
    # missing trials run; the failed ones do not count
    again = subprocess.run([sys.executable, str(script), url, "1", str(finished + 2)],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    after = _states(url, "c")
    assert after[:len(states)] == states and after.count("COMPLETE") == finished + 2


def test_a_trial_beyond_the_total_is_surplus_runs_nothing_and_stops_its_worker(caplog):
    study = optuna.create_study()
    study.ask(), study.ask()  # two trials running on other machines claim the total of 2
    ran = []
    guard = Guarded(lambda t: ran.append(t.number) or 0.0, total=2)
    optuna.logging.enable_propagation()
    try:
        with quiet_interrupts(guard), caplog.at_level("WARNING"):
            study.optimize(guard, n_trials=5, catch=(SurplusTrial,))
    finally:
        optuna.logging.disable_propagation()
    trials = study.get_trials()
    assert ran == [] and len(trials) == 3  # study.stop(): no trial after the surplus one
    assert trials[2].state == TrialState.FAIL and trials[2].user_attrs[SURPLUS_ATTR] is True
    assert not [r for r in caplog.records if "failed" in r.getMessage()]  # no warning for it
    study.tell(0, 1.0)  # the other machine's trial finishes; one fails: one slot is free again
    study.tell(1, state=TrialState.FAIL)
    study.optimize(Guarded(lambda t: ran.append(t.number) or 0.0, total=2), n_trials=5,
                   catch=(SurplusTrial,), callbacks=[optuna.study.MaxTrialsCallback(
                       2, states=(TrialState.COMPLETE,))])
    assert ran == [3]


def test_an_orphan_trial_is_failed_only_after_the_grace_period(url, monkeypatch):
    import deepdojo.search.study as study_module

    study = optuna.create_study(study_name="orphan", storage=url, direction="minimize")
    orphan = study.ask()  # its worker lost the database before recording itself
    named = study.ask()
    named.set_user_attr(WORKER_ATTR, "another-host:1")
    assert fail_stale_trials(study) == []  # young: it may be another machine's, just created
    monkeypatch.setattr(study_module, "ORPHAN_GRACE_S", 0.0)
    assert fail_stale_trials(study) == [orphan.number]
    assert study.trials[named.number].state == TrialState.RUNNING  # another machine's, named


class _CtrlCWhileAsking(optuna.samplers.RandomSampler):
    """Ctrl-C (a real SIGINT to this process) while Optuna makes trial ``at``: after the trial
    exists in the storage and before the objective records its worker on it."""

    def __init__(self, at: int) -> None:
        super().__init__(seed=0)
        self.at = at

    def before_trial(self, study, trial):
        if trial.number == self.at:
            import signal

            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):  # the handler runs at the next bytecode boundary
                pass


def test_ctrl_c_while_a_trial_is_being_made_leaves_no_trial_running(url):
    with pytest.raises(TuneInterrupted) as info:
        tune(Quadratic(center=(1.0, -2.0)), n_trials=6, storage=url, study_name="ask",
             sampler=_CtrlCWhileAsking(at=2), direction="minimize", progress="off")
    states = _states(url, "ask")
    assert states == ["COMPLETE", "COMPLETE", "FAIL"], states  # the trial made is failed
    assert "holds 2 of 6 finished trials" in str(info.value)
    tune(Quadratic(center=(1.0, -2.0)), n_trials=6, storage=url, study_name="ask",
         direction="minimize", progress="off")  # resumes: only the missing trials run
    assert _states(url, "ask").count("COMPLETE") == 6


def test_a_second_ctrl_c_between_trials_stops_at_once(url):
    import signal

    class Twice(_CtrlCWhileAsking):
        def before_trial(self, study, trial):
            if trial.number == self.at:
                os.kill(os.getpid(), signal.SIGINT)  # deferred: a trial is being made
                os.kill(os.getpid(), signal.SIGINT)  # the user insists: stop here
                for _ in range(1000):
                    pass

    with pytest.raises(TuneInterrupted):
        tune(Quadratic(center=(1.0, -2.0)), n_trials=6, storage=url, study_name="twice",
             sampler=Twice(at=1), direction="minimize", progress="off")
    # stopped inside Optuna's ask, before the objective ran: no further trial ran, and the
    # trial being made has no worker, so it is left to the orphan rule of a later run
    trials = optuna.load_study(study_name="twice", storage=url).trials
    assert [t.state.name for t in trials] == ["COMPLETE", "RUNNING"]
    assert WORKER_ATTR not in trials[1].user_attrs
