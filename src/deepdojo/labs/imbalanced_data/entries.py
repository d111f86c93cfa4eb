"""Settings and leaderboard entries of the imbalanced-data lab.

A *setting* is a binary "rare class vs the rest" problem at a fixed imbalance ratio, split
train/val/test with the same ratio in every split. An *entry* trains on the setting's train
split and returns positive-class scores on val and test plus its default decision threshold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import BatchSampler, DataLoader, TensorDataset

from deepdojo.data import load_breast_cancer, load_digits, load_mnist1d, train_val_test_split
from deepdojo.data.imbalance import (
    BalancedSampler,
    ResampledDataset,
    check_splits,
    class_weights,
    make_imbalanced,
)
from deepdojo.data.imbalance_features import ClassDistanceFeatures, augment_minority
from deepdojo.data.imbalance_models import (
    BalancedBaggingEnsemble,
    KNNDistanceDetector,
    replace_head,
)
from deepdojo.metrics import tune_threshold
from deepdojo.models import create
from deepdojo.nn.losses import FocalLoss, LogitAdjustedLoss
from deepdojo.train import Callback, Trainer


@dataclass
class Setting:
    """One binary imbalanced problem; ``*_orig`` keep the original multi-class labels."""

    name: str
    X_train: Tensor  # (N_tr, D) standardised with train statistics
    y_train: Tensor  # (N_tr,) 0 = majority (the rest), 1 = the rare class
    X_val: Tensor
    y_val: Tensor
    X_test: Tensor
    y_test: Tensor
    orig_train: Tensor  # (N_tr,) original labels, for the related pretraining task


@dataclass
class Hyper:
    """Training sizes shared by the entries (all networks; ``trees`` for the random forest)."""

    hidden: int
    epochs: int
    batch_size: int
    lr: float
    members: int
    device: str = "cpu"
    trees: int = 100
    gan_epochs: int = 0  # epochs of the GAN over-sampler (0: the GAN entry is left out)


@dataclass
class EntryOutput:
    """Positive-class scores on val and test (N,), and the default decision threshold."""

    val: np.ndarray
    test: np.ndarray
    threshold: float


def _pool(kind: str, num_samples: int) -> tuple[Tensor, Tensor]:
    """All samples of a base dataset as flat (N, D) features and original labels."""
    if kind == "digits":
        splits = load_digits(flat=True)
    elif kind == "breast_cancer":
        splits = load_breast_cancer(standardize=False)
    else:
        splits = load_mnist1d(num_samples=num_samples, flat=True)
    parts = (splits.train, splits.val, splits.test)
    return torch.cat([p.X for p in parts]).float(), torch.cat([p.y for p in parts])


def make_setting(kind: str, rare: int, ratio: float, seed: int, num_samples: int, *,
                 val_fraction: float = 0.15, test_fraction: float = 0.15) -> Setting:
    """Rare class ``rare`` of ``kind`` vs the rest, subsampled to ``ratio`` of the majority,
    split stratified into train / val (``val_fraction``) / test (``test_fraction``)."""
    X, y_orig = _pool(kind, num_samples)
    y = (y_orig == rare).long()  # (N,) 1 = rare class
    (_, _), kept = make_imbalanced(X, y, {1: ratio}, seed, return_indices=True)
    # split the kept row indices so the original labels travel along
    splits = train_val_test_split(kept, y[kept], val_fraction=val_fraction,
                                  test_fraction=test_fraction, seed=seed,
                                  name=f"{kind}-{rare}")  # fmt: skip
    check_splits(splits)
    rows = {part: getattr(splits, part).X for part in ("train", "val", "test")}
    mean, std = X[rows["train"]].mean(0), X[rows["train"]].std(0).clamp(min=1e-6)
    Xs = (X - mean) / std
    name = f"{kind} 1:{round(1 / ratio)}"
    return Setting(
        name, Xs[rows["train"]], y[rows["train"]], Xs[rows["val"]], y[rows["val"]],
        Xs[rows["test"]], y[rows["test"]], y_orig[rows["train"]],
    )  # fmt: skip


# ---------------------------------------------------------------- training helpers


def _mlp(in_features: int, hp: Hyper, out: int = 1) -> nn.Module:
    return create("plain_mlp", in_features=in_features, num_classes=out, depth=3, width=hp.hidden)


def _binary(loss: nn.Module) -> Callable[[Tensor, Tensor], Tensor]:
    """Adapt a loss on (N,) logits and float targets to the MLP's (N, 1) outputs."""
    return lambda out, y: loss(out.squeeze(1), y.float())


class _SamplerEpoch(Callback):
    """Give the sampler a new epoch before each epoch's batches (as DistributedSampler needs)."""

    def __init__(self, sampler: BalancedSampler) -> None:
        self.sampler = sampler

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        self.sampler.set_epoch(epoch)


def _fit(
    model: nn.Module, data: Any, loss: Callable, hp: Hyper, seed: int, callbacks: tuple = ()
) -> Trainer:
    trainer = Trainer(model, loss, "adam", lr=hp.lr, metrics={}, device=hp.device, seed=seed,
                      progress="off", callbacks=callbacks)  # fmt: skip
    trainer.fit(data, epochs=hp.epochs, batch_size=hp.batch_size)
    return trainer


def _probs(model: nn.Module, X: Tensor) -> np.ndarray:
    model.eval()
    device = next(model.parameters()).device
    with torch.no_grad():
        return torch.sigmoid(model(X.to(device)).reshape(len(X))).cpu().numpy()


def _scored(model: nn.Module, s: Setting, transform: Callable[[Tensor], Tensor] | None = None):
    f = transform or (lambda x: x)
    return EntryOutput(_probs(model, f(s.X_val)), _probs(model, f(s.X_test)), 0.5)


def _train_bce(
    s: Setting, hp: Hyper, seed: int, loss: nn.Module, data: Any = None, callbacks: tuple = ()
) -> nn.Module:
    torch.manual_seed(seed)
    model = _mlp(s.X_train.shape[1], hp)
    data = data if data is not None else (s.X_train, s.y_train)
    _fit(model, data, _binary(loss), hp, seed, callbacks)
    return model


# ---------------------------------------------------------------- entries


def plain(s: Setting, hp: Hyper, seed: int) -> EntryOutput:
    """MLP + plain binary cross-entropy."""
    return _scored(_train_bce(s, hp, seed, nn.BCEWithLogitsLoss()), s)


def weighted(s: Setting, hp: Hyper, seed: int) -> EntryOutput:
    """BCE with pos_weight = w1 / w0 from effective-number class weights (beta = 0.999)."""
    w = class_weights(s.y_train, "effective_number", beta=0.999)
    return _scored(_train_bce(s, hp, seed, nn.BCEWithLogitsLoss(pos_weight=w[1] / w[0])), s)


def focal(s: Setting, hp: Hyper, seed: int) -> EntryOutput:
    """Binary focal loss, RetinaNet defaults (alpha = 0.25, gamma = 2)."""
    return _scored(_train_bce(s, hp, seed, FocalLoss()), s)


def logit_adjusted(s: Setting, hp: Hyper, seed: int) -> EntryOutput:
    """Logit-adjusted BCE (tau = 1): raw logits target the balanced error."""
    counts = torch.bincount(s.y_train, minlength=2)
    return _scored(_train_bce(s, hp, seed, LogitAdjustedLoss(counts, task="binary")), s)


def oversample(s: Setting, hp: Hyper, seed: int) -> EntryOutput:
    """Random over-sampling in the loader: BalancedSampler(mode="over")."""
    sampler = BalancedSampler(s.y_train, mode="over", seed=seed)
    # whole batches of indices at once (batch_size=None): no per-sample __getitem__ + collate
    batches = BatchSampler(sampler, hp.batch_size, drop_last=False)
    loader = DataLoader(TensorDataset(s.X_train, s.y_train), batch_size=None, sampler=batches)
    model = _train_bce(s, hp, seed, nn.BCEWithLogitsLoss(), loader, (_SamplerEpoch(sampler),))
    return _scored(model, s)


def smote(s: Setting, hp: Hyper, seed: int) -> EntryOutput:
    """SMOTE (imbalanced-learn) on the training split."""
    k = min(5, int(s.y_train.sum()) - 1)
    ds = ResampledDataset(s.X_train, s.y_train, "smote", seed=seed, k_neighbors=k)
    return _scored(_train_bce(s, hp, seed, nn.BCEWithLogitsLoss(), data=(ds.X, ds.y)), s)


def gan(s: Setting, hp: Hyper, seed: int) -> EntryOutput:
    """Conditional-GAN over-sampling (:class:`deepdojo.oversample.GANOverSampler`, trained
    ``hp.gan_epochs`` epochs on the training split) to a balanced training set, then the plain
    BCE network, as SMOTE."""
    from deepdojo.oversample import GANOverSampler

    sampler = GANOverSampler(epochs=hp.gan_epochs, random_state=seed)
    X, y = sampler.fit_resample(s.X_train.numpy(), s.y_train.numpy())
    data = (torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long))
    return _scored(_train_bce(s, hp, seed, nn.BCEWithLogitsLoss(), data=data), s)


def features(s: Setting, hp: Hyper, seed: int) -> EntryOutput:
    """Inputs + per-class centroid distances and kNN densities (standardised)."""
    gen = ClassDistanceFeatures(k=5)
    train = gen.fit_transform(s.X_train, s.y_train)
    mean, std = train.mean(0), train.std(0).clamp(min=1e-6)

    def transform(x: Tensor) -> Tensor:
        return (gen.transform(x) - mean) / std

    sub = Setting(s.name, (train - mean) / std, s.y_train, s.X_val, s.y_val, s.X_test,
                  s.y_test, s.orig_train)  # fmt: skip
    return _scored(_train_bce(sub, hp, seed, nn.BCEWithLogitsLoss()), s, transform)


def _related_task(s: Setting) -> tuple[Tensor, Tensor, int]:
    """A balanced related task on the training inputs.

    Multi-class bases: classify the *other* classes (the majority rows keep their original
    labels). Breast cancer (binary base): predict whether feature 0 (mean radius) is above its
    median from the inputs with features correlated > 0.9 with it masked out.
    """
    orig = s.orig_train
    if int(orig.max()) > 1:
        rest = s.y_train == 0
        labels = torch.unique(orig[rest], return_inverse=True)[1]
        return s.X_train[rest], labels, int(labels.max()) + 1
    corr = torch.corrcoef(s.X_train.T)[0].abs()  # (D,)
    X = s.X_train.clone()
    X[:, corr > 0.9] = 0.0
    return X, (s.X_train[:, 0] > s.X_train[:, 0].median()).long(), 2


def transfer(s: Setting, hp: Hyper, seed: int) -> EntryOutput:
    """Pretrain on a balanced related task, replace the head, fine-tune all layers with BCE."""
    X_rel, y_rel, n_rel = _related_task(s)
    torch.manual_seed(seed)
    model = _mlp(s.X_train.shape[1], hp, out=n_rel)
    _fit(model, (X_rel, y_rel), nn.CrossEntropyLoss(), hp, seed)
    replace_head(model, 1)
    _fit(model, (s.X_train, s.y_train), _binary(nn.BCEWithLogitsLoss()), hp, seed)
    return _scored(model, s)


def bagging(s: Setting, hp: Hyper, seed: int) -> EntryOutput:
    """Balanced bagging: members on under-sampled balanced bootstraps, probabilities averaged."""

    def fit_fn(model: nn.Module, X: Tensor, y: Tensor) -> None:
        _fit(model, (X, y), _binary(nn.BCEWithLogitsLoss()), hp, seed)

    ens = BalancedBaggingEnsemble(lambda: _mlp(s.X_train.shape[1], hp), fit_fn, hp.members,
                                  mode="under", seed=seed)  # fmt: skip
    ens.fit(s.X_train, s.y_train)
    ens.to(hp.device)
    return EntryOutput(ens(s.X_val.to(hp.device)).cpu().numpy(),
                       ens(s.X_test.to(hp.device)).cpu().numpy(), 0.5)  # fmt: skip


def mixup(s: Setting, hp: Hyper, seed: int) -> EntryOutput:
    """Minority augmentation: in-class mixup to 5x the minority count."""
    X, y = augment_minority(s.X_train, s.y_train, method="mixup", factor=4.0, seed=seed)
    return _scored(_train_bce(s, hp, seed, nn.BCEWithLogitsLoss(), data=(X, y)), s)


def anomaly(s: Setting, hp: Hyper, seed: int) -> EntryOutput:
    """Anomaly framing: kNN distance to the majority training samples (no minority labels
    used to fit); its threshold has no natural default, so it is the F1-tuned val threshold."""
    det = KNNDistanceDetector(k=5).fit(s.X_train[s.y_train == 0])
    val, test = det.score(s.X_val).numpy(), det.score(s.X_test).numpy()
    return EntryOutput(val, test, tune_threshold(s.y_val, val))


def logreg(s: Setting, hp: Hyper, seed: int) -> EntryOutput:
    """scikit-learn LogisticRegression(class_weight="balanced")."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(class_weight="balanced", max_iter=2000, random_state=seed)
    clf.fit(s.X_train.numpy(), s.y_train.numpy())
    return EntryOutput(clf.predict_proba(s.X_val.numpy())[:, 1],
                       clf.predict_proba(s.X_test.numpy())[:, 1], 0.5)  # fmt: skip


def balanced_rf(s: Setting, hp: Hyper, seed: int) -> EntryOutput:
    """imbalanced-learn BalancedRandomForestClassifier (``hp.trees`` trees)."""
    from imblearn.ensemble import BalancedRandomForestClassifier

    clf = BalancedRandomForestClassifier(n_estimators=hp.trees, sampling_strategy="all",
                                         replacement=True, bootstrap=False, random_state=seed,
                                         n_jobs=1)  # fmt: skip
    clf.fit(s.X_train.numpy(), s.y_train.numpy())
    return EntryOutput(clf.predict_proba(s.X_val.numpy())[:, 1],
                       clf.predict_proba(s.X_test.numpy())[:, 1], 0.5)  # fmt: skip


GAN_ENTRY = "GAN over-sampling"  # trained only when ``Hyper.gan_epochs`` > 0 (full scale)
# name -> (function, kind): "plain" is the reference network, "technique" the imbalance
# techniques on the same network, "classical" the scikit-learn / imbalanced-learn baselines.
EntryFn = Callable[[Setting, Hyper, int], EntryOutput]
ENTRIES: dict[str, tuple[EntryFn, str]] = {
    "plain network": (plain, "plain"),
    "class weights": (weighted, "technique"),
    "focal loss": (focal, "technique"),
    "logit-adjusted loss": (logit_adjusted, "technique"),
    "over-sampling": (oversample, "technique"),
    "SMOTE": (smote, "technique"),
    GAN_ENTRY: (gan, "technique"),
    "generated features": (features, "technique"),
    "transfer": (transfer, "technique"),
    "balanced bagging": (bagging, "technique"),
    "minority mixup": (mixup, "technique"),
    "anomaly (kNN)": (anomaly, "technique"),
    "logistic regression (balanced)": (logreg, "classical"),
    "balanced random forest": (balanced_rf, "classical"),
}


def active_entries(hp: Hyper) -> dict[str, tuple[EntryFn, str]]:
    """The entries that run with ``hp``: all of :data:`ENTRIES`, less the GAN over-sampler
    when ``hp.gan_epochs`` is 0."""
    return {k: v for k, v in ENTRIES.items() if k != GAN_ENTRY or hp.gan_epochs > 0}
