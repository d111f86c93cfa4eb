"""Export helpers for models whose arguments do not all carry the batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn


class FixedInputs(nn.Module):
    """``model`` with some arguments fixed: ``forward(*free) == model(*all_args)``.

    ONNX graphs take tensors that share a batch axis; a model whose forward also takes a
    Python number (a few-shot model's ``n_way``) or a tensor of another length (its support
    set) is exported with those arguments held as constants inside the graph.

    Parameters
    ----------
    model : nn.Module
    args : sequence
        Every argument of ``model`` in order (tensors and plain values).
    free : sequence of int
        Positions in ``args`` that stay graph inputs (tensors); the rest are fixed.
    """

    def __init__(self, model: nn.Module, args: Sequence[Any], free: Sequence[int]) -> None:
        super().__init__()
        self.model = model
        self.free = tuple(int(i) for i in free)
        self.n_args = len(args)
        self.fixed: dict[int, Any] = {}
        for i, a in enumerate(args):
            if i in self.free:
                if not isinstance(a, Tensor):
                    raise TypeError(f"free argument {i} must be a Tensor, got {type(a).__name__}")
            elif isinstance(a, Tensor):
                self.register_buffer(f"fixed_{i}", a.detach().clone(), persistent=False)
            else:
                self.fixed[i] = a

    def forward(self, *free: Tensor) -> Any:
        """Call ``model`` with ``free`` at their positions and the fixed values elsewhere."""
        given = dict(zip(self.free, free, strict=True))
        args = [given[i] if i in given else self.fixed[i] if i in self.fixed
                else getattr(self, f"fixed_{i}") for i in range(self.n_args)]
        return self.model(*args)


def batched_positions(args: Sequence[Any], batch: int) -> list[int]:
    """Positions of the tensors in ``args`` whose axis 0 has length ``batch`` (the arguments
    that carry the batch; the others are fixed by :class:`FixedInputs` for export)."""
    return [i for i, a in enumerate(args)
            if isinstance(a, Tensor) and a.dim() > 0 and a.shape[0] == batch]
