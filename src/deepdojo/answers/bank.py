"""The ``Question`` record, its API links and lookup by id.

The entries live in :mod:`deepdojo.answers._q01_q05` .. :mod:`deepdojo.answers._q16_q20`; the
framework landscape of Q11 in :mod:`deepdojo.answers.frameworks`. Which labs answer a question
is *not* stored here: it comes from the lab registry (``deepdojo.labs.LABS[name].questions``)
at report time, so a new lab shows up on its question's page without editing the bank.

API links are checked when they are read, not when they are written: :func:`api_status`
tries to import each dotted name, so a module that lands flips its links from "coming" to
"available" without an edit here. Only modules listed in :data:`PLANNED` may be "coming";
any other name that does not resolve is "missing", which the tests forbid.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Any, Literal

_QID_RE = re.compile(r"^q?0*([0-9]{1,2})$", re.IGNORECASE)

LinkStatus = Literal["available", "coming", "missing"]

#: Modules that are planned (an issue builds them) but not in this build yet. A link under one
#: of them that does not resolve is shown as "coming"; the tests fail once a listed module
#: resolves, so that it is struck from this set when it lands. Empty now: models.gan,
#: models.fewshot, models.ssl, deepdojo.ssl and deepdojo.export have all landed.
PLANNED: frozenset[str] = frozenset()


def resolve_api(name: str) -> Any:
    """Import the dotted name ``deepdojo.x.y.Z`` (a module or an attribute path) and return it.

    The longest importable module prefix is imported, and the rest is read as attributes.

    Raises
    ------
    ValueError
        ``name`` is not a dotted ``deepdojo...`` name.
    LookupError
        Nothing by that name exists in this build (its module, or an attribute, is missing),
        or its module fails to import.
    """
    if not isinstance(name, str) or not re.fullmatch(r"deepdojo(\.[A-Za-z_]\w*)+", name):
        raise ValueError(f"API name must be a dotted deepdojo name, got {name!r}")
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            obj: Any = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name is None or (module_name + ".").startswith(err.name + "."):
                continue  # no module by this name: try a shorter prefix
            raise LookupError(f"{name}: {module_name} fails to import ({err})") from err
        except Exception as err:  # the module exists but is broken: not available either
            raise LookupError(f"{name}: {module_name} fails to import ({err!r})") from err
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                raise LookupError(f"{name}: {'.'.join(parts[:cut])} has no attribute {attr!r}")
            obj = getattr(obj, attr)
        return obj
    raise LookupError(f"{name}: no such module")  # pragma: no cover  (deepdojo itself imports)


def api_status(name: str) -> LinkStatus:
    """``"available"`` if ``name`` resolves now, ``"coming"`` if it does not but lies under a
    :data:`PLANNED` module, else ``"missing"`` (a broken link)."""
    try:
        resolve_api(name)
    except LookupError:
        planned = any(name == p or name.startswith(p + ".") for p in PLANNED)
        return "coming" if planned else "missing"
    return "available"


def stale_planned() -> list[str]:
    """The :data:`PLANNED` modules that resolve already and should be struck from it."""
    stale = []
    for module in sorted(PLANNED):
        try:
            resolve_api(module)
        except LookupError:
            continue
        stale.append(module)
    return stale


@dataclass(frozen=True)
class ApiLink:
    """One "In deepdojo" link: the dotted ``name`` and its ``status`` at the time it was read."""

    name: str
    status: LinkStatus

    @property
    def available(self) -> bool:
        """Whether the name resolves in this build."""
        return self.status == "available"


@dataclass(frozen=True)
class Question:
    """One interview question with the project's own short answer.

    Attributes
    ----------
    id : str
        Stable id ``"Q01"`` .. ``"Q20"``.
    title : str
        A two-to-four word topic label (``"Weight initialization"``).
    question : str
        The question, in our wording.
    answer : str
        A short answer in plain words (4-8 sentences) a learner could give in an interview.
    key_points : tuple of str
        Three to six points worth remembering.
    api : tuple of str
        Dotted names of the public deepdojo API that implements the topic
        (``"deepdojo.nn.init.initialize"``); :attr:`links` gives each one's status.
    references : tuple of str
        The sources behind the answer, one string each, as ``"Authors (year). Title. Venue."``
        optionally followed by a URL; the site lists them under the answer.
    """

    id: str
    title: str
    question: str
    answer: str
    key_points: tuple[str, ...]
    api: tuple[str, ...]
    references: tuple[str, ...]

    @property
    def links(self) -> tuple[ApiLink, ...]:
        """The :attr:`api` names with their status now (see :func:`api_status`)."""
        return tuple(ApiLink(name, api_status(name)) for name in self.api)


def normalize_qid(qid: str) -> str:
    """Turn ``"q9"``, ``"9"``, ``"Q09"`` into ``"Q09"``; anything else is a ValueError."""
    match = _QID_RE.match(str(qid).strip())
    if match is None or not 1 <= int(match.group(1)) <= 20:
        raise ValueError(f"question id must be Q01..Q20, got {qid!r}")
    return f"Q{int(match.group(1)):02d}"


def _build() -> dict[str, Question]:
    from deepdojo.answers._q01_q05 import ENTRIES as q01_q05
    from deepdojo.answers._q06_q10 import ENTRIES as q06_q10
    from deepdojo.answers._q11_q15 import ENTRIES as q11_q15
    from deepdojo.answers._q16_q20 import ENTRIES as q16_q20

    questions = {q.id: q for q in (*q01_q05, *q06_q10, *q11_q15, *q16_q20)}
    expected = [f"Q{i:02d}" for i in range(1, 21)]
    if sorted(questions) != expected:  # a broken bank should fail at import, not in a page
        raise RuntimeError(f"question bank must hold exactly {expected}, has {sorted(questions)}")
    return questions


QUESTIONS: dict[str, Question] = _build()


def get_question(qid: str) -> Question:
    """Return the question ``qid`` (``"Q09"``; ``"q9"`` and ``"9"`` are accepted too).

    Raises
    ------
    ValueError
        If ``qid`` is not one of Q01..Q20.
    """
    return QUESTIONS[normalize_qid(qid)]
