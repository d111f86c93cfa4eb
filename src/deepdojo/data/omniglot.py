"""Omniglot in its published layout, its 20 one-shot runs, and class-per-subfolder images.

Nothing is downloaded: every loader reads a folder the user gives.

- :func:`load_omniglot` reads ``images_background/`` or ``images_evaluation/`` (Lake et al.
  2015): ``<alphabet>/<character>/<drawing>.png``, 105 x 105 black ink on white. Images are
  resized to ``size x size`` and inverted so that ink = 1, as in the literature (Vinyals et
  al. 2016; Snell et al. 2017); rotations by 90, 180 and 270 degrees are new classes by
  default (label ``4 * character + k`` for a rotation by ``90 k`` degrees).
- :func:`load_runs` reads the 20-way one-shot runs of Lake et al. / Koch et al.
  (``all_runs/run01..run20``): ``training/class01..20.png`` (one drawing of each of 20
  characters of one alphabet), ``test/item01..20.png`` and ``class_labels.txt`` whose lines
  pair a test item with its training class, as paths relative to the runs folder
  (``run01/test/item01.png run01/training/class08.png``).
- :func:`load_image_folder` reads ``<class>/<image>`` folders of any images (your own data).

A missing or malformed folder raises a one-line ``ValueError`` that names the path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["ImageClasses", "OneShotRun", "load_image_folder", "load_omniglot", "load_runs"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


@dataclass(frozen=True)
class ImageClasses:
    """Labelled images with class names and a group (alphabet) per class.

    Attributes
    ----------
    X : np.ndarray, shape (n, C, size, size), float32 in [0, 1]
        Images, ink = 1 for Omniglot.
    y : np.ndarray, shape (n,), int64
        Class labels ``0..num_classes-1``.
    class_names : list of str
        Name of each class (``alphabet/character`` plus ``/rot90`` etc. for rotations).
    groups : np.ndarray, shape (num_classes,), int64
        Group of each class (the alphabet for Omniglot; all 0 for a plain folder), for
        within-alphabet episodes.
    """

    X: np.ndarray
    y: np.ndarray
    class_names: list[str]
    groups: np.ndarray

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


@dataclass(frozen=True)
class OneShotRun:
    """One fixed N-way one-shot run.

    ``support`` ``(N, 1, size, size)`` (one image per class, labels ``support_labels``
    ``0..N-1`` in file order), ``query`` ``(M, 1, size, size)`` with ``query_labels``
    ``(M,)``.
    """

    name: str
    support: np.ndarray
    support_labels: np.ndarray
    query: np.ndarray
    query_labels: np.ndarray


def _folder(path: str | Path, what: str) -> Path:
    root = Path(path)
    if not root.is_dir():
        raise ValueError(f"{what} folder {str(root)!r} does not exist or is not a folder")
    return root


def _subfolders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def read_image(path: Path, size: int, *, invert: bool, channels: int = 1) -> np.ndarray:
    """One image as ``(channels, size, size)`` float32 in [0, 1]; inverted if asked."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img = img.convert("L" if channels == 1 else "RGB")
            img = img.resize((size, size), Image.Resampling.LANCZOS)
            arr = np.asarray(img, dtype=np.float32) / 255.0
    except (OSError, UnidentifiedImageError) as exc:
        raise ValueError(f"cannot read image {str(path)!r}: {exc}") from None
    arr = np.clip(arr, 0.0, 1.0)
    arr = 1.0 - arr if invert else arr
    return arr[None] if channels == 1 else arr.transpose(2, 0, 1)


def _check_size(size: int) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or size < 4:
        raise ValueError(f"size must be an int >= 4, got {size!r}")
    return size


def load_omniglot(path: str | Path, *, size: int = 28, rotations: bool = True) -> ImageClasses:
    """Read an Omniglot split folder (``images_background`` or ``images_evaluation``).

    Parameters
    ----------
    path : path
        The folder holding ``<alphabet>/<character>/<drawing>.png``.
    size : int
        Side of the resized images (28 in the literature).
    rotations : bool
        Add the 90/180/270-degree rotations of every character as new classes (4x classes).

    Returns
    -------
    ImageClasses
        ``X`` ``(n, 1, size, size)`` with ink = 1; ``groups`` the alphabet of each class.
    """
    root, size = _folder(path, "omniglot"), _check_size(size)
    alphabets = _subfolders(root)
    if not alphabets:
        raise ValueError(f"omniglot folder {str(root)!r} has no <alphabet>/ subfolders")
    images, labels, names, groups = [], [], [], []
    n_rot = 4 if rotations else 1
    for a, alphabet in enumerate(alphabets):
        characters = _subfolders(alphabet)
        if not characters:
            raise ValueError(f"omniglot alphabet {str(alphabet)!r} has no <character>/ folders")
        for character in characters:
            files = _images(character)
            if not files:
                raise ValueError(f"omniglot character folder {str(character)!r} has no images")
            drawings = np.stack([read_image(f, size, invert=True) for f in files])  # (d, 1, s, s)
            for k in range(n_rot):
                images.append(np.rot90(drawings, k, axes=(2, 3)))
                labels.append(np.full(len(files), len(names), dtype=np.int64))
                names.append(f"{alphabet.name}/{character.name}" + (f"/rot{90 * k}" if k else ""))
                groups.append(a)
    X = np.ascontiguousarray(np.concatenate(images), dtype=np.float32)
    return ImageClasses(X, np.concatenate(labels), names, np.asarray(groups, dtype=np.int64))


def _run_labels(run: Path) -> list[tuple[str, str]]:
    labels_file = run / "class_labels.txt"
    if not labels_file.is_file():
        raise ValueError(f"one-shot run {str(run)!r} has no class_labels.txt")
    pairs = []
    for number, line in enumerate(labels_file.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2:
            raise ValueError(f"{str(labels_file)!r} line {number}: expected "
                             f"'<test image> <training image>', got {line.strip()!r}")  # fmt: skip
        pairs.append((parts[0], parts[1]))
    if not pairs:
        raise ValueError(f"{str(labels_file)!r} is empty")
    return pairs


def _resolve(root: Path, run: Path, relative: str) -> Path:
    """A path of class_labels.txt: relative to the runs folder, else to the run itself."""
    path = root / relative
    return path if path.exists() else run / relative


def _read_run(run: Path, root: Path, size: int) -> OneShotRun:
    training = run / "training"
    if not training.is_dir() or not _images(training):
        raise ValueError(f"one-shot run {str(run)!r} has no training/ images")
    classes = _images(training)
    index = {p.resolve(): i for i, p in enumerate(classes)}
    queries, query_labels = [], []
    for test_rel, train_rel in _run_labels(run):
        test_path, train_path = _resolve(root, run, test_rel), _resolve(root, run, train_rel)
        if train_path.resolve() not in index:
            raise ValueError(f"{str(run / 'class_labels.txt')!r}: {train_rel!r} is not an "
                             f"image in {str(training)!r}")  # fmt: skip
        if not test_path.is_file():
            raise ValueError(f"{str(run / 'class_labels.txt')!r}: test image "
                             f"{str(test_path)!r} does not exist")  # fmt: skip
        queries.append(read_image(test_path, size, invert=True))
        query_labels.append(index[train_path.resolve()])
    support = np.stack([read_image(p, size, invert=True) for p in classes])  # (N, 1, s, s)
    return OneShotRun(run.name, support, np.arange(len(classes), dtype=np.int64),
                      np.stack(queries), np.asarray(query_labels, dtype=np.int64))  # fmt: skip


def load_runs(path: str | Path, *, size: int = 28) -> list[OneShotRun]:
    """Read the fixed one-shot runs folder (``all_runs`` with ``run01``, ``run02``, ...).

    Returns one :class:`OneShotRun` per ``run*`` subfolder, sorted by name; images are
    resized to ``size`` and inverted (ink = 1).
    """
    root, size = _folder(path, "runs"), _check_size(size)
    runs = [p for p in _subfolders(root) if p.name.startswith("run")]
    if not runs:
        raise ValueError(f"runs folder {str(root)!r} has no run01, run02, ... subfolders")
    return [_read_run(run, root, size) for run in runs]


def load_image_folder(
    path: str | Path, *, size: int = 28, channels: int = 1, invert: bool | None = None
) -> ImageClasses:
    """Read class-per-subfolder images: ``<path>/<class>/<image>``.

    Parameters
    ----------
    path : path
        One subfolder per class, named after it, holding its images (png, jpg, bmp, gif).
    size : int
        Images are resized to ``size x size``.
    channels : {1, 3}
        Grayscale or RGB.
    invert : bool or None
        ``1 - pixel`` (dark ink on light paper becomes ink = 1); ``None``: invert when the
        mean pixel of the whole folder is above 0.5 (a light background).
    """
    root, size = _folder(path, "image"), _check_size(size)
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    classes = _subfolders(root)
    if not classes:
        raise ValueError(f"image folder {str(root)!r} has no class subfolders")
    images, labels = [], []
    for c, folder in enumerate(classes):
        files = _images(folder)
        if not files:
            raise ValueError(f"class folder {str(folder)!r} has no images")
        images += [read_image(f, size, invert=False, channels=channels) for f in files]
        labels += [c] * len(files)
    X = np.stack(images).astype(np.float32)
    if invert or (invert is None and float(X.mean()) > 0.5):
        X = 1.0 - X
    names = [p.name for p in classes]
    return ImageClasses(X, np.asarray(labels, dtype=np.int64), names,
                        np.zeros(len(names), dtype=np.int64))  # fmt: skip
