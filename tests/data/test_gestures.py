"""Seeded stroke gestures: shapes, determinism, class independence, rasterisation, errors."""

from __future__ import annotations

import numpy as np
import pytest

from deepdojo.data.gestures import _catmull_rom, make_gestures, rasterise_strokes


def test_shapes_dtypes_and_class_major_labels() -> None:
    X, y = make_gestures(3, 4, length=20, seed=1)
    assert X.shape == (12, 20, 2) and X.dtype == np.float32
    assert y.tolist() == [0] * 4 + [1] * 4 + [2] * 4 and y.dtype == np.int64
    R, yr = make_gestures(3, 4, form="raster", size=12, seed=1)
    assert R.shape == (12, 1, 12, 12) and R.dtype == np.float32
    assert R.min() >= 0.0 and R.max() == 1.0 and np.array_equal(y, yr)


def test_same_seed_same_numbers_other_seed_differs() -> None:
    a, _ = make_gestures(2, 3, seed=5)
    b, _ = make_gestures(2, 3, seed=5)
    c, _ = make_gestures(2, 3, seed=6)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


def test_classes_split_by_id() -> None:
    """Class c depends only on (seed, c): classes 3..4 alone equal the tail of 0..4."""
    full, yf = make_gestures(5, 2, seed=3)
    tail, yt = make_gestures(2, 2, seed=3, first_class=3)
    assert np.array_equal(full[6:], tail) and yt.tolist() == [3, 3, 4, 4]
    more, _ = make_gestures(5, 4, seed=3)  # more performances leave the first ones unchanged
    assert np.array_equal(more[4:6], full[2:4])


def test_performances_of_a_class_are_closer_than_other_classes() -> None:
    X, y = make_gestures(30, 4, seed=0)
    F = X.reshape(len(X), -1).astype(np.float64)
    d = ((F[:, None] - F[None]) ** 2).sum(-1)  # (N, N)
    same = y[:, None] == y[None]
    np.fill_diagonal(same, False)
    other = y[:, None] != y[None]
    assert np.median(d[same]) < 0.5 * np.median(d[other])


def test_zero_jitter_gives_the_template_through_its_control_points() -> None:
    zero = dict.fromkeys(("point_jitter", "rotation", "scale", "shift", "warp", "noise"), 0.0)
    X, _ = make_gestures(1, 3, seed=2, jitter=zero, length=9)
    assert np.allclose(X[0], X[1]) and np.allclose(X[0], X[2])
    pts = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
    # the spline passes through its control points at t = s / (P - 1)
    assert np.allclose(_catmull_rom(pts, np.array([0.0, 0.5, 1.0])), pts)


def test_catmull_rom_formula_at_a_midpoint() -> None:
    pts = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 1.0], [3.0, 1.0]])
    u = 0.5  # middle segment p1 -> p2 with p0, p3 as neighbours
    p0, p1, p2, p3 = pts
    want = 0.5 * (2 * p1 + (p2 - p0) * u + (2 * p0 - 5 * p1 + 4 * p2 - p3) * u**2
                  + (3 * p1 - p0 - 3 * p2 + p3) * u**3)  # fmt: skip
    assert np.allclose(_catmull_rom(pts, np.array([0.5])), want)


def test_rasterise_puts_ink_on_the_stroke_only() -> None:
    line = np.array([[[-1.2, 0.0], [1.2, 0.0]]])  # a horizontal line through the middle row
    img = rasterise_strokes(line, size=9, width=0.5)[0, 0]
    assert np.all(img[4] == 1.0)  # row 4 is y = 0
    assert np.all(img[0] == 0.0) and np.all(img[8] == 0.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_classes": 0, "n_per_class": 2}, "n_classes must be >= 1"),
        ({"n_classes": 2, "n_per_class": 2.0}, "n_per_class must be an int"),
        ({"n_classes": 2, "n_per_class": 2, "form": "video"}, "form must be one of"),
        ({"n_classes": 2, "n_per_class": 2, "jitter": {"spin": 1.0}}, "jitter key"),
        ({"n_classes": 2, "n_per_class": 2, "jitter": {"noise": -1.0}}, "jitter\\['noise'\\]"),
    ],
)
def test_bad_arguments_name_themselves(kwargs: dict, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        make_gestures(**kwargs)


def test_rasterise_rejects_bad_shape() -> None:
    with pytest.raises(ValueError, match="strokes must have shape"):
        rasterise_strokes(np.zeros((2, 5)))
