"""Data-parallel training: 2 CPU processes (gloo, DDP) vs 1 process at the same global batch."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from deepdojo.train import Trainer
from deepdojo.train.distributed import DistributedWeightedSampler, pad_to_multiple

SCRIPT = Path(__file__).with_name("_ddp_script.py")
TOLERANCE = 1e-5  # float32 gradient all-reduce vs one batch mean: rounding only


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not torch.distributed.is_available(), reason="no torch.distributed")
def test_two_processes_match_single_process_at_same_global_batch(tmp_path):
    port = str(free_port())
    procs = []
    for rank in range(2):
        env = {**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2",
               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port, "OMP_NUM_THREADS": "1"}
        procs.append(subprocess.Popen(
            [sys.executable, str(SCRIPT), str(tmp_path / "w.safetensors"), str(tmp_path / "logs")],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    # meanwhile: the single-process reference with the global batch (2 x 8)
    sys.path.insert(0, str(SCRIPT.parent))
    from _ddp_script import make_problem

    model, X, y = make_problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
    tr = Trainer(model, nn.CrossEntropyLoss(), opt, device="cpu", progress="off")
    ref = tr.fit((X, y), (X[:16], y[:16]), epochs=2, batch_size=16)
    for p in procs:
        try:
            out, _ = p.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail(f"DDP rank hung: {p.communicate()[0][-2000:]}")
        assert p.returncode == 0, out
    ddp = load_file(tmp_path / "w.safetensors")
    for k, v in model.state_dict().items():
        torch.testing.assert_close(ddp[k], v, rtol=0, atol=TOLERANCE)
    records = json.loads((tmp_path / "w.safetensors.json").read_text())
    for got, want in zip(records, ref.records, strict=True):
        for key in ("train_loss", "train_acc", "val_loss", "val_acc"):
            assert got[key] == pytest.approx(want[key], abs=TOLERANCE), key
    # logs and checkpoints come from rank 0 only
    assert (tmp_path / "logs" / "rank0" / "metrics.jsonl").exists()
    assert not (tmp_path / "logs" / "rank1").exists()


def run_ranks(out: Path, mode: str) -> list[subprocess.Popen]:
    port = str(free_port())
    procs = []
    for rank in range(2):
        env = {**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2",
               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port, "OMP_NUM_THREADS": "1"}
        procs.append(subprocess.Popen([sys.executable, str(SCRIPT), str(out), mode], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    return procs


def wait_ranks(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        try:
            out, _ = p.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail(f"DDP rank hung: {p.communicate()[0][-2000:]}")
        assert p.returncode == 0, out


@pytest.mark.skipif(not torch.distributed.is_available(), reason="no torch.distributed")
def test_two_optimizer_task_under_two_processes_matches_one_process(tmp_path):
    procs = run_ranks(tmp_path / "t.safetensors", "task")
    sys.path.insert(0, str(SCRIPT.parent))
    from _toy_tasks import Chase, regression

    X, y = regression(n=64)
    task = Chase()
    ref = Trainer(task, device="cpu", progress="off").fit((X, y), (X[:16], y[:16]), epochs=2,
                                                          batch_size=16)
    wait_ranks(procs)
    ddp = load_file(tmp_path / "t.safetensors")
    for k, v in task.state_dict().items():
        torch.testing.assert_close(ddp[k], v, rtol=0, atol=TOLERANCE)
    records = json.loads((tmp_path / "t.safetensors.json").read_text())
    for got, want in zip(records, ref.records, strict=True):
        for key in ("train_loss_a", "train_loss_b", "train_gap", "val_mse_a", "val_mse_b"):
            assert got[key] == pytest.approx(want[key], abs=TOLERANCE), key


def test_weighted_sampler_shards_one_global_draw():
    weights = torch.tensor([0.1, 0.0, 0.5, 0.2, 0.2])
    shards = [list(DistributedWeightedSampler(weights, 11, num_replicas=3, rank=r, seed=4))
              for r in range(3)]
    assert [len(s) for s in shards] == [4, 4, 4]
    g = torch.Generator().manual_seed(4)
    full = pad_to_multiple(torch.multinomial(weights.double(), 11, True, generator=g), 3)
    interleaved = [shards[i % 3][i // 3] for i in range(12)]
    assert interleaved == full.tolist()
    assert 1 not in sum(shards, [])  # zero weight never drawn


def test_pad_to_multiple():
    assert pad_to_multiple(torch.arange(5), 2).tolist() == [0, 1, 2, 3, 4, 0]
    assert pad_to_multiple(torch.arange(4), 2).tolist() == [0, 1, 2, 3]
