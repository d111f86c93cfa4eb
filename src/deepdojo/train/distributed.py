"""Data-parallel training under ``torchrun``: process group, DDP, sharded data, reduced metrics.

Launch the same script on every process; the Trainer notices ``WORLD_SIZE > 1`` and

1. initializes the process group (``gloo`` on CPU, ``nccl`` on CUDA; each process uses
   ``cuda:LOCAL_RANK``) unless the script already did;
2. wraps the model in ``DistributedDataParallel`` for training (gradients are averaged across
   processes during backward);
3. shards the data: in-memory ``(X, y)`` takes every ``world_size``-th index of the shared
   seeded permutation (padded like ``DistributedSampler``); a DataLoader is rebuilt with a
   ``DistributedSampler``, or with :class:`DistributedWeightedSampler` when it used a
   ``WeightedRandomSampler``;
4. sums the epoch's training loss/metric totals across processes, so every rank records the
   global means (validation runs on the full validation data on each rank);
5. writes checkpoints and logs from rank 0 only.

``batch_size`` is per process: the global batch is ``batch_size * world_size``. Two CPU
processes on one machine::

    torchrun --nproc_per_node=2 train.py

and on two machines (run on each, ``--node_rank`` 0 and 1)::

    torchrun --nnodes=2 --nproc_per_node=8 --node_rank=0 \
        --master_addr=10.0.0.1 --master_port=29500 train.py

End the script with :func:`shutdown` (a barrier, then ``destroy_process_group``): rank 0
hosts the rendezvous store, and a rank still tearing down when rank 0 has exited can hang
(seen with gloo on CPU, about one run in six without the barrier).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import (
    DataLoader,
    DistributedSampler,
    RandomSampler,
    Sampler,
    WeightedRandomSampler,
)


def shutdown() -> None:
    """Leave the process group on every rank together (no-op when there is none)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()  # nobody leaves (rank 0 hosts the store) while a peer still tears down
        dist.destroy_process_group()


def world_size_from_env() -> int:
    """``WORLD_SIZE`` as set by torchrun (1 when unset)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def local_device(device: torch.device) -> torch.device:
    """Under torchrun on CUDA, each process takes ``cuda:LOCAL_RANK``."""
    if device.type == "cuda" and device.index is None and "LOCAL_RANK" in os.environ:
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return device


class DistributedWeightedSampler(Sampler[int]):
    """Weighted sampling split across processes: one global draw, disjoint shards.

    Each epoch all ranks draw the same ``num_samples`` indices with
    ``torch.multinomial(weights, num_samples, replacement)`` from a generator seeded with
    ``seed + epoch``; rank ``r`` keeps positions ``r, r + W, r + 2W, ...`` (padded to a multiple
    of ``W``), so together the ranks see exactly the single-process weighted sample.
    """

    def __init__(
        self, weights: torch.Tensor, num_samples: int, *, replacement: bool = True,
        num_replicas: int | None = None, rank: int | None = None, seed: int = 0,
    ) -> None:  # fmt: skip
        self.weights = torch.as_tensor(weights, dtype=torch.double)
        self.num_samples_total = num_samples
        self.replacement = replacement
        self.num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
        self.rank = dist.get_rank() if rank is None else rank
        self.seed = seed
        self.epoch = 0
        self.num_samples = math.ceil(num_samples / self.num_replicas)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        idx = torch.multinomial(self.weights, self.num_samples_total, self.replacement, generator=g)
        idx = pad_to_multiple(idx, self.num_replicas)
        return iter(idx[self.rank :: self.num_replicas].tolist())

    def __len__(self) -> int:
        return self.num_samples


def pad_to_multiple(order: torch.Tensor, world_size: int) -> torch.Tensor:
    """Repeat the start of ``order`` so its length divides by ``world_size`` (as
    ``DistributedSampler`` does without ``drop_last``)."""
    total = math.ceil(len(order) / world_size) * world_size
    if total == len(order):
        return order
    reps = math.ceil(total / len(order))
    return order.repeat(reps)[:total]


@dataclass
class DistributedRun:
    """This process's place in the job."""

    rank: int
    world_size: int

    @classmethod
    def setup(cls, device: torch.device) -> DistributedRun | None:
        """Join (or reuse) the process group when ``WORLD_SIZE > 1``; else ``None``."""
        if world_size_from_env() <= 1 and not (dist.is_available() and dist.is_initialized()):
            return None
        if not dist.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            dist.init_process_group(backend=backend)
        if dist.get_world_size() <= 1:
            return None
        return cls(rank=dist.get_rank(), world_size=dist.get_world_size())

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def wrap(self, model: nn.Module, device: torch.device) -> DistributedDataParallel:
        """DDP around ``model`` (parameters broadcast from rank 0)."""
        ids = [device.index] if device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def shard(self, order: torch.Tensor) -> torch.Tensor:
        """This rank's indices of the shared permutation ``order`` (length ``N``)."""
        return pad_to_multiple(order, self.world_size)[self.rank :: self.world_size]

    def shard_size(self, n: int) -> int:
        return math.ceil(n / self.world_size)

    def distribute_loader(self, loader: DataLoader, seed: int) -> DataLoader:
        """The same loader with its sampler replaced by a distributed one (a sampler that
        already takes one share per rank, ``shards_by_rank``, is kept)."""
        sampler = loader.sampler
        if getattr(sampler, "shards_by_rank", False):  # e.g. EpisodeSampler: already sharded
            return loader
        new: Sampler[int]
        if isinstance(sampler, WeightedRandomSampler):
            new = DistributedWeightedSampler(
                sampler.weights, sampler.num_samples, replacement=sampler.replacement, seed=seed
            )
        else:
            shuffle = isinstance(sampler, RandomSampler)
            new = DistributedSampler(loader.dataset, shuffle=shuffle, seed=seed)
        return DataLoader(
            loader.dataset, batch_size=loader.batch_size, sampler=new,
            num_workers=loader.num_workers, collate_fn=loader.collate_fn,
            pin_memory=loader.pin_memory, drop_last=loader.drop_last,
            worker_init_fn=loader.worker_init_fn,
        )  # fmt: skip

    def broadcast_parameters(self, module: nn.Module) -> None:
        """Every rank starts from rank 0's parameters and buffers (as DDP does)."""
        with torch.no_grad():
            for t in [*module.parameters(), *module.buffers()]:
                dist.broadcast(t.data, src=0)

    def average_gradients(self, params: list[torch.Tensor]) -> None:
        """Average the ``.grad`` of ``params`` over the ranks in one all-reduce (a task's
        update: the loss of each rank's shard, averaged as DDP averages it)."""
        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])  # (sum of numels,)
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        flat /= self.world_size
        parts = flat.split([g.numel() for g in grads])
        torch._foreach_copy_(grads, [c.view_as(g) for c, g in zip(parts, grads, strict=True)])

    def sum_means(
        self, sums: dict[str, float], counts: dict[str, float], device: torch.device
    ) -> tuple[dict[str, float], dict[str, float]]:
        """Sum per-rank epoch accumulators over all ranks (every rank must hold the same keys)."""
        keys = sorted(sums)
        buf = torch.tensor([sums[k] for k in keys] + [float(counts[k]) for k in keys],
                           dtype=torch.float64, device=device)  # fmt: skip
        dist.all_reduce(buf, op=dist.ReduceOp.SUM)
        values = buf.tolist()
        total = dict(zip(keys, values[: len(keys)], strict=True))
        return {k: total[k] for k in sums}, dict(zip(keys, values[len(keys):], strict=True))

    def sum_totals(
        self, totals: dict[str, float], seen: int, device: torch.device
    ) -> tuple[dict[str, float], int]:
        """Sum per-rank ``totals`` (sums of value * batch size) and ``seen`` over all ranks."""
        keys = sorted(totals)
        buf = torch.tensor([totals[k] for k in keys] + [float(seen)], dtype=torch.float64,
                           device=device)  # fmt: skip
        dist.all_reduce(buf, op=dist.ReduceOp.SUM)
        values = buf.tolist()
        return dict(zip(keys, values[:-1], strict=True)), int(values[-1])
