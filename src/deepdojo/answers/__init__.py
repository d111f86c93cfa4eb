"""The question bank: Q01..Q20 in the project's own words, with short answers, references and
API links, plus Q11's framework landscape as data.

>>> from deepdojo.answers import get_question
>>> get_question("Q09").title
'Initialization methods'
>>> get_question("Q09").links[0].status
'available'

Which labs answer a question is read from the lab registry at report time
(``deepdojo.labs.LABS[name].questions``), never stored here.
"""

from deepdojo.answers.bank import (
    PLANNED,
    QUESTIONS,
    ApiLink,
    Question,
    api_status,
    get_question,
    normalize_qid,
    resolve_api,
)
from deepdojo.answers.frameworks import FRAMEWORKS, Framework, get_framework

__all__ = [
    "FRAMEWORKS",
    "PLANNED",
    "QUESTIONS",
    "ApiLink",
    "Framework",
    "Question",
    "api_status",
    "get_framework",
    "get_question",
    "normalize_qid",
    "resolve_api",
]
