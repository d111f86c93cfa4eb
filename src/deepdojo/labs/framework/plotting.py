"""pyplot for labs, on the non-interactive Agg backend (set here once, for every lab).

``from deepdojo.labs.framework import plt``; no lab calls ``matplotlib.use``.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["plt"]
