"""The lab framework: the one face a lab imports from.

::

    from deepdojo.labs.framework import LabContext, plt, ranged, register_lab, scaled
    from deepdojo.labs.framework import rules as R

- :func:`register_lab`, :class:`LabContext`, :class:`Claim`, :class:`LabError`: the contract;
- :func:`scaled`, :func:`ranged`: per-scale and range-checked config fields;
- :mod:`rules` and its classes (``AtLeast``, ``AtMost``, ``Greater``, ``Less``, ``Within``,
  ``WithinFactor``, ``EverySeed``, ``FractionOfSeeds``): claims as rule objects;
- ``plt``: matplotlib's pyplot on the Agg backend.

The runner, parallel runs and verify live in ``runner``, ``parallel`` and ``verify`` (used by
the CLI and the report, not by labs).
"""

from __future__ import annotations

from deepdojo.labs.framework import rules
from deepdojo.labs.framework.config import make_config, parse_overrides, ranged, scaled
from deepdojo.labs.framework.context import Claim, LabContext, claim_counts
from deepdojo.labs.framework.errors import LabError
from deepdojo.labs.framework.plotting import plt
from deepdojo.labs.framework.registry import LABS, LabSpec, get_lab, register_lab
from deepdojo.labs.framework.rules import (
    AtLeast,
    AtMost,
    EverySeed,
    FractionOfSeeds,
    Given,
    Greater,
    Judgement,
    Less,
    Rule,
    Within,
    WithinFactor,
)

__all__ = [
    "LABS",
    "AtLeast",
    "AtMost",
    "Claim",
    "EverySeed",
    "FractionOfSeeds",
    "Given",
    "Greater",
    "Judgement",
    "LabContext",
    "LabError",
    "LabSpec",
    "Less",
    "Rule",
    "Within",
    "WithinFactor",
    "claim_counts",
    "get_lab",
    "make_config",
    "parse_overrides",
    "plt",
    "ranged",
    "register_lab",
    "rules",
    "scaled",
]
