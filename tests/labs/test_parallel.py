"""The runner's stable run ids, longest-first ordering and ``run_labs`` in worker processes."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass

import pytest

from deepdojo.labs import LABS, LabContext, LabError, register_lab, run_lab
from deepdojo.labs.framework import parallel, runner
from deepdojo.labs.framework import rules as R
from deepdojo.labs.framework.parallel import longest_first, run_labs
from deepdojo.labs.framework.runner import last_duration, reserve_run_dir


@dataclass
class SleepyConfig:
    fail: bool = False  # raise inside the lab


def _lab(cfg: SleepyConfig, ctx: LabContext) -> None:
    """A lab that records its thread count."""
    import os

    import torch

    ctx.metric("torch_threads", torch.get_num_threads())
    ctx.metric("omp", os.environ.get("OMP_NUM_THREADS"))
    ctx.claim("one", "one is one", R.EverySeed(R.AtLeast(1.0)), values=[1.0] * len(ctx.seeds),
              kind="check")
    if cfg.fail:
        raise RuntimeError("lab broke")


@pytest.fixture()
def two_labs():
    names = ["test-par-a", "test-par-b"]
    for n in names:
        register_lab(n, questions=("Q01",), config=SleepyConfig)(_lab)
    yield names
    for n in names:
        LABS.pop(n, None)


def test_two_runs_in_the_same_second_both_succeed(two_labs, tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "_stamp", lambda: "20260101-000000")
    a = run_lab(two_labs[0], scale="smoke", out=tmp_path, progress="off")
    b = run_lab(two_labs[0], scale="smoke", out=tmp_path, progress="off")
    assert a.path.name == "20260101-000000-smoke-s0"
    assert b.path.name == "20260101-000000-smoke-s0-2"
    assert json.loads((b.path / "result.json").read_text())["run_id"] == b.path.name


def test_reservation_is_exclusive_across_threads(tmp_path):
    got: list[str] = []
    barrier = threading.Barrier(8)

    def grab() -> None:
        barrier.wait()
        got.append(reserve_run_dir(tmp_path, "stem")[0])

    threads = [threading.Thread(target=grab) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == sorted(["stem"] + [f"stem-{n}" for n in range(2, 9)])
    (tmp_path / "stem-9").mkdir()  # a finished run of that name blocks it too
    assert reserve_run_dir(tmp_path, "stem")[0] == "stem-10"


def test_result_counts_findings_without_checks(two_labs, tmp_path):
    res = run_lab(two_labs[0], scale="smoke", out=tmp_path, progress="off")
    assert res.result["claim_counts"]["findings"] == 0
    assert res.result["claim_counts"]["checks"] == 1
    claim = res.result["claims"][0]
    for key in ("kind", "verdict", "ci", "margin", "why", "environment_dependent",
                "seed_holds", "values_a", "values_b", "requires"):
        assert key in claim


def _fake_run(root, lab, run_id, scale, started, seconds):
    d = root / lab / run_id
    d.mkdir(parents=True)
    (d / "result.json").write_text(json.dumps(
        {"lab": lab, "scale": scale, "started": started, "timings": {"total_s": seconds}}))


def test_longest_first_uses_the_last_duration_at_that_scale(tmp_path):
    _fake_run(tmp_path, "a", "r1", "quick", "2026-01-01T00:00:00", 50.0)
    _fake_run(tmp_path, "a", "r2", "quick", "2026-01-02T00:00:00", 5.0)  # newest wins
    _fake_run(tmp_path, "b", "r1", "quick", "2026-01-01T00:00:00", 20.0)
    _fake_run(tmp_path, "b", "r2", "full", "2026-01-03T00:00:00", 900.0)  # other scale
    assert last_duration(tmp_path, "a", "quick") == 5.0
    assert last_duration(tmp_path, "b", "quick") == 20.0
    assert last_duration(tmp_path, "c", "quick") is None
    assert longest_first(["a", "b", "c"], tmp_path, "quick") == ["c", "b", "a"]
    # no history: the per-lab estimates order the real labs
    assert longest_first(["exploding-gradients", "hyperparameters", "zz-new"], tmp_path,
                         "quick") == ["zz-new", "hyperparameters", "exploding-gradients"]


def test_run_labs_in_two_processes_one_thread_each(two_labs, tmp_path, capsys, monkeypatch):
    import os

    import torch

    monkeypatch.setenv("OMP_NUM_THREADS", "4")  # what the workers must not inherit
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    done = []
    try:
        outcomes = run_labs(two_labs, jobs=2, scale="smoke", out=tmp_path,
                            on_done=done.append, start_method="fork")
    finally:
        torch.set_num_threads(before)
    assert os.environ["OMP_NUM_THREADS"] == "4"  # the parent's setting is restored
    assert sorted(o.name for o in outcomes) == two_labs and all(o.ok for o in outcomes)
    assert [o.name for o in done] == [o.name for o in outcomes]
    for o in outcomes:
        assert o.result["metrics"]["torch_threads"] == 1
        assert o.result["metrics"]["omp"] == "1"
        assert o.result["parallel_jobs"] == 2  # timing claims can tell a job ran beside them
        assert (o.path / "result.json").is_file()
    printed = capsys.readouterr().out
    for name in two_labs:
        assert f"end    {name}" in printed


def test_a_failing_lab_does_not_stop_the_others(two_labs, tmp_path, capsys):
    outcomes = run_labs([two_labs[0]], jobs=1, scale="smoke", out=tmp_path,
                        overrides={"fail": "true"})
    assert not outcomes[0].ok and "RuntimeError: lab broke" in outcomes[0].error
    printed = capsys.readouterr().out
    assert f"start  {two_labs[0]}" in printed and "FAILED after" in printed
    with pytest.raises(LabError, match="--jobs must be a positive integer"):
        run_labs(two_labs, jobs=0)
    assert parallel.START_METHOD == "spawn"


def test_estimates_name_registered_labs():
    from deepdojo.labs import load_all

    assert set(parallel.ESTIMATED_S) <= set(load_all())
