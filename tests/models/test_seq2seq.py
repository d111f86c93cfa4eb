"""Seq2Seq: the attention elements in the trace, teacher forcing vs decoding, beam search."""

import pytest
import torch

from deepdojo.models.seq2seq import Seq2Seq

BOS, EOS = 1, 2


def _model(attention, **kw):
    torch.manual_seed(0)
    return Seq2Seq(9, 7, embed_dim=8, hidden_size=12, attention=attention, **kw).double()


SRC = torch.tensor([[4, 5, 6, 7, 8], [5, 6, 4, 0, 0]])
TGT_IN = torch.tensor([[BOS, 3, 4, 5], [BOS, 6, 3, 0]])


@pytest.mark.parametrize("attention", ["additive", "multiplicative"])
def test_trace_holds_consistent_attention_elements(attention):
    model = _model(attention)
    logits = model(SRC, TGT_IN)
    assert logits.shape == (2, 4, 7)
    tr = model.trace
    assert tr.encoder_outputs.shape == (2, 5, 12) and tr.decoder_states.shape == (2, 4, 12)
    assert tr.scores.shape == tr.attention.shape == (2, 4, 5)
    torch.testing.assert_close(tr.attention.sum(-1), torch.ones(2, 4, dtype=torch.float64))
    assert torch.all(tr.attention[1, :, 3:] == 0) and torch.isinf(tr.scores[1, :, 3:]).all()
    torch.testing.assert_close(tr.context, tr.attention @ tr.encoder_outputs)
    torch.testing.assert_close(tr.attention, torch.softmax(tr.scores, -1))
    # the encoder's final state is the output at each sequence's last real step
    torch.testing.assert_close(tr.encoder_state[1], tr.encoder_outputs[1, 2])


def test_no_attention_uses_the_final_encoder_state_as_context():
    model = _model("none")
    model(SRC, TGT_IN)
    tr = model.trace
    assert tr.scores is None and tr.attention is None
    torch.testing.assert_close(tr.context, tr.encoder_state[:, None].expand(-1, 4, -1))


@pytest.mark.parametrize("attention", ["none", "additive", "multiplicative"])
def test_greedy_decode_agrees_with_teacher_forcing_and_beam_one(attention):
    model = _model(attention).eval()
    out = model.greedy_decode(SRC, max_len=6, bos_idx=BOS, eos_idx=EOS)
    greedy_trace = model.trace
    tgt_in = torch.cat([torch.full((2, 1), BOS), out[:, :-1]], dim=1)
    logits = model(SRC, tgt_in)
    first_eos = [(row == EOS).nonzero()[0].item() + 1 if (row == EOS).any() else len(row)
                 for row in out]
    for b, n in enumerate(first_eos):  # same predictions on the real tokens
        assert torch.equal(logits[b, :n].argmax(-1), out[b, :n])
    torch.testing.assert_close(model.trace.decoder_states[0, :first_eos[0]],
                               greedy_trace.decoder_states[0, :first_eos[0]])
    beams = model.beam_search(SRC, max_len=6, bos_idx=BOS, eos_idx=EOS, beam_size=1)
    for b, n in enumerate(first_eos):
        assert beams[b] == out[b, :n].tolist()


def test_beam_search_scores_are_model_log_probs_and_not_worse_than_greedy_here():
    model = _model("additive").eval()
    greedy = model.greedy_decode(SRC, max_len=4, bos_idx=BOS, eos_idx=EOS)
    beams = model.beam_search(SRC, max_len=4, bos_idx=BOS, eos_idx=EOS, beam_size=5)
    for b, hyp in enumerate(beams):
        assert 1 <= len(hyp) <= 4
        g = greedy[b].tolist()
        g = g[: g.index(EOS) + 1] if EOS in g else g
        lp = [model.sequence_log_prob(SRC[b : b + 1], torch.tensor([[BOS] + h])).item()
              for h in (hyp, g)]
        assert lp[0] >= lp[1] - 1e-9


def test_beam_one_is_exactly_greedy_on_random_models():
    # an EOS bias makes EOS the runner-up often: the case where a low-ranked EOS must not end
    # the search (it did before: beam 1 returned a shorter, less likely sequence than greedy)
    src = torch.tensor([[4, 5, 6, 7, 8], [5, 6, 4, 8, 3], [7, 7, 3, 4, 5]])
    for seed in range(12):
        torch.manual_seed(seed)
        model = Seq2Seq(9, 5, embed_dim=8, hidden_size=12, attention="additive").double().eval()
        with torch.no_grad():
            model.out.bias[EOS] += 0.5 * (seed % 3 - 1)
        greedy = model.greedy_decode(src, max_len=6, bos_idx=BOS, eos_idx=EOS)
        beams = model.beam_search(src, max_len=6, bos_idx=BOS, eos_idx=EOS, beam_size=1)
        for b, hyp in enumerate(beams):
            g = greedy[b].tolist()
            assert hyp == (g[: g.index(EOS) + 1] if EOS in g else g)


def test_every_parameter_gets_a_gradient_and_bad_inputs():
    model = _model("additive")
    torch.nn.functional.cross_entropy(model(SRC, TGT_IN).flatten(0, 1),
                                      TGT_IN.roll(-1, 1).flatten()).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert missing == []
    with pytest.raises(ValueError, match="attention"):
        Seq2Seq(5, 5, attention="luong")
    with pytest.raises(ValueError, match="src"):
        model(SRC.double(), TGT_IN)
    with pytest.raises(ValueError, match="tgt_in"):
        model(SRC, TGT_IN[:1])


def test_learns_reversal_with_attention():
    from deepdojo.data.sequences import reversal

    torch.manual_seed(0)
    task = reversal(512, min_length=3, max_length=6, num_symbols=6, seed=0)
    model = Seq2Seq(len(task.src_vocab), len(task.tgt_vocab), embed_dim=16, hidden_size=32)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _epoch in range(12):
        for i in range(0, 512, 64):
            tgt = task.tgt[i : i + 64]
            logits = model(task.src[i : i + 64], tgt[:, :-1])
            loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), tgt[:, 1:].flatten(),
                                                     ignore_index=0)
            opt.zero_grad()
            loss.backward()
            opt.step()
    test = reversal(100, min_length=3, max_length=6, num_symbols=6, seed=1)
    out = model.eval().greedy_decode(test.src, 7, BOS, EOS)
    acc = sum(test.tgt_vocab.decode(o.tolist()) == p[1] for o, p in zip(out, test.pairs))
    assert acc / 100 > 0.8
