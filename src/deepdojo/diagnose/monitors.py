r"""Gradient and activation monitors that work with the Trainer and with any PyTorch loop.

Both monitors install hooks only while attached (``attach()``/``detach()`` or a ``with``
block); a detached monitor leaves no hook behind and costs nothing.

**Layers.** A *weight layer* is a module that directly owns at least one trainable parameter
with two or more dimensions (Linear, Conv, Embedding, RNN weights...); its norms are taken over
those parameters, so biases and normalisation scales are left out, as in the usual
gradient-flow charts. Layers are ordered as ``model.named_modules()`` lists them (input side
first for sequential models).

**Cost.** The gradient monitor does its work once per recorded backward pass, in one callback
queued on the autograd engine, and picks one of two paths when attached:

* *host* (every tracked weight a dense float32/float64 CPU tensor): per weight, while it is
  hot in cache, BLAS dot products on zero-copy NumPy views (gradient, weight, and on update
  records the weight change, made by one in-place subtraction from a preallocated
  snapshot). A BLAS ``dot`` is about 3x faster than ``torch.linalg.vector_norm`` on a
  256x256 CPU matrix and needs no tensor dispatch.
* *device* (anything else: CUDA, half precision, ...): one ``torch._foreach_norm`` over
  gradients and weights (and weight changes, from one ``torch._foreach_sub_``) and one
  ``torch.stack``: no Python loop over parameters and no ``.item()``; the row stays on
  the device until the numbers are read (one host sync then).

Neither path allocates weight-sized tensors per step. The update ratio is the expensive part
(a copy of every weight on the step before, then three more passes over it), hence
``update_every=10``. ``bench/doctor_overhead.py`` measures it on the digits MLP
(64-256-256-10, Adam, one thread): attached at ``every=1`` with the defaults the monitor adds
6-8% to a training step at batch 32-64, and 9-11% with ``update_every=1``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

_HOST_DTYPES = (torch.float32, torch.float64)


def weight_layers(model: nn.Module) -> list[tuple[str, list[nn.Parameter]]]:
    """``[(layer_name, [weight params]), ...]`` for every weight layer of ``model``, in order."""
    layers = []
    for name, module in model.named_modules():
        params = [p for p in module.parameters(recurse=False) if p.requires_grad and p.ndim >= 2]
        if params:
            layers.append((name or type(module).__name__, params))
    return layers


def _host_view(t: torch.Tensor) -> np.ndarray | None:
    """A flat NumPy view *sharing memory* with ``t`` (dense float32/64 on CPU), else None."""
    if t.device.type != "cpu" or t.dtype not in _HOST_DTYPES or t.layout is not torch.strided:
        return None
    a = t.detach().numpy()
    flat = a.ravel("K")  # memory order: a view for any dense layout (contiguous, channels_last)
    return flat if np.may_share_memory(flat, a) else None


def _sq_norm(a: np.ndarray) -> float:
    r""":math:`\|a\|_2^2` in float64: the fallback when a float32 dot overflowed (> ~1.8e19)."""
    a64 = a.astype(np.float64).ravel()
    return float(np.dot(a64, a64))


def _grad_sq_norm(g: torch.Tensor) -> float:
    """Squared norm of a gradient NumPy can't view (sparse, or one that requires grad)."""
    if g.is_sparse:
        g = g.coalesce().values()
    return float(torch.linalg.vector_norm(g.detach(), dtype=torch.float64)) ** 2


class GradientMonitor:
    r"""Per-layer gradient norm, weight norm and update/weight ratio, step by step.

    At the end of every ``every``-th backward pass (counted from 0) it records, per weight
    layer :math:`l` with weights :math:`W_l` and gradient :math:`G_l = \partial L/\partial W_l`:

    * ``grad_norms``:  :math:`\|G_l\|_2` (gradients as they are after backward, before any
      clipping);
    * ``weight_norms``: :math:`\|W_l\|_2`;
    * ``update_ratios``: :math:`\|W_l^{(t)} - W_l^{(t-1)}\|_2 / \|W_l^{(t)}\|_2`, the relative
      change made by the one optimizer step between the previous backward pass and this
      one, measured exactly on every ``update_every``-th record and NaN on the others (and
      on the first record after ``attach``).

    Recording is automatic: a post-accumulate-grad hook on each tracked weight queues one
    callback that runs when the whole backward pass has finished. See the module docstring
    for what a record costs.

    Parameters
    ----------
    model : nn.Module
        The model to watch.
    every : int
        Record every ``every``-th backward pass.
    track_weights : bool
        Also record weight norms and update ratios. With ``False`` those two matrices are
        all NaN.
    update_every : int
        Measure the update ratio on every ``update_every``-th record (records 0, k, 2k, ...;
        ``1``: on every record). An update needs the weights of the backward pass before, so
        the monitor keeps one copy of the tracked weights (allocated by ``attach()``,
        refilled in place on the step before each measured update, freed by ``detach()``);
        each measured update costs about as much as a whole record of gradient and weight
        norms, hence the default of 10 (``bench/doctor_overhead.py`` measures both).

    Attributes
    ----------
    layer_names : list[str]
        Names of the weight layers (columns of the matrices below), set on ``attach``.
    steps : list[int]
        Backward-pass index of each record (rows).
    path : str or None
        ``"host"`` or ``"device"``: how the last ``attach()`` records (module docstring).

    Examples
    --------
    >>> with GradientMonitor(model) as mon:           # doctest: +SKIP
    ...     for x, y in batches:
    ...         loss_fn(model(x), y).backward(); opt.step(); opt.zero_grad()
    >>> mon.grad_norms.shape                          # (steps, layers)
    """

    def __init__(self, model: nn.Module, every: int = 1, *, track_weights: bool = True,
                 update_every: int = 10) -> None:  # fmt: skip
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
        for name, value in (("every", every), ("update_every", update_every)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.model = model
        self.every = every
        self.update_every = update_every
        self.track_weights = bool(track_weights)
        self.layer_names: list[str] = []
        self.steps: list[int] = []
        self.path: str | None = None
        self._rows: list[Any] = []  # device rows (tensor (<=3P,)) or host rows (3 lists)
        self._handles: list[Any] = []
        self._params: list[nn.Parameter] = []
        self._layer_of: list[int] = []
        self._snapshot: list[torch.Tensor] = []  # preallocated copy of the weights
        self._host: list[tuple[nn.Parameter, int, np.ndarray, np.ndarray]] | None = None
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
        self._bind()
        self._handles = [p.register_post_accumulate_grad_hook(self._on_grad) for p in self._params]
        return self

    def _bind(self) -> None:
        """(Re)allocate the snapshot and choose the host or the device path for the weights."""
        params = self._params
        self._has_prev = False
        self._zero = torch.zeros((), dtype=params[0].dtype, device=params[0].device)
        views = [_host_view(p) for p in params]
        if all(v is not None for v in views):
            self._snapshot = ([torch.empty(p.numel(), dtype=p.dtype) for p in params]
                              if self.track_weights else [])  # fmt: skip
            snaps = [s.numpy() for s in self._snapshot] or [np.empty(0)] * len(params)
            ptrs = [p.data_ptr() for p in params]
            self._host = list(zip(params, ptrs, views, snaps, strict=True))  # type: ignore[arg-type]
            self.path = "host"
        else:
            self._snapshot = [p.detach().clone() for p in params] if self.track_weights else []
            self._host = None
            self.path = "device"

    def detach(self) -> None:
        """Remove every hook; recorded numbers stay readable."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._snapshot, self._host, self._has_prev = [], None, False
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
        record = step % self.every == 0
        # keep W_t when the next backward pass is a record that measures the update
        keep = self.track_weights and (step + 1) % (self.every * self.update_every) == 0
        if self._host is not None and not self._host_step(step, record, keep):
            self._bind()  # a weight was replaced (.to, .data =): start again from this step
            if self._host is not None:
                self._host_step(step, record, keep)
        if self._host is None:
            with torch.no_grad():
                if record:
                    self._record(step)
                if keep:  # keep W_t for the next record, in the preallocated buffer
                    torch._foreach_copy_(self._snapshot, self._params)
        self._has_prev = keep

    def _host_step(self, step: int, record: bool, keep: bool) -> bool:
        """Host path: everything for one weight while it is in cache, then the next one.

        A host row is three lists of *squared* norms (roots are taken when they are read).
        Returns False, having done nothing, when a weight's storage was replaced since
        ``_bind`` (``model.to(...)``, ``p.data = ...``).
        """
        vdot, subtract, copyto, inf = np.vdot, np.subtract, np.copyto, math.inf
        track, delta = self.track_weights, record and self._has_prev
        g_sq: list[float] = []
        w_sq: list[float] = []
        d_sq: list[float] = []
        for p, ptr, w, s in self._host:  # type: ignore[union-attr]
            if p.data_ptr() != ptr:
                return False
            if record:
                g = p.grad
                if g is None:
                    g_sq.append(0.0)
                else:
                    try:  # a dense gradient has the dtype and device of its (host) weight
                        v = vdot(g.numpy(), g.numpy())
                        g_sq.append(v if v < inf else _sq_norm(g.numpy()))
                    except (RuntimeError, TypeError):  # sparse, or one that requires grad
                        g_sq.append(_grad_sq_norm(g))
                if track:
                    v = vdot(w, w)
                    w_sq.append(v if v < inf else _sq_norm(w))
                if delta:
                    subtract(s, w, out=s)  # snapshot <- W_{t-1} - W_t, in place
                    v = vdot(s, s)
                    d_sq.append(v if v < inf else _sq_norm(s))
            if keep:
                copyto(s, w)
        if record:
            self._rows.append((g_sq, w_sq, d_sq))
            self.steps.append(step)
        return True

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
    def _table(self, rows: list[Any]) -> torch.Tensor:
        """``(S, 3P)`` float64 CPU table of ``rows``, NaN-padded: one host sync per device."""
        full = 3 * len(self._params)
        table = torch.full((len(rows), full), float("nan"), dtype=torch.float64)
        on_device: dict[torch.device, list[int]] = {}
        n = len(self._params)
        host = [(i, r) for i, r in enumerate(rows) if isinstance(r, tuple)]
        for part in range(3):  # host rows: squared norms of grads, weights, deltas (or [])
            filled = [(i, r[part]) for i, r in host if r[part]]
            if filled:
                sq = np.array([values for _, values in filled], dtype=np.float64)
                table[[i for i, _ in filled], part * n : (part + 1) * n] = torch.from_numpy(
                    np.sqrt(sq))
        for i, r in enumerate(rows):
            if isinstance(r, torch.Tensor):
                on_device.setdefault(r.device, []).append(i)
        for idx in on_device.values():
            width = max(len(rows[i]) for i in idx)
            pad = [torch.nn.functional.pad(rows[i], (0, width - len(rows[i])), value=math.nan)
                   for i in idx]  # fmt: skip
            table[idx, :width] = torch.stack(pad).double().cpu()
        return table

    def _matrix(self, part: int, rows: list[Any] | None = None
                ) -> torch.Tensor:  # fmt: skip
        """(steps, layers) float64 on CPU for part 0 (grads), 1 (weights) or 2 (deltas)."""
        rows = self._rows if rows is None else rows
        n_params, n_layers = len(self._params), len(self.layer_names)
        if not rows:
            return torch.empty(0, n_layers, dtype=torch.float64)
        per_param = self._table(rows)[:, part * n_params : (part + 1) * n_params]  # (S, P)
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
        g, w, d = (self._matrix(part, last)[0] for part in range(3))
        u = d / w
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
