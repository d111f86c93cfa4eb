"""The CI rule for skips: under CI=true a missing dependency fails; other skips stay skips.

Runs a small suite in a subprocess (the hooks act on reports, so they are tested the way pytest
uses them), once with ``CI=true`` and once without, and reads each test's outcome from the
JUnit XML.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from deepdojo_testing import is_missing_dependency

TESTS = Path(__file__).parent

SUITE = '''
import sys
import pytest
from deepdojo_testing import require, require_program

def test_require_missing():
    require("no_such_module_dd", extra="chem")

def test_importorskip_missing():
    pytest.importorskip("no_such_module_dd")

@pytest.mark.skipif(True, reason="chromium not installed")
def test_skipif_not_installed():
    pass

def test_program_missing():
    require_program("no-such-program-dd", apt="no-such-package")

def test_needs_cuda():
    pytest.skip("needs CUDA")

@pytest.mark.skipif(True, reason="needs a GPU")
def test_needs_gpu_mark():
    pass

@pytest.mark.skipif(sys.platform != "no-such-os", reason="POSIX only")
def test_platform():
    pass

@pytest.mark.xfail(reason="missing dependency on purpose", run=False)
def test_xfail():
    pass

def test_present():
    assert require("json").dumps(1) == "1"
'''

MODULE_SKIP = 'from deepdojo_testing import require\nrequire("no_such_module_dd")\n\n' \
              'def test_never():\n    pass\n'
MODULE_IMPORTORSKIP = 'import pytest\npytest.importorskip("no_such_module_dd")\n\n' \
                      'def test_never():\n    pass\n'
CONFTEST = "from deepdojo_testing import pytest_make_collect_report, pytest_runtest_makereport\n"


def _outcomes(tmp_path: Path, ci: str | None, files: dict[str, str]
              ) -> tuple[int, dict[str, str]]:
    """Run ``files`` as a suite; return pytest's exit code and ``{test or module: outcome}``."""
    (tmp_path / "conftest.py").write_text(CONFTEST)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    if ci is not None:
        env["CI"] = ci
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    xml = tmp_path / "report.xml"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         "-p", "no:hypothesispytest",
         "-o", "addopts=", f"--rootdir={tmp_path}", f"--junitxml={xml}", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    outcomes = {}
    for case in ET.parse(xml).iter("testcase"):
        kinds = [c.tag for c in case if c.tag in ("failure", "error", "skipped")]
        name = case.get("name") or ""
        key = name if case.get("classname") else name.split(".")[-1] or name
        outcomes[key] = kinds[0] if kinds else "passed"
    return proc.returncode, outcomes


MISSING = ("test_require_missing", "test_importorskip_missing", "test_skipif_not_installed",
           "test_program_missing")
INTENDED = ("test_needs_cuda", "test_needs_gpu_mark", "test_platform", "test_xfail")
MODULES = {"test_module_require.py": MODULE_SKIP,
           "test_module_importorskip.py": MODULE_IMPORTORSKIP}


def test_outside_ci_a_missing_dependency_is_a_skip(tmp_path):
    code, outcomes = _outcomes(tmp_path, None, {"test_suite.py": SUITE, **MODULES})
    assert code == 0, outcomes
    assert {t: outcomes[t] for t in MISSING + INTENDED} == dict.fromkeys(
        MISSING + INTENDED, "skipped")
    assert outcomes["test_present"] == "passed"
    modules = [k for k in outcomes if k.startswith("test_module_")]
    assert len(modules) == 2 and all(outcomes[m] == "skipped" for m in modules), outcomes


def test_under_ci_a_missing_dependency_fails_and_other_skips_stay(tmp_path):
    code, outcomes = _outcomes(tmp_path, "true", {"test_suite.py": SUITE})
    assert code == 1, outcomes
    # a skipif mark acts in setup, so its failure is an "error" of the test: red all the same
    assert {t: outcomes[t] for t in MISSING} == {**dict.fromkeys(MISSING, "failure"),
                                                 "test_skipif_not_installed": "error"}
    assert {t: outcomes[t] for t in INTENDED} == dict.fromkeys(INTENDED, "skipped")
    assert outcomes["test_present"] == "passed"


def test_under_ci_a_module_level_missing_dependency_is_a_collection_error(tmp_path):
    code, outcomes = _outcomes(tmp_path, "true", MODULES)
    assert code == 2, outcomes  # pytest's "interrupted: errors during collection"
    assert sorted(outcomes.values()) == ["error", "error"], outcomes


def test_ci_other_than_true_keeps_skips(tmp_path):
    code, outcomes = _outcomes(tmp_path, "false", {"test_suite.py": SUITE})
    assert code == 0 and outcomes["test_require_missing"] == "skipped"


@pytest.mark.parametrize(
    ("reason", "missing"),
    [
        ("missing dependency: rdkit (No module named 'rdkit'); pip install 'deepdojo[chem]'",
         True),
        ("Skipped: could not import 'onnx': No module named 'onnx'", True),
        ("chromium not installed", True),
        ("needs CUDA", False),
        ("needs a GPU", False),
        ("POSIX only", False),
        ("no torch.distributed", False),
        ("missing values are tested elsewhere", False),
    ],
)
def test_which_reasons_count_as_missing(reason, missing):
    assert is_missing_dependency(reason) is missing
