"""Every engine feature for a multi-optimizer task: exact resume after SIGKILL, rollback of
every network and optimizer, per-optimizer clipping, fp16, log_dir and progress, DDP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from deepdojo.train import Callback, ClipGrad, NonFiniteGuard, Trainer
from deepdojo.train.checkpoint import list_checkpoints
from deepdojo.train.logging import read_metrics

sys.path.insert(0, str(Path(__file__).parent))
from _toy_tasks import Chase, regression  # noqa: E402

SCRIPT = Path(__file__).with_name("_task_resume_script.py")


def run_child(ckpt: Path, out: Path, hang_at: int, mode: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, str(SCRIPT), str(ckpt), str(out), str(hang_at),
                             mode], stdout=subprocess.PIPE, text=True, env=env)


def test_two_optimizers_sigkill_mid_epoch_then_resume_is_bit_identical(tmp_path):
    # 12 batches of 6 per epoch, 2 per training step: 6 steps per epoch; hang after step 9
    # (epoch 1, mid-epoch), the last checkpoint is the one at step 8
    child = run_child(tmp_path / "ck", tmp_path / "a.safetensors", 9, "fresh")
    line = child.stdout.readline()
    assert line.startswith("READY epoch=1 batch=6"), line
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(timeout=60) == -signal.SIGKILL
    assert [p.name for p in list_checkpoints(tmp_path / "ck")] == ["ckpt-000000006-e",
                                                                    "ckpt-000000008-b"]
    resumed = run_child(tmp_path / "ck", tmp_path / "a.safetensors", -1, "resume")
    full = run_child(tmp_path / "ck2", tmp_path / "b.safetensors", -1, "fresh")
    assert resumed.wait(timeout=120) == 0 and full.wait(timeout=120) == 0
    a, b = load_file(tmp_path / "a.safetensors"), load_file(tmp_path / "b.safetensors")
    assert a.keys() == b.keys() and any(k.startswith("b.") for k in a)
    for k in a:
        assert torch.equal(a[k], b[k]), k  # bit-identical, both networks
    ha = json.loads((tmp_path / "a.safetensors.json").read_text())
    hb = json.loads((tmp_path / "b.safetensors.json").read_text())
    assert ha["records"] == hb["records"]  # losses, gaps, both rates, validation
    assert ha["steps"] == hb["steps"] == {"a": 36, "b": 18}
    assert ha["events"] == ["resume"]


def test_rollback_restores_every_network_and_optimizer():
    X, y = regression()
    seen = []

    class Check(Callback):
        def on_rollback(self, trainer, event):
            snap = trainer._guard.snapshots_[-1]
            for k, v in trainer.task.state_dict().items():
                assert torch.equal(v, snap["task"][k]), k
            for name, opt in trainer.optimizers.items():
                saved = snap["optimizers"][name]["state"]
                for i, s in opt.state_dict()["state"].items():
                    for key, t in s.items():
                        assert torch.equal(torch.as_tensor(t), torch.as_tensor(saved[i][key]))
            seen.append(event)

    task = Chase(lr_a=1e4)  # a diverges; b (chasing a) too
    guard = NonFiniteGuard(patience=1, lr_factor=1e-6, max_rollbacks=3, snapshot_every=1)
    tr = Trainer(task, guard=guard, callbacks=[Check()], device="cpu", progress="off")
    hist = tr.fit((X * 100, y * 100), epochs=3, batch_size=8)
    assert seen and seen[0]["kind"] == "rollback" and seen[0] in hist.events
    assert tr.optimizers["a"].param_groups[0]["lr"] <= 1e4 * 1e-6
    assert tr.optimizers["b"].param_groups[0]["lr"] <= 0.05 * 1e-6  # every optimizer's rate
    assert all(torch.isfinite(p).all() for p in task.parameters())


def test_clipping_per_optimizer():
    X, y = regression()
    norms = {}

    class Spy(Callback):
        def on_before_optimizer_step(self, trainer, optimizer):
            params = trainer._opt_params[trainer.current_optimizer]
            norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params]))
            norms.setdefault(trainer.current_optimizer, []).append(norm.item())

    tr = Trainer(Chase(), clip={"a": ClipGrad(max_norm=1e-3)}, callbacks=[Spy()], device="cpu",
                 progress="off")
    tr.fit((X * 10, y * 10), epochs=1, batch_size=8)
    assert max(norms["a"]) <= 1e-3 * (1 + 1e-5)
    assert max(norms["b"]) > 1e-2  # b is not clipped
    with pytest.raises(ValueError, match="clip names unknown optimizers \\['c'\\]"):
        Trainer(Chase(), clip={"c": ClipGrad(max_norm=1.0)}, device="cpu")


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_low_precision_task_trains_close_to_fp32(precision):
    X, y = regression()
    ref = Trainer(Chase(), device="cpu", progress="off").fit((X, y), epochs=2, batch_size=8)
    tr = Trainer(Chase(), precision=precision, device="cpu", progress="off")
    hist = tr.fit((X, y), epochs=2, batch_size=8)
    assert hist["train_loss_a"] != ref["train_loss_a"]
    # the last epoch (fp16: the scaler skips the first update, its initial scale overflows)
    assert hist["train_loss_a"][-1] == pytest.approx(ref["train_loss_a"][-1], abs=0.05)
    assert all(p.dtype == torch.float32 for p in tr.task.parameters())


def test_task_log_dir_and_progress(tmp_path, capsys):
    X, y = regression()
    tr = Trainer(Chase(), log_dir=tmp_path / "run", progress="on", device="cpu")
    hist = tr.fit((X, y), epochs=2, batch_size=8)
    records = read_metrics(tmp_path / "run")
    assert [r["train_loss_b"] for r in records] == hist["train_loss_b"]
    assert [r["train_gap"] for r in records] == hist["train_gap"]
    assert "epoch 2/2" in capsys.readouterr().err


def test_task_on_a_dataloader_of_dicts():
    from torch.utils.data import DataLoader

    X, y = regression()
    rows = [{"x": X[i], "y": y[i]} for i in range(len(X))]

    class DictChase(Chase):
        def training_step(self, batch):
            yield from super().training_step((batch["x"], batch["y"]))

    hist = Trainer(DictChase(), device="cpu", progress="off").fit(
        DataLoader(rows, batch_size=8, shuffle=True), epochs=2)
    assert hist["train_loss_a"][1] < hist["train_loss_a"][0]
