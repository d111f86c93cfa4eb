"""EpisodeSampler: episode contents, seeding, class restriction, DDP shares and errors."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import TensorDataset

from deepdojo.data import (
    Episode,
    EpisodeDataset,
    EpisodeSampler,
    collate_episode,
    episode_loader,
)

# 6 classes with labels 10, 20, ..., 60; class c has 5 + c//10 items, interleaved
LABELS = torch.tensor([c for n in range(10) for c in (10, 20, 30, 40, 50, 60) if n < 5 + c // 10])


def _episodes(sampler):
    return [tuple(t.tolist() for t in ep) for ep in sampler]


def test_episode_contents():
    sampler = EpisodeSampler(LABELS, n_way=3, k_shot=2, n_query=3, episodes=20, seed=1)
    assert len(sampler) == 20
    for ep in sampler:
        assert isinstance(ep, Episode)
        assert ep.support.shape == (6,) and ep.query.shape == (9,) and ep.classes.shape == (3,)
        assert ep.support.dtype == ep.query.dtype == torch.int64
        assert len(set(ep.classes.tolist())) == 3
        # class-major layout: support[c*K + k] and query[c*Q + q] have label classes[c]
        assert LABELS[ep.support].tolist() == ep.classes.repeat_interleave(2).tolist()
        assert LABELS[ep.query].tolist() == ep.classes.repeat_interleave(3).tolist()
        items = ep.support.tolist() + ep.query.tolist()
        assert len(set(items)) == len(items)  # support and query disjoint, no repeats


def test_episodes_cover_all_classes_uniformly_enough():
    sampler = EpisodeSampler(LABELS, n_way=2, k_shot=1, n_query=1, episodes=600, seed=0)
    counts = torch.bincount(torch.cat([ep.classes for ep in sampler]), minlength=61)
    picked = counts[[10, 20, 30, 40, 50, 60]].double()
    assert int(picked.sum()) == 1200
    assert float(picked.min()) > 150 and float(picked.max()) < 250  # expected 200 each


def test_seeded_and_epoch_dependent():
    make = lambda seed: EpisodeSampler(LABELS, 3, 1, 2, episodes=8, seed=seed)  # noqa: E731
    a, b, c = make(5), make(5), make(6)
    assert _episodes(a) == _episodes(b)
    assert _episodes(a) != _episodes(c)
    first = _episodes(a)
    a.set_epoch(1)
    assert _episodes(a) != first
    a.set_epoch(0)
    assert _episodes(a) == first
    # random access: episode j does not depend on the ones before it
    assert tuple(t.tolist() for t in a.episode(5)) == first[5]


def test_restricted_to_given_classes():
    sampler = EpisodeSampler(LABELS, 2, 2, 2, episodes=50, classes=[30, 50, 60], seed=0)
    seen = set(torch.cat([ep.classes for ep in sampler]).tolist())
    assert seen == {30, 50, 60}
    assert sampler.classes.tolist() == [30, 50, 60]


@pytest.mark.parametrize("episodes", [8, 9])
def test_ddp_ranks_take_disjoint_shares_of_one_stream(episodes):
    single = EpisodeSampler(LABELS, 3, 1, 1, episodes=episodes, seed=3, rank=0, world_size=1)
    stream = [tuple(t.tolist() for t in single.episode(j)) for j in range(12)]
    shares = [
        _episodes(EpisodeSampler(LABELS, 3, 1, 1, episodes, seed=3, rank=r, world_size=3))
        for r in range(3)
    ]
    per_rank = -(-episodes // 3)
    assert [len(s) for s in shares] == [per_rank] * 3  # equal steps on every rank
    for r, share in enumerate(shares):
        assert share == stream[r : 3 * per_rank : 3]
    assert _episodes(single) == stream[:episodes]


def test_ddp_defaults_come_from_torch_distributed(monkeypatch):
    built_before_init = EpisodeSampler(LABELS, 2, 1, 1, episodes=10)
    assert (built_before_init.rank, built_before_init.world_size) == (0, 1)
    assert EpisodeSampler.shards_by_rank  # the Trainer keeps it under DDP
    dist = torch.distributed
    monkeypatch.setattr(dist, "is_available", lambda: True)
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_rank", lambda: 1)
    monkeypatch.setattr(dist, "get_world_size", lambda: 4)
    sampler = EpisodeSampler(LABELS, 2, 1, 1, episodes=10)
    assert (sampler.rank, sampler.world_size, len(sampler)) == (1, 4, 3)
    # read when iterating: a sampler built before the process group started shards too
    assert (built_before_init.rank, built_before_init.world_size) == (1, 4)
    assert [tuple(e.support.tolist()) for e in built_before_init] == [
        tuple(built_before_init.episode(j).support.tolist()) for j in (1, 5, 9)
    ]


def test_collate_reindexes_labels_and_gathers_inputs():
    inputs = torch.arange(len(LABELS), dtype=torch.float32).unsqueeze(1) * 10  # (n, 1)
    sampler = EpisodeSampler(LABELS, 3, 2, 1, episodes=1, seed=0)
    ep = next(iter(sampler))
    batch = collate_episode(ep, inputs)
    assert batch.support_y.tolist() == [0, 0, 1, 1, 2, 2]
    assert batch.query_y.tolist() == [0, 1, 2]
    torch.testing.assert_close(batch.support_x[:, 0], ep.support.float() * 10)
    torch.testing.assert_close(batch.query_x[:, 0], ep.query.float() * 10)
    # episode labels map back to the original ones
    assert ep.classes[batch.support_y].tolist() == LABELS[ep.support].tolist()
    from_dataset = collate_episode(ep, TensorDataset(inputs, LABELS))
    torch.testing.assert_close(from_dataset.support_x, batch.support_x)
    no_query = collate_episode(
        next(iter(EpisodeSampler(LABELS, 2, 1, 0, episodes=1))), TensorDataset(inputs, LABELS)
    )
    assert no_query.query_x.shape == (0, 1) and no_query.query_y.shape == (0,)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"k_shot": 6, "n_query": 1}, ValueError, r"k_shot \+ n_query = 7 .*1 have .*class 10: 6"),
        ({"n_way": 7}, ValueError, "n_way=7 exceeds the 6 available classes"),
        ({"n_way": 3, "classes": [10, 20]}, ValueError, "n_way=3 exceeds the 2"),
        ({"classes": [10, 99]}, ValueError, r"missing: \[99\]"),
        ({"n_way": 0}, ValueError, "n_way must be >= 1"),
        ({"k_shot": 1.5}, TypeError, "k_shot must be an int"),
        ({"episodes": 0}, ValueError, "episodes"),
        ({"rank": 2, "world_size": 2}, ValueError, "rank must be in"),
    ],
)
def test_clear_errors(kwargs, exc, match):
    args = {"n_way": 2, "k_shot": 1, "n_query": 1, "episodes": 4} | kwargs
    with pytest.raises(exc, match=match):
        EpisodeSampler(LABELS, **args)


def test_bad_labels():
    with pytest.raises(TypeError, match="integer class labels"):
        EpisodeSampler([0.5, 1.5], 1, 1, 0, 1)
    with pytest.raises(ValueError, match="1-D"):
        EpisodeSampler([[0, 1]], 1, 1, 0, 1)


def test_episode_loader_yields_flat_reindexed_batches_and_follows_set_epoch():
    inputs = torch.arange(len(LABELS), dtype=torch.float32).unsqueeze(1)  # item i holds i
    loader = episode_loader(inputs, LABELS, n_way=3, k_shot=2, n_query=2, episodes=4, seed=1)
    assert len(loader) == 4
    batches = list(loader)
    sampler = loader.sampler
    for j, (x, y) in enumerate(batches):
        ep = sampler.episode(j)
        assert x.shape == (12, 1) and y.tolist() == [0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2]
        assert x[:, 0].long().tolist() == ep.support.tolist() + ep.query.tolist()
    sampler.set_epoch(1)  # what the Trainer calls on loader.sampler
    assert not torch.equal(next(iter(loader))[0], batches[0][0])
    from_dataset = EpisodeDataset(TensorDataset(inputs, LABELS))[sampler.episode(0)]
    assert torch.equal(from_dataset[0], next(iter(loader))[0])
