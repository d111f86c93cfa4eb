"""Small tasks for the engine tests: two optimizers, a critic pulling extra batches."""

from __future__ import annotations

import torch
from torch import nn

from deepdojo.train import Task


class Chase(Task):
    """Two regressors with their own optimizers: ``a`` fits ``y``; ``b`` then chases the
    prediction of the just-updated ``a``. Logs the gap between them."""

    def __init__(self, d: int = 3, lr_a: float = 0.1, lr_b: float = 0.05, dropout: float = 0.0):
        super().__init__()
        torch.manual_seed(0)
        self.a = nn.Sequential(nn.Linear(d, 8), nn.Tanh(), nn.Dropout(dropout), nn.Linear(8, 1))
        self.b = nn.Sequential(nn.Linear(d, 8), nn.Tanh(), nn.Linear(8, 1))
        self.lr_a, self.lr_b = lr_a, lr_b

    def configure_optimizers(self):
        return {"a": torch.optim.SGD(self.a.parameters(), lr=self.lr_a, momentum=0.9),
                "b": torch.optim.Adam(self.b.parameters(), lr=self.lr_b)}

    def training_step(self, batch):
        x, y = batch
        yield "a", nn.functional.mse_loss(self.a(x), y)
        target = self.a(x).detach()  # a was stepped before this line runs
        out = self.b(x)
        self.log("gap", (out - target).abs().mean())
        yield "b", nn.functional.mse_loss(out, target)

    def validation_step(self, batch):
        x, y = batch
        return {"mse_a": nn.functional.mse_loss(self.a(x), y).item(),
                "mse_b": nn.functional.mse_loss(self.b(x), y).item()}


class Critic(Chase):
    """``a`` takes ``n_critic`` steps, each on a batch of its own (pulled with next_batch),
    per step of ``b``."""

    def __init__(self, n_critic: int = 3, **kw):
        super().__init__(**kw)
        self.n_critic = n_critic
        self.seen: list[torch.Tensor] = []

    def training_step(self, batch):
        for i in range(self.n_critic):
            if i:
                batch = self.next_batch()
            self.seen.append(batch[0])
            x, y = batch
            yield "a", nn.functional.mse_loss(self.a(x), y)
        yield "b", nn.functional.mse_loss(self.b(x), self.a(x).detach())


def regression(n: int = 48, d: int = 3, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g)
    return X, X @ torch.linspace(-1, 1, d).unsqueeze(1) + 0.1 * torch.randn(n, 1, generator=g)
