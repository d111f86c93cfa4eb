"""Character recognition and verification on generated glyphs: one seed's measurements.

Per seed ``s`` the glyph classes depend on ``s``:

- training classes ``0 .. n_train - 1``; the last ``n_val`` of them are validation classes
  (the lr of each arm is chosen there, never on test classes) and are not trained on;
- test classes ``n_train .. n_train + n_test - 1``, never seen in training. Their drawings are
  split in two halves: the first half trains the *upper-bound* control (the same ProtoNet
  recipe trained on the test classes themselves), the second half is the pool every method's
  episodes are drawn from (so the control never sees an episode's images either).

Every method is scored on the same episodes of that pool (paired), for every (way, shot).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.metrics import roc_auc_score, roc_curve

from deepdojo.data.glyphs import make_glyphs

from .episodes import Episodes, draw_episodes, episode_accuracy
from .training import (
    Trained,
    conv_encoder,
    train_matching,
    train_protonet,
    train_siamese,
    train_supervised,
    val_accuracy,
)

ARMS = ("protonet", "siamese", "supervised")  # trained on the training classes, lr tuned
METHODS = ("pixels", "random", "siamese", "protonet", "supervised", "upper_bound")
HEADS = {"pixels": "nn", "random": "prototype", "siamese": "nn", "protonet": "prototype",
         "supervised": "cosine", "upper_bound": "prototype", "matching": "matching"}


def arms(cfg) -> tuple[str, ...]:
    """The learned arms of this config: ``ARMS`` plus the matching network when ``cfg.matching``."""
    return ARMS + (("matching",) if cfg.matching else ())


def methods(cfg) -> tuple[str, ...]:
    """Every scored method of this config (``METHODS``, then the matching network if run)."""
    return METHODS + (("matching",) if cfg.matching else ())


@dataclass
class Verification:
    """Same/different pairs of test classes: ROC-AUC, equal error rate and the ROC curve."""

    auc: float
    eer: float
    fpr: np.ndarray = field(repr=False)
    tpr: np.ndarray = field(repr=False)


@dataclass
class CharRun:
    """One seed: per-episode accuracies ``acc[method][(way, shot)]`` (E,), the A/A episode
    difference, the chosen lrs, verification scores, and the test/train class overlap."""

    seed: int
    acc: dict[str, dict[tuple[int, int], np.ndarray]]
    aa: float  # ProtoNet, 20-way 1-shot: mean on a second episode set minus the first
    lrs: dict[str, float]
    val: dict[str, dict[float, float]]  # arm -> lr -> validation accuracy (tuned seeds only)
    verification: dict[str, Verification]
    overlap: int  # test class ids that also occur in training (0 by construction)
    example: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)


def glyph_split(cfg, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Training, validation, upper-bound-training and episode-pool sets of one seed."""
    Xa, ya = make_glyphs(cfg.n_train_classes, cfg.drawings, size=cfg.size, seed=seed)
    Xt, yt = make_glyphs(cfg.n_test_classes, cfg.drawings, size=cfg.size, seed=seed,
                         first_class=cfg.n_train_classes)  # fmt: skip
    val = ya >= cfg.n_train_classes - cfg.n_val_classes
    first_half = (np.arange(len(yt)) % cfg.drawings) < cfg.drawings // 2
    return {"train": (Xa[~val], ya[~val]), "val": (Xa[val], ya[val]),
            "upper": (Xt[first_half], yt[first_half]), "pool": (Xt[~first_half], yt[~first_half])}


def _trainer(cfg, arm: str, X: np.ndarray, y: np.ndarray, seed: int) -> Callable[[float], Trained]:
    common = {"hidden": cfg.hidden, "blocks": cfg.blocks, "images": cfg.train_images,
              "seed": seed}
    if arm in ("protonet", "upper_bound"):
        return lambda lr: train_protonet(X, y, lr=lr, way=cfg.train_way, shot=cfg.train_shot,
                                         query=cfg.train_query, **common)
    if arm == "matching":
        return lambda lr: train_matching(X, y, lr=lr, way=cfg.train_way, shot=cfg.train_shot,
                                         query=cfg.train_query, **common)
    if arm == "siamese":
        return lambda lr: train_siamese(X, y, lr=lr, pairs=cfg.pairs, **common)
    return lambda lr: train_supervised(X, y, lr=lr, batch=cfg.batch, **common)


def tune_arms(cfg, data: dict, seed: int
              ) -> tuple[dict[str, dict[float, Trained]], dict[str, dict[float, float]]]:
    """Train every arm at every lr of ``cfg.lrs`` and score each on the validation classes
    (5-way 1-shot, the arm's own head); the choice is made over the tune seeds
    (:func:`choose_lrs`)."""
    tried, val = {}, {}
    for arm in arms(cfg):
        fit = _trainer(cfg, arm, *data["train"], seed)
        tried[arm] = {lr: fit(lr) for lr in cfg.lrs}
        val[arm] = {lr: val_accuracy(m, *data["val"], head=HEADS[arm],
                                     episodes=cfg.val_episodes, seed=seed)
                    for lr, m in tried[arm].items()}  # fmt: skip
    return tried, val


def choose_lrs(vals: list[dict[str, dict[float, float]]]) -> dict[str, float]:
    """Per arm, the lr of the best mean validation accuracy over the tune seeds' ``vals``
    (ties go to the smaller lr)."""
    return {arm: max(vals[0][arm], key=lambda lr, a=arm: (
        float(np.mean([v[a][lr] for v in vals])), -lr)) for arm in vals[0]}


def train_arms(cfg, data: dict, seed: int, lrs: dict[str, float] | None
               ) -> tuple[dict[str, Trained], dict[str, dict[float, float]]]:
    """Train the three arms at ``lrs``; with ``lrs=None`` pick each arm's lr from ``cfg.lrs``
    on this seed's validation classes alone and keep the chosen model."""
    if lrs is None:
        tried, val = tune_arms(cfg, data, seed)
        chosen = choose_lrs([val])
        return {arm: tried[arm][chosen[arm]] for arm in arms(cfg)}, val
    return {arm: _trainer(cfg, arm, *data["train"], seed)(lrs[arm]) for arm in arms(cfg)}, {}


def tune_seed(cfg, seed: int) -> tuple[dict, dict[str, dict[float, Trained]],
                                        dict[str, dict[float, float]]]:
    """One tune seed: its data, every arm trained at every lr, and their validation scores."""
    data = glyph_split(cfg, seed)
    return (data, *tune_arms(cfg, data, seed))


def verification(Z: dict[str, np.ndarray], y: np.ndarray, pairs: int, seed: int
                 ) -> dict[str, Verification]:
    """ROC of ``-||z1 - z2||`` as a "same class" score over ``pairs`` same + ``pairs``
    different pairs of the pool; the equal error rate is where ``FPR = 1 - TPR``."""
    rng = np.random.default_rng([seed, 7])
    n = len(y)
    a = rng.integers(0, n, 8 * pairs)
    b = rng.integers(0, n, 8 * pairs)
    ok = a != b
    same = ok & (y[a] == y[b])
    diff = ok & (y[a] != y[b])
    ia = np.concatenate([a[same][:pairs], a[diff][:pairs]])
    ib = np.concatenate([b[same][:pairs], b[diff][:pairs]])
    truth = np.concatenate([np.ones(min(pairs, same.sum())), np.zeros(min(pairs, diff.sum()))])
    out = {}
    for name, z in Z.items():
        score = -np.linalg.norm(z[ia] - z[ib], axis=1)
        fpr, tpr, _ = roc_curve(truth, score)
        k = int(np.argmin(np.abs(fpr - (1 - tpr))))
        out[name] = Verification(float(roc_auc_score(truth, score)),
                                 float((fpr[k] + 1 - tpr[k]) / 2), fpr, tpr)
    return out


def run_seed(cfg, seed: int, lrs: dict[str, float] | None, tuned: tuple | None = None
             ) -> CharRun:
    """Train every arm for ``seed`` (or take ``tuned = (data, tried, val)`` of
    :func:`tune_seed` at ``lrs``) and score every method on the same episodes."""
    if tuned is not None and lrs is not None:
        data, tried, val = tuned
        models = {arm: tried[arm][lrs[arm]] for arm in arms(cfg)}
    else:
        data = glyph_split(cfg, seed)
        models, val = train_arms(cfg, data, seed, lrs)
    chosen = {arm: m.lr for arm, m in models.items()}
    models["upper_bound"] = _trainer(cfg, "upper_bound", *data["upper"], seed)(
        chosen["protonet"])
    torch.manual_seed(seed)
    models["random"] = Trained(conv_encoder(cfg.hidden, cfg.blocks), lr=0.0)
    Xp, yp = data["pool"]
    Z = {"pixels": Xp.reshape(len(Xp), -1)}
    Z |= {name: m.embed(Xp) for name, m in models.items()}
    acc: dict[str, dict[tuple[int, int], np.ndarray]] = {m: {} for m in methods(cfg)}
    eps_by: dict[tuple[int, int], Episodes] = {}
    for j, (way, shot) in enumerate(cfg.settings):
        eps = eps_by[(way, shot)] = draw_episodes(yp, way, shot, cfg.n_query, cfg.episodes,
                                                  seed * 100 + j)
        for m in methods(cfg):
            acc[m][(way, shot)] = episode_accuracy(Z[m], eps, HEADS[m])
    again = draw_episodes(yp, 20, 1, cfg.n_query, cfg.episodes, seed * 100 + 99)
    aa = float(episode_accuracy(Z["protonet"], again, "prototype").mean()
               - acc["protonet"].get((20, 1), acc["protonet"][cfg.settings[0]]).mean())
    ver = verification({k: Z[k] for k in ("pixels", "siamese", "protonet")}, yp, cfg.pairs_eval,
                       seed)  # fmt: skip
    train_ids = set(np.unique(data["train"][1])) | set(np.unique(data["val"][1]))
    e = eps_by[cfg.settings[0]]
    example = (Xp[e.support_idx[0]], Xp[e.query_idx[0]])
    return CharRun(seed, acc, aa, chosen, val, ver, len(train_ids & set(np.unique(yp))),
                   example)
