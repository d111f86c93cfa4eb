"""Measurements of the hyperparameters lab: one function per effect, one seed per call.

Every function trains small plain MLPs (``deepdojo.models.create("plain_mlp")``) on the digits
data with the :class:`~deepdojo.train.Trainer` and returns dataclasses of plain numbers that
the lab aggregates over seeds (:class:`SeedMeasurements`), plots (``figures.py``) and judges
(``claims.py``).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from deepdojo.data import load_digits
from deepdojo.models import create
from deepdojo.search import add_dropout
from deepdojo.train import Trainer, make_optimizer
from deepdojo.utils import seed_everything

# ---------------------------------------------------------------- results


@dataclass
class LrRun:
    """(1) One SGD + momentum run at one learning rate: one value per epoch."""

    train_loss: list[float]  # NaN (diverged) mapped to +inf
    val_acc: list[float]
    time_s: list[float]  # wall seconds of each epoch


@dataclass(frozen=True)
class FitConfig:
    """(2) One regularization setting of the small-subset runs."""

    batch_size: int
    dropout: float
    weight_decay: float

    def vary(self, key: str, value: Any) -> FitConfig:
        """This config with ``key`` (``batch_size``, ``dropout`` or ``weight_decay``) set."""
        return FitConfig(**{**asdict(self), key: value})


@dataclass
class FitRow:
    """(2, 3) One config trained on the small subset, evaluated on train/val/test."""

    batch_size: int
    dropout: float
    weight_decay: float
    seed: int
    train_acc: float  # eval mode, on the examples it trained on
    val_acc: float
    test_acc: float
    gap: float  # train_acc - val_acc

    @property
    def config(self) -> FitConfig:
        return FitConfig(self.batch_size, self.dropout, self.weight_decay)


@dataclass
class EfficiencyRow:
    """(4a) One batch size: time per epoch and memory of one training step."""

    epoch_s: float  # median seconds per epoch
    saved_bytes: int  # bytes autograd saves for backward in one forward pass
    cuda_peak_bytes: int | None  # peak allocated on a GPU (None on CPU)


@dataclass
class CapacityCell:
    """(5) One depth x width MLP trained on the small subset."""

    train_acc: float
    val_acc: float
    gap: float  # train_acc - val_acc
    loss_gap: float  # val loss - train loss


@dataclass
class OptimizerRun:
    """(6) One optimizer at the rate of its grid with the best final validation accuracy."""

    lr: float  # the tuned rate
    val_acc: float
    train_loss: list[float]  # per epoch, NaN mapped to +inf
    grid: list[tuple[float, float]] = field(default_factory=list)  # (lr, val_acc) of each rate


@dataclass
class TransferResult:
    """(7) Target test accuracy of each fine-tuning arm (field order = figure order)."""

    scratch: float  # no pretraining
    frozen: float  # pretrained backbone frozen, new head trained
    frozen_logreg: float  # converged logistic regression on the frozen features (reference)
    same_lr: float  # everything fine-tuned at one rate
    small_backbone_lr: float  # backbone at a 10x smaller rate than the head


@dataclass
class SeedMeasurements:
    """Everything one seed measured, and the seconds each effect took."""

    seed: int
    convergence: dict[float, LrRun]  # by learning rate
    fitting: list[FitRow]
    efficiency: dict[int, EfficiencyRow]  # by batch size
    capacity: dict[tuple[int, int], CapacityCell]  # by (depth, width)
    optimizers: dict[str, OptimizerRun]  # by optimizer name
    transfer: TransferResult
    seconds: dict[str, float]  # by effect name


# ---------------------------------------------------------------- helpers


def digits(seed: int) -> Any:
    """Flat digits splits ``(N, 64)`` for ``seed`` (the split depends on the seed)."""
    return load_digits(flat=True, seed=seed)


def subset(split: Any, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` examples of ``split`` drawn without replacement with ``seed``."""
    X, y = split
    idx = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))[:n]
    return X[idx], y[idx]


def mlp(seed: int, depth: int, width: int, *, classes: int = 10, dropout: float = 0.0) -> Any:
    """A seeded plain MLP ``(B, 64) -> (B, classes)`` with ``depth`` weight layers."""
    seed_everything(seed)
    net = create("plain_mlp", in_features=64, num_classes=classes, depth=depth, width=width)
    return add_dropout(net, dropout) if dropout > 0 else net


def train(model: nn.Module, train_data: Any, val_data: Any, *, opt: str, lr: float,
          epochs: int, batch_size: int, seed: int, device: str, weight_decay: float = 0.0,
          groups: Any = None, guard: bool = True, **opt_kw: Any) -> Trainer:
    """Fit ``model`` with optimizer ``opt`` and return the trainer (history inside)."""
    params = groups if groups is not None else model
    optimizer = make_optimizer(opt, params, lr, weight_decay=weight_decay, **opt_kw)
    trainer = Trainer(model, nn.CrossEntropyLoss(), optimizer, device=device, seed=seed,
                      progress="off", guard=guard)
    trainer.fit(train_data, val_data, epochs=epochs, batch_size=batch_size)
    return trainer


def finite(x: float | None) -> float:
    """``x`` as a float, with NaN/None (a diverged run) mapped to +inf."""
    return math.inf if x is None or not math.isfinite(float(x)) else float(x)


def timed(fn: Any, *args: Any, **kw: Any) -> tuple[Any, float]:
    """``fn(*args, **kw)`` and the seconds it took."""
    t0 = time.perf_counter()
    return fn(*args, **kw), time.perf_counter() - t0


# ---------------------------------------------------------------- 1. convergence vs lr


def convergence(seed: int, lrs: tuple[float, ...], epochs: int, n_train: int,
                device: str) -> dict[float, LrRun]:
    """SGD + momentum 0.9 at each learning rate: per-epoch train loss, val acc, seconds."""
    data = digits(seed)
    train_data = subset(data.train, n_train, seed)
    out: dict[float, LrRun] = {}
    for lr in lrs:
        t = train(mlp(seed, 3, 64), train_data, tuple(data.val), opt="sgd", lr=lr,
                  momentum=0.9, epochs=epochs, batch_size=32, seed=seed, device=device,
                  guard=False)  # let a too-large rate diverge visibly
        h = t.history
        out[lr] = LrRun(train_loss=[finite(v) for v in h["train_loss"]],
                        val_acc=list(h["val_acc"]), time_s=list(h["time_s"]))
    return out


# ---------------------------------------------------------------- 2+3. fit, gap, selection


def fitting(seed: int, configs: list[FitConfig], n_train: int, epochs: int,
            device: str) -> list[FitRow]:
    """Train each config (batch_size, dropout, weight_decay) on ``n_train`` examples.

    Returns per config its train accuracy (eval mode, on the examples it trained on),
    validation and test accuracy, and the gap ``train_acc - val_acc``.
    """
    data = digits(seed)
    small = subset(data.train, n_train, seed)
    rows = []
    for cfg in configs:
        model = mlp(seed, 3, 128, dropout=cfg.dropout)
        t = train(model, small, tuple(data.val), opt="sgd", lr=0.05, momentum=0.9,
                  weight_decay=cfg.weight_decay, epochs=epochs,
                  batch_size=cfg.batch_size, seed=seed, device=device)
        train_acc = t.evaluate(small)["acc"]
        val_acc, test_acc = t.evaluate(tuple(data.val))["acc"], t.evaluate(tuple(data.test))["acc"]
        rows.append(FitRow(cfg.batch_size, cfg.dropout, cfg.weight_decay, seed=seed,
                           train_acc=train_acc, val_acc=val_acc, test_acc=test_acc,
                           gap=train_acc - val_acc))
    return rows


# ---------------------------------------------------------------- 4. efficiency


def saved_bytes(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> int:
    """Bytes of the tensors autograd saves for backward in one forward pass (activation memory).

    Counted with ``torch.autograd.graph.saved_tensors_hooks``, each storage once; weights
    saved by reference are counted too (a constant that does not grow with the batch).
    """
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        st = t.untyped_storage()
        seen[st.data_ptr()] = st.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = nn.functional.cross_entropy(model(X), y)
    loss.backward()
    return sum(seen.values())


def efficiency(seed: int, batch_sizes: tuple[int, ...], epochs: int, n_train: int,
               device: str) -> dict[int, EfficiencyRow]:
    """Per batch size: seconds per epoch (median over epochs), activation bytes, peak CUDA
    bytes when on a GPU."""
    X, y = subset(digits(seed).train, n_train, seed)
    out: dict[int, EfficiencyRow] = {}
    for bs in batch_sizes:
        model = mlp(seed, 3, 128)
        t = train(model, (X, y), None, opt="sgd", lr=0.05, momentum=0.9, epochs=epochs,
                  batch_size=bs, seed=seed, device=device)
        times = sorted(t.history["time_s"])
        dev = next(model.parameters()).device
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(dev)
        nbytes = saved_bytes(model, X[:bs].to(dev), y[:bs].to(dev))
        peak = torch.cuda.max_memory_allocated(dev) if dev.type == "cuda" else None
        out[bs] = EfficiencyRow(epoch_s=times[len(times) // 2], saved_bytes=nbytes,
                                cuda_peak_bytes=peak)
    return out


def line_fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares slope of ``ys`` on ``xs`` and the fit's R^2 = 1 - SS_res / SS_tot."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs)
    resid = sum((y - my - slope * (x - mx)) ** 2 for x, y in zip(xs, ys, strict=True))
    return slope, 1 - resid / max(sum((y - my) ** 2 for y in ys), 1e-12)


# ---------------------------------------------------------------- 5. capacity


def capacity(seed: int, depths: tuple[int, ...], widths: tuple[int, ...], n_train: int,
             epochs: int, device: str) -> dict[tuple[int, int], CapacityCell]:
    """Train/val accuracy, and the loss gap (val - train), of every (depth, width) MLP trained
    on ``n_train`` examples (Adam)."""
    data = digits(seed)
    small = subset(data.train, n_train, seed)
    out = {}
    for d in depths:
        for w in widths:
            t = train(mlp(seed, d, w), small, None, opt="adam", lr=3e-3, epochs=epochs,
                      batch_size=32, seed=seed, device=device)
            tr, va = t.evaluate(small), t.evaluate(tuple(data.val))
            out[(d, w)] = CapacityCell(train_acc=tr["acc"], val_acc=va["acc"],
                                       gap=tr["acc"] - va["acc"],
                                       loss_gap=va["loss"] - tr["loss"])
    return out


# ---------------------------------------------------------------- 6. optimizers

OPTIMIZERS = {"sgd": ("sgd", {}), "sgd_momentum": ("sgd", {"momentum": 0.9}),
              "adam": ("adam", {}), "rmsprop": ("rmsprop", {})}  # name: (optimizer, kwargs)


def optimizers(seed: int, grids: dict[str, tuple[float, ...]], n_train: int, epochs: int,
               device: str) -> dict[str, OptimizerRun]:
    """Each optimizer at each rate of its grid; keep the rate with the best final val acc."""
    data = digits(seed)
    small = subset(data.train, n_train, seed)
    out: dict[str, OptimizerRun] = {}
    for name, lrs in grids.items():
        opt, extra = OPTIMIZERS[name]
        runs = []
        for lr in lrs:
            t = train(mlp(seed, 3, 64), small, tuple(data.val), opt=opt, lr=lr, epochs=epochs,
                      batch_size=32, seed=seed, device=device, guard=False, **extra)
            runs.append(OptimizerRun(lr=lr, val_acc=t.history["val_acc"][-1],
                                     train_loss=[finite(v) for v in t.history["train_loss"]]))
        best = max(runs, key=lambda r: r.val_acc)
        best.grid = [(r.lr, r.val_acc) for r in runs]
        out[name] = best
    return out


# ---------------------------------------------------------------- 7. transfer


def _digit_split(split: Any, low: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Examples whose label is in ``low..low+4``, relabelled ``0..4``."""
    X, y = split
    keep = (y >= low) & (y < low + 5)
    return X[keep], y[keep] - low


SHIFTS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]  # one-pixel translations


def shift(X: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Flat 8x8 images ``(N, 64)`` translated by ``(dy, dx)`` pixels, zero (background) fill."""
    img = nn.functional.pad(X.view(-1, 8, 8), (1, 1, 1, 1))  # (N, 10, 10)
    return img[:, 1 - dy:9 - dy, 1 - dx:9 - dx].reshape(-1, 64)  # (N, 64)


def all_shifts(X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Every image at each of the 9 one-pixel shifts: ``(9N, 64)``, labels repeated."""
    return torch.cat([shift(X, dy, dx) for dy, dx in SHIFTS]), y.repeat(len(SHIFTS))


def random_shifts(X: torch.Tensor, seed: int) -> torch.Tensor:
    """Each image at one of the 9 shifts drawn with ``seed``."""
    pick = torch.randint(len(SHIFTS), (len(X),), generator=torch.Generator().manual_seed(seed))
    out = torch.empty_like(X)
    for k, (dy, dx) in enumerate(SHIFTS):
        out[pick == k] = shift(X[pick == k], dy, dx)
    return out


def _logreg_on_features(model: nn.Module, train: Any, test: Any) -> float:
    """Test accuracy of a (well-converged) logistic regression on the frozen backbone's
    features: what the frozen arm's head should reach if its schedule is long enough."""
    from sklearn.linear_model import LogisticRegression

    feats = nn.Sequential(*list(model.children())[:-1]).eval()  # all but the head
    with torch.no_grad():
        ftr, fte = feats(train[0]).numpy(), feats(test[0]).numpy()
    clf = LogisticRegression(max_iter=2000).fit(ftr, train[1].numpy())
    return float((clf.predict(fte) == test[1].numpy()).mean())


def _target_task(data: Any, per_class: int, seed: int) -> tuple[Any, Any]:
    """Few labels of digits 5-9, each at a random shift; the test set is every 5-9 image of
    validation + test at all 9 shifts (nothing is selected on it)."""
    X5, y5 = _digit_split(data.train, 5)
    few = torch.cat([torch.nonzero(y5 == c).flatten()[:per_class] for c in range(5)])
    train_x = random_shifts(X5[few], seed + 7)
    (Xv, yv), (Xt, yt) = _digit_split(data.val, 5), _digit_split(data.test, 5)
    return (train_x, y5[few]), all_shifts(torch.cat([Xv, Xt]), torch.cat([yv, yt]))


def transfer(seed: int, per_class: int, pre_epochs: int, ft_epochs: int, lr: float,
             device: str, ft_batch: int = 8) -> TransferResult:
    """Pretrain on digits 0-4 (all one-pixel shifts), fine-tune on a few labels of 5-9.

    The target task is hard on purpose: ``per_class`` labels per class, each at a random
    one-pixel shift, tested on shifted images, so a model trained from scratch cannot learn
    translation robustness from its few examples while a backbone pretrained on shifted 0-4
    digits can bring it. Variants: ``scratch`` (no pretraining), ``frozen`` (train only the
    new head), ``same_lr`` (everything at ``lr``), ``small_backbone_lr`` (backbone at
    ``lr / 10``), all with Adam, the same ``ft_epochs`` at batch ``ft_batch``. Returns the
    target test accuracy of each, and ``frozen_logreg``: a converged logistic regression on
    the frozen features (a check that the frozen arm's head is trained long enough).
    """
    data = digits(seed)
    src_train = all_shifts(*_digit_split(data.train, 0))
    src_val = _digit_split(data.val, 0)
    tgt_train, tgt_test = _target_task(data, per_class, seed)
    base = mlp(seed, 3, 128, classes=5)
    train(base, src_train, src_val, opt="adam", lr=1e-3, epochs=pre_epochs, batch_size=64,
          seed=seed, device=device)
    pretrained = {k: v.detach().clone() for k, v in base.state_dict().items()}
    acc: dict[str, float] = {}
    for variant in ("scratch", "frozen", "same_lr", "small_backbone_lr"):
        model = mlp(seed, 3, 128, classes=5)
        if variant != "scratch":
            model.load_state_dict(pretrained)
        seed_everything(seed + 1)
        model.out = nn.Linear(128, 5)  # a new head for the new classes
        backbone = [p for n, p in model.named_parameters() if not n.startswith("out.")]
        groups = [{"params": model.out.parameters()}]
        if variant == "frozen":
            for p in backbone:
                p.requires_grad_(False)
        else:
            scale = 0.1 if variant == "small_backbone_lr" else 1.0
            groups.append({"params": backbone, "lr": lr * scale})
        t = train(model, tgt_train, None, opt="adam", lr=lr, epochs=ft_epochs,
                  batch_size=ft_batch, seed=seed, device=device, groups=groups)
        acc[variant] = t.evaluate(tgt_test)["acc"]
        if variant == "frozen":
            acc["frozen_logreg"] = _logreg_on_features(model.cpu(), tgt_train, tgt_test)
    return TransferResult(**acc)
