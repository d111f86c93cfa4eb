"""Small shared helpers: seeding, atomic writes, devices and the environment record.

``deepdojo.utils`` sits beside the library layers and imports none of them.
"""

from deepdojo.utils.io import atomic_write_bytes, atomic_write_json, atomic_write_text
from deepdojo.utils.runtime import environment, resolve_device, seed_everything

__all__ = [
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "environment",
    "resolve_device",
    "seed_everything",
]
