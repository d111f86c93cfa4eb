"""Self-supervised models and pretext labels: encoders, rotations, segment orders."""

from __future__ import annotations

import pytest
import torch

from deepdojo.models import ImageEncoder, SignalEncoder, SimCLR, create, list_models
from deepdojo.models.ssl import (
    ProjectionHead,
    permute_segments,
    rotate_batch,
    segment_permutations,
)


def test_registered():
    assert {"ssl_signal_encoder", "ssl_image_encoder", "simclr_signal",
            "simclr_image"} <= set(list_models())


def test_encoder_shapes_and_simclr_embed_vs_forward():
    sig = SignalEncoder(channels=4, feature_size=12)
    assert sig(torch.randn(5, 1, 40)).shape == (5, 12)
    assert sig(torch.randn(5, 40)).shape == (5, 12)  # (B, L) taken as one channel
    img = ImageEncoder(channels=4, feature_size=12)
    assert img(torch.randn(5, 1, 8, 8)).shape == (5, 12)
    model = SimCLR(sig, ProjectionHead(12, 16, 6))
    x = torch.randn(5, 1, 40)
    assert model(x).shape == (5, 6)
    assert torch.equal(model.embed(x), sig(x))
    assert create("simclr_image", channels=4, feature_size=8, hidden=8,
                  projection_size=3)(torch.randn(2, 1, 8, 8)).shape == (2, 3)
    with pytest.raises(ValueError, match="sizes"):
        SignalEncoder(channels=0)


def test_rotation_labels_and_images_are_exact():
    x = torch.arange(2 * 9, dtype=torch.float32).reshape(2, 1, 3, 3)
    rotated, labels = rotate_batch(x)
    assert rotated.shape == (8, 1, 3, 3)
    assert labels.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert torch.equal(rotated[:2], x)
    # one quarter turn counter-clockwise: the top row becomes the left column, read upwards
    first = x[0, 0]
    assert rotated[2, 0, :, 0].tolist() == first[0].flip(0).tolist()
    assert torch.equal(rotated[4, 0], first.flip(0).flip(1))  # half turn
    assert torch.equal(torch.rot90(rotated[6], 1, (1, 2)), x[0])  # 3 + 1 quarter turns = 4
    with pytest.raises(ValueError, match="square"):
        rotate_batch(torch.randn(2, 1, 3, 4))


def test_segment_permutations_are_all_distinct_orders():
    perms = segment_permutations(4)
    assert len(perms) == 24 and len(set(perms)) == 24
    assert perms[0] == (0, 1, 2, 3)
    assert all(sorted(p) == [0, 1, 2, 3] for p in perms)
    with pytest.raises(ValueError, match="num_segments"):
        segment_permutations(1)


def test_permuted_segments_follow_their_label_exactly():
    x = torch.arange(3 * 12, dtype=torch.float32).reshape(3, 1, 12)
    g = torch.Generator().manual_seed(0)
    out, labels = permute_segments(x, 3, generator=g)
    perms = segment_permutations(3)
    for i in range(3):
        order = perms[int(labels[i])]
        expected = torch.cat([x[i, :, 4 * s:4 * s + 4] for s in order], dim=-1)
        assert torch.equal(out[i], expected)
    again, labels2 = permute_segments(x, 3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again, out) and torch.equal(labels2, labels)  # seeded
    flat, _ = permute_segments(x[:, 0], 3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(flat, out[:, 0])  # (B, L) and (B, 1, L) agree
    with pytest.raises(ValueError, match="divisible"):
        permute_segments(torch.randn(2, 1, 10), 3)
