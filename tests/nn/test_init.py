"""deepdojo.nn.init: variances against theory, parity with torch.nn.init, symmetry, errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from deepdojo.nn.init import ALIASES, SCHEMES, compute_fans, expected_std, initialize


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------- variance vs theory

FAN_IN, FAN_OUT = 1000, 600  # Linear(1000, 600): 600k weights, relative s.e. of Var ~ 0.2%
VARIANCE_CASES = [
    ("xavier_normal", {}, 2 / (FAN_IN + FAN_OUT)),
    ("xavier_uniform", {}, 2 / (FAN_IN + FAN_OUT)),
    ("glorot_normal", {"gain": 5 / 3}, (5 / 3) ** 2 * 2 / (FAN_IN + FAN_OUT)),
    ("he_normal", {}, 2 / FAN_IN),
    ("he_uniform", {}, 2 / FAN_IN),
    ("kaiming_normal", {"nonlinearity": "tanh"}, (5 / 3) ** 2 / FAN_IN),
    ("he_uniform", {"nonlinearity": "linear"}, 1 / FAN_IN),
    ("normal", {}, 0.01**2),
    ("normal", {"std": 0.2}, 0.2**2),
    ("uniform", {"bound": 0.3}, 0.3**2 / 3),
]


@pytest.mark.parametrize("scheme,options,theory", VARIANCE_CASES)
def test_linear_variance_matches_theory(scheme, options, theory):
    layer = initialize(nn.Linear(FAN_IN, FAN_OUT), scheme, generator=gen(1), **options)
    w = layer.weight.detach().double()
    assert abs(w.var().item() / theory - 1) < 0.03
    assert abs(w.mean().item()) < 0.03 * math.sqrt(theory)
    assert torch.count_nonzero(layer.bias) == 0


def test_uniform_scheme_respects_bound():
    layer = initialize(nn.Linear(300, 200), "uniform", bound=0.07, generator=gen())
    w = layer.weight.detach()
    assert w.abs().max().item() <= 0.07
    assert w.abs().max().item() > 0.069  # the interval is filled, not shrunk


def test_conv_variance_uses_receptive_field():
    conv = nn.Conv2d(32, 64, kernel_size=5)  # fan_in 32*25=800, fan_out 64*25=1600
    assert compute_fans(conv.weight) == (800, 1600)
    initialize(conv, "xavier_normal", generator=gen(2))
    assert abs(conv.weight.detach().double().var().item() / (2 / 2400) - 1) < 0.03
    initialize(conv, "he_normal", generator=gen(3))
    assert abs(conv.weight.detach().double().var().item() / (2 / 800) - 1) < 0.03


@pytest.mark.parametrize("cls,gates", [(nn.GRU, 3), (nn.LSTM, 4), (nn.RNN, 1)])
def test_recurrent_xavier_is_per_gate(cls, gates):
    inp, hid = 300, 200
    rnn = initialize(cls(inp, hid), "xavier_normal", generator=gen(4))
    for name, fan_in in (("weight_ih_l0", inp), ("weight_hh_l0", hid)):
        weight = getattr(rnn, name).detach().double()
        assert weight.shape == (gates * hid, fan_in)
        for block in weight.split(hid):  # each gate: fan_out = hid, not gates*hid
            assert abs(block.var().item() / (2 / (fan_in + hid)) - 1) < 0.03
    assert all(torch.count_nonzero(b) == 0 for n, b in rnn.named_parameters() if "bias" in n)


def test_deepdojo_gru_is_initialized_per_gate():
    from deepdojo.nn import GRU

    ours, ref = GRU(20, 16, num_layers=2), nn.GRU(20, 16, num_layers=2, batch_first=True)
    initialize(ours, "xavier_uniform", generator=gen(5))
    initialize(ref, "xavier_uniform", generator=gen(5))
    for name, param in ref.named_parameters():
        assert torch.equal(getattr(ours, name), param), name


# ---------------------------------------------------------------- parity with torch.nn.init

TORCH_EQUIVALENTS = [
    ("xavier_normal", {}, lambda w, g: nn.init.xavier_normal_(w, generator=g)),
    ("xavier_uniform", {"gain": 2.0}, lambda w, g: nn.init.xavier_uniform_(w, 2.0, generator=g)),
    (
        "he_normal",
        {},
        lambda w, g: nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu", generator=g),
    ),
    (
        "he_uniform",
        {"nonlinearity": "tanh"},
        lambda w, g: nn.init.kaiming_uniform_(w, nonlinearity="tanh", generator=g),
    ),
    ("normal", {"std": 0.5}, lambda w, g: nn.init.normal_(w, 0.0, 0.5, generator=g)),
    ("uniform", {}, lambda w, g: nn.init.uniform_(w, -0.01, 0.01, generator=g)),
    ("zeros", {}, lambda w, g: nn.init.zeros_(w)),
]


@pytest.mark.parametrize("scheme,options,reference", TORCH_EQUIVALENTS)
@pytest.mark.parametrize("make", [lambda: nn.Linear(17, 9), lambda: nn.Conv1d(3, 5, 4)])
def test_equals_torch_init_for_same_generator(scheme, options, reference, make):
    ours, ref = make(), make()
    initialize(ours, scheme, generator=gen(7), **options)
    reference(ref.weight, gen(7))
    assert torch.equal(ours.weight, ref.weight)


def test_lstm_equals_torch_applied_per_gate_block():
    ours, ref = nn.LSTM(6, 5, num_layers=2, proj_size=3), nn.LSTM(6, 5, num_layers=2, proj_size=3)
    initialize(ours, "glorot_normal", generator=gen(8))
    g = gen(8)
    for name, param in ref.named_parameters():
        with torch.no_grad():
            if name.startswith(("weight_ih", "weight_hh")):
                for block in param.split(5):
                    nn.init.xavier_normal_(block, generator=g)
            elif name.startswith("weight_hr"):
                nn.init.xavier_normal_(param, generator=g)
            else:
                param.zero_()
    for (name, a), b in zip(ours.named_parameters(), ref.parameters(), strict=True):
        assert torch.equal(a, b), name


def test_same_generator_seed_same_numbers_other_seed_differs():
    def build(seed):
        net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(4 * 36, 3))
        return initialize(net, "he_uniform", generator=gen(seed)).state_dict()

    a, b, c = build(11), build(11), build(12)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["0.weight"], c["0.weight"])


def test_aliases_match_canonical_and_case_is_ignored():
    for alias, canonical in ALIASES.items():
        a = initialize(nn.Linear(8, 8), alias.upper(), generator=gen(9))
        b = initialize(nn.Linear(8, 8), canonical, generator=gen(9))
        assert torch.equal(a.weight, b.weight)


def test_other_modules_untouched_and_module_returned():
    net = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4), nn.Embedding(5, 4))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    assert initialize(net, "zeros") is net
    after = net.state_dict()
    assert torch.count_nonzero(after["0.weight"]) == 0
    for key in ("1.weight", "1.bias", "2.weight"):
        assert torch.equal(after[key], before[key])


def test_expected_std_formulas():
    assert expected_std("xavier_normal", 30, 70) == pytest.approx(math.sqrt(2 / 100))
    assert expected_std("he_normal", 50, 7) == pytest.approx(math.sqrt(2 / 50))
    assert expected_std("he_normal", 50, 7, nonlinearity="sigmoid") == pytest.approx(50**-0.5)
    assert expected_std("uniform", 1, 1, bound=0.3) == pytest.approx(0.3 / math.sqrt(3))


# ---------------------------------------------------------------- zero init: symmetry


def _train_steps(net: nn.Module, steps: int = 30) -> None:
    g = gen(13)
    X, y = torch.randn(64, 10, generator=g), torch.randint(0, 3, (64,), generator=g)
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    for _ in range(steps):
        loss = nn.functional.cross_entropy(net(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()


def _unit_spread(layer: nn.Linear) -> float:
    """Max distance between any unit's incoming weights (and bias) and the first unit's,
    relative to the largest weight (0 when every weight is still 0)."""
    rows = torch.cat([layer.weight, layer.bias[:, None]], dim=1).detach().double()
    return ((rows - rows[:1]).abs().max() / rows.abs().max().clamp_min(1e-30)).item()


@pytest.mark.parametrize("act", [nn.Sigmoid, nn.Tanh, nn.ReLU])
def test_zero_init_units_stay_identical_after_training(act):
    net = nn.Sequential(nn.Linear(10, 16), act(), nn.Linear(16, 16), act(), nn.Linear(16, 3))
    initialize(net, "zeros")
    _train_steps(net)
    for layer in (net[0], net[2]):
        assert _unit_spread(layer) < 1e-6
        if act is nn.Sigmoid:  # sigmoid(0) = 1/2 != 0: the units do learn, all in lockstep
            assert layer.weight.abs().min().item() > 1e-7


def test_random_init_units_differ_after_training():
    net = nn.Sequential(nn.Linear(10, 16), nn.Tanh(), nn.Linear(16, 3))
    initialize(net, "xavier_normal", generator=gen(14))
    _train_steps(net)
    assert _unit_spread(net[0]) > 0.5


# ---------------------------------------------------------------- errors


def test_unknown_scheme_lists_valid_ones():
    with pytest.raises(ValueError, match="unknown init scheme 'lecun'") as info:
        initialize(nn.Linear(2, 2), "lecun")
    for name in SCHEMES + tuple(ALIASES):
        assert name in str(info.value)


@pytest.mark.parametrize(
    "options,match",
    [
        ({"scheme": "xavier_normal", "std": 0.1}, "std= does not apply"),
        ({"scheme": "normal", "bound": 0.1}, "bound= does not apply"),
        ({"scheme": "normal", "gain": 2.0}, "gain= does not apply"),
        ({"scheme": "normal", "std": -1.0}, "std must be a positive number"),
        ({"scheme": "he_normal", "nonlinearity": "swish"}, "nonlinearity must be one of"),
    ],
)
def test_bad_options_raise_value_error(options, match):
    with pytest.raises(ValueError, match=match):
        initialize(nn.Linear(2, 2), **options)


def test_bad_types_and_empty_module():
    with pytest.raises(TypeError, match="module must be a torch.nn.Module"):
        initialize(torch.zeros(2, 2), "zeros")
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        initialize(nn.Linear(2, 2), "he_normal", generator=0)
    with pytest.raises(TypeError, match="scheme must be a str"):
        initialize(nn.Linear(2, 2), None)
    with pytest.raises(ValueError, match="no Linear, Conv1d/2d/3d or recurrent layer"):
        initialize(nn.Sequential(nn.ReLU(), nn.LayerNorm(3)), "he_normal")
    with pytest.raises(ValueError, match="at least 2 dims"):
        compute_fans(torch.zeros(3))
