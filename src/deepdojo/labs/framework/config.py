"""Typed lab configs: per-scale sizes, ranges, and ``--set key=value`` overrides.

A lab's config is a dataclass. A size that changes with the scale is declared once with
:func:`scaled`; a value with a valid range with :func:`ranged`::

    @dataclass
    class ExplodingConfig:
        depth: int = ranged(12, low=2)                             # layers of the MLP
        epochs: int = scaled(smoke=1, quick=10, full=30, low=1)    # epochs per setup
        lr: float = ranged(0.05, low=0.0, low_open=True)           # SGD learning rate

:func:`make_config` resolves every scaled field for the run's scale, applies the type-checked
``--set`` overrides, then checks every range (each element of a tuple too) and that every
overridden float is finite, so that a bad value is refused in one line before any training.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Iterable
from typing import Any

from deepdojo.labs.framework.errors import LabError

SCALES = ("smoke", "quick", "full")
_KEY = "deepdojo"  # dataclass field metadata key


@dataclasses.dataclass(frozen=True)
class Bounds:
    """A closed or open interval a value (or each element of a tuple value) must lie in."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def problem(self, value: float) -> str | None:
        """The unmet bound as text (``">= 2"``), or None when ``value`` is inside."""
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        if self.high is not None and (
            value >= self.high if self.high_open else value > self.high
        ):
            return f"{'<' if self.high_open else '<='} {self.high:g}"
        return None


def _field(default: Any, meta: dict[str, Any]) -> Any:
    if isinstance(default, list | dict | set):
        return dataclasses.field(default_factory=lambda: type(default)(default),
                                 metadata={_KEY: meta})
    return dataclasses.field(default=default, metadata={_KEY: meta})


def _bounds(low: float | None, high: float | None, low_open: bool, high_open: bool) -> Bounds:
    for name, b in (("low", low), ("high", high)):
        if b is not None and (isinstance(b, bool) or not isinstance(b, int | float)):
            raise TypeError(f"{name} must be a number or None, got {b!r}")
    if low is not None and high is not None and low > high:
        raise ValueError(f"low must be <= high, got low={low!r}, high={high!r}")
    return Bounds(low, high, bool(low_open), bool(high_open))


def scaled(
    smoke: Any,
    quick: Any,
    full: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> Any:
    """A config field whose value depends on the scale; its default is the ``quick`` value.

    ``low``/``high`` bound the value (or every element of a tuple), inclusive unless
    ``low_open``/``high_open``.
    """
    meta = {"scaled": {"smoke": smoke, "quick": quick, "full": full},
            "bounds": _bounds(low, high, low_open, high_open)}
    return _field(quick, meta)


def ranged(
    default: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> Any:
    """A config field with a valid range that does not change with the scale."""
    return _field(default, {"bounds": _bounds(low, high, low_open, high_open)})


def scale_values(config_cls: type) -> dict[str, dict[str, Any]]:
    """``{field: {"smoke": .., "quick": .., "full": ..}}`` for the scaled fields of a config."""
    return {f.name: dict(f.metadata[_KEY]["scaled"]) for f in dataclasses.fields(config_cls)
            if _KEY in f.metadata and "scaled" in f.metadata[_KEY]}


def _convert(key: str, text: str, tp: Any) -> Any:
    """Parse ``text`` as type ``tp`` (bool, int, float, str, tuples/lists of those)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if type(None) in args and text.lower() in ("none", "null"):
            return None
        return _convert(key, text, options[0])
    if origin in (tuple, list):
        parts = [p for p in text.strip("()[] ").split(",") if p.strip()]
        inner = args[0] if args else str
        return origin(_convert(key, p.strip(), inner) for p in parts)
    try:
        if tp is bool:
            low = text.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if tp is int:
            return int(text)
        if tp is float:
            return float(text)
        if tp is str:
            return text
    except ValueError:
        pass
    else:
        raise LabError(f"--set {key}: unsupported field type {tp!r}")
    name = getattr(tp, "__name__", str(tp))
    raise LabError(f"--set {key}={text}: expected a value of type {name}")


def _numbers(value: Any) -> list[float]:
    """The numbers in a value: itself, or the elements of a tuple/list (bools excluded)."""
    items = value if isinstance(value, tuple | list) else [value]
    return [v for v in items if isinstance(v, int | float) and not isinstance(v, bool)]


def make_config(
    config_cls: type, overrides: dict[str, str] | None = None, *, scale: str = "quick"
) -> Any:
    """Build ``config_cls`` for ``scale`` with string ``overrides`` type- and range-checked.

    Every :func:`scaled` field takes its value for ``scale``; then ``overrides`` apply; then
    every bounded field (each element of a tuple) is range-checked, and every overridden float
    must be finite. Problems raise :class:`LabError` with one line, e.g.
    ``--set depth=0: depth must be >= 2``.
    """
    if scale not in SCALES:
        raise LabError(f"scale must be one of {', '.join(SCALES)}, got {scale!r}")
    if not dataclasses.is_dataclass(config_cls):
        raise TypeError(f"config_cls must be a dataclass, got {config_cls!r}")
    overrides = dict(overrides or {})
    hints = typing.get_type_hints(config_cls)
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    values: dict[str, Any] = {}
    for f in fields.values():
        meta = f.metadata.get(_KEY, {})
        if "scaled" in meta:
            values[f.name] = meta["scaled"][scale]
    for key, text in overrides.items():
        if key not in fields:
            raise LabError(
                f"--set {key}: {config_cls.__name__} has no field {key!r}; "
                f"fields: {', '.join(sorted(fields))}"
            )
        value = _convert(key, str(text), hints[key])
        bad = [v for v in _numbers(value) if not math.isfinite(v)]
        if bad:
            raise LabError(f"--set {key}={text}: {key} must be finite, got {bad[0]}")
        values[key] = value
    for name, f in fields.items():
        bounds = f.metadata.get(_KEY, {}).get("bounds")
        if bounds is None:
            continue
        value = values[name] if name in values else _default(f)
        for v in _numbers(value):
            need = bounds.problem(v)
            if need is not None:
                where = (f"--set {name}={overrides[name]}" if name in overrides
                         else f"{config_cls.__name__}.{name} at scale {scale}")
                raise LabError(f"{where}: {name} must be {need}, got {v:g}")
    return config_cls(**values)


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def parse_overrides(items: Iterable[str]) -> dict[str, str]:
    """Parse ``["key=value", ...]`` into a dict; anything without ``=`` is an error."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise LabError(f"--set expects key=value, got {item!r}")
        out[key.strip()] = value.strip()
    return out
