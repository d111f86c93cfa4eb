"""Loaders for real on-disk formats: MNIST IDX, CIFAR-10 binary batches and CSV.

They read a path the user gives (nothing is downloaded). A missing file raises
``FileNotFoundError``; malformed content raises :class:`DataFormatError`, a ``ValueError``
whose one-line message starts with the file's path and says what was wrong.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import os
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

PathLike = str | os.PathLike[str]

_GZIP_MAGIC = b"\x1f\x8b"

# IDX type codes (http://yann.lecun.com/exdb/mnist/): data is big-endian.
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_CIFAR_ROW = 1 + 3 * 32 * 32  # one label byte, then 1024 R, 1024 G, 1024 B bytes


class DataFormatError(ValueError):
    """A data file exists but its content does not match the expected format."""


def _read_bytes(path: PathLike) -> tuple[Path, bytes]:
    """Read a file, gunzipping it when it starts with the gzip magic bytes (not by extension)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if not path.is_file():
        raise DataFormatError(f"{path}: not a regular file")
    raw = path.read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise DataFormatError(f"{path}: corrupt gzip stream ({err})") from err
    return path, raw


def read_idx(path: PathLike) -> np.ndarray:
    """Read an IDX file (the MNIST / Fashion-MNIST format), raw or gzip-compressed.

    Layout: two zero bytes, a type code (``0x08`` uint8, ``0x09`` int8, ``0x0B`` int16,
    ``0x0C`` int32, ``0x0D`` float32, ``0x0E`` float64), the number of dimensions ``D``,
    then ``D`` big-endian uint32 sizes, then ``prod(sizes)`` big-endian values.

    Returns
    -------
    numpy.ndarray
        Native byte order, shape ``(d_1, ..., d_D)``; e.g. ``(N, 28, 28)`` uint8 for MNIST
        images, ``(N,)`` uint8 for labels.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    DataFormatError
        Bad magic number, unknown type code, truncated header or a data size that does not
        match the header.
    """
    path, raw = _read_bytes(path)
    if len(raw) < 4:
        raise DataFormatError(f"{path}: too short for an IDX header ({len(raw)} bytes)")
    if raw[0] != 0 or raw[1] != 0:
        raise DataFormatError(
            f"{path}: bad IDX magic number 0x{raw[:4].hex()} (must start with two zero bytes)"
        )
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise DataFormatError(f"{path}: unknown IDX type code 0x{code:02x}")
    if ndim == 0:
        raise DataFormatError(f"{path}: IDX header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataFormatError(
            f"{path}: truncated IDX header: {ndim} dimensions need {header} bytes, "
            f"file has {len(raw)}"
        )
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[code]
    expected = math.prod(shape) * dtype.itemsize
    found = len(raw) - header
    if found != expected:
        what = "truncated" if found < expected else "trailing bytes"
        raise DataFormatError(
            f"{path}: {what}: header shape {shape} of {dtype.name} needs {expected} data "
            f"bytes, found {found}"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))  # a native-order, writable copy


def load_mnist_idx(
    images_path: PathLike, labels_path: PathLike
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load an MNIST-style image/label pair of IDX files (raw or ``.gz``).

    Returns
    -------
    X : torch.Tensor
        float32 of shape ``(N, 1, H, W)`` with pixels ``x / 255`` in ``[0, 1]``.
    y : torch.Tensor
        int64 of shape ``(N,)``.

    Raises
    ------
    DataFormatError
        Images not 3-D uint8, labels not 1-D uint8, or different sample counts.
    """
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataFormatError(
            f"{images_path}: expected uint8 images of shape (N, H, W), "
            f"got {images.dtype} with shape {images.shape}"
        )
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise DataFormatError(
            f"{labels_path}: expected uint8 labels of shape (N,), "
            f"got {labels.dtype} with shape {labels.shape}"
        )
    if len(images) != len(labels):
        raise DataFormatError(
            f"{labels_path}: {len(labels)} labels for {len(images)} images in {images_path}"
        )
    X = torch.from_numpy(images).float().div(255.0).unsqueeze(1)  # (N, 1, H, W)
    y = torch.from_numpy(labels).long()  # (N,)
    return X, y


def load_cifar10_batch(path: PathLike) -> tuple[torch.Tensor, torch.Tensor]:
    """Load one CIFAR-10 binary batch (``data_batch_1.bin`` ... ``test_batch.bin``).

    Each record is 3,073 bytes: a label byte in ``0..9``, then the 32x32 image as 1,024 red,
    1,024 green and 1,024 blue bytes, rows in order.

    Returns
    -------
    X : torch.Tensor
        float32 of shape ``(N, 3, 32, 32)``, pixels ``x / 255`` in ``[0, 1]``.
    y : torch.Tensor
        int64 of shape ``(N,)`` in ``0..9``.

    Raises
    ------
    DataFormatError
        Empty file, a size that is not a multiple of 3,073 bytes, or a label above 9.
    """
    path, raw = _read_bytes(path)
    if len(raw) == 0 or len(raw) % _CIFAR_ROW:
        raise DataFormatError(
            f"{path}: size {len(raw)} bytes is not a positive multiple of the "
            f"{_CIFAR_ROW}-byte CIFAR-10 record (1 label + 3072 pixels)"
        )
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(-1, _CIFAR_ROW)  # (N, 3073)
    labels = rows[:, 0]  # (N,)
    bad = np.flatnonzero(labels > 9)
    if bad.size:
        raise DataFormatError(
            f"{path}: record {int(bad[0])} has label {int(labels[bad[0]])}, expected 0..9"
        )
    X = torch.from_numpy(rows[:, 1:].reshape(-1, 3, 32, 32).copy())  # (N, 3, 32, 32)
    y = torch.from_numpy(labels.astype(np.int64))  # (N,)
    return X.float().div(255.0), y


def _parse_float(value: str, path: Path, line: int, column: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise DataFormatError(
            f"{path}, line {line}, column {column!r}: {value!r} is not a finite number"
        )
    return number


def _csv_header(reader: Iterator[list[str]], path: Path, target: str) -> list[str]:
    header = next(reader, None)
    if header is None:
        raise DataFormatError(f"{path}: empty file, expected a header row")
    header = [name.strip() for name in header]
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise DataFormatError(f"{path}: duplicate column names in header: {duplicates}")
    if target not in header:
        raise DataFormatError(f"{path}: no target column {target!r}; columns are {header}")
    if len(header) < 2:
        raise DataFormatError(f"{path}: only the target column {target!r}, no feature columns")
    return header


def load_csv(path: PathLike, *, target: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Load a numeric CSV file with a header row; ``target`` names the label column.

    Every other column is a feature, in header order. Blank lines are skipped. Every value
    must parse as a finite number.

    Returns
    -------
    X : torch.Tensor
        float32 of shape ``(N, F)``, ``F`` = number of columns minus one.
    y : torch.Tensor
        int64 of shape ``(N,)`` when every target value is a whole number (class labels),
        float32 otherwise.

    Raises
    ------
    DataFormatError
        Empty file, missing target column, a row with the wrong number of fields, a value
        that is not a finite number (the message names file, line and column), or no rows.
    """
    path, raw = _read_bytes(path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataFormatError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from err
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = _csv_header(reader, path, target)
        target_ix = header.index(target)
        rows: list[list[float]] = []
        for fields in reader:
            if not fields:
                continue  # a blank line
            line = reader.line_num
            if len(fields) != len(header):
                raise DataFormatError(
                    f"{path}, line {line}: {len(fields)} fields, header has {len(header)}"
                )
            pairs = zip(fields, header, strict=True)
            rows.append([_parse_float(value, path, line, column) for value, column in pairs])
    except csv.Error as err:
        raise DataFormatError(f"{path}, line {reader.line_num}: malformed CSV ({err})") from err
    if not rows:
        raise DataFormatError(f"{path}: header only, no data rows")
    table = np.asarray(rows, dtype=np.float64)  # (N, F + 1)
    targets = table[:, target_ix]  # (N,)
    X = torch.from_numpy(np.delete(table, target_ix, axis=1).astype(np.float32))  # (N, F)
    whole = bool(np.all(targets == np.round(targets)))
    y = torch.from_numpy(targets.astype(np.int64 if whole else np.float32))  # (N,)
    return X, y
