"""Lab: what attention does in a Transformer (Q17).

Setup. The date-normalisation task of the ``attention`` lab (dates inside filler words), swept
over input length. A pre-norm :class:`deepdojo.nn.Transformer` built from deepdojo's
``MultiHeadAttention`` (self-attention replaces recurrence; cross-attention replaces the
Bahdanau context) against the GRU encoder-decoder with additive attention. The comparison is
fixed in advance to be fair:

- comparable size: the Transformer's width is chosen so both parameter counts are within
  ``max_param_ratio`` of each other (the lab refuses a config where they are not);
- the same budget: the same number of optimizer steps on the same batches, and the same
  schedule shape (linear warmup over the first ``warmup_frac`` of the steps, then constant),
  each model at its usual peak learning rate;
- time is CPU seconds of the training loop (robust to other jobs), wall time is reported too.

We compare exact-match accuracy of greedy decoding and training time at each input length,
and draw every head's cross-attention map (which input characters each output step reads).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import torch

from deepdojo.data.sequences import SequenceTask, date_normalization
from deepdojo.labs._core import LabContext, register_lab
from deepdojo.labs._seq_train import sweep_lengths, train_steps
from deepdojo.labs.attention import TGT_LEN, exact_match
from deepdojo.models import Seq2Seq
from deepdojo.nn import Transformer

MODELS = ("gru+attention", "transformer")


@dataclass
class TransformerLabConfig:
    d_model: int = 32  # Transformer width (sized to the GRU baseline's parameter count)
    nhead: int = 4  # attention heads per layer
    num_layers: int = 2  # encoder layers = decoder layers
    dim_feedforward: int = 64  # feed-forward width
    transformer_lr: float = 3e-3  # peak Adam learning rate of the Transformer
    embed_dim: int = 24  # token embedding size of the recurrent baseline
    hidden_size: int = 48  # GRU state size of the recurrent baseline
    gru_lr: float = 1e-2  # peak Adam learning rate of the recurrent baseline
    warmup_frac: float = 0.1  # fraction of the steps with linear warmup (both models)
    batch_size: int = 64  # examples per step
    clip: float = 1.0  # gradient-norm clipping threshold
    max_param_ratio: float = 1.5  # largest allowed ratio of the two parameter counts


def _build(kind: str, task: SequenceTask, cfg: TransformerLabConfig) -> torch.nn.Module:
    V_src, V_tgt = len(task.src_vocab), len(task.tgt_vocab)
    if kind == "transformer":
        return Transformer(V_src, V_tgt, d_model=cfg.d_model, nhead=cfg.nhead,
                           num_encoder_layers=cfg.num_layers, num_decoder_layers=cfg.num_layers,
                           dim_feedforward=cfg.dim_feedforward, dropout=0.0, max_len=256)
    return Seq2Seq(V_src, V_tgt, embed_dim=cfg.embed_dim, hidden_size=cfg.hidden_size,
                   attention="additive")


def _check_sizes(task: SequenceTask, cfg: TransformerLabConfig) -> dict[str, int]:
    params = {k: sum(p.numel() for p in _build(k, task, cfg).parameters()) for k in MODELS}
    ratio = max(params.values()) / min(params.values())
    if ratio > cfg.max_param_ratio:
        raise ValueError(f"parameter counts {params} differ by {ratio:.2f}x > max_param_ratio="
                         f"{cfg.max_param_ratio}; resize d_model/dim_feedforward or hidden_size")
    return params


def _run_one(kind: str, train: SequenceTask, test: SequenceTask, seed: int, steps: int,
             cfg: TransformerLabConfig) -> tuple[torch.nn.Module, dict[str, float]]:
    torch.manual_seed(seed)
    model = _build(kind, train, cfg)
    lr = cfg.transformer_lr if kind == "transformer" else cfg.gru_lr
    r = train_steps(model, train, steps=steps, batch_size=cfg.batch_size, lr=lr,
                    warmup=max(1, round(cfg.warmup_frac * steps)), clip=cfg.clip, seed=seed)
    exact, chars = exact_match(model, test)
    return model, {"exact": exact, "chars": chars, **r, "cpu_ms_per_step": 1e3 * r["cpu_s"] / steps}


@register_lab("transformer", questions=("Q17",), config=TransformerLabConfig)
def run(cfg: TransformerLabConfig, ctx: LabContext) -> None:
    """Transformer vs GRU encoder-decoder with attention as inputs grow: accuracy, time, heads."""
    lengths = ctx.pick(smoke=(0, 10), quick=(0, 30), full=(0, 30, 60, 90))
    steps = ctx.pick(smoke=3, quick=140, full=800)
    n_train = ctx.pick(smoke=64, quick=1500, full=4000)
    n_test = ctx.pick(smoke=32, quick=300, full=500)
    params = _check_sizes(date_normalization(2, seed=0), cfg)
    ctx.metric("params", params)
    sweep = sweep_lengths(
        ctx, lengths, MODELS,
        lambda kind, train, test, seed: _run_one(kind, train, test, seed, steps, cfg),
        n_train=n_train, n_test=n_test,
    )  # fmt: skip
    results, mean_len, kept = sweep.results, sweep.mean_chars, sweep.kept
    ctx.table("comparison", [
        {"model": k, "min_length": L, "mean_input_chars": round(mean_len[L], 1),
         "params": params[k], "steps": steps, "seeds": len(rs),
         **{m: statistics.fmean(r[m] for r in rs)
            for m in ("exact", "chars", "final_loss", "cpu_s", "wall_s", "cpu_ms_per_step")}}
        for (k, L), rs in results.items()])
    _plot_comparison(ctx, results, lengths, mean_len, params)
    L = lengths[-1]
    _plot_heads(ctx, kept["transformer"], date_normalization(1, seed=777, min_length=L))
    _claims(ctx, results, L, mean_len[L], params, steps)


def _claims(ctx: LabContext, results: dict, L: int, chars: float, params: dict[str, int],
            steps: int) -> None:
    tf, gru = results[("transformer", L)], results[("gru+attention", L)]
    gaps = [t["exact"] - g["exact"] for t, g in zip(tf, gru, strict=True)]
    base = statistics.fmean(g["exact"] for g in gru)
    setup = (f"at min_length={L} (~{chars:.0f} chars), with {params['transformer']:,} vs "
             f"{params['gru+attention']:,} parameters and the same {steps} optimizer steps")
    ctx.claim("transformer-matches-recurrent",
              "Built from attention alone (no recurrence), the Transformer is about as accurate "
              f"as the GRU encoder-decoder with attention {setup}",
              rule="mean over seeds of (Transformer exact match - GRU+attention exact match) "
                   ">= -0.1, and the GRU+attention mean exact match >= 0.5 (two models that "
                   "both fail the task do not 'match')", values=gaps,
              holds=statistics.fmean(gaps) >= -0.1 and base >= 0.5, seed_rule=lambda v: v >= -0.1)
    ratios = [t["cpu_s"] / g["cpu_s"] for t, g in zip(tf, gru, strict=True)]
    ctx.claim("transformer-trains-faster",
              "Without a step-by-step recurrence the Transformer trains faster than the GRU "
              f"encoder-decoder {setup}",
              rule="mean over seeds of (Transformer training CPU time / GRU+attention training "
                   "CPU time) < 1", values=ratios, holds=statistics.fmean(ratios) < 1,
              seed_rule=lambda v: v < 1)


def _plot_comparison(ctx: LabContext, results: dict, lengths: tuple[int, ...],
                     mean_len: dict[int, float], params: dict[str, int]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    xs = [mean_len[L] for L in lengths]
    for kind, color in zip(MODELS, ("tab:blue", "tab:orange"), strict=True):
        for ax, metric in ((axes[0], "exact"), (axes[1], "cpu_ms_per_step")):
            ys = [statistics.fmean(r[metric] for r in results[(kind, L)]) for L in lengths]
            ax.plot(xs, ys, marker="o", color=color, label=f"{kind} ({params[kind]:,} params)")
            last = [r[metric] for r in results[(kind, lengths[-1])]]
            ax.scatter([xs[-1]] * len(last), last, s=12, alpha=0.5, color=color)
    axes[0].set(xlabel="mean input length (characters)", ylabel="exact match (test)",
                title="Accuracy as inputs grow", ylim=(-0.02, 1.02))
    axes[1].set(xlabel="mean input length (characters)", ylabel="training CPU ms per step",
                title="Training cost per optimizer step")
    for ax in axes:
        ax.legend(fontsize=7)
    fig.tight_layout()
    ctx.figure("accuracy_and_time_vs_length", fig,
               caption="Same steps, batches and schedule for both; lines: mean over seeds, "
                       "dots: seeds at the longest length.")


@torch.no_grad()
def _plot_heads(ctx: LabContext, model: Transformer, example: SequenceTask) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    v = example.tgt_vocab
    out = model.greedy_decode(example.src, TGT_LEN, v.bos_idx, v.eos_idx)
    tgt_in = torch.cat([torch.full((1, 1), v.bos_idx), out], dim=1)[:, :-1]  # (1, Tt)
    model.record_attention = True
    model(example.src, tgt_in)
    model.record_attention = False
    last = len(model.decoder_layers) - 1
    maps = model.attention_maps()[f"decoder.{last}.cross"][0]  # (H, Tt, Ts)
    src_text = example.pairs[0][0]
    labels = [v.itos[i] for i in out[0].tolist()]
    fig, axes = plt.subplots(maps.shape[0], 1, figsize=(max(6, len(src_text) * 0.2),
                                                         2.2 * maps.shape[0]))
    for h, ax in enumerate(axes if maps.shape[0] > 1 else [axes]):
        ax.imshow(maps[h].numpy(), aspect="auto", cmap="Greys", interpolation="nearest")
        ax.set_xticks(range(len(src_text)), list(src_text), fontsize=6)
        ax.set_yticks(range(len(labels)), labels, fontsize=6)
        ax.set(title=f"decoder layer {last}, cross-attention head {h}", ylabel="output")
    axes[-1].set_xlabel("input character") if maps.shape[0] > 1 else None
    fig.tight_layout()
    ctx.figure("cross_attention_heads", fig,
               caption=f"Per-head cross-attention for {src_text!r} -> {v.decode(out[0])!r}.")
