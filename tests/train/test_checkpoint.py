"""Checkpoints: exact resume after SIGKILL, corrupted files, keep-last, foreign weights."""

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
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from deepdojo.train import Callback, Trainer
from deepdojo.train.checkpoint import (
    CheckpointError,
    decode,
    encode,
    import_weights,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
)

SCRIPT = Path(__file__).with_name("_resume_script.py")


def run_child(ckpt: Path, out: Path, hang_at: int, mode: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, str(SCRIPT), str(ckpt), str(out), str(hang_at),
                             mode], stdout=subprocess.PIPE, text=True, env=env)


def test_sigkill_mid_epoch_then_resume_is_bit_identical(tmp_path):
    # interrupted run: hangs after step 11 (epoch 1, mid-epoch); last checkpoint at step 9
    child = run_child(tmp_path / "ck", tmp_path / "a.safetensors", 11, "fresh")
    line = child.stdout.readline()
    assert line.startswith("READY epoch=1"), line
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(timeout=60) == -signal.SIGKILL
    assert [p.name for p in list_checkpoints(tmp_path / "ck")] == ["ckpt-000000008-e",
                                                                    "ckpt-000000009-b"]
    resumed = run_child(tmp_path / "ck", tmp_path / "a.safetensors", -1, "resume")
    full = run_child(tmp_path / "ck2", tmp_path / "b.safetensors", -1, "fresh")
    assert resumed.wait(timeout=120) == 0 and full.wait(timeout=120) == 0
    a, b = load_file(tmp_path / "a.safetensors"), load_file(tmp_path / "b.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k  # bit-identical
    ha = json.loads((tmp_path / "a.safetensors.json").read_text())
    hb = json.loads((tmp_path / "b.safetensors.json").read_text())
    assert ha["train_loss"] == hb["train_loss"] and ha["val_loss"] == hb["val_loss"]
    assert ha["events"] == ["resume"]


class Crash(Callback):
    def __init__(self, step):
        self.step = step

    def on_batch_end(self, trainer, batch_idx, logs):
        if trainer.global_step == self.step:
            raise KeyboardInterrupt


def small_run(tmp, data_kind, crash_at=None, resume=False, ckpt="ck"):
    g = torch.Generator().manual_seed(1)
    X, y = torch.randn(30, 4, generator=g), torch.randint(0, 2, (30,), generator=g)
    data = (X, y) if data_kind == "memory" else DataLoader(TensorDataset(X, y), batch_size=4,
                                                           shuffle=True)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.2), nn.Linear(8, 2))
    cbs = [Crash(crash_at)] if crash_at else []
    tr = Trainer(model, nn.CrossEntropyLoss(), "sgd", lr=0.1, callbacks=cbs, device="cpu",
                 progress="off")
    tr.fit(data, epochs=3, batch_size=4, checkpoint_dir=tmp / ckpt, resume=resume,
           save_every_n_steps=5)
    return tr


@pytest.mark.parametrize("data_kind", ["memory", "dataloader"])
def test_in_process_crash_and_resume_matches(tmp_path, data_kind):
    with pytest.raises(KeyboardInterrupt):
        small_run(tmp_path, data_kind, crash_at=13)
    resumed = small_run(tmp_path, data_kind, resume=True)
    full = small_run(tmp_path, data_kind, ckpt="other")
    for pa, pb in zip(resumed.model.parameters(), full.model.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert resumed.history["train_loss"] == full.history["train_loss"]


def test_corrupted_checkpoint_is_an_error_and_previous_one_is_used(tmp_path):
    tr = small_run(tmp_path, "memory")
    paths = list_checkpoints(tmp_path / "ck")
    assert len(paths) == 3  # keep_last=3 pruned the rest
    newest = paths[-1]
    data = (newest / "model.safetensors").read_bytes()
    (newest / "model.safetensors").write_bytes(data[: len(data) // 2])  # truncate
    with pytest.raises(CheckpointError, match="model.safetensors: SHA-256 mismatch"):
        load_checkpoint(newest)
    with pytest.warns(RuntimeWarning, match="skipping bad checkpoint"):
        found = latest_checkpoint(tmp_path / "ck")
    assert found is not None and found[0] == paths[-2]
    (paths[-2] / "state.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="state.json: not valid JSON"):
        load_checkpoint(paths[-2])
    with pytest.raises(CheckpointError, match="missing"):
        load_checkpoint(tmp_path)
    assert tr.global_step == 24


def test_codec_roundtrip_exact():
    tensors = {}
    obj = {"a": (1, 2.5, float("nan")), 3: [torch.arange(3), None], "s": "x", "inf": -float("inf")}
    back = decode(json.loads(json.dumps(encode(obj, "r", tensors))), tensors)
    assert back["a"][:2] == (1, 2.5) and back["a"][2] != back["a"][2]
    assert torch.equal(back[3][0], torch.arange(3)) and back["inf"] == -float("inf")
    with pytest.raises(CheckpointError, match="cannot store a object"):
        encode(object(), "r", {})


def test_import_foreign_pt_uses_weights_only(tmp_path):
    src, dst = nn.Linear(3, 2), nn.Linear(3, 2)
    torch.save(src.state_dict(), tmp_path / "w.pt")
    import_weights(dst, tmp_path / "w.pt")
    assert torch.equal(src.weight, dst.weight)

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    torch.save({"weight": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="weights_only=True"):
        import_weights(dst, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="expected .safetensors"):
        import_weights(dst, tmp_path / "w.txt")


def test_half_written_leftovers_are_ignored_then_removed(tmp_path):
    from deepdojo.train.checkpoint import save_checkpoint

    leftover = tmp_path / ".tmp-ckpt-000000005-b-999"
    leftover.mkdir(parents=True)
    (leftover / "model.safetensors").write_bytes(b"half")
    assert list_checkpoints(tmp_path) == []  # a killed save is invisible
    model = nn.Linear(2, 2)
    for step in range(4):
        save_checkpoint(tmp_path, f"ckpt-{step:09d}-b", model.state_dict(), {"step": step},
                        keep_last=None)
    assert not leftover.exists() and len(list_checkpoints(tmp_path)) == 4
    _, state = load_checkpoint(list_checkpoints(tmp_path)[-1])
    assert state == {"step": 3}
