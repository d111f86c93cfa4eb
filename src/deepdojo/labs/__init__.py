"""Labs: one seeded experiment per topic, with claims measured and judged in code.

Every module or package of this folder is a lab, imported by :func:`load_all` (which fills the
registry ``LABS``), except ``framework`` (the lab framework: labs import it as
``deepdojo.labs.framework``), ``shared`` (helpers used by two or more labs) and names starting
with ``_``.
"""

from __future__ import annotations

import importlib
import pkgutil

from deepdojo.labs.framework import (
    LABS,
    Claim,
    LabContext,
    LabError,
    LabSpec,
    claim_counts,
    get_lab,
    make_config,
    parse_overrides,
    ranged,
    register_lab,
    rules,
    scaled,
)
from deepdojo.labs.framework.runner import RunResult, latest_runs, load_result, run_lab
from deepdojo.labs.framework.verify import VerifyResult, latest_stability, verify_lab

__all__ = [
    "LABS",
    "Claim",
    "LabContext",
    "LabError",
    "LabSpec",
    "RunResult",
    "VerifyResult",
    "claim_counts",
    "get_lab",
    "latest_runs",
    "latest_stability",
    "load_all",
    "load_result",
    "make_config",
    "parse_overrides",
    "ranged",
    "register_lab",
    "rules",
    "run_lab",
    "scaled",
    "verify_lab",
]

NOT_LABS = ("framework", "shared")


def load_all() -> dict[str, LabSpec]:
    """Import every lab module or package of this folder so that each registers itself."""
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_") and info.name not in NOT_LABS:
            importlib.import_module(f"{__name__}.{info.name}")
    return LABS
