"""Shared test fixtures."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")

import torch  # noqa: E402

# One intra-op thread per test process: `make test` runs two xdist workers on two cores, and
# torch's spinning OpenMP threads would oversubscribe them (small models then train ~10-70x
# slower). Tests that need more threads set them locally.
torch.set_num_threads(1)

# `from deepdojo_testing import require` in any test (the suite runs with --import-mode=importlib,
# which puts no test folder on sys.path), and its hooks: under CI=true a test skipped for a
# missing dependency fails.
sys.path.insert(0, str(Path(__file__).parent))
from deepdojo_testing import pytest_make_collect_report, pytest_runtest_makereport  # noqa: E402

__all__ = ["pytest_make_collect_report", "pytest_runtest_makereport"]
