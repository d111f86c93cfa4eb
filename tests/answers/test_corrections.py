"""Issue 22's corrections: each corrected statement is present, and the ones about code are
checked against the code."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from deepdojo.answers import get_question


@pytest.mark.parametrize(
    "qid,phrases",
    [
        ("Q01", ["diffusion models lead", "adversarial diffusion distillation", "VQGAN"]),
        ("Q02", ["shift its decision threshold", "miscalibrated", "log class priors"]),
        ("Q03", ["proximal step", "hovers near zero"]),
        ("Q04", ["random labels", "effective learning rate"]),
        ("Q05", ["rebuild anomalies too", "masked autoencoders", "sparse autoencoders",
                 "latent diffusion"]),
        ("Q06", ["largest singular value", "bound on the activation's derivative"]),
        ("Q07", ["explode at initialization", "fix the cause first", "global norm",
                 "keeps the update's direction", "unreliable cure"]),
        ("Q09", ["hidden-layer", "last layer of each residual branch", "Orthogonal",
                 "neither He nor Xavier", "1 / (3 fan_in)"]),
        ("Q10", ["edge of stability", "well-tuned SGD"]),
        ("Q12", ["support set", "queries", "nearest-centroid or linear classifier",
                 "in-context learning", "zero-shot"]),
        ("Q13", ["in-context learning"]),
        ("Q14", ["clean identity", "optimization difficulty rather than vanishing"]),
        ("Q15", ["retuned for each batch size"]),
        ("Q16", ["BYOL", "DINO", "stop-gradient", "linear probe", "historical"]),
        ("Q17", ["quadratically", "FlashAttention", "scaled_dot_product_attention",
                 "never store", "RoPE"]),
        ("Q18", ["padding mask", "not a faithful explanation"]),
        ("Q19", ["a^n b^n", "cannot count"]),
        ("Q20", ["two bias vectors per gate", "b_ir", "b_hr"]),
    ],
)  # fmt: skip
def test_correction_is_in_the_answer(qid, phrases):
    answer = get_question(qid).answer
    for phrase in phrases:
        assert phrase in answer, f"{qid}: {phrase!r} missing"


@pytest.mark.parametrize("qid,ref", [
    ("Q04", "Zhang, C., Bengio"), ("Q04", "Three Mechanisms of Weight Decay"),
    ("Q07", "Mean Field Theory of Batch Normalization"), ("Q07", "Pascanu"),
    ("Q09", "Fixup"), ("Q09", "Accurate, Large Minibatch SGD"),
    ("Q10", "Edge of Stability"), ("Q12", "A Closer Look at Few-shot"),
    ("Q12", "Good Embedding Is All You Need"), ("Q05", "Memory-augmented"),
    ("Q02", "Logit Adjustment"), ("Q15", "Measuring the Effects of Data Parallelism"),
    ("Q17", "FlashAttention"), ("Q17", "RoFormer"), ("Q18", "Attention is not Explanation"),
    ("Q19", "Finite Precision RNNs"), ("Q16", "Bootstrap Your Own Latent"),
    ("Q16", "Emerging Properties"), ("Q01", "Adversarial Diffusion Distillation"),
])  # fmt: skip
def test_each_correction_cites_its_source(qid, ref):
    assert any(ref in r for r in get_question(qid).references), f"{qid}: no {ref!r}"


def test_q09_torch_default_claim_holds():
    """Q09: torch's Linear default is U(-1/sqrt(n), 1/sqrt(n)), Var = 1/(3 n): not He, not
    Xavier, a third of LeCun's 1/n."""
    torch.manual_seed(0)
    n_in, n_out = 2000, 500
    w = nn.Linear(n_in, n_out).weight.detach().double()
    assert w.abs().max().item() == pytest.approx(1 / math.sqrt(n_in), rel=1e-3)
    assert w.var().item() == pytest.approx(1 / (3 * n_in), rel=0.02)
    assert abs(w.var().item() - 2 / n_in) > 0.5 * 2 / n_in  # He
    assert abs(w.var().item() - 2 / (n_in + n_out)) > 0.5 * 2 / (n_in + n_out)  # Xavier


def test_q20_torch_gru_has_two_biases_per_gate_and_they_differ_only_for_n():
    """Moving b_hr into b_ir leaves the GRU unchanged; moving b_hn into b_in does not."""
    torch.manual_seed(1)
    gru = nn.GRU(3, 4, batch_first=True)
    assert gru.bias_ih_l0.shape == gru.bias_hh_l0.shape == (12,)  # 3 gates x H, twice
    x, h0 = torch.randn(2, 5, 3), torch.randn(1, 2, 4)
    ref, _ = gru(x, h0)
    with torch.no_grad():
        r_z = slice(0, 8)  # rows of r and z
        gru.bias_ih_l0[r_z] += gru.bias_hh_l0[r_z]
        gru.bias_hh_l0[r_z] = 0
    same, _ = gru(x, h0)
    torch.testing.assert_close(same, ref)
    with torch.no_grad():
        n = slice(8, 12)
        gru.bias_ih_l0[n] += gru.bias_hh_l0[n]
        gru.bias_hh_l0[n] = 0
    moved, _ = gru(x, h0)
    assert (moved - ref).abs().max() > 1e-3


def test_q06_jacobian_bound_of_a_recurrent_step():
    """||diag(f'(a)) W||_2 <= sigma_max(W) * max|f'| for tanh (bound 1) and sigmoid (1/4)."""
    torch.manual_seed(2)
    w = torch.randn(16, 16, dtype=torch.float64)
    a = torch.randn(16, dtype=torch.float64) * 3
    sigma = torch.linalg.matrix_norm(w, ord=2).item()
    for f_prime, bound in ((1 - torch.tanh(a) ** 2, 1.0),
                           (torch.sigmoid(a) * (1 - torch.sigmoid(a)), 0.25)):  # fmt: skip
        jac = torch.diag(f_prime) @ w  # d h_t / d h_{t-1} for h_t = f(W h_{t-1} + ...)
        assert torch.linalg.matrix_norm(jac, ord=2).item() <= sigma * bound + 1e-12
