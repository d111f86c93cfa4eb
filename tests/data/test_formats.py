"""Real-format loaders on tiny files written here: IDX (raw/gzip), CIFAR-10 batches, CSV."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch

from deepdojo.data import (
    DataFormatError,
    load_cifar10_batch,
    load_csv,
    load_mnist_idx,
    read_idx,
)

_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C}
_CODES.update({np.float32: 0x0D, np.float64: 0x0E})


def idx_bytes(arr: np.ndarray) -> bytes:
    """Encode ``arr`` in the IDX format, written independently of the loader."""
    header = bytes([0, 0, _CODES[arr.dtype.type], arr.ndim])
    header += struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def cifar_bytes(images: np.ndarray, labels: np.ndarray) -> bytes:
    """Records of 1 label byte + 3072 pixel bytes (R plane, G plane, B plane)."""
    return b"".join(bytes([int(lab)]) + img.tobytes() for img, lab in zip(images, labels))


@pytest.fixture
def mnist_pair(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 4, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, size=5, dtype=np.uint8)
    return images, labels


# ----------------------------------------------------------------------------- IDX


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trip(tmp_path, dtype, compress):
    arr = (np.arange(24).reshape(2, 3, 4) * 3 - 20).astype(dtype)
    data = idx_bytes(arr)
    path = tmp_path / "a.idx"  # gzip is detected by content, not by a .gz extension
    path.write_bytes(gzip.compress(data) if compress else data)
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    assert out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out, arr)


def test_load_mnist_idx_raw_and_gz(tmp_path, mnist_pair):
    images, labels = mnist_pair
    img_path, lab_path = tmp_path / "images-idx3-ubyte.gz", tmp_path / "labels-idx1-ubyte"
    img_path.write_bytes(gzip.compress(idx_bytes(images)))
    lab_path.write_bytes(idx_bytes(labels))
    X, y = load_mnist_idx(img_path, str(lab_path))
    assert X.shape == (5, 1, 4, 3) and X.dtype == torch.float32
    assert y.dtype == torch.int64 and y.tolist() == labels.tolist()
    expected = torch.tensor(images, dtype=torch.float32)[:, None] / 255.0
    assert torch.allclose(X, expected)
    assert X.max().item() <= 1.0 and X.min().item() >= 0.0


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda b: b"\x01" + b[1:], "bad IDX magic number 0x01"),
        (lambda b: b[:2] + b"\x07" + b[3:], "unknown IDX type code 0x07"),
        (lambda b: b[:3] + b"\x00", "0 dimensions"),
        (lambda b: b[:3], "too short for an IDX header"),
        (lambda b: b[:9], "truncated IDX header"),
        (lambda b: b[:-1], "truncated: header shape \\(5, 4, 3\\).*needs 60 data bytes, found 59"),
        (lambda b: b + b"\x00", "trailing bytes"),
    ],
)
def test_read_idx_malformed(tmp_path, mnist_pair, mutate, match):
    path = tmp_path / "bad.idx"
    path.write_bytes(mutate(idx_bytes(mnist_pair[0])))
    with pytest.raises(DataFormatError, match=match) as info:
        read_idx(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message


def test_read_idx_corrupt_gzip(tmp_path, mnist_pair):
    path = tmp_path / "bad.gz"
    path.write_bytes(gzip.compress(idx_bytes(mnist_pair[0]))[:-12])  # cut the stream short
    with pytest.raises(DataFormatError, match="corrupt gzip stream") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_missing_files_raise_file_not_found(tmp_path):
    missing = tmp_path / "nope.idx"
    for call in (
        lambda: read_idx(missing),
        lambda: load_cifar10_batch(missing),
        lambda: load_csv(missing, target="y"),
    ):
        with pytest.raises(FileNotFoundError, match="nope.idx"):
            call()
    with pytest.raises(DataFormatError, match="not a regular file"):
        read_idx(tmp_path)


def test_load_mnist_idx_mismatches(tmp_path, mnist_pair):
    images, labels = mnist_pair
    img, lab, short = tmp_path / "img", tmp_path / "lab", tmp_path / "short"
    img.write_bytes(idx_bytes(images))
    lab.write_bytes(idx_bytes(labels))
    short.write_bytes(idx_bytes(labels[:4]))
    with pytest.raises(DataFormatError, match="4 labels for 5 images"):
        load_mnist_idx(img, short)
    with pytest.raises(DataFormatError, match="expected uint8 images of shape \\(N, H, W\\)"):
        load_mnist_idx(lab, lab)  # labels file given as images
    with pytest.raises(DataFormatError, match="expected uint8 labels of shape \\(N,\\)"):
        load_mnist_idx(img, img)


# ----------------------------------------------------------------------------- CIFAR-10


def test_load_cifar10_batch_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(3, 3, 32, 32), dtype=np.uint8)  # (N, C, H, W)
    labels = np.array([9, 0, 4], dtype=np.uint8)
    path = tmp_path / "data_batch_1.bin"
    path.write_bytes(cifar_bytes(images, labels))
    X, y = load_cifar10_batch(path)
    assert X.shape == (3, 3, 32, 32) and X.dtype == torch.float32
    assert y.dtype == torch.int64 and y.tolist() == [9, 0, 4]
    assert torch.allclose(X, torch.tensor(images, dtype=torch.float32) / 255.0)
    # channel planes land where CIFAR puts them: first 1024 bytes red, row-major
    assert X[1, 0, 0, 1].item() == pytest.approx(images[1, 0, 0, 1] / 255.0)
    assert X[2, 2, 31, 0].item() == pytest.approx(images[2, 2, 31, 0] / 255.0)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "size 0 bytes is not a positive multiple of the 3073-byte"),
        (bytes(3073 * 2 - 1), "size 6145 bytes is not a positive multiple"),
        (bytes(3073) + b"\x0a" + bytes(3072), "record 1 has label 10, expected 0..9"),
    ],
)
def test_load_cifar10_batch_malformed(tmp_path, content, match):
    path = tmp_path / "test_batch.bin"
    path.write_bytes(content)
    with pytest.raises(DataFormatError, match=match) as info:
        load_cifar10_batch(path)
    assert str(info.value).startswith(str(path))


# ----------------------------------------------------------------------------- CSV


def test_load_csv_round_trip_integer_target(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a, label ,b\n1.5,0,-2\n\n3,2,4e-1\n", encoding="utf-8")
    X, y = load_csv(path, target="label")
    assert X.dtype == torch.float32 and X.shape == (2, 2)
    assert torch.allclose(X, torch.tensor([[1.5, -2.0], [3.0, 0.4]]))
    assert y.dtype == torch.int64 and y.tolist() == [0, 2]


def test_load_csv_float_target_and_bom(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes("\ufeffy,x\n0.25,1\n1,2\n".encode())
    X, y = load_csv(path, target="y")
    assert y.dtype == torch.float32 and torch.allclose(y, torch.tensor([0.25, 1.0]))
    assert X.tolist() == [[1.0], [2.0]]


def test_load_csv_gzipped(tmp_path):
    path = tmp_path / "t.csv.gz"
    path.write_bytes(gzip.compress(b"x,y\n1,0\n2,1\n"))
    X, y = load_csv(path, target="y")
    assert X.tolist() == [[1.0], [2.0]] and y.tolist() == [0, 1]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("a,y\n1,0\n2,abc\n", "line 3, column 'y': 'abc' is not a finite number"),
        ("a,y\n1,0\n,1\n", "line 3, column 'a': '' is not a finite number"),
        ("a,y\n1,0\nnan,1\n", "line 3, column 'a': 'nan' is not a finite number"),
        ("a,y\n1,0\n2,1,3\n", "line 3: 3 fields, header has 2"),
        ("a,b\n1,0\n", "no target column 'y'; columns are \\['a', 'b'\\]"),
        ("y\n1\n", "only the target column 'y'"),
        ("a,y,a\n1,0,2\n", "duplicate column names in header: \\['a'\\]"),
        ("", "empty file, expected a header row"),
        ("a,y\n", "header only, no data rows"),
        ('a,y\n"1,0\n', "malformed CSV"),
    ],
)
def test_load_csv_malformed(tmp_path, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataFormatError, match=match) as info:
        load_csv(path, target="y")
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message


def test_load_csv_not_utf8(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(b"a,y\n\xff,1\n")
    with pytest.raises(DataFormatError, match="not UTF-8 text"):
        load_csv(path, target="y")


def test_data_format_error_is_value_error():
    assert issubclass(DataFormatError, ValueError)
