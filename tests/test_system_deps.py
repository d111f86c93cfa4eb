"""The system programs `make test` installs (tools/ensure-system-deps.sh) are there and run.

Outside CI a missing one is a skip; under CI=true it fails, like any missing dependency.
"""

from __future__ import annotations

import glob
import subprocess

import pytest
from deepdojo_testing import MISSING, require_program


@pytest.mark.parametrize(("program", "package", "says"), [
    ("chromium", "chromium", "Chromium"),
    ("chromedriver", "chromium-driver", "ChromeDriver"),
])
def test_browser_programs_run(program, package, says):
    path = require_program(program, apt=package)
    out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and says in out.stdout


def test_postgresql_server_binaries_run():
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins:
        pytest.skip(f"{MISSING}: PostgreSQL server (apt-get install postgresql)")
    out = subprocess.run([bins[-1], "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "PostgreSQL" in out.stdout
