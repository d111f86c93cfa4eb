"""The weight-initialization lab's config: every size per scale, every bound checked."""

from __future__ import annotations

from dataclasses import dataclass

from deepdojo.labs.framework import ranged, scaled


@dataclass
class InitLabConfig:
    depth: int = ranged(30, low=1)  # hidden layers of the probe MLPs (tanh and ReLU)
    width: int = scaled(smoke=32, quick=256, full=256, low=1)  # units per probe layer
    probe_batch: int = ranged(128, low=2)  # N(0, 1) input rows pushed through each probe
    small_std: float = ranged(0.01, low=0.0, low_open=True)  # "small random" N(0, small_std^2)
    large_std: float = ranged(1.0, low=0.0, low_open=True)  # "large random" N(0, large_std^2)
    # Xavier gain variant for tanh (torch calculate_gain("tanh"))
    tanh_gain: float = ranged(5 / 3, low=0.0, low_open=True)
    # stable: every layer's act. std within [1/f, f] x layer 1's
    stable_factor: float = ranged(2.0, low=1.0, low_open=True)
    # a tanh unit is saturated when |a| > this
    saturation_level: float = ranged(0.99, low=0.0, high=1.0, high_open=True)
    # tanh "saturates": mean saturated fraction >= this
    saturated_fraction: float = ranged(0.5, low=0.0, high=1.0)
    # ReLU "explodes": last/first act. std >= this (or non-finite)
    explode_factor: float = ranged(1e3, low=1.0, low_open=True)
    # zero init symmetric: relative unit spread at or below this
    symmetry_tol: float = ranged(1e-6, low=0.0)
    # Q08: torch's default init without bias shrinks the ReLU variance 6x per layer within this
    # factor (check against the derivation fan_in * 1/(3 fan_in) * 1/2 = 1/6); with its bias
    # the deeper half's per-layer factor is within this factor of 1 (the bias floor)
    default_factor_tol: float = ranged(1.25, low=1.0, low_open=True)
    # Q08: at the last layer the input-driven spread is below 10^this of the overall spread
    input_share_log10: float = ranged(-3.0, high=0.0)
    # Q09: at the tanh gain, |G_1|/|G_L| exceeds gain 1's by more than this factor
    grad_growth_factor: float = ranged(2.0, low=1.0, low_open=True)
    train_depth: int = ranged(4, low=1)  # hidden layers of the digits MLP (ReLU)
    train_width: int = ranged(64, low=1)  # units per hidden layer of the digits MLP
    epochs: int = scaled(smoke=2, quick=15, full=40, low=1)  # digits epochs per run
    batch_size: int = ranged(64, low=1)  # digits mini-batch size
    lr: float = ranged(0.05, low=0.0, low_open=True)  # SGD learning rate
    momentum: float = ranged(0.9, low=0.0, high=1.0, high_open=True)  # SGD momentum
    # validation accuracy that counts as "reached"
    target_acc: float = ranged(0.9, low=0.0, high=1.0)
