r"""Seeded 2-D stroke gestures: pen trajectories of many gesture classes, generated offline.

A stand-in for recorded touch or mouse gestures (the data of a "$1 recognizer": each gesture is
one stroke, a sequence of ``(x, y)`` pen positions over time). A *class* is a template stroke:
a smooth curve through 3 to 6 control points drawn in the box ``[-1, 1]^2`` (a uniform
Catmull-Rom spline). A *performance* of that gesture (one user drawing it once) changes it as a
new hand would, all Gaussian and per performance:

- every control point moves by ``point_jitter``;
- the stroke is rotated by ``rotation`` radians, scaled by ``exp(scale)`` and shifted by
  ``shift``;
- the pen's speed varies along the stroke: the curve parameter is warped,
  ``t' = t + warp * sin(pi * t) * z`` (monotone for ``|warp * z| < 1 / pi``, clipped), so equal
  time steps cover unequal lengths of the curve;
- every sampled position gets ``noise`` of sensor noise.

Shapes: the *sequence* form is ``(N, length, 2)`` positions in time order; the *raster* form
``(N, 1, size, size)`` draws the same stroke as ink (1) on paper (0) with a distance transform,
like :mod:`deepdojo.data.glyphs`. Class ``c`` depends only on ``(seed, c)`` and performance
``i`` of class ``c`` only on ``(seed, c, i)``, so class sets split by id (train gestures vs new
gestures) and adding classes or performances never changes the others.
"""

from __future__ import annotations

import numpy as np

from deepdojo.utils.checks import check_int as _check_int

__all__ = ["GESTURE_JITTER", "make_gestures", "rasterise_strokes"]

#: Per-performance jitter (units of the box ``[-1, 1]^2``; rotation in radians).
GESTURE_JITTER: dict[str, float] = {
    "point_jitter": 0.08,  # std of each control point's move
    "rotation": 0.25,  # std of the rotation
    "scale": 0.15,  # std of the log scale factor
    "shift": 0.15,  # std of the shift in x and y
    "warp": 0.2,  # std of the speed warp amplitude
    "noise": 0.02,  # std of the per-sample sensor noise
}

FORMS = ("sequence", "raster")


def _template(seed: int, c: int) -> np.ndarray:
    """Control points of class ``c``: ``(P, 2)`` with P in 3..6, each step at least 0.5 long."""
    rng = np.random.default_rng([seed, c, 0])
    n = int(rng.integers(3, 7))
    pts = [rng.uniform(-0.8, 0.8, 2)]
    while len(pts) < n:
        p = rng.uniform(-0.9, 0.9, 2)
        if np.linalg.norm(p - pts[-1]) >= 0.5:  # visible turns, not a scribble in one spot
            pts.append(p)
    return np.asarray(pts)


def _catmull_rom(points: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Uniform Catmull-Rom spline through ``points`` (P, 2) at ``t`` in [0, 1].

    Segment ``s`` between ``p_s`` and ``p_{s+1}`` with local ``u``:
    ``c(u) = 0.5 (2 p1 + (p2 - p0) u + (2 p0 - 5 p1 + 4 p2 - p3) u^2``
    ``+ (3 p1 - p0 - 3 p2 + p3) u^3)``
    with the end points repeated as phantom neighbours. Returns ``(len(t), 2)``.
    """
    P = np.concatenate([points[:1], points, points[-1:]])  # (P + 2, 2)
    n_seg = len(points) - 1
    x = np.clip(t, 0.0, 1.0) * n_seg
    s = np.minimum(x.astype(np.int64), n_seg - 1)  # (T,)
    u = (x - s)[:, None]  # (T, 1)
    p0, p1, p2, p3 = P[s], P[s + 1], P[s + 2], P[s + 3]  # (T, 2) each
    return 0.5 * (2 * p1 + (p2 - p0) * u + (2 * p0 - 5 * p1 + 4 * p2 - p3) * u**2
                  + (3 * p1 - p0 - 3 * p2 + p3) * u**3)  # fmt: skip


def _performance(seed: int, c: int, i: int, template: np.ndarray, length: int,
                 jitter: dict[str, float]) -> np.ndarray:
    """Performance ``i`` of class ``c``: ``(length, 2)`` positions in time order."""
    rng = np.random.default_rng([seed, c, 1, i])
    pts = template + jitter["point_jitter"] * rng.standard_normal(template.shape)
    t = np.linspace(0.0, 1.0, length)
    warp = np.clip(jitter["warp"] * rng.standard_normal(), -0.3, 0.3)
    t = t + warp * np.sin(np.pi * t)  # speed varies, ends stay fixed
    xy = _catmull_rom(pts, t)  # (length, 2)
    a = jitter["rotation"] * rng.standard_normal()
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    k = np.exp(jitter["scale"] * rng.standard_normal())
    shift = jitter["shift"] * rng.standard_normal(2)
    xy = k * xy @ rot.T + shift
    return xy + jitter["noise"] * rng.standard_normal(xy.shape)


def rasterise_strokes(strokes: np.ndarray, size: int = 16, width: float = 0.8) -> np.ndarray:
    """Draw strokes ``(N, T, 2)`` (box ``[-1.2, 1.2]^2``) as ink images ``(N, 1, size, size)``.

    Each pixel's ink is ``clip(1.5 - d / width, 0, 1)`` with ``d`` its distance in pixels to the
    polyline (exact distance to the nearest segment; ink = 1, paper = 0). Positions outside the
    box are clipped to it.
    """
    strokes = np.asarray(strokes, dtype=np.float64)
    if strokes.ndim != 3 or strokes.shape[2] != 2 or strokes.shape[1] < 2:
        raise ValueError(f"strokes must have shape (N, T >= 2, 2), got {strokes.shape}")
    size = _check_int(size, "size", 4)
    if not width > 0:
        raise ValueError(f"width must be > 0, got {width!r}")
    px = (np.clip(strokes, -1.2, 1.2) + 1.2) / 2.4 * (size - 1)  # (N, T, 2) pixel units
    a, ab = px[:, :-1], px[:, 1:] - px[:, :-1]  # (N, T-1, 2) segment starts and directions
    gy, gx = np.meshgrid(np.arange(size, dtype=np.float64), np.arange(size, dtype=np.float64),
                         indexing="ij")
    grid = np.stack([gx.ravel(), gy.ravel()], axis=-1)  # (size*size, 2) as (x, y)
    ap = grid[None, None] - a[:, :, None]  # (N, T-1, size*size, 2)
    len2 = np.maximum((ab**2).sum(-1), 1e-12)[:, :, None]  # (N, T-1, 1)
    u = np.clip((ap * ab[:, :, None]).sum(-1) / len2, 0.0, 1.0)  # (N, T-1, size*size)
    gap = ap - u[..., None] * ab[:, :, None]  # (N, T-1, size*size, 2)
    d = np.sqrt((gap**2).sum(-1).min(axis=1)).reshape(-1, size, size)  # (N, size, size)
    return np.clip(1.5 - d / width, 0.0, 1.0)[:, None].astype(np.float32)


def make_gestures(
    n_classes: int,
    n_per_class: int,
    *,
    length: int = 32,
    form: str = "sequence",
    size: int = 16,
    seed: int = 0,
    first_class: int = 0,
    jitter: dict[str, float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stroke gestures: ``n_per_class`` performances of each of ``n_classes`` classes.

    Parameters
    ----------
    n_classes, n_per_class : int
        Classes ``first_class .. first_class + n_classes - 1`` and performances of each.
    length : int
        Time steps per stroke (sequence form; the raster is drawn from them).
    form : {"sequence", "raster"}
        ``(N, length, 2)`` float32 positions, or ``(N, 1, size, size)`` float32 ink in [0, 1].
    size : int
        Raster side in pixels.
    seed : int
        Class ``c`` depends only on ``(seed, c)``; performance ``i`` on ``(seed, c, i)``.
    first_class : int
        Id of the first class, so a caller can take new classes ``k..`` apart from ``0..k-1``.
    jitter : dict, optional
        Overrides of :data:`GESTURE_JITTER`.

    Returns
    -------
    X : ndarray of float32
        ``(N, length, 2)`` or ``(N, 1, size, size)``, ``N = n_classes * n_per_class``,
        class-major.
    y : ndarray of int64, shape (N,)
        Class ids.
    """
    n_classes = _check_int(n_classes, "n_classes", 1)
    n_per_class = _check_int(n_per_class, "n_per_class", 1)
    length = _check_int(length, "length", 2)
    first_class = _check_int(first_class, "first_class", 0)
    seed = _check_int(seed, "seed", 0)
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")
    jit = dict(GESTURE_JITTER)
    for k, v in (jitter or {}).items():
        if k not in jit:
            raise ValueError(f"jitter key must be one of {tuple(jit)}, got {k!r}")
        if not 0 <= float(v) < float("inf"):
            raise ValueError(f"jitter[{k!r}] must be a finite number >= 0, got {v!r}")
        jit[k] = float(v)
    classes = range(first_class, first_class + n_classes)
    X = np.stack([_performance(seed, c, i, _template(seed, c), length, jit)
                  for c in classes for i in range(n_per_class)])  # (N, length, 2)
    y = np.repeat(np.arange(first_class, first_class + n_classes, dtype=np.int64), n_per_class)
    if form == "raster":
        return rasterise_strokes(X, size=size), y
    return X.astype(np.float32), y
