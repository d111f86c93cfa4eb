"""Small pictures that make a claim readable at a glance: its interval against its margin.

:func:`interval_bar` draws one claim as an inline SVG, 160 x 22 px::

    |   .  .   [=====o=====]     :         margin (dashed line)
        seeds   95% interval      margin

- the 95% interval is a bar coloured by the verdict (green holds, red does not hold, amber
  inconclusive), with the judged value (mean) as a dot;
- the rule's margin or threshold is a dashed vertical line;
- each seed's value is a small grey tick on the axis.

The axis spans all of these, padded by 8% each side, so the bar reads as "where the interval
lies relative to the line". Claims without an interval (one seed, fraction rules) get no bar.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup, escape

WIDTH, HEIGHT = 160, 22
_COLOUR = {"holds": "var(--ok-line)", "does not hold": "var(--bad-line)",
           "inconclusive": "var(--warn-fg)"}


def _finite(values: Sequence[Any]) -> list[float]:
    return [float(v) for v in values
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]


def interval_bar(claim: Mapping[str, Any], verdict: str) -> Markup | None:
    """The claim's interval, margin and per-seed values as an inline ``<svg>``; None when the
    claim has no finite 95% interval."""
    ci = claim.get("ci")
    if not isinstance(ci, Sequence) or len(_finite(ci)) != 2:
        return None
    lo, hi = sorted(_finite(ci))
    margin = _finite([claim.get("margin")])
    value = _finite([claim.get("value")])
    seeds = _finite(claim.get("values") or [])
    points = [lo, hi, *margin, *value, *seeds]
    left, right = min(points), max(points)
    pad = 0.08 * (right - left) if right > left else max(abs(left), 1.0) * 0.1
    left, right = left - pad, right + pad

    def x(v: float) -> float:
        return round(4 + (WIDTH - 8) * (v - left) / (right - left), 1)

    colour = _COLOUR.get(verdict, "var(--muted)")
    mid = HEIGHT / 2
    parts = [f'<line x1="2" y1="{mid}" x2="{WIDTH - 2}" y2="{mid}" stroke="var(--line)"/>']
    parts += [f'<line x1="{x(s)}" y1="{mid + 3}" x2="{x(s)}" y2="{mid + 8}" '
              f'stroke="var(--muted)" stroke-width="1"/>' for s in seeds]
    parts.append(f'<rect x="{x(lo)}" y="{mid - 4}" width="{max(x(hi) - x(lo), 2)}" height="8" '
                 f'rx="3" fill="{colour}" fill-opacity="0.85"/>')
    if value:
        parts.append(f'<circle cx="{x(value[0])}" cy="{mid}" r="3" fill="var(--card)" '
                     f'stroke="var(--fg)" stroke-width="1.2"/>')
    if margin:
        parts.append(f'<line x1="{x(margin[0])}" y1="1" x2="{x(margin[0])}" y2="{HEIGHT - 1}" '
                     f'stroke="var(--fg)" stroke-width="1.2" stroke-dasharray="3 2"/>')
    label = (f"95% interval [{lo:.4g}, {hi:.4g}]"
             + (f", margin {margin[0]:.4g}" if margin else "")
             + (f", {len(seeds)} seed values" if seeds else ""))
    return Markup(
        f'<svg class="ibar" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(label)}"><title>{escape(label)}</title>'
        + "".join(parts) + "</svg>")
