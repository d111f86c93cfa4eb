"""Few-shot episodes: N-way K-shot support sets with queries, drawn from any labelled data set.

An *episode* picks ``N`` classes (``n_way``), then ``K`` support items (``k_shot``) and ``Q``
query items (``n_query``) of each class, all distinct. A few-shot learner sees the labelled
support set and is scored on the queries (Vinyals et al. 2016; Snell et al. 2017).

- :class:`EpisodeSampler` yields :class:`Episode` s of dataset indices: seeded, restricted to a
  given set of classes (train classes vs test classes), DDP-aware.
- :func:`collate_episode` turns an episode into tensors with labels re-indexed ``0..N-1``.
- :class:`EpisodeDataset` and :func:`episode_loader` give a ``DataLoader`` of flat episode
  batches ``(inputs, labels)`` (support first, then queries) for the Trainer and
  :class:`deepdojo.train.tasks.EpisodicTask`; the loader's sampler is the
  :class:`EpisodeSampler`, so the Trainer's ``set_epoch`` reaches it.

Index layout is class-major: ``support[c * K + k]`` is the ``k``-th shot of ``classes[c]``
and ``query[c * Q + q]`` its ``q``-th query, so the episode labels are
``arange(N).repeat_interleave(K)`` and ``arange(N).repeat_interleave(Q)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from deepdojo.utils.checks import check_int as _positive_int

__all__ = [
    "Episode",
    "EpisodeBatch",
    "EpisodeDataset",
    "EpisodeSampler",
    "collate_episode",
    "episode_loader",
]


class Episode(NamedTuple):
    """One episode of dataset indices (int64 tensors).

    Attributes
    ----------
    support : Tensor, shape (N * K,)
        Indices of the support items, class-major.
    query : Tensor, shape (N * Q,)
        Indices of the query items, class-major.
    classes : Tensor, shape (N,)
        The original labels of the episode's classes; episode label ``c`` means ``classes[c]``.
    """

    support: Tensor
    query: Tensor
    classes: Tensor


class EpisodeBatch(NamedTuple):
    """An episode as tensors: inputs and labels re-indexed to ``0..N-1``.

    ``support_x`` ``(N*K, *)``, ``support_y`` ``(N*K,)``, ``query_x`` ``(N*Q, *)``,
    ``query_y`` ``(N*Q,)``, ``classes`` ``(N,)`` original labels.
    """

    support_x: Tensor
    support_y: Tensor
    query_x: Tensor
    query_y: Tensor
    classes: Tensor


def _labels_array(labels: Any) -> np.ndarray:
    if isinstance(labels, Tensor):
        labels = labels.detach().cpu().numpy()
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"labels must be a non-empty 1-D sequence, got shape {arr.shape}")
    if arr.dtype.kind not in "iu":
        raise TypeError(f"labels must hold integer class labels, got dtype {arr.dtype}")
    return arr.astype(np.int64)


def _check_shard(rank: Any, world_size: Any) -> None:
    if world_size is not None:
        _positive_int(world_size, "world_size")
    if rank is not None:
        _positive_int(rank, "rank", minimum=0)
        if world_size is not None and rank >= world_size:
            raise ValueError(f"rank must be in [0, world_size={world_size}), got {rank}")


class EpisodeSampler(Sampler[Episode]):
    """Seeded N-way K-shot episodes over a labelled data set; DDP-aware.

    Episode ``j`` of epoch ``e`` is drawn from its own NumPy generator seeded with
    ``(seed, e, j)``: pick ``n_way`` distinct classes uniformly, then ``k_shot + n_query``
    distinct items of each class uniformly; the first ``k_shot`` are the support. So an
    episode depends only on ``(seed, epoch, j)``, not on which rank draws it or on how many
    were drawn before it (a resumed run gets the same episodes).

    Under DDP rank ``r`` of ``R`` takes episodes ``j = r, r + R, r + 2R, ...``: the ranks'
    episodes are disjoint and together form one stream. Each rank yields
    ``ceil(episodes / R)`` episodes, so every rank runs the same number of steps. Call
    :meth:`set_epoch` at the start of every epoch for fresh episodes (the Trainer does).
    Rank and world size not given are read from ``torch.distributed`` when iterating, so a
    sampler built before the process group starts (as ``Trainer.fit`` starts it) still
    shards; ``shards_by_rank`` tells the Trainer to keep this sampler under DDP.

    Parameters
    ----------
    labels : sequence of int, shape (n,)
        The label of every item of the data set (any integers, need not be contiguous).
    n_way, k_shot, n_query : int
        ``N >= 1`` classes per episode, ``K >= 1`` support and ``Q >= 0`` query items each.
    episodes : int
        Episodes per epoch over all ranks.
    classes : iterable of int, optional
        Draw only from these classes (e.g. the training alphabet); default: every label.
    seed : int
        Base seed.
    rank, world_size : int, optional
        Default to the rank and world size of an initialised ``torch.distributed`` group, else
        ``0`` and ``1``.
    groups : sequence of int, shape (n,), optional
        A group per item (e.g. the Omniglot alphabet), constant within a class. When given,
        every episode's ``n_way`` classes come from one group: episode ``j`` first picks a
        group uniformly among the groups of the usable classes, then ``n_way`` distinct
        classes of it (within-alphabet episodes, as Lake et al.'s and Koch et al.'s 20-way
        runs are drawn). Still seeded by ``(seed, epoch, j)`` and sharded by rank as above.

    Raises
    ------
    ValueError
        If a usable class has fewer than ``k_shot + n_query`` items, if ``n_way`` exceeds the
        number of usable classes, if a class in ``classes`` does not occur in ``labels``, or
        (with ``groups``) if a class spans two groups or a group has fewer than ``n_way``
        usable classes.

    Examples
    --------
    >>> labels = [0, 0, 0, 1, 1, 1, 2, 2, 2]
    >>> sampler = EpisodeSampler(labels, n_way=2, k_shot=1, n_query=2, episodes=4)
    >>> episode = next(iter(sampler))
    >>> episode.support.shape, episode.query.shape, episode.classes.shape
    (torch.Size([2]), torch.Size([4]), torch.Size([2]))
    """

    shards_by_rank = True  # already one share per rank: a DDP Trainer keeps this sampler

    def __init__(
        self,
        labels: Sequence[int] | Tensor | np.ndarray,
        n_way: int,
        k_shot: int,
        n_query: int,
        episodes: int,
        *,
        classes: Iterable[int] | None = None,
        seed: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
        groups: Sequence[int] | Tensor | np.ndarray | None = None,
    ) -> None:
        self.n_way = _positive_int(n_way, "n_way")
        self.k_shot = _positive_int(k_shot, "k_shot")
        self.n_query = _positive_int(n_query, "n_query", minimum=0)
        self.episodes = _positive_int(episodes, "episodes")
        self.seed = _positive_int(seed, "seed", minimum=0)
        _check_shard(rank, world_size)
        self._rank, self._world_size = rank, world_size
        self.epoch = 0
        labels_arr = _labels_array(labels)
        present = np.unique(labels_arr)
        if classes is None:
            chosen = present
        else:
            chosen = np.unique(np.asarray(list(classes), dtype=np.int64))
            missing = np.setdiff1d(chosen, present)
            if chosen.size == 0 or missing.size:
                raise ValueError(
                    f"classes must be labels that occur in labels; missing: {missing.tolist()}"
                )
        self.classes = torch.from_numpy(chosen)  # (C,) sorted usable classes
        self._members = [np.flatnonzero(labels_arr == c) for c in chosen]  # indices per class
        self._check_sizes()
        self._groups = None if groups is None else self._group_classes(groups, len(labels_arr))

    def _group_classes(self, groups: Any, n: int) -> list[np.ndarray]:
        """Positions (into ``self.classes``) of the usable classes of each group, by group."""
        if isinstance(groups, Tensor):
            groups = groups.detach().cpu().numpy()
        g = np.asarray(groups)
        if g.shape != (n,) or g.dtype.kind not in "iu":
            raise ValueError(f"groups must be one integer group per item, shape ({n},), got "
                             f"shape {g.shape} and dtype {g.dtype}")
        of_class = []
        for c, members in zip(self.classes.tolist(), self._members, strict=True):
            found = np.unique(g[members])
            if len(found) != 1:
                raise ValueError(f"groups must be constant within a class, but class {c} "
                                 f"spans groups {found[:5].tolist()}")
            of_class.append(int(found[0]))
        of_class_arr = np.array(of_class)
        names = np.unique(of_class_arr)
        by_group = [np.flatnonzero(of_class_arr == name) for name in names]
        small = [(int(name), len(pos)) for name, pos in zip(names, by_group, strict=True)
                 if len(pos) < self.n_way]  # fmt: skip
        if small:
            shown = ", ".join(f"group {name}: {k}" for name, k in small[:5])
            raise ValueError(f"within-group episodes need n_way={self.n_way} classes in every "
                             f"group, but {len(small)} have fewer ({shown}); lower n_way or "
                             "leave them out with classes=")
        return by_group

    def _check_sizes(self) -> None:
        need = self.k_shot + self.n_query
        small = [
            (int(c), len(m))
            for c, m in zip(self.classes, self._members, strict=True)
            if len(m) < need
        ]
        if small:
            shown = ", ".join(f"class {c}: {n}" for c, n in small[:5])
            raise ValueError(
                f"every class needs k_shot + n_query = {need} items, but {len(small)} have "
                f"fewer ({shown}); lower k_shot/n_query or leave them out with classes="
            )
        if self.n_way > len(self._members):
            raise ValueError(
                f"n_way={self.n_way} exceeds the {len(self._members)} available classes"
            )

    @property
    def world_size(self) -> int:
        """Ranks sharing the stream: as given, else ``torch.distributed``'s, else 1."""
        if self._world_size is not None:
            return self._world_size
        dist = torch.distributed
        return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1

    @property
    def rank(self) -> int:
        """This process's rank: as given, else ``torch.distributed``'s, else 0."""
        if self._rank is not None:
            rank = self._rank
        else:
            dist = torch.distributed
            rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
        if rank >= self.world_size:
            raise ValueError(f"rank must be in [0, world_size={self.world_size}), got {rank}")
        return rank

    @property
    def per_rank(self) -> int:
        """Episodes this rank yields per epoch: ``ceil(episodes / world_size)``."""
        return math.ceil(self.episodes / self.world_size)

    def set_epoch(self, epoch: int) -> None:
        """Draw the episodes of ``epoch`` (the same on every rank)."""
        self.epoch = _positive_int(epoch, "epoch", minimum=0)

    def episode(self, index: int) -> Episode:
        """Episode ``index`` of the current epoch's stream over all ranks."""
        rng = np.random.default_rng([self.seed, self.epoch, int(index)])
        if self._groups is None:
            picked = rng.choice(len(self._members), size=self.n_way, replace=False)  # (N,)
        else:
            members = self._groups[rng.integers(len(self._groups))]  # one group's classes
            picked = rng.choice(members, size=self.n_way, replace=False)  # (N,)
        need = self.k_shot + self.n_query
        items = np.stack(
            [rng.choice(self._members[c], size=need, replace=False) for c in picked]
        )  # (N, K + Q)
        support = torch.from_numpy(items[:, : self.k_shot].reshape(-1).copy())  # (N*K,)
        query = torch.from_numpy(items[:, self.k_shot :].reshape(-1).copy())  # (N*Q,)
        return Episode(support, query, self.classes[torch.from_numpy(picked)])

    def __iter__(self) -> Iterator[Episode]:
        rank, world_size = self.rank, self.world_size
        for local in range(self.per_rank):
            yield self.episode(rank + local * world_size)

    def __len__(self) -> int:
        return self.per_rank


def collate_episode(episode: Episode, inputs: Tensor | Any) -> EpisodeBatch:
    """Gather an episode's inputs and re-index its labels to ``0..N-1``.

    Parameters
    ----------
    episode : Episode
        From :class:`EpisodeSampler`.
    inputs : Tensor, shape (n, *), or an indexable data set
        The data set's inputs. A ``Dataset`` whose items are ``(x, y)`` pairs (or bare ``x``)
        is read item by item and stacked.

    Returns
    -------
    EpisodeBatch
        ``support_y = arange(N).repeat_interleave(K)``; ``query_y`` likewise with ``Q``.
    """
    if not isinstance(episode, Episode):
        raise TypeError(f"episode must be an Episode, got {type(episode).__name__}")
    n_way = episode.classes.numel()
    k_shot = episode.support.numel() // n_way
    n_query = episode.query.numel() // n_way
    ways = torch.arange(n_way)
    return EpisodeBatch(
        support_x=_gather(inputs, episode.support),  # (N*K, *)
        support_y=ways.repeat_interleave(k_shot),  # (N*K,)
        query_x=_gather(inputs, episode.query),  # (N*Q, *)
        query_y=ways.repeat_interleave(n_query),  # (N*Q,)
        classes=episode.classes,
    )


def _gather(inputs: Tensor | Any, indices: Tensor) -> Tensor:
    if isinstance(inputs, Tensor):
        return inputs[indices.to(inputs.device)]
    if not hasattr(inputs, "__getitem__"):
        raise TypeError(f"inputs must be a tensor or indexable, got {type(inputs).__name__}")
    if indices.numel() == 0:  # no queries: an empty batch shaped like one item
        first = inputs[0]
        first = torch.as_tensor(first[0] if isinstance(first, tuple | list) else first)
        return first.new_empty((0, *first.shape))
    items = [inputs[int(i)] for i in indices]
    items = [item[0] if isinstance(item, tuple | list) else item for item in items]
    return torch.stack([torch.as_tensor(item) for item in items])


class EpisodeDataset(Dataset):
    """Map an :class:`Episode` to one flat batch ``(inputs, labels)``.

    ``inputs`` is ``(N*K + N*Q, *)``: the support items (class-major) then the queries;
    ``labels`` is ``(N*K + N*Q,)``, re-indexed to ``0..N-1``. Index it with episodes from an
    :class:`EpisodeSampler` (``DataLoader(dataset, sampler=sampler, batch_size=None)``).

    Parameters
    ----------
    inputs : Tensor, shape (n, *), or an indexable data set of ``(x, y)`` items
        The items the episodes' indices point into.
    """

    def __init__(self, inputs: Tensor | Any) -> None:
        if not isinstance(inputs, Tensor) and not hasattr(inputs, "__getitem__"):
            raise TypeError(f"inputs must be a tensor or indexable, got {type(inputs).__name__}")
        self.inputs = inputs

    def __getitem__(self, episode: Episode) -> tuple[Tensor, Tensor]:
        batch = collate_episode(episode, self.inputs)
        inputs = torch.cat([batch.support_x, batch.query_x])  # (N*K + N*Q, *)
        labels = torch.cat([batch.support_y, batch.query_y])  # (N*K + N*Q,)
        return inputs, labels


def episode_loader(
    inputs: Tensor | Any,
    labels: Sequence[int] | Tensor | np.ndarray,
    n_way: int,
    k_shot: int,
    n_query: int,
    episodes: int,
    *,
    classes: Iterable[int] | None = None,
    seed: int = 0,
    rank: int | None = None,
    world_size: int | None = None,
    groups: Sequence[int] | Tensor | np.ndarray | None = None,
) -> DataLoader:
    """A ``DataLoader`` of flat episode batches (see :class:`EpisodeDataset`).

    Each batch is ``(inputs (N*(K+Q), *), labels (N*(K+Q),))`` with labels in ``0..N-1``:
    the first ``N*K`` rows are the support set. Arguments as in :class:`EpisodeSampler`.

    Examples
    --------
    >>> x, y = torch.randn(30, 4), torch.arange(30) % 3
    >>> xb, yb = next(iter(episode_loader(x, y, n_way=3, k_shot=2, n_query=1, episodes=5)))
    >>> xb.shape, yb.tolist()
    (torch.Size([9, 4]), [0, 0, 1, 1, 2, 2, 0, 1, 2])
    """
    sampler = EpisodeSampler(
        labels, n_way, k_shot, n_query, episodes,
        classes=classes, seed=seed, rank=rank, world_size=world_size, groups=groups,
    )  # fmt: skip
    return DataLoader(EpisodeDataset(inputs), sampler=sampler, batch_size=None)
