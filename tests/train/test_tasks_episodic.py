"""EpisodicTask: prototypical logits by hand, few-shot learning that transfers to new classes."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from deepdojo.data import episode_loader
from deepdojo.train import Trainer
from deepdojo.train.tasks import EpisodicTask
from deepdojo.train.tasks.episodic import cosine_logits, prototype_logits


def test_prototype_logits_by_hand():
    g = torch.Generator().manual_seed(0)
    support = torch.randn(6, 3, generator=g, dtype=torch.float64)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    query = torch.randn(4, 3, generator=g, dtype=torch.float64)
    got = prototype_logits(support, labels, query, 3)
    for m in range(4):
        for n in range(3):
            centre = [
                (float(support[2 * n, d]) + float(support[2 * n + 1, d])) / 2 for d in range(3)
            ]
            dist2 = sum((float(query[m, d]) - centre[d]) ** 2 for d in range(3))
            assert float(got[m, n]) == pytest.approx(-dist2, rel=1e-12)
    cos = cosine_logits(support, labels, query, 3, scale=2.0)
    centres = torch.stack([support[2 * n : 2 * n + 2].mean(0) for n in range(3)])
    expected = 2.0 * torch.nn.functional.cosine_similarity(query[:, None], centres[None], dim=2)
    torch.testing.assert_close(cos, expected)


def _classes(num_classes=20, per_class=30, seed=0):
    """Class identity lives in 4 dims; 12 more dims are loud noise shared by every class."""
    g = torch.Generator().manual_seed(seed)
    means = 3.0 * torch.randn(num_classes, 4, generator=g)
    labels = torch.arange(num_classes).repeat_interleave(per_class)
    signal = means[labels] + 0.5 * torch.randn(len(labels), 4, generator=g)
    noise = 3.0 * torch.randn(len(labels), 12, generator=g)
    return torch.cat([signal, noise], dim=1), labels


def _nearest_centroid_accuracy(task, loader):
    with torch.no_grad():
        hits = [(task.logits(b)[0].argmax(1) == task.logits(b)[1]).float().mean() for b in loader]
    return float(torch.stack(hits).mean())


def test_split_uses_the_support_first_layout():
    x, y = _classes()
    batch = next(iter(episode_loader(x, y, n_way=5, k_shot=2, n_query=3, episodes=1)))
    support_x, support_y, query_x, query_y = EpisodicTask(nn.Identity(), 5, 2).split(batch)
    assert support_x.shape == (10, 16) and query_x.shape == (15, 16)
    assert support_y.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert query_y.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]


def test_learned_embedding_transfers_to_unseen_classes():
    # 5-way 1-shot on classes never trained on: raw features are dominated by the noise dims;
    # a prototypical embedding learns to ignore them
    x, y = _classes()
    train = episode_loader(x, y, 5, 1, 5, episodes=40, classes=range(12), seed=0)
    test = episode_loader(x, y, 5, 1, 5, episodes=40, classes=range(12, 20), seed=1)
    raw = _nearest_centroid_accuracy(EpisodicTask(nn.Identity(), 5, 1), test)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 8))
    task = EpisodicTask(model, n_way=5, k_shot=1, lr=3e-3)
    history = Trainer(task, device="cpu", progress="off", seed=0).fit(train, test, epochs=6)
    assert raw < 0.7
    assert history["val_accuracy"][-1] > 0.85  # measured 0.92 (raw 0.47)
    assert history["val_accuracy"][-1] > raw + 0.3
    assert history["train_accuracy"][-1] > history["train_accuracy"][0]


class _Relation(nn.Module):
    """A learned metric: scaled negative distances, the scale trained with the model."""

    def __init__(self):
        super().__init__()
        self.log_scale = nn.Parameter(torch.zeros(()))

    def forward(self, support, support_labels, query, n_way):
        return self.log_scale.exp() * prototype_logits(support, support_labels, query, n_way)


def test_a_module_classifier_is_trained_with_the_model():
    x, y = _classes()
    loader = episode_loader(TensorDataset(x, y), y, 5, 2, 2, episodes=8)  # any data set
    relation = _Relation()
    task = EpisodicTask(nn.Linear(16, 8), 5, 2, classifier=relation, lr=1e-2)
    assert "classifier.log_scale" in dict(task.named_parameters())
    Trainer(task, device="cpu", progress="off").fit(loader, epochs=1)
    assert float(relation.log_scale.detach()) != 0.0


def test_episodic_task_errors():
    x, y = _classes()
    batch = next(iter(episode_loader(x, y, n_way=3, k_shot=2, n_query=1, episodes=1)))
    with pytest.raises(ValueError, match="not a 5-way 2-shot episode"):
        EpisodicTask(nn.Identity(), 5, 2).split(batch)
    with pytest.raises(TypeError, match="episode_loader"):
        EpisodicTask(nn.Identity(), 3, 2).split(x)
    with pytest.raises(ValueError, match="n_way"):
        EpisodicTask(nn.Identity(), 0, 2)
    with pytest.raises(TypeError, match="classifier"):
        EpisodicTask(nn.Identity(), 3, 2, classifier="proto")
