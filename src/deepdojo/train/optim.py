"""Optimizers by name, with parameter groups that skip weight decay on biases and norms.

Weight decay pulls every weight toward zero. On a bias or a normalization scale/shift that pull
has no regularizing effect worth having (they do not grow the function's capacity) and can hurt,
so by default :func:`make_optimizer` puts them in a group with ``weight_decay=0``.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from deepdojo.nn.regularization import bias_and_norm_names

_OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad,
}

def optimizer_names() -> list[str]:
    """Names :func:`make_optimizer` accepts."""
    return sorted(_OPTIMIZERS)


def param_groups(
    model: nn.Module, weight_decay: float, *, decay_bias_and_norm: bool = False
) -> list[dict[str, Any]]:
    """Split ``model``'s trainable parameters into a decayed and a non-decayed group.

    Returns ``[{"params": decayed, "weight_decay": weight_decay}, {"params": rest,
    "weight_decay": 0.0}]`` (empty groups dropped). With ``decay_bias_and_norm=True`` or
    ``weight_decay=0`` there is a single group.
    """
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if decay_bias_and_norm or weight_decay == 0:  # one group: nothing to split (and faster)
        return [{"params": [p for _, p in params], "weight_decay": weight_decay}]
    skip = bias_and_norm_names(model)
    decay = [p for n, p in params if n not in skip]
    rest = [p for n, p in params if n in skip]
    groups = [{"params": decay, "weight_decay": weight_decay}]
    groups.append({"params": rest, "weight_decay": 0.0})
    return [g for g in groups if g["params"]]


def _default_weight_decay(cls: type[torch.optim.Optimizer]) -> float:
    """The ``weight_decay`` default of a torch optimizer class (0.01 for AdamW, else 0)."""
    param = inspect.signature(cls.__init__).parameters.get("weight_decay")
    default = None if param is None else param.default
    return float(default) if isinstance(default, (int, float)) else 0.0


def make_optimizer(
    name: str,
    params_or_groups: nn.Module | Iterable[Any],
    lr: float,
    *,
    weight_decay: float | None = None,
    decay_bias_and_norm: bool = False,
    **kw: Any,
) -> torch.optim.Optimizer:
    """Build a torch optimizer by name.

    Parameters
    ----------
    name : {"sgd", "adam", "adamw", "rmsprop", "adagrad"}
        ``torch.optim`` class to use. Extra keywords go to it (``momentum=0.9``,
        ``nesterov=True``, ``betas=(0.9, 0.999)``, ``alpha=0.99``, ...).
    params_or_groups : nn.Module, iterable of parameters, or list of group dicts
        A module gets two groups (see :func:`param_groups`): weight decay on weights, none on
        biases and normalization parameters. Group dicts are passed through, so per-group
        learning rates work: ``[{"params": backbone, "lr": 1e-4}, {"params": head}]``
        (groups without ``lr`` use ``lr``). A group whose ``"params"`` is a module is split
        the same way (its biases and norm parameters get ``weight_decay=0``); a group or a
        bare iterable of parameters has no names to go by, so its decay applies to all.
    lr : float
        Default learning rate (> 0).
    weight_decay : float, optional
        Decay for the decayed group (a module) or for every group lacking its own. ``None``
        takes the torch class's own default: 0.01 for AdamW, 0 for the others.
    decay_bias_and_norm : bool
        Apply ``weight_decay`` to biases and norm parameters too (module input only).

    Examples
    --------
    Fine-tuning: a slow pretrained backbone, a fast new head, no decay on biases and norms
    in either:

    >>> opt = make_optimizer("adamw", [{"params": backbone, "lr": 1e-4},   # doctest: +SKIP
    ...                                {"params": head}], lr=1e-3, weight_decay=0.01)
    """
    key = name.lower() if isinstance(name, str) else name
    if key not in _OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {optimizer_names()}, got {name!r}")
    if not (isinstance(lr, (int, float)) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if weight_decay is None:
        weight_decay = _default_weight_decay(_OPTIMIZERS[key])
    if weight_decay < 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
    if isinstance(params_or_groups, nn.Module):
        groups: Any = param_groups(
            params_or_groups, weight_decay, decay_bias_and_norm=decay_bias_and_norm
        )
    else:
        groups = list(params_or_groups)
        if groups and isinstance(groups[0], dict):
            groups = _expand_groups(groups, weight_decay, decay_bias_and_norm)
        else:
            groups = [{"params": groups, "weight_decay": weight_decay}]
    if not groups:
        raise ValueError("params_or_groups holds no trainable parameters")
    return _OPTIMIZERS[key](groups, lr=lr, **kw)


def _expand_groups(
    groups: list[dict[str, Any]], weight_decay: float, decay_bias_and_norm: bool
) -> list[dict[str, Any]]:
    """Copy group dicts (params listed, default decay set); split module-valued groups."""
    out = []
    for group in groups:
        group = {"weight_decay": weight_decay, **group}
        if isinstance(group["params"], nn.Module):
            subs = param_groups(group["params"], group["weight_decay"],
                                decay_bias_and_norm=decay_bias_and_norm)  # fmt: skip
            out.extend({**group, **sub} for sub in subs)
        else:
            out.append({**group, "params": list(group["params"])})
    return out
