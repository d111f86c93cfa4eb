"""Sequence-model benchmark: every figure is a ratio to a baseline measured in the same run.

Rows (time of one training step, forward + backward, median over repeats):

1. explicit deepdojo GRU          / torch.nn.GRU
2. fused deepdojo GRU             / torch.nn.GRU            (target 1.0x)
3. explicit GRU under torch.compile / torch.nn.GRU   (skipped, with the reason, if compile fails)
4. fused MultiHeadAttention       / projections + F.scaled_dot_product_attention (target <= 1.05x)
5. explicit attention (weights)   / a naive reference (matmul, masked softmax, matmul)

Usage::

    python bench/sequence.py                      # CPU, sizes scaled down from the issue's
    python bench/sequence.py --device cuda --batch 256 --seq-len 64 --input-size 128 \
        --hidden 256                              # the issue's GPU configuration
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from deepdojo.nn import GRU, MultiHeadAttention


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timeit(steps: list[Callable[[], None]], device: torch.device, warmup: int, repeats: int
           ) -> list[float]:
    """Median seconds of each ``step()``, run interleaved (round-robin) after ``warmup`` calls.

    Interleaving makes the ratios robust to load that changes during the run.
    """
    for step in steps:
        for _ in range(warmup):
            step()
    _sync(device)
    times: list[list[float]] = [[] for _ in steps]
    for _ in range(repeats):
        for i, step in enumerate(steps):
            start = time.perf_counter()
            step()
            _sync(device)
            times[i].append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def _gru_step(module: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def step() -> None:
        out, h_n = module(x)
        (out.square().mean() + h_n.mean()).backward()
        module.zero_grad(set_to_none=True)

    return step


def bench_gru(args: argparse.Namespace, device: torch.device, dtype: torch.dtype) -> list[dict]:
    torch.manual_seed(0)
    ref = nn.GRU(args.input_size, args.hidden, batch_first=True).to(device, dtype)
    x = torch.randn(args.batch, args.seq_len, args.input_size, device=device, dtype=dtype)
    cases = {"torch.nn.GRU (baseline)": ref,
             "deepdojo GRU explicit": GRU.from_torch(ref, impl="explicit"),
             "deepdojo GRU fused": GRU.from_torch(ref, impl="fused")}
    skipped = []
    if args.no_compile:
        skipped.append({"case": "explicit GRU + torch.compile", "skipped": "--no-compile"})
    else:
        try:
            compiled = torch.compile(GRU.from_torch(ref, impl="explicit"))
            _gru_step(compiled, x)()  # compile now, so a failure is caught here
            cases["explicit GRU + torch.compile"] = compiled
        except Exception as e:  # compile needs a C++ toolchain / triton; report why it failed
            reason = f"{type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"
            skipped.append({"case": "explicit GRU + torch.compile", "skipped": reason})
    times = timeit([_gru_step(m, x) for m in cases.values()], device, args.warmup, args.repeats)
    rows = [{"case": name, "ms": t * 1e3, "ratio": t / times[0]}
            for name, t in zip(cases, times, strict=True)]
    return rows + skipped


def _sdpa_reference(mha: MultiHeadAttention) -> Callable[[torch.Tensor], torch.Tensor]:
    """The same projections written inline around F.scaled_dot_product_attention."""
    E, H = mha.embed_dim, mha.num_heads

    def forward(x: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        q, k, v = F.linear(x, mha.in_proj_weight, mha.in_proj_bias).chunk(3, dim=-1)
        q, k, v = (t.view(B, T, H, E // H).transpose(1, 2) for t in (q, k, v))  # (B, H, T, d)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return F.linear(out.transpose(1, 2).reshape(B, T, E), mha.out_proj.weight,
                        mha.out_proj.bias)

    return forward


def _naive_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, pad: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    scores = scores.masked_fill(pad[:, None, :], float("-inf"))
    weights = scores.softmax(-1)
    return weights @ v, weights


def bench_attention(args: argparse.Namespace, device: torch.device, dtype: torch.dtype
                    ) -> list[dict]:
    from deepdojo.nn import DotProductAttention

    torch.manual_seed(0)
    B, T, E = args.batch, args.attn_len, args.embed
    mha = MultiHeadAttention(E, args.heads).to(device, dtype)
    x = torch.randn(B, T, E, device=device, dtype=dtype, requires_grad=True)
    ref = _sdpa_reference(mha)

    def fused() -> None:
        mha(x, x, x, need_weights=False, is_causal=True)[0].square().mean().backward()

    def baseline() -> None:
        ref(x).square().mean().backward()

    base, t = timeit([baseline, fused], device, args.warmup, args.repeats)
    rows = [{"case": "projections + F.scaled_dot_product_attention (baseline)",
             "ms": base * 1e3, "ratio": 1.0},
            {"case": "deepdojo MultiHeadAttention fused", "ms": t * 1e3, "ratio": t / base}]
    q, k, v = (torch.randn(B, T, E, device=device, dtype=dtype, requires_grad=True)
               for _ in range(3))
    pad = torch.zeros(B, T, dtype=torch.bool, device=device)
    pad[:, -T // 4 :] = True
    att = DotProductAttention()

    def naive() -> None:
        ctx, w = _naive_attention(q, k, v, pad)
        (ctx.square().mean() + w.mean()).backward()

    def explicit() -> None:
        ctx, w = att(q, k, v, key_padding_mask=pad)
        (ctx.square().mean() + w.mean()).backward()

    base, t = timeit([naive, explicit], device, args.warmup, args.repeats)
    rows += [{"case": "naive attention reference (baseline)", "ms": base * 1e3, "ratio": 1.0},
             {"case": "deepdojo DotProductAttention explicit", "ms": t * 1e3, "ratio": t / base}]
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--batch", type=int, default=64, help="issue: 256 (GPU)")
    p.add_argument("--seq-len", type=int, default=32, help="issue: 64")
    p.add_argument("--input-size", type=int, default=64, help="issue: 128")
    p.add_argument("--hidden", type=int, default=128, help="issue: 256")
    p.add_argument("--embed", type=int, default=128, help="attention embed_dim")
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--attn-len", type=int, default=128, help="attention sequence length")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile row")
    p.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = p.parse_args()
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    print(f"device={device} dtype={args.dtype} threads={torch.get_num_threads()} "
          f"GRU: B={args.batch} T={args.seq_len} I={args.input_size} H={args.hidden}; "
          f"attention: B={args.batch} T={args.attn_len} E={args.embed} heads={args.heads}")
    rows = bench_gru(args, device, dtype) + bench_attention(args, device, dtype)
    for r in rows:
        if "skipped" in r:
            print(f"{r['case']:<58} skipped: {r['skipped']}")
        else:
            print(f"{r['case']:<58} {r['ms']:9.3f} ms  {r['ratio']:6.2f}x")
    if args.json:
        from deepdojo.utils import atomic_write_json

        atomic_write_json(args.json, {"args": vars(args), "rows": rows})


if __name__ == "__main__":
    main()
