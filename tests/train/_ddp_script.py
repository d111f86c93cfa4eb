"""One rank of the 2-process DDP test (env as torchrun sets it: RANK, WORLD_SIZE, MASTER_*)."""

from __future__ import annotations

import json
import os
import sys

import torch
from safetensors.torch import save_file
from torch import nn

from deepdojo.train import Trainer
from deepdojo.train.distributed import shutdown


def make_problem():
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(64, 5, generator=g), torch.randint(0, 3, (64,), generator=g)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3))
    return model, X, y


def main_task(out: str) -> None:
    """The two-optimizer Chase task under DDP: gradients averaged after each backward."""
    sys.path.insert(0, os.path.dirname(__file__))
    from _toy_tasks import Chase, regression

    torch.set_num_threads(1)
    X, y = regression(n=64)
    task = Chase()
    tr = Trainer(task, device="cpu", progress="off")
    hist = tr.fit((X, y), (X[:16], y[:16]), epochs=2, batch_size=8)  # global batch 16
    if int(os.environ["RANK"]) == 0:
        save_file({k: v.contiguous() for k, v in task.state_dict().items()}, out)
        with open(out + ".json", "w") as f:
            json.dump(hist.records, f)
    shutdown()


def main(out: str, log_root: str) -> None:
    torch.set_num_threads(1)
    rank = int(os.environ["RANK"])
    model, X, y = make_problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
    tr = Trainer(model, nn.CrossEntropyLoss(), opt, device="cpu", progress="off",
                 log_dir=f"{log_root}/rank{rank}")
    hist = tr.fit((X, y), (X[:16], y[:16]), epochs=2, batch_size=8)  # global batch 16
    if rank == 0:
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, out)
        with open(out + ".json", "w") as f:
            json.dump(hist.records, f)
    shutdown()


if __name__ == "__main__":
    if sys.argv[2] == "task":
        main_task(sys.argv[1])
    else:
        main(sys.argv[1], sys.argv[2])
    # Everything is written and the group is destroyed. Leave without C++ static teardown:
    # gloo's background threads occasionally abort it ("terminate called without an active
    # exception", SIGABRT) after the work has finished, which reads as a failed rank.
    sys.stdout.flush()
    os._exit(0)
