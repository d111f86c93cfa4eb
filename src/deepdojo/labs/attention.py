"""Lab: the core elements of an attention mechanism (Q18).

Setup. Date normalisation: human-written dates inside filler words (``"note that 3 May 2021
please"``) -> ISO 8601 (``"2021-05-03"``), character level; ``min_length`` pads the input with
filler so the date moves around in longer inputs. Three GRU encoder-decoders
(:class:`deepdojo.models.Seq2Seq`) with the same sizes, optimiser and budget differ only in
their context vector: the encoder's final state (no attention), additive (Bahdanau) attention
or multiplicative (Luong "general") attention. We measure exact-match accuracy of greedy
decoding on held-out dates as the input grows and draw the attention matrix.

The elements of attention, each a tensor in ``model.trace``: encoder outputs (keys/values),
decoder state (query), scores, attention matrix (softmax of the scores), context vector.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch
from torch import nn

from deepdojo.data.sequences import SequenceTask, date_normalization
from deepdojo.labs._core import LabContext, register_lab
from deepdojo.labs._seq_train import sweep_lengths
from deepdojo.models import Seq2Seq

VARIANTS = ("none", "additive", "multiplicative")
TGT_LEN = 11  # "YYYY-MM-DD" + EOS


@dataclass
class AttentionLabConfig:
    embed_dim: int = 24  # token embedding size
    hidden_size: int = 48  # encoder and decoder GRU state size
    lr: float = 1e-2  # Adam learning rate
    batch_size: int = 64  # examples per step
    clip: float = 1.0  # gradient-norm clipping threshold
    num_test: int = 300  # held-out dates per length


def train_seq2seq(model: nn.Module, task: SequenceTask, *, epochs: int, batch_size: int,
                  lr: float, clip: float, seed: int) -> float:
    """Teacher-forced training with cross-entropy on non-pad targets; returns seconds."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    model.train()
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(task), generator=g)
        for i in range(0, len(task), batch_size):
            idx = order[i : i + batch_size]
            src = task.src[idx, : int(task.src_lengths[idx].max())]  # (B, Ts) trimmed
            tgt = task.tgt[idx]  # (B, Tt)
            logits = model(src, tgt[:, :-1])  # forward: (B, Tt-1, V)
            loss = nn.functional.cross_entropy(logits.flatten(0, 1), tgt[:, 1:].flatten(),
                                               ignore_index=task.tgt_vocab.pad_idx)
            opt.zero_grad()
            loss.backward()  # backward
            nn.utils.clip_grad_norm_(model.parameters(), clip)  # clip
            opt.step()  # step
    model.eval()
    return time.perf_counter() - start


@torch.no_grad()
def exact_match(model: nn.Module, task: SequenceTask) -> tuple[float, float]:
    """Greedy decoding: fraction of exactly right outputs and of right characters."""
    v = task.tgt_vocab
    out = model.greedy_decode(task.src, TGT_LEN, v.bos_idx, v.eos_idx)
    preds = [v.decode(row.tolist()) for row in out]
    exact = statistics.fmean(p == t for p, (_, t) in zip(preds, task.pairs, strict=True))
    chars = statistics.fmean(
        sum(a == b for a, b in zip(p.ljust(10), t, strict=False)) / len(t)
        for p, (_, t) in zip(preds, task.pairs, strict=True))
    return exact, chars


def _run_variant(kind: str, train: SequenceTask, test: SequenceTask, seed: int, epochs: int,
                 cfg: AttentionLabConfig) -> tuple[Seq2Seq, dict[str, float]]:
    torch.manual_seed(seed)
    model = Seq2Seq(len(train.src_vocab), len(train.tgt_vocab), embed_dim=cfg.embed_dim,
                    hidden_size=cfg.hidden_size, attention=kind)
    seconds = train_seq2seq(model, train, epochs=epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                            clip=cfg.clip, seed=seed)
    exact, chars = exact_match(model, test)
    return model, {"exact": exact, "chars": chars, "train_s": seconds}


@register_lab("attention", questions=("Q18",), config=AttentionLabConfig)
def run(cfg: AttentionLabConfig, ctx: LabContext) -> None:
    """Seq2seq without attention vs additive vs multiplicative attention on date normalisation."""
    lengths = ctx.pick(smoke=(0, 20), quick=(0, 45), full=(0, 30, 60, 90))
    n_train = ctx.pick(smoke=64, quick=1200, full=4000)
    epochs = ctx.pick(smoke=1, quick=6, full=15)
    n_test = ctx.pick(smoke=32, quick=cfg.num_test, full=cfg.num_test)
    sweep = sweep_lengths(
        ctx, lengths, VARIANTS,
        lambda kind, train, test, seed: _run_variant(kind, train, test, seed, epochs, cfg),
        n_train=n_train, n_test=n_test,
    )  # fmt: skip
    results, mean_len, kept = sweep.results, sweep.mean_chars, sweep.kept
    ctx.table("exact_match", [
        {"attention": k, "min_length": L, "mean_input_chars": round(mean_len[L], 1),
         **{m: statistics.fmean(r[m] for r in rs) for m in ("exact", "chars", "train_s")}}
        for (k, L), rs in results.items()])
    _plot_accuracy(ctx, results, lengths, mean_len)
    example = date_normalization(1, seed=777, min_length=lengths[-1])
    _plot_alignment(ctx, kept, example)
    _record_elements(ctx, kept["additive"], example)
    L = lengths[-1]
    none = [r["exact"] for r in results[("none", L)]]
    gaps = {k: [r["exact"] - n for r, n in zip(results[(k, L)], none, strict=True)]
            for k in VARIANTS[1:]}
    values = [min(pair) for pair in zip(*gaps.values(), strict=True)]  # both must beat none
    ctx.claim(
        "attention-beats-none-long",
        f"On long inputs (min_length={L}, ~{mean_len[L]:.0f} chars) both attention variants "
        "beat the same encoder-decoder without attention in exact match",
        rule="for additive and for multiplicative: mean over seeds of (exact match - exact "
             "match without attention) > 0.1; values = per-seed smaller of the two gaps",
        values=values, holds=all(statistics.fmean(g) > 0.1 for g in gaps.values()),
        seed_rule=lambda v: v > 0.1)


def _record_elements(ctx: LabContext, model: Seq2Seq, example: SequenceTask) -> None:
    v = example.tgt_vocab
    model.greedy_decode(example.src, TGT_LEN, v.bos_idx, v.eos_idx)
    tr = model.trace
    meaning = {"encoder_outputs": "keys and values h_j", "encoder_state": "s_0 = h_T",
               "decoder_states": "queries s_t", "scores": "e_tj = score(s_{t-1}, h_j)",
               "attention": "alpha = softmax_j(e)", "context": "c_t = sum_j alpha_tj h_j"}
    ctx.table("attention_elements", [
        {"element": name, "shape": str(tuple(getattr(tr, name).shape)), "meaning": text}
        for name, text in meaning.items()])


def _plot_accuracy(ctx: LabContext, results: dict, lengths: tuple[int, ...],
                   mean_len: dict[int, float]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    xs = [mean_len[L] for L in lengths]
    for kind in VARIANTS:
        ys = [statistics.fmean(r["exact"] for r in results[(kind, L)]) for L in lengths]
        (line,) = ax.plot(xs, ys, marker="o", label=f"{kind}")
        last = [r["exact"] for r in results[(kind, lengths[-1])]]
        ax.scatter([xs[-1]] * len(last), last, s=12, alpha=0.5, color=line.get_color())
    ax.set(xlabel="mean input length (characters)", ylabel="exact match (test)",
           title="Date normalisation: attention vs none", ylim=(-0.02, 1.02))
    ax.legend(title="attention")
    ctx.figure("exact_match_vs_length", fig,
               caption="Exact match vs input length; dots are the seeds at the longest length.")


def _plot_alignment(ctx: LabContext, models: dict[str, Seq2Seq], example: SequenceTask) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    src_text, _ = example.pairs[0]
    v = example.tgt_vocab
    fig, axes = plt.subplots(2, 1, figsize=(max(6, len(src_text) * 0.22), 6))
    for ax, kind in zip(axes, ("additive", "multiplicative"), strict=True):
        model = models[kind]
        out = model.greedy_decode(example.src, TGT_LEN, v.bos_idx, v.eos_idx)[0].tolist()
        att = model.trace.attention[0].numpy()  # (Tt, Ts)
        ax.imshow(att, aspect="auto", cmap="Greys", interpolation="nearest")
        ax.set_xticks(range(len(src_text)), list(src_text), fontsize=7)
        ax.set_yticks(range(len(out)), [v.itos[i] for i in out], fontsize=7)
        ax.set(title=f"{kind} attention: output {v.decode(out)!r}", xlabel="input character",
               ylabel="output")
    fig.tight_layout()
    ctx.figure("alignment_heatmaps", fig,
               caption=f"Attention matrix (rows: output steps) for {src_text!r}.")
