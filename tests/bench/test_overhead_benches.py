"""What the overhead benches promise about their own setup: ``--malloc pinned`` reaches every
child alike and changes what glibc does, both hand-loop orders do the same work, and every
finiteness check that ``bench/guard_check.py`` times catches every NaN/Inf."""

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


_PROBE = """
import ctypes
libc = ctypes.CDLL("libc.so.6")
class Info(ctypes.Structure):  # struct mallinfo2 (glibc >= 2.33)
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks",
                "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc.mallinfo2.restype = Info
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
block = libc.malloc(8 << 20)
mapped = libc.mallinfo2().hblkhd >= 8 << 20  # served by its own mmap
libc.free(block)
kept = libc.mallinfo2().fordblks >= 8 << 20  # freed, and still the process's
print(mapped, kept)
"""


def _glibc_with_mallinfo2() -> bool:
    import ctypes
    import platform

    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        return hasattr(ctypes.CDLL("libc.so.6"), "mallinfo2")
    except OSError:
        return False


@pytest.mark.skipif(not _glibc_with_mallinfo2(), reason="needs glibc >= 2.33 (mallinfo2)")
def test_pinned_malloc_keeps_a_freed_8_mib_block_that_the_defaults_map_and_return(
        overhead, monkeypatch) -> None:  # fmt: skip
    import subprocess

    results = {}
    for setting in ("default", "pinned"):
        monkeypatch.setenv(overhead._MALLOC_ENV, setting)
        monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
        env = overhead.child_command("loop(mem)", 32, 1, 1)[1]
        out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True,
                             text=True, check=True).stdout.split()  # fmt: skip
        results[setting] = out
    assert results == {"default": ["True", "False"], "pinned": ["False", "True"]}


@pytest.mark.parametrize("case", ["mlp", "gan", "ssl"])
def test_both_zero_grad_orders_train_the_same_weights(overhead, case) -> None:
    """The hand loops do the same work in either order (a dropped ``zero_grad`` of the
    discriminator after the generator's update would make them differ)."""
    if case == "mlp":
        X, y = overhead.digits()
        hands = [overhead.hand_supervised(overhead.index_batches(X[:300], y[:300], 64), first)
                 for first in (False, True)]  # fmt: skip
    else:
        data = overhead.task_data(case)[:300]
        hands = [overhead.hand_task(case, data, 64, first) for first in (False, True)]
    states = []
    for hand in hands:
        torch.manual_seed(0)  # the GAN's noise and the views' augmentations
        hand()
        hand()
        states.append([p.detach().clone() for m in hand.modules for p in m.parameters()])
    assert states[0] and len(states[0]) == len(states[1])
    for a, b in zip(*states, strict=True):
        assert torch.equal(a, b)


def test_ablations_run_every_variant_in_one_process(overhead) -> None:
    out = overhead.run_ablations(256, 1, seed=0)
    assert sorted(out) == sorted(overhead.ABLATIONS)
    for ratio, trainer_faults, hand_faults in out.values():
        assert ratio > 0 and trainer_faults >= 0 and hand_faults >= 0
    with pytest.raises(ValueError, match="MLP case only"):
        overhead.case_trainer("gan", False, None, guard=False)


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
