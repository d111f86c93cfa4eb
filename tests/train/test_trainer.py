"""Trainer core: the step sequence, data handling, determinism, hooks, evaluate/predict."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from deepdojo.train import Callback, History, Trainer


def blobs(n: int = 96, d: int = 5, c: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, c, (n,), generator=g)
    centers = torch.randn(c, d, generator=g) * 3
    X = centers[y] + torch.randn(n, d, generator=g)
    return X, y


def mlp(d: int = 5, c: int = 3, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, c))


def make_trainer(model: nn.Module | None = None, **kw) -> Trainer:
    kw.setdefault("progress", "off")
    kw.setdefault("device", "cpu")
    return Trainer(model or mlp(), nn.CrossEntropyLoss(), "adam", lr=1e-2, **kw)


def test_fit_learns_and_records_history():
    X, y = blobs()
    tr = make_trainer()
    hist = tr.fit((X, y), (X[:32], y[:32]), epochs=5, batch_size=16)
    assert isinstance(hist, History) and len(hist) == 5
    assert hist["epoch"] == [0, 1, 2, 3, 4]
    assert hist["train_loss"][-1] < hist["train_loss"][0]
    assert hist.last["val_acc"] > 0.8
    assert set(hist.last) >= {"train_loss", "train_acc", "val_loss", "val_acc", "lr"}
    assert hist["lr"] == [pytest.approx(1e-2)] * 5
    assert tr.global_step == 5 * 6


def test_same_seed_same_history_different_seed_differs():
    X, y = blobs()
    runs = []
    for seed in (3, 3, 4):
        tr = make_trainer(mlp(seed=1), seed=seed)
        runs.append(tr.fit((X, y), epochs=3, batch_size=8)["train_loss"])
    assert runs[0] == runs[1]  # bit-identical floats
    assert runs[0] != runs[2]


def test_step_matches_hand_written_loop():
    X, y = blobs(n=40)
    model_a, model_b = mlp(seed=2).eval(), mlp(seed=2).eval()
    model_a[2].p = model_b[2].p = 0.0  # no dropout randomness
    opt_a = torch.optim.SGD(model_a.parameters(), lr=0.1, momentum=0.9)
    tr = Trainer(model_a, nn.CrossEntropyLoss(), opt_a, device="cpu", progress="off")
    tr.fit((X, y), epochs=2, batch_size=16, shuffle=False)
    opt_b = torch.optim.SGD(model_b.parameters(), lr=0.1, momentum=0.9)
    for _ in range(2):
        for lo in range(0, 40, 16):
            loss = nn.functional.cross_entropy(model_b(X[lo : lo + 16]), y[lo : lo + 16])
            loss.backward()
            opt_b.step()
            opt_b.zero_grad()
    for pa, pb in zip(model_a.parameters(), model_b.parameters(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=0, atol=1e-6)


def test_in_memory_shuffle_visits_every_row_once_per_epoch():
    X = torch.arange(30, dtype=torch.float32).unsqueeze(1)  # (N, 1): the row id
    y = torch.zeros(30, dtype=torch.long)
    seen: list[list[int]] = []

    class Spy(Callback):
        def on_epoch_start(self, trainer, epoch):
            seen.append([])

        def on_batch_start(self, trainer, batch_idx, batch):
            seen[-1].extend(batch[0][:, 0].long().tolist())

    tr = Trainer(nn.Linear(1, 2), nn.CrossEntropyLoss(), "sgd", lr=0.1, callbacks=[Spy()],
                 device="cpu", progress="off")
    tr.fit((X, y), epochs=2, batch_size=7)
    assert [sorted(s) for s in seen] == [list(range(30))] * 2
    assert seen[0] != seen[1] and seen[0] != list(range(30))


def test_hooks_called_in_order_with_counts():
    X, y = blobs(n=20)
    calls: list[str] = []

    class Recorder(Callback):
        pass

    for name in ("on_fit_start", "on_epoch_start", "on_batch_start", "on_after_backward",
                 "on_before_optimizer_step", "on_batch_end", "on_validation_end",
                 "on_epoch_end", "on_fit_end"):
        setattr(Recorder, name, lambda self, tr, *a, _n=name: calls.append(_n))
    tr = make_trainer(callbacks=[Recorder()])
    tr.fit((X, y), (X, y), epochs=2, batch_size=10)
    step = ["on_batch_start", "on_after_backward", "on_before_optimizer_step", "on_batch_end"]
    epoch = ["on_epoch_start", *step, *step, "on_validation_end", "on_epoch_end"]
    assert calls == ["on_fit_start", *epoch, *epoch, "on_fit_end"]


def test_should_stop_and_callback_sees_logs():
    X, y = blobs(n=20)

    class StopAfterOne(Callback):
        def on_batch_end(self, trainer, batch_idx, logs):
            assert isinstance(logs["loss"], float) and logs["loss"] == trainer.last_loss

        def on_epoch_end(self, trainer, epoch, logs):
            logs["extra"] = 1.0
            trainer.should_stop = True

    hist = make_trainer(callbacks=[StopAfterOne()]).fit((X, y), epochs=10)
    assert len(hist) == 1 and hist["extra"] == [1.0]


def test_dataloader_and_numpy_inputs_agree():
    X, y = blobs(n=32)
    ds = TensorDataset(X, y)
    # no dropout: a DataLoader draws a worker base seed from the global RNG every epoch
    tr1 = make_trainer(mlp(seed=5))
    tr1.model[2].p = 0.0
    h1 = tr1.fit(DataLoader(ds, batch_size=8, shuffle=False), epochs=2)
    tr2 = make_trainer(mlp(seed=5))
    tr2.model[2].p = 0.0
    h2 = tr2.fit((X.numpy(), y.numpy()), epochs=2, batch_size=8, shuffle=False)
    assert h1["train_loss"] == pytest.approx(h2["train_loss"], rel=1e-6)


def test_evaluate_and_predict():
    X, y = blobs(n=50)
    model = mlp(seed=0)
    tr = make_trainer(model)
    out = tr.predict(X, batch_size=16)
    assert out.shape == (50, 3) and out.device.type == "cpu"
    model.eval()
    with torch.no_grad():
        ref = model(X)
    torch.testing.assert_close(out, ref)
    res = tr.evaluate((X, y), batch_size=16)
    assert res["loss"] == pytest.approx(nn.functional.cross_entropy(ref, y).item(), rel=1e-5)
    assert res["acc"] == pytest.approx((ref.argmax(1) == y).float().mean().item())
    assert model.training is False  # evaluate restores the mode it found


def test_binary_default_metric_and_custom_metrics():
    X, y = blobs(n=40, c=2)
    model = nn.Sequential(nn.Linear(5, 1), nn.Flatten(0))
    tr = Trainer(model, nn.BCEWithLogitsLoss(), "adam", lr=0.05, device="cpu", progress="off")
    h = tr.fit((X, y.float()), epochs=3, batch_size=8)
    assert "train_acc" in h.last and h.last["train_acc"] > 0.5
    tr2 = make_trainer(metrics={"zero": lambda o, t: 0.0})
    h2 = tr2.fit(blobs(n=16), epochs=1)
    assert h2.last["train_zero"] == 0.0 and "train_acc" not in h2.last


def test_progress_quiet_when_off_and_not_a_terminal(capsys):
    X, y = blobs(n=16)
    make_trainer(progress="off").fit((X, y), epochs=1)
    make_trainer(progress="auto").fit((X, y), epochs=1)  # pytest's stderr is not a tty
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""
    make_trainer(progress="on").fit((X, y), epochs=1)
    assert "epoch 1/1" in capsys.readouterr().err


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"optimizer": "lbfgs"}, "optimizer must be one of"),
        ({"precision": "16"}, "precision must be"),
        ({"progress": "yes"}, "progress must be"),
        ({"device": "tpu"}, "device must be"),
    ],
)
def test_bad_arguments(kwargs, match):
    kw = {"optimizer": "adam", "progress": "off", "device": "cpu", **kwargs}
    opt = kw.pop("optimizer")
    with pytest.raises(ValueError, match=match):
        Trainer(mlp(), nn.CrossEntropyLoss(), opt, **kw)


def test_bad_fit_arguments():
    tr = make_trainer()
    X, y = blobs(n=8)
    with pytest.raises(ValueError, match="epochs"):
        tr.fit((X, y), epochs=0)
    with pytest.raises(ValueError, match="same number of rows"):
        tr.fit((X, y[:4]), epochs=1)
    with pytest.raises(TypeError, match="train_data must be"):
        tr.fit("data.csv", epochs=1)
    with pytest.raises(TypeError, match="model must be"):
        Trainer("mlp", nn.MSELoss())


def test_numpy_array_is_accepted_for_float_targets():
    X = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
    y = X.sum(1, keepdims=True)
    tr = Trainer(nn.Linear(3, 1), nn.MSELoss(), "sgd", lr=0.1, device="cpu", progress="off")
    h = tr.fit((X, y), epochs=5, batch_size=5)
    assert h["train_loss"][-1] < h["train_loss"][0]
    assert "train_acc" not in h.last
