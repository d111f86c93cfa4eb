"""What the weight-initialization lab measures: (1) a depth probe, (2) digits training runs.

(1) Depth probe: a ``depth``-layer MLP (``width`` units per layer, tanh or ReLU, then a 10-way
readout) is initialized with a scheme; a batch of N(0, 1) inputs goes forward and a
cross-entropy loss on random labels goes backward, in float64. Per layer: the activations' std,
the fraction of saturated tanh units (|a| > ``saturation_level``) and ‖∂L/∂W_l‖.

(1b) torch's default init: the ReLU probe under ``nn.Linear``'s own draw, with and without
its biases: the per-layer variance factor and how much of the last layer's spread depends on
the input.

(2) Training: a small MLP learns scikit-learn's digits with SGD + momentum from a scheme (each
seed its own train/val/test split); we keep the loss curves, the epochs needed to reach
``target_acc`` on validation and, for zero init, how far the hidden units of a layer drift
apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from deepdojo.data import DataSplits, load_digits
from deepdojo.labs.framework import LabContext
from deepdojo.nn.init import initialize
from deepdojo.train import Trainer

from .config import InitLabConfig

PROBE_KEYS = ("normal_small", "normal_large", "xavier", "xavier_tanh_gain", "he")
# digits runs: key -> activation. From zero init ReLU and tanh units get no gradient at all
# (f(0) = 0); in the sigmoid net (σ(0) = 1/2) they do learn, in lockstep
TRAIN_RUNS = {
    "zeros": "relu",
    "zeros_sigmoid": "sigmoid",
    "normal_small": "relu",
    "normal_large": "relu",
    "xavier": "relu",
    "he": "relu",
}
ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid}
PROBE_ACTIVATIONS = ("tanh", "relu")


@dataclass(frozen=True)
class Scheme:
    """An init scheme: a plot label and the arguments of :func:`deepdojo.nn.init.initialize`."""

    label: str
    name: str
    options: dict[str, Any] = field(default_factory=dict)


def scheme(key: str, cfg: InitLabConfig) -> Scheme:
    """The scheme of run ``key`` (a key of :data:`PROBE_KEYS` or :data:`TRAIN_RUNS`)."""
    return {
        "zeros": Scheme("zeros", "zeros"),
        "zeros_sigmoid": Scheme("zeros (sigmoid net)", "zeros"),
        "normal_small": Scheme(f"N(0, {cfg.small_std:g}²)", "normal", {"std": cfg.small_std}),
        "normal_large": Scheme(f"N(0, {cfg.large_std:g}²)", "normal", {"std": cfg.large_std}),
        "xavier": Scheme("Xavier (gain 1)", "xavier_normal"),
        "xavier_tanh_gain": Scheme(f"Xavier (gain {cfg.tanh_gain:.3g})", "xavier_normal",
                                   {"gain": cfg.tanh_gain}),  # fmt: skip
        "he": Scheme("He", "he_normal", {"nonlinearity": "relu"}),
    }[key]


def labels(cfg: InitLabConfig) -> dict[str, str]:
    """Plot label of every probe and training key."""
    return {key: scheme(key, cfg).label for key in (*PROBE_KEYS, *TRAIN_RUNS)}


def mlp(in_features: int, width: int, depth: int, out: int, act: type[nn.Module]) -> nn.Sequential:
    """``depth`` x (Linear -> act), then a Linear readout to ``out``."""
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(in_features if i == 0 else width, width), act()]
    return nn.Sequential(*layers, nn.Linear(width, out))


# ---------------------------------------------------------------- (1) depth probe


@dataclass
class ProbeResult:
    """One probe (net, scheme, seed): one number per hidden layer, input side first."""

    std: list[float]  # std of the layer's activations over the (B, W) batch
    saturated: list[float]  # fraction of activations with |a| > saturation_level
    grad: list[float]  # Frobenius norm of the layer's weight gradient

    @property
    def mean_saturated(self) -> float:
        """Mean over layers of the saturated fraction."""
        return sum(self.saturated) / len(self.saturated)

    @property
    def log10_growth(self) -> float:
        """log10(std_last / std_1); inf when std_1 is 0 or the ratio is not finite."""
        ratio = self.std[-1] / self.std[0] if self.std[0] > 0 else math.inf
        return math.log10(ratio) if math.isfinite(ratio) and ratio > 0 else math.inf


def probe(cfg: InitLabConfig, act: str, key: str, seed: int, width: int) -> ProbeResult:
    """Per layer: activation std, saturated fraction, and gradient norm of the weight."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(cfg.probe_batch, width, generator=g, dtype=torch.float64)  # (B, W)
    targets = torch.randint(0, 10, (cfg.probe_batch,), generator=g)  # (B,)
    net = mlp(width, width, cfg.depth, 10, ACTIVATIONS[act]).double()
    s = scheme(key, cfg)
    initialize(net, s.name, generator=g, **s.options)
    stds, saturated, h = [], [], x
    for layer in net:
        h = layer(h)  # (B, W), (B, 10) after the readout
        if isinstance(layer, ACTIVATIONS[act]):
            stds.append(h.detach().std().item())
            saturated.append((h.detach().abs() > cfg.saturation_level).double().mean().item())
    nn.functional.cross_entropy(h, targets).backward()
    hidden = [m for m in net if isinstance(m, nn.Linear)][:-1]
    return ProbeResult(stds, saturated, [m.weight.grad.norm().item() for m in hidden])


def log2_worst_ratio(stds: list[float]) -> float:
    """max over layers of |log2(std_l / std_1)|; inf when a std is 0 or non-finite."""
    if not all(math.isfinite(s) and s > 0 for s in stds):
        return math.inf
    return max(abs(math.log2(s / stds[0])) for s in stds)


Probes = dict[tuple[str, str], list[ProbeResult]]  # (net, scheme key) -> one per seed


def run_probes(cfg: InitLabConfig, ctx: LabContext) -> Probes:
    """Every (net, scheme) probe over ``ctx.seeds``; Xavier with the tanh gain on tanh only."""
    runs = [(act, key) for act in PROBE_ACTIVATIONS for key in PROBE_KEYS
            if act == "tanh" or key != "xavier_tanh_gain"]  # fmt: skip
    out: Probes = {}
    for act, key in ctx.progress(runs, "depth probes"):
        out[act, key] = [probe(cfg, act, key, seed, cfg.width) for seed in ctx.seeds]
    return out


def probe_table(probes: Probes, ctx: LabContext, names: dict[str, str]) -> None:
    """Table ``depth_probe_seed0`` and the metrics ``probe.<net>.<key>.std_last_over_first``."""
    rows = []
    for (act, key), per_seed in probes.items():
        first = per_seed[0]
        rows.append({
            "net": act, "scheme": names[key],
            "std_layer1": first.std[0], "std_last": first.std[-1],
            "worst_log2_ratio": max(log2_worst_ratio(p.std) for p in per_seed),
            "saturated_mean": first.mean_saturated,
            "grad_layer1": first.grad[0], "grad_last": first.grad[-1],
        })  # fmt: skip
        ctx.metric(f"probe.{act}.{key}.std_last_over_first", first.std[-1] / first.std[0])
    ctx.table("depth_probe_seed0", rows)


# ---------------------------------------------------------------- (1b) torch's default init


def torch_default_init(net: nn.Module, generator: torch.Generator, *, bias: bool = True
                       ) -> nn.Module:  # fmt: skip
    r"""Re-draw every Linear layer of ``net`` as :meth:`torch.nn.Linear.reset_parameters` does,
    from ``generator``: :math:`w \sim U(-b, b)` with :math:`b = 1/\sqrt{n_{in}}` (torch's
    ``kaiming_uniform_(w, a=sqrt(5))``), so :math:`\mathrm{Var}(w) = b^2/3 = 1/(3 n_{in})`, and
    the bias from the same :math:`U(-b, b)` (``bias=True``) or zero (``bias=False``).

    With the global generator seeded like ``generator`` this gives exactly torch's own draw.
    """
    for m in net.modules():
        if isinstance(m, nn.Linear):
            with torch.no_grad():
                nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
                if m.bias is not None:
                    if bias:
                        bound = 1 / math.sqrt(m.weight.shape[1])
                        nn.init.uniform_(m.bias, -bound, bound, generator=generator)
                    else:
                        nn.init.zeros_(m.bias)
    return net


@dataclass
class DefaultProbe:
    """A ReLU probe under torch's default init (one seed), input side first."""

    var: list[float]  # variance of each hidden layer's post-ReLU activations over (B, W)
    input_share: float  # last hidden layer: mean over units of the std across inputs / overall std

    def factor(self, start: int = 0) -> float:
        """Geometric-mean per-layer variance factor from hidden layer ``start`` (0-based) to the
        last one: ``(var[-1] / var[start]) ** (1 / (L - 1 - start))``; NaN when undefined."""
        steps = len(self.var) - 1 - start
        a, b = self.var[start], self.var[-1]
        if steps < 1 or not (a > 0 and b > 0 and math.isfinite(a) and math.isfinite(b)):
            return math.nan
        return (b / a) ** (1 / steps)


def default_probe(cfg: InitLabConfig, seed: int, width: int, *, bias: bool) -> DefaultProbe:
    r"""Push N(0, 1) inputs (B, W) through the ``depth``-layer ReLU probe under torch's default
    init, in float64. Analytically, :math:`\mathrm{Var}(z_{l+1}) = n_{in}\,\mathrm{Var}(w)\,
    \mathbb E[h_l^2] + \mathrm{Var}(b)` with :math:`\mathbb E[h_l^2] = \mathrm{Var}(z_l)/2`,
    so without bias every layer multiplies the variance by :math:`n_{in}\cdot\frac{1}{3n_{in}}
    \cdot\frac12 = \frac16`; with the default bias it settles where :math:`v = v/6 +
    1/(3 n_{in})`, i.e. :math:`\mathrm{Var}(z) \to 2/(5 n_{in})`."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(cfg.probe_batch, width, generator=g, dtype=torch.float64)  # (B, W)
    net = torch_default_init(mlp(width, width, cfg.depth, 10, nn.ReLU).double(), g, bias=bias)
    var, h = [], x
    with torch.no_grad():
        for layer in list(net)[:-1]:
            h = layer(h)  # (B, W)
            if isinstance(layer, nn.ReLU):
                var.append(h.var().item())
    overall = h.std().item()
    share = h.std(0).mean().item() / overall if overall > 0 else math.nan
    return DefaultProbe(var, share)


DefaultProbes = dict[bool, list[DefaultProbe]]  # bias? -> one per seed


def run_default_probes(cfg: InitLabConfig, ctx: LabContext) -> DefaultProbes:
    """The torch-default ReLU probe with and without biases over ``ctx.seeds``."""
    return {bias: [default_probe(cfg, s, cfg.width, bias=bias) for s in ctx.seeds]
            for bias in (False, True)}  # fmt: skip


def log10_grad_growth(p: ProbeResult) -> float:
    """log10(‖∂L/∂W_1‖ / ‖∂L/∂W_L‖) over the hidden layers: > 0 when the gradient grows on its
    way back to the input; NaN when a norm is 0 or not finite."""
    a, b = p.grad[0], p.grad[-1]
    if not (a > 0 and b > 0 and math.isfinite(a) and math.isfinite(b)):
        return math.nan
    return math.log10(a / b)


# ---------------------------------------------------------------- (2) training on digits


@dataclass
class TrainResult:
    """One digits run (scheme, seed)."""

    train_loss: list[float]  # per epoch
    val_acc: list[float]  # per epoch
    epochs_to_target: int  # first epoch with val_acc >= target_acc; epochs + 1 if never
    test_acc: float
    unit_spread: float  # max over hidden layers of unit_spread
    max_abs_hidden_weight: float
    first_weight: torch.Tensor = field(repr=False)  # (W, 64) first layer after training


def unit_spread(layer: nn.Linear) -> float:
    """Max distance of any unit's incoming weights (and bias) from unit 0's, relative to the
    largest weight of the layer (0 while every weight is still 0)."""
    rows = torch.cat([layer.weight, layer.bias[:, None]], dim=1).detach().double()  # (out, in+1)
    return ((rows - rows[:1]).abs().max() / rows.abs().max().clamp_min(1e-30)).item()


def train(cfg: InitLabConfig, ctx: LabContext, data: DataSplits, key: str, seed: int
          ) -> TrainResult:  # fmt: skip
    """Train the digits MLP of run ``key`` from its init; curves, speed and unit spread."""
    model = mlp(64, cfg.train_width, cfg.train_depth, 10, ACTIVATIONS[TRAIN_RUNS[key]])
    s = scheme(key, cfg)
    initialize(model, s.name, generator=torch.Generator().manual_seed(seed), **s.options)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    # guard=False: a diverging init (N(0, 1)) is a result to record, not a run to rescue
    trainer = Trainer(model, nn.CrossEntropyLoss(), opt, device=ctx.device, seed=seed,
                      progress="off", guard=False)  # fmt: skip
    history = trainer.fit(data.train, data.val, epochs=cfg.epochs, batch_size=cfg.batch_size)
    val_acc = history["val_acc"]
    hit = [i + 1 for i, a in enumerate(val_acc) if a >= cfg.target_acc]
    hidden = [m for m in model.cpu() if isinstance(m, nn.Linear)][:-1]
    return TrainResult(
        train_loss=history["train_loss"], val_acc=val_acc,
        epochs_to_target=hit[0] if hit else cfg.epochs + 1,  # not reached: censored at E+1
        test_acc=trainer.evaluate(data.test)["acc"],
        unit_spread=max(unit_spread(m) for m in hidden),
        max_abs_hidden_weight=max(m.weight.detach().abs().max().item() for m in hidden),
        first_weight=hidden[0].weight.detach().clone(),
    )  # fmt: skip


def run_training(cfg: InitLabConfig, ctx: LabContext) -> dict[str, list[TrainResult]]:
    """Every digits run over ``ctx.seeds``; records table ``digits_training`` and metrics."""
    splits = {seed: load_digits(flat=True, seed=seed) for seed in ctx.seeds}  # one per seed
    runs = [(key, seed) for key in TRAIN_RUNS for seed in ctx.seeds]
    out: dict[str, list[TrainResult]] = {key: [] for key in TRAIN_RUNS}
    for key, seed in ctx.progress(runs, "digits training"):
        out[key].append(train(cfg, ctx, splits[seed], key, seed))
    rows, names = [], labels(cfg)
    for key, per_seed in out.items():
        for seed, r in zip(ctx.seeds, per_seed, strict=True):
            rows.append({
                "scheme": names[key], "seed": seed, "epochs_to_target": r.epochs_to_target,
                "final_val_acc": r.val_acc[-1], "test_acc": r.test_acc,
                "unit_spread": r.unit_spread, "max_abs_hidden_weight": r.max_abs_hidden_weight,
            })  # fmt: skip
        n = len(per_seed)
        ctx.metric(f"test_acc.{key}", sum(r.test_acc for r in per_seed) / n)
        ctx.metric(f"epochs_to_target.{key}", sum(r.epochs_to_target for r in per_seed) / n)
    ctx.table("digits_training", rows)
    return out
