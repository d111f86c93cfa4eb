"""``LabContext``: what a lab gets besides its config (scale, seeds, device, recorders), and
``Claim``, the record of one judged statement.

A claim is judged by a rule object (:mod:`deepdojo.labs.framework.rules`) declared once::

    ctx.claim("gru-beats-rnn-long", "A GRU beats a vanilla RNN on long sequences",
              R.Greater(margin=0.1), a=gru_acc, b=rnn_acc, metric="test accuracy at T=80",
              why={"does not hold": "the RNN also reaches {b_mean:.2f} at T=80"})
"""

from __future__ import annotations

import io
import math
import statistics
import string
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from deepdojo.labs.framework import rules as R
from deepdojo.labs.framework.config import SCALES
from deepdojo.labs.framework.errors import LabError
from deepdojo.labs.framework.registry import ID_RE
from deepdojo.utils import atomic_write_bytes, resolve_device

SEEDS_PER_SCALE = {"smoke": 1, "quick": 5, "full": 10}
SEED_STRIDE = 1000  # seeds of base b are b*1000 + i: different bases give disjoint sets
KINDS = ("finding", "check")
T = TypeVar("T")


@dataclass
class Claim:
    """One measured statement of a lab and its verdict (an entry of result.json "claims").

    ``value`` is the number the rule judged (the mean of the per-seed ``values``, the share of
    passing seeds for a fraction rule); ``values`` are per seed (paired claims: ``a - b``, or
    ``a / b`` for ratio rules, with the arms in ``values_a``/``values_b``); ``mean`` and
    ``spread`` (max - min) summarise them. ``verdict`` is "holds", "does not hold" or
    "inconclusive"; ``holds`` is True only for "holds". ``ci`` is the 95% interval where the
    rule has one, ``margin`` its threshold. ``kind`` is "finding" or "check" (true by
    construction: shown, never counted as evidence). ``environment_dependent`` marks timing
    and memory claims, left out of stability.
    """

    id: str
    statement: str
    rule: str
    value: float | None
    holds: bool
    values: list[float] | None = None
    mean: float | None = None
    spread: float | None = None
    seed_holds: list[bool] | None = None
    kind: str = "finding"
    verdict: str = ""
    ci: list[float] | None = None
    margin: float | None = None
    why: str = ""
    environment_dependent: bool = False
    values_a: list[float] | None = None
    values_b: list[float] | None = None
    requires: dict[str, bool] | None = None
    metric: str = ""

    def __post_init__(self) -> None:
        if not self.verdict:
            self.verdict = R.HOLDS if self.holds else R.FAILS
        if self.verdict not in R.VERDICTS:
            raise ValueError(f"verdict must be one of {R.VERDICTS}, got {self.verdict!r}")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be 'finding' or 'check', got {self.kind!r}")
        self.holds = self.verdict == R.HOLDS


def claim_counts(claims: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Counts of verdicts over the findings (checks are counted apart, never as evidence).

    Works on result.json claim dicts, old ones too (no ``kind``: a finding; no ``verdict``:
    from ``holds``).
    """
    counts = {"findings": 0, R.HOLDS: 0, R.FAILS: 0, R.INCONCLUSIVE: 0, "checks": 0,
              "checks failing": 0}
    for c in claims:
        verdict = c.get("verdict") or (R.HOLDS if c.get("holds") else R.FAILS)
        if c.get("kind", "finding") == "check":
            counts["checks"] += 1
            counts["checks failing"] += verdict != R.HOLDS
        else:
            counts["findings"] += 1
            counts[verdict] += 1
    return counts


class LabContext:
    """What a lab gets besides its config: scale, seeds, device and the recorders.

    Parameters
    ----------
    lab : str
        The lab's registered name.
    scale : {"smoke", "quick", "full"}
        ``smoke`` checks plumbing in seconds, ``quick`` (default) is where claims are meant
        to be decided within about a minute on 2 CPU cores, ``full`` adds seeds and data.
    seed : int
        The base seed ``b >= 0``; ``seeds`` are ``b*1000 + i`` for ``i < n`` with n = 1, 5, 10
        at smoke, quick, full, so different bases give disjoint seed sets.
    device : str
        ``"cpu"`` unless the user asks for ``"cuda"``.
    out_dir : Path
        The folder the run is being written to (figures go to ``out_dir/figures``).
    progress : {"auto", "on", "off"}
        Progress bars; ``auto`` shows them only on a terminal.
    """

    def __init__(
        self,
        lab: str,
        *,
        scale: str = "quick",
        seed: int = 0,
        device: str = "cpu",
        out_dir: str | Path,
        progress: str = "auto",
    ) -> None:
        if scale not in SCALES:
            raise LabError(f"scale must be one of {', '.join(SCALES)}, got {scale!r}")
        if progress not in ("auto", "on", "off"):
            raise LabError(f"progress must be auto, on or off, got {progress!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise LabError(f"seed must be a non-negative int, got {seed!r}")
        self.lab = lab
        self.scale = scale
        self.seed = seed
        self.device = str(resolve_device(device))
        self.out_dir = Path(out_dir)
        self.show_progress = sys.stderr.isatty() if progress == "auto" else progress == "on"
        self.metrics: dict[str, Any] = {}
        self.tables: dict[str, list[dict[str, Any]]] = {}
        self.figures: list[dict[str, str]] = []
        self.claims: list[Claim] = []
        self.notes: list[str] = []

    @property
    def seeds(self) -> list[int]:
        """Seeds to use at this scale: ``[seed*1000 + i for i in range(n)]``."""
        return [self.seed * SEED_STRIDE + i for i in range(SEEDS_PER_SCALE[self.scale])]

    def metric(self, name: str, value: Any) -> None:
        """Record a named number (or small JSON-able value)."""
        self.metrics[name] = _plain(value)

    def table(self, name: str, rows: Sequence[dict[str, Any]]) -> None:
        """Record a table as a list of dicts (one dict per row, same keys)."""
        self.tables[name] = [{k: _plain(v) for k, v in row.items()} for row in rows]

    def figure(self, name: str, fig: Any, caption: str = "") -> Path:
        """Save a matplotlib figure as ``figures/<name>.png`` (atomically) and close it."""
        if not ID_RE.match(name):
            raise ValueError(f"figure name must be lowercase letters/digits/-/_, got {name!r}")
        from deepdojo.labs.framework.plotting import plt

        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        rel = f"figures/{name}.png"
        path = atomic_write_bytes(self.out_dir / rel, buf.getvalue())
        self.figures = [f for f in self.figures if f["name"] != name]
        self.figures.append({"name": name, "path": rel, "caption": caption})
        return path

    def claim(
        self,
        id: str,
        statement: str,
        rule: R.Rule,
        *,
        values: Sequence[float] | None = None,
        a: Sequence[float] | None = None,
        b: Sequence[float] | None = None,
        items: Sequence[Sequence[float]] | None = None,
        metric: str = "",
        kind: str = "finding",
        why: Mapping[str, str] | None = None,
        facts: Mapping[str, Any] | None = None,
        requires: Mapping[str, bool] | None = None,
        environment_dependent: bool = False,
    ) -> Claim:
        """State a claim, judged by ``rule`` on per-seed ``values`` or paired arms ``a``/``b``.

        Parameters
        ----------
        id, statement : str
            The claim's id (lowercase, stable across versions) and its sentence.
        rule : Rule
            The rule object (``R.Greater(margin=0.1)``...): it writes the rule's sentence,
            judges the values and gives the interval.
        values : sequence of float, optional
            One number per seed. Exactly one of ``values`` or ``a`` and ``b``.
        a, b : sequence of float, optional
            Paired per-seed values of two arms on the same seeds; the rule judges ``a - b``
            (``a / b`` for :class:`~deepdojo.labs.framework.rules.WithinFactor`).
        items : sequence of arrays, optional
            Per-seed item values, for ``interval="bootstrap"``.
        metric : str
            What the numbers are; used in the rule's sentence.
        kind : {"finding", "check"}
            A check is true by construction: shown, not counted as evidence.
        why : dict, optional
            ``{verdict: template}``; templates are ``str.format``-ed with mean, lo, hi,
            margin, n, a_mean, b_mean, min, max, value and ``facts``. The rule writes the
            "inconclusive" reason itself (a template given for it is appended).
        facts : dict, optional
            Extra numbers for the templates.
        requires : dict of str to bool, optional
            Extra named conditions; a false one makes the claim "does not hold".
        environment_dependent : bool
            True for timing and memory claims (left out of stability).
        """
        if not ID_RE.match(id):
            raise ValueError(f"claim id must be lowercase letters/digits/-/_, got {id!r}")
        if any(c.id == id for c in self.claims):
            raise ValueError(f"claim {id!r} was already stated in this run")
        c = _judged_claim(id, statement, rule, values=values, a=a, b=b, items=items,
                          metric=metric, kind=kind, why=why, facts=facts, requires=requires,
                          environment_dependent=environment_dependent)
        self.claims.append(c)
        return c

    def hold_for_full_scale(self, ids: Iterable[str]) -> list[str]:
        """Withdraw the stated claims named in ``ids``: claims this scale measures but cannot
        decide (the ``full_only_claims`` pattern: a lab calls this when its config's
        ``full_only_claims`` is off). Their ids go to the metric
        ``claims_decided_at_full_scale`` and a note; returns them in statement order."""
        wanted = set(ids)
        held = [c.id for c in self.claims if c.id in wanted]
        self.claims[:] = [c for c in self.claims if c.id not in wanted]
        self.metric("claims_decided_at_full_scale", held)
        if held:
            self.log(f"decided at full scale, not judged here: {', '.join(held)}")
        return held

    def log(self, message: str) -> None:
        """A note kept in the result (and printed when progress is shown)."""
        self.notes.append(message)
        if self.show_progress:
            print(f"[{self.lab}] {message}", file=sys.stderr)

    def progress(
        self, iterable: Iterable[T], description: str = "", total: int | None = None
    ) -> Iterator[T]:
        """Wrap ``iterable`` in a rich progress bar (quiet when not on a terminal)."""
        if not self.show_progress:
            yield from iterable
            return
        from rich.progress import track

        yield from track(iterable, description=f"{self.lab}: {description}", total=total)


def _floats(name: str, claim_id: str, seq: Sequence[float]) -> list[float]:
    try:
        out = [float(v) for v in seq]
    except (TypeError, ValueError):
        raise TypeError(f"claim {claim_id!r}: {name} must be a sequence of numbers") from None
    if not out:
        raise ValueError(f"claim {claim_id!r}: {name} is empty")
    return out


def _judged_claim(
    id: str,
    statement: str,
    rule: Any,
    *,
    values: Sequence[float] | None,
    a: Sequence[float] | None,
    b: Sequence[float] | None,
    items: Sequence[Sequence[float]] | None,
    metric: str,
    kind: str,
    why: Mapping[str, str] | None,
    facts: Mapping[str, Any] | None,
    requires: Mapping[str, bool] | None,
    environment_dependent: bool,
) -> Claim:
    if not isinstance(rule, R.Rule):
        raise TypeError(f"claim {id!r}: rule must be a rule object such as R.AtLeast(0.9), "
                        f"got {rule!r}")
    if kind not in KINDS:
        raise ValueError(f"claim {id!r}: kind must be 'finding' or 'check', got {kind!r}")
    paired = a is not None or b is not None
    if paired == (values is not None) or (paired and (a is None or b is None)):
        raise TypeError(f"claim {id!r}: give exactly one of values= or a= and b=")
    va = vb = None
    if paired:
        va, vb = _floats("a", id, a), _floats("b", id, b)  # type: ignore[arg-type]
        if len(va) != len(vb):
            raise ValueError(f"claim {id!r}: a and b must pair seed by seed, got "
                             f"{len(va)} and {len(vb)} values")
        if rule.paired_op == "ratio":
            if any(y == 0 for y in vb):
                raise ValueError(f"claim {id!r}: b must be non-zero for a ratio rule")
            vals = [x / y for x, y in zip(va, vb, strict=True)]
        else:
            vals = [x - y for x, y in zip(va, vb, strict=True)]
    else:
        vals = _floats("values", id, values)  # type: ignore[arg-type]
    try:
        j = rule.judge(vals, items=items)
    except (ValueError, TypeError) as e:
        raise type(e)(f"claim {id!r}: {e}") from None
    req = {str(k): bool(v) for k, v in (requires or {}).items()}
    failed = [k for k, ok in req.items() if not ok]
    verdict = R.FAILS if failed else j.verdict
    nan = float("nan")
    fields: dict[str, Any] = {
        "mean": statistics.fmean(vals), "lo": j.ci[0] if j.ci else nan,
        "hi": j.ci[1] if j.ci else nan, "margin": nan if j.margin is None else j.margin,
        "n": len(vals), "a_mean": statistics.fmean(va) if va else nan,
        "b_mean": statistics.fmean(vb) if vb else nan, "min": min(vals), "max": max(vals),
        "value": nan if j.value is None else j.value,
    }
    for k, v in (facts or {}).items():
        if k in fields:
            raise ValueError(f"claim {id!r}: fact {k!r} would hide a built-in template field")
        fields[k] = v
    filled = _fill_templates(id, why or {}, fields)
    if failed:
        reason = f"condition not met: {', '.join(failed)}"
    elif verdict == R.INCONCLUSIVE:
        reason = " ".join(t for t in (j.why, filled.get(verdict, "")) if t)
    else:
        reason = filled.get(verdict) or j.why
    sentence = rule.sentence(metric)
    if req:
        sentence += "; requires " + ", ".join(req)
    return Claim(
        id=id, statement=statement, rule=sentence, value=j.value, holds=verdict == R.HOLDS,
        values=vals, mean=statistics.fmean(vals), spread=max(vals) - min(vals),
        seed_holds=list(j.seed_holds), kind=kind, verdict=verdict,
        ci=None if j.ci is None else [j.ci[0], j.ci[1]], margin=j.margin, why=reason,
        environment_dependent=bool(environment_dependent), values_a=va, values_b=vb,
        requires=req or None, metric=metric,
    )


def _fill_templates(
    claim_id: str, why: Mapping[str, str], fields: Mapping[str, Any]
) -> dict[str, str]:
    """Format every template now, so that a typo fails on every run, not only on one verdict."""
    out = {}
    for verdict, template in why.items():
        if verdict not in R.VERDICTS:
            raise ValueError(f"claim {claim_id!r}: why keys must be verdicts {R.VERDICTS}, "
                             f"got {verdict!r}")
        names = [n for _, n, _, _ in string.Formatter().parse(template) if n]
        missing = [n for n in names if n.split(".")[0].split("[")[0] not in fields]
        if missing:
            raise ValueError(f"claim {claim_id!r}: why template uses unknown field "
                             f"{missing[0]!r}; known: {', '.join(fields)}")
        out[verdict] = template.format(**fields)
    return out


def _plain(value: Any) -> Any:
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value
