"""Helpers of the sequence labs: memory units (gru), exact match and step training (shared)."""

from __future__ import annotations

import pytest
import torch

from deepdojo.data.sequences import date_normalization
from deepdojo.labs.attention import attribution_agreement, spearman
from deepdojo.labs.gru import GRULabConfig
from deepdojo.labs.gru.measure import (
    RecallNet,
    Setting,
    candidate_gap,
    delay_retention,
    memory_scores,
    memory_units,
    random_subset_gaps,
    recall_data,
    tune,
)
from deepdojo.labs.shared.seq import (
    TGT_LEN,
    exact_match,
    interleaved_step_times,
    train_steps,
    train_to_target,
    warmup_constant,
)
from deepdojo.models import Seq2Seq


def test_gru_memory_scores_find_the_unit_that_carries_the_symbol():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (400,), generator=g)
    h = torch.randn(400, 5, generator=g)
    h[:, 2] = y.float() + 0.01 * torch.randn(400, generator=g)  # unit 2 encodes the symbol
    scores = memory_scores(h, y)
    assert scores.argmax().item() == 2 and (scores >= 0).all()
    assert scores[2] > 5 * scores[[0, 1, 3, 4]].max()
    means = torch.stack([h[y == c, 2].mean() for c in range(4)])  # (4,) class means of unit 2
    counts = torch.stack([(y == c).sum() for c in range(4)]).float()
    expected = ((counts * (means - h[:, 2].mean()) ** 2).sum() / 400).sqrt()
    torch.testing.assert_close(scores[2], expected)


def test_gru_memory_units_compare_memory_units_with_the_rest():
    N, T, H = 200, 6, 16
    g = torch.Generator().manual_seed(1)
    y = torch.randint(0, 3, (N,), generator=g)
    h = torch.randn(N, T, H, generator=g)
    h[:, T - 2, 5] = y.float() * 3  # unit 5 is the (k = 16 // 8 = 2) top memory unit
    h[:, T - 2, 9] = y.float() * 3 + 0.1 * torch.randn(N, generator=g)
    z = torch.full((N, T, H), 0.5)
    z[:, 1 : T - 1, [5, 9]] = 0.9
    z[:, 0], z[:, T - 1] = 0.0, 1.0  # outside the delay: must not count
    out = memory_units(z, h, y, T)
    assert out.memory.nonzero().flatten().tolist() == [5, 9]
    assert out.gap == pytest.approx(0.4, abs=1e-6)
    assert out.z_memory == pytest.approx(0.9, abs=1e-6)
    assert out.z_other == pytest.approx(0.5, abs=1e-6)
    four = memory_units(z, h, y, T, fraction=4)  # k = 4
    assert int(four.memory.sum()) == 4 and four.memory[[5, 9]].all()


def test_gru_memory_units_refuse_a_fraction_that_leaves_no_other_unit():
    z = h = torch.zeros(4, 5, 1)  # H = 1: the one memory unit is every unit
    with pytest.raises(ValueError, match="leaves no unit outside the memory units"):
        memory_units(z, h, torch.zeros(4, dtype=torch.long), 5)


def test_transformer_lab_schedule_warms_up_then_stays_at_the_peak():
    f = [warmup_constant(s, warmup=4) for s in range(20)]
    assert f[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0]) and f[4:] == [1.0] * 16
    with pytest.raises(ValueError, match="warmup must be >= 1"):
        warmup_constant(0, warmup=0)


def test_train_steps_is_deterministic_and_learns():
    task = date_normalization(64, seed=0)

    def fit(steps):
        torch.manual_seed(0)
        model = Seq2Seq(len(task.src_vocab), len(task.tgt_vocab), embed_dim=8, hidden_size=16)
        r = train_steps(model, task, steps=steps, batch_size=16, lr=1e-2, warmup=2, clip=1.0,
                        seed=3)
        return model, r

    (m1, r1), (m2, r2) = fit(12), fit(12)
    assert r1.final_loss == r2.final_loss and r1.cpu_s > 0 and r1.wall_s > 0
    torch.testing.assert_close(m1.out.weight, m2.out.weight)
    _, r0 = fit(2)
    assert r1.final_loss < r0.final_loss


class _Oracle(torch.nn.Module):
    """Decodes the stored target ids, with chosen rows corrupted, like a seq2seq model would."""

    def __init__(self, task, wrong: dict[int, str]) -> None:
        super().__init__()
        v = task.tgt_vocab
        rows = []
        for i, (_, t) in enumerate(task.pairs):
            text = wrong.get(i, t)
            rows.append([v.stoi[ch] for ch in text] + [v.eos_idx])
        width = max(map(len, rows))
        self.out = torch.tensor([r + [v.pad_idx] * (width - len(r)) for r in rows])
        self.calls: list[int] = []

    def greedy_decode(self, src, max_len, bos_idx, eos_idx):
        self.calls.append(max_len)
        return self.out[: src.shape[0]]


def test_exact_match_counts_whole_strings_and_characters():
    task = date_normalization(4, seed=1)
    t0, t1 = task.pairs[0][1], task.pairs[1][1]
    wrong0 = t0[:-1] + ("0" if t0[-1] != "0" else "1")  # one of 10 characters wrong
    model = _Oracle(task, {0: wrong0, 1: t1[:5]})  # row 1: only "YYYY-" (5 of 10 right)
    exact, chars = exact_match(model, task)
    assert exact == pytest.approx(2 / 4)
    assert chars == pytest.approx((9 / 10 + 5 / 10 + 1 + 1) / 4)
    assert model.calls == [TGT_LEN]


def _lstm_by_the_equations(lstm: torch.nn.LSTM, x: torch.Tensor) -> torch.Tensor:
    """h_t of a one-layer LSTM written out: gates [i | f | g | o] (torch's order)."""
    H = lstm.hidden_size
    h = c = torch.zeros(x.shape[0], H)
    out = []
    for t in range(x.shape[1]):
        pre = x[:, t] @ lstm.weight_ih_l0.T + lstm.bias_ih_l0 + h @ lstm.weight_hh_l0.T \
            + lstm.bias_hh_l0  # (B, 4H)
        i, f, g, o = pre.split(H, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        out.append(h)
    return torch.stack(out, 1)


def test_gru_lab_lstm_path_is_the_lstm_of_the_equations_with_the_bias_on_the_forget_gate():
    cfg = GRULabConfig(hidden_size=6)
    torch.manual_seed(0)
    plain = RecallNet("lstm", cfg, gate_bias=0.0)
    torch.manual_seed(0)
    biased = RecallNet("lstm", cfg, gate_bias=4.0)
    H = cfg.hidden_size
    added = biased.rnn.bias_hh_l0.detach() - plain.rnn.bias_hh_l0.detach()  # (4H,)
    torch.testing.assert_close(added, torch.cat([torch.zeros(H), torch.full((H,), 4.0),
                                                 torch.zeros(2 * H)]))
    X, y = recall_data(8, 12, cfg, seed=3)
    out, _ = biased.rnn(X)
    torch.testing.assert_close(out, _lstm_by_the_equations(biased.rnn, X), atol=1e-6, rtol=1e-5)
    logits = biased(X)
    torch.testing.assert_close(logits, biased.head(out[:, -1]))
    torch.manual_seed(0)
    gru = RecallNet("gru", cfg, gate_bias=2.0)  # GRU order [r | z | n]: z gets the bias
    torch.manual_seed(0)
    gru0 = RecallNet("gru", cfg, gate_bias=0.0)
    diff = (gru.rnn.bias_hh_l0 - gru0.rnn.bias_hh_l0).detach()
    torch.testing.assert_close(diff, torch.cat([torch.zeros(H), torch.full((H,), 2.0),
                                                torch.zeros(H)]))
    with pytest.raises(ValueError, match="kind must be one of"):
        RecallNet("transformer", cfg)


def test_gru_lab_recall_data_has_new_test_sequences_and_distractors_in_their_own_channels():
    cfg = GRULabConfig()  # K = 4 symbols, D = 4 distractors
    X, y = recall_data(200, 10, cfg, seed=0)
    Xt, _ = recall_data(200, 10, cfg, seed=10_000)
    assert X.shape == (200, 10, 4 + 1 + 4)
    torch.testing.assert_close(X.sum(-1), torch.ones(200, 10))  # one-hot at every step
    assert (X[:, 0, :4].argmax(-1) == y).all() and X[:, 0, 4:].eq(0).all()
    assert X[:, 1:-1, :5].eq(0).all() and X[:, -1, 4].eq(1).all()
    rows = {tuple(r.flatten().tolist()) for r in X}
    assert len(rows) == 200  # not K = 4 distinct sequences
    assert not rows & {tuple(r.flatten().tolist()) for r in Xt}
    blank, _ = recall_data(50, 10, GRULabConfig(distractors=0), seed=0)
    assert blank.shape[-1] == 5 and blank[:, 1:-1].eq(0).all()


def test_gru_lab_retention_candidate_gap_and_random_subsets():
    z = torch.full((2, 5, 3), 0.5)
    z[:, 1:4, 0] = 0.9
    units = torch.tensor([True, False, False])
    assert delay_retention(z, units, 5) == pytest.approx(0.9**3)
    h = torch.zeros(2, 5, 3)
    h_tilde = torch.zeros(2, 5, 3)
    h_tilde[:, 2:4, 0] = 0.2  # candidate differs from h_(t-1) by 0.2 at steps 2 and 3
    assert candidate_gap(h_tilde, h, units, 5) == pytest.approx(0.2)
    gaps = random_subset_gaps(torch.tensor([1.0, 0.0, 0.0, 0.0]), 1, 400, seed=0)
    picked = gaps == 1.0  # unit 0 picked: 1 - 0; else 0 - 1/3
    torch.testing.assert_close(gaps[~picked], torch.full(((~picked).sum(),), -1 / 3))
    assert 0.15 < picked.float().mean() < 0.35


def test_gru_lab_tuning_chooses_on_validation_and_keeps_the_chosen_model():
    cfg = GRULabConfig(hidden_size=4, n_train=32, n_test=16, steps=2, lrs=(1e-3, 1e-2),
                       gate_biases=(2.0, 4.0))
    t = tune("lstm", 5, [0, 1], cfg)
    assert [st for st, _ in t.tried] == [Setting(a, b) for a in (1e-3, 1e-2) for b in (2., 4.)]
    mean = lambda rs, key: sum(getattr(r, key) for r in rs) / len(rs)  # noqa: E731
    best = max(t.tried, key=lambda sr: (mean(sr[1], "val_acc"), -mean(sr[1], "val_loss")))
    assert t.chosen == best[0] and t.runs == best[1] and len(t.models) == 2
    assert [st.gate_bias for st, _ in tune("rnn", 5, [0], cfg).tried] == [0.0, 0.0]


def test_spearman_matches_scipy_and_refuses_bad_shapes():
    from scipy.stats import spearmanr

    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(30, generator=g), torch.rand(30, generator=g)
    assert spearman(x, y) == pytest.approx(spearmanr(x.numpy(), y.numpy()).statistic, abs=1e-9)
    assert spearman(x, 2 * x + 1) == pytest.approx(1.0)
    assert spearman(x, -x) == pytest.approx(-1.0)
    assert torch.isnan(torch.tensor(spearman(x, torch.ones(30))))
    with pytest.raises(ValueError, match="1-D of the same length"):
        spearman(x, y[:5])


def test_attribution_agreement_is_per_example_and_step_and_skips_padding():
    task = date_normalization(6, seed=1, min_length=10)
    torch.manual_seed(0)
    model = Seq2Seq(len(task.src_vocab), len(task.tgt_vocab), embed_dim=8, hidden_size=12)
    rho = attribution_agreement(model, task)
    assert rho.shape == (6, task.tgt.shape[1] - 1)
    pad = task.tgt[:, 1:] == task.tgt_vocab.pad_idx
    assert torch.isnan(rho[pad]).all() and not torch.isnan(rho[~pad]).any()
    assert (rho[~pad].abs() <= 1 + 1e-9).all()
    # step 0 by hand for example 0: attention row vs |grad x input| over its characters
    emb = model.src_embed(task.src[:1]).detach().requires_grad_(True)
    hook = model.src_embed.register_forward_hook(lambda m, i, o: emb)
    logits = model(task.src[:1], task.tgt[:1, :-1])
    hook.remove()
    (g,) = torch.autograd.grad(logits[0, 0, task.tgt[0, 1]], emb)
    n = int(task.src_lengths[0])
    expected = spearman(model.trace.attention[0, 0, :n], (g * emb).sum(-1).abs()[0, :n])
    assert rho[0, 0].item() == pytest.approx(expected, abs=1e-6)
    with pytest.raises(ValueError, match="needs a model with attention"):
        attribution_agreement(Seq2Seq(len(task.src_vocab), len(task.tgt_vocab),
                                      attention="none"), task)


def test_train_to_target_stops_at_the_target_and_keeps_the_best_checkpoint():
    train = date_normalization(64, seed=0)
    val = date_normalization(8, seed=1)
    torch.manual_seed(0)
    model = Seq2Seq(len(train.src_vocab), len(train.tgt_vocab), embed_dim=8, hidden_size=16)
    r = train_to_target(model, train, val, max_steps=6, batch_size=8, lr=1e-2, warmup=2,
                        clip=1.0, seed=0, eval_every=2, target=0.0, stop_at_target=True)
    assert r.steps_to_target == 2 and r.steps == 2 and r.curve == [(2, r.best_val)]
    torch.manual_seed(0)
    model = Seq2Seq(len(train.src_vocab), len(train.tgt_vocab), embed_dim=8, hidden_size=16)
    r = train_to_target(model, train, val, max_steps=5, batch_size=8, lr=1e-2, warmup=2,
                        clip=1.0, seed=0, eval_every=2, target=1.1, stop_at_target=True)
    assert r.steps_to_target is None and r.steps == 5 and [s for s, _ in r.curve] == [2, 4, 5]
    assert r.best_val == max(v for _, v in r.curve)
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, r.best_state[k])
    with pytest.raises(ValueError, match="eval_every must be >= 1"):
        train_to_target(model, train, val, max_steps=1, batch_size=8, lr=1e-2, warmup=1,
                        clip=1.0, seed=0, eval_every=0, target=0.5, stop_at_target=True)


def test_interleaved_step_times_time_every_model_and_leave_weights_alone():
    task = date_normalization(8, seed=0)
    models = {k: Seq2Seq(len(task.src_vocab), len(task.tgt_vocab), embed_dim=4, hidden_size=8,
                         attention=k) for k in ("none", "additive")}
    before = {k: [p.clone() for p in m.parameters()] for k, m in models.items()}
    times = interleaved_step_times(models, (task.src, task.tgt), repeats=3)
    assert list(times) == ["none", "additive"] and all(len(v) == 3 for v in times.values())
    assert all(t >= 0 for v in times.values() for t in v)
    for k, m in models.items():
        assert all(torch.equal(a, b) for a, b in zip(before[k], m.parameters(), strict=True))
        assert all(p.grad is None for p in m.parameters()) and not m.training
    with pytest.raises(ValueError, match="repeats must be >= 1"):
        interleaved_step_times(models, (task.src, task.tgt), repeats=0)
