"""The ``deepdojo`` command line, one module per command group.

- :mod:`~deepdojo.cli.labs`: ``labs``;
- :mod:`~deepdojo.cli.run`: ``run`` (``--jobs N``: labs in N processes, longest first);
- :mod:`~deepdojo.cli.verify`: ``verify`` (verdict stability over disjoint seed sets);
- :mod:`~deepdojo.cli.report`: ``report``, ``questions``, ``show``;
- :mod:`~deepdojo.cli.tune`: ``tune``;
- :mod:`~deepdojo.cli.ask`: ``ask`` (find the question you mean);
- :mod:`~deepdojo.cli.quiz`: ``quiz``;
- :mod:`~deepdojo.cli.export`: ``export`` (a model or checkpoint to ONNX);
- :mod:`~deepdojo.cli.oneshot`: ``oneshot train|eval`` (one-shot learning on your data).

:mod:`~deepdojo.cli.app` holds the shared Typer app and error handling: a new command group is
a new module that registers on ``app`` and is imported below. Bad input exits with code 2 and
one readable line; ``deepdojo --debug ...`` shows the traceback instead.
"""

from __future__ import annotations

import sys

from deepdojo.cli import (  # noqa: F401  (register commands)
    ask,
    export,
    labs,
    oneshot,
    quiz,
    report,
    run,
    tune,
    verify,
)
from deepdojo.cli.app import UsageError, app

__all__ = ["UsageError", "app", "main"]


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``deepdojo`` console script and ``python -m deepdojo``."""
    app(args=argv if argv is not None else sys.argv[1:], prog_name="deepdojo")
