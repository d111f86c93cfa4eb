"""The measurements of the frameworks lab: interleaved latency of several runtimes, and the
agreement of an exported model with its PyTorch original.

:func:`interleaved_latency` is also what ``bench/frameworks.py`` times with, so the lab and the
benchmark measure the same way (EVIDENCE §2: arms interleaved in one process, >= 7 repeats,
the median call of each repeat, an interval over repeats).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from deepdojo.export import onnx_session, run_onnx, to_onnx


@dataclass
class Latency:
    """Per-call seconds of one arm: ``repeats`` values, each the median of ``calls`` calls.

    Attributes
    ----------
    arm : str
        ``eager``, ``compile`` or ``onnxruntime``.
    batch : int
        Rows per call.
    per_repeat_s : list of float
        Median seconds per call in each interleaved repeat.
    """

    arm: str
    batch: int
    per_repeat_s: list[float] = field(default_factory=list)

    @property
    def median_s(self) -> float:
        """Median over repeats of the per-repeat median call time."""
        return statistics.median(self.per_repeat_s)

    @property
    def throughput(self) -> float:
        """Rows per second at the median call time: ``batch / median_s``."""
        return self.batch / self.median_s


def interleaved_latency(arms: Mapping[str, Callable[[], object]], *, batch: int, repeats: int,
                        calls: int, warmup: int = 3) -> dict[str, Latency]:
    """Time every arm ``repeats`` times, interleaved: repeat r runs ``calls`` calls of each arm
    in turn (the order rotates by one arm per repeat, so no arm always runs first).

    Each call is timed alone with ``time.perf_counter``; a repeat records the median call, so
    a stray interruption by another process moves one call, not the repeat. ``warmup`` untimed
    calls per arm come first (allocator, lazy initialisation, compiled graphs).

    Returns ``{arm: Latency}`` with ``repeats`` per-call medians each.
    """
    if repeats < 1 or calls < 1 or warmup < 0:
        raise ValueError(f"repeats and calls must be >= 1 and warmup >= 0, got {repeats}, "
                         f"{calls}, {warmup}")
    names = list(arms)
    for name in names:
        for _ in range(warmup):
            arms[name]()
    out = {name: Latency(name, batch) for name in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[: r % len(names)]:
            fn, times = arms[name], []
            for _ in range(calls):
                start = time.perf_counter()
                fn()
                times.append(time.perf_counter() - start)
            out[name].per_repeat_s.append(statistics.median(times))
    return out


def runtime_arms(model: nn.Module, inputs: tuple[Tensor, ...], onnx_path: str, *,
                 compile_model: bool = False) -> dict[str, Callable[[], object]]:
    """Zero-argument callables running ``model(*inputs)`` in eager PyTorch (no_grad, eval),
    optionally ``torch.compile`` (default inductor backend), and ONNX Runtime's CPU execution
    provider with one intra-op thread on the file at ``onnx_path`` (exported beforehand)."""
    model.eval()
    session = onnx_session(onnx_path, threads=max(torch.get_num_threads(), 1))
    feed = {spec.name: x.numpy() for spec, x in zip(session.get_inputs(), inputs, strict=True)}

    def eager() -> object:
        with torch.no_grad():
            return model(*inputs)

    arms: dict[str, Callable[[], object]] = {"eager": eager}
    if compile_model:
        compiled = torch.compile(model)

        def compiled_call() -> object:
            with torch.no_grad():
                return compiled(*inputs)

        arms["compile"] = compiled_call
    arms["onnxruntime"] = lambda: session.run(None, feed)
    return arms


@dataclass
class Agreement:
    """How an exported model's outputs compare with PyTorch's on one test set.

    Attributes
    ----------
    model : str
    exporter : str
        The exporter that wrote the file (see :func:`deepdojo.export.to_onnx`).
    agreement : float
        Share of test rows whose arg-max class is the same in both runtimes.
    max_abs_diff : float
        Largest ``|logit_onnx - logit_torch|`` over the test set.
    accuracy_torch, accuracy_onnx : float
        Test accuracy in each runtime.
    """

    model: str
    exporter: str
    agreement: float
    max_abs_diff: float
    accuracy_torch: float
    accuracy_onnx: float


def agreement(name: str, model: nn.Module, example: Tensor, X: Tensor, y: Tensor,
              path: str) -> Agreement:
    """Export ``model`` (example batch ``example``) to ``path``, run the test set ``X`` through
    PyTorch and ONNX Runtime, and compare logits and predicted classes."""
    info = to_onnx(model, example, path)
    model.eval()
    with torch.no_grad():
        torch_logits = model(X).numpy()  # (N, C)
    (onnx_logits,) = run_onnx(onnx_session(path), X)  # (N, C)
    pred_t, pred_o = torch_logits.argmax(1), onnx_logits.argmax(1)
    labels = y.numpy()
    return Agreement(name, info.exporter, float(np.mean(pred_t == pred_o)),
                     float(np.abs(torch_logits.astype(np.float64) - onnx_logits).max()),
                     float(np.mean(pred_t == labels)), float(np.mean(pred_o == labels)))
