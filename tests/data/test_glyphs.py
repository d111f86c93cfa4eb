"""Tests of the procedural glyphs: the difficulty anchor, seeding, class independence, shapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepdojo.data.episodes import EpisodeSampler
from deepdojo.data.glyphs import glyph_splits, make_glyphs


def test_pixel_nearest_neighbour_anchor_20_way_1_shot() -> None:
    # The anchor the difficulty was fixed by: pixel 1-NN at 20-way 1-shot scores 20-30%,
    # as on Omniglot (21.7%, Koch et al. 2015); 600 episodes of 20 queries.
    X, y = make_glyphs(200, 20, seed=0)
    flat = torch.from_numpy(X.reshape(len(X), -1))
    sampler = EpisodeSampler(y, n_way=20, k_shot=1, n_query=1, episodes=600, seed=0)
    hits = []
    for episode in sampler:
        dist = torch.cdist(flat[episode.query], flat[episode.support])  # (20, 20)
        hits.append((dist.argmin(dim=1) == torch.arange(20)).float().mean().item())
    accuracy = float(np.mean(hits))
    assert 0.20 <= accuracy <= 0.30, accuracy


def test_shapes_range_dtypes_and_class_major_labels() -> None:
    X, y = make_glyphs(4, 3, size=16, seed=1)
    assert X.shape == (12, 1, 16, 16) and X.dtype == np.float32
    assert y.dtype == np.int64 and y.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert X.min() >= 0.0 and X.max() <= 1.0
    ink = X.reshape(12, -1).sum(1)
    assert (ink > 5).all()  # every drawing has visible ink


def test_deterministic_and_seed_dependent() -> None:
    a, _ = make_glyphs(3, 2, seed=5)
    b, _ = make_glyphs(3, 2, seed=5)
    c, _ = make_glyphs(3, 2, seed=6)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_class_and_drawing_depend_only_on_their_ids() -> None:
    big, _ = make_glyphs(6, 5, seed=0)
    part, labels = make_glyphs(2, 3, seed=0, first_class=3)
    assert labels.tolist() == [3, 3, 3, 4, 4, 4]
    np.testing.assert_allclose(part[:3], big[15:18], atol=1e-6)
    np.testing.assert_allclose(part[3:], big[20:23], atol=1e-6)


def test_drawings_of_a_class_are_closer_than_other_classes() -> None:
    X, y = make_glyphs(30, 4, seed=0)
    flat = X.reshape(len(X), -1)
    dist = ((flat[:, None] - flat[None]) ** 2).sum(-1)
    same = y[:, None] == y[None]
    off_diag = ~np.eye(len(y), dtype=bool)
    assert dist[same & off_diag].mean() < dist[~same].mean()


def test_glyph_splits_are_disjoint() -> None:
    (_, y_train), (_, y_test) = glyph_splits(5, 3, 2, size=12)
    assert set(y_train.tolist()) == set(range(5))
    assert set(y_test.tolist()) == {5, 6, 7}


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_classes": 0, "n_per_class": 2}, ValueError, "n_classes"),
        ({"n_classes": 2, "n_per_class": 2.5}, TypeError, "n_per_class"),
        ({"n_classes": 2, "n_per_class": 2, "size": 4}, ValueError, "size"),
        ({"n_classes": 2, "n_per_class": 2, "seed": -1}, ValueError, "seed"),
    ],
)
def test_bad_arguments(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        make_glyphs(**kwargs)
