"""Legacy import path (``deepdojo.labs._core``), removed once every lab is migrated.

Import from :mod:`deepdojo.labs.framework` instead.
"""

from deepdojo.labs.framework.config import SCALES
from deepdojo.labs.framework.context import SEEDS_PER_SCALE, Claim, LabContext
from deepdojo.labs.framework.errors import LabError
from deepdojo.labs.framework.registry import LABS, LabSpec, get_lab, register_lab

__all__ = ["LABS", "SCALES", "SEEDS_PER_SCALE", "Claim", "LabContext", "LabError", "LabSpec",
           "get_lab", "register_lab"]
