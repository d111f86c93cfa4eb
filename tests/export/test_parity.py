"""Every registered model leaves PyTorch through ONNX with the same outputs.

Parametrized over ``deepdojo.models.list_models()`` at collection time, so a model registered
by any module joins automatically. Each model (its registry test configuration, eval mode,
float32) is exported once with a dynamic batch axis and run in ONNX Runtime (CPU execution
provider) at batch 1 and at batch 7; every output must match PyTorch within ``TOLERANCE``
(1e-4 absolute unless a model is listed in ``TOLERANCE_BY_MODEL`` with its reason).

Arguments that do not carry the batch (a few-shot model's support set and ``n_way``) are
fixed inside the graph (:class:`deepdojo.export.FixedInputs`); the batch is the example's
output batch.

Nothing is skipped silently: a model that cannot be exported is listed in ``CANNOT_EXPORT``
with the reason, and the test asserts that it still fails (so the list stays honest and a
model that starts exporting must leave it). The blocks that are not registered models (the
explicit GRU, the attention blocks, the Transformer layers) and Seq2Seq greedy decoding
(encoder and decoder step as two graphs, the loop in Python) are checked below the registry.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from deepdojo_testing import require
from torch import nn

from deepdojo.export import (
    ExportError,
    FixedInputs,
    batched_positions,
    max_abs_diff,
    onnx_session,
    run_onnx,
    to_onnx,
)
from deepdojo.models import create, get_model_spec, list_models

for _module in ("onnx", "onnxruntime", "onnxscript"):
    require(_module, extra="onnx")

TOLERANCE = 1e-4  # absolute, float32

# model -> reason it cannot be exported with a dynamic batch axis (asserted to still fail with
# ExportError; each one is asserted to export and match with a fixed batch instead)
CANNOT_EXPORT: dict[str, str] = {}

# model -> why torch.export (the dynamo exporter) cannot capture it; to_onnx's TorchScript
# tracer fallback writes it instead (asserted: dynamo alone still fails, auto uses the tracer)
NEEDS_TRACER: dict[str, str] = {
    "seq2seq": "the GRU encoder checks the padded lengths (lengths.min() < 1) and packs by "
               "them: control flow on tensor values, which torch.export refuses",
}

# model -> (tolerance, reason) where 1e-4 absolute is not the right bar
TOLERANCE_BY_MODEL: dict[str, tuple[float, str]] = {}

BATCHES = (1, 7)
# the batch of the example the graphs are exported from: a size no model uses elsewhere, so
# that torch.export cannot mistake the batch axis for another axis of equal size (with the
# registry's batch 4, siamese's concatenated pair 2B = 8 met its width 8 and the batch axis
# was fixed)
EXPORT_BATCH = 5


def _prepared(name: str) -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
    """The registry's test model in eval mode, wrapped so that only batch-carrying tensors
    are graph inputs, and its example batch for those inputs."""
    spec = get_model_spec(name)
    torch.manual_seed(0)
    model = create(name, **spec.test_kwargs).eval()
    example = spec.example(**spec.test_kwargs)
    args = tuple(example.inputs)
    first = next(a for a in args if isinstance(a, torch.Tensor))
    batch = example.output_shape[0] if example.output_shape else first.shape[0]
    free = batched_positions(args, batch)
    assert free, f"{name}: no input carries the output batch {batch}"
    return FixedInputs(model, args, free).eval(), tuple(args[i] for i in free)


def _batch_like(inputs: tuple[torch.Tensor, ...], B: int, seed: int) -> tuple[torch.Tensor, ...]:
    """A batch of ``B`` rows shaped like ``inputs``: floats are fresh N(0, 1) draws, integer
    inputs (token ids, labels) are rows of the example drawn with replacement (valid ids and
    padding patterns); the same row index is used for every integer input."""
    g = torch.Generator().manual_seed(seed)
    rows = torch.randint(0, inputs[0].shape[0], (B,), generator=g)
    return tuple(torch.randn((B, *x.shape[1:]), generator=g) if x.is_floating_point()
                 else x[rows] for x in inputs)


@pytest.mark.parametrize("name", list_models())
def test_registered_model_matches_pytorch_in_onnxruntime(name, tmp_path):
    model, example = _prepared(name)
    example = _batch_like(example, EXPORT_BATCH, seed=EXPORT_BATCH)
    path = tmp_path / f"{name}.onnx"
    if name in CANNOT_EXPORT:
        with pytest.raises(ExportError, match="batch"):
            to_onnx(model, example, path)
        assert not path.exists()
        info = to_onnx(model, example, path, dynamic_batch=False)  # the fixed-batch way out
        assert max_abs_diff(model, info.path, *example) <= TOLERANCE
        return
    info = to_onnx(model, example, path)
    assert info.exporter == ("torchscript" if name in NEEDS_TRACER else "dynamo"), (
        f"{name} was written by the {info.exporter} exporter; update NEEDS_TRACER")
    tol = TOLERANCE_BY_MODEL.get(name, (TOLERANCE, ""))[0]
    session = onnx_session(path)
    for B in BATCHES:
        inputs = _batch_like(example, B, seed=B)
        diff = max_abs_diff(model, session, *inputs)  # also checks every output's shape
        assert diff <= tol, f"{name} at batch {B}: max |onnx - torch| = {diff:.3g} > {tol:g}"


@pytest.mark.parametrize("name", sorted(NEEDS_TRACER))
def test_models_listed_as_needing_the_tracer_still_fail_with_dynamo(name, tmp_path):
    model, example = _prepared(name)
    example = _batch_like(example, EXPORT_BATCH, seed=EXPORT_BATCH)
    with pytest.raises(ExportError, match="dynamo exporter"):
        to_onnx(model, example, tmp_path / "m.onnx", exporter="dynamo")
    assert list(tmp_path.iterdir()) == []


def test_exception_lists_name_registered_models_with_reasons():
    names = set(list_models())
    for table in (CANNOT_EXPORT, NEEDS_TRACER, TOLERANCE_BY_MODEL):
        assert set(table) <= names, f"stale entries: {set(table) - names}"
    assert all(len(r) > 20 for r in [*CANNOT_EXPORT.values(), *NEEDS_TRACER.values()])
    assert all(len(r) > 20 for _, r in TOLERANCE_BY_MODEL.values())


# ---------------------------------------------------------------------- blocks beyond the registry
class _Returns(nn.Module):
    """``fn(block, *inputs)`` as a module's forward (pick outputs, pass keyword arguments)."""

    def __init__(self, block: nn.Module, fn) -> None:
        super().__init__()
        self.block, self.fn = block, fn

    def forward(self, *inputs):
        return self.fn(self.block, *inputs)


def _blocks():
    from deepdojo.nn import (
        GRU,
        AdditiveAttention,
        DotProductAttention,
        GeneralAttention,
        MultiHeadAttention,
        TransformerDecoderLayer,
        TransformerEncoderLayer,
    )

    torch.manual_seed(0)
    q, kv = torch.randn(3, 4, 8), torch.randn(3, 6, 8)
    pad = torch.zeros(3, 6, dtype=torch.bool)
    pad[1, 4:] = True
    qkv = lambda b, q_, k_: b(q_, k_, k_)  # noqa: E731  (context, weights)
    causal = nn.Transformer.generate_square_subsequent_mask
    return {
        "GRU(explicit)": (_Returns(GRU(8, 5, num_layers=2, impl="explicit"),
                                   lambda b, x: b(x)), (kv,)),
        "GRU(fused)": (_Returns(GRU(8, 5, impl="fused", bidirectional=True),
                                lambda b, x: b(x)), (kv,)),
        "AdditiveAttention": (_Returns(AdditiveAttention(8, 8, 6), qkv), (q, kv)),
        "GeneralAttention": (_Returns(GeneralAttention(8, 8), qkv), (q, kv)),
        "DotProductAttention": (_Returns(DotProductAttention(), qkv), (q, kv)),
        "MultiHeadAttention(padding mask)": (
            _Returns(MultiHeadAttention(8, 2, batch_first=True),
                     lambda b, q_, k_, m: b(q_, k_, k_, key_padding_mask=m)), (q, kv, pad)),
        "TransformerEncoderLayer": (_Returns(TransformerEncoderLayer(8, 2, 16),
                                             lambda b, x: b(x)), (kv,)),
        "TransformerDecoderLayer(causal)": (
            _Returns(TransformerDecoderLayer(8, 2, 16),
                     lambda b, t, m: b(t, m, tgt_mask=causal(t.shape[1]))), (q, kv)),
    }


BLOCKS = _blocks()


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_block_matches_pytorch_in_onnxruntime(name, tmp_path):
    block, example = BLOCKS[name]
    block.eval()
    info = to_onnx(block, example, tmp_path / "block.onnx")
    assert info.exporter == "dynamo"
    session = onnx_session(info.path)
    for B in BATCHES:
        g = torch.Generator().manual_seed(B)
        inputs = tuple(torch.randn((B, *x.shape[1:]), generator=g) if x.is_floating_point()
                       else x[torch.arange(B) % x.shape[0]] for x in example)
        assert max_abs_diff(block, session, *inputs) <= TOLERANCE, name


# ---------------------------------------------------------------------- Seq2Seq greedy decoding
class _Encoder(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, src: torch.Tensor):
        return self.model.encode(src)  # (B, Ts, H), (B, H), (B, Ts) bool


class _Step(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, y_prev, state, enc_out, pad, enc_state):
        logits, state, *_ = self.model.step(y_prev, state, enc_out, pad, enc_state)
        return logits, state  # (B, V), (B, H)


def _onnx_greedy(encoder, step, src: np.ndarray, max_len: int, bos: int, eos: int, pad_idx: int
                 ) -> np.ndarray:
    """Seq2Seq.greedy_decode's loop, with both graphs run in ONNX Runtime."""
    enc_out, enc_state, pad = run_onnx(encoder, src)
    y = np.full(src.shape[0], bos, dtype=np.int64)
    done = np.zeros(src.shape[0], dtype=bool)
    state, out = enc_state, []
    for _ in range(max_len):
        logits, state = run_onnx(step, y, state, enc_out, pad, enc_state)
        y = np.where(done, pad_idx, logits.argmax(-1)).astype(np.int64)
        out.append(y)
        done |= y == eos
        if done.all():
            break
    return np.stack(out, axis=1)


@pytest.mark.parametrize("attention", ["none", "additive", "multiplicative"])
def test_seq2seq_greedy_decoding_matches_in_onnxruntime(attention, tmp_path):
    torch.manual_seed(0)
    model = create("seq2seq", src_vocab_size=12, tgt_vocab_size=9, embed_dim=6, hidden_size=8,
                   attention=attention).eval()
    g = torch.Generator().manual_seed(1)
    src = torch.randint(4, 12, (7, 6), generator=g)  # (B, Ts)
    src[2, 3:] = 0  # padded rows
    src[5, 5:] = 0
    enc_info = to_onnx(_Encoder(model), src[:3], tmp_path / "encoder.onnx")
    with torch.no_grad():
        enc_out, enc_state, pad = model.encode(src[:3])
    y0 = torch.full((3,), 1, dtype=torch.long)
    step_info = to_onnx(_Step(model), (y0, enc_state, enc_out, pad, enc_state),
                        tmp_path / "step.onnx")
    assert step_info.exporter == "dynamo"
    assert enc_info.exporter == "torchscript"  # see NEEDS_TRACER["seq2seq"]
    encoder, step = onnx_session(enc_info.path), onnx_session(step_info.path)
    with torch.no_grad():
        first = model.greedy_decode(src, max_len=1, bos_idx=1, eos_idx=2)
    eos = int(first[0, 0])  # the first token of row 0: some rows stop early, others run on
    for B in BATCHES:
        want = model.greedy_decode(src[:B], max_len=8, bos_idx=1, eos_idx=eos)
        got = _onnx_greedy(encoder, step, src[:B].numpy(), 8, 1, eos, model.pad_idx)
        np.testing.assert_array_equal(got, want.numpy())
