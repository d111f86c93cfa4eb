"""The lab contract: registry, ``LabContext`` and claims (the runner is in ``_runner``).

A lab is a function ``run(cfg, ctx)`` registered with :func:`register_lab`. It uses only the
public library, records metrics, tables and figures on the context, and states claims whose
rules are fixed in code before the run. :func:`run_lab` builds the context, runs the lab and
writes ``runs/<lab>/<run-id>/`` (``result.json``, ``figures/*.png``, ``index.html``).
The run is written into a hidden temp folder that is renamed into place only when complete,
so a failed or interrupted run leaves nothing half-written behind.
"""

from __future__ import annotations

import dataclasses
import io
import math
import re
import statistics
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from deepdojo.utils import atomic_write_bytes, resolve_device

SCALES = ("smoke", "quick", "full")
SEEDS_PER_SCALE = {"smoke": 1, "quick": 3, "full": 5}
T = TypeVar("T")
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")


class LabError(ValueError):
    """Bad lab name, config override or run folder; the message is one readable line."""


@dataclass
class Claim:
    """One measured statement of a lab and its verdict.

    ``value`` is the number the rule judges; ``values`` the per-seed numbers when the claim
    is judged over several seeds (``value`` then defaults to their mean).
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


@dataclass
class LabSpec:
    """A registered lab: its name, questions, config dataclass and function."""

    name: str
    questions: tuple[str, ...]
    config: type
    fn: Callable[[Any, LabContext], None]
    summary: str


LABS: dict[str, LabSpec] = {}


def register_lab(
    name: str, *, questions: Sequence[str], config: type, summary: str | None = None
) -> Callable[[Callable[[Any, LabContext], None]], Callable[[Any, LabContext], None]]:
    """Register ``fn(cfg, ctx)`` as lab ``name`` answering ``questions`` (``"Q08"``...).

    ``summary`` defaults to the first line of the function's docstring.
    """
    if not _ID_RE.match(name):
        raise ValueError(f"lab name must be lowercase letters, digits, '-', '_' ; got {name!r}")
    if not dataclasses.is_dataclass(config):
        raise TypeError(f"config for lab {name!r} must be a dataclass, got {config!r}")
    bad = [q for q in questions if not re.fullmatch(r"Q(0[1-9]|1[0-9]|20)", q)]
    if bad or not questions:
        raise ValueError(f"questions for lab {name!r} must be ids Q01..Q20, got {questions!r}")

    def wrap(fn: Callable[[Any, LabContext], None]) -> Callable[[Any, LabContext], None]:
        if name in LABS and LABS[name].fn.__qualname__ != fn.__qualname__:
            raise ValueError(f"lab {name!r} is already registered")
        doc = (summary or (fn.__doc__ or "").strip().splitlines() or [""])[0]
        text = summary if summary is not None else doc
        LABS[name] = LabSpec(name, tuple(questions), config, fn, text.strip())
        return fn

    return wrap


def get_lab(name: str) -> LabSpec:
    """Return the registered lab ``name``; unknown names list the known ones."""
    from deepdojo.labs import load_all

    load_all()
    if name not in LABS:
        known = ", ".join(sorted(LABS)) or "none"
        raise LabError(f"unknown lab {name!r}; registered labs: {known}")
    return LABS[name]


# ---------------------------------------------------------------- the context


class LabContext:
    """What a lab gets besides its config: scale, seeds, device and the recorders.

    Parameters
    ----------
    lab : str
        The lab's registered name.
    scale : {"smoke", "quick", "full"}
        ``smoke`` checks plumbing in seconds, ``quick`` (default) is where claims are meant
        to hold within about a minute on 2 CPU cores, ``full`` adds seeds and data.
    seed : int
        The base seed; ``seeds`` are ``seed, seed+1, ...`` (1/3/5 of them by scale).
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
        """Seeds to use at this scale: ``[seed, seed+1, ...]``."""
        return [self.seed + i for i in range(SEEDS_PER_SCALE[self.scale])]

    def pick(self, smoke: T, quick: T, full: T) -> T:
        """Choose a size by scale: ``n = ctx.pick(smoke=2, quick=20, full=100)``."""
        return {"smoke": smoke, "quick": quick, "full": full}[self.scale]

    def metric(self, name: str, value: Any) -> None:
        """Record a named number (or small JSON-able value)."""
        self.metrics[name] = _plain(value)

    def table(self, name: str, rows: Sequence[dict[str, Any]]) -> None:
        """Record a table as a list of dicts (one dict per row, same keys)."""
        self.tables[name] = [{k: _plain(v) for k, v in row.items()} for row in rows]

    def figure(self, name: str, fig: Any, caption: str = "") -> Path:
        """Save a matplotlib figure as ``figures/<name>.png`` (atomically) and close it."""
        if not _ID_RE.match(name):
            raise ValueError(f"figure name must be lowercase letters/digits/-/_, got {name!r}")
        import matplotlib.pyplot as plt

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
        *,
        rule: str,
        holds: bool,
        value: float | None = None,
        values: Sequence[float] | None = None,
        seed_rule: Callable[[float], bool] | None = None,
    ) -> Claim:
        """State a claim with its fixed ``rule``, the measured ``value`` and the verdict.

        Give ``values`` (one per seed) for noisy claims: their mean and spread (max - min)
        are recorded and ``value`` defaults to the mean.

        ``seed_rule`` (with ``values``) makes the verdict robust to one lucky seed: it is
        applied to each seed's value, and the claim holds only when ``holds`` is true *and*
        the seed rule holds on at least two thirds of the seeds (rounded up). The per-seed
        verdicts are recorded, and the rule text says so.
        """
        if not _ID_RE.match(id):
            raise ValueError(f"claim id must be lowercase letters/digits/-/_, got {id!r}")
        if any(c.id == id for c in self.claims):
            raise ValueError(f"claim {id!r} was already stated in this run")
        mean = spread = None
        vals = None
        if values is not None:
            vals = [float(v) for v in values]
            if not vals:
                raise ValueError(f"claim {id!r}: values is empty")
            mean = statistics.fmean(vals)
            spread = max(vals) - min(vals)
            value = mean if value is None else value
        seed_holds = None
        if seed_rule is not None:
            if vals is None:
                raise ValueError(f"claim {id!r}: seed_rule needs per-seed values")
            seed_holds = [bool(seed_rule(v)) for v in vals]
            need = math.ceil(2 * len(vals) / 3)
            holds = bool(holds) and sum(seed_holds) >= need
            if "every seed" not in rule:  # an every-seed rule already says more than 2/3
                rule = f"{rule}; and per seed on >= {need} of {len(vals)} seeds"
        c = Claim(
            id=id,
            statement=statement,
            rule=rule,
            value=None if value is None else float(value),
            holds=bool(holds),
            values=vals,
            mean=mean,
            spread=spread,
            seed_holds=seed_holds,
        )
        self.claims.append(c)
        return c

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


def _plain(value: Any) -> Any:
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value
