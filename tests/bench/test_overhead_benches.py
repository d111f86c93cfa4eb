"""What the overhead benches promise about their own setup: ``--malloc pinned`` reaches every
child alike, and every finiteness check that ``bench/guard_check.py`` times is exact."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

_BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load(name: str) -> ModuleType:
    if str(_BENCH) not in sys.path:  # the benches import their siblings
        sys.path.insert(0, str(_BENCH))
    spec = importlib.util.spec_from_file_location(name, _BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def overhead() -> ModuleType:
    return _load("trainer_overhead")


@pytest.mark.parametrize("variant", ["trainer(mem)", "loop(mem)", "paired-ssl", "ablate-0"])
def test_pinned_malloc_reaches_every_child_alike(overhead, monkeypatch, variant) -> None:
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.arena_max=2")
    monkeypatch.setenv(overhead._MALLOC_ENV, "pinned")
    cmd, env = overhead.child_command(variant, 32, 3, 2)
    assert env["GLIBC_TUNABLES"] == f"glibc.malloc.arena_max=2:{overhead.PINNED_MALLOC}"
    assert cmd[cmd.index("--child") + 1] == variant
    monkeypatch.delenv("GLIBC_TUNABLES")
    assert overhead.child_command(variant, 32, 3, 2)[1]["GLIBC_TUNABLES"] == (
        overhead.PINNED_MALLOC)  # fmt: skip
    monkeypatch.setenv(overhead._MALLOC_ENV, "default")
    assert "GLIBC_TUNABLES" not in overhead.child_command(variant, 32, 3, 2)[1]


def test_pinned_malloc_names_real_glibc_tunables(overhead) -> None:
    settings = dict(item.split("=") for item in overhead.PINNED_MALLOC.split(":"))
    assert settings == {"glibc.malloc.trim_threshold": str(1 << 30),
                        "glibc.malloc.mmap_threshold": str(32 << 20)}  # fmt: skip
    # glibc ignores an mmap threshold above 32 MiB on 64-bit machines (HEAP_MAX_SIZE / 2)
    assert int(settings["glibc.malloc.mmap_threshold"]) <= 32 << 20


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # NumPy's sums
def test_every_timed_finiteness_check_is_exact() -> None:
    guard_check = _load("guard_check")
    checks = guard_check.candidates()
    guard_check.self_check(checks)  # raises if one misses a NaN/Inf or flags finite values
    grads = [torch.full((3, 3), 3e38), torch.ones(4)]  # finite, but the sum of squares overflows
    for name in ("guard", "amp", "isfinite", "foreach max", "foreach norm"):
        assert checks[name](torch.tensor(1.0), grads), name  # never a false alarm
    for name in ("numpy sum", "numpy dot", "torch sum"):  # overflow: these need the fallback
        assert not checks[name](torch.tensor(1.0), grads), name  # the docstring describes


def test_a_check_that_misses_negative_infinity_fails_the_self_check() -> None:
    guard_check = _load("guard_check")

    def max_of_raw_values(loss: torch.Tensor, grads: list[torch.Tensor]) -> bool:
        return bool(torch.stack([g.max() for g in grads]).isfinite().all())

    with pytest.raises(AssertionError, match="misses a -inf element"):
        guard_check.self_check({"raw max": max_of_raw_values})
