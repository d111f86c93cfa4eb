"""Search spaces declared as data, and how a trial samples them.

A space maps each hyperparameter name to a distribution. It can be written with the
dataclasses below or as plain dicts (what a JSON/YAML file holds)::

    space = {
        "lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},   # log-uniform
        "batch_size": {"type": "categorical", "choices": [16, 32, 64, 128]},
        "optimizer": {"type": "categorical", "choices": ["sgd", "adam"]},
        "dropout": {"type": "float", "low": 0.0, "high": 0.5},
        "depth": {"type": "int", "low": 1, "high": 4},
    }

A log-uniform ``float`` has density :math:`p(x) \\propto 1/x` on ``[low, high]``, i.e.
:math:`\\log x` is uniform: each decade of learning rate gets the same share of the trials.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import optuna

PARAM_TYPES = ("float", "int", "categorical")


@dataclass(frozen=True)
class Float:
    """A real-valued parameter on ``[low, high]``; ``log=True`` samples :math:`\\log x` uniformly.

    ``step`` (linear scale only) restricts values to ``low + k * step``.
    """

    low: float
    high: float
    log: bool = False
    step: float | None = None

    def suggest(self, trial: optuna.Trial, name: str) -> float:
        """Sample this parameter for ``trial`` under ``name``."""
        return trial.suggest_float(name, self.low, self.high, log=self.log, step=self.step)


@dataclass(frozen=True)
class Int:
    """An integer parameter on ``[low, high]`` (both included); ``log=True`` for log scale."""

    low: int
    high: int
    log: bool = False
    step: int = 1

    def suggest(self, trial: optuna.Trial, name: str) -> int:
        """Sample this parameter for ``trial`` under ``name``."""
        return trial.suggest_int(name, self.low, self.high, log=self.log, step=self.step)


@dataclass(frozen=True)
class Categorical:
    """One of ``choices`` (None, bool, int, float or str), unordered."""

    choices: tuple[Any, ...]

    def suggest(self, trial: optuna.Trial, name: str) -> Any:
        """Sample this parameter for ``trial`` under ``name``."""
        return trial.suggest_categorical(name, list(self.choices))


Param = Float | Int | Categorical
SpaceLike = Mapping[str, Param | Mapping[str, Any]]


def default_space(model: str | None = None) -> dict[str, Param]:
    """The space ``tune((model, data))`` searches when none is given.

    Learning rate log-uniform on [1e-4, 3e-1]; batch size in {16, 32, 64, 128}; optimizer in
    {sgd, adam, adamw, rmsprop}; dropout on [0, 0.5]; weight decay log-uniform on [1e-6, 1e-2];
    depth (weight layers, as ``deepdojo.models`` counts them) 2..5, or 4, 6, 8 for residual
    models (``resnet_*``); width in {32, 64, 128, 256} (units), or {8, 16, 32} (channels) for
    convolutional models (``*cnn``).
    """
    name = model or ""
    residual, conv = name.startswith("resnet"), name.endswith("cnn")
    return {
        "lr": Float(1e-4, 3e-1, log=True),
        "batch_size": Categorical((16, 32, 64, 128)),
        "optimizer": Categorical(("sgd", "adam", "adamw", "rmsprop")),
        "dropout": Float(0.0, 0.5),
        "weight_decay": Float(1e-6, 1e-2, log=True),
        "depth": Int(4, 8, step=2) if residual else Int(2, 5),
        "width": Categorical((8, 16, 32) if conv else (32, 64, 128, 256)),
    }


def _from_dict(name: str, spec: Mapping[str, Any]) -> Param:
    """Build one parameter from ``{"type": ..., ...}``; bad specs are one-line errors."""
    kind = spec.get("type")
    if kind not in PARAM_TYPES:
        raise ValueError(
            f"space[{name!r}]: unknown parameter type {kind!r}; expected one of "
            f"{', '.join(PARAM_TYPES)}"
        )
    rest = {k: v for k, v in spec.items() if k != "type"}
    if kind == "categorical":
        choices = rest.pop("choices", None)
        if rest or not isinstance(choices, Sequence) or isinstance(choices, str):
            raise ValueError(f"space[{name!r}]: categorical takes only a list 'choices'")
        return Categorical(tuple(choices))
    cls = Float if kind == "float" else Int
    try:
        return cls(**rest)
    except TypeError:
        raise ValueError(
            f"space[{name!r}]: {kind} takes low, high and optional log, step; got "
            f"{sorted(rest)}"
        ) from None


def _check(name: str, p: Param) -> None:
    """Reject empty choices, reversed bounds and non-positive log bounds."""
    if isinstance(p, Categorical):
        if len(p.choices) == 0:
            raise ValueError(f"space[{name!r}]: categorical needs at least one choice")
        return
    if not p.low <= p.high:
        raise ValueError(f"space[{name!r}]: expected low <= high, got {p.low} > {p.high}")
    if p.log and p.low <= 0:
        raise ValueError(f"space[{name!r}]: a log-scale range needs low > 0, got {p.low}")
    if p.log and isinstance(p, Float) and p.step is not None:
        raise ValueError(f"space[{name!r}]: step cannot be combined with log=True")


def parse_space(space: SpaceLike) -> dict[str, Param]:
    """Validate ``space`` and return it as ``{name: Float | Int | Categorical}``.

    Raises
    ------
    ValueError
        On an empty space, an unknown parameter type or an invalid range.
    TypeError
        When ``space`` is not a mapping or a value is neither a parameter nor a dict.
    """
    if not isinstance(space, Mapping):
        raise TypeError(f"space must be a dict of name -> parameter, got {type(space).__name__}")
    if not space:
        raise ValueError("space is empty: give at least one parameter to search")
    out: dict[str, Param] = {}
    for name, spec in space.items():
        if isinstance(spec, (Float, Int, Categorical)):
            p = spec
        elif isinstance(spec, Mapping):
            p = _from_dict(name, spec)
        else:
            raise TypeError(
                f"space[{name!r}]: expected Float, Int, Categorical or a dict with 'type', "
                f"got {type(spec).__name__}"
            )
        _check(name, p)
        out[str(name)] = p
    return out


def suggest(trial: optuna.Trial, space: SpaceLike) -> dict[str, Any]:
    """Sample every parameter of ``space`` for ``trial``; returns ``{name: value}``."""
    return {name: p.suggest(trial, name) for name, p in parse_space(space).items()}


def space_to_dict(space: SpaceLike) -> dict[str, dict[str, Any]]:
    """The JSON-able form of ``space`` (the inverse of :func:`parse_space`'s dict input)."""
    out: dict[str, dict[str, Any]] = {}
    for name, p in parse_space(space).items():
        if isinstance(p, Categorical):
            out[name] = {"type": "categorical", "choices": list(p.choices)}
        else:
            kind = "float" if isinstance(p, Float) else "int"
            out[name] = {"type": kind, "low": p.low, "high": p.high, "log": p.log}
            if p.step not in (None, 1) or (kind == "float" and p.step is not None):
                out[name]["step"] = p.step
    return out
