"""PruningCallback with the real Trainer, add_dropout, and ModelObjective end to end."""

from __future__ import annotations

import optuna
import pytest
import torch
from torch import nn

from deepdojo.search import ModelObjective, PruningCallback, add_dropout, tune
from deepdojo.train import Trainer


class _Always(optuna.pruners.BasePruner):
    def prune(self, study, trial):
        return True


def _tiny_fit(trial, epochs=4):
    torch.manual_seed(0)
    X, y = torch.randn(48, 5), torch.randint(0, 3, (48,))
    trainer = Trainer(nn.Linear(5, 3), nn.CrossEntropyLoss(), "sgd", lr=0.1, device="cpu",
                      callbacks=[PruningCallback(trial, "val_acc")], progress="off")
    history = trainer.fit((X, y), (X[:16], y[:16]), epochs=epochs, batch_size=16)
    trial.set_user_attr("val_acc", history["val_acc"])
    return history["val_acc"][-1]


def test_callback_reports_every_epoch_when_nothing_is_pruned():
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.NopPruner())
    study.optimize(_tiny_fit, n_trials=1)
    t = study.trials[0]
    assert t.state.name == "COMPLETE"
    assert [t.intermediate_values[e] for e in range(4)] == pytest.approx(t.user_attrs["val_acc"])


def test_callback_prunes_the_trial_after_the_first_epoch():
    study = optuna.create_study(direction="maximize", pruner=_Always())
    study.optimize(_tiny_fit, n_trials=2)
    assert [t.state.name for t in study.trials] == ["PRUNED", "PRUNED"]
    assert all(list(t.intermediate_values) == [0] for t in study.trials)


def test_callback_names_a_missing_monitor():
    study = optuna.create_study()
    trial = study.ask()
    trainer = Trainer(nn.Linear(5, 3), nn.CrossEntropyLoss(), device="cpu", progress="off",
                      callbacks=[PruningCallback(trial, "val_acc")])
    with pytest.raises(ValueError, match="monitor 'val_acc' is not in the epoch record"):
        trainer.fit((torch.randn(8, 5), torch.randint(0, 3, (8,))), epochs=1)


def test_add_dropout_hooks_hidden_layers_only_and_only_in_training():
    torch.manual_seed(0)
    net = add_dropout(nn.Sequential(nn.Linear(6, 50), nn.ReLU(), nn.Linear(50, 2)), 0.5)
    x = torch.randn(4, 6)
    hidden = {}
    net[0].register_forward_hook(lambda m, i, o: hidden.setdefault("h", o))
    net.train()
    net(x)
    zero_frac = (hidden.pop("h") == 0).float().mean().item()
    assert 0.3 < zero_frac < 0.7  # about half the hidden units dropped
    net.eval()
    assert torch.equal(net(x), net(x))  # deterministic in eval mode
    assert len(net[2]._forward_hooks) == 0  # the output layer is left alone
    with pytest.raises(ValueError, match="dropout must be in"):
        add_dropout(net, 1.0)


def test_model_objective_trains_and_returns_best_val_acc():
    space = {"lr": {"type": "float", "low": 3e-3, "high": 3e-2, "log": True},
             "depth": {"type": "int", "low": 2, "high": 3},
             "dropout": {"type": "float", "low": 0.0, "high": 0.2},
             "batch_size": {"type": "categorical", "choices": [128]}}
    r = tune(ModelObjective("mlp", "digits", space, epochs=3), n_trials=2, storage=None,
             pruner=None, progress="off")
    assert r.n_complete == 2
    assert 0.5 < r.best_value <= 1.0  # far above chance (0.1) after 3 epochs of Adam
    t = r.best_trial
    assert r.best_value == pytest.approx(max(t.intermediate_values.values()))
    assert set(t.params) == {"lr", "depth", "dropout", "batch_size"}


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("transformer9", "digits"), "model must be one of"),
        (("mlp", "cifar"), "data must be one of"),
        (("mlp", "digits", {"kernel": {"type": "int", "low": 1, "high": 3}}), "takes no argum"),
    ],
)
def test_model_objective_rejects_bad_names(args, match):
    with pytest.raises(ValueError, match=match):
        ModelObjective(*args)
