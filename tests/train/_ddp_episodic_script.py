"""One rank of the 2-process EpisodicTask DDP test (env as torchrun sets it)."""

from __future__ import annotations

import sys

import torch
from safetensors.torch import save_file
from torch import nn

from deepdojo.data import episode_loader
from deepdojo.train import Trainer
from deepdojo.train.distributed import shutdown
from deepdojo.train.tasks import EpisodicTask


def make_problem():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(60, 6, generator=g)
    labels = torch.arange(60) % 6
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 4))
    return model, x, labels


def main(out: str) -> None:
    torch.set_num_threads(1)
    model, x, labels = make_problem()
    # built before fit starts the process group: the sampler reads rank and world size later
    loader = episode_loader(x, labels, n_way=3, k_shot=2, n_query=2, episodes=8, seed=3)
    task = EpisodicTask(model, 3, 2, lr=1e-2)
    trainer = Trainer(task, device="cpu", progress="off")
    trainer.fit(loader, epochs=2)
    if torch.distributed.get_rank() == 0:
        save_file({k: v.contiguous() for k, v in task.state_dict().items()}, out)
    shutdown()


if __name__ == "__main__":
    main(sys.argv[1])
