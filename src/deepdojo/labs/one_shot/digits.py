"""Digits split by class, a second one-shot task: learn on five digits, recognise the other five.

The bundled 8 x 8 handwritten digits of scikit-learn (1797 images, about 180 per digit, ink
0..16 scaled to [0, 1]). Per seed ``s`` a seeded permutation of the ten digits gives five
*training digits* and five *test digits* that no arm ever trains on. Evaluation is 5-way
(every episode holds all five test digits) 1- and 5-shot, ``episodes`` episodes per setting,
every method scored on the same episodes (paired).

Ten classes leave none to spare for validation, so each learned arm's lr is chosen on
*held-out drawings of the training digits*: every training digit's drawings are split in two,
the arms train on the first half and the lr grid is scored by 5-way 1-shot episodes on the
second half (never on a test digit), averaged over the tune seeds. That tells how well an
embedding separates classes it knows, a weaker proxy than new validation classes; it is the
only honest one with ten classes.

Methods: ProtoNet and the supervised embedding (the lab's conv encoder,
:func:`.training.conv_encoder`, with ``digit_blocks = 2`` blocks so that 8 x 8 inputs end on a
2 x 2 map as the Conv-4 does on 28 x 28; one budget of training images), pixel 1-NN, and the
untrained encoder (control: is the gain learned?).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .episodes import draw_episodes, episode_accuracy
from .training import Trained, conv_encoder, train_protonet, train_supervised

DIGIT_ARMS = ("protonet", "supervised")  # learned on the training digits, lr tuned
DIGIT_METHODS = ("pixels", "random", "protonet", "supervised")
DIGIT_HEADS = {"pixels": "nn", "random": "prototype", "protonet": "prototype",
               "supervised": "cosine"}
N_DIGITS_TRAIN = 5  # digits trained on; the other five are the test digits


@dataclass
class DigitRun:
    """One seed: per-episode accuracies ``acc[method][shot]`` (E,) at 5-way, the chosen lrs,
    the validation accuracy per arm and lr, and the train/test digit overlap (0)."""

    seed: int
    train_digits: list[int]
    acc: dict[str, dict[int, np.ndarray]]
    lrs: dict[str, float]
    val: dict[str, dict[float, float]]
    overlap: int


def load_digits_images() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled digits as ``(1797, 1, 8, 8)`` float32 in [0, 1] and labels."""
    from sklearn.datasets import load_digits

    d = load_digits()
    X = (d.images / 16.0).astype(np.float32)[:, None]  # (n, 1, 8, 8)
    return X, d.target.astype(np.int64)


def digit_split(seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Training digits (first half of their drawings), their held-out half (lr choice) and
    the test digits' pool, for one seed."""
    X, y = load_digits_images()
    perm = np.random.default_rng([seed, 10]).permutation(10)
    train = np.isin(y, perm[:N_DIGITS_TRAIN])
    rank = np.zeros(len(y), dtype=np.int64)  # position of each image within its digit
    for c in range(10):
        rank[y == c] = np.arange(int((y == c).sum()))
    first = rank % 2 == 0
    return {"train": (X[train & first], y[train & first]),
            "val": (X[train & ~first], y[train & ~first]),
            "pool": (X[~train], y[~train])}


def _fit(cfg, arm: str, X: np.ndarray, y: np.ndarray, lr: float, seed: int) -> Trained:
    common = {"hidden": cfg.hidden, "blocks": cfg.digit_blocks,
              "images": cfg.digit_train_images,
              "seed": seed, "lr": lr}
    if arm == "protonet":
        return train_protonet(X, y, way=N_DIGITS_TRAIN, shot=cfg.train_shot,
                              query=cfg.train_query, **common)
    return train_supervised(X, y, batch=cfg.batch, **common)


def tune_digits(cfg, seed: int) -> tuple[dict, dict[str, dict[float, Trained]],
                                          dict[str, dict[float, float]]]:
    """Train every arm at every lr of ``cfg.lrs``; validation accuracy (5-way 1-shot on the
    held-out drawings of the training digits, the arm's own head)."""
    data = digit_split(seed)
    tried, val = {}, {}
    for arm in DIGIT_ARMS:
        tried[arm] = {lr: _fit(cfg, arm, *data["train"], lr, seed) for lr in cfg.lrs}
        Xv, yv = data["val"]
        eps = draw_episodes(yv, N_DIGITS_TRAIN, 1, cfg.n_query, cfg.val_episodes, seed)
        val[arm] = {lr: float(episode_accuracy(m.embed(Xv), eps, DIGIT_HEADS[arm]).mean())
                    for lr, m in tried[arm].items()}
    return data, tried, val


def score_digits(cfg, seed: int, data: dict, models: dict[str, Trained],
                 val: dict[str, dict[float, float]]) -> DigitRun:
    """Score every method on the same 5-way 1- and 5-shot episodes of the test digits."""
    torch.manual_seed(seed)
    models = dict(models) | {"random": Trained(conv_encoder(cfg.hidden, cfg.digit_blocks),
                                                   lr=0.0)}
    Xp, yp = data["pool"]
    Z = {"pixels": Xp.reshape(len(Xp), -1)} | {m: t.embed(Xp) for m, t in models.items()}
    acc: dict[str, dict[int, np.ndarray]] = {m: {} for m in DIGIT_METHODS}
    for j, shot in enumerate(cfg.shots):
        eps = draw_episodes(yp, 5, shot, cfg.n_query, cfg.episodes, seed * 100 + 50 + j)
        for m in DIGIT_METHODS:
            acc[m][shot] = episode_accuracy(Z[m], eps, DIGIT_HEADS[m])
    train_digits = sorted(int(c) for c in np.unique(data["train"][1]))
    overlap = len(set(train_digits) & set(np.unique(yp).tolist()))
    return DigitRun(seed, train_digits, acc, {a: models[a].lr for a in DIGIT_ARMS}, val,
                    overlap)


def run_digits(cfg, seeds: list[int], tune_seeds: int) -> list[DigitRun]:
    """Tune each arm's lr on the first ``tune_seeds`` seeds (mean validation accuracy; ties
    go to the smaller lr), keep those seeds' models at the chosen lr, train the rest."""
    tuned = [tune_digits(cfg, s) for s in seeds[:tune_seeds]]
    chosen = {arm: max(cfg.lrs, key=lambda lr, a=arm: (
        float(np.mean([t[2][a][lr] for t in tuned])), -lr)) for arm in DIGIT_ARMS}
    runs = [score_digits(cfg, s, data, {a: tried[a][chosen[a]] for a in DIGIT_ARMS}, val)
            for s, (data, tried, val) in zip(seeds, tuned, strict=False)]
    for s in seeds[tune_seeds:]:
        data = digit_split(s)
        models = {a: _fit(cfg, a, *data["train"], chosen[a], s) for a in DIGIT_ARMS}
        runs.append(score_digits(cfg, s, data, models, {}))
    return runs
