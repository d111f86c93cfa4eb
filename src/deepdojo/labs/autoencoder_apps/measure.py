"""Measurements of the ``autoencoder-apps`` lab: anomaly detection, recommender, imputation.

One function per section and seed; settings of every arm are chosen from small grids on
validation data (never on test) and returned with the numbers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from sklearn.ensemble import IsolationForest
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.svm import OneClassSVM

from deepdojo.anomaly import AutoEncoderDetector
from deepdojo.data import load_breast_cancer, load_digits
from deepdojo.data.ratings import Ratings, make_ratings, split_ratings
from deepdojo.impute import AutoEncoderImputer
from deepdojo.labs.shared.autoencoding import manifold_data, pick
from deepdojo.models import AutoRec
from deepdojo.models.autoencoder import autorec_loss


# ---------------------------------------------------------------- anomaly detection
@dataclass
class Anomaly:
    """Test ROC-AUC and PR-AUC (average precision) per detector, the chosen settings, and the
    AE's test scores and threshold for the figure."""

    roc: dict[str, float]
    pr: dict[str, float]
    chosen: dict[str, object]
    anomaly: str
    scores: dict[str, np.ndarray] = field(default_factory=dict)


def anomaly_data(dataset: str, seed: int, out_class: int | None = None
                 ) -> tuple[np.ndarray, ...]:
    """Train (normal only), val and test rows with 0/1 anomaly labels.

    ``digits``: class ``out_class`` (default ``seed % 10``) is the anomaly (one-class-out);
    the model trains on the other nine.
    ``breast_cancer``: benign is normal, malignant the anomaly.
    """
    if dataset == "digits":
        s = load_digits(flat=True, seed=seed)
        out_class = seed % 10 if out_class is None else out_class
    else:
        s = load_breast_cancer(seed=seed)
        out_class = 0  # malignant
    parts = []
    for X, y in (s.train, s.val, s.test):
        parts.append((X.numpy().astype(np.float64), (y.numpy() == out_class).astype(int)))
    (Xtr, ytr), (Xv, yv), (Xt, yt) = parts
    return Xtr[ytr == 0], Xv, yv, Xt, yt, np.array(out_class)


def anomaly(dataset: str, seed: int, *, codes: tuple[int, ...], epochs: int,
            gammas: tuple[float, ...], max_samples: tuple[float, ...],
            contamination: float, keep_scores: bool, aa_offset: int = 0,
            digits_classes: int = 2) -> Anomaly:
    """One seed's detectors; on digits the mean over ``digits_classes`` held-out classes,
    ``seed % 10`` and (with 2) ``(seed + 5) % 10`` (so five seeds cover all ten classes). With
    ``aa_offset > 0`` the chosen AE detector is refitted with ``random_state = seed +
    aa_offset`` and scored as ``"ae_aa"`` (the A/A twin that gives the noise floor)."""
    kw: dict[str, Any] = dict(codes=codes, epochs=epochs, gammas=gammas,
                              max_samples=max_samples, contamination=contamination,
                              aa_offset=aa_offset)
    if dataset != "digits":
        return _anomaly_one(dataset, seed, None, keep_scores=keep_scores, **kw)
    parts = [_anomaly_one(dataset, seed, c, keep_scores=keep_scores and i == 0, **kw)
             for i, c in enumerate((seed % 10, (seed + 5) % 10)[:digits_classes])]
    first = parts[0]
    if len(parts) == 1:
        return first
    return Anomaly({k: float(np.mean([p.roc[k] for p in parts])) for k in first.roc},
                   {k: float(np.mean([p.pr[k] for p in parts])) for k in first.pr},
                   {**first.chosen, **{f"{k} (class {parts[1].anomaly})": v
                                       for k, v in parts[1].chosen.items()
                                       if k in ("ae", "vae", "iforest", "ocsvm")}},
                   "+".join(p.anomaly for p in parts), first.scores)


def _anomaly_one(dataset: str, seed: int, out_class: int | None, *, codes: tuple[int, ...],
                 epochs: int, gammas: tuple[float, ...], max_samples: tuple[float, ...],
                 contamination: float, keep_scores: bool, aa_offset: int = 0) -> Anomaly:
    """AE and VAE reconstruction error vs IsolationForest and OneClassSVM; each detector's
    setting is chosen on validation ROC-AUC."""
    Xtr, Xv, yv, Xt, yt, held_out = anomaly_data(dataset, seed, out_class)
    builders: dict[str, Callable[[Any], Any]] = {
        "ae": lambda c: AutoEncoderDetector(code_size=c, hidden=(32,), epochs=epochs,
                                            contamination=contamination, random_state=seed),
        "vae": lambda c: AutoEncoderDetector(code_size=c, hidden=(32,), epochs=epochs, vae=True,
                                             contamination=contamination, random_state=seed),
        "iforest": lambda m: IsolationForest(max_samples=m, contamination=contamination,
                                             random_state=seed),
        "ocsvm": lambda g: OneClassSVM(gamma=g / Xtr.shape[1] / Xtr.var(), nu=contamination),
    }
    grids = {"ae": codes, "vae": codes, "iforest": max_samples, "ocsvm": gammas}
    res = Anomaly({}, {}, {}, str(held_out))
    for name, build in builders.items():
        fitted: dict[Any, Any] = {}

        def val_auc(v: object, build=build, fitted=fitted) -> float:
            fitted[v] = build(v).fit(Xtr)
            return -roc_auc_score(yv, -fitted[v].score_samples(Xv))

        best, _ = pick(grids[name], val_auc)
        det = fitted[best]
        score = -det.score_samples(Xt)  # higher = more anomalous
        res.roc[name] = float(roc_auc_score(yt, score))
        res.pr[name] = float(average_precision_score(yt, score))
        res.chosen[name] = best
        if name == "ae" and aa_offset:
            twin = AutoEncoderDetector(code_size=best, hidden=(32,), epochs=epochs,
                                       contamination=contamination,
                                       random_state=seed + aa_offset).fit(Xtr)
            twin_score = -twin.score_samples(Xt)
            res.roc["ae_aa"] = float(roc_auc_score(yt, twin_score))
            res.pr["ae_aa"] = float(average_precision_score(yt, twin_score))
        if name == "ae":
            res.chosen["ae_train_flagged"] = float((det.predict(Xtr) == -1).mean())
            res.chosen["n_train"] = len(Xtr)
        if keep_scores and name == "ae":
            res.scores = {"normal": score[yt == 0], "anomaly": score[yt == 1],
                          "threshold": np.array(-det.offset_)}
    res.pr["base_rate"] = float(yt.mean())
    return res


# ---------------------------------------------------------------- recommender
@dataclass
class Rec:
    """Held-out RMSE of item mean, matrix factorisation and AutoRec, and MF's chosen setting."""

    rmse: dict[str, float]
    mf_setting: tuple[int, float]


def _rmse(pred: np.ndarray, part: Ratings) -> float:
    return float(np.sqrt(np.mean((pred[part.users, part.items] - part.ratings) ** 2)))


def item_mean(train: Ratings) -> np.ndarray:
    """Predict each item's mean training rating (the global mean for an unrated item)."""
    R, M = train.matrix()
    counts = M.sum(0)
    means = np.where(counts > 0, R.sum(0) / np.maximum(counts, 1), train.ratings.mean())
    return np.broadcast_to(means, R.shape)


def mf_als(train: Ratings, rank: int, reg: float, iters: int, seed: int) -> np.ndarray:
    r"""Matrix factorisation by alternating least squares on mean-centred ratings:
    :math:`\min \sum_{obs} (r_{ui} - \mu - p_u \cdot q_i)^2 + \lambda (|p_u|^2 + |q_i|^2)`."""
    rng = np.random.default_rng(seed)
    R, M = train.matrix()
    mu = train.ratings.mean()
    Rc = np.where(M, R - mu, 0.0)
    P = 0.1 * rng.standard_normal((train.num_users, rank))
    Q = 0.1 * rng.standard_normal((train.num_items, rank))
    eye = reg * np.eye(rank)
    for _ in range(iters):
        for u in range(train.num_users):
            Qm = Q[M[u]]
            P[u] = np.linalg.solve(Qm.T @ Qm + eye, Qm.T @ Rc[u, M[u]])
        for i in range(train.num_items):
            Pm = P[M[:, i]]
            Q[i] = np.linalg.solve(Pm.T @ Pm + eye, Pm.T @ Rc[M[:, i], i])
    return np.clip(mu + P @ Q.T, 1, 5)


_PREDS: dict[tuple[object, ...], np.ndarray] = {}


def _memo(fn: Callable[..., np.ndarray], train: Ratings, *args: object) -> np.ndarray:
    """``fn(train, *args)``, or its stored result when the same call (same ratings, same
    arguments) ran before since :func:`clear_memo`: the fits are deterministic, so the first
    seed's fit at the setting chosen on its validation ratings is reused, not retrained."""
    key = (fn.__name__, train.num_users, train.num_items,
           *(hashlib.sha1(np.ascontiguousarray(a).tobytes()).hexdigest()
             for a in (train.users, train.items, train.ratings)), *args)
    if key not in _PREDS:
        _PREDS[key] = fn(train, *args)
    return _PREDS[key]


def clear_memo() -> None:
    """Forget the predictions :func:`_memo` stored (a lab run's start and end)."""
    _PREDS.clear()


def fit_autorec(train: Ratings, hidden: int, weight_decay: float, lr: float, epochs: int,
                seed: int) -> np.ndarray:
    """I-AutoRec trained full-batch with Adam on the observed ratings; predictions (U, I)."""
    torch.manual_seed(seed)
    R, M = train.matrix()
    Ri = torch.tensor(R.T, dtype=torch.float32)  # (I, U): one row per item
    Mi = torch.tensor(M.T)
    model = AutoRec(train.num_users, hidden)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(epochs):
        loss = autorec_loss(model(Ri), Ri, Mi)  # forward, loss on observed ratings
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return np.clip(model(Ri).double().numpy().T, 1, 5)  # (U, I)


def recommender(kind: str, seed: int, *, users: int, items: int, density: float,
                mf: tuple[int, float], als_iters: int, autorec: tuple[int, float],
                autorec_lr: float, autorec_epochs: int, aa_offset: int = 0) -> Rec:
    """Item mean, MF (rank, lambda) and AutoRec (hidden, weight decay) on one seed's split;
    with ``aa_offset > 0`` also AutoRec's A/A twin (init from ``seed + aa_offset``) as
    ``"autorec_aa"``."""
    tr, _, te = rec_split(kind, seed, users, items, density)
    preds = {"item_mean": item_mean(tr), "mf": _memo(mf_als, tr, mf[0], mf[1], als_iters, seed),
             "autorec": _memo(fit_autorec, tr, autorec[0], autorec[1], autorec_lr,
                              autorec_epochs, seed)}
    if aa_offset:
        preds["autorec_aa"] = fit_autorec(tr, autorec[0], autorec[1], autorec_lr,
                                          autorec_epochs, seed + aa_offset)
    return Rec({k: _rmse(p, te) for k, p in preds.items()}, mf)


def rec_split(kind: str, seed: int, users: int, items: int, density: float
              ) -> tuple[Ratings, Ratings, Ratings]:
    return split_ratings(make_ratings(users, items, kind=kind, density=density, seed=seed),
                         seed=seed)


# ---------------------------------------------------------------- imputation
@dataclass
class Imputation:
    """RMSE (standardized units) on the hidden test cells per imputer, and chosen settings."""

    rmse: dict[str, float]
    chosen: dict[str, object]


def impute_data(dataset: str, seed: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Complete train/val/test rows, standardized on train: breast cancer or the curved sheet."""
    if dataset == "breast_cancer":
        s = load_breast_cancer(seed=seed)
        return s.train.X.numpy().astype(float), s.val.X.numpy().astype(float), \
            s.test.X.numpy().astype(float)
    tr, va, te = (t.numpy().astype(float) for t in manifold_data(n, "nonlinear", seed))
    mu, sd = tr.mean(0), tr.std(0)
    return (tr - mu) / sd, (va - mu) / sd, (te - mu) / sd


def _hide(X: np.ndarray, rate: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Hide each cell with probability ``rate`` (MCAR), keeping one observed cell per row."""
    miss = rng.random(X.shape) < rate
    miss[np.arange(len(X)), rng.integers(0, X.shape[1], len(X))] = False
    return np.where(miss, np.nan, X), miss


def imputation(dataset: str, rate: float, seed: int, *, n: int, knn_ks: tuple[int, ...],
               ae_lrs: tuple[float, ...], ae_epochs: int, iterative_iter: int,
               aa_offset: int = 0) -> Imputation:
    """Fit each imputer on the training rows (with missing cells), choose its setting on the
    validation rows' hidden cells, score on the test rows' hidden cells. With
    ``aa_offset > 0`` the masked AE's A/A twin (``random_state = seed + aa_offset``, same lr)
    is scored as ``"masked_ae_aa"``."""
    X, Xv, Xt = impute_data(dataset, seed, n)
    rng = np.random.default_rng(seed + 7)
    Xm, _ = _hide(X, rate, rng)
    Xvm, mv = _hide(Xv, rate, rng)
    Xtm, mt = _hide(Xt, rate, rng)

    def err(imp: Any, Xm_: np.ndarray, X_: np.ndarray, m_: np.ndarray) -> float:
        return float(np.sqrt(np.mean((imp.transform(Xm_)[m_] - X_[m_]) ** 2)))

    makers: dict[str, tuple[tuple[Any, ...], Callable[[Any], Any]]] = {
        "mean": ((None,), lambda _: SimpleImputer()),
        "knn": (knn_ks, lambda k: KNNImputer(n_neighbors=k)),
        "iterative": ((None,), lambda _: IterativeImputer(max_iter=iterative_iter,
                                                          random_state=seed)),
        "masked_ae": (ae_lrs, lambda lr: AutoEncoderImputer(
            code_size=16, hidden=(64,), epochs=ae_epochs, lr=lr, random_state=seed)),
    }
    res = Imputation({}, {})
    for name, (grid, make) in makers.items():
        fitted: dict[Any, Any] = {}

        def val(v: object, make=make, fitted=fitted) -> float:
            fitted[v] = make(v).fit(Xm)
            return err(fitted[v], Xvm, Xv, mv)

        best, _ = pick(grid, val)
        res.rmse[name] = err(fitted[best], Xtm, Xt, mt)
        res.chosen[name] = best
    if aa_offset:
        twin = AutoEncoderImputer(code_size=16, hidden=(64,), epochs=ae_epochs,
                                  lr=res.chosen["masked_ae"], random_state=seed + aa_offset)
        res.rmse["masked_ae_aa"] = err(twin.fit(Xm), Xtm, Xt, mt)
    return res

