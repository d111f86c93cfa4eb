"""Runtime benchmark: eager PyTorch vs torch.compile vs ONNX Runtime, as ratios to eager.

The registry's MLP (``plain_mlp``, 64 -> 10), CNN (``plain_cnn`` on 1x28x28 images) and
Transformer (``transformer``, 32 tokens in and out) run inference (eval, no_grad) at batch 1 and
batch 64 in three runtimes:

- ``eager``: PyTorch eager mode;
- ``compile``: ``torch.compile`` (inductor), compiled before timing (warm-up calls untimed);
- ``onnxruntime``: the model exported with :func:`deepdojo.export.to_onnx` (dynamic batch),
  run by ONNX Runtime's CPU execution provider with the same thread count.

Timing reuses the frameworks lab's :func:`deepdojo.labs.frameworks.measure.interleaved_latency`:
the arms interleaved in one process, the arm order rotating per repeat, each repeat's median
call kept; the table gives the median over repeats and its ratio to eager *in the same run*
(with the min-max of the per-repeat ratios). Latency is the median time per call; throughput
is batch / latency (rows per second).

Usage::

    python bench/frameworks.py                    # 1 thread, 9 repeats of 30 calls
    python bench/frameworks.py --threads 2 --repeats 15 --calls 50
    python bench/frameworks.py --no-compile       # without torch.compile (no C++ compiler)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from deepdojo.export import to_onnx
from deepdojo.labs.frameworks.measure import Latency, interleaved_latency, runtime_arms
from deepdojo.models import create


def models(seq_len: int) -> dict[str, tuple[nn.Module, callable]]:
    """name -> (model in eval mode, inputs(batch) -> tuple of tensors)."""
    torch.manual_seed(0)

    def tokens(B: int) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(B)
        src = torch.randint(4, 64, (B, seq_len), generator=g)  # (B, T)
        return src, src.roll(1, dims=1)

    return {
        "mlp": (create("plain_mlp", in_features=64, num_classes=10, depth=4, width=256).eval(),
                lambda B: (torch.rand(B, 64),)),
        "cnn": (create("plain_cnn", in_channels=1, num_classes=10, depth=4, width=32).eval(),
                lambda B: (torch.rand(B, 1, 28, 28),)),
        "transformer": (create("transformer", src_vocab_size=64, tgt_vocab_size=64, d_model=64,
                               max_len=max(seq_len, 16)).eval(), tokens),
    }


def _ratio_range(arm: Latency, eager: Latency) -> str:
    ratios = [a / e for a, e in zip(arm.per_repeat_s, eager.per_repeat_s, strict=True)]
    return f"{min(ratios):.2f}-{max(ratios):.2f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1, help="torch and ONNX Runtime threads")
    p.add_argument("--repeats", type=int, default=9, help="interleaved repeats (>= 7)")
    p.add_argument("--calls", type=int, default=30, help="timed calls per arm and repeat")
    p.add_argument("--batches", type=int, nargs="+", default=[1, 64])
    p.add_argument("--seq-len", type=int, default=32)
    p.add_argument("--no-compile", action="store_true", help="leave torch.compile out")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), {args.repeats} repeats x "
          f"{args.calls} calls, interleaved; ratio = time per call / eager's (same run)")
    print(f"{'model':12} {'batch':>5} {'arm':12} {'latency_us':>11} {'rows/s':>11} "
          f"{'ratio':>6} {'per-repeat':>11}")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        for name, (model, make) in models(args.seq_len).items():
            path = Path(folder) / f"{name}.onnx"
            to_onnx(model, make(2), path)
            for B in args.batches:
                arms = runtime_arms(model, make(B), str(path), compile_model=not args.no_compile)
                times = interleaved_latency(arms, batch=B, repeats=args.repeats,
                                            calls=args.calls, warmup=5)
                eager = times["eager"]
                for arm, lat in times.items():
                    print(f"{name:12} {B:5d} {arm:12} {1e6 * lat.median_s:11.1f} "
                          f"{lat.throughput:11.0f} {lat.median_s / eager.median_s:6.2f} "
                          f"{_ratio_range(lat, eager):>11}", flush=True)
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
