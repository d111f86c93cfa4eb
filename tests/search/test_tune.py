"""tune(): optimization, determinism, resume, workers, pruning, errors and the report."""

from __future__ import annotations

import json

import optuna
import pytest

from deepdojo.search import Quadratic, SearchError, load, tune


def test_tpe_finds_the_quadratic_minimum_in_process():
    r = tune(Quadratic(center=(1.0, -2.0)), n_trials=40, storage=None, direction="minimize",
             pruner=None, progress="off")
    assert r.n_complete == 40
    assert r.best_value == pytest.approx(r.study.best_value)
    assert abs(r.best_params["x0"] - 1.0) < 0.8 and abs(r.best_params["x1"] + 2.0) < 0.8
    # the best value is what the objective gives at the best params
    assert r.best_value == pytest.approx((r.best_params["x0"] - 1) ** 2
                                         + (r.best_params["x1"] + 2) ** 2)


@pytest.mark.parametrize("sampler", ["tpe", "random", "cmaes"])
def test_same_seed_same_trials(sampler):
    def params(seed):
        r = tune(Quadratic(), n_trials=12, storage=None, sampler=sampler, seed=seed,
                 direction="minimize", pruner=None, progress="off")
        return [t.params for t in r.study.trials]

    assert params(3) == params(3)
    assert params(3) != params(4)


def test_study_resumes_in_a_created_sqlite_folder(tmp_path):
    url = f"sqlite:///{tmp_path}/deep/er/search.db"
    first = tune(Quadratic(), n_trials=5, storage=url, study_name="q", direction="minimize",
                 progress="off")
    before = [t.params for t in first.study.trials]
    again = tune(Quadratic(), n_trials=8, storage=url, study_name="q", direction="minimize",
                 progress="off")
    assert (tmp_path / "deep/er/search.db").is_file()
    assert len(again.study.trials) == 8  # 3 more, not 8 more
    assert [t.params for t in again.study.trials[:5]] == before
    assert not any(t.params in before for t in again.study.trials[5:])  # no replayed proposals
    assert load("q", storage=url).n_complete == 8
    with pytest.raises(SearchError, match="no study 'nope'.*has: q"):
        load("nope", storage=url)


def test_two_worker_processes_share_one_sqlite_study(tmp_path):
    url = f"sqlite:///{tmp_path}/w.db"
    r = tune(Quadratic(), n_trials=8, storage=url, study_name="w", workers=2,
             direction="minimize", pruner=None, progress="off")
    trials = optuna.load_study(study_name="w", storage=url).trials
    assert len(trials) == 8 and all(t.state.name == "COMPLETE" for t in trials)
    assert len({t.user_attrs["pid"] for t in trials}) == 2  # two separate processes ran them
    assert r.best_value == min(t.value for t in trials)


def test_trials_finished_elsewhere_count_towards_the_shared_total(tmp_path):
    url = f"sqlite:///{tmp_path}/shared.db"
    dist = {"x": optuna.distributions.FloatDistribution(-5, 5)}

    def objective(trial):
        if trial.number == 0:  # meanwhile another machine finishes 3 trials of the same study
            other = optuna.load_study(study_name="shared", storage=url)
            for v in (1.0, 2.0, 3.0):
                other.add_trial(optuna.trial.create_trial(params={"x": v}, distributions=dist,
                                                          value=v * v))
        return trial.suggest_float("x", -5, 5) ** 2

    r = tune(objective, n_trials=6, storage=url, study_name="shared", direction="minimize",
             pruner=None, progress="off")
    states = [t.state.name for t in r.study.trials]
    assert states == ["COMPLETE"] * 6  # 3 from elsewhere + 3 here, not 3 + 6


def test_median_pruner_prunes_trials_that_report_bad_curves():
    def objective(trial):
        x = trial.suggest_float("x", 0.0, 1.0)
        for step in range(6):
            trial.report(x * (step + 1), step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return x * 6

    with_pruning = tune(objective, n_trials=30, storage=None, pruner="median", progress="off")
    without = tune(objective, n_trials=30, storage=None, pruner=None, progress="off")
    assert with_pruning.n_pruned > 0 and without.n_pruned == 0
    assert with_pruning.n_pruned + with_pruning.n_complete == 30
    pruned = [t for t in with_pruning.study.trials if t.state.name == "PRUNED"]
    assert all(len(t.intermediate_values) < 6 for t in pruned)


def test_importances_and_saved_report(tmp_path):
    def objective(trial):
        a = trial.suggest_float("a", -1, 1)
        b = trial.suggest_float("b", -1, 1)
        return 10 * a * a + 0.01 * b

    r = tune(objective, n_trials=25, storage=None, sampler="random", pruner=None,
             direction="minimize", progress="off")
    imp = r.importances()
    assert sum(imp.values()) == pytest.approx(1.0)
    assert imp["a"] > imp["b"]
    paths = r.save(tmp_path / "report")
    assert set(paths) == {"summary", "history", "importances", "parallel_coordinates"}
    summary = json.loads(paths["summary"].read_text())
    assert summary["best_params"] == r.best_params and summary["n_complete"] == 25
    assert all(p.stat().st_size > 1000 for k, p in paths.items() if k != "summary")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_trials": 0}, "n_trials must be a positive int"),
        ({"sampler": "grid"}, "sampler must be one of tpe, random, cmaes"),
        ({"pruner": "early"}, "pruner must be one of"),
        ({"workers": 0}, "workers must be a positive int"),
        ({"workers": 2, "storage": None}, "need a shared storage URL"),
        ({"direction": "up"}, "direction must be"),
        ({"progress": "yes"}, "progress must be auto, on or off"),
        ({"seed": -1}, r"sampler seed must be an int in \[0, 4294967295\]; got -1"),
        ({"storage": "runs/search.db"}, "storage must be a database URL"),
        ({"storage": "nosuchdb://host/x"}, "unknown database scheme"),
        ({"storage": "sqlite:////proc/no/such/x.db"}, "storage 'sqlite:////proc/no"),
    ],
)
def test_bad_arguments_are_one_line_errors(kwargs, match):
    args = {"n_trials": 2, "storage": None, "progress": "off", **kwargs}
    with pytest.raises(SearchError, match=match) as err:
        tune(Quadratic(), **args)
    assert "\n" not in str(err.value)


def test_unreachable_database_hides_the_password():
    with pytest.raises(SearchError, match="unreachable") as err:
        tune(Quadratic(), n_trials=1, storage="postgresql://user:secret@127.0.0.1:1/db",
             progress="off")
    assert "secret" not in str(err.value) and "\n" not in str(err.value)


def test_sampler_and_pruner_instances_are_used_as_given(tmp_path):
    sampler = optuna.samplers.TPESampler(n_startup_trials=2, seed=0)
    r = tune(Quadratic(), n_trials=4, storage=None, sampler=sampler,
             pruner=optuna.pruners.NopPruner(), direction="minimize", progress="off")
    assert r.study.sampler is sampler and isinstance(r.study.pruner, optuna.pruners.NopPruner)
    with pytest.raises(SearchError, match="take sampler and pruner by name"):
        tune(Quadratic(), n_trials=2, workers=2, sampler=sampler,
             storage=f"sqlite:///{tmp_path}/i.db", progress="off")


def test_workers_need_a_picklable_objective(tmp_path):
    with pytest.raises(SearchError, match="picklable objective"):
        tune(lambda t: t.suggest_float("x", 0, 1), n_trials=2, workers=2,
             storage=f"sqlite:///{tmp_path}/p.db", progress="off")
