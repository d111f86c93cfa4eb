r"""Seq2seq training and scoring shared by the sequence labs (attention, transformer).

Date normalisation (:func:`deepdojo.data.sequences.date_normalization`) maps a human-written
date inside filler words to ISO 8601, so every target is ``"YYYY-MM-DD"`` plus EOS
(:data:`TGT_LEN` tokens) and a prediction is scored by exact match under greedy decoding.

Step-budgeted training (:func:`train_steps`): both models of a comparison get the same
optimizer steps, the same batches (same sampling seed) and the same schedule shape: linear
warmup over the first ``warmup`` steps, then a constant peak rate (no decay, so a small budget
is not spent at tiny rates),

.. math::
    \eta_s = \eta_{max} \cdot \min\left(1, \frac{s + 1}{w}\right)

Time is measured as wall-clock seconds and as CPU seconds of this process
(``time.process_time``), which is far less sensitive to other jobs on a shared machine.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

import torch
from torch import nn

from deepdojo.data.sequences import SequenceTask, date_normalization

if TYPE_CHECKING:
    from deepdojo.labs.framework import LabContext

TGT_LEN = 11  # "YYYY-MM-DD" + EOS: the longest greedy decode of a date target
TEST_SEED_OFFSET = 50_000  # test sets use seed + this, far from every training seed

M = TypeVar("M")  # one seed's measurements of one model kind (a lab's dataclass)


def warmup_constant(step: int, *, warmup: int) -> float:
    """The learning-rate factor of optimizer step ``step`` (0-based): min(1, (step+1)/warmup)."""
    if warmup < 1:
        raise ValueError(f"warmup must be >= 1 step, got {warmup}")
    return min(1.0, (step + 1) / warmup)


@dataclass(frozen=True)
class TrainStats:
    """What :func:`train_steps` measured.

    Attributes
    ----------
    wall_s : wall-clock seconds of the training loop
    cpu_s : CPU seconds of this process during the loop (``time.process_time``)
    final_loss : mean training loss of the last 10 steps
    """

    wall_s: float
    cpu_s: float
    final_loss: float


def train_steps(model: nn.Module, task: SequenceTask, *, steps: int, batch_size: int,
                lr: float, warmup: int, clip: float, seed: int) -> TrainStats:
    """Teacher-forced Adam training for exactly ``steps`` steps on random batches of ``task``.

    Cross-entropy on non-pad targets; batches of ``batch_size`` rows are drawn with
    ``torch.Generator(seed)`` so two models trained with the same seed see the same batches.
    The learning rate follows :func:`warmup_constant`; gradients are clipped to norm ``clip``.
    """
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: warmup_constant(s, warmup=warmup))
    g = torch.Generator().manual_seed(seed)
    pad = task.tgt_vocab.pad_idx
    losses: list[float] = []
    model.train()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        idx = torch.randint(0, len(task), (batch_size,), generator=g)  # (B,)
        src = task.src[idx, : int(task.src_lengths[idx].max())]  # (B, Ts) trimmed
        tgt = task.tgt[idx]  # (B, Tt)
        logits = model(src, tgt[:, :-1])  # forward: (B, Tt-1, V)
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), tgt[:, 1:].flatten(),
                                           ignore_index=pad)
        opt.zero_grad()
        loss.backward()  # backward
        nn.utils.clip_grad_norm_(model.parameters(), clip)  # clip
        opt.step()  # step
        sched.step()
        losses.append(loss.item())
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    model.eval()
    return TrainStats(wall_s=wall, cpu_s=cpu, final_loss=sum(losses[-10:]) / len(losses[-10:]))


@torch.no_grad()
def exact_match(model: nn.Module, task: SequenceTask) -> tuple[float, float]:
    """Greedy decoding of every source of ``task``: (exact-match rate, character accuracy).

    ``model`` has ``greedy_decode(src, max_len, bos_idx, eos_idx)`` (a seq2seq model or a
    Transformer). Character accuracy compares the prediction, padded to 10 characters, with the
    target position by position, divided by the target length.
    """
    v = task.tgt_vocab
    out = model.greedy_decode(task.src, TGT_LEN, v.bos_idx, v.eos_idx)  # (N, <= TGT_LEN)
    preds = [v.decode(row.tolist()) for row in out]
    exact = statistics.fmean(p == t for p, (_, t) in zip(preds, task.pairs, strict=True))
    chars = statistics.fmean(
        sum(a == b for a, b in zip(p.ljust(10), t, strict=False)) / len(t)
        for p, (_, t) in zip(preds, task.pairs, strict=True))
    return exact, chars


@dataclass
class LengthSweep(Generic[M]):
    """Results of training several model kinds on date normalisation at growing input lengths.

    Attributes
    ----------
    results : ``results[(kind, min_length)]`` holds one measurement per seed
    mean_chars : the mean test input length in characters, per ``min_length``
    kept : ``kept[kind]`` the first seed's model at the longest length (for attention maps)
    """

    results: dict[tuple[str, int], list[M]] = field(default_factory=dict)
    mean_chars: dict[int, float] = field(default_factory=dict)
    kept: dict[str, nn.Module] = field(default_factory=dict)


def sweep_lengths(
    ctx: LabContext,
    lengths: Sequence[int],
    kinds: Sequence[str],
    run_one: Callable[[str, SequenceTask, SequenceTask, int], tuple[nn.Module, M]],
    *,
    n_train: int,
    n_test: int,
) -> LengthSweep[M]:
    """Train ``run_one(kind, train, test, seed)`` for every kind at every ``min_length``.

    Every seed of ``ctx.seeds`` runs at every length, so a seed's curve over lengths is paired.
    Test sets are drawn with seeds far from the training seeds so they never overlap by seed.
    """
    sweep: LengthSweep[M] = LengthSweep()
    for L in ctx.progress(lengths, "input lengths"):
        longest = lengths[-1] == L
        for seed in ctx.seeds:
            train = date_normalization(n_train, seed=seed, min_length=L)
            test = date_normalization(n_test, seed=TEST_SEED_OFFSET + seed, min_length=L)
            sweep.mean_chars[L] = test.src_lengths.float().mean().item()
            for kind in kinds:
                model, r = run_one(kind, train, test, seed)
                sweep.results.setdefault((kind, L), []).append(r)
                if longest and seed == ctx.seeds[0]:
                    sweep.kept[kind] = model
    return sweep


@dataclass
class TargetRun:
    """What :func:`train_to_target` measured.

    Attributes
    ----------
    steps_to_target : first evaluated step whose validation exact match reached the target,
        or None if it never did within ``max_steps`` (censored)
    best_val : best validation exact match seen; ``best_step`` the step it was seen at
    best_state : the model's ``state_dict`` at ``best_step`` (the best-validation checkpoint)
    curve : ``(step, validation exact match)`` at every evaluation
    steps : optimizer steps taken; ``cpu_s``/``wall_s`` their CPU and wall seconds (evaluations
        excluded); ``final_loss`` the mean training loss of the last 10 steps
    converged : stopped by ``patience`` (the validation exact match had stopped improving), as
        opposed to running out of ``max_steps`` or stopping at the target
    """

    steps_to_target: int | None
    best_val: float
    best_step: int
    best_state: dict[str, torch.Tensor]
    curve: list[tuple[int, float]]
    steps: int
    cpu_s: float
    wall_s: float
    final_loss: float
    converged: bool = False


def train_to_target(model: nn.Module, task: SequenceTask, val: SequenceTask, *, max_steps: int,
                    batch_size: int, lr: float, warmup: int, clip: float, seed: int,
                    eval_every: int, target: float, stop_at_target: bool,
                    patience: int | None = None, min_delta: float = 0.0) -> TargetRun:
    """Teacher-forced Adam training as in :func:`train_steps`, evaluating the validation exact
    match every ``eval_every`` steps (and after the last); stops at ``max_steps`` or, with
    ``stop_at_target``, at the first evaluation that reaches ``target``, or, with ``patience``,
    once the best validation exact match has not risen by more than ``min_delta`` for
    ``patience`` steps (``converged``). The model is left at its best-validation checkpoint."""
    if eval_every < 1:
        raise ValueError(f"eval_every must be >= 1, got {eval_every}")
    if patience is not None and patience < 1:
        raise ValueError(f"patience must be >= 1 step, got {patience}")
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: warmup_constant(s, warmup=warmup))
    g = torch.Generator().manual_seed(seed)
    pad = task.tgt_vocab.pad_idx
    losses: list[float] = []
    curve: list[tuple[int, float]] = []
    best = (-1.0, 0, {k: v.clone() for k, v in model.state_dict().items()})
    reached: int | None = None
    improved, converged = 0, False  # step of the last rise by more than min_delta
    cpu = wall = 0.0
    for step in range(1, max_steps + 1):
        model.train()
        w0, c0 = time.perf_counter(), time.process_time()
        idx = torch.randint(0, len(task), (batch_size,), generator=g)  # (B,)
        src = task.src[idx, : int(task.src_lengths[idx].max())]  # (B, Ts) trimmed
        tgt = task.tgt[idx]  # (B, Tt)
        logits = model(src, tgt[:, :-1])  # forward: (B, Tt-1, V)
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), tgt[:, 1:].flatten(),
                                           ignore_index=pad)
        opt.zero_grad()
        loss.backward()  # backward
        nn.utils.clip_grad_norm_(model.parameters(), clip)  # clip
        opt.step()  # step
        sched.step()
        cpu += time.process_time() - c0
        wall += time.perf_counter() - w0
        losses.append(loss.item())
        if step % eval_every and step != max_steps:
            continue
        model.eval()
        exact, _ = exact_match(model, val)
        curve.append((step, exact))
        if exact > best[0] + min_delta:
            improved = step
        if exact > best[0]:
            best = (exact, step, {k: v.clone() for k, v in model.state_dict().items()})
        if reached is None and exact >= target:
            reached = step
            if stop_at_target:
                break
        if patience is not None and step - improved >= patience:
            converged = True
            break
    model.load_state_dict(best[2])
    model.eval()
    return TargetRun(steps_to_target=reached, best_val=best[0], best_step=best[1],
                     best_state=best[2], curve=curve, steps=len(losses), cpu_s=cpu,
                     wall_s=wall, final_loss=statistics.fmean(losses[-10:]),
                     converged=converged)


def interleaved_step_times(models: dict[str, nn.Module], batch: tuple[torch.Tensor, torch.Tensor],
                           *, repeats: int, pad_idx: int = 0) -> dict[str, list[float]]:
    """CPU seconds of one training step (forward, loss, backward; no update, so the models
    stay as trained) of each model on the same ``batch = (src, tgt)``, measured interleaved:
    ``repeats`` rounds, each running every model once in the same order (EVIDENCE §2), after
    one untimed warm-up step per model."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    src, tgt = batch

    def step(model: nn.Module) -> float:
        start = time.process_time()
        logits = model(src, tgt[:, :-1])
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), tgt[:, 1:].flatten(),
                                           ignore_index=pad_idx)
        loss.backward()
        elapsed = time.process_time() - start
        model.zero_grad(set_to_none=True)
        return elapsed

    for m in models.values():
        m.train()
        step(m)
    times: dict[str, list[float]] = {k: [] for k in models}
    for _ in range(repeats):
        for k, m in models.items():
            times[k].append(step(m))
    for m in models.values():
        m.eval()
    return times
