"""Synthetic sequence tasks: determinism, correctness of targets, length control, vocab."""

import datetime as dt

import pytest
import torch

from deepdojo.data.sequences import (
    DATE_FORMATS,
    MONTHS,
    Vocab,
    adding_problem,
    copying,
    date_normalization,
    reversal,
)


def test_vocab_round_trip_and_specials():
    v = Vocab.from_texts(["hello", "world"])
    assert v.itos[:4] == ["<pad>", "<bos>", "<eos>", "<unk>"]
    ids = v.encode("hold", bos=True, eos=True)
    assert ids[0] == v.bos_idx and ids[-1] == v.eos_idx
    assert v.decode(ids + [v.pad_idx]) == "hold"
    assert v.encode("z") == [v.unk_idx]
    batch, lengths = v.encode_batch(["he", "world"])
    assert batch.shape == (2, 5) and lengths.tolist() == [2, 5]
    assert batch[0, 2:].eq(v.pad_idx).all()


def test_dates_are_correct_iso_and_deterministic():
    a = date_normalization(200, seed=3)
    b = date_normalization(200, seed=3)
    assert a.pairs == b.pairs and torch.equal(a.src, b.src)
    assert a.pairs != date_normalization(200, seed=4).pairs
    for src, iso in a.pairs:
        d = dt.date.fromisoformat(iso)
        assert 1950 <= d.year <= 2049
        # the source names the day's number and the year (or its last two digits)
        assert str(d.day) in src and str(d.year % 100).zfill(2) in src
    assert {a.tgt_vocab.decode(row.tolist()) for row in a.tgt} == {p[1] for p in a.pairs}
    assert all(a.src_vocab.unk_idx not in row.tolist() for row in a.src)


@pytest.mark.parametrize("fmt", sorted(DATE_FORMATS))
def test_each_format_renders_a_known_date(fmt):
    text = DATE_FORMATS[fmt](dt.date(2021, 5, 3))
    assert "3" in text and ("21" in text)
    if fmt in ("day month year", "month day, year", "ordinal", "weekday"):
        assert MONTHS[4] in text
    if fmt == "weekday":
        assert text.startswith("Monday")


def test_min_length_controls_input_length():
    short = date_normalization(50, seed=0)
    long = date_normalization(50, seed=0, min_length=60)
    assert long.src_lengths.min() >= 60
    assert long.src_lengths.float().mean() > short.src_lengths.float().mean() + 20
    assert long.src_vocab.itos == short.src_vocab.itos  # shared vocabulary across lengths
    with pytest.raises(ValueError, match="formats"):
        date_normalization(5, formats=["klingon"])


def test_reversal_and_copying_targets():
    rev = reversal(30, min_length=2, max_length=6, seed=1)
    for src, tgt in rev.pairs:
        assert tgt == src[::-1] and 2 <= len(src) <= 6
    cop = copying(30, seed=1)
    assert all(s == t for s, t in cop.pairs)
    assert rev.tgt[:, 0].eq(rev.tgt_vocab.bos_idx).all()
    sub = rev.subset([0, 2])
    assert len(sub) == 2 and sub.pairs == [rev.pairs[0], rev.pairs[2]]
    with pytest.raises(ValueError, match="max_length"):
        reversal(3, min_length=5, max_length=2)


def test_adding_problem_has_two_markers_and_correct_sums():
    X, y = adding_problem(100, 20, seed=0)
    assert X.shape == (100, 20, 2) and y.shape == (100,)
    markers = X[..., 1]
    assert markers.sum(1).eq(2).all()
    assert markers[:, :10].sum(1).eq(1).all()  # one marker in each half
    torch.testing.assert_close(y, (X[..., 0] * markers).sum(1))
    X2, _ = adding_problem(100, 20, seed=0)
    assert torch.equal(X, X2)
    with pytest.raises(ValueError, match="length"):
        adding_problem(5, 1)


def test_slash_formats_are_month_first():
    d = dt.date(2021, 5, 13)
    assert "05/13/2021" in DATE_FORMATS["us slashes"](d)
    assert "05/13/2021" in DATE_FORMATS["weekday short"](d)
    assert DATE_FORMATS["eu dots"](d) == "13.5.2021"


def test_delayed_recall_target_is_the_first_symbol():
    from deepdojo.data.sequences import delayed_recall

    X, y = delayed_recall(50, 12, num_symbols=3, seed=0)
    assert X.shape == (50, 12, 4) and y.shape == (50,)
    assert torch.equal(X[:, 0].argmax(-1), y)
    assert X[:, -1, 3].eq(1).all() and X[:, :-1, 3].eq(0).all()
    assert X.sum(-1).eq(1).all()
    assert len(set(y.tolist())) == 3
