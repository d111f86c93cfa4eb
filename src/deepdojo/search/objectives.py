"""Objectives for :func:`deepdojo.search.tune` and the callback that makes pruning work.

- :class:`PruningCallback` reports each epoch's validation metric to the Optuna trial and
  stops the trial (``optuna.TrialPruned``) when the pruner says so.
- :class:`ModelObjective` trains a registered model (``deepdojo.models``) on a built-in
  dataset (``deepdojo.data``) with the :class:`~deepdojo.train.Trainer` and returns its best
  validation accuracy. It is picklable, so worker processes can run it.
- :class:`Quadratic` is a known-optimum toy objective for checking samplers and workers.
"""

from __future__ import annotations

import functools
import inspect
import math
import os
from dataclasses import dataclass, field
from typing import Any

import optuna

from deepdojo.search.space import (
    Param,
    SpaceLike,
    default_space,
    parse_space,
    space_to_dict,
    suggest,
)
from deepdojo.train import Callback

MODEL_ALIASES = {"mlp": "plain_mlp", "cnn": "plain_cnn", "resnet": "resnet_mlp"}
# What each built-in dataset's (non-flat) input is: convolutional models need a channel axis.
DATA_KINDS = {"digits": "image", "mnist1d": "sequence", "breast_cancer": "table"}
DATASETS = tuple(DATA_KINDS)
TRAINING_PARAMS = ("lr", "batch_size", "optimizer", "weight_decay", "momentum")
_HOOKED = ("dropout",)  # applied by the objective when the model's builder lacks it


def add_dropout(model: Any, p: float) -> Any:
    """Apply dropout with rate ``p`` to the output of every hidden weight layer of ``model``.

    Every ``nn.Linear``/``nn.Conv*d`` except the last one (the output layer) gets a forward
    hook :math:`h \\mapsto \\mathrm{dropout}_p(h)` (inverted dropout, active only in training
    mode). Before a ReLU this equals dropout after it, since both zero and rescale
    elementwise. Returns ``model`` (hooks added in place); ``p == 0`` adds nothing.
    """
    from torch import nn
    from torch.nn import functional as F

    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout must be in [0, 1); got {p!r}")
    layers = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d))]
    if p > 0:
        for layer in layers[:-1]:
            layer.register_forward_hook(lambda m, _inp, out: F.dropout(out, p, m.training))
    return model


class PruningCallback(Callback):
    """Report ``monitor`` to ``trial`` after every epoch; prune when the pruner says so.

    At the end of epoch :math:`e` it calls ``trial.report(logs[monitor], step=e)``; if
    ``trial.should_prune()`` it sets ``trainer.should_stop`` and raises
    ``optuna.TrialPruned``, which leaves ``Trainer.fit`` (callbacks get ``on_exception``) and
    tells Optuna to record the trial as pruned with its last reported value.

    Parameters
    ----------
    trial : optuna.Trial
    monitor : str
        A key of the epoch record, e.g. ``"val_acc"`` or ``"val_loss"`` (the study's direction
        must match: maximize accuracy, minimize loss).
    """

    def __init__(self, trial: optuna.Trial, monitor: str = "val_acc") -> None:
        self.trial = trial
        self.monitor = monitor

    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, Any]) -> None:
        if self.monitor not in logs:
            raise ValueError(
                f"PruningCallback: monitor {self.monitor!r} is not in the epoch record "
                f"(has {sorted(logs)}); pass validation data to fit"
            )
        value = float(logs[self.monitor])
        self.trial.report(value, step=epoch)
        if self.trial.should_prune():
            trainer.should_stop = True
            raise optuna.TrialPruned(f"pruned at epoch {epoch}: {self.monitor}={value:.4g}")


@dataclass
class Quadratic:
    """:math:`f(x) = \\sum_i (x_i - c_i)^2` over ``x_i`` in ``[-bound, bound]``; minimum 0 at c.

    A picklable toy objective with a known optimum (use ``direction="minimize"``). Each
    trial records the worker's process id as the user attribute ``pid``.
    """

    center: tuple[float, ...] = (1.0, -2.0)
    bound: float = 5.0

    def study_attrs(self) -> dict[str, Any]:
        """The problem recorded on the study: the centre and the bound."""
        return {"center": list(self.center), "bound": self.bound}

    def __call__(self, trial: optuna.Trial) -> float:
        trial.set_user_attr("pid", os.getpid())
        xs = [trial.suggest_float(f"x{i}", -self.bound, self.bound)
              for i in range(len(self.center))]
        return float(sum((x - c) ** 2 for x, c in zip(xs, self.center, strict=True)))


@functools.lru_cache(maxsize=8)
def _load(data: str, flat: bool, seed: int) -> Any:
    """Load a built-in dataset once per process (objectives run many trials on it)."""
    import deepdojo.data as dd

    if data == "digits":
        return dd.load_digits(flat=flat, seed=seed)
    if data == "mnist1d":
        return dd.load_mnist1d(flat=flat, seed=seed)
    return dd.load_breast_cancer(seed=seed)


def _builder_args(model: str) -> set[str]:
    """Keyword names the registered model's builder accepts."""
    from deepdojo.models import get_model_spec

    return set(inspect.signature(get_model_spec(model).builder).parameters)


def tunable_models() -> list[str]:
    """Models :class:`ModelObjective` can train: the aliases, then every registered classifier.

    A registered model is tunable when its builder takes ``num_classes`` and its input size as
    ``in_features`` (vectors) or ``in_channels`` (images, sequences); sequence-to-sequence
    models such as ``seq2seq`` and ``transformer`` are not.
    """
    from deepdojo.models import list_models

    def classifier(name: str) -> bool:
        args = _builder_args(name)
        return "num_classes" in args and bool({"in_features", "in_channels"} & args)

    names = [m for m in list_models() if classifier(m)]
    return [a for a, m in MODEL_ALIASES.items() if m in names] + names


def _check_seed_and_device(seed: Any, device: Any) -> None:
    """One-line errors for a seed NumPy cannot take and a device this machine lacks."""
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an int in [0, 2**32 - 1]; got {seed!r}")
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be 'cpu' or 'cuda[:N]'; got {device!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r}: no CUDA GPU is available here; use 'cpu'")


@dataclass
class ModelObjective:
    """Train registered ``model`` on built-in ``data``; return the best validation accuracy.

    Space parameters named ``lr``, ``batch_size``, ``optimizer``, ``weight_decay`` and
    ``momentum`` configure training (:func:`deepdojo.train.make_optimizer`); every other
    parameter (``depth``, ``width``...) is passed to the model's builder, which must accept it;
    ``dropout``, when the builder has no such argument, is applied by :func:`add_dropout`.
    Each epoch's validation accuracy is reported to the trial (:class:`PruningCallback`), so
    pruners can stop bad trials early. A run that diverges (the Trainer's non-finite guard
    gives up) scores its best validation accuracy before that (0 if none) and gets the user
    attribute ``diverged``.

    Parameters
    ----------
    model : str
        A name from :func:`tunable_models` (``mlp``/``cnn``/``resnet`` or a registered
        classifier); convolutional models need image or sequence data.
    data : {"digits", "mnist1d", "breast_cancer"}
    space : dict, optional
        The search space (see :mod:`deepdojo.search.space`); default
        :func:`~deepdojo.search.space.default_space` restricted to what the model accepts.
    epochs : int
        Epochs per trial (the pruner's steps).
    seed : int
        Seeds the data split, the model's initialization and the batch order; in
        ``[0, 2**32 - 1]``.
    device : str
        ``"cpu"`` or ``"cuda[:N]"`` (refused when no GPU is available).
    """

    model: str
    data: str
    space: SpaceLike | None = None
    epochs: int = 10
    seed: int = 0
    device: str = "cpu"
    _space: dict[str, Param] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        tunable = tunable_models()
        if self.model not in tunable:
            raise ValueError(f"model must be one of {', '.join(tunable)} (the classifiers "
                             f"tune can train); got {self.model!r}")
        self.model = MODEL_ALIASES.get(self.model, self.model)
        if self.data not in DATASETS:
            raise ValueError(f"data must be one of {', '.join(DATASETS)}; got {self.data!r}")
        if "in_channels" in _builder_args(self.model) and DATA_KINDS[self.data] == "table":
            usable = ", ".join(d for d, kind in DATA_KINDS.items() if kind != "table")
            raise ValueError(f"model {self.model!r} is convolutional and needs image or sequence"
                             f" data ({usable}); {self.data!r} is a table")
        if not isinstance(self.epochs, int) or isinstance(self.epochs, bool) or self.epochs < 1:
            raise ValueError(f"epochs must be a positive int; got {self.epochs!r}")
        _check_seed_and_device(self.seed, self.device)
        accepted = {*_builder_args(self.model), *_HOOKED}
        if self.space is None:
            space = {k: v for k, v in default_space(self.model).items()
                     if k in TRAINING_PARAMS or k in accepted}
        else:
            space = parse_space(self.space)
        bad = [k for k in space if k not in TRAINING_PARAMS and k not in accepted]
        if bad:
            raise ValueError(f"space: model {self.model!r} takes no argument(s) {bad}; "
                             f"it accepts {sorted(accepted)}")
        self._space = space

    def study_attrs(self) -> dict[str, Any]:
        """The problem this objective poses, recorded on its study (see
        :func:`deepdojo.search.study.check_problem`): model, data, epochs, seed (it fixes the
        data split) and the search space. The device is left out: it changes speed, not the
        problem."""
        return {"model": self.model, "data": self.data, "epochs": self.epochs,
                "seed": self.seed, "space": space_to_dict(self._space)}

    def _build(self, params: dict[str, Any], splits: Any) -> Any:
        from deepdojo.models import create
        from deepdojo.utils import seed_everything

        accepted = _builder_args(self.model)
        kw = {k: v for k, v in params.items() if k not in TRAINING_PARAMS}
        hooked = {k: kw.pop(k) for k in _HOOKED if k in kw and k not in accepted}
        if "in_features" in accepted:
            kw["in_features"] = math.prod(splits.input_shape)
        elif "in_channels" in accepted:
            kw["in_channels"] = splits.input_shape[0]
        if "conv_dims" in accepted:
            kw["conv_dims"] = len(splits.input_shape) - 1  # (C, L) -> 1-D, (C, H, W) -> 2-D
        if "num_classes" in accepted:
            kw["num_classes"] = splits.num_classes
        seed_everything(self.seed)
        model = create(self.model, **kw)
        return add_dropout(model, hooked["dropout"]) if "dropout" in hooked else model

    def __call__(self, trial: optuna.Trial) -> float:
        from torch import nn

        from deepdojo.train import NonFiniteError, Trainer, make_optimizer

        params = suggest(trial, self._space)
        flat = "in_features" in _builder_args(self.model)
        splits = _load(self.data, flat, self.seed)
        model = self._build(params, splits)
        extra = {"momentum": params["momentum"]} if "momentum" in params else {}
        opt = make_optimizer(params.get("optimizer", "adam"), model, params.get("lr", 1e-3),
                             weight_decay=params.get("weight_decay"), **extra)
        trainer = Trainer(model, nn.CrossEntropyLoss(), opt, device=self.device, seed=self.seed,
                          callbacks=[PruningCallback(trial, "val_acc")], progress="off")
        try:
            trainer.fit(tuple(splits.train), tuple(splits.val), epochs=self.epochs,
                        batch_size=int(params.get("batch_size", 32)))
        except NonFiniteError:  # diverged (e.g. too large a rate): a bad config, not a crash
            trial.set_user_attr("diverged", True)
        accs = [a for a in trainer.history["val_acc"] if a is not None] if len(
            trainer.history) else []
        return float(max(accs, default=0.0))
