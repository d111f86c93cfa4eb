r"""Ratings matrices for recommenders: a seeded generator and a MovieLens-100k ``u.data`` loader.

The generator draws users and items in a small latent space and rates each pair with either a
*low-rank* model (matrix factorisation is exactly right: the control) or a *nonlinear* one
(what an autoencoder such as AutoRec can exploit and a low-rank model cannot)::

    u_i ~ N(0, I_k),  v_j ~ N(0, I_k)                               # (U, k), (I, k)
    low-rank:   s_ij = u_i . v_j / sqrt(k)
    nonlinear:  s_ij = sum_c w_c * exp(-||u_i - v_j||^2 / 2) ...   (see :func:`make_ratings`)
    r_ij = clip(round(3 + scale * standardize(s)_ij + noise), 1, 5)

and keeps each rating with probability ``density``. Nothing here downloads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

__all__ = ["Ratings", "load_movielens_100k", "make_ratings", "split_ratings"]

KINDS = ("nonlinear", "low_rank")


@dataclass
class Ratings:
    """Observed ratings in coordinate form.

    Attributes
    ----------
    users, items : ndarray of int64, shape (N,)
        0-based user and item ids.
    ratings : ndarray of float64, shape (N,)
    num_users, num_items : int
    """

    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray
    num_users: int
    num_items: int

    def __len__(self) -> int:
        return len(self.ratings)

    def matrix(self) -> tuple[np.ndarray, np.ndarray]:
        """Dense ``(num_users, num_items)`` ratings (0 where unobserved) and the 0/1 mask."""
        R = np.zeros((self.num_users, self.num_items))
        M = np.zeros((self.num_users, self.num_items), dtype=bool)
        R[self.users, self.items] = self.ratings
        M[self.users, self.items] = True
        return R, M

    def subset(self, index: np.ndarray) -> Ratings:
        return Ratings(self.users[index], self.items[index], self.ratings[index],
                       self.num_users, self.num_items)  # fmt: skip


def make_ratings(num_users: int = 300, num_items: int = 200, *, kind: str = "nonlinear",
                 rank: int = 3, density: float = 0.2, noise: float = 0.3,
                 seed: int = 0) -> Ratings:
    """A seeded 1..5 ratings set with nonlinear or low-rank user-item structure.

    ``kind="low_rank"``: ``s_ij = u_i . v_j / sqrt(rank)``, exactly rank ``rank`` before
    rounding and noise. ``kind="nonlinear"``: a user likes items *near* them in the latent
    space, ``s_ij = exp(-||u_i - v_j||^2 / (2 rank)) + 0.5 sin(2 u_i . v_j)``, whose matrix
    has no low-rank structure (the Gaussian kernel has full rank). Scores are standardized and
    mapped to ``clip(round(3 + 1.2 s + N(0, noise^2)), 1, 5)``; each entry is observed with
    probability ``density`` (every user and item keeps at least one rating).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    for name, v in (("num_users", num_users), ("num_items", num_items), ("rank", rank)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    if not 0 < density <= 1:
        raise ValueError(f"density must be in (0, 1], got {density!r}")
    if not 0 <= noise < float("inf"):
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    U = rng.standard_normal((num_users, rank))  # (U, k)
    V = rng.standard_normal((num_items, rank))  # (I, k)
    dot = U @ V.T / np.sqrt(rank)  # (U, I)
    if kind == "low_rank":
        s = dot
    else:
        sq = ((U[:, None, :] - V[None, :, :]) ** 2).sum(-1)  # (U, I)
        s = np.exp(-sq / (2 * rank)) + 0.5 * np.sin(2 * dot)
    s = (s - s.mean()) / s.std()
    r = np.clip(np.rint(3 + 1.2 * s + noise * rng.standard_normal(s.shape)), 1, 5)
    keep = rng.random(s.shape) < density
    keep[np.arange(num_users), rng.integers(0, num_items, num_users)] = True
    keep[rng.integers(0, num_users, num_items), np.arange(num_items)] = True
    users, items = np.nonzero(keep)
    return Ratings(users.astype(np.int64), items.astype(np.int64), r[users, items],
                   num_users, num_items)  # fmt: skip


def split_ratings(data: Ratings, *, val_fraction: float = 0.1, test_fraction: float = 0.1,
                  seed: int = 0) -> tuple[Ratings, Ratings, Ratings]:
    """Random train/val/test split of the observed ratings (seeded)."""
    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(f"val_fraction and test_fraction must be in (0, 1) with a sum < 1, got "
                         f"{val_fraction} and {test_fraction}")  # fmt: skip
    order = np.random.default_rng(seed).permutation(len(data))
    n_val, n_test = int(round(val_fraction * len(data))), int(round(test_fraction * len(data)))
    return (data.subset(order[n_val + n_test:]), data.subset(order[:n_val]),
            data.subset(order[n_val:n_val + n_test]))  # fmt: skip


def load_movielens_100k(path: str | os.PathLike[str]) -> Ratings:
    """Read MovieLens-100k ``u.data``: tab-separated ``user item rating timestamp`` lines,
    1-based ids. Returns 0-based ids; ``num_users``/``num_items`` are the largest ids seen.

    Raises ``ValueError`` naming the line for a malformed row, ``FileNotFoundError`` when the
    file is missing (nothing is downloaded).
    """
    users, items, ratings = [], [], []
    with open(path, encoding="latin-1") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            parts = line.split("\t")
            if len(parts) != 4:
                raise ValueError(f"{os.fspath(path)}:{lineno}: expected 4 tab-separated fields "
                                 f"(user item rating timestamp), got {len(parts)}")  # fmt: skip
            try:
                u, i, r = int(parts[0]), int(parts[1]), float(parts[2])
                int(parts[3])
            except ValueError:
                raise ValueError(f"{os.fspath(path)}:{lineno}: non-numeric field in "
                                 f"{line.strip()!r}") from None  # fmt: skip
            if u < 1 or i < 1:
                raise ValueError(f"{os.fspath(path)}:{lineno}: ids are 1-based, got {u}, {i}")
            users.append(u - 1)
            items.append(i - 1)
            ratings.append(r)
    if not ratings:
        raise ValueError(f"{os.fspath(path)}: no ratings")
    u_arr, i_arr = np.array(users, dtype=np.int64), np.array(items, dtype=np.int64)
    return Ratings(u_arr, i_arr, np.array(ratings), int(u_arr.max()) + 1, int(i_arr.max()) + 1)
