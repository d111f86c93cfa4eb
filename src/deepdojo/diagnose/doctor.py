"""One-shot diagnosis of a batch, and the Doctor callback that runs the same rules in training.

Recipe for a hand-written loop (no Trainer)::

    from deepdojo.diagnose import GradientMonitor, ActivationMonitor, diagnose
    print(diagnose(model, (x, y), loss_fn))                 # one batch, before training
    with GradientMonitor(model) as grads, ActivationMonitor(model) as acts:
        for x, y in batches:
            loss = loss_fn(model(x), y)
            loss.backward()                                  # the monitor records here
            opt.step(); opt.zero_grad()
    grads.grad_norms                                         # (steps, layers)

With the Trainer: ``Trainer(model, loss_fn, callbacks=[Doctor(every=10)])``. For a task with
several networks (a GAN's ``g`` and ``d``), ``Trainer(task, callbacks=[Doctor()])`` judges each
network on its own updates and reports per network (:meth:`Doctor.by_network`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from deepdojo.diagnose.activations import ActivationMonitor
from deepdojo.diagnose.monitors import GradientMonitor, weight_layers
from deepdojo.diagnose.rules import Finding, Thresholds, check
from deepdojo.train.callbacks import Callback

if TYPE_CHECKING:  # pragma: no cover
    from deepdojo.train.trainer import Trainer

logger = logging.getLogger("deepdojo.diagnose")


def _grad_norms(monitor: GradientMonitor, used: set[str]) -> dict[str, float]:
    """The latest gradient norm of each layer in ``used`` (the layers that got a gradient).

    A layer outside the graph (an unused head) has no gradient at all, which the monitor
    records as 0; judging it would make a last-layer ratio of x/0 = inf ("exploding").
    """
    return {name: stats["grad_norm"] for name, stats in monitor.latest().items() if name in used}


def diagnose(
    model: nn.Module,
    batch: Sequence[Any],
    loss_fn: Callable[[Any, Any], torch.Tensor],
    thresholds: Thresholds | None = None,
) -> list[Finding]:
    """Run one forward/backward pass on ``batch = (inputs, targets)`` and apply the rules.

    The rules and thresholds are those of :mod:`deepdojo.diagnose.rules` (vanishing when the
    first layer's gradient norm is < 1/100 of the last layer's, exploding when > 100× or any
    layer's norm > 1000, dead units / saturation when ≥ 50% of a layer, non-finite loss or
    gradients). The model is left as it was: existing ``.grad`` values and buffers (BatchNorm
    running statistics) are restored; its train/eval mode is used as is.

    Returns
    -------
    list[Finding]
        The findings, or ``[Finding(kind="healthy", ...)]`` when no rule fires.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if not isinstance(batch, Sequence) or isinstance(batch, str) or len(batch) != 2:
        got = f"a {type(batch).__name__}" + (f" of length {len(batch)}"
                                              if isinstance(batch, Sequence) else "")
        raise ValueError(f"batch must be a pair (inputs, targets), got {got}")
    if thresholds is not None and not isinstance(thresholds, Thresholds):
        raise TypeError(f"thresholds must be a Thresholds, got {type(thresholds).__name__}")
    inputs, targets = batch
    saved_grads = {p: p.grad for p in model.parameters()}
    saved_buffers = {n: b.detach().clone() for n, b in model.named_buffers()}
    model.zero_grad(set_to_none=True)
    try:
        with GradientMonitor(model) as grads, ActivationMonitor(model) as acts:
            loss = loss_fn(model(inputs), targets)
            if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
                shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss)
                raise ValueError(f"loss_fn must return a scalar tensor (reduce with .mean()), "
                                 f"got {shape}")  # fmt: skip
            loss.backward()
        used = grads.layers_with_grad()
        return check(_grad_norms(grads, used), acts.latest(), float(loss.detach()), thresholds)
    finally:
        for p, g in saved_grads.items():
            p.grad = g
        with torch.no_grad():
            for name, buf in model.named_buffers():
                buf.copy_(saved_buffers[name])


class Doctor(Callback):
    """Trainer callback: watch gradients and activations, report each new finding once.

    Every ``every`` steps it applies the rules of :mod:`deepdojo.diagnose.rules` to the latest
    per-layer gradient norms (before clipping; with ``precision="fp16"`` divided by the loss
    scale, and a step the GradScaler skips for overflow is not checked), the latest
    training-mode activation statistics and the batch loss. The first time a kind of finding
    appears it is reported (``report``) and kept; later checks only count it. Each epoch's
    history record gets ``"findings"``: the findings first seen in that epoch, as dicts.
    Layers that got no gradient in the checked step (outside the graph) are left out of the
    rules. Every ``fit`` starts afresh (findings, counts, monitors); the monitors are
    detached when the fit ends, and also when it raises.

    **Several networks.** When the Trainer's task has more than one network
    (``task.networks()``, e.g. a GAN's ``{"g": ..., "d": ...}``), each network is judged on
    its own, on every ``every``-th training step: at the first update of the optimizer that
    owns it, its per-layer gradient norms are read right after that backward (so a
    discriminator is judged on its own loss, not on the gradient the generator's loss sends
    through it), with the activation statistics of its forward passes up to that update
    (hooks are installed for the checked steps only) and that optimizer's loss. A kind is
    reported once per network; ``findings`` then holds every network's findings with the
    layers named as in the task (``"d.net.0"``), the history's findings carry ``"network"``,
    and :meth:`by_network` gives the per-network report.

    Parameters
    ----------
    every : int
        Check every ``every``-th training step (monitors record at the same cadence).
    thresholds : Thresholds, optional
        Rule thresholds.
    report : {"log", "print"} or callable or None
        Where new findings go: the ``deepdojo.diagnose`` logger (warning), stdout, a
        function ``report(finding)``, or nowhere.
    track_weights : bool
        Let the gradient monitor also record weight norms and update ratios (the rules do not
        need them, so they are off by default to keep the monitor's cost down). The update
        ratio then comes on every 10th record (``GradientMonitor(update_every=10)``).

    Attributes
    ----------
    findings : list[Finding]
        Each kind's first finding in the last fit, in the order they appeared (``step`` set).
    counts : dict[str, int]
        How many checks of the last fit flagged each kind.
    checks : int
        How many checks the last fit ran.
    gradients, activations : GradientMonitor, ActivationMonitor
        The monitors of the last fit. The gradient records stay readable after training (for
        plots); the activation monitor keeps only what the latest check needed.
    """

    def __init__(self, every: int = 10, thresholds: Thresholds | None = None,
                 report: str | Callable[[Finding], None] | None = "log",
                 track_weights: bool = False) -> None:
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            raise ValueError(f"every must be a positive int, got {every!r}")
        if not (report in ("log", "print", None) or callable(report)):
            raise ValueError(f"report must be 'log', 'print', None or a callable, got {report!r}")
        if thresholds is not None and not isinstance(thresholds, Thresholds):
            raise TypeError(f"thresholds must be a Thresholds, got {type(thresholds).__name__}")
        self.every = every
        self.track_weights = track_weights
        self.thresholds = thresholds
        self.report = report
        self.findings: list[Finding] = []
        self.counts: dict[str, int] = {}
        self.checks = 0
        self.gradients: GradientMonitor | None = None
        self.activations: ActivationMonitor | None = None
        self._new: list[Finding] = []
        self._recorded = 0
        self._scale = 1.0  # fp16 loss scale of the recorded backward (1: none)
        self._used: set[str] = set()  # layers with a gradient in the recorded backward
        self._watches: list[_Watch] = []  # one per network of a multi-network task
        self._new_networks: list[str] = []  # the network of each finding in _new
        self._step = 0  # the global step when the current training step began
        self._steps_seen = 0  # training steps begun in this fit (multi-network cadence)
        self._checking = False  # whether this training step is checked (multi-network)

    @property
    def kinds(self) -> list[str]:
        """The kinds found so far, or ``["healthy"]`` when nothing was flagged."""
        return [f.kind for f in self.findings] or ["healthy"]

    def summary(self) -> dict[str, Any]:
        """JSON-friendly summary for a run's result: kinds, counts, checks and findings (and
        ``networks``, the per-network report, for a multi-network task)."""
        out = {"kinds": self.kinds, "counts": dict(self.counts), "checks": self.checks,
               "findings": [f.to_dict() for f in self.findings]}  # fmt: skip
        if self._watches:
            out["networks"] = self.by_network()
        return out

    def by_network(self) -> dict[str, dict[str, Any]]:
        """Per network of a multi-network task: ``{"kinds", "counts", "checks",
        "findings"}`` (layers named within that network); ``{}`` for a single network."""
        return {w.name: {"kinds": [f.kind for f in w.findings] or ["healthy"],
                         "counts": dict(w.counts), "checks": w.checks,
                         "findings": [f.to_dict() for f in w.findings]}
                for w in self._watches}  # fmt: skip

    def on_fit_start(self, trainer: Trainer) -> None:
        self._detach()  # a fit that raised before this one may have left its monitors
        self.findings, self.counts, self.checks, self._new = [], {}, 0, []
        self._new_networks = []
        self._scale = 1.0
        self._watches = _watches(trainer)
        self._steps_seen, self._checking = 0, False
        if self._watches:  # several networks: each watched on its own updates
            self.gradients = None
            self.activations = None
            return
        self.gradients = GradientMonitor(trainer.model, every=self.every,
                                         track_weights=self.track_weights).attach()
        self.activations = ActivationMonitor(trainer.model, every=self.every,
                                             training_only=True).attach()  # fmt: skip
        self._recorded = len(self.gradients.steps)

    def on_batch_start(self, trainer: Trainer, batch_idx: int, batch: Any) -> None:
        self._step = trainer.global_step
        if self._watches:
            self._checking = self._steps_seen % self.every == 0
            self._steps_seen += 1
            if self._checking:  # activation hooks for this step only
                for watch in self._watches:
                    watch.activations.records.clear()
                    watch.activations.attach()

    def on_after_backward(self, trainer: Trainer) -> None:
        if self._watches:
            if self._checking:
                for watch in self._watches:
                    if watch.optimizer == trainer.current_optimizer and watch.pending is None:
                        watch.take()
            return
        grads = self.gradients
        if grads is None or len(grads.steps) == self._recorded:
            return  # the monitor did not record this backward
        self._used = grads.layers_with_grad()
        if trainer.scaler is not None:
            self._scale = float(trainer.scaler.get_scale())  # the loss scale this backward used

    def on_batch_end(self, trainer: Trainer, batch_idx: int, logs: dict[str, Any]) -> None:
        if self._watches:
            self._judge_networks(logs)
            return
        grads = self.gradients
        if grads is None or len(grads.steps) == self._recorded:
            return  # the monitor did not record this step
        self._recorded = len(grads.steps)
        norms = _grad_norms(grads, self._used)
        if not norms:
            return  # no weight layer got a gradient: nothing to judge
        if self._scale != 1.0:  # fp16: the monitor saw the scaled gradients
            norms = {name: v / self._scale for name, v in norms.items()}
            self._scale = 1.0
            loss_ok = math.isfinite(logs.get("loss", math.nan))
            if loss_ok and not all(math.isfinite(v) for v in norms.values()):
                return  # a GradScaler overflow: the scaler skips the step and lowers its scale
        acts = self.activations.latest() if self.activations is not None else {}
        found = check(norms, acts, logs.get("loss"), self.thresholds)
        self.checks += 1
        for finding in found:
            if finding.kind == "healthy":
                continue
            self.counts[finding.kind] = self.counts.get(finding.kind, 0) + 1
            if all(f.kind != finding.kind for f in self.findings):
                finding.step = trainer.global_step - (0 if "skipped" in logs else 1)
                self.findings.append(finding)
                self._new.append(finding)
                self._emit(finding)
        if self.activations is not None:
            self.activations.records.clear()  # only the latest pass is ever needed

    def _judge_networks(self, logs: dict[str, Any]) -> None:
        """Apply the rules to each network that has a pending check (multi-network task)."""
        for watch in self._watches:
            watch.activations.detach()  # a network not updated in this step
            if watch.pending is None:
                continue
            norms, watch.pending = watch.pending, None
            loss = logs.get(f"loss_{watch.optimizer}", logs.get("loss"))
            found = check(norms, watch.acts, loss, self.thresholds)
            watch.checks += 1
            self.checks += 1
            for finding in found:
                if finding.kind != "healthy":
                    self._note(watch, finding)

    def _note(self, watch: _Watch, finding: Finding) -> None:
        watch.counts[finding.kind] = watch.counts.get(finding.kind, 0) + 1
        self.counts[finding.kind] = self.counts.get(finding.kind, 0) + 1
        if any(f.kind == finding.kind for f in watch.findings):
            return
        finding.step = self._step
        watch.findings.append(finding)
        qualified = Finding(finding.kind, [f"{watch.name}.{layer}" for layer in finding.layers],
                            finding.evidence, finding.remedies,
                            f"network {watch.name!r}: {finding.message}", finding.step)
        self.findings.append(qualified)
        self._new.append(qualified)
        self._new_networks.append(watch.name)
        self._emit(qualified)

    def _emit(self, finding: Finding) -> None:
        text = f"doctor: {finding.kind} at step {finding.step}: {finding.message}; " \
               f"try: {', '.join(finding.remedies)}"
        if self.report == "log":
            logger.warning(text)
        elif self.report == "print":
            print(text)
        elif callable(self.report):
            self.report(finding)

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        logs["findings"] = [f.to_dict() for f in self._new]
        if self._watches:  # which network each finding is about
            for entry, network in zip(logs["findings"], self._new_networks, strict=True):
                entry["network"] = network
        self._new, self._new_networks = [], []

    def on_fit_end(self, trainer: Trainer) -> None:
        self._detach()

    def on_exception(self, trainer: Trainer, exc: BaseException) -> None:
        self._detach()  # records stay readable (the gradient flow up to the failure)

    def _detach(self) -> None:
        monitors = [self.gradients, self.activations, *(w.activations for w in self._watches)]
        for monitor in monitors:
            if monitor is not None:
                monitor.detach()


@dataclass
class _Watch:
    """One network of a multi-network task: its weight layers, the optimizer that updates
    it, its activation monitor, and its own findings."""

    name: str
    optimizer: str
    layers: list[tuple[str, list[nn.Parameter]]]
    activations: ActivationMonitor
    pending: dict[str, float] | None = None  # gradient norms waiting for on_batch_end
    acts: dict[str, Any] = field(default_factory=dict)  # activation stats of the check
    findings: list[Finding] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    checks: int = 0

    def take(self) -> None:
        """Right after this network's own backward: its layers' gradient norms (already
        unscaled under fp16; one host read; layers without a gradient left out) and the
        activation statistics of its forward passes so far (then the hooks come off)."""
        names, norms = [], []
        for name, params in self.layers:
            grads = [p.grad for p in params if p.grad is not None]
            if grads:
                names.append(name)
                norms.append(torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))))
        self.acts = self.activations.latest()
        self.activations.detach()
        self.activations.records.clear()
        if norms:
            self.pending = dict(zip(names, torch.stack(norms).tolist(), strict=True))


def _watches(trainer: Trainer) -> list[_Watch]:
    """A :class:`_Watch` per network when the task has several (each network goes with the
    optimizer holding its parameters); ``[]`` for a single network."""
    task = getattr(trainer, "task", None)
    networks = task.networks() if task is not None else {}
    if len(networks) < 2:
        return []
    owner = {id(p): name for name, opt in trainer.optimizers.items()
             for g in opt.param_groups for p in g["params"]}  # fmt: skip
    watches = []
    for name, net in networks.items():
        layers = weight_layers(net)
        opt = next((owner[id(p)] for _, ps in layers for p in ps if id(p) in owner), None)
        if opt is None:
            continue  # a network no optimizer updates (frozen): nothing to judge
        acts = ActivationMonitor(net, training_only=True)  # attached on checked steps only
        watches.append(_Watch(name, opt, layers, acts))
    return watches
