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
from deepdojo.train import Trainer, make_optimizer, schedules
from deepdojo.train.callbacks import Callback
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
    """(2, 3) One config at one learning rate trained on the small subset to convergence
    (cosine to 0), evaluated on train/val/test."""

    batch_size: int
    dropout: float
    weight_decay: float
    seed: int
    train_acc: float  # eval mode, on the examples it trained on
    val_acc: float
    test_acc: float
    gap: float  # train_acc - test_acc (validation picks the rate, so it is not the yardstick)
    lr: float = 0.0  # peak SGD + momentum rate
    train_loss: float = 0.0  # final epoch's mean training loss

    @property
    def config(self) -> FitConfig:
        return FitConfig(self.batch_size, self.dropout, self.weight_decay)


@dataclass
class BatchRun:
    """(2, Q15) One batch size at one learning rate, ``steps`` optimizer steps (cosine to 0);
    the checkpoint kept is the epoch with the best validation accuracy."""

    batch_size: int
    lr: float
    steps: int  # optimizer steps taken
    epochs: int
    train_acc: float  # final model, eval mode
    val_acc: float  # best over epochs
    test_acc: float  # at the best-validation epoch
    final_test_acc: float  # final model
    gap: float  # train_acc - final_test_acc (at convergence)
    equal_epochs: bool = False  # True: the large batch at the small batch's epochs (control)


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
    test_acc: float = 0.0  # the tuned run's test accuracy (judged; never used to choose)


@dataclass
class TransferResult:
    """(7) Target test accuracy of each fine-tuning arm (field order = figure order), and
    each arm's target validation accuracy in ``val`` (arms are chosen on it, never on test)."""

    scratch: float  # no pretraining
    frozen: float  # pretrained backbone frozen, new head trained
    frozen_logreg: float  # converged logistic regression on the frozen features (reference)
    same_lr: float  # everything fine-tuned at one rate
    small_backbone_lr: float  # backbone at a 10x smaller rate than the head
    val: dict[str, float] = field(default_factory=dict)  # arm -> target validation accuracy

    def best_on_val(self, arms: tuple[str, ...]) -> str:
        """The arm of ``arms`` with the best target validation accuracy (first on ties)."""
        return max(arms, key=lambda a: self.val[a])


@dataclass
class SeedMeasurements:
    """Everything one seed measured, and the seconds each effect took."""

    seed: int
    convergence: dict[float, LrRun]  # by learning rate
    fitting: list[FitRow]  # every config at every rate of the grid
    efficiency: dict[int, EfficiencyRow]  # by batch size
    capacity: dict[tuple[int, int], CapacityCell]  # by (depth, width)
    optimizers: dict[str, OptimizerRun]  # by optimizer name
    transfer: TransferResult
    seconds: dict[str, float]  # by effect name
    fit_aa_gap: float = 0.0  # (2) gap of the base config's pick - its twin from another init
    batches: list[BatchRun] = field(default_factory=list)  # (2, Q15) the batch-size study
    opt_aa_test: float = 0.0  # (6) test acc of tuned Adam - its twin from another init


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
          groups: Any = None, guard: bool = True, cosine: bool = False,
          callbacks: Any = (), **opt_kw: Any) -> Trainer:
    """Fit ``model`` with optimizer ``opt`` and return the trainer (history inside);
    ``cosine`` anneals the rate to 0 over the run (per batch)."""
    params = groups if groups is not None else model
    optimizer = make_optimizer(opt, params, lr, weight_decay=weight_decay, **opt_kw)
    trainer = Trainer(model, nn.CrossEntropyLoss(), optimizer, device=device, seed=seed,
                      progress="off", guard=guard, callbacks=list(callbacks),
                      scheduler=schedules.cosine(interval="batch") if cosine else None)
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


AA_INIT_OFFSET = 500  # an A/A twin is initialized with seed + this (same data, same order)


def _fit_one(seed: int, cfg: FitConfig, lr: float, small: Any, data: Any, epochs: int,
             device: str, init_offset: int = 0) -> FitRow:
    model = mlp(seed + init_offset, 3, 128, dropout=cfg.dropout)
    t = train(model, small, None, opt="sgd", lr=lr, momentum=0.9,
              weight_decay=cfg.weight_decay, epochs=epochs, batch_size=cfg.batch_size,
              seed=seed, device=device, cosine=True)
    train_acc = t.evaluate(small)["acc"]
    val_acc, test_acc = t.evaluate(tuple(data.val))["acc"], t.evaluate(tuple(data.test))["acc"]
    return FitRow(cfg.batch_size, cfg.dropout, cfg.weight_decay, seed=seed,
                  train_acc=train_acc, val_acc=val_acc, test_acc=test_acc,
                  gap=train_acc - test_acc, lr=lr,
                  train_loss=finite(t.history["train_loss"][-1]))


def pick_lr(rows: list[FitRow], config: FitConfig) -> FitRow:
    """The run of ``config`` whose rate gave the best validation accuracy (first on ties)."""
    return max((r for r in rows if r.config == config), key=lambda r: r.val_acc)


def fitting(seed: int, configs: list[FitConfig], lrs: tuple[float, ...], n_train: int,
            epochs: int, device: str) -> tuple[list[FitRow], float]:
    """Train each config (batch_size, dropout, weight_decay) at each rate of ``lrs`` on
    ``n_train`` examples, ``epochs`` epochs with the rate annealed to 0 (cosine).

    Returns every run (train accuracy in eval mode on the examples it trained on, validation
    and test accuracy, the gap ``train_acc - test_acc``) and the A/A gap difference: the
    first config at its picked rate minus the same run from another initialization.
    """
    data = digits(seed)
    small = subset(data.train, n_train, seed)
    rows = [_fit_one(seed, c, lr, small, data, epochs, device) for c in configs for lr in lrs]
    base = pick_lr(rows, configs[0])
    twin = _fit_one(seed, configs[0], base.lr, small, data, epochs, device, AA_INIT_OFFSET)
    return rows, base.gap - twin.gap


class _BestValidation(Callback):
    """Evaluates validation and test accuracy after each epoch; keeps the test accuracy of
    the epoch with the best validation accuracy (the best-validation checkpoint)."""

    def __init__(self, val: Any, test: Any) -> None:
        self.val, self.test = val, test
        self.best_val, self.test_at_best = -1.0, 0.0

    @staticmethod
    def _acc(model: nn.Module, data: Any) -> float:
        X, y = data
        dev = next(model.parameters()).device
        with torch.no_grad():
            return float((model(X.to(dev)).argmax(1) == y.to(dev)).double().mean())

    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, Any]) -> None:
        model = trainer.model
        was = model.training
        model.eval()
        val = self._acc(model, self.val)
        if val > self.best_val:
            self.best_val, self.test_at_best = val, self._acc(model, self.test)
        model.train(was)


def batch_study(seed: int, batch_sizes: tuple[int, int], lrs: tuple[float, ...], steps: int,
                base_lr: float, n_train: int, device: str) -> list[BatchRun]:
    """(2, Q15) The small and the large batch size at every rate of ``lrs``, each for about
    ``steps`` optimizer steps (whole epochs, cosine to 0), plus the control the folk result
    comes from: the large batch at ``base_lr`` for the small batch's number of epochs."""
    data = digits(seed)
    small = subset(data.train, n_train, seed)
    n = len(small[1])

    def one(bs: int, lr: float, epochs: int, equal_epochs: bool = False) -> BatchRun:
        probe = _BestValidation(tuple(data.val), tuple(data.test))
        t = train(mlp(seed, 3, 128), small, None, opt="sgd", lr=lr, momentum=0.9,
                  epochs=epochs, batch_size=bs, seed=seed, device=device, cosine=True,
                  callbacks=[probe])
        tr, te = t.evaluate(small)["acc"], t.evaluate(tuple(data.test))["acc"]
        return BatchRun(batch_size=bs, lr=lr, steps=epochs * math.ceil(n / bs), epochs=epochs,
                        train_acc=tr, val_acc=probe.best_val, test_acc=probe.test_at_best,
                        final_test_acc=te, gap=tr - te, equal_epochs=equal_epochs)

    def epochs_for(bs: int) -> int:
        return max(1, round(steps / math.ceil(n / bs)))

    runs = [one(bs, lr, epochs_for(bs)) for bs in batch_sizes for lr in lrs]
    runs.append(one(batch_sizes[1], base_lr, epochs_for(batch_sizes[0]), equal_epochs=True))
    return runs


def pick_batch(runs: list[BatchRun], batch_size: int) -> BatchRun:
    """The equal-steps run of ``batch_size`` with the best validation accuracy."""
    return max((r for r in runs if r.batch_size == batch_size and not r.equal_epochs),
               key=lambda r: r.val_acc)


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
               device: str) -> tuple[dict[str, OptimizerRun], float]:
    """Each optimizer at each rate of its grid; keep the rate with the best final val acc.

    Also returns the A/A test-accuracy difference of tuned Adam: its run minus the same run
    from another initialization (the noise floor of a test-accuracy difference)."""
    data = digits(seed)
    small = subset(data.train, n_train, seed)
    out: dict[str, OptimizerRun] = {}

    def one(name: str, lr: float, init_offset: int = 0) -> OptimizerRun:
        opt, extra = OPTIMIZERS[name]
        t = train(mlp(seed + init_offset, 3, 64), small, tuple(data.val), opt=opt, lr=lr,
                  epochs=epochs, batch_size=32, seed=seed, device=device, guard=False,
                  **extra)
        test = t.evaluate(tuple(data.test))["acc"] if t.history["val_acc"] else 0.0
        return OptimizerRun(lr=lr, val_acc=t.history["val_acc"][-1],
                            train_loss=[finite(v) for v in t.history["train_loss"]],
                            test_acc=test)

    for name, lrs in grids.items():
        runs = [one(name, lr) for lr in lrs]
        best = max(runs, key=lambda r: r.val_acc)
        best.grid = [(r.lr, r.val_acc) for r in runs]
        out[name] = best
    twin = one("adam", out["adam"].lr, AA_INIT_OFFSET)
    return out, out["adam"].test_acc - twin.test_acc


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


def _target_task(data: Any, per_class: int, seed: int) -> tuple[Any, Any, Any]:
    """Few labels of digits 5-9, each at a random shift; the target validation set (every
    5-9 image of the validation split at all 9 shifts: arms are chosen on it) and the target
    test set (the same for the test split: nothing is chosen on it)."""
    X5, y5 = _digit_split(data.train, 5)
    few = torch.cat([torch.nonzero(y5 == c).flatten()[:per_class] for c in range(5)])
    train_x = random_shifts(X5[few], seed + 7)
    return ((train_x, y5[few]), all_shifts(*_digit_split(data.val, 5)),
            all_shifts(*_digit_split(data.test, 5)))


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
    tgt_train, tgt_val, tgt_test = _target_task(data, per_class, seed)
    base = mlp(seed, 3, 128, classes=5)
    train(base, src_train, src_val, opt="adam", lr=1e-3, epochs=pre_epochs, batch_size=64,
          seed=seed, device=device)
    pretrained = {k: v.detach().clone() for k, v in base.state_dict().items()}
    acc: dict[str, Any] = {"val": {}}
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
        acc["val"][variant] = t.evaluate(tgt_val)["acc"]
        if variant == "frozen":
            acc["frozen_logreg"] = _logreg_on_features(model.cpu(), tgt_train, tgt_test)
    return TransferResult(**acc)
