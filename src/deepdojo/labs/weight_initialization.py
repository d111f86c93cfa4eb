"""Lab ``weight-initialization`` (Q08, Q09): how the initial weight scale shapes signal and
training.

Setup. (1) Depth probe: a 30-layer MLP (``width`` units per layer, tanh or ReLU, then a
10-way readout) is initialized with each scheme; a batch of N(0, 1) inputs goes forward and a
cross-entropy loss on random labels goes backward, in float64. We record the standard
deviation of every layer's activations, the fraction of saturated tanh units (|a| > 0.99) and
the gradient norm ‖∂L/∂W_l‖ of every layer. (2) Training: a small ReLU MLP learns scikit-learn's
digits with SGD + momentum from each scheme, over ``ctx.seeds``; we record the loss curves, the
epochs needed to reach a fixed validation accuracy and, for zero init, how far the hidden units
of a layer drift apart.

Schemes (:func:`deepdojo.nn.init.initialize`): zeros; small random N(0, 0.01²); large random
N(0, 1); Xavier (Var = 2/(fan_in+fan_out), gain 1); Xavier with torch's tanh gain 5/3 (tanh
probe only); He (Var = 2/fan_in).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from deepdojo.data import DataSplits, load_digits
from deepdojo.labs import LabContext, register_lab
from deepdojo.nn.init import initialize
from deepdojo.train import Trainer


@dataclass
class InitLabConfig:
    depth: int = 30  # hidden layers of the probe MLPs (tanh and ReLU)
    width: int | None = None  # units per probe layer; None: by scale (smoke 32, else 256)
    probe_batch: int = 128  # N(0, 1) input rows pushed through each probe
    small_std: float = 0.01  # "small random" init N(0, small_std^2)
    large_std: float = 1.0  # "large random" init N(0, large_std^2)
    tanh_gain: float = 5 / 3  # Xavier gain variant for tanh (torch calculate_gain("tanh"))
    stable_factor: float = 2.0  # stable: every layer's act. std within [1/f, f] x layer 1's
    saturation_level: float = 0.99  # a tanh unit is saturated when |a| > this
    saturated_fraction: float = 0.5  # tanh "saturates": mean saturated fraction >= this
    explode_factor: float = 1e3  # ReLU "explodes": last/first act. std >= this (or non-finite)
    symmetry_tol: float = 1e-6  # zero init symmetric: relative unit spread below this
    train_depth: int = 4  # hidden layers of the digits MLP (ReLU)
    train_width: int = 64  # units per hidden layer of the digits MLP
    epochs: int | None = None  # digits epochs; None: by scale (smoke 2, quick 15, full 40)
    batch_size: int = 64  # digits mini-batch size
    lr: float = 0.05  # SGD learning rate
    momentum: float = 0.9  # SGD momentum
    target_acc: float = 0.9  # validation accuracy that counts as "reached"


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


def _scheme(key: str, cfg: InitLabConfig) -> tuple[str, str, dict[str, Any]]:
    """``(label, scheme, options)``: a plot label and the arguments of ``initialize``."""
    return {
        "zeros": ("zeros", "zeros", {}),
        "zeros_sigmoid": ("zeros (sigmoid net)", "zeros", {}),
        "normal_small": (f"N(0, {cfg.small_std:g}²)", "normal", {"std": cfg.small_std}),
        "normal_large": (f"N(0, {cfg.large_std:g}²)", "normal", {"std": cfg.large_std}),
        "xavier": ("Xavier (gain 1)", "xavier_normal", {}),
        "xavier_tanh_gain": (
            f"Xavier (gain {cfg.tanh_gain:.3g})", "xavier_normal", {"gain": cfg.tanh_gain}
        ),
        "he": ("He", "he_normal", {"nonlinearity": "relu"}),
    }[key]


def _labels(cfg: InitLabConfig) -> dict[str, str]:
    return {key: _scheme(key, cfg)[0] for key in (*PROBE_KEYS, *TRAIN_RUNS)}


def _mlp(in_features: int, width: int, depth: int, out: int, act: type[nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(in_features if i == 0 else width, width), act()]
    return nn.Sequential(*layers, nn.Linear(width, out))


# ---------------------------------------------------------------- (1) depth probe


def _probe(cfg: InitLabConfig, act: str, key: str, seed: int, width: int) -> dict[str, list]:
    """Per layer: activation std, saturated fraction, and gradient norm of the weight."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(cfg.probe_batch, width, generator=g, dtype=torch.float64)  # (B, W)
    labels = torch.randint(0, 10, (cfg.probe_batch,), generator=g)  # (B,)
    net = _mlp(width, width, cfg.depth, 10, ACTIVATIONS[act]).double()
    _, scheme, options = _scheme(key, cfg)
    initialize(net, scheme, generator=g, **options)
    stds, saturated, h = [], [], x
    for layer in net:
        h = layer(h)  # (B, W), (B, 10) after the readout
        if isinstance(layer, ACTIVATIONS[act]):
            stds.append(h.detach().std().item())
            saturated.append((h.detach().abs() > cfg.saturation_level).double().mean().item())
    nn.functional.cross_entropy(h, labels).backward()
    hidden = [m for m in net if isinstance(m, nn.Linear)][:-1]
    grads = [m.weight.grad.norm().item() for m in hidden]
    return {"std": stds, "saturated": saturated, "grad": grads}


def _log2_worst_ratio(stds: list[float]) -> float:
    """max over layers of |log2(std_l / std_1)|; inf when a std is 0 or non-finite."""
    if not all(math.isfinite(s) and s > 0 for s in stds):
        return math.inf
    return max(abs(math.log2(s / stds[0])) for s in stds)


def _run_probes(cfg: InitLabConfig, ctx: LabContext, width: int) -> dict[tuple, list[dict]]:
    runs = [
        (act, key)
        for act in PROBE_ACTIVATIONS
        for key in PROBE_KEYS
        if act == "tanh" or key != "xavier_tanh_gain"
    ]
    out: dict[tuple, list[dict]] = {}
    for act, key in ctx.progress(runs, "depth probes"):
        out[act, key] = [_probe(cfg, act, key, seed, width) for seed in ctx.seeds]
    return out


def _probe_table(probes: dict[tuple, list[dict]], ctx: LabContext, labels: dict) -> None:
    rows = []
    for (act, key), per_seed in probes.items():
        first = per_seed[0]
        rows.append({
            "net": act, "scheme": labels[key],
            "std_layer1": first["std"][0], "std_last": first["std"][-1],
            "worst_log2_ratio": max(_log2_worst_ratio(p["std"]) for p in per_seed),
            "saturated_mean": sum(first["saturated"]) / len(first["saturated"]),
            "grad_layer1": first["grad"][0], "grad_last": first["grad"][-1],
        })  # fmt: skip
        ctx.metric(f"probe.{act}.{key}.std_last_over_first", first["std"][-1] / first["std"][0])
    ctx.table("depth_probe_seed0", rows)


# ---------------------------------------------------------------- (2) training on digits


def _unit_spread(layer: nn.Linear) -> float:
    """Max distance of any unit's incoming weights (and bias) from unit 0's, relative to the
    largest weight of the layer (0 while every weight is still 0)."""
    rows = torch.cat([layer.weight, layer.bias[:, None]], dim=1).detach().double()  # (out, in+1)
    return ((rows - rows[:1]).abs().max() / rows.abs().max().clamp_min(1e-30)).item()


def _train(
    cfg: InitLabConfig, ctx: LabContext, data: DataSplits, key: str, seed: int, epochs: int
) -> dict[str, Any]:
    """Train the digits MLP of run ``key`` from its init; curves, speed and unit spread."""
    model = _mlp(64, cfg.train_width, cfg.train_depth, 10, ACTIVATIONS[TRAIN_RUNS[key]])
    _, scheme, options = _scheme(key, cfg)
    initialize(model, scheme, generator=torch.Generator().manual_seed(seed), **options)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    # guard=False: a diverging init (N(0, 1)) is a result to record, not a run to rescue
    trainer = Trainer(model, nn.CrossEntropyLoss(), opt, device=ctx.device, seed=seed,
                      progress="off", guard=False)  # fmt: skip
    history = trainer.fit(data.train, data.val, epochs=epochs, batch_size=cfg.batch_size)
    val_acc = history["val_acc"]
    hit = [i + 1 for i, a in enumerate(val_acc) if a >= cfg.target_acc]
    test_acc = trainer.evaluate(data.test)["acc"]
    hidden = [m for m in model.cpu() if isinstance(m, nn.Linear)][:-1]
    return {
        "train_loss": history["train_loss"],
        "val_acc": val_acc,
        "epochs_to_target": hit[0] if hit else epochs + 1,  # not reached: censored at E+1
        "test_acc": test_acc,
        "unit_spread": max(_unit_spread(m) for m in hidden),
        "max_abs_hidden_weight": max(m.weight.detach().abs().max().item() for m in hidden),
        "first_weight": hidden[0].weight.detach().clone(),  # (W, 64)
    }


def _run_training(cfg: InitLabConfig, ctx: LabContext, epochs: int) -> dict[str, list[dict]]:
    data = load_digits(flat=True, seed=ctx.seed)
    runs = [(key, seed) for key in TRAIN_RUNS for seed in ctx.seeds]
    out: dict[str, list[dict]] = {key: [] for key in TRAIN_RUNS}
    for key, seed in ctx.progress(runs, "digits training"):
        out[key].append(_train(cfg, ctx, data, key, seed, epochs))
    rows, labels = [], _labels(cfg)
    for key, per_seed in out.items():
        for seed, r in zip(ctx.seeds, per_seed, strict=True):
            rows.append({
                "scheme": labels[key], "seed": seed, "epochs_to_target": r["epochs_to_target"],
                "final_val_acc": r["val_acc"][-1], "test_acc": r["test_acc"],
                "unit_spread": r["unit_spread"],
                "max_abs_hidden_weight": r["max_abs_hidden_weight"],
            })  # fmt: skip
        n = len(per_seed)
        ctx.metric(f"test_acc.{key}", sum(r["test_acc"] for r in per_seed) / n)
        ctx.metric(f"epochs_to_target.{key}", sum(r["epochs_to_target"] for r in per_seed) / n)
    ctx.table("digits_training", rows)
    return out


# ---------------------------------------------------------------- figures


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _by_depth_figure(
    probes: dict, labels: dict, field: str, ylabel: str, title: str, nets=PROBE_ACTIVATIONS
) -> Any:
    """One panel per net: ``field`` of seed 0 by layer, one line per scheme (log scale except
    for the saturated fraction; zeros and non-finite values are left out of log plots)."""
    plt = _plt()
    log = field != "saturated"
    fig, axes = plt.subplots(1, len(nets), figsize=(5.5 * len(nets), 4), squeeze=False)
    for ax, act in zip(axes[0], nets, strict=True):
        for (a, key), per_seed in probes.items():
            if a == act:
                values = [v if math.isfinite(v) and (v > 0 or not log) else math.nan
                          for v in per_seed[0][field]]  # fmt: skip
                ax.plot(range(1, len(values) + 1), values, marker=".", label=labels[key])
        if log:
            ax.set_yscale("log")
        ax.set(xlabel="layer", ylabel=ylabel, title=f"{act} MLP: {title}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return fig


def _curves_figure(training: dict[str, list[dict]], labels: dict, target: float) -> Any:
    plt = _plt()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    for i, (key, per_seed) in enumerate(training.items()):
        epochs = range(1, len(per_seed[0]["train_loss"]) + 1)
        diverged = not all(math.isfinite(v) for r in per_seed for v in r["train_loss"])
        label = labels[key] + (" (diverged: NaN)" if diverged else "")
        for field, ax in (("train_loss", ax_loss), ("val_acc", ax_acc)):
            runs = torch.tensor([r[field] for r in per_seed], dtype=torch.float64)  # (S, E)
            (line,) = ax.plot(epochs, runs.mean(0), ls=("-", "--", ":")[i % 3], label=label)
            ax.fill_between(epochs, runs.min(0).values, runs.max(0).values,
                            color=line.get_color(), alpha=0.2)  # fmt: skip
    ax_loss.set(xlabel="epoch", ylabel="training loss", yscale="log",
                title="digits: training loss (mean, min-max over seeds)")  # fmt: skip
    ax_acc.axhline(target, color="k", ls="--", lw=1, label=f"target {target:.0%}")
    ax_acc.set(xlabel="epoch", ylabel="validation accuracy", title="digits: validation accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return fig


def _symmetry_figure(training: dict[str, list[dict]], labels: dict) -> Any:
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    for ax, key in zip(axes, ("zeros_sigmoid", "he"), strict=True):
        weight = training[key][0]["first_weight"].numpy()  # (units, pixels)
        image = ax.imshow(weight, aspect="auto", cmap="RdBu")
        ax.set(xlabel="input pixel", ylabel="hidden unit",
               title=f"first-layer weights after training: {labels[key]}")  # fmt: skip
        fig.colorbar(image, ax=ax, format="%.1e")
    return fig


# ---------------------------------------------------------------- claims


def _stability_claims(cfg: InitLabConfig, ctx: LabContext, probes: dict[tuple, list[dict]]):
    limit = math.log2(cfg.stable_factor)
    band = f"[{1 / cfg.stable_factor:g}x, {cfg.stable_factor:g}x]"
    for claim_id, act, key, who in (
        ("he-relu-stable", "relu", "he", "He init keeps a ReLU MLP's"),
        ("xavier-tanh-stable", "tanh", "xavier", "Xavier init (gain 1) keeps a tanh MLP's"),
        ("xavier-gain-tanh-stable", "tanh", "xavier_tanh_gain",
         f"Xavier init with torch's tanh gain {cfg.tanh_gain:.3g} keeps a tanh MLP's"),
    ):  # fmt: skip
        values = [_log2_worst_ratio(p["std"]) for p in probes[act, key]]
        ctx.claim(
            claim_id,
            f"{who} activation std within {band} of the first layer's across all "
            f"{cfg.depth} layers",
            rule=f"max over layers of |log2(std_l / std_1)| <= {limit:g} for every seed",
            values=values,
            holds=all(v <= limit for v in values),
            seed_rule=lambda v: v <= limit,
        )


def _large_init_claims(cfg: InitLabConfig, ctx: LabContext, probes: dict[tuple, list[dict]]):
    saturation = [sum(p["saturated"]) / len(p["saturated"]) for p in probes["tanh", "normal_large"]]
    ctx.claim(
        "normal-1-saturates-tanh",
        f"N(0, {cfg.large_std:g}²) init saturates a deep tanh MLP",
        rule=f"mean over layers of the fraction of units with |a| > {cfg.saturation_level:g} "
        f">= {cfg.saturated_fraction:g} for every seed",
        values=saturation,
        holds=all(v >= cfg.saturated_fraction for v in saturation),
        seed_rule=lambda v: v >= cfg.saturated_fraction,
    )
    growth = []
    for p in probes["relu", "normal_large"]:
        ratio = p["std"][-1] / p["std"][0] if p["std"][0] > 0 else math.inf
        growth.append(math.log10(ratio) if math.isfinite(ratio) and ratio > 0 else math.inf)
    limit = math.log10(cfg.explode_factor)
    ctx.claim(
        "normal-1-explodes-relu",
        f"N(0, {cfg.large_std:g}²) init makes a deep ReLU MLP's activations explode",
        rule=f"log10(std_last / std_1) >= {limit:g} (or non-finite) for every seed",
        values=growth,
        holds=all(v >= limit for v in growth),
        seed_rule=lambda v: v >= limit,
    )


def _training_claims(cfg: InitLabConfig, ctx: LabContext, training: dict[str, list[dict]]):
    spreads = [
        max(relu["unit_spread"], sigmoid["unit_spread"])
        for relu, sigmoid in zip(training["zeros"], training["zeros_sigmoid"], strict=True)
    ]
    ctx.claim(
        "zero-init-symmetry",
        "With zero init every hidden unit of a layer stays identical after training "
        "(symmetry never breaks), in a ReLU and in a sigmoid MLP",
        rule="max over both nets and their hidden layers of the spread between units' incoming "
        f"weights (relative to the largest weight) < {cfg.symmetry_tol:g} for every seed",
        values=spreads,
        holds=all(s < cfg.symmetry_tol for s in spreads),
        seed_rule=lambda s: s < cfg.symmetry_tol,
    )
    gains = [
        small["epochs_to_target"] - min(xavier["epochs_to_target"], he["epochs_to_target"])
        for small, xavier, he in zip(
            training["normal_small"], training["xavier"], training["he"], strict=True
        )
    ]
    ctx.claim(
        "he-xavier-faster-than-small",
        f"He or Xavier init reaches {cfg.target_acc:.0%} validation accuracy on digits in "
        f"fewer epochs than small random N(0, {cfg.small_std:g}²)",
        rule="epochs(N(0, small)) - min(epochs(He), epochs(Xavier)) > 0 for every seed; "
        "a run that never reaches the target counts as epochs + 1",
        values=gains,
        holds=all(g > 0 for g in gains),
        seed_rule=lambda g: g > 0,
    )


# ---------------------------------------------------------------- the lab


@register_lab("weight-initialization", questions=("Q08", "Q09"), config=InitLabConfig)
def run(cfg: InitLabConfig, ctx: LabContext) -> None:
    """Init schemes: activation scale and gradients through 30 layers, and training speed."""
    width = cfg.width or ctx.pick(smoke=32, quick=256, full=256)
    epochs = cfg.epochs or ctx.pick(smoke=2, quick=15, full=40)
    ctx.log(f"depth probe: {cfg.depth} layers x {width} units; digits: {epochs} epochs")

    probes = _run_probes(cfg, ctx, width)
    labels = _labels(cfg)
    _probe_table(probes, ctx, labels)
    ctx.figure(
        "activation_std_by_depth",
        _by_depth_figure(probes, labels, "std", "activation std (log)", "activation std by depth"),
        caption="Std of each layer's activations (seed 0). Zero init is not drawn: every "
        "activation is exactly 0.",
    )
    ctx.figure(
        "gradient_norm_by_depth",
        _by_depth_figure(probes, labels, "grad", "‖∂L/∂W_l‖ (log)", "gradient norm by depth"),
        caption="Frobenius norm of each layer's weight gradient for a cross-entropy loss on "
        "random labels (seed 0).",
    )
    ctx.figure(
        "tanh_saturation_by_depth",
        _by_depth_figure(probes, labels, "saturated", f"fraction |a| > {cfg.saturation_level:g}",
                         "saturated units", nets=("tanh",)),  # fmt: skip
        caption=f"Fraction of tanh units with |a| > {cfg.saturation_level:g} per layer (seed 0); "
        "a saturated unit passes almost no gradient (tanh' = 1 - a² < 0.02).",
    )
    _stability_claims(cfg, ctx, probes)
    _large_init_claims(cfg, ctx, probes)

    training = _run_training(cfg, ctx, epochs)
    ctx.figure(
        "loss_curves",
        _curves_figure(training, labels, cfg.target_acc),
        caption=f"ReLU MLP ({cfg.train_depth}x{cfg.train_width}) on digits, SGD lr={cfg.lr:g} "
        f"momentum={cfg.momentum:g}; mean and min-max over seeds {ctx.seeds}.",
    )
    ctx.figure(
        "zero_init_symmetry",
        _symmetry_figure(training, labels),
        caption="Zero init (sigmoid net, seed 0): the weights moved away from 0, yet every row "
        "(hidden unit) is the same, so the layer acts as one unit. He (ReLU net): units differ.",
    )
    _training_claims(cfg, ctx, training)
