"""Fixtures for the CLI tests: a tiny registered lab and a runner that keeps stderr apart."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from typer.testing import CliRunner

from deepdojo.cli import app
from deepdojo.labs import LABS, ranged, register_lab
from deepdojo.labs.framework import rules as R

TOY = "test-cli-walk-toy"


@dataclass
class WalkToyConfig:
    n: int = 2  # a number the lab echoes
    depth: int = ranged(3, low=2)  # a ranged field: --set depth=0 is refused


def _toy(cfg: WalkToyConfig, ctx) -> None:
    """Echo a config value as a claim."""
    ctx.claim("echo", "n is echoed", R.EverySeed(R.AtLeast(cfg.n)),
              values=[cfg.n] * len(ctx.seeds), kind="check")


@pytest.fixture()
def toy_lab():
    register_lab(TOY, questions=("Q09",), config=WalkToyConfig)(_toy)
    yield TOY
    LABS.pop(TOY, None)


@pytest.fixture()
def invoke():
    """``invoke(*args)`` runs ``deepdojo args...`` in-process; ``.stdout``/``.stderr`` apart."""
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, list(args))

    return run
