r"""What the gru lab measures: recall accuracy, first-step gradient, gates and memory units.

Delayed recall (Hochreiter & Schmidhuber, 1997, experiment 2b): step 0 shows one of K symbols,
steps 1 .. T-2 show random distractors drawn from D *other* symbols, step T-1 is the query; the
model reads out the first symbol from its last state. Inputs are one-hot over K + 1 + D
channels (symbols, query, distractors). With D >= 2 there are K * D^(T-2) distinct sequences,
so the held-out test set is made of sequences never seen in training (with a blank delay,
D = 0, there would be only K distinct sequences and "test" accuracy would be training accuracy).

Memory units. The ``update-gate-holds-memory`` claim averages z over *all* units; a GRU needs
only a few units to hold the symbol while the others may do anything. So we first find the
units that carry the memory, then look at their gate. Memory score of unit u: how far apart
its state at the last delay step lies for the different symbols to recall, the between-symbol
standard deviation

.. math::
    s_u = \Big(\tfrac1N \textstyle\sum_c n_c (\bar h_{u,c} - \bar h_u)^2\Big)^{1/2},

where ``c`` runs over the symbols, ``n_c`` counts the examples of symbol ``c``, and
:math:`\bar h_{u,c}` is the mean state of unit u at step T-2 over those examples.
The ``k`` units with the largest :math:`s_u` are the *memory units*; the gap is the mean update
gate over the delay steps of the memory units minus that of the other units.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import torch
from torch import nn

from deepdojo.data.sequences import delayed_recall
from deepdojo.nn import GRU
from deepdojo.nn.gru import gru_step

from .config import GRULabConfig

MODELS = ("rnn", "lstm", "gru")
VAL_SEED_OFFSET = 20_000  # validation sequences (used for tuning) use seed + this
TEST_SEED_OFFSET = 10_000  # test sequences use seed + this
GATE_SEED = 99  # sequences whose gates are drawn and compared (init vs trained)
MEMORY_SEED = 98  # sequences that rank the memory units
IMPROVEMENT = 0.01  # a validation loss this much (relative) below the best resets the patience


@dataclass(frozen=True)
class Setting:
    """The hyperparameters one arm trains with: Adam learning rate and initial gate bias
    (GRU update gate z, LSTM forget gate; ignored by the vanilla RNN, which has no gate)."""

    lr: float
    gate_bias: float


class RecallNet(nn.Module):
    """A recurrent layer (``kind`` in :data:`MODELS`) and a linear readout of its last state.

    The GRU's update gate z and the LSTM's forget gate start with bias ``gate_bias`` added to
    ``bias_hh`` (gate order: GRU [r | z | n], LSTM [i | f | g | o]).
    Input (B, T, K + 1 + D), output logits (B, K).
    """

    def __init__(self, kind: str, cfg: GRULabConfig, gate_bias: float = 0.0) -> None:
        super().__init__()
        if kind not in MODELS:
            raise ValueError(f"kind must be one of {MODELS}, got {kind!r}")
        K, H = cfg.num_symbols, cfg.hidden_size
        inputs = K + 1 + cfg.distractors
        if kind == "gru":
            self.rnn = GRU(inputs, H, impl="fused")
        else:
            self.rnn = {"rnn": nn.RNN, "lstm": nn.LSTM}[kind](inputs, H, batch_first=True)
        if kind != "rnn":
            with torch.no_grad():
                self.rnn.bias_hh_l0[H : 2 * H] += gate_bias
        self.head = nn.Linear(H, K)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)  # (B, T, H)
        return self.head(out[:, -1])  # (B, K)


@dataclass(frozen=True)
class RecallRun:
    """One seed of one model at one length.

    Attributes
    ----------
    acc : test accuracy of the recalled symbol
    grad_init, grad_trained : mean over test examples of ||dL/dx_0|| before and after training
    val_acc, val_loss : accuracy and mean cross-entropy on the validation sequences
    steps : optimizer steps made (version 4: a run stops early once it has converged)
    converged : the validation loss reached ``cfg.stop_loss`` within ``cfg.steps`` steps
    """

    acc: float
    grad_init: float
    grad_trained: float
    val_acc: float = float("nan")
    val_loss: float = float("nan")
    steps: int = 0
    converged: bool = False


def recall_data(n: int, T: int, cfg: GRULabConfig, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` delayed-recall sequences: X (n, T, K + 1 + D) one-hot, y (n,) the first symbol.

    Channels ``0 .. K-1`` are the symbols, ``K`` the query marker and ``K+1 .. K+D`` the
    distractors, one per delay step (a blank delay when ``cfg.distractors == 0``).
    """
    K, D = cfg.num_symbols, cfg.distractors
    X, y = delayed_recall(n, T, num_symbols=K, seed=seed)  # (n, T, K + 1)
    X[:, 1:-1] = 0.0  # only the first symbol and the query stay on the symbol channels
    X = torch.cat([X, torch.zeros(n, T, D)], dim=-1)
    if D > 0 and T > 2:
        g = torch.Generator().manual_seed(seed)
        d = torch.randint(0, D, (n, T - 2), generator=g)  # (n, T-2) distractor ids
        X[:, 1:-1, K + 1 :] = nn.functional.one_hot(d, D).float()
    return X, y


def first_step_grad(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    """Mean over examples of ||dL/dx_0||: how much gradient reaches the first step."""
    x = X.clone().requires_grad_(True)
    loss = nn.functional.cross_entropy(model(x), y, reduction="sum")
    (grad,) = torch.autograd.grad(loss, x)  # (N, T, K + 1 + D)
    return grad[:, 0].norm(dim=-1).mean().item()


def last_distractor(X: torch.Tensor, cfg: GRULabConfig) -> torch.Tensor:
    """The control task's targets (version 4): the distractor shown at the last delay step
    T-2 (ids 0 .. D-1), which needs no memory across the delay; X (n, T, K + 1 + D) -> (n,)."""
    return X[:, -2, cfg.num_symbols + 1 :].argmax(-1)


def train_recall(kind: str, T: int, seed: int, cfg: GRULabConfig, setting: Setting,
                 task: str = "recall", patience: bool = True) -> tuple[RecallNet, RecallRun]:
    """Train one model on delayed recall at length ``T``: forward, loss, backward, clip, step.

    Training, validation and test sequences are drawn with disjoint seeds (``seed``,
    ``seed + VAL_SEED_OFFSET``, ``seed + TEST_SEED_OFFSET``). ``task="last"`` trains the
    control task instead (:func:`last_distractor`) on the same sequences from the same
    initialisation; ``patience=False`` turns the stall stop off (the control task's runs, so
    that a gate started near 1 has the whole budget to move). Every ``cfg.eval_every`` steps
    the validation loss is measured; the run stops (converged) once it is at most
    ``cfg.stop_loss``, or (stalled) once it has not improved by ``IMPROVEMENT`` (1%) of its
    best value for ``cfg.patience`` steps, else after ``cfg.steps`` steps (version 4: compared
    at convergence; the same rule for every arm).
    """
    if task not in ("recall", "last"):
        raise ValueError(f"task must be 'recall' or 'last', got {task!r}")
    if task == "last" and not 2 <= cfg.distractors <= cfg.num_symbols:
        raise ValueError("the control task needs 2 <= distractors <= num_symbols, got "
                         f"{cfg.distractors} and {cfg.num_symbols}")
    torch.manual_seed(seed)
    X, y = recall_data(cfg.n_train, T, cfg, seed)
    Xv, yv = recall_data(cfg.n_test, T, cfg, VAL_SEED_OFFSET + seed)
    Xt, yt = recall_data(cfg.n_test, T, cfg, TEST_SEED_OFFSET + seed)
    if task == "last":  # same sequences, same initialisation, no memory needed
        y, yv, yt = (last_distractor(Z, cfg) for Z in (X, Xv, Xt))
    model = RecallNet(kind, cfg, setting.gate_bias)
    grad_init = first_step_grad(model, Xt, yt)
    opt = torch.optim.Adam(model.parameters(), lr=setting.lr)
    g = torch.Generator().manual_seed(seed)
    steps, converged, stalled = 0, False, False
    best, best_step = float("inf"), 0
    while steps < cfg.steps and not converged and not stalled:
        idx = torch.randint(0, cfg.n_train, (cfg.batch_size,), generator=g)
        loss = nn.functional.cross_entropy(model(X[idx]), y[idx])  # forward, loss
        opt.zero_grad()
        loss.backward()  # backward
        nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)  # clip
        opt.step()  # step
        steps += 1
        if steps % cfg.eval_every == 0:
            with torch.no_grad():
                vl = nn.functional.cross_entropy(model(Xv), yv).item()
            converged = vl <= cfg.stop_loss
            if vl < best * (1 - IMPROVEMENT):
                best, best_step = vl, steps
            stalled = patience and steps - best_step >= cfg.patience
    with torch.no_grad():
        acc = (model(Xt).argmax(-1) == yt).float().mean().item()
        val = model(Xv)
        val_acc = (val.argmax(-1) == yv).float().mean().item()
        val_loss = nn.functional.cross_entropy(val, yv).item()
    return model, RecallRun(acc=acc, grad_init=grad_init,
                            grad_trained=first_step_grad(model, Xt, yt),
                            val_acc=val_acc, val_loss=val_loss, steps=steps,
                            converged=converged)


@dataclass(frozen=True)
class Tuning:
    """The grid search of one arm on the tuning seeds: every setting tried with its
    validation numbers per seed, and the chosen one (version 4, cannot tie: highest mean
    validation accuracy over the tuning seeds, then the largest share of converged runs, then
    the fewest mean steps, then the lowest mean validation loss, then the first in grid order:
    lr-major over ``cfg.lrs``, then ``cfg.gate_biases``)."""

    kind: str
    tried: list[tuple[Setting, list[RecallRun]]]
    chosen: Setting
    models: list[RecallNet]  # the chosen setting's trained model per tuning seed
    runs: list[RecallRun]  # ... and its measurements (the main runs of those seeds)


def tune(kind: str, T: int, seeds: list[int], cfg: GRULabConfig) -> Tuning:
    """Train ``kind`` at length ``T`` with every (lr, gate bias) of the config's grids (the
    vanilla RNN: lr only) on each of ``seeds`` and choose on validation data, never on test
    data."""
    biases = (0.0,) if kind == "rnn" else cfg.gate_biases
    grid = [Setting(lr, b) for lr in cfg.lrs for b in biases]
    trained = {st: [train_recall(kind, T, seed, cfg, st) for seed in seeds] for st in grid}
    score = lambda st: (statistics.fmean(r.val_acc for _, r in trained[st]),  # noqa: E731
                        statistics.fmean(r.converged for _, r in trained[st]),
                        -statistics.fmean(r.steps for _, r in trained[st]),
                        -_finite(statistics.fmean(r.val_loss for _, r in trained[st])),
                        -grid.index(st))
    best = max(grid, key=score)
    return Tuning(kind=kind, tried=[(st, [r for _, r in trained[st]]) for st in grid],
                  chosen=best, models=[m for m, _ in trained[best]],
                  runs=[r for _, r in trained[best]])


def _finite(x: float) -> float:
    """``x``, or +inf for NaN (a diverged run's loss ranks last)."""
    return x if x == x else float("inf")


def initial_gru(seed: int, cfg: GRULabConfig, gate_bias: float) -> RecallNet:
    """The GRU exactly as :func:`train_recall` initialises it for ``seed`` (before training)."""
    torch.manual_seed(seed)
    return RecallNet("gru", cfg, gate_bias)


@dataclass(frozen=True)
class GateTrace:
    """The explicit GRU's gates and state on ``n`` sequences: z, r, h_tilde, h (n, T, H);
    y (n,) the symbols to recall."""

    z: torch.Tensor
    r: torch.Tensor
    h_tilde: torch.Tensor
    h: torch.Tensor
    y: torch.Tensor

    def delay_z(self) -> float:
        """Mean update gate over examples, units and the delay steps 1 .. T-2."""
        return self.z[:, 1:-1].mean().item()


def record_gates(model: RecallNet, T: int, cfg: GRULabConfig, n: int, seed: int) -> GateTrace:
    """Run the explicit GRU (same weights as the fused one) with ``record_gates`` on ``n``
    sequences of length ``T`` drawn with ``seed``."""
    fused = model.rnn
    explicit = GRU(fused.input_size, fused.hidden_size, impl="explicit", record_gates=True)
    explicit.load_state_dict(fused.state_dict())
    X, y = recall_data(n, T, cfg, seed)
    with torch.no_grad():
        explicit(X)
    g = {k: v[0] for k, v in explicit.gates.items()}  # layer 0: each (n, T, H)
    return GateTrace(z=g["z"], r=g["r"], h_tilde=g["h_tilde"], h=g["h"], y=y)


def memory_scores(h_last: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Between-symbol std per unit: h_last (N, H) states, y (N,) symbols -> (H,)."""
    mean = h_last.mean(0)  # (H,)
    between = torch.zeros_like(mean)
    for c in y.unique():
        hc = h_last[y == c]  # (n_c, H)
        between += hc.shape[0] * (hc.mean(0) - mean) ** 2
    return (between / h_last.shape[0]).sqrt()


@dataclass(frozen=True)
class MemoryUnits:
    """The memory units of one trained GRU and their update gate during the delay.

    Attributes
    ----------
    scores : (H,) memory score per unit
    z_delay : (H,) mean z per unit over examples and delay steps
    memory : (H,) bool, the top-k units by score
    z_memory, z_other : mean of ``z_delay`` over the memory units and over the others
    """

    scores: torch.Tensor
    z_delay: torch.Tensor
    memory: torch.Tensor
    z_memory: float
    z_other: float

    @property
    def gap(self) -> float:
        """``z_memory - z_other``."""
        return self.z_memory - self.z_other


def memory_units(z: torch.Tensor, h: torch.Tensor, y: torch.Tensor, T: int, *,
                 fraction: int = 8) -> MemoryUnits:
    """Rank units by :func:`memory_scores` of their state at step T-2; the top
    ``k = max(1, H // fraction)`` are the memory units.

    Parameters
    ----------
    z, h : (N, T, H) update gate and state (one layer, one direction)
    y : (N,) the symbols to recall
    T : sequence length; the delay is steps 1 .. T-2
    fraction : one unit in ``fraction`` counts as a memory unit (at least one)
    """
    H = z.shape[-1]
    k = max(1, H // fraction) if fraction >= 1 else H
    if k >= H:
        raise ValueError(f"fraction={fraction} with H={H} units leaves no unit outside the "
                         "memory units; need H // fraction < H")
    scores = memory_scores(h[:, T - 2], y)  # (H,)
    z_delay = z[:, 1 : T - 1].mean(dim=(0, 1))  # (H,)
    memory = torch.zeros(H, dtype=torch.bool)
    memory[scores.topk(k).indices] = True
    return MemoryUnits(scores=scores, z_delay=z_delay, memory=memory,
                       z_memory=z_delay[memory].mean().item(),
                       z_other=z_delay[~memory].mean().item())


def delay_retention(z: torch.Tensor, units: torch.Tensor, T: int) -> float:
    r"""Share of the state the update gate alone carries across the delay, on ``units``:
    the mean over examples and units of :math:`\prod_{t=1}^{T-2} z_{t,u}` (z: (N, T, H))."""
    return z[:, 1 : T - 1][..., units].prod(dim=1).mean().item()


def candidate_gap(h_tilde: torch.Tensor, h: torch.Tensor, units: torch.Tensor, T: int) -> float:
    """Mean :math:`|\tilde h_t - h_{t-1}|` over the delay steps 2 .. T-2 on ``units``: when it is
    small the candidate re-proposes the old state, so the state holds whatever z is."""
    return (h_tilde[:, 2 : T - 1] - h[:, 1 : T - 2])[..., units].abs().mean().item()


def random_subset_gaps(z_delay: torch.Tensor, k: int, draws: int, seed: int) -> torch.Tensor:
    """A/A control for the memory-unit gap: the gap of ``draws`` random k-unit subsets
    (mean z of the subset minus mean z of the rest); z_delay (H,) -> (draws,)."""
    g = torch.Generator().manual_seed(seed)
    H = z_delay.shape[0]
    gaps = []
    for _ in range(draws):
        pick = torch.zeros(H, dtype=torch.bool)
        pick[torch.randperm(H, generator=g)[:k]] = True
        gaps.append(z_delay[pick].mean() - z_delay[~pick].mean())
    return torch.stack(gaps)


@dataclass(frozen=True)
class GateStudy:
    """One seed's GRU at the longest length, before and after training.

    Attributes
    ----------
    z_init, z_trained : mean update gate over the delay (:meth:`GateTrace.delay_z`)
    units : the trained GRU's memory units (:func:`memory_units`)
    z_memory_init : mean z over the delay of the same memory units before training
    retention : :func:`delay_retention` of the memory units after training
    candidate_gap : :func:`candidate_gap` of the memory units after training
    aa_gap_sd : std of :func:`random_subset_gaps` (the gap a random choice of units shows)
    ablation : :func:`gate_ablation` of the trained GRU (version 4, measured, no claim)
    acc : the trained GRU's test accuracy
    z_control : mean delay z of the same GRU (same seed and init) trained on the control
        task (version 4), and ``acc_control`` its test accuracy
    """

    z_init: float
    z_trained: float
    units: MemoryUnits
    z_memory_init: float = float("nan")
    retention: float = float("nan")
    candidate_gap: float = float("nan")
    aa_gap_sd: float = float("nan")
    ablation: GateAblation | None = None
    acc: float = float("nan")
    z_control: float = float("nan")
    acc_control: float = float("nan")


def clamped_gate_accuracy(model: RecallNet, X: torch.Tensor, y: torch.Tensor,
                          z_fixed: torch.Tensor, T: int) -> float:
    """Recall accuracy when every unit's update gate is replaced by ``z_fixed`` (H,) during the
    delay steps 1 .. T-2 (``h_t = (1 - z) h_tilde_t + z h_(t-1)`` with that constant z); the
    other steps run as trained. Same weights and equations as the fused GRU
    (:func:`deepdojo.nn.gru.gru_step`). X (N, T, K + 1 + D), y (N,).
    """
    rnn = model.rnn
    with torch.no_grad():
        gi = nn.functional.linear(X, rnn.weight_ih_l0, rnn.bias_ih_l0)  # (N, T, 3H)
        h = X.new_zeros(X.shape[0], rnn.hidden_size)
        for t in range(T):
            _, _, h_tilde, h_new = gru_step(gi[:, t], h, rnn.weight_hh_l0, rnn.bias_hh_l0)
            h = torch.lerp(h_tilde, h, z_fixed) if 1 <= t <= T - 2 else h_new
        return (model.head(h).argmax(-1) == y).float().mean().item()


@dataclass(frozen=True)
class GateAblation:
    """The update gate of a trained GRU opened (z = 0 on every unit, so h_t = h_tilde_t)
    during the delay (:func:`clamped_gate_accuracy`), on the test sequences: ``intact`` is
    the accuracy as trained, ``open`` with the gate opened (measured, no claim)."""

    intact: float
    open: float


def gate_ablation(model: RecallNet, T: int, cfg: GRULabConfig, seed: int) -> GateAblation:
    """:class:`GateAblation` of ``model`` on the test sequences of ``seed``."""
    X, y = recall_data(cfg.n_test, T, cfg, TEST_SEED_OFFSET + seed)
    with torch.no_grad():
        intact = (model(X).argmax(-1) == y).float().mean().item()
    zero = torch.zeros(model.rnn.hidden_size)
    return GateAblation(intact=intact, open=clamped_gate_accuracy(model, X, y, zero, T))
