r"""Gradient and activation monitors that work with the Trainer and with any PyTorch loop.

Both monitors install hooks only while attached (``attach()``/``detach()`` or a ``with``
block); a detached monitor leaves no hook behind and costs nothing.

**Layers.** A *weight layer* is a module that directly owns at least one trainable parameter
with two or more dimensions (Linear, Conv, Embedding, RNN weights...); its norms are taken over
those parameters, so biases and normalisation scales are left out, as in the usual
gradient-flow charts. Layers are ordered as ``model.named_modules()`` lists them (input side
first for sequential models).

**Cost.** Per recorded step the gradient monitor runs one ``torch._foreach_sub_`` (weight
change, in place in a buffer preallocated on ``attach``), one ``torch._foreach_norm`` over the
gradients, the weights and the weight changes, one ``torch.stack`` and one
``torch._foreach_copy_`` (weights kept for the next step): no allocation of weight-sized
tensors, no Python loop over parameters, no ``.item()``: the ``(3P,)`` row stays on the
model's device until the numbers are read (one host sync then).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def weight_layers(model: nn.Module) -> list[tuple[str, list[nn.Parameter]]]:
    """``[(layer_name, [weight params]), ...]`` for every weight layer of ``model``, in order."""
    layers = []
    for name, module in model.named_modules():
        params = [p for p in module.parameters(recurse=False) if p.requires_grad and p.ndim >= 2]
        if params:
            layers.append((name or type(module).__name__, params))
    return layers


class GradientMonitor:
    r"""Per-layer gradient norm, weight norm and update/weight ratio, step by step.

    At the end of every ``every``-th backward pass (counted from 0) it records, per weight
    layer :math:`l` with weights :math:`W_l` and gradient :math:`G_l = \partial L/\partial W_l`:

    * ``grad_norms``:  :math:`\|G_l\|_2` (gradients as they are after backward, before any
      clipping);
    * ``weight_norms``: :math:`\|W_l\|_2`;
    * ``update_ratios``: :math:`\|W_l^{(t)} - W_l^{(t-1)}\|_2 / \|W_l^{(t)}\|_2`, the relative
      change made by the optimizer step between the previous backward pass and this one
      (NaN on the first recorded step).

    Recording is automatic: a post-accumulate-grad hook on each tracked weight queues one
    callback that runs when the whole backward pass has finished.

    Parameters
    ----------
    model : nn.Module
        The model to watch.
    every : int
        Record every ``every``-th backward pass.
    track_weights : bool
        Also record weight norms and update ratios. This keeps one copy of the tracked
        weights, allocated by ``attach()``, refilled in place after each recorded step and
        freed by ``detach()``; it costs two to three times as much as the gradient norms alone (on
        CPU, measured by ``bench/doctor_overhead.py``). With ``False`` those two matrices are
        all NaN.

    Attributes
    ----------
    layer_names : list[str]
        Names of the weight layers (columns of the matrices below), set on ``attach``.
    steps : list[int]
        Backward-pass index of each record (rows).

    Examples
    --------
    >>> with GradientMonitor(model) as mon:           # doctest: +SKIP
    ...     for x, y in batches:
    ...         loss_fn(model(x), y).backward(); opt.step(); opt.zero_grad()
    >>> mon.grad_norms.shape                          # (steps, layers)
    """

    def __init__(self, model: nn.Module, every: int = 1, *, track_weights: bool = True) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            raise ValueError(f"every must be a positive int, got {every!r}")
        self.model = model
        self.every = every
        self.track_weights = bool(track_weights)
        self.layer_names: list[str] = []
        self.steps: list[int] = []
        self._rows: list[torch.Tensor] = []
        self._handles: list[Any] = []
        self._params: list[nn.Parameter] = []
        self._layer_of: list[int] = []
        self._snapshot: list[torch.Tensor] = []  # preallocated copy of the weights
        self._has_prev = False  # whether _snapshot holds the weights of the step before
        self._zero = torch.zeros(())
        self._queued = False
        self._count = 0

    # ------------------------------------------------------------------ attach / detach
    @property
    def attached(self) -> bool:
        """Whether hooks are installed."""
        return bool(self._handles)

    def attach(self) -> GradientMonitor:
        """Install the hooks (idempotent) and return ``self``."""
        if self.attached:
            return self
        layers = weight_layers(self.model)
        if not layers:
            raise ValueError("model has no weight layer (no trainable parameter with ndim >= 2)")
        self.layer_names = [name for name, _ in layers]
        self._params = [p for _, params in layers for p in params]
        self._layer_of = [i for i, (_, params) in enumerate(layers) for _ in params]
        self._snapshot = [p.detach().clone() for p in self._params] if self.track_weights else []
        self._has_prev = False
        self._zero = torch.zeros((), dtype=self._params[0].dtype, device=self._params[0].device)
        self._handles = [p.register_post_accumulate_grad_hook(self._on_grad) for p in self._params]
        return self

    def detach(self) -> None:
        """Remove every hook; recorded numbers stay readable."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._snapshot, self._has_prev = [], False
        self._queued = False

    def __enter__(self) -> GradientMonitor:
        return self.attach()

    def __exit__(self, *exc: object) -> None:
        self.detach()

    # ------------------------------------------------------------------ recording
    def _on_grad(self, param: torch.Tensor) -> None:
        if not self._queued:  # one callback per backward pass, whatever the number of hooks
            self._queued = True
            torch.autograd.Variable._execution_engine.queue_callback(self._on_backward_end)

    def _on_backward_end(self) -> None:
        self._queued = False
        step = self._count
        self._count += 1
        with torch.no_grad():
            if step % self.every == 0:
                self._record(step)
            self._has_prev = self.track_weights and (step + 1) % self.every == 0
            if self._has_prev:  # keep W_t for the next record, in the preallocated buffer
                torch._foreach_copy_(self._snapshot, self._params)

    def _record(self, step: int) -> None:
        params = self._params
        grads = [p.grad if p.grad is not None else self._zero for p in params]
        if not self.track_weights:
            norms = torch._foreach_norm(grads)
        elif self._has_prev:
            torch._foreach_sub_(self._snapshot, params)  # snapshot <- W_{t-1} - W_t, in place
            norms = torch._foreach_norm(grads + params + self._snapshot)
        else:
            norms = torch._foreach_norm(grads + params)
        self._rows.append(torch.stack(norms))  # (P|2P|3P,) kept on device: no host sync here
        self.steps.append(step)

    # ------------------------------------------------------------------ reading
    def _matrix(self, part: int) -> torch.Tensor:
        """(steps, layers) float64 on CPU for part 0 (grads), 1 (weights) or 2 (deltas)."""
        n_params, n_layers = len(self._params), len(self.layer_names)
        if not self._rows:
            return torch.empty(0, n_layers, dtype=torch.float64)
        full = 3 * n_params
        pad = torch.full((2 * n_params,), float("nan"), dtype=self._rows[0].dtype,
                         device=self._rows[0].device)  # fmt: skip
        rows = torch.stack([r if len(r) == full else torch.cat([r, pad[: full - len(r)]])
                            for r in self._rows])  # fmt: skip
        rows = rows.double().cpu()  # (S, 3P): the one host sync
        per_param = rows[:, part * n_params : (part + 1) * n_params]  # (S, P)
        if n_params == n_layers:
            return per_param
        index = torch.tensor(self._layer_of)
        sq = torch.zeros(len(rows), n_layers, dtype=torch.float64)
        return sq.index_add_(1, index, per_param.square()).sqrt()  # (S, L)

    @property
    def grad_norms(self) -> torch.Tensor:
        """``(steps, layers)`` gradient norms :math:`\\|G_l\\|` (float64, CPU)."""
        return self._matrix(0)

    @property
    def weight_norms(self) -> torch.Tensor:
        """``(steps, layers)`` weight norms :math:`\\|W_l\\|` (float64, CPU)."""
        return self._matrix(1)

    @property
    def update_ratios(self) -> torch.Tensor:
        """``(steps, layers)`` relative weight change :math:`\\|\\Delta W_l\\| / \\|W_l\\|`."""
        return self._matrix(2) / self._matrix(1)

    def latest(self) -> dict[str, dict[str, float]]:
        """The last record: ``{layer: {"grad_norm", "weight_norm", "update_ratio"}}``."""
        if not self._rows:
            return {}
        last = self._rows[-1:]
        rows, self._rows = self._rows, last
        try:
            g, w, u = self.grad_norms[0], self.weight_norms[0], self.update_ratios[0]
        finally:
            self._rows = rows
        return {
            name: {"grad_norm": float(g[i]), "weight_norm": float(w[i]),
                   "update_ratio": float(u[i])}
            for i, name in enumerate(self.layer_names)
        }  # fmt: skip

    def reset(self) -> None:
        """Forget the records (hooks stay as they are)."""
        self._rows, self.steps = [], []


_SATURATING: dict[type[nn.Module], str] = {nn.Sigmoid: "sigmoid", nn.Tanh: "tanh"}
_RECTIFIERS = (nn.ReLU, nn.ReLU6)  # zero output and zero gradient below 0: units can die
# negative inputs still pass a gradient: mean/std only, never "dead"
_LEAKY = (nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.CELU, nn.SELU, nn.PReLU, nn.Mish)
ACTIVATION_STATS = ("mean", "std", "saturated", "dead")


def _activation_kind(module: nn.Module) -> str | None:
    for cls, kind in _SATURATING.items():
        if isinstance(module, cls):
            return kind
    if isinstance(module, _RECTIFIERS):
        return "rectifier"
    return "leaky" if isinstance(module, _LEAKY) else None


def activation_stats(y: torch.Tensor, kind: str, eps: float = 0.02) -> torch.Tensor:
    r"""``[mean, std, saturated, dead]`` of one activation output ``y`` of shape ``(B, C, *S)``.

    * ``saturated`` (sigmoid, tanh): fraction of entries within ``eps`` of a bound:
      :math:`y < \epsilon` or :math:`y > 1-\epsilon` (sigmoid), :math:`|y| > 1-\epsilon`
      (tanh): there the derivative is below ~8% (sigmoid) or ~4% (tanh) of its peak.
    * ``dead`` (``kind="rectifier"``: ReLU, ReLU6): fraction of units (dim 1: features or
      channels) that are never positive anywhere in the batch, so they pass no gradient.
      ``kind="leaky"`` (LeakyReLU, ELU, GELU, SiLU, ...) gets mean and std only: a negative
      input still passes a gradient there, so no unit is dead.

    The statistic that does not apply to ``kind`` is NaN. Returns a 0-sync ``(4,)`` tensor.
    """
    y = y.detach().float()
    nan = torch.full((), float("nan"), device=y.device)
    mean, std = y.mean(), y.std(correction=0)
    saturated, dead = nan, nan
    if kind == "sigmoid":
        saturated = ((y < eps) | (y > 1 - eps)).float().mean()
    elif kind == "tanh":
        saturated = (y.abs() > 1 - eps).float().mean()
    elif kind == "rectifier":
        units = y.transpose(0, 1).reshape(y.shape[1], -1) if y.ndim > 1 else y.reshape(1, -1)
        dead = 1.0 - (units > 0).any(dim=1).float().mean()  # (C, B*S) -> never positive
    return torch.stack([mean, std, saturated, dead])


class ActivationMonitor:
    """Per-layer activation mean/std, fraction saturated and fraction of dead units.

    Watches every activation *module* of the model (sigmoid, tanh, ReLU and its leaky or
    smooth relatives; activations applied functionally, e.g. ``F.relu``, are invisible to it)
    with forward hooks installed only while attached. See :func:`activation_stats` for the
    definitions.

    Parameters
    ----------
    model : nn.Module
        The model to watch.
    every : int
        Record every ``every``-th forward pass of ``model`` (counted from 0).
    eps : float
        Saturation margin (see :func:`activation_stats`).
    training_only : bool
        Record only forward passes made in training mode (skips validation passes).
    """

    def __init__(self, model: nn.Module, every: int = 1, *, eps: float = 0.02,
                 training_only: bool = False) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            raise ValueError(f"every must be a positive int, got {every!r}")
        if not 0 < eps < 0.5:
            raise ValueError(f"eps must be in (0, 0.5), got {eps!r}")
        self.model, self.every, self.eps, self.training_only = model, every, eps, training_only
        self.layer_names: list[str] = []
        self.kinds: list[str] = []
        self.records: list[tuple[int, int, torch.Tensor]] = []  # (pass, layer, (4,) stats)
        self._handles: list[Any] = []
        self._pass = -1

    @property
    def attached(self) -> bool:
        """Whether hooks are installed."""
        return bool(self._handles)

    def attach(self) -> ActivationMonitor:
        """Install the forward hooks (idempotent) and return ``self``."""
        if self.attached:
            return self
        found = [(n, m, _activation_kind(m)) for n, m in self.model.named_modules()]
        found = [(n, m, k) for n, m, k in found if k is not None]
        self.layer_names = [n for n, _, _ in found]
        self.kinds = [k for _, _, k in found]
        self._handles = [self.model.register_forward_pre_hook(self._on_pass)]
        for i, (_, module, kind) in enumerate(found):
            self._handles.append(module.register_forward_hook(self._make_hook(i, kind)))
        return self

    def detach(self) -> None:
        """Remove every hook; recorded numbers stay readable."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self) -> ActivationMonitor:
        return self.attach()

    def __exit__(self, *exc: object) -> None:
        self.detach()

    def _on_pass(self, module: nn.Module, args: Any) -> None:
        if not (self.training_only and not module.training):
            self._pass += 1

    def _make_hook(self, index: int, kind: str) -> Any:
        def hook(module: nn.Module, args: Any, output: torch.Tensor) -> None:
            if self.training_only and not module.training:
                return
            if self._pass % self.every == 0 and isinstance(output, torch.Tensor):
                self.records.append((self._pass, index, activation_stats(output, kind, self.eps)))

        return hook

    def latest(self) -> dict[str, dict[str, Any]]:
        """Each layer's last record: ``{layer: {"kind", "mean", "std", "saturated", "dead"}}``."""
        last: dict[int, torch.Tensor] = {}
        for _, index, stats in self.records:
            last[index] = stats
        if not last:
            return {}
        values = torch.stack(list(last.values())).double().cpu().tolist()  # one host sync
        out = {}
        for index, row in zip(last, values, strict=True):
            entry: dict[str, Any] = {"kind": self.kinds[index]}
            entry.update(zip(ACTIVATION_STATS, row, strict=True))
            out[self.layer_names[index]] = entry
        return out

    def history(self, stat: str) -> torch.Tensor:
        """``(passes, layers)`` float64 matrix of ``stat`` (NaN where a layer was not seen)."""
        if stat not in ACTIVATION_STATS:
            raise ValueError(f"stat must be one of {', '.join(ACTIVATION_STATS)}, got {stat!r}")
        passes = sorted({p for p, _, _ in self.records})
        row_of = {p: i for i, p in enumerate(passes)}
        out = torch.full((len(passes), len(self.layer_names)), float("nan"), dtype=torch.float64)
        if self.records:
            col = ACTIVATION_STATS.index(stat)
            values = torch.stack([s[col] for _, _, s in self.records]).double().cpu()
            for (p, index, _), v in zip(self.records, values, strict=True):
                out[row_of[p], index] = v
        return out
