"""Render one run's ``index.html`` (self-contained; figures referenced as figures/*.png)."""

from __future__ import annotations

import html
from typing import Any


def render_run_page(result: dict[str, Any]) -> str:
    """A minimal standalone page for one run: claims, metrics, figures, config, command."""
    esc = html.escape
    rows = "".join(
        f"<tr><td>{esc(c['id'])}</td><td>{esc(c['statement'])}</td><td>{esc(c['rule'])}</td>"
        f"<td>{c['value']}</td><td>{'holds' if c['holds'] else 'does not hold'}</td></tr>"
        for c in result["claims"]
    )
    figs = "".join(
        f"<figure><img src='{esc(f['path'])}' alt='{esc(f['name'])}'>"
        f"<figcaption>{esc(f.get('caption') or f['name'])}</figcaption></figure>"
        for f in result["figures"]
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(result['lab'])}</title>"
        f"</head><body><h1>{esc(result['lab'])}</h1><p>{esc(result['summary'])}</p>"
        f"<pre>{esc(result['command'])}</pre><table>{rows}</table>{figs}</body></html>"
    )
