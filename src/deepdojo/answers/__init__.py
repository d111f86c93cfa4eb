"""The question bank: Q01..Q20 in the project's own words, with short answers and API links.

>>> from deepdojo.answers import get_question
>>> get_question("Q09").title
'Initialization methods'

Which labs answer a question is read from the lab registry at report time
(``deepdojo.labs.LABS[name].questions``), never stored here.
"""

from deepdojo.answers.bank import QUESTIONS, Question, get_question, normalize_qid

__all__ = ["QUESTIONS", "Question", "get_question", "normalize_qid"]
