"""Faults found by a newcomer's probe: fp16 + a NaN batch, resuming with other data settings or
another optimizer, malformed state.json."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from deepdojo.train import CheckpointError, Trainer
from deepdojo.train.checkpoint import (
    _meta_digest,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
)
from deepdojo.train.state import validate_state


def data(n: int = 40):
    g = torch.Generator().manual_seed(0)
    X = torch.randn(n, 3, generator=g)
    return X, X @ torch.tensor([[1.0], [-2.0], [0.5]])


def net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))


@pytest.mark.parametrize("precision", ["32", "bf16", "fp16"])
def test_one_nan_batch_is_skipped_under_every_precision(precision):
    X, y = data()
    X[12] = float("nan")  # batch 1 of 4 (no shuffle)
    tr = Trainer(net(), nn.MSELoss(), "sgd", lr=0.05, precision=precision, device="cpu",
                 progress="off")
    if tr.scaler is not None:  # a scale that never overflows here: only the NaN batch is bad
        tr._scaler = torch.amp.GradScaler("cpu", init_scale=2.0**8, growth_interval=10**6)
    hist = tr.fit((X, y), epochs=2, batch_size=10, shuffle=False)  # crashed on the next step
    assert hist["nonfinite_steps"] == [1, 1] and tr.global_step == 6
    assert all(torch.isfinite(p).all() for p in tr.model.parameters())
    if tr.scaler is not None:
        assert tr.scaler.get_scale() == 2.0**8  # the guard's skip leaves the scale alone


def run(tmp, *, batch_size=4, shuffle=True, optimizer="adam", loader=False, resume=False,
        epochs=2):
    X, y = data()
    train = DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=shuffle) if loader \
        else (X, y)
    tr = Trainer(net(), nn.MSELoss(), optimizer, lr=0.01, device="cpu", progress="off")
    tr.fit(train, epochs=epochs, batch_size=batch_size, shuffle=shuffle, checkpoint_dir=tmp,
           resume=resume)
    return tr


@pytest.mark.parametrize("loader", [False, True])
def test_resume_with_another_batch_size_or_shuffle_is_refused(tmp_path, loader):
    run(tmp_path, loader=loader, epochs=1)
    with pytest.raises(ValueError, match="batch_size=4 in the checkpoint, 8 now"):
        run(tmp_path, batch_size=8, loader=loader, resume=True)
    with pytest.raises(ValueError, match="shuffle=True in the checkpoint, False now"):
        run(tmp_path, shuffle=False, loader=loader, resume=True)
    assert run(tmp_path, loader=loader, resume=True).history.events[0]["kind"] == "resume"


def test_resume_with_another_optimizer_is_a_clear_error(tmp_path):
    run(tmp_path, optimizer="adam", epochs=1)
    with pytest.raises(ValueError, match="optimizer 'model' is a SGD but the checkpoint holds "
                                         "the state of a Adam"):
        run(tmp_path, optimizer="sgd", resume=True)


def rewrite_meta(path, edit):
    meta = json.loads((path / "state.json").read_text())
    meta = edit(meta)
    if isinstance(meta, dict) and "sha256" in meta:
        meta["sha256"] = _meta_digest(meta)  # a consistent hash: only the shape is wrong
    (path / "state.json").write_text(json.dumps(meta))


@pytest.mark.parametrize("edit, match", [
    (lambda m: [], "a JSON list, not an object"),
    (lambda m: {k: v for k, v in m.items() if k != "files"}, "'files' must map"),
    (lambda m: {**m, "files": ["model.safetensors"]}, "'files' must map"),
    (lambda m: {**m, "state": {**m["state"], "loop": [1, 2]}}, r"state\[.loop.\] is a list"),
    (lambda m: {**m, "state": {**m["state"], "optimizers": {"model": 3}}}, "optimizer state"),
    (lambda m: {**m, "state": {**m["state"], "loop": {**m["state"]["loop"], "epoch": "1"}}},
     r"loop\['epoch'\] is a str"),
])  # fmt: skip
def test_malformed_state_json_falls_back_to_the_previous_checkpoint(tmp_path, edit, match):
    run(tmp_path, epochs=2)
    older, newest = list_checkpoints(tmp_path)[-2:]
    rewrite_meta(newest, edit)
    with pytest.raises(CheckpointError, match=match):
        validate_state(*load_checkpoint(newest))
    with pytest.warns(RuntimeWarning, match="skipping bad checkpoint"):
        found = latest_checkpoint(tmp_path, validate=validate_state)
    assert found is not None and found[0] == older
    with pytest.warns(RuntimeWarning, match="skipping bad checkpoint"):
        tr = run(tmp_path, epochs=3, resume=True)
    assert tr.history.events[0] == {"kind": "resume", "epoch": 1, "step": 10}


def test_state_json_is_covered_by_the_hash(tmp_path):
    run(tmp_path, epochs=1)
    (path,) = list_checkpoints(tmp_path)[-1:]
    meta = json.loads((path / "state.json").read_text())
    meta["state"]["loop"]["epoch"] = 0  # a plausible edit: the hash no longer matches
    (path / "state.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="state.json: SHA-256 mismatch"):
        load_checkpoint(path)


def test_a_checkpoint_from_before_loop_state_still_resumes(tmp_path):
    """Format 1 (no state.json hash) with the old layout: position, optimizer, scheduler."""
    from deepdojo.train.checkpoint import save_checkpoint

    tr = run(tmp_path / "new", epochs=1)
    model_state, state = load_checkpoint(list_checkpoints(tmp_path / "new")[-1])
    loop = state["loop"]
    legacy = {
        "position": {"epoch": loop["epoch"], "batch": loop["batch"], "totals": loop["sums"],
                     "seen": 0, "global_step": loop["global_step"]},
        "optimizer": state["optimizers"]["model"], "scheduler": None, "scaler": None,
        "guard": state["guard"], "history": state["history"], "rng": loop["rng"],
        "epoch_rng": loop["epoch_rng"], "seed": loop["data"]["seed"],
        "step_lrs": loop["step_lrs"]["model"],
    }  # fmt: skip
    path = save_checkpoint(tmp_path / "old", "ckpt-000000010-e", model_state, legacy)
    meta = json.loads((path / "state.json").read_text())
    meta["format"] = 1
    del meta["sha256"]
    (path / "state.json").write_text(json.dumps(meta))
    resumed = run(tmp_path / "old", epochs=2, resume=True)
    full = run(tmp_path / "full", epochs=2)
    assert resumed.history.events[0] == {"kind": "resume", "epoch": 1, "step": 10}
    assert resumed.history["train_loss"] == full.history["train_loss"]
    assert tr.global_step == 10
