"""Labs: one seeded experiment per topic, with claims measured and judged in code.

Every module in this package that does not start with ``_`` is a lab and is imported by
:func:`load_all`, which fills the registry ``LABS``.
"""

from __future__ import annotations

import importlib
import pkgutil

from deepdojo.labs._config import make_config, parse_overrides
from deepdojo.labs._core import LABS, Claim, LabContext, LabError, LabSpec, get_lab, register_lab
from deepdojo.labs._runner import RunResult, latest_runs, load_result, run_lab

__all__ = [
    "LABS",
    "Claim",
    "LabContext",
    "LabError",
    "LabSpec",
    "RunResult",
    "get_lab",
    "latest_runs",
    "load_all",
    "load_result",
    "make_config",
    "parse_overrides",
    "register_lab",
    "run_lab",
]


def load_all() -> dict[str, LabSpec]:
    """Import every lab module of this package so that each registers itself."""
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    return LABS
