r"""What the gru lab measures: recall accuracy, first-step gradient, gates and memory units.

Delayed recall: step 0 shows one of K symbols (one-hot, K + 1 inputs), steps 1 .. T-2 are blank,
step T-1 is the query; the model reads out the symbol from its last state.

Memory units. The ``update-gate-holds-memory`` claim averages z over *all* units; a GRU needs
only a few units to hold the symbol while the others may do anything. So we first find the
units that carry the memory, then look at their gate. Memory score of unit u: how far apart
its state at the last delay step lies for the different symbols to recall, the between-symbol
standard deviation

.. math::
    s_u = \Big(\tfrac1N \textstyle\sum_c n_c (\bar h_{u,c} - \bar h_u)^2\Big)^{1/2},

where ``c`` runs over the symbols, ``n_c`` counts the examples of symbol ``c``, and
:math:`\bar h_{u,c}` is the mean state of unit u at step T-2 over those examples. (With a
blank delay the state is a deterministic function of the symbol, so a variance *ratio* such
as eta^2 or a squared correlation is 1 for every unit and cannot rank them; the spread can.)
The ``k`` units with the largest :math:`s_u` are the *memory units*; the gap is the mean update
gate over the delay steps of the memory units minus that of the other units.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from deepdojo.data.sequences import delayed_recall
from deepdojo.nn import GRU

from .config import GRULabConfig

MODELS = ("rnn", "lstm", "gru")
TEST_SEED_OFFSET = 10_000  # test sequences use seed + this
GATE_SEED = 99  # sequences whose gates are drawn and compared (init vs trained)
MEMORY_SEED = 98  # sequences that rank the memory units


class RecallNet(nn.Module):
    """A recurrent layer (``kind`` in :data:`MODELS`) and a linear readout of its last state.

    The GRU's update gate z and the LSTM's forget gate start with bias ``cfg.gate_bias``.
    Input (B, T, K + 1), output logits (B, K).
    """

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


@dataclass(frozen=True)
class RecallRun:
    """One seed of one model at one length.

    Attributes
    ----------
    acc : test accuracy of the recalled symbol
    grad_init, grad_trained : mean over test examples of ||dL/dx_0|| before and after training
    """

    acc: float
    grad_init: float
    grad_trained: float


def recall_data(n: int, T: int, num_symbols: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` delayed-recall sequences with a blank delay: X (n, T, K + 1), y (n,)."""
    X, y = delayed_recall(n, T, num_symbols=num_symbols, seed=seed)
    X[:, 1:-1] = 0.0  # blank delay: nothing but the memory carries the symbol
    return X, y


def first_step_grad(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    """Mean over examples of ||dL/dx_0||: how much gradient reaches the first step."""
    x = X.clone().requires_grad_(True)
    loss = nn.functional.cross_entropy(model(x), y, reduction="sum")
    (grad,) = torch.autograd.grad(loss, x)  # (N, T, K + 1)
    return grad[:, 0].norm(dim=-1).mean().item()


def train_recall(kind: str, T: int, seed: int, cfg: GRULabConfig) -> tuple[RecallNet, RecallRun]:
    """Train one model on delayed recall at length ``T``: forward, loss, backward, clip, step."""
    torch.manual_seed(seed)
    X, y = recall_data(cfg.n_train, T, cfg.num_symbols, seed)
    Xt, yt = recall_data(cfg.n_test, T, cfg.num_symbols, TEST_SEED_OFFSET + seed)
    model = RecallNet(kind, cfg)
    grad_init = first_step_grad(model, Xt, yt)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    g = torch.Generator().manual_seed(seed)
    for _ in range(cfg.steps):
        idx = torch.randint(0, cfg.n_train, (cfg.batch_size,), generator=g)
        loss = nn.functional.cross_entropy(model(X[idx]), y[idx])  # forward, loss
        opt.zero_grad()
        loss.backward()  # backward
        nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)  # clip
        opt.step()  # step
    with torch.no_grad():
        acc = (model(Xt).argmax(-1) == yt).float().mean().item()
    return model, RecallRun(acc=acc, grad_init=grad_init,
                            grad_trained=first_step_grad(model, Xt, yt))


def initial_gru(seed: int, cfg: GRULabConfig) -> RecallNet:
    """The GRU exactly as :func:`train_recall` initialises it for ``seed`` (before training)."""
    torch.manual_seed(seed)
    return RecallNet("gru", cfg)


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
    X, y = recall_data(n, T, cfg.num_symbols, seed)
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


@dataclass(frozen=True)
class GateStudy:
    """One seed's GRU at the longest length, before and after training.

    Attributes
    ----------
    z_init, z_trained : mean update gate over the delay (:meth:`GateTrace.delay_z`)
    units : the trained GRU's memory units (:func:`memory_units`)
    """

    z_init: float
    z_trained: float
    units: MemoryUnits
