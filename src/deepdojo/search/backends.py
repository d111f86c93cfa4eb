"""Optuna back ends by name: samplers, pruners and the storage that workers share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna

from deepdojo.search.study import SearchError

SAMPLERS = ("tpe", "random", "cmaes")
PRUNERS = ("median", "hyperband", None)
DEFAULT_STORAGE = "sqlite:///runs/search.db"


def make_sampler(name: Any, seed: int | None = 0) -> optuna.samplers.BaseSampler:
    """Optuna sampler by name: ``"tpe"``, ``"random"`` or ``"cmaes"`` (seeded).

    An ``optuna.samplers.BaseSampler`` instance is returned as is.
    """
    if isinstance(name, optuna.samplers.BaseSampler):
        return name
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "cmaes":  # categorical parameters fall back to random sampling, quietly
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    raise SearchError(f"sampler must be one of {', '.join(SAMPLERS)}; got {name!r}")


def make_pruner(name: Any) -> optuna.pruners.BasePruner:
    """Optuna pruner by name: ``"median"``, ``"hyperband"`` or ``None`` (never prune).

    ``median`` stops a trial whose intermediate value is worse than the median of earlier
    trials at the same step (after 5 startup trials and 1 warm-up step); ``hyperband``
    runs successive halving brackets over the epochs. A ``BasePruner`` instance is returned as
    is.
    """
    if isinstance(name, optuna.pruners.BasePruner):
        return name
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner()
    if name is None or name == "none":
        return optuna.pruners.NopPruner()
    raise SearchError(f"pruner must be one of median, hyperband or None; got {name!r}")


def _safe_url(url: str) -> str:
    """The URL with any password hidden, for error messages."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL has no password to hide that we can find
        return url


def open_storage(url: str | None) -> optuna.storages.BaseStorage | None:
    """Open ``url`` as an Optuna RDB storage; ``None`` means in memory (one process only).

    A ``sqlite:///path`` URL gets its folder created. A URL that cannot be opened (no such
    host, missing database driver, unknown scheme, unwritable file) raises :class:`SearchError`
    with one line naming the URL (password hidden) and the cause.
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
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
    except Exception as e:  # sqlalchemy/driver errors differ by backend; all mean "unreachable"
        cause = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise SearchError(f"storage {_safe_url(url)!r} is unreachable: {cause}") from None
