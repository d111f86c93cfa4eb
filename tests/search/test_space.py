"""Search spaces as data: parsing, validation errors and sampling within bounds."""

from __future__ import annotations

import math

import optuna
import pytest

from deepdojo.search import (
    Categorical,
    Float,
    Int,
    default_space,
    parse_space,
    space_to_dict,
    suggest,
)

SPACE = {
    "lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
    "batch_size": {"type": "categorical", "choices": [16, 32, 64]},
    "optimizer": {"type": "categorical", "choices": ["sgd", "adam"]},
    "dropout": {"type": "float", "low": 0.0, "high": 0.5},
    "depth": {"type": "int", "low": 1, "high": 4},
}


def test_dict_space_parses_to_dataclasses_and_round_trips():
    parsed = parse_space(SPACE)
    assert parsed["lr"] == Float(1e-4, 1e-1, log=True)
    assert parsed["batch_size"] == Categorical((16, 32, 64))
    assert parsed["depth"] == Int(1, 4)
    assert parse_space(space_to_dict(parsed)) == parsed


def test_samples_stay_in_bounds_and_log_scale_covers_decades():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    draws = []
    for _ in range(300):
        trial = study.ask()
        p = suggest(trial, SPACE)
        study.tell(trial, 0.0)
        assert 1e-4 <= p["lr"] <= 1e-1 and 0.0 <= p["dropout"] <= 0.5
        assert p["batch_size"] in (16, 32, 64) and p["optimizer"] in ("sgd", "adam")
        assert isinstance(p["depth"], int) and 1 <= p["depth"] <= 4
        draws.append(p["lr"])
    # log-uniform: each of the three decades gets about a third of the draws
    low_decade = sum(math.log10(x) < -3 for x in draws) / len(draws)
    assert 0.22 < low_decade < 0.45


@pytest.mark.parametrize(
    ("space", "match"),
    [
        ({}, "space is empty"),
        ({"lr": {"type": "loguniform", "low": 1, "high": 2}}, "unknown parameter type 'logu"),
        ({"lr": {"low": 1, "high": 2}}, "unknown parameter type None"),
        ({"lr": {"type": "float", "low": 2, "high": 1}}, "low <= high"),
        ({"lr": {"type": "float", "low": 0.0, "high": 1, "log": True}}, "needs low > 0"),
        ({"bs": {"type": "categorical", "choices": []}}, "at least one choice"),
        ({"bs": {"type": "categorical", "values": [1]}}, "only a list 'choices'"),
        ({"d": {"type": "int", "low": 1, "high": 3, "scale": 2}}, "takes low, high"),
    ],
)
def test_bad_spaces_raise_one_line_value_errors(space, match):
    with pytest.raises(ValueError, match=match) as err:
        parse_space(space)
    assert "\n" not in str(err.value)


def test_non_mapping_and_non_param_values_are_type_errors():
    with pytest.raises(TypeError, match="space must be a dict"):
        parse_space([("lr", Float(0.1, 1))])
    with pytest.raises(TypeError, match=r"space\['lr'\]"):
        parse_space({"lr": 0.1})


def test_default_space_has_the_documented_parameters():
    space = default_space()
    assert set(space) == {"lr", "batch_size", "optimizer", "dropout", "weight_decay", "depth",
                          "width"}
    assert space["lr"].log and space["weight_decay"].log
    assert isinstance(space["optimizer"], Categorical)
