"""The storage that workers share: opened safely, its failures named for what they are.

- **Opening.** :func:`open_storage` turns a URL into an Optuna ``RDBStorage``. Workers that
  start at the same moment on a fresh database race to create Optuna's tables; on
  PostgreSQL the creation is serialised with an advisory lock (one worker creates, the others
  wait and then find the tables), and on every back end a creation that loses a race
  (``IntegrityError``, "already exists") is retried with a growing, jittered wait.
- **Errors.** A failure is one line naming the URL with its password hidden and the cause.
  "Unreachable" is said only when the server cannot be reached (connection refused, unknown
  host, timeout); a refused login, a missing database, a missing driver or an unknown scheme
  each say what they are (:func:`describe_storage_error`).
- **Losing the server.** A storage error in the middle of a study raises
  :class:`StorageLost` (one line): the trials that finished are in the database and the study
  resumes when the same command runs again.
"""

from __future__ import annotations

import logging
import random
import re
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, overload

import optuna

from deepdojo.search.study import SearchError

DEFAULT_STORAGE = "sqlite:///runs/search.db"
CREATE_ATTEMPTS = 8  # tries to create the schema when concurrent creators collide
# Advisory-lock key that serialises schema creation on PostgreSQL (any fixed 63-bit number).
_SCHEMA_LOCK = zlib.crc32(b"deepdojo.search.schema")
# Driver messages that mean the server could not be reached at all (psycopg, pymysql, sqlite).
_UNREACHABLE = re.compile(
    r"connection refused|could not translate host|failed to resolve host|name or service not known|"
    r"temporary failure in name resolution|no route to host|network is unreachable|"
    r"timeout expired|timed out|is the server running|can't connect to|"
    r"no such file or directory|server closed the connection|connection reset|"
    r"terminating connection|the database system is (starting up|shutting down)|"
    r"unable to open database file|connection is lost|consuming input failed",
    re.IGNORECASE,
)
_LOGIN = re.compile(r"password authentication failed|no password supplied|"
                    r"authentication failed|access denied|role .* does not exist", re.IGNORECASE)


class StorageLost(RuntimeError):  # noqa: N818 (what happened, as the user reads it)
    """The storage stopped answering in the middle of a study; ``str(e)`` is one line.

    The trials that finished before are kept in the database; run the same command again
    once the server is back and the study resumes.
    """


def storage_errors() -> tuple[type[BaseException], ...]:
    """The exception types a database storage raises (SQLAlchemy's and Optuna's wrapper)."""
    import sqlalchemy.exc

    return (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError)


def storage_cause(e: BaseException) -> BaseException | None:
    """The storage error behind ``e`` (``e`` itself, or one it was raised from or while
    handling), or None. Optuna can turn a failed write into another error on its way out
    (an ``UnboundLocalError`` in its trial bookkeeping), so the chain is searched."""
    kinds, seen = storage_errors(), set()
    link: BaseException | None = e
    while link is not None and id(link) not in seen:
        if isinstance(link, kinds):
            return link
        seen.add(id(link))
        link = link.__cause__ or link.__context__
    return None


@contextmanager
def quiet_fallback_warnings() -> Iterator[None]:
    """Drop Optuna's "Caught an error from sqlalchemy ... Falling back" warnings meanwhile.

    Optuna logs one (with the SQL) when a trial query fails and retries it another way; when
    the server has gone the retry fails too and :class:`StorageLost` says it in one line.
    """
    logger = logging.getLogger("optuna.storages._rdb.storage")

    def keep(record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Caught an error from sqlalchemy")

    logger.addFilter(keep)
    try:
        yield
    finally:
        logger.removeFilter(keep)


def safe_url(url: str) -> str:
    """The URL with any password hidden (``user:***@host``), for messages."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL has no password to hide that we can find
        return url


def _password(url: str) -> str | None:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).password
    except Exception:
        return None


def _first_line(e: BaseException) -> str:
    """The first line of the driver's own message, found along ``e``'s chain of causes
    (Optuna wraps SQLAlchemy's error, which wraps the driver's as ``.orig``)."""
    chain: BaseException | None = e
    seen: set[int] = set()
    while chain is not None and id(chain) not in seen:
        orig = getattr(chain, "orig", None)
        if isinstance(orig, BaseException):
            e = orig
            break
        seen.add(id(chain))
        chain = chain.__cause__ or chain.__context__
    while e.__cause__ is not None and not str(e).strip():
        e = e.__cause__
    text = str(e).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(e).__name__


def describe_storage_error(url: str, e: BaseException) -> str:
    """One line saying why ``url`` could not be used, password hidden.

    Unreachable server, refused login, missing database, missing driver, unknown scheme, or
    otherwise the driver's own first line.
    """
    import sqlalchemy.exc

    where = f"storage {safe_url(url)!r}"
    cause = _first_line(e)
    secret = _password(url)
    if secret:
        cause = cause.replace(secret, "***")
    if isinstance(e, sqlalchemy.exc.NoSuchModuleError) or (
            isinstance(e, sqlalchemy.exc.ArgumentError) and "plugin" in str(e)):
        return f"{where}: unknown database scheme ({cause})"
    if isinstance(e, ImportError) or "Failed to import DB access module" in str(e):
        reason = cause if not isinstance(e.__cause__, ImportError) else _first_line(e.__cause__)
        hint = ("pip install 'deepdojo[distributed]'" if url.startswith("postgres")
                else "install the driver the URL names")
        return f"{where}: its database driver is not installed ({reason}); {hint}"
    server = re.search(r"(?:FATAL|ERROR):\s+(.*)", cause)  # the server answered: say its words
    cause = server.group(1) if server else cause
    if _LOGIN.search(cause):
        return f"{where} refused the login: {cause}"
    if re.search(r"database .* does not exist|unknown database", cause, re.IGNORECASE):
        return f"{where}: {cause} (create it first)"
    if _UNREACHABLE.search(cause):
        return f"{where} is unreachable: {cause}"
    return f"{where} failed: {cause}"


def _lost_race(e: BaseException) -> bool:
    """Whether ``e`` is what a schema creator gets when another one created it first."""
    import sqlalchemy.exc

    text = str(e).lower()
    return isinstance(e, sqlalchemy.exc.IntegrityError) or (
        isinstance(e, sqlalchemy.exc.SQLAlchemyError)
        and ("already exists" in text or "duplicate key" in text))


def _create(url: str, kwargs: dict[str, Any]) -> optuna.storages.RDBStorage:
    """``RDBStorage(url)``; on PostgreSQL while holding the schema advisory lock."""
    if not url.startswith(("postgresql", "postgres://")):
        return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
    import sqlalchemy

    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as conn:  # the lock lives as long as this session
            conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": _SCHEMA_LOCK})
            try:
                return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
            finally:
                conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"),
                             {"k": _SCHEMA_LOCK})
    finally:
        engine.dispose()


@overload
def open_storage(url: str) -> optuna.storages.RDBStorage: ...
@overload
def open_storage(url: None) -> None: ...
def open_storage(url: str | None) -> optuna.storages.RDBStorage | None:
    """Open ``url`` as an Optuna RDB storage; ``None`` means in memory (one process only).

    A ``sqlite:///path`` URL gets its folder created (and a 60 s wait for SQLite's write lock).
    Concurrent first openings of a fresh database all succeed (see the module docstring).
    A URL that cannot be used raises :class:`SearchError`: one line with the URL (password
    hidden) and what went wrong (:func:`describe_storage_error`).
    """
    if url is None:
        return None
    if not isinstance(url, str) or "://" not in url:
        raise SearchError(f"storage must be a database URL like {DEFAULT_STORAGE!r}; got {url!r}")
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        if path and path != ":memory:":
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise SearchError(f"storage {url!r}: cannot create its folder ({e})") from None
        kwargs = {"connect_args": {"timeout": 60}}  # workers wait for SQLite's write lock
    rng = random.Random()
    for attempt in range(CREATE_ATTEMPTS):
        try:
            return _create(url, kwargs)
        except Exception as e:
            if _lost_race(e) and attempt < CREATE_ATTEMPTS - 1:
                time.sleep(0.05 * 2**attempt * (1 + rng.random()))  # another worker created it
                continue
            raise SearchError(describe_storage_error(url, e)) from None
    raise AssertionError("the loop returns or raises")  # pragma: no cover
