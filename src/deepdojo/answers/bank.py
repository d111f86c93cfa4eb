"""The ``Question`` record and lookup by id.

The entries themselves live in :mod:`deepdojo.answers._q01_q10` and
:mod:`deepdojo.answers._q11_q20`. Which labs answer a question is *not* stored here: it comes
from the lab registry (``deepdojo.labs.LABS[name].questions``) at report time, so a new lab
shows up on its question's page without editing the bank.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_QID_RE = re.compile(r"^q?0*([0-9]{1,2})$", re.IGNORECASE)


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
        (``"deepdojo.nn.init.initialize"``).
    """

    id: str
    title: str
    question: str
    answer: str
    key_points: tuple[str, ...]
    api: tuple[str, ...]


def normalize_qid(qid: str) -> str:
    """Turn ``"q9"``, ``"9"``, ``"Q09"`` into ``"Q09"``; anything else is a ValueError."""
    match = _QID_RE.match(str(qid).strip())
    if match is None or not 1 <= int(match.group(1)) <= 20:
        raise ValueError(f"question id must be Q01..Q20, got {qid!r}")
    return f"Q{int(match.group(1)):02d}"


def _build() -> dict[str, Question]:
    from deepdojo.answers._q01_q10 import ENTRIES as first
    from deepdojo.answers._q11_q20 import ENTRIES as second

    questions = {q.id: q for q in (*first, *second)}
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
