"""Seeded synthetic sequence tasks: date normalisation, reversal, copying, the adding problem.

Every generator takes a ``seed`` and returns the same data for the same arguments. The
token tasks return a :class:`SequenceTask` (padded id tensors plus the vocabularies); the
adding problem returns float tensors ``(X, y)``.

>>> task = date_normalization(4, seed=0, min_length=30)
>>> task.src.shape[0], task.tgt_vocab.decode(task.tgt[0].tolist()) == task.pairs[0][1]
(4, True)
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = [
    "SequenceTask",
    "Vocab",
    "adding_problem",
    "copying",
    "date_normalization",
    "delayed_recall",
    "reversal",
]

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)


class Vocab:
    """A token <-> id map with ``<pad>`` = 0, ``<bos>`` = 1, ``<eos>`` = 2, ``<unk>`` = 3.

    Tokens are single characters when texts are strings, or the items of a token list.

    Parameters
    ----------
    tokens : iterable of str
        The non-special tokens; duplicates are dropped and the order kept.

    >>> v = Vocab("abc")
    >>> v.encode("cab"), v.decode([1, 5, 3, 6, 2, 0])
    ([6, 4, 5], 'b?c')
    """

    pad_idx, bos_idx, eos_idx, unk_idx = 0, 1, 2, 3

    def __init__(self, tokens: Iterable[str]) -> None:
        self.itos: list[str] = list(SPECIALS) + [t for t in dict.fromkeys(tokens)
                                                 if t not in SPECIALS]
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}

    @classmethod
    def from_texts(cls, texts: Iterable[str | Sequence[str]]) -> Vocab:
        """All tokens that occur in ``texts``, sorted."""
        return cls(sorted({tok for text in texts for tok in text}))

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str | Sequence[str], *, bos: bool = False, eos: bool = False
               ) -> list[int]:
        """Token ids of ``text`` (unknown tokens -> ``<unk>``), optionally framed by BOS/EOS."""
        ids = [self.stoi.get(tok, self.unk_idx) for tok in text]
        return [self.bos_idx] * bos + ids + [self.eos_idx] * eos

    def decode(self, ids: Iterable[int], *, join: str = "") -> str:
        """Text of ``ids``: stops at EOS, skips PAD and BOS, shows unknown ids as ``?``."""
        out = []
        for i in ids:
            i = int(i)
            if i == self.eos_idx:
                break
            if i in (self.pad_idx, self.bos_idx):
                continue
            out.append(self.itos[i] if 0 <= i < len(self.itos) and i != self.unk_idx else "?")
        return join.join(out)

    def encode_batch(self, texts: Sequence[str | Sequence[str]], *, bos: bool = False,
                     eos: bool = False) -> tuple[Tensor, Tensor]:
        """Padded ids (N, T_max) and lengths (N,) of ``texts``."""
        seqs = [self.encode(t, bos=bos, eos=eos) for t in texts]
        lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)
        ids = torch.full((len(seqs), int(lengths.max()) if seqs else 0), self.pad_idx)
        for row, s in enumerate(seqs):
            ids[row, : len(s)] = torch.tensor(s, dtype=torch.long)
        return ids, lengths


@dataclass
class SequenceTask:
    """A seq2seq data set: padded source ids, framed target ids and both vocabularies.

    Attributes
    ----------
    src : Tensor (N, Ts) long, padded with ``<pad>`` = 0
    src_lengths : Tensor (N,) long
    tgt : Tensor (N, Tt) long, ``<bos> y_1 ... y_m <eos> <pad>...``; the decoder reads
        ``tgt[:, :-1]`` and predicts ``tgt[:, 1:]``
    src_vocab, tgt_vocab : Vocab
    pairs : list of (source text, target text)
    """

    src: Tensor
    src_lengths: Tensor
    tgt: Tensor
    src_vocab: Vocab
    tgt_vocab: Vocab
    pairs: list[tuple[str, str]]

    def __len__(self) -> int:
        return self.src.shape[0]

    def subset(self, index: Sequence[int] | Tensor) -> SequenceTask:
        """The examples at ``index`` (same vocabularies)."""
        idx = torch.as_tensor(index, dtype=torch.long)
        return SequenceTask(self.src[idx], self.src_lengths[idx], self.tgt[idx],
                            self.src_vocab, self.tgt_vocab, [self.pairs[i] for i in idx.tolist()])


def _task(pairs: list[tuple[str, str]], src_vocab: Vocab, tgt_vocab: Vocab) -> SequenceTask:
    src, src_lengths = src_vocab.encode_batch([p[0] for p in pairs])
    tgt, _ = tgt_vocab.encode_batch([p[1] for p in pairs], bos=True, eos=True)
    return SequenceTask(src, src_lengths, tgt, src_vocab, tgt_vocab, pairs)


def _check_count(name: str, value: int, minimum: int = 1) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


# ---------------------------------------------------------------- date normalisation

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# filler words hold no digits, month or weekday names, so the date stays recoverable
FILLER = ("please", "note", "that", "the", "meeting", "is", "set", "for", "deadline", "due",
          "kindly", "remember", "our", "event", "happens", "on", "final", "report", "we",
          "agreed", "about", "this", "letter", "was", "signed", "and", "filed", "today", "ok")
SRC_ALPHABET = "".join(sorted(set("".join(MONTHS + WEEKDAYS + FILLER) + "0123456789 ,./-'"
                                  + "stndrdth")))
TGT_ALPHABET = "0123456789-"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


DATE_FORMATS: dict[str, Callable[[dt.date], str]] = {
    "iso": lambda d: d.isoformat(),
    "day month year": lambda d: f"{d.day} {MONTHS[d.month - 1]} {d.year}",
    "month day, year": lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year}",
    "mon dd yyyy": lambda d: f"{MONTHS[d.month - 1][:3]} {d.day:02d} {d.year}",
    "us slashes": lambda d: f"{d.month:02d}/{d.day:02d}/{d.year}",
    "eu dots": lambda d: f"{d.day}.{d.month}.{d.year}",
    "ordinal": lambda d: f"the {_ordinal(d.day)} of {MONTHS[d.month - 1]} {d.year}",
    "weekday": lambda d: f"{WEEKDAYS[d.weekday()]}, {MONTHS[d.month - 1]} {d.day}, {d.year}",
    "short year": lambda d: f"{d.day} {MONTHS[d.month - 1][:3]} '{d.year % 100:02d}",
    "weekday short": lambda d: f"{WEEKDAYS[d.weekday()][:3]} {d.month:02d}/{d.day:02d}/{d.year}",
}


def _pad_with_filler(text: str, min_length: int, rng: random.Random) -> str:
    """Surround ``text`` with random filler words until it has at least ``min_length`` chars."""
    before: list[str] = []
    after: list[str] = []
    while len(" ".join([*before, text, *after])) < min_length:
        (before if rng.random() < 0.5 else after).append(rng.choice(FILLER))
    return " ".join([*before, text, *after])


def date_normalization(
    num_samples: int,
    *,
    seed: int = 0,
    min_length: int = 0,
    formats: Sequence[str] | None = None,
    start_year: int = 1950,
    end_year: int = 2049,
) -> SequenceTask:
    """Human-written dates -> ISO 8601 (``"3 May 2021"`` -> ``"2021-05-03"``), char level.

    Parameters
    ----------
    num_samples : int
    seed : int
    min_length : int
        Each source is surrounded by random filler words until it has at least this many
        characters (the date's position varies), which controls the input length.
    formats : sequence of str, optional
        Names from ``DATE_FORMATS`` (default: all). Two-digit years mean 1950-2049; slashes
        are always month/day/year and dots day.month.year, so no source is ambiguous.
    start_year, end_year : int
        Inclusive range of the dates drawn uniformly.

    Returns
    -------
    SequenceTask
        Source vocabulary is fixed (``SRC_ALPHABET``), so tasks of different lengths share it.
    """
    _check_count("num_samples", num_samples)
    _check_count("min_length", min_length, 0)
    names = list(DATE_FORMATS) if formats is None else list(formats)
    unknown = [n for n in names if n not in DATE_FORMATS]
    if unknown or not names:
        raise ValueError(f"formats must be names from {sorted(DATE_FORMATS)}, got {unknown}")
    if not 1950 <= start_year <= end_year <= 2049:
        raise ValueError(f"need 1950 <= start_year <= end_year <= 2049, got {start_year}, "
                         f"{end_year}")
    rng = random.Random(seed)
    first = dt.date(start_year, 1, 1).toordinal()
    last = dt.date(end_year, 12, 31).toordinal()
    pairs = []
    for _ in range(num_samples):
        day = dt.date.fromordinal(rng.randint(first, last))
        text = DATE_FORMATS[rng.choice(names)](day)
        pairs.append((_pad_with_filler(text, min_length, rng), day.isoformat()))
    return _task(pairs, Vocab(SRC_ALPHABET), Vocab(TGT_ALPHABET))


# ---------------------------------------------------------------- reversal and copying


def _symbol_pairs(num_samples: int, min_length: int, max_length: int, num_symbols: int,
                  seed: int, transform: Callable[[str], str]) -> SequenceTask:
    _check_count("num_samples", num_samples)
    _check_count("min_length", min_length)
    if max_length < min_length:
        raise ValueError(f"max_length ({max_length}) must be >= min_length ({min_length})")
    if not 2 <= num_symbols <= 26:
        raise ValueError(f"num_symbols must be in [2, 26], got {num_symbols}")
    symbols = "abcdefghijklmnopqrstuvwxyz"[:num_symbols]
    rng = random.Random(seed)
    pairs = []
    for _ in range(num_samples):
        s = "".join(rng.choice(symbols) for _ in range(rng.randint(min_length, max_length)))
        pairs.append((s, transform(s)))
    vocab = Vocab(symbols)
    return _task(pairs, vocab, vocab)


def reversal(num_samples: int, *, min_length: int = 3, max_length: int = 10,
             num_symbols: int = 10, seed: int = 0) -> SequenceTask:
    """Random strings over ``num_symbols`` letters -> the same string reversed."""
    return _symbol_pairs(num_samples, min_length, max_length, num_symbols, seed,
                         lambda s: s[::-1])


def copying(num_samples: int, *, min_length: int = 3, max_length: int = 10,
            num_symbols: int = 10, seed: int = 0) -> SequenceTask:
    """Random strings over ``num_symbols`` letters -> the same string."""
    return _symbol_pairs(num_samples, min_length, max_length, num_symbols, seed, lambda s: s)


# ---------------------------------------------------------------- the adding problem


def adding_problem(num_samples: int, length: int, *, seed: int = 0) -> tuple[Tensor, Tensor]:
    """The adding problem (Hochreiter & Schmidhuber, 1997): a long-range dependency.

    Each input step carries a value ``u_t ~ U(0, 1)`` and a marker ``m_t``; exactly two
    markers are 1, one in each half of the sequence. The target is the sum of the two
    marked values, so the first one must be remembered across about ``length / 2`` steps.
    Predicting 1.0 always gives MSE ~ 0.167.

    Returns
    -------
    X : Tensor (N, length, 2) float32, channels ``[u, m]``
    y : Tensor (N,) float32
    """
    _check_count("num_samples", num_samples)
    _check_count("length", length, 2)
    g = torch.Generator().manual_seed(seed)
    values = torch.rand(num_samples, length, generator=g)  # (N, T)
    half = length // 2
    first = torch.randint(0, half, (num_samples,), generator=g)  # (N,)
    second = torch.randint(half, length, (num_samples,), generator=g)  # (N,)
    markers = torch.zeros(num_samples, length)
    rows = torch.arange(num_samples)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    X = torch.stack([values, markers], dim=-1)  # (N, T, 2)
    y = (values * markers).sum(dim=1)  # (N,)
    return X, y


def delayed_recall(num_samples: int, length: int, *, num_symbols: int = 4, seed: int = 0
                   ) -> tuple[Tensor, Tensor]:
    """Remember the first symbol across ``length - 1`` distractors (a long-range dependency).

    Step 0 shows one of ``num_symbols`` symbols (one-hot); steps 1..T-2 show random
    distractor symbols; the last step shows a query marker (the extra channel). The target
    is the symbol of step 0, so chance accuracy is ``1 / num_symbols``.

    Returns
    -------
    X : Tensor (N, length, num_symbols + 1) float32 one-hot
    y : Tensor (N,) int64 in [0, num_symbols)
    """
    _check_count("num_samples", num_samples)
    _check_count("length", length, 2)
    if not num_symbols >= 2:
        raise ValueError(f"num_symbols must be >= 2, got {num_symbols}")
    g = torch.Generator().manual_seed(seed)
    symbols = torch.randint(0, num_symbols, (num_samples, length), generator=g)  # (N, T)
    symbols[:, -1] = num_symbols  # the query marker
    X = torch.nn.functional.one_hot(symbols, num_symbols + 1).float()  # (N, T, K+1)
    return X, symbols[:, 0].clone()
