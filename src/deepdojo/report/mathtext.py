"""Formulas as math, offline: ``$...$`` segments rendered by matplotlib's mathtext to SVG.

``render_math("the penalty $\\lambda \\sum_i |w_i|$ is added")`` returns HTML (a
:class:`markupsafe.Markup`) in which the text is escaped and each formula is an ``<img>``
holding its SVG as a ``data:`` URI: no CDN, no JavaScript, no extra files, so the page works
from disk and the run folder's own page gets math too. Glyphs are drawn as paths, so no font
needs to be installed where the page is read. The image is sized in ``em`` and lowered by the
formula's depth, so it sits on the text's baseline at any font size.

A segment mathtext cannot parse is shown as code (``<code>$...$</code>``), never an error.
Text without a ``$`` pair is returned escaped and unchanged.
"""

from __future__ import annotations

import base64
import functools
import io
import re

from markupsafe import Markup, escape

# Pandoc's rule: no space inside either "$", no digit right after the closing one, so that
# "costs $5 and $6" stays text
_SEGMENT = re.compile(r"(?<![\\$])\$(?!\s)([^$\n]+?)(?<!\s)\$(?!\d)")
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.DOTALL)
FONT_PT = 11.0  # mathtext size; 1 em of the page's 15 px text is about 11.25 pt


@functools.lru_cache(maxsize=512)
def formula_img(tex: str) -> str:
    """An ``<img class="math">`` tag for the mathtext formula ``tex`` (without the ``$``).

    Raises
    ------
    ValueError
        If mathtext cannot parse ``tex``.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib import mathtext, rc_context
    from matplotlib.font_manager import FontProperties

    buf = io.BytesIO()
    with rc_context({"svg.hashsalt": "deepdojo", "svg.fonttype": "path",
                     "savefig.transparent": True}):  # readable on a dark page too
        depth = mathtext.math_to_image(f"${tex}$", buf, format="svg",
                                       prop=FontProperties(size=FONT_PT))
    svg = _METADATA.sub("", buf.getvalue().decode("utf-8"))  # drop the build date
    size = re.search(r'width="([\d.]+)pt" height="([\d.]+)pt"', svg)
    assert size is not None, "matplotlib's SVG has no size"
    width, height = (float(v) / FONT_PT for v in size.groups())
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return (f'<img class="math" src="data:image/svg+xml;base64,{data}" '
            f'alt="{escape(tex)}" title="{escape(tex)}" '
            f'style="width:{width:.3f}em;height:{height:.3f}em;'
            f'vertical-align:-{float(depth or 0) / FONT_PT:.3f}em">')


def render_math(text: object) -> Markup:
    """``text`` as HTML: escaped, with each ``$...$`` segment drawn as a formula image."""
    source = str(text)
    parts: list[str] = []
    last = 0
    for match in _SEGMENT.finditer(source):
        parts.append(str(escape(source[last:match.start()])))
        try:
            parts.append(formula_img(match.group(1)))
        except ValueError:
            parts.append(f"<code>{escape(match.group(0))}</code>")
        last = match.end()
    parts.append(str(escape(source[last:])))
    return Markup("".join(parts))


def has_math(text: object) -> bool:
    """Whether ``text`` holds a ``$...$`` segment."""
    return _SEGMENT.search(str(text)) is not None
