r"""Gradient monitor: per-layer gradient norm, weight norm and update ratio, with any loop.

It installs hooks only while attached (``attach()``/``detach()`` or a ``with`` block); a
detached monitor leaves no hook behind and costs nothing.

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
  snapshot); the squared norms go into a preallocated float64 table. A BLAS ``dot`` is
  about 3x faster than ``torch.linalg.vector_norm`` on a 256x256 CPU matrix and needs no
  tensor dispatch.
* *device* (anything else: CUDA, half precision, ...): one ``torch._foreach_norm`` over
  gradients and weights (and weight changes, from one ``torch._foreach_sub_``) and one
  ``torch.stack``: no Python loop over parameters and no ``.item()``; the row stays on
  the device until the numbers are read (one host sync then).

Neither path allocates weight-sized tensors per step. The update ratio is the expensive part
(a copy of every weight on the step before, then three more passes over it), hence
``update_every=10``. ``bench/doctor_overhead.py`` measures it on the digits MLP
(64-256-256-10, Adam, one thread): attached at ``every=1`` with the defaults the monitor adds
5-8% to a training step at batch 32-128; with ``update_every=1``, 7-12% (the smaller the
batch, the larger the share).
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
        ``"host"`` or ``"device"``: how the monitor records now (module docstring); set by
        ``attach()`` and again when a weight changes size, dtype or device.

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
        self._rows: list[Any] = []  # device rows (tensor (<=3P,)) or host rows (int: table row)
        self._host_table = np.empty((0, 0))  # (capacity, 3P) squared norms, NaN where unmeasured
        self._host_used = 0
        self._handles: list[Any] = []
        self._params: list[nn.Parameter] = []
        self._layer_of: list[int] = []
        self._snapshot: list[torch.Tensor] = []  # preallocated copy of the weights
        self._host: list[list[Any]] | None = None  # [param, data_ptr, weight view, snapshot]
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
        names, params = [name for name, _ in layers], [p for _, ps in layers for p in ps]
        if self._rows and (names != self.layer_names or len(params) != len(self._params)):
            self.reset()  # the model's weight layers changed since the records were made
        self.layer_names = names
        self._params = params
        if not self._host_used:  # an empty table of this model's width
            self._host_table = np.empty((0, 3 * len(params)))
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
            self._host = [[p, p.data_ptr(), v, s]
                          for p, v, s in zip(params, views, snaps, strict=True)]  # fmt: skip
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
            self._bind()  # a weight changed size, dtype or device: start again from this step
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

        Squared norms go into the next row of the host table (roots are taken when read). A
        weight whose storage was replaced by one of the same size and dtype (``p.data =
        ...``, as a hand-written update may do) gets a fresh view and keeps its snapshot.
        Returns False when a weight changed size, dtype or device: the caller re-binds,
        which discards the snapshots this call may already have touched.
        """
        vdot, subtract, copyto, inf = np.vdot, np.subtract, np.copyto, math.inf
        n, track, delta = len(self._params), self.track_weights, record and self._has_prev
        if record:
            if self._host_used == len(self._host_table):
                self._grow_host_table()
            k = self._host_used
            row = self._host_table[k]
        for j, entry in enumerate(self._host):  # type: ignore[arg-type]
            p, ptr, w, s = entry
            if p.data_ptr() != ptr or p.numel() != w.size:
                w = _host_view(p)
                if w is None or w.size != entry[2].size or w.dtype != entry[2].dtype:
                    return False
                entry[1], entry[2] = p.data_ptr(), w
            if record:
                g = p.grad
                if g is None:
                    row[j] = 0.0
                else:
                    try:  # a dense gradient has the dtype and device of its (host) weight
                        gv = g.numpy()  # vdot flattens it (a view when contiguous)
                        v = vdot(gv, gv)
                        row[j] = v if v < inf else _sq_norm(gv)
                    except (RuntimeError, TypeError):  # sparse, or one that requires grad
                        row[j] = _grad_sq_norm(g)
                if delta:  # W_t is read by the subtraction: its own norm next, while in cache
                    subtract(s, w, out=s)  # snapshot <- W_{t-1} - W_t, in place
                    v = vdot(s, s)
                    row[2 * n + j] = v if v < inf else _sq_norm(s)
                if track:
                    v = vdot(w, w)
                    row[n + j] = v if v < inf else _sq_norm(w)
            if keep:
                copyto(s, w)
        if record:
            self._host_used += 1
            self._rows.append(k)
            self.steps.append(step)
        return True

    def _grow_host_table(self) -> None:
        width, used = 3 * len(self._params), self._host_used
        table = np.full((max(256, 2 * used), width), np.nan)
        table[:used] = self._host_table[:used]  # earlier rows keep their indices
        self._host_table = table

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
        table = torch.full((len(rows), 3 * len(self._params)), math.nan, dtype=torch.float64)
        host: list[int] = []
        on_device: dict[torch.device, list[int]] = {}
        for i, r in enumerate(rows):
            if isinstance(r, int):
                host.append(i)
            else:
                on_device.setdefault(r.device, []).append(i)
        if host:  # squared norms in the host table
            table[host] = torch.from_numpy(np.sqrt(self._host_table[[rows[i] for i in host]]))
        for idx in on_device.values():
            width = max(len(rows[i]) for i in idx)
            pad = [torch.nn.functional.pad(rows[i], (0, width - len(rows[i])), value=math.nan)
                   for i in idx]  # fmt: skip
            table[idx, :width] = torch.stack(pad).double().cpu()
        return table

    def _matrix(self, part: int, table: torch.Tensor | None = None) -> torch.Tensor:
        """(steps, layers) float64 on CPU for part 0 (grads), 1 (weights) or 2 (deltas) of
        ``table`` (default: every record)."""
        n_params, n_layers = len(self._params), len(self.layer_names)
        if table is None:
            if not self._rows:
                return torch.empty(0, n_layers, dtype=torch.float64)
            table = self._table(self._rows)
        per_param = table[:, part * n_params : (part + 1) * n_params]  # (S, P)
        if n_params == n_layers:
            return per_param
        index = torch.tensor(self._layer_of)
        sq = torch.zeros(len(table), n_layers, dtype=torch.float64)
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
        last = self._table(self._rows[-1:])
        g, w, d = (self._matrix(part, last)[0] for part in range(3))
        u = d / w
        return {
            name: {"grad_norm": float(g[i]), "weight_norm": float(w[i]),
                   "update_ratio": float(u[i])}
            for i, name in enumerate(self.layer_names)
        }  # fmt: skip

    def layers_with_grad(self) -> set[str]:
        """Names of the layers whose weights hold a gradient now (read it right after backward):
        a layer outside the graph, e.g. an unused head, has none (its norm is recorded as 0)."""
        return {self.layer_names[i] for p, i in zip(self._params, self._layer_of, strict=True)
                if p.grad is not None}  # fmt: skip

    def reset(self) -> None:
        """Forget the records (hooks stay as they are)."""
        self._rows, self.steps = [], []
        self._host_table[: self._host_used] = np.nan
        self._host_used = 0
