"""Lab: what attention does in a Transformer (Q17).

Setup. The same date-normalisation task as the ``attention`` lab (long inputs: dates inside
filler words). A pre-norm :class:`deepdojo.nn.Transformer` built from deepdojo's
``MultiHeadAttention`` (self-attention replaces recurrence; cross-attention replaces the
Bahdanau context) against the GRU encoder-decoder with additive attention, each at its usual
learning rate, same epochs and data. We compare exact-match accuracy of greedy decoding and
training time, and draw every head's cross-attention map (which input characters each output
step reads).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import torch

from deepdojo.data.sequences import SequenceTask, date_normalization
from deepdojo.labs._core import LabContext, register_lab
from deepdojo.labs.attention import TGT_LEN, exact_match, train_seq2seq
from deepdojo.models import Seq2Seq
from deepdojo.nn import Transformer

MODELS = ("gru+attention", "transformer")


@dataclass
class TransformerLabConfig:
    d_model: int = 64  # Transformer width
    nhead: int = 4  # attention heads per layer
    num_layers: int = 2  # encoder layers = decoder layers
    dim_feedforward: int = 128  # feed-forward width
    transformer_lr: float = 3e-3  # Adam learning rate of the Transformer
    hidden_size: int = 48  # GRU state size of the recurrent baseline
    gru_lr: float = 1e-2  # Adam learning rate of the recurrent baseline
    batch_size: int = 64  # examples per step
    clip: float = 1.0  # gradient-norm clipping threshold
    min_length: int = 45  # input padded with filler words to at least this many characters


def _build(kind: str, task: SequenceTask, cfg: TransformerLabConfig) -> torch.nn.Module:
    V_src, V_tgt = len(task.src_vocab), len(task.tgt_vocab)
    if kind == "transformer":
        return Transformer(V_src, V_tgt, d_model=cfg.d_model, nhead=cfg.nhead,
                           num_encoder_layers=cfg.num_layers, num_decoder_layers=cfg.num_layers,
                           dim_feedforward=cfg.dim_feedforward, dropout=0.0, max_len=256)
    return Seq2Seq(V_src, V_tgt, embed_dim=24, hidden_size=cfg.hidden_size,
                   attention="additive")


@register_lab("transformer", questions=("Q17",), config=TransformerLabConfig)
def run(cfg: TransformerLabConfig, ctx: LabContext) -> None:
    """Transformer vs GRU encoder-decoder with attention: accuracy, time, per-head attention."""
    n_train = ctx.pick(smoke=64, quick=1500, full=4000)
    epochs = ctx.pick(smoke=1, quick=6, full=15)
    n_test = ctx.pick(smoke=32, quick=300, full=500)
    min_length = ctx.pick(smoke=10, quick=cfg.min_length, full=cfg.min_length)
    results: dict[str, list[dict[str, float]]] = {k: [] for k in MODELS}
    kept: dict[str, torch.nn.Module] = {}
    for seed in ctx.progress(ctx.seeds, "seeds"):
        train = date_normalization(n_train, seed=seed, min_length=min_length)
        test = date_normalization(n_test, seed=50_000 + seed, min_length=min_length)
        for kind in MODELS:
            torch.manual_seed(seed)
            model = _build(kind, train, cfg)
            lr = cfg.transformer_lr if kind == "transformer" else cfg.gru_lr
            seconds = train_seq2seq(model, train, epochs=epochs, batch_size=cfg.batch_size,
                                    lr=lr, clip=cfg.clip, seed=seed)
            exact, chars = exact_match(model, test)
            params = sum(p.numel() for p in model.parameters())
            results[kind].append({"exact": exact, "chars": chars, "train_s": seconds,
                                  "params": params})
            kept.setdefault(kind, model)
    ctx.table("comparison", [
        {"model": k, **{m: statistics.fmean(r[m] for r in rs)
                        for m in ("exact", "chars", "train_s", "params")}}
        for k, rs in results.items()])
    _plot_comparison(ctx, results)
    _plot_heads(ctx, kept["transformer"], date_normalization(1, seed=777, min_length=min_length))
    gaps = [t["exact"] - g["exact"]
            for t, g in zip(results["transformer"], results["gru+attention"], strict=True)]
    ctx.claim("transformer-matches-recurrent",
              "Built from attention alone (no recurrence), the Transformer is about as accurate "
              "as the GRU encoder-decoder with attention at the same epochs",
              rule="mean over seeds of (Transformer exact match - GRU+attention exact match) "
                   ">= -0.1", values=gaps, holds=statistics.fmean(gaps) >= -0.1)
    ratios = [t["train_s"] / g["train_s"]
              for t, g in zip(results["transformer"], results["gru+attention"], strict=True)]
    ctx.claim("transformer-trains-faster",
              "Without a step-by-step recurrence the Transformer trains faster than the GRU "
              "encoder-decoder on the same data and epochs",
              rule="mean over seeds of (Transformer training time / GRU+attention training "
                   "time) < 1", values=ratios, holds=statistics.fmean(ratios) < 1)


def _plot_comparison(ctx: LabContext, results: dict[str, list[dict[str, float]]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8, 3.4))
    for ax, metric, label in ((axes[0], "exact", "exact match (test)"),
                              (axes[1], "train_s", "training time (s)")):
        means = [statistics.fmean(r[metric] for r in results[k]) for k in MODELS]
        ax.bar(MODELS, means, color=["tab:blue", "tab:orange"])
        for i, k in enumerate(MODELS):
            ax.scatter([i] * len(results[k]), [r[metric] for r in results[k]], color="k", s=10)
        ax.set(ylabel=label, title=label)
    fig.tight_layout()
    ctx.figure("accuracy_and_time", fig, caption="Bars: mean over seeds; dots: seeds.")


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
