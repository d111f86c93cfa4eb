"""Argument checks shared by the library's public constructors and functions."""

from __future__ import annotations

from typing import Any

import numpy as np


def check_int(value: Any, name: str, minimum: int = 1) -> int:
    """``value`` as a Python int when it is an integer (NumPy integers too, never a bool)
    of at least ``minimum``; otherwise a one-line TypeError or ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)
