"""Shared test fixtures."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")

import torch  # noqa: E402

# One intra-op thread per test process: `make test` runs two xdist workers on two cores, and
# torch's spinning OpenMP threads would oversubscribe them (small models then train ~10-70x
# slower). Tests that need more threads set them locally.
torch.set_num_threads(1)
