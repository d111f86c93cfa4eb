"""Few-shot learners: classifier logits and losses against hand formulas, mining, symmetry."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from deepdojo.models import create
from deepdojo.models.fewshot import (
    ConvEmbedding,
    EpisodeScore,
    MatchingNet,
    PrototypicalNet,
    SiameseNet,
    batch_hard_triplet_loss,
    contrastive_loss,
    cosine_prototype_logits,
    euclidean_prototype_logits,
    evaluate_episodes,
    hardest_pairs,
    nearest_neighbour_logits,
    triplet_loss,
)
from deepdojo.train.tasks.episodic import cosine_logits, prototype_logits


def _episode(n_way=3, k_shot=2, n_query=4, dim=5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    support = torch.randn(n_way * k_shot, dim, generator=gen, dtype=torch.float64)
    labels = torch.arange(n_way).repeat_interleave(k_shot)
    query = torch.randn(n_query, dim, generator=gen, dtype=torch.float64)
    return support, labels, query


def test_prototype_logits_are_minus_squared_distance_to_class_means():
    support, labels, query = _episode()
    logits = euclidean_prototype_logits(support, labels, query, 3)
    expected = torch.empty(4, 3, dtype=torch.float64)
    for m in range(4):
        for n in range(3):
            mean = support[2 * n : 2 * n + 2].mean(0)
            expected[m, n] = -((query[m] - mean) ** 2).sum()
    torch.testing.assert_close(logits, expected)
    # and agrees with the engine's classifier
    torch.testing.assert_close(logits, prototype_logits(support, labels, query, 3))


def test_cosine_prototype_logits():
    support, labels, query = _episode()
    logits = cosine_prototype_logits(support, labels, query, 3)
    means = support.view(3, 2, -1).mean(1)
    expected = 10 * F.cosine_similarity(query[:, None], means[None], dim=-1)
    torch.testing.assert_close(logits, expected)
    torch.testing.assert_close(logits, cosine_logits(support, labels, query, 3))


def test_nearest_neighbour_logits_pick_the_closest_support_item():
    support = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 3.0], [0.0, 20.0]])
    labels = torch.tensor([0, 0, 1, 1])
    query = torch.tensor([[9.0, 0.0], [0.0, 1.0], [0.0, 2.0]])
    logits = nearest_neighbour_logits(support, labels, query, 2)
    torch.testing.assert_close(logits[0], torch.tensor([-1.0, -float(np.hypot(9, 3))]))
    assert logits.argmax(1).tolist() == [0, 0, 1]
    cos = nearest_neighbour_logits(support + 1, labels, query + 1, 2, metric="cosine")
    assert cos.shape == (3, 2) and cos.max() <= 1 + 1e-6
    with pytest.raises(ValueError, match="metric"):
        nearest_neighbour_logits(support, labels, query, 2, metric="l3")


def test_contrastive_loss_hand_formula():
    z1 = torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    z2 = torch.tensor([[3.0, 4.0], [0.3, 0.4], [3.0, 4.0]])  # distances 5, 0.5, 5
    same = torch.tensor([1, 0, 0])
    # same pair: 5^2; close negative: (1 - 0.5)^2; far negative: 0
    expected = (25.0 + 0.25 + 0.0) / 3
    assert contrastive_loss(z1, z2, same, margin=1.0).item() == pytest.approx(expected)


def test_triplet_loss_hand_formula_and_torch_parity():
    a = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    p = torch.tensor([[1.0, 0.0], [0.0, 0.1]])
    n = torch.tensor([[0.0, 1.1], [2.0, 0.0]])
    # anchor 0: max(0, 1 - 1.1 + 0.2) = 0.1; anchor 1: max(0, 0.1 - 2 + 0.2) = 0
    assert triplet_loss(a, p, n, margin=0.2).item() == pytest.approx(0.05, abs=1e-6)
    gen = torch.Generator().manual_seed(0)
    a, p, n = (torch.randn(8, 4, generator=gen) for _ in range(3))
    ours = triplet_loss(a, p, n, margin=0.5)
    theirs = F.triplet_margin_loss(a, p, n, margin=0.5, eps=0.0)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


def test_batch_hard_mining_picks_hardest_positive_and_negative():
    # points on a line: labels 0 at 0, 1, 5; labels 1 at 2, 9
    emb = torch.tensor([[0.0], [1.0], [5.0], [2.0], [9.0]])
    labels = torch.tensor([0, 0, 0, 1, 1])
    positive, negative, valid = hardest_pairs(emb, labels)
    assert positive.tolist() == [2, 2, 0, 4, 3]  # farthest same-label point
    assert negative.tolist() == [3, 3, 3, 1, 2]  # nearest other-label point
    assert valid.all()
    loss = batch_hard_triplet_loss(emb, labels, margin=0.5)
    # per anchor: max(0, d_ap - d_an + 0.5)
    per = [5 - 2 + 0.5, 4 - 1 + 0.5, max(0, 5 - 3 + 0.5), 7 - 1 + 0.5, max(0, 7 - 4 + 0.5)]
    assert loss.item() == pytest.approx(np.mean(per), rel=1e-5)
    with pytest.raises(ValueError, match="positive and a negative"):
        batch_hard_triplet_loss(emb[:2], torch.tensor([0, 1]))


def test_siamese_is_symmetric_and_similarity_is_a_probability():
    torch.manual_seed(0)
    net = SiameseNet(ConvEmbedding(hidden=8, dim=8)).eval()
    a, b = torch.randn(3, 1, 28, 28), torch.randn(3, 1, 28, 28)
    torch.testing.assert_close(net(a, b), net(b, a))
    p = net.similarity(a, b)
    assert p.shape == (3,) and ((p > 0) & (p < 1)).all()


def test_conv_embedding_handles_omniglot_and_digits_sizes():
    enc = ConvEmbedding(hidden=8, dim=16).eval()
    assert enc(torch.randn(2, 1, 28, 28)).shape == (2, 16)
    assert enc(torch.randn(2, 1, 8, 8)).shape == (2, 16)
    with pytest.raises(ValueError, match="x must be"):
        enc(torch.randn(2, 3, 8, 8))


def test_protonet_forward_matches_classifier_on_embeddings_and_is_deterministic():
    torch.manual_seed(0)
    net = create("protonet", hidden=8, dim=8).eval()
    support, query = torch.randn(6, 1, 28, 28), torch.randn(4, 1, 28, 28)
    labels = torch.arange(3).repeat_interleave(2)
    logits = net(support, labels, query, 3)
    expected = euclidean_prototype_logits(net.embed(support), labels, net.embed(query), 3)
    torch.testing.assert_close(logits, expected)
    torch.manual_seed(0)
    again = create("protonet", hidden=8, dim=8).eval()
    torch.testing.assert_close(again(support, labels, query, 3), logits)
    with pytest.raises(ValueError, match="distance"):
        PrototypicalNet(ConvEmbedding(), distance="manhattan")


def test_episode_score_t_interval():
    score = EpisodeScore.from_values([0.5, 0.7, 0.6, 0.8])
    from scipy import stats

    half = stats.t.ppf(0.975, 3) * np.std([0.5, 0.7, 0.6, 0.8], ddof=1) / 2
    assert score.mean == pytest.approx(0.65)
    assert score.ci_low == pytest.approx(0.65 - half)
    assert score.ci_high == pytest.approx(0.65 + half)


def test_evaluate_episodes_on_separable_pixels_is_perfect_and_seeded():
    # class c is a constant image c: pixels separate classes perfectly
    X = torch.arange(10).repeat_interleave(5).float().view(50, 1, 1, 1).expand(50, 1, 4, 4)
    y = np.repeat(np.arange(10), 5)
    for classifier in ("prototype", "nn"):
        score = evaluate_episodes(None, X, y, n_way=5, k_shot=1, n_query=2, episodes=30,
                                  classifier=classifier)
        assert score.mean == 1.0 and len(score.per_episode) == 30
    noisy = X + torch.randn(X.shape, generator=torch.Generator().manual_seed(0)) * 3
    a = evaluate_episodes(None, noisy, y, n_way=5, k_shot=1, episodes=40, seed=3)
    b = evaluate_episodes(None, noisy, y, n_way=5, k_shot=1, episodes=40, seed=3)
    np.testing.assert_array_equal(a.per_episode, b.per_episode)
    assert a.ci_low <= a.mean <= a.ci_high
    with pytest.raises(ValueError, match="classifier"):
        evaluate_episodes(None, X, y, n_way=5, k_shot=1, classifier="svm")
    with pytest.raises(ValueError, match="SiameseNet"):
        evaluate_episodes(None, X, y, n_way=5, k_shot=1, classifier="siamese")


def test_evaluate_episodes_restores_training_mode():
    net = ConvEmbedding(hidden=4, dim=4).train()
    X, y = torch.randn(12, 1, 8, 8), np.repeat(np.arange(4), 3)
    evaluate_episodes(net, X, y, n_way=2, k_shot=1, episodes=3)
    assert net.training


def test_matching_logits_hand_formula_and_matching_net_forward():
    from deepdojo.models.fewshot import matching_logits

    s = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])  # labels 0, 1, 1
    q = torch.tensor([[3.0, 0.0]])
    labels = torch.tensor([0, 1, 1])
    cos = torch.tensor([1.0, 0.0, 2**-0.5])
    att = cos.exp() / cos.exp().sum()
    want = torch.stack([att[0], att[1] + att[2]]).log()[None]  # (1, 2)
    torch.testing.assert_close(matching_logits(s, labels, q, 2), want)
    assert torch.allclose(matching_logits(s, labels, q, 2).exp().sum(1), torch.ones(1))
    torch.manual_seed(0)
    net = create("matching_net", hidden=8, dim=8).eval()
    support, query = torch.randn(6, 1, 28, 28), torch.randn(4, 1, 28, 28)
    y = torch.arange(3).repeat_interleave(2)
    with torch.no_grad():
        out = net(support, y, query, 3)
        z = net.embed(torch.cat([support, query]))
    torch.testing.assert_close(out, matching_logits(z[:6], y, z[6:], 3))
    with pytest.raises(TypeError, match="encoder must be an nn.Module"):
        MatchingNet("conv")
