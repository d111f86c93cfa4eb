"""Sparse gradients (``nn.Embedding(sparse=True)``) through the guard and every clipping mode:
the numbers equal those of the same gradient held dense."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from deepdojo.train import ClipGrad, NonFiniteGuard, Trainer
from deepdojo.train.clipping import grad_norms


class BagModel(nn.Module):
    def __init__(self, sparse: bool = True) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.emb = nn.Embedding(20, 4, sparse=sparse)
        self.out = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.emb(x).mean(1))


def data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randint(0, 20, (48, 5), generator=g), torch.randint(0, 3, (48,), generator=g)


def uncoalesced() -> torch.Tensor:
    """A sparse (3, 2) gradient listing row 1 twice: its dense form is [[0,0],[4,-6],[1,1]]."""
    i = torch.tensor([[1, 1, 2]])
    v = torch.tensor([[1.0, -2.0], [3.0, -4.0], [1.0, 1.0]])
    return torch.sparse_coo_tensor(i, v, (3, 2), check_invariants=True)


@pytest.mark.parametrize("p", [2.0, 1.0, float("inf")])
def test_grad_norms_of_a_sparse_gradient_equal_the_dense_norms(p):
    sparse, dense = uncoalesced(), uncoalesced().to_dense()
    other = torch.tensor([3.0, -4.0])
    got = grad_norms([sparse, other], p)
    want = [torch.linalg.vector_norm(dense, p), torch.linalg.vector_norm(other, p)]
    assert torch.allclose(torch.stack(got), torch.stack(want))
    assert float(got[0]) == pytest.approx({2.0: 54**0.5, 1.0: 12.0, float("inf"): 6.0}[p])


@pytest.mark.parametrize("clip", [None, ClipGrad(max_norm=0.3), ClipGrad(max_value=0.02),
                                  ClipGrad(max_norm=0.05, per_layer=True),
                                  ClipGrad(target_norm=0.5)])  # fmt: skip
def test_sparse_embedding_trains_as_its_dense_twin(clip):
    """Guard on (and clipping, if any): the sparse run ends with the dense run's weights."""
    X, y = data()
    weights = []
    for sparse in (True, False):
        m = BagModel(sparse)
        tr = Trainer(m, nn.CrossEntropyLoss(), torch.optim.SGD(m.parameters(), lr=0.5),
                     device="cpu", progress="off", clip=clip)  # fmt: skip
        hist = tr.fit((X, y), epochs=2, batch_size=16)
        assert "nonfinite_steps" not in hist
        weights.append([p.detach().clone() for p in m.parameters()])
    assert not torch.equal(weights[0][0], BagModel().emb.weight)  # it trained
    for a, b in zip(*weights, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_clip_value_on_a_sparse_gradient_clamps_the_summed_entries():
    p = nn.Parameter(torch.zeros(3, 2))
    p.grad = uncoalesced()
    ClipGrad(max_value=3.0)([p])
    assert p.grad.is_sparse
    assert torch.equal(p.grad.to_dense(), torch.tensor([[0.0, 0.0], [3.0, -3.0], [1.0, 1.0]]))


def test_nan_in_a_sparse_gradient_is_rejected_and_named():
    guard = NonFiniteGuard()
    bad = uncoalesced().coalesce()
    bad.values()[0, 0] = float("nan")
    loss, finite, norms = guard.check(torch.tensor(1.0), [bad, torch.ones(2)], True)
    assert loss == 1.0 and not finite and len(norms) == 2
    assert torch.isnan(norms[0]) and float(norms[1]) == pytest.approx(2**0.5)
    _, finite, _ = guard.check(torch.tensor(1.0), [bad, torch.ones(2)], False, True)
    assert not finite  # the element-wise fast path declines sparse: the norms decide
