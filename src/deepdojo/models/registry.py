"""The model registry: build any registered architecture by name.

Every registration carries an *example factory* so that the registry's tests can check each
model without knowing it: output shape, no NaN, and a gradient for every parameter (the timm
habit). Register a model in its own module under ``deepdojo/models/`` and import that module in
``deepdojo/models/__init__.py``::

    @register_model("tiny_mlp", example=lambda **kw: ModelExample(
        (torch.randn(3, kw.get("in_features", 4)),), (3, kw.get("num_classes", 2))))
    def tiny_mlp(in_features: int = 4, num_classes: int = 2) -> nn.Module:
        return nn.Linear(in_features, num_classes)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn


@dataclass(frozen=True)
class ModelExample:
    """Inputs for one forward pass and the expected output shape.

    ``inputs`` are passed as ``model(*inputs)``; ``output_shape`` is the shape of the output
    tensor (of the first tensor when the model returns a tuple/list, ``None`` to skip).
    """

    inputs: tuple[Any, ...]
    output_shape: tuple[int, ...] | None = None


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: name, builder, example factory and small kwargs for tests."""

    name: str
    builder: Callable[..., nn.Module]
    example: Callable[..., ModelExample] | None = None
    test_kwargs: dict[str, Any] = field(default_factory=dict)
    summary: str = ""


MODELS: dict[str, ModelSpec] = {}


def register_model(
    name: str,
    *,
    example: Callable[..., ModelExample] | None = None,
    test_kwargs: dict[str, Any] | None = None,
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register ``builder(**kw) -> nn.Module`` under ``name``.

    Parameters
    ----------
    name : str
        Registry key used by :func:`create`.
    example : callable, optional
        ``example(**test_kwargs) -> ModelExample``: inputs for one forward pass of the model
        built with the same kwargs, and the expected output shape. The registry's tests fail
        for a model registered without one.
    test_kwargs : dict, optional
        Small constructor kwargs used by the tests (keep models tiny there).
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")

    def wrap(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        old = MODELS.get(name)
        if old is not None and old.builder.__qualname__ != builder.__qualname__:
            raise ValueError(f"model {name!r} is already registered")
        doc = (builder.__doc__ or "").strip().splitlines()
        MODELS[name] = ModelSpec(
            name, builder, example, dict(test_kwargs or {}), doc[0] if doc else ""
        )
        return builder

    return wrap


def list_models() -> list[str]:
    """Names of all registered models, sorted."""
    return sorted(MODELS)


def get_model_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` of ``name``; unknown names list the known ones."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; registered models: {', '.join(list_models())}")
    return MODELS[name]


def create(name: str, **kwargs: Any) -> nn.Module:
    """Build registered model ``name`` with constructor ``kwargs``.

    Examples
    --------
    >>> net = create("plain_mlp", in_features=64, num_classes=10, depth=4)
    """
    return get_model_spec(name).builder(**kwargs)
