"""View augmentations: shapes, seeding, and the invariant each one promises."""

from __future__ import annotations

import math

import pytest
import torch

from deepdojo.data.augment import (
    Compose,
    Crop,
    GaussianNoise,
    Mask,
    RandomApply,
    Scale,
    Shear,
    Shift,
    two_views,
)

SHAPES = [(16, 1, 8, 8), (16, 40), (16, 2, 40)]
ALL = [Shift(2), Shift(2, mode="roll"), Scale((0.5, 1.5)), GaussianNoise(0.1), Mask(0.25), Crop(),
       Shear(0.5)]


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _data(shape, seed=0):
    return torch.rand(shape, generator=_gen(seed), dtype=torch.float64) + 0.5  # no zeros


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("augment", ALL, ids=lambda a: type(a).__name__)
def test_shape_dtype_and_seeded(augment, shape):
    x = _data(shape)
    a, b = augment(x, _gen(1)), augment(x, _gen(1))
    assert a.shape == x.shape and a.dtype == x.dtype
    assert torch.equal(a, b)
    assert not torch.equal(augment(x, _gen(2)), a)


def _shift_by_hand(x, shifts, roll):
    """Shift each sample by explicit per-axis offsets (loops), zero fill or wrap."""
    out = torch.zeros_like(x)
    spatial = x.shape[x.ndim - len(shifts[0]) :]
    for b in range(x.shape[0]):
        for pos in torch.cartesian_prod(*[torch.arange(n) for n in spatial]).reshape(
            -1, len(spatial)
        ):
            src = [int(p) - s for p, s in zip(pos, shifts[b], strict=True)]
            if roll:
                src = [s % n for s, n in zip(src, spatial, strict=True)]
            elif any(s < 0 or s >= n for s, n in zip(src, spatial, strict=True)):
                continue
            out[(b, ..., *pos.tolist())] = x[(b, ..., *src)]
    return out


@pytest.mark.parametrize("mode", ["zero", "roll"])
@pytest.mark.parametrize("shape", [(6, 1, 5, 6), (6, 9), (6, 2, 9)])
def test_shift_is_a_translation_within_the_bound(shape, mode):
    x = _data(shape)
    got = Shift(2, mode=mode)(x, _gen(3))
    spatial = len(shape) - 2 if len(shape) == 4 else 1
    offsets = range(-2, 3)
    for b in range(shape[0]):
        candidates = [
            s
            for s in torch.cartesian_prod(*[torch.tensor(list(offsets))] * spatial)
            .reshape(-1, spatial)
            .tolist()
            if torch.equal(_shift_by_hand(x[b : b + 1], [s], mode == "roll")[0], got[b])
        ]
        assert len(candidates) == 1, f"sample {b} is no shift in [-2, 2]"
    if mode == "roll":
        torch.testing.assert_close(
            got.sum(dim=tuple(range(1, x.ndim))), x.sum(dim=tuple(range(1, x.ndim)))
        )


def test_shift_uses_every_offset():
    x = torch.zeros(400, 9, dtype=torch.float64)
    x[:, 4] = 1.0
    moved = Shift(2)(x, _gen(0)).argmax(dim=1) - 4
    assert sorted(set(moved.tolist())) == [-2, -1, 0, 1, 2]


def test_scale_multiplies_each_sample_by_a_factor_in_range():
    x = _data((64, 1, 8, 8))
    y = Scale((0.5, 1.5))(x, _gen(0))
    ratio = y / x
    per_sample = ratio.flatten(1)
    torch.testing.assert_close(per_sample, per_sample[:, :1].expand_as(per_sample))
    assert float(per_sample.min()) >= 0.5 and float(per_sample.max()) <= 1.5
    assert float(per_sample[:, 0].std()) > 0.2  # spread, not one factor (U[0.5,1.5] sd 0.29)


def test_noise_has_the_stated_std():
    x = torch.zeros(200, 1, 8, 8, dtype=torch.float64)
    noise = GaussianNoise(0.3)(x, _gen(0))
    assert abs(float(noise.std()) - 0.3) < 0.01  # 12,800 draws: sd of the estimate ~0.002
    assert abs(float(noise.mean())) < 0.01


@pytest.mark.parametrize(
    ("shape", "fraction", "zeroed"),
    [
        ((32, 1, 8, 8), 0.25, 16),
        ((32, 1, 8, 8), 0.5, 36),
        ((32, 40), 0.25, 10),
        ((32, 3, 40), 0.1, 4),
    ],
)
def test_mask_zeroes_exactly_the_stated_patch(shape, fraction, zeroed):
    x = _data(shape)
    y = Mask(fraction)(x, _gen(0))
    spatial = (y == 0).all(dim=1) if len(shape) != 2 else (y == 0)  # all channels alike
    if len(shape) == 3:
        assert torch.equal((y == 0).any(dim=1), spatial)
    assert spatial.flatten(1).sum(dim=1).tolist() == [zeroed] * shape[0]
    kept = y != 0
    assert torch.equal(y[kept], x[kept])  # everything else untouched
    # a contiguous patch: its bounding box holds exactly `zeroed` positions
    for b in range(shape[0]):
        idx = spatial[b].nonzero()
        box = (idx.max(dim=0).values - idx.min(dim=0).values + 1).prod()
        assert int(box) == zeroed
    assert Mask(0.25).patch_size((8, 8)) == (4, 4)


def test_crop_identity_range_and_constant_invariance():
    x = _data((8, 1, 8, 8))
    torch.testing.assert_close(Crop((1.0, 1.0))(x, _gen(0)), x)
    y = Crop((0.3, 0.6))(x, _gen(0))
    lo, hi = x.flatten(1).min(dim=1).values, x.flatten(1).max(dim=1).values
    assert bool((y.flatten(1).min(dim=1).values >= lo - 1e-12).all())
    assert bool((y.flatten(1).max(dim=1).values <= hi + 1e-12).all())
    constant = torch.full((4, 30), 2.5, dtype=torch.float64)
    torch.testing.assert_close(Crop((0.2, 0.5))(constant, _gen(1)), constant)


def test_crop_of_a_ramp_is_a_zoomed_ramp():
    # a linear signal stays linear under a resized crop, with slope divided by 1/s
    length = 50
    ramp = torch.arange(length, dtype=torch.float64).repeat(5, 1)  # (5, L)
    y = Crop((0.4, 0.4))(ramp, _gen(0))
    slopes = y.diff(dim=1)
    torch.testing.assert_close(slopes, torch.full_like(slopes, 0.4), rtol=0, atol=1e-9)


def test_compose_random_apply_and_two_views():
    x = _data((64, 1, 8, 8))
    pipeline = Compose([Shift(1), Mask(0.25), GaussianNoise(0.05)])
    v1, v2 = two_views(x, pipeline, _gen(4))
    w1, w2 = two_views(x, pipeline, _gen(4))
    assert torch.equal(v1, w1) and torch.equal(v2, w2)
    assert not torch.equal(v1, v2)
    g = _gen(0)
    expected = GaussianNoise(0.05)(Mask(0.25)(Shift(1)(x, g), g), g)
    assert torch.equal(pipeline(x, _gen(0)), expected)
    half = RandomApply(Scale((3.0, 3.0)), p=0.5)(x, _gen(0))
    changed = (half != x).flatten(1).any(dim=1)
    assert 16 < int(changed.sum()) < 48
    torch.testing.assert_close(half[changed], 3 * x[changed])


def test_generator_none_uses_global_rng():
    torch.manual_seed(0)
    a = Crop()(_data((4, 20)))
    torch.manual_seed(0)
    assert torch.equal(Crop()(_data((4, 20))), a)


@pytest.mark.parametrize(
    ("make", "exc", "match"),
    [
        (lambda: Shift(-1), ValueError, "max_shift"),
        (lambda: Shift(1, mode="wrap"), ValueError, "mode"),
        (lambda: Scale((1.5, 0.5)), ValueError, "scale"),
        (lambda: Scale(2.0), TypeError, "scale"),
        (lambda: GaussianNoise(-0.1), ValueError, "std"),
        (lambda: Mask(1.5), ValueError, "fraction"),
        (lambda: Crop((0.0, 1.0)), ValueError, "scale"),
        (lambda: Shear(-0.1), ValueError, "max_shear"),
        (lambda: RandomApply(Scale(), p=2), ValueError, "p must"),
        (lambda: Compose([1]), TypeError, "transforms"),
        (lambda: Shift(1)(torch.zeros(2, 1, 1, 8, 8)), ValueError, "images"),
        (lambda: Shift(1)(torch.zeros(2, 8, dtype=torch.long)), TypeError, "floating"),
    ],
)
def test_bad_arguments(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_patch_size_math():
    assert Mask(0.5).patch_size((8, 8)) == (round(math.sqrt(0.5) * 8),) * 2


def test_shear_adds_a_bounded_linear_trend_per_sample():
    x = _data((32, 2, 40))
    y = Shear(0.75)(x, _gen(3))
    d = y - x  # (B, C, L): c_b * (t / (L - 1) - 1/2), the same on both channels
    ramp = torch.linspace(-0.5, 0.5, 40, dtype=torch.float64)
    c = d[:, 0, -1] - d[:, 0, 0]  # rise end to end = c_b
    assert torch.allclose(d, c.view(-1, 1, 1) * ramp, atol=1e-12)
    assert c.abs().max() <= 0.75 and c.abs().max() > 0.5 and (c > 0).any() and (c < 0).any()
    assert torch.allclose(d.sum(-1), torch.zeros(32, 2, dtype=torch.float64), atol=1e-12)
    assert torch.equal(Shear(0.0)(x, _gen(3)), x)
