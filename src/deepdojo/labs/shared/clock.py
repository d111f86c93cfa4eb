"""Per-section CPU time of a lab, recorded as metrics (used by labs with several sections)."""

from __future__ import annotations

import time

from deepdojo.labs.framework import LabContext


class SectionClock:
    """Per-section CPU seconds of this process, recorded as ``time.<section>_cpu_s``: each
    :meth:`lap` records the CPU time since the previous lap (or since the clock was made)."""

    def __init__(self, ctx: LabContext) -> None:
        self.ctx, self.t = ctx, time.process_time()

    def lap(self, name: str) -> None:
        now = time.process_time()
        self.ctx.metric(f"time.{name}_cpu_s", round(now - self.t, 2))
        self.t = now
