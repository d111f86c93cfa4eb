"""Lab: what a GRU is and what its gates do (Q19, Q20).

Setup. Delayed recall: step 0 shows one of ``num_symbols`` symbols, then ``T - 2`` blank steps,
then a query; the model must output the first symbol (chance = 1 / num_symbols). This needs
memory across the whole sequence. We train a vanilla RNN, an LSTM and deepdojo's GRU (same
hidden size, optimiser and budget) for growing T, and measure

- test accuracy,
- the gradient norm reaching the first step, ``||dL/dx_0||`` (averaged over the test set),
- the GRU's gates ``z``, ``r``, ``h_tilde`` and state ``h`` over time (explicit path,
  ``record_gates=True``, same weights as the fused path used for training).

Gate biases start at ``gate_bias`` (update gate z for the GRU, forget gate for the LSTM), the
usual "remember by default" initialisation (Jozefowicz et al., 2015); the vanilla RNN has no gate.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

import torch
from torch import nn

from deepdojo.data.sequences import delayed_recall
from deepdojo.labs._core import LabContext, register_lab
from deepdojo.labs._seq_gru_units import memory_unit_gap, plot_memory_units
from deepdojo.nn import GRU

MODELS = ("rnn", "lstm", "gru")


@dataclass
class GRULabConfig:
    hidden_size: int = 32  # state size H of every recurrent model
    num_symbols: int = 4  # symbols to recall (chance accuracy = 1 / num_symbols)
    lr: float = 1e-2  # Adam learning rate
    batch_size: int = 64  # examples per training step
    clip: float = 1.0  # gradient-norm clipping threshold
    gate_bias: float = 2.0  # initial bias of the GRU update gate / LSTM forget gate


class _Recall(nn.Module):
    """A recurrent layer and a linear readout of its last state."""

    def __init__(self, kind: str, cfg: GRULabConfig) -> None:
        super().__init__()
        K, H = cfg.num_symbols, cfg.hidden_size
        if kind == "gru":
            self.rnn = GRU(K + 1, H, impl="fused")
        else:
            self.rnn = {"rnn": nn.RNN, "lstm": nn.LSTM}[kind](K + 1, H, batch_first=True)
        if kind != "rnn":  # gate order: GRU [r | z | n], LSTM [i | f | g | o]
            with torch.no_grad():
                self.rnn.bias_hh_l0[H : 2 * H] += cfg.gate_bias
        self.head = nn.Linear(H, K)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)  # (B, T, H)
        return self.head(out[:, -1])  # (B, K)


def _first_step_grad(model: _Recall, X: torch.Tensor, y: torch.Tensor) -> float:
    """Mean over examples of ||dL/dx_0||: how much gradient reaches the first step."""
    x = X.clone().requires_grad_(True)
    loss = nn.functional.cross_entropy(model(x), y, reduction="sum")
    (grad,) = torch.autograd.grad(loss, x)
    return grad[:, 0].norm(dim=-1).mean().item()


def _train(kind: str, T: int, seed: int, steps: int, n_train: int, cfg: GRULabConfig
           ) -> tuple[_Recall, dict[str, float]]:
    torch.manual_seed(seed)
    X, y = delayed_recall(n_train, T, num_symbols=cfg.num_symbols, seed=seed)
    Xt, yt = delayed_recall(500, T, num_symbols=cfg.num_symbols, seed=10_000 + seed)
    X[:, 1:-1], Xt[:, 1:-1] = 0.0, 0.0  # blank delay: nothing but the memory carries the symbol
    model = _Recall(kind, cfg)
    grad_init = _first_step_grad(model, Xt, yt)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, n_train, (cfg.batch_size,), generator=g)
        loss = nn.functional.cross_entropy(model(X[idx]), y[idx])  # forward, loss
        opt.zero_grad()
        loss.backward()  # backward
        nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)  # clip
        opt.step()  # step
    with torch.no_grad():
        acc = (model(Xt).argmax(-1) == yt).float().mean().item()
    grad_trained = _first_step_grad(model, Xt, yt)
    return model, {"acc": acc, "grad_init": grad_init, "grad_trained": grad_trained}


def _gates(model: _Recall, T: int, cfg: GRULabConfig, n: int = 64, seed: int = 99
           ) -> dict[str, torch.Tensor]:
    """Run the explicit GRU (same weights) with record_gates on ``n`` test examples.

    Returns z, r, h_tilde, h (each (n, T, H)) and ``"y"`` (n,) the symbols to recall.
    """
    fused = model.rnn
    explicit = GRU(fused.input_size, fused.hidden_size, impl="explicit", record_gates=True)
    explicit.load_state_dict(fused.state_dict())
    X, y = delayed_recall(n, T, num_symbols=cfg.num_symbols, seed=seed)
    X[:, 1:-1] = 0.0
    with torch.no_grad():
        explicit(X)
    return {**{k: v[0] for k, v in explicit.gates.items()}, "y": y}  # each (n, T, H)


@register_lab("gru", questions=("Q19", "Q20"), config=GRULabConfig)
def run(cfg: GRULabConfig, ctx: LabContext) -> None:
    """GRU gates over time and GRU vs vanilla RNN vs LSTM on delayed recall as length grows."""
    lengths = ctx.pick(smoke=(6,), quick=(10, 40, 80), full=(10, 40, 80, 150, 250))
    steps = ctx.pick(smoke=5, quick=200, full=600)
    n_train = ctx.pick(smoke=64, quick=2000, full=4000)
    results: dict[tuple[str, int], list[dict[str, float]]] = {}
    gate_models: dict[int, tuple[_Recall, _Recall]] = {}
    for T in ctx.progress(lengths, "lengths"):
        for seed in ctx.seeds:
            for kind in MODELS:
                model, r = _train(kind, T, seed, steps, n_train, cfg)
                results.setdefault((kind, T), []).append(r)
                if kind == "gru" and lengths[-1] == T:
                    torch.manual_seed(seed)
                    gate_models[seed] = (_Recall("gru", cfg), model)  # (init, trained)
    rows = [{"model": k, "T": T, **{m: statistics.fmean(r[m] for r in rs)
                                    for m in ("acc", "grad_init", "grad_trained")}}
            for (k, T), rs in results.items()]
    ctx.table("accuracy_and_gradients", rows)
    _plot_comparison(ctx, results, lengths)
    _gate_claims(ctx, gate_models, lengths[-1], cfg)
    T = lengths[-1]
    gru_acc = [r["acc"] for r in results[("gru", T)]]
    rnn_acc = [r["acc"] for r in results[("rnn", T)]]
    diffs = [a - b for a, b in zip(gru_acc, rnn_acc, strict=True)]
    ctx.claim("gru-beats-rnn-long",
              f"On delayed recall with T={T}, the GRU's test accuracy exceeds the vanilla RNN's",
              rule="mean over seeds of (GRU acc - RNN acc) at the longest T > 0.1",
              values=diffs, holds=statistics.fmean(diffs) > 0.1, seed_rule=lambda d: d > 0.1)
    ratios = [math.log10(g["grad_trained"] / max(r["grad_trained"], 1e-30))
              for g, r in zip(results[("gru", T)], results[("rnn", T)], strict=True)]
    ctx.claim("gru-gradient-reaches-first-step",
              f"After training at T={T}, more gradient reaches the first step through the GRU "
              "than through the vanilla RNN",
              rule="mean over seeds of log10(||dL/dx_0|| GRU / RNN) > 0",
              values=ratios, holds=statistics.fmean(ratios) > 0, seed_rule=lambda v: v > 0)


def _gate_claims(ctx: LabContext, models: dict[int, tuple[_Recall, _Recall]], T: int,
                 cfg: GRULabConfig) -> None:
    held = []
    for seed, (init, trained) in models.items():
        g0, g1 = _gates(init, T, cfg), _gates(trained, T, cfg)
        delay = slice(1, T - 1)  # the steps where nothing new arrives
        held.append(g1["z"][:, delay].mean().item() - g0["z"][:, delay].mean().item())
        unit_z = g1["z"][:, delay].mean(dim=(0, 1))  # (H,) mean z per unit during the delay
        ctx.metric(f"units_with_z_above_0.9.seed{seed}", (unit_z > 0.9).float().mean())
        ctx.metric(f"units_with_z_below_0.1.seed{seed}", (unit_z < 0.1).float().mean())
        if seed == ctx.seeds[0]:
            _plot_gates(ctx, g0, g1, T)
    ctx.claim("update-gate-holds-memory",
              "Training pushes the GRU's update gate z towards 1 during the delay (hold the "
              "state: h_t ~ h_{t-1}) beyond its initial value",
              rule="mean over seeds of [mean z over delay steps, trained - initial] > 0",
              values=held, holds=statistics.fmean(held) > 0, seed_rule=lambda v: v > 0)
    _memory_unit_claim(ctx, {seed: trained for seed, (_, trained) in models.items()}, T, cfg)


def _memory_unit_claim(ctx: LabContext, models: dict[int, _Recall], T: int,
                       cfg: GRULabConfig) -> None:
    """The units that carry the symbol (top H/8 by spread across symbols) keep z higher."""
    units, z0 = {}, None
    for seed, model in models.items():
        g = _gates(model, T, cfg, n=256, seed=98)
        units[seed] = memory_unit_gap(g, g["y"], T)
        ctx.metric(f"memory_units_mean_z.seed{seed}", units[seed]["z_memory"])
        z0 = g["z"] if z0 is None else z0
    gaps = [u["gap"] for u in units.values()]
    k = int(units[ctx.seeds[0]]["memory"].sum())
    ctx.claim("memory-units-keep-z-high",
              f"The {k} units whose state at the end of the delay carries the symbol (top "
              f"H/8 by the between-symbol std of h_(T-2)) keep their "
              f"update gate z higher during the delay than the other units (T={T})",
              rule="mean over seeds of [mean z over delay steps of the memory units - that of "
                   "the other units] > 0.05",
              values=gaps, holds=statistics.fmean(gaps) > 0.05, seed_rule=lambda v: v > 0)
    plot_memory_units(ctx, units, z0, T)


def _plot_comparison(ctx: LabContext, results: dict, lengths: tuple[int, ...]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    for kind, color in zip(MODELS, ("tab:blue", "tab:orange", "tab:green"), strict=True):
        acc = [statistics.fmean(r["acc"] for r in results[(kind, T)]) for T in lengths]
        ax1.plot(lengths, acc, marker="o", color=color, label=kind.upper())
        for key, style in (("grad_trained", "-"), ("grad_init", ":")):
            g = [statistics.fmean(r[key] for r in results[(kind, T)]) for T in lengths]
            ax2.semilogy(lengths, [max(v, 1e-30) for v in g], style, marker="o", color=color,
                         label=f"{kind.upper()} ({'trained' if key == 'grad_trained' else 'init'})")
    ax1.axhline(1 / 4, color="grey", lw=0.8, ls="--", label="chance")
    ax1.set(xlabel="sequence length T", ylabel="test accuracy", title="Delayed recall accuracy")
    ax2.set(xlabel="sequence length T", ylabel="||dL/dx_0|| (mean)",
            title="Gradient reaching the first step")
    ax1.legend()
    ax2.legend(fontsize=7)
    ctx.figure("length_sweep", fig, caption="Accuracy and first-step gradient vs length "
               "(mean over seeds).")


def _plot_gates(ctx: LabContext, g0: dict, g1: dict, T: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 5, figsize=(21, 3.8), layout="constrained")
    for ax, key in zip(axes[:4], ("z", "r", "h_tilde", "h"), strict=True):
        gate = key in ("z", "r")  # gates live in [0, 1]; states in [-1, 1]: fixed scales
        im = ax.imshow(g1[key][0].T.numpy(), aspect="auto", cmap="viridis" if gate else "coolwarm",
                       vmin=0 if gate else -1, vmax=1, interpolation="nearest")
        ax.set(title=f"{key} (trained, one example)", xlabel="step t", ylabel="hidden unit")
        fig.colorbar(im, ax=ax)
    for g, label in ((g0, "init"), (g1, "trained")):
        axes[4].plot(range(T), g["z"].mean(dim=(0, 2)).numpy(), label=f"mean z ({label})")
    axes[4].axvspan(1, T - 2, color="grey", alpha=0.15, label="delay")
    axes[4].set(title="Update gate over time", xlabel="step t", ylabel="z", ylim=(0, 1.02))
    axes[4].legend(fontsize=7)
    ctx.figure("gates_over_time", fig, caption=f"GRU gates on delayed recall, T={T}.")
