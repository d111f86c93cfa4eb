"""The gru lab's config: every size it uses, per scale, with its valid range."""

from __future__ import annotations

from dataclasses import dataclass

from deepdojo.labs.framework import ranged, scaled


@dataclass
class GRULabConfig:
    hidden_size: int = ranged(32, low=1)  # state size H of every recurrent model
    num_symbols: int = ranged(4, low=2)  # symbols to recall (chance accuracy = 1 / num_symbols)
    distractors: int = ranged(4, low=0)  # D distractor symbols in the delay (0: blank delay)
    # Adam learning rates tried per arm (chosen on validation at the longest length);
    # version 4: three values (was 3e-3, 1e-2), so that a choice can be interior
    lrs: tuple[float, ...] = ranged((1e-3, 3e-3, 1e-2), low=0.0, low_open=True)
    # initial biases of the GRU update gate / LSTM forget gate tried per gated arm
    # (version 4: 1, 3, 5; was 2, 4)
    gate_biases: tuple[float, ...] = (1.0, 3.0, 5.0)
    tune_seeds: int = scaled(smoke=1, quick=1, full=2, low=1)  # seeds the grid is judged on
    batch_size: int = ranged(64, low=1)  # examples per training step
    clip: float = ranged(1.0, low=0.0, low_open=True)  # gradient-norm clipping threshold
    # sequence lengths T, swept; the gate and the claims are judged at the last (longest);
    # version 4: quick drops T=40 to pay for the control task
    lengths: tuple[int, ...] = scaled(smoke=(6,), quick=(10, 80),
                                      full=(10, 40, 80, 150, 250), low=3)
    # most optimizer steps per model; a run stops earlier once converged (version 4)
    steps: int = scaled(smoke=5, quick=300, full=1500, low=1)
    eval_every: int = ranged(25, low=1)  # steps between validation checks of the stop rule
    # a run has converged (and stops) once its validation cross-entropy is at most this
    stop_loss: float = ranged(0.01, low=0.0, low_open=True)
    # ... or once it has not improved its best validation loss by 1% for this many steps
    patience: int = scaled(smoke=5, quick=100, full=400, low=1)
    n_train: int = scaled(smoke=64, quick=2000, full=4000, low=1)  # training sequences
    n_test: int = ranged(500, low=1)  # validation and test sequences per length and seed
    gate_examples: int = ranged(64, low=1)  # sequences whose gates are recorded (gate claim)
    memory_examples: int = ranged(256, low=1)  # sequences that rank the memory units
    memory_unit_fraction: int = ranged(8, low=2)  # k = max(1, H // this) memory units
    aa_draws: int = ranged(200, low=2)  # random unit subsets of the A/A control
    # state FULL_ONLY (gru/__init__.py): quick measures them but cannot decide them
    full_only_claims: bool = scaled(smoke=False, quick=False, full=True)
