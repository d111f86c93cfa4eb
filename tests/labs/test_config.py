"""Typed sizes: scaled/ranged fields, make_config per scale, range and finiteness checks."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest

from deepdojo.labs.framework import LabError, make_config, ranged, scaled
from deepdojo.labs.framework.config import scale_values


@dataclass
class SizedConfig:
    depth: int = ranged(12, low=2)  # layers of the MLP
    epochs: int = scaled(smoke=1, quick=10, full=30, low=1)  # epochs per setup
    n_train: int | None = scaled(smoke=256, quick=None, full=None)  # None = all rows
    lr: float = ranged(0.05, low=0.0, low_open=True)  # SGD learning rate
    keep: float = ranged(0.5, low=0.0, high=1.0, high_open=True)  # a probability < 1
    lengths: tuple[int, ...] = scaled(smoke=(6,), quick=(10, 40), full=(10, 40, 80), low=2)
    name: str = "x"  # plain field
    widths: list[int] = scaled(smoke=[1], quick=[2, 3], full=[4])  # a list default


def test_defaults_are_the_quick_values():
    cfg = SizedConfig()
    assert (cfg.depth, cfg.epochs, cfg.n_train, cfg.lengths, cfg.widths) == (
        12, 10, None, (10, 40), [2, 3])
    assert SizedConfig().widths is not SizedConfig().widths  # no shared mutable default


@pytest.mark.parametrize(
    ("scale", "epochs", "n_train", "lengths"),
    [("smoke", 1, 256, (6,)), ("quick", 10, None, (10, 40)), ("full", 30, None, (10, 40, 80))],
)
def test_make_config_resolves_scale(scale, epochs, n_train, lengths):
    cfg = make_config(SizedConfig, scale=scale)
    assert (cfg.epochs, cfg.n_train, cfg.lengths) == (epochs, n_train, lengths)
    assert dataclasses.asdict(cfg)["epochs"] == epochs  # what result.json saves


def test_overrides_beat_the_scale():
    cfg = make_config(SizedConfig, {"epochs": "3", "lengths": "4,5"}, scale="full")
    assert cfg.epochs == 3 and cfg.lengths == (4, 5)
    assert make_config(SizedConfig, {"n_train": "100"}, scale="smoke").n_train == 100


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"depth": "0"}, r"^--set depth=0: depth must be >= 2, got 0$"),
        ({"lr": "0"}, r"^--set lr=0: lr must be > 0, got 0$"),
        ({"lr": "nan"}, r"^--set lr=nan: lr must be finite, got nan$"),
        ({"lr": "inf"}, r"lr must be finite"),
        ({"keep": "1.0"}, r"keep must be < 1, got 1$"),
        ({"keep": "-0.1"}, r"keep must be >= 0"),
        ({"lengths": "10,1"}, r"--set lengths=10,1: lengths must be >= 2, got 1$"),
        ({"epochs": "0"}, r"epochs must be >= 1"),
        ({"depth": "two"}, r"expected a value of type int"),
    ],
)
def test_range_and_finiteness_refused_in_one_line(overrides, message):
    with pytest.raises(LabError, match=message):
        make_config(SizedConfig, overrides)


def test_bad_scaled_default_is_named():
    @dataclass
    class Bad:
        steps: int = scaled(smoke=0, quick=5, full=5, low=1)  # smoke value out of range

    assert make_config(Bad).steps == 5
    with pytest.raises(LabError, match=r"Bad.steps at scale smoke: steps must be >= 1"):
        make_config(Bad, scale="smoke")


def test_scale_values_and_bad_declarations():
    assert scale_values(SizedConfig)["epochs"] == {"smoke": 1, "quick": 10, "full": 30}
    assert "depth" not in scale_values(SizedConfig)
    with pytest.raises(ValueError, match="low must be <= high"):
        ranged(1, low=2, high=1)
    with pytest.raises(TypeError, match="low must be a number"):
        ranged(1, low="0")
    with pytest.raises(LabError, match="scale must be one of"):
        make_config(SizedConfig, scale="huge")
