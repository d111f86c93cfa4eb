"""Procedural glyphs: thousands of seeded, stroke-based character classes, generated offline.

A stand-in for Omniglot (Lake et al. 2015) when its files are not at hand. A *class* is a
character: 1 to 4 pen strokes, each a cubic Bézier curve, the first starting anywhere and each
later stroke starting, like handwriting, near a point of an earlier one; the character is
centred and scaled to fill 70% of its box. A *drawing* of that
character redraws it as a new hand would (per-drawing jitter, all Gaussian):

- every control point moves by ``point_jitter`` (in units of the glyph box, ``[0, 1]``);
- the whole glyph is rotated by ``rotation`` radians, scaled by ``exp(scale)``, sheared by
  ``shear`` and shifted by ``shift``;
- the pen width is ``width * exp(0.15 z)`` pixels.

Drawings are rasterised by a vectorised distance transform: each stroke is sampled at
``_POINTS_PER_STROKE`` points; a pixel's ink is ``clip(1.5 - d / width, 0, 1)`` with ``d`` its
distance (in pixels) to the nearest sampled point, so ink = 1 and paper = 0, like inverted
Omniglot.

Class ``c`` depends only on ``(seed, c)`` and drawing ``i`` of class ``c`` only on
``(seed, c, i)``, so class sets split by id (train on ``0..k-1``, test on ``k..``) and adding
classes or drawings never changes the others.

Difficulty: fixed once, by one anchor, before any learned method was run
-----------------------------------------------------------------------
The jitter parameters below (:data:`DIFFICULTY`) were chosen so that the pixel nearest
neighbour (Euclidean distance on the raw 28 x 28 pixels) scores 20-30% at 20-way 1-shot, as it
does on Omniglot (21.7% in Koch et al. 2015). Measured with these values, seed 0, classes
0..199, 20 drawings each, 1000 episodes of 20 queries (one per class): **24.2%** (95% interval
23.6-24.8%). ``tests/data/test_glyphs.py`` re-measures it over 600 episodes. Most of the
difficulty comes from the affine jitter (a shift of one or two pixels moves most of the ink),
which a convolutional embedding can learn to ignore; the class identity itself (which strokes,
in which arrangement) stays unambiguous. Never retune these values to flatter a method.
"""

from __future__ import annotations

import numpy as np

from deepdojo.utils.checks import check_int as _check_int

__all__ = ["DIFFICULTY", "glyph_splits", "make_glyphs"]

#: Per-drawing jitter, fixed by the pixel-1-NN anchor (see the module docstring).
DIFFICULTY: dict[str, float] = {
    "point_jitter": 0.045,  # std of each control point's move, in glyph-box units
    "rotation": 0.15,  # std of the rotation, radians
    "scale": 0.10,  # std of the log scale factor
    "shear": 0.10,  # std of the shear factor
    "shift": 0.08,  # std of the shift in x and y, glyph-box units (x size = pixels)
    "width": 1.1,  # mean pen width, pixels at size 28 (scales with size)
}

_MAX_STROKES = 4
_POINTS_PER_STROKE = 40
_CHUNK = 64  # drawings rasterised at once: memory ~ _CHUNK * 160 points * size^2 floats


def _class_strokes(seed: int, c: int) -> np.ndarray:
    """Control points of class ``c``: ``(_MAX_STROKES, 4, 2)``, unused strokes NaN."""
    rng = np.random.default_rng([seed, c, 0])
    n_strokes = int(rng.integers(1, _MAX_STROKES + 1))
    strokes = np.full((_MAX_STROKES, 4, 2), np.nan)
    for s in range(n_strokes):
        if s == 0:
            start = rng.uniform(0.15, 0.85, size=2)
        else:  # start near a point of an earlier stroke, like a connected pen path
            prev = strokes[rng.integers(0, s), rng.integers(0, 4)]
            start = np.clip(prev + rng.normal(0, 0.05, size=2), 0.1, 0.9)
        rest = np.clip(start + rng.normal(0, 0.3, size=(3, 2)), 0.1, 0.9)  # (3, 2)
        strokes[s] = np.vstack([start, rest])
    # centre the character and scale its control-point box to a side of 0.7, like a glyph
    # that fills its cell (otherwise some classes are specks in a corner)
    low, high = np.nanmin(strokes, axis=(0, 1)), np.nanmax(strokes, axis=(0, 1))
    side = max(float((high - low).max()), 1e-3)
    return (strokes - (low + high) / 2) * (0.7 / side) + 0.5


def _drawing_noise(seed: int, c: int, n: int) -> np.ndarray:
    """Standard normal noise of drawings ``0..n-1`` of class ``c``: ``(n, 40)``.

    Row ``i`` comes from its own generator ``(seed, c, i + 1)``, so it does not depend on ``n``.
    """
    return np.stack([np.random.default_rng([seed, c, i + 1]).standard_normal(40)
                     for i in range(n)])  # fmt: skip


def _jittered_points(strokes: np.ndarray, noise: np.ndarray, difficulty: dict) -> np.ndarray:
    """Sampled pen points of each drawing: ``(n, _MAX_STROKES * T, 2)`` in glyph-box units."""
    n = len(noise)
    ctrl = strokes[None] + difficulty["point_jitter"] * noise[:, :32].reshape(n, 4, 4, 2)
    t = np.linspace(0.0, 1.0, _POINTS_PER_STROKE)[:, None]  # (T, 1)
    basis = np.hstack([(1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t**2 * (1 - t), t**3])  # (T, 4)
    points = np.einsum("tk,nskd->nstd", basis, ctrl).reshape(n, -1, 2)  # (n, S*T, 2)
    angle = difficulty["rotation"] * noise[:, 32]
    scale = np.exp(difficulty["scale"] * noise[:, 33])
    shear = difficulty["shear"] * noise[:, 34]
    cos, sin = np.cos(angle), np.sin(angle)
    affine = np.stack([np.stack([cos, -sin + shear], -1), np.stack([sin, cos], -1)], -2)
    affine = scale[:, None, None] * affine  # (n, 2, 2)
    shift = difficulty["shift"] * noise[:, 35:37]  # (n, 2)
    centred = points - 0.5
    return np.einsum("nij,npj->npi", affine, centred) + 0.5 + shift[:, None, :]


def _rasterise(points: np.ndarray, widths: np.ndarray, size: int) -> np.ndarray:
    """Ink of each pixel: ``clip(1.5 - d / width, 0, 1)``; ``(n, size, size)`` float32."""
    centres = (np.arange(size) + 0.5) / size
    grid = np.stack(np.meshgrid(centres, centres, indexing="xy"), -1).reshape(-1, 2)  # (P, 2)
    out = np.empty((len(points), size * size), dtype=np.float32)
    grid = (grid * size).astype(np.float32)  # (P, 2) pixel centres
    grid_sq = (grid**2).sum(1)  # (P,)
    for lo in range(0, len(points), _CHUNK):
        pts = (np.nan_to_num(points[lo : lo + _CHUNK], nan=1e3) * size).astype(np.float32)
        # ||p - g||^2 = ||p||^2 + ||g||^2 - 2 p.g, minimised over the pen points p
        sq = (pts**2).sum(-1)[:, :, None] + grid_sq - 2 * pts @ grid.T  # (b, S*T, P)
        dist = np.sqrt(np.maximum(sq.min(axis=1), 0.0))  # (b, P)
        w = widths[lo : lo + _CHUNK, None]
        out[lo : lo + _CHUNK] = np.clip(1.5 - dist / w, 0.0, 1.0)
    return out.reshape(-1, size, size)


def make_glyphs(
    n_classes: int,
    n_per_class: int,
    *,
    size: int = 28,
    seed: int = 0,
    first_class: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Generate ``n_per_class`` drawings of each of ``n_classes`` procedural characters.

    Parameters
    ----------
    n_classes : int
        Number of classes ``C``: class ids ``first_class .. first_class + C - 1``.
    n_per_class : int
        Drawings per class ``n``.
    size : int
        Image side in pixels (>= 8); the pen width scales with ``size / 28``.
    seed : int
        Base seed; class ``c`` depends only on ``(seed, c)``.
    first_class : int
        Id of the first class, so ``make_glyphs(100, 20, first_class=900)`` gives classes
        900..999, identical to those rows of ``make_glyphs(1000, 20)``.

    Returns
    -------
    X : np.ndarray, shape (C * n, 1, size, size), float32 in [0, 1], ink = 1
        Class-major: rows ``j * n .. (j + 1) * n - 1`` are the drawings of class
        ``first_class + j``.
    y : np.ndarray, shape (C * n,), int64
        Class ids.

    Examples
    --------
    >>> X, y = make_glyphs(3, 2)
    >>> X.shape, y.tolist()
    ((6, 1, 28, 28), [0, 0, 1, 1, 2, 2])
    """
    n_classes = _check_int(n_classes, "n_classes", 1)
    n_per_class = _check_int(n_per_class, "n_per_class", 1)
    size = _check_int(size, "size", 8)
    seed = _check_int(seed, "seed", 0)
    first_class = _check_int(first_class, "first_class", 0)
    ids = np.arange(first_class, first_class + n_classes)
    points, noise = [], []
    for c in ids:
        class_noise = _drawing_noise(seed, int(c), n_per_class)  # (n, 40)
        points.append(_jittered_points(_class_strokes(seed, int(c)), class_noise, DIFFICULTY))
        noise.append(class_noise)
    all_noise = np.concatenate(noise)
    widths = DIFFICULTY["width"] * (size / 28) * np.exp(0.15 * all_noise[:, 37])
    X = _rasterise(np.concatenate(points), widths, size)[:, None]  # (C*n, 1, size, size)
    return X, np.repeat(ids, n_per_class).astype(np.int64)


def glyph_splits(
    n_train_classes: int = 964,
    n_test_classes: int = 659,
    n_per_class: int = 20,
    *,
    size: int = 28,
    seed: int = 0,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Disjoint background and evaluation class sets, sized like Omniglot by default.

    Returns ``((X_train, y_train), (X_test, y_test))`` from :func:`make_glyphs`: classes
    ``0 .. n_train_classes - 1`` then the next ``n_test_classes`` ids.
    """
    train = make_glyphs(n_train_classes, n_per_class, size=size, seed=seed)
    test = make_glyphs(n_test_classes, n_per_class, size=size, seed=seed,
                       first_class=n_train_classes)  # fmt: skip
    return train, test
