"""Test helpers shared by the suite, and the pytest hooks that make CI strict about skips.

``require(module)`` is the suite's one way to depend on an optional package (an extra such as
``chem``, ``onnx`` or ``text``) or a system program (``chromium``, ``initdb``)::

    rdkit = require("rdkit", extra="chem")            # at module level or inside a test
    chromium = require_program("chromium", apt="chromium")

Outside CI a missing dependency skips the test with a reason that says what to install. Under
``CI=true`` the same skip is reported as a **failure**: CI installs every extra and every
system program (``make test``), so a skip there means the install step is broken and the code
behind the optional part did not run.

The hooks (imported by ``tests/conftest.py``) apply the same rule to skips that do not come from
``require``: ``pytest.importorskip`` ("could not import ...") and any skip whose reason says
"not installed" or starts with "missing dependency". Other skips ("needs CUDA", "needs a
GPU", platform skips, ``skipif`` on a torch feature) stay skips.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
from types import ModuleType
from typing import Any

import pytest

MISSING = "missing dependency"
# Skip reasons that mean "a dependency is not installed" (see the module docstring).
_MISSING_REASON = re.compile(
    rf"(^(Skipped: )?{MISSING})|(^(Skipped: )?could not import )|(\bnot installed\b)"
)


def in_ci() -> bool:
    """True when the suite runs under CI (``CI=true``), where missing dependencies fail."""
    return os.environ.get("CI", "").lower() == "true"


def is_missing_dependency(reason: str) -> bool:
    """Whether a skip ``reason`` says that a dependency is missing (see the module docstring)."""
    return bool(_MISSING_REASON.search(reason.strip()))


def require(module: str, *, extra: str | None = None, minversion: str | None = None
            ) -> ModuleType:
    """Import and return ``module``; skip the calling test (or module) when it is missing.

    Parameters
    ----------
    module : str
        Dotted module name, e.g. ``"rdkit.Chem"`` or ``"onnxruntime"``.
    extra : str, optional
        The deepdojo extra that installs it, named in the skip reason
        (``pip install 'deepdojo[chem]'``).
    minversion : str, optional
        As in ``pytest.importorskip``: an older installed version counts as missing.

    Under ``CI=true`` the skip is turned into a failure by the hooks below.
    """
    hint = f"pip install 'deepdojo[{extra}]'" if extra else f"pip install {module.split('.')[0]}"
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        pytest.skip(f"{MISSING}: {module} ({e}); {hint}", allow_module_level=True)
    if minversion is not None:
        from packaging.version import Version

        have = getattr(mod, "__version__", None)
        if have is None or Version(have) < Version(minversion):
            pytest.skip(f"{MISSING}: {module}>={minversion} (have {have}); {hint}",
                        allow_module_level=True)
    return mod


def require_program(name: str, *, apt: str | None = None) -> str:
    """Path of the executable ``name`` on ``PATH``; skip the caller when there is none.

    ``apt`` names the Debian package that provides it (``tools/ensure-system-deps.sh`` installs
    it for ``make test``).
    """
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{MISSING}: program {name!r} ({'apt-get install ' + apt if apt else 'PATH'})",
                    allow_module_level=True)
    return path


def _skip_reason(longrepr: Any) -> str | None:
    """The message of a skip report (pytest stores ``(path, lineno, message)``)."""
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return None


def _fail_if_missing(report: Any) -> None:
    """Under CI, turn a report of a missing-dependency skip into a failure, in place."""
    if not (in_ci() and report.skipped and not hasattr(report, "wasxfail")):
        return
    reason = _skip_reason(report.longrepr)
    if reason is None or not is_missing_dependency(reason):
        return
    report.outcome = "failed"
    report.longrepr = (f"{reason}\nCI=true: a test skipped for a missing dependency is a "
                       "failure; `make test` installs every extra and system program")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Skips in setup (``skipif`` marks, fixtures) and in the test body."""
    outcome = yield
    _fail_if_missing(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Any:
    """Module-level skips (``require`` or ``importorskip`` at import time)."""
    outcome = yield
    _fail_if_missing(outcome.get_result())
