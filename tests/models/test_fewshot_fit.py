"""Few-shot training helpers: they train, are seeded, and return eval-mode networks."""

from __future__ import annotations

import torch

from deepdojo.data.glyphs import make_glyphs
from deepdojo.models.fewshot import (
    ConvEmbedding,
    PrototypicalNet,
    SiameseNet,
    evaluate_episodes,
    fit_protonet,
    fit_siamese,
    fit_supervised_embedding,
)


def _data():
    return make_glyphs(12, 6, size=16, seed=0)


def test_fit_protonet_is_seeded_and_learns():
    X, y = _data()
    kw = dict(encoder=None, n_way=5, k_shot=1, n_query=2, episodes=15, epochs=1, progress="off")
    torch.manual_seed(0)
    a = fit_protonet(X, y, **kw)
    b = fit_protonet(X, y, **kw)
    assert isinstance(a, PrototypicalNet) and not a.training
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pa, pb)
    trained = evaluate_episodes(a, X, y, n_way=5, k_shot=1, episodes=60, seed=1)
    untrained = PrototypicalNet(ConvEmbedding()).eval()
    torch.manual_seed(0)
    base = evaluate_episodes(untrained, X, y, n_way=5, k_shot=1, episodes=60, seed=1)
    assert trained.mean > base.mean


def test_fit_siamese_and_supervised_embedding_run():
    X, y = _data()
    net = fit_siamese(X, y, encoder=ConvEmbedding(hidden=8, dim=8), pairs=4, episodes=3,
                      epochs=1, progress="off")
    assert isinstance(net, SiameseNet) and not net.training
    score = evaluate_episodes(net, X, y, n_way=3, k_shot=1, episodes=5, classifier="siamese")
    assert 0.0 <= score.mean <= 1.0
    enc = fit_supervised_embedding(X, y, encoder=ConvEmbedding(hidden=8, dim=8), epochs=1,
                                   progress="off")
    assert enc(torch.as_tensor(X[:3])).shape == (3, 8)
