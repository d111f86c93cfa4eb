"""The question bank: all twenty questions, complete entries, lookup and errors."""

from __future__ import annotations

import re

import pytest

from deepdojo.answers import QUESTIONS, Question, get_question, normalize_qid

IDS = [f"Q{i:02d}" for i in range(1, 21)]


def test_exactly_q01_to_q20_in_order():
    assert list(QUESTIONS) == IDS


@pytest.mark.parametrize("qid", IDS)
def test_entry_is_complete(qid):
    q = QUESTIONS[qid]
    assert isinstance(q, Question) and q.id == qid
    assert q.title.strip() and q.question.strip().endswith("?")
    sentences = re.findall(r"[a-z0-9)'\"][.!?](?:\s|$)", q.answer)
    assert 4 <= len(sentences) <= 9, f"{qid}: answer has {len(sentences)} sentences"
    assert 3 <= len(q.key_points) <= 6 and all(p.strip() for p in q.key_points)
    assert q.api and all(re.fullmatch(r"deepdojo(\.[A-Za-z_][A-Za-z0-9_]*)+", a) for a in q.api)
    assert len(set(q.api)) == len(q.api), f"{qid}: duplicate API link"


YEAR = re.compile(r"\((19|20)\d\d\)")


@pytest.mark.parametrize("qid", IDS)
def test_every_answer_has_author_year_title_venue_references(qid):
    refs = QUESTIONS[qid].references
    assert isinstance(refs, tuple) and 3 <= len(refs) <= 12, f"{qid}: {len(refs)} references"
    assert len(set(refs)) == len(refs), f"{qid}: duplicate reference"
    for ref in refs:
        year = YEAR.search(ref)
        assert year, f"{qid}: no (year) in {ref!r}"
        head, rest = ref[: year.start()], ref[year.end() :]
        assert head.strip(), f"{qid}: no author before the year in {ref!r}"
        assert rest.count(".") >= 2, f"{qid}: title and venue expected after the year: {ref!r}"
        url = re.search(r"https?://\S+", ref)
        assert url is None or ref.endswith(url.group(0)), f"{qid}: URL must come last: {ref!r}"


def test_questions_and_answers_are_distinct():
    assert len({q.question for q in QUESTIONS.values()}) == 20
    assert len({q.answer for q in QUESTIONS.values()}) == 20


def test_bank_does_not_hard_code_labs():
    for q in QUESTIONS.values():
        assert not hasattr(q, "labs")


@pytest.mark.parametrize("text", ["Q09", "q09", "q9", "9", " Q9 "])
def test_get_question_accepts_common_spellings(text):
    assert get_question(text) is QUESTIONS["Q09"]


@pytest.mark.parametrize("bad", ["Q00", "Q21", "Q", "X09", "", "Q1O", "100"])
def test_unknown_id_is_a_clear_value_error(bad):
    with pytest.raises(ValueError, match=r"Q01\.\.Q20"):
        get_question(bad)


def test_normalize_qid_pads():
    assert normalize_qid("q3") == "Q03"
    assert normalize_qid("20") == "Q20"
