"""Ratings generator and the MovieLens-100k loader."""

from __future__ import annotations

import numpy as np
import pytest

from deepdojo.data.ratings import load_movielens_100k, make_ratings, split_ratings


def test_generator_is_seeded_in_range_and_covers_users_and_items():
    a = make_ratings(60, 40, seed=3)
    b = make_ratings(60, 40, seed=3)
    np.testing.assert_array_equal(a.ratings, b.ratings)
    assert not np.array_equal(a.ratings, make_ratings(60, 40, seed=4).ratings[: len(a)])
    assert set(np.unique(a.ratings)) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    R, M = a.matrix()
    assert M.any(axis=0).all() and M.any(axis=1).all()
    assert 0.15 < M.mean() < 0.3


def _rank_share(kind):
    d = make_ratings(80, 60, kind=kind, density=1.0, noise=0.0, rank=3, seed=0)
    R, _ = d.matrix()
    s = np.linalg.svd(R - R.mean(), compute_uv=False)
    return (s[:3] ** 2).sum() / (s**2).sum()


def test_low_rank_control_is_low_rank_and_nonlinear_is_not():
    assert _rank_share("low_rank") > 0.9  # rounding only
    assert _rank_share("nonlinear") < 0.75


def test_split_is_disjoint_and_complete():
    d = make_ratings(50, 30, seed=1)
    tr, va, te = split_ratings(d, seed=0)
    pairs = [set(zip(p.users.tolist(), p.items.tolist(), strict=True)) for p in (tr, va, te)]
    assert sum(map(len, pairs)) == len(d)
    assert not (pairs[0] & pairs[1]) and not (pairs[1] & pairs[2])
    with pytest.raises(ValueError, match="kind must be one of"):
        make_ratings(kind="cubic")


def test_movielens_loader_reads_u_data_format(tmp_path):
    path = tmp_path / "u.data"
    path.write_text("196\t242\t3\t881250949\n186\t302\t3\t891717742\n\n22\t377\t1\t878887116\n")
    d = load_movielens_100k(path)
    assert d.num_users == 196 and d.num_items == 377
    np.testing.assert_array_equal(d.users, [195, 185, 21])
    np.testing.assert_array_equal(d.items, [241, 301, 376])
    np.testing.assert_array_equal(d.ratings, [3.0, 3.0, 1.0])
    bad = tmp_path / "bad.data"
    bad.write_text("1\t2\t3\t4\n1,2,3,4\n")
    with pytest.raises(ValueError, match=r"bad.data:2: expected 4 tab-separated fields"):
        load_movielens_100k(bad)
    with pytest.raises(FileNotFoundError):
        load_movielens_100k(tmp_path / "missing")
