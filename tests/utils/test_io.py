"""Atomic writes: content, permissions, JSON conversion, no temp files left behind."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest
import torch

from deepdojo.utils import atomic_write_bytes, atomic_write_json, atomic_write_text


def test_write_replaces_and_leaves_no_temp(tmp_path):
    path = tmp_path / "sub" / "a.txt"
    atomic_write_text(path, "one")
    atomic_write_text(path, "two")
    assert path.read_text() == "two"
    assert [p.name for p in path.parent.iterdir()] == ["a.txt"]


def test_permissions_follow_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = atomic_write_bytes(tmp_path / "b.bin", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_json_converts_tensors_numpy_and_non_finite(tmp_path):
    obj = {"t": torch.tensor(1.5), "a": np.arange(3), "nan": float("nan"), "tup": (1, 2),
           "inf": np.float64("inf")}
    data = json.loads(atomic_write_json(tmp_path / "c.json", obj).read_text())
    assert data == {"t": 1.5, "a": [0, 1, 2], "nan": "nan", "tup": [1, 2], "inf": "inf"}


def test_failed_write_keeps_old_file(tmp_path, monkeypatch):
    path = atomic_write_text(tmp_path / "d.txt", "good")

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(path, "bad")
    assert path.read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["d.txt"]
