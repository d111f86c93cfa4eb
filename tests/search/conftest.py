"""A throwaway PostgreSQL cluster for the search tests that need a live database server.

``pg_cluster`` (one per test module) runs ``initdb`` into a temporary folder and starts the
server with ``pg_ctl`` on a free localhost port: password logins over TCP (scram-sha-256),
``fsync`` off. ``initdb`` refuses to run as root, so as root (CI) the server runs as the
``postgres`` system user (``runuser -u postgres``) and the folder is handed to it. The server
is stopped and the folder removed at the end, also when a test fails. ``pg_url`` gives each
test a fresh, empty database.

Without PostgreSQL's server programs (``apt-get install postgresql``) or the psycopg driver
(``pip install 'deepdojo[distributed]'``) the tests are skipped with the reason; under
``CI=true`` that skip is a failure (``deepdojo_testing``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from deepdojo_testing import MISSING, require

PASSWORD = "dojo-secret-pw"  # the superuser's password; tests check it never gets printed


def _bindir() -> Path:
    """The newest PostgreSQL server bin folder; skip (a failure under CI) when there is none."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name or 0))
    if not found:
        pytest.skip(f"{MISSING}: PostgreSQL server programs initdb and pg_ctl "
                    "(apt-get install postgresql)")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PgCluster:
    """A running throwaway cluster: its programs, folder, port and the user it runs as."""

    bindir: Path
    root: Path
    port: int
    run_as: list[str]  # command prefix that runs a program as the cluster's owner

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres", password: str = PASSWORD) -> str:
        """``postgresql://`` URL (psycopg 3 under SQLAlchemy 2) of ``database``."""
        return f"postgresql://postgres:{password}@127.0.0.1:{self.port}/{database}"

    def ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``pg_ctl args`` as the cluster's owner; raise with its output when it fails."""
        cmd = [*self.run_as, str(self.bindir / "pg_ctl"), "-D", str(self.data), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl {' '.join(args)} failed: {done.stdout}{done.stderr}")
        return done

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self.ctl("start", "-w", "-t", "60", "-l", str(self.root / "server.log"), "-o", options)

    def stop(self, mode: str = "fast") -> None:
        self.ctl("stop", "-w", "-t", "60", "-m", mode)

    def create_database(self) -> str:
        """A new empty database; returns its name."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres",
                             password=PASSWORD, dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name


def _owner() -> tuple[list[str], int | None, int | None]:
    """(command prefix, uid, gid) of the user that runs the server."""
    if os.geteuid() != 0:
        return [], None, None
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip(f"{MISSING}: the 'postgres' system user (apt-get install postgresql)")
    runuser = shutil.which("runuser")
    if runuser is None:
        pytest.skip(f"{MISSING}: program 'runuser' (apt-get install util-linux)")
    return [runuser, "-u", "postgres", "--"], user.pw_uid, user.pw_gid


@pytest.fixture(scope="module")
def pg_cluster() -> Iterator[PgCluster]:
    require("psycopg", extra="distributed")
    bindir = _bindir()
    run_as, uid, gid = _owner()
    root = Path(tempfile.mkdtemp(prefix="deepdojo-pg-"))
    cluster = PgCluster(bindir, root, _free_port(), run_as)
    try:
        os.chmod(root, 0o700)
        pwfile = root / "pwfile"
        pwfile.write_text(PASSWORD + "\n")
        if uid is not None:
            for path in (root, pwfile):
                os.chown(path, uid, gid)
        init = subprocess.run(
            [*run_as, str(bindir / "initdb"), "-D", str(cluster.data), "-U", "postgres",
             f"--pwfile={pwfile}", "--auth-local=trust", "--auth-host=scram-sha-256",
             "-E", "UTF8", "--no-sync"],
            capture_output=True, text=True, timeout=120)
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed: {init.stdout}{init.stderr}")
        cluster.start()
        yield cluster
    finally:
        with contextlib.suppress(Exception):  # never started, or a test stopped it already
            cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture()
def pg_url(pg_cluster: PgCluster) -> str:
    """URL of a fresh, empty database on the module's cluster."""
    return pg_cluster.url(pg_cluster.create_database())
