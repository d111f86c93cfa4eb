"""The lab registry: ``register_lab`` fills ``LABS``; ``get_lab`` finds a lab by name."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from deepdojo.labs.framework.errors import LabError

if TYPE_CHECKING:
    from deepdojo.labs.framework.context import LabContext

ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")
LabFn = Callable[[Any, "LabContext"], None]


@dataclass
class LabSpec:
    """A registered lab: its name, questions, config dataclass and function."""

    name: str
    questions: tuple[str, ...]
    config: type
    fn: LabFn
    summary: str


LABS: dict[str, LabSpec] = {}


def register_lab(
    name: str, *, questions: Sequence[str], config: type, summary: str | None = None
) -> Callable[[LabFn], LabFn]:
    """Register ``fn(cfg, ctx)`` as lab ``name`` answering ``questions`` (``"Q08"``...).

    ``summary`` defaults to the first sentence of the function's docstring (its lines
    joined; a summary line may wrap).
    """
    if not ID_RE.match(name):
        raise ValueError(f"lab name must be lowercase letters, digits, '-', '_' ; got {name!r}")
    if not dataclasses.is_dataclass(config):
        raise TypeError(f"config for lab {name!r} must be a dataclass, got {config!r}")
    bad = [q for q in questions if not re.fullmatch(r"Q(0[1-9]|1[0-9]|20)", q)]
    if bad or not questions:
        raise ValueError(f"questions for lab {name!r} must be ids Q01..Q20, got {questions!r}")

    def wrap(fn: LabFn) -> LabFn:
        if name in LABS and LABS[name].fn.__qualname__ != fn.__qualname__:
            raise ValueError(f"lab {name!r} is already registered")
        text = summary if summary is not None else first_sentence(fn.__doc__ or "")
        LABS[name] = LabSpec(name, tuple(questions), config, fn, text.strip())
        return fn

    return wrap


def first_sentence(doc: str) -> str:
    """The first sentence of ``doc``'s first paragraph, its lines joined by single spaces."""
    paragraph = " ".join(doc.strip().split("\n\n")[0].split())
    end = re.search(r"(?<=[.!?])\s+(?=[A-Z(`])", paragraph)
    return paragraph[: end.start()] if end else paragraph


def get_lab(name: str) -> LabSpec:
    """Return the registered lab ``name``; unknown names list the known ones."""
    if name not in LABS:  # a lab registered by hand (tests) needs no import of the others
        from deepdojo.labs import load_all

        load_all()
    if name not in LABS:
        known = ", ".join(sorted(LABS)) or "none"
        raise LabError(f"unknown lab {name!r}; registered labs: {known}")
    return LABS[name]
