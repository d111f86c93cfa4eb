"""The one error type of the lab framework."""

from __future__ import annotations


class LabError(ValueError):
    """Bad lab name, config override or run folder; the message is one readable line."""
