"""Seeding, devices and the environment record."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from deepdojo.utils import environment, resolve_device, seed_everything


def test_seed_everything_repeats_all_generators():
    seed_everything(3)
    first = (random.random(), np.random.rand(), torch.rand(2).tolist())
    seed_everything(3)
    assert (random.random(), np.random.rand(), torch.rand(2).tolist()) == first
    seed_everything(4)
    assert torch.rand(2).tolist() != first[2]


def test_seed_must_be_int():
    with pytest.raises(TypeError, match="seed must be an int"):
        seed_everything(1.5)  # type: ignore[arg-type]


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(ValueError, match="device must be 'auto', 'cpu' or 'cuda"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")


def test_environment_records_versions():
    env = environment()
    assert env["packages"]["torch"] == torch.__version__.split("+")[0] or env["packages"]["torch"]
    assert env["cpu_count"] >= 1 and env["python"].count(".") == 2
