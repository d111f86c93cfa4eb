"""Lab configs from the command line: ``--set key=value`` parsed and type-checked."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable
from typing import Any

from deepdojo.labs._core import LabError


def _convert(key: str, text: str, tp: Any) -> Any:
    """Parse ``text`` as type ``tp`` (bool, int, float, str, tuples/lists of those)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if type(None) in args and text.lower() in ("none", "null"):
            return None
        return _convert(key, text, inner[0])
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


def make_config(config_cls: type, overrides: dict[str, str] | None = None) -> Any:
    """Build ``config_cls`` with string ``overrides`` type-checked against its fields."""
    overrides = overrides or {}
    hints = typing.get_type_hints(config_cls)
    fields = {f.name for f in dataclasses.fields(config_cls)}
    values: dict[str, Any] = {}
    for key, text in overrides.items():
        if key not in fields:
            raise LabError(
                f"--set {key}: {config_cls.__name__} has no field {key!r}; "
                f"fields: {', '.join(sorted(fields))}"
            )
        values[key] = _convert(key, str(text), hints[key])
    return config_cls(**values)


def parse_overrides(items: Iterable[str]) -> dict[str, str]:
    """Parse ``["key=value", ...]`` into a dict; anything without ``=`` is an error."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise LabError(f"--set expects key=value, got {item!r}")
        out[key.strip()] = value.strip()
    return out
