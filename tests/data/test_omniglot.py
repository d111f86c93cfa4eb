"""Omniglot folder, one-shot runs and image-folder loaders, on fixture folders written here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deepdojo.data.omniglot import load_image_folder, load_omniglot, load_runs


def _write_png(path: Path, ink: np.ndarray, size: int = 105) -> None:
    """Black ink (0) on white (255), like Omniglot's PNGs, from a boolean pattern."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scale = size // ink.shape[0]
    big = np.kron(ink.astype(np.uint8), np.ones((scale, scale), dtype=np.uint8))
    Image.fromarray((255 * (1 - big)).astype(np.uint8)).convert("1").save(path)


def _pattern(k: int) -> np.ndarray:
    """A 7 x 7 pattern, ink in the top-left quadrant region for k=0, shifted for others."""
    ink = np.zeros((7, 7), dtype=bool)
    ink[k % 7, :3] = True  # a short horizontal bar on row k, at the left
    return ink


def _omniglot(root: Path) -> Path:
    for a, alphabet in enumerate(["Alpha", "Beta"]):
        for c in range(2 + a):  # Alpha has 2 characters, Beta 3
            for d in range(3):
                _write_png(root / alphabet / f"character{c + 1:02d}" / f"{c}_{d:02d}.png",
                           _pattern(c + d % 2))
    return root


def test_load_omniglot_layout_inversion_and_rotation_classes(tmp_path):
    data = load_omniglot(_omniglot(tmp_path / "images_background"))
    assert data.X.shape == (5 * 4 * 3, 1, 28, 28) and data.X.dtype == np.float32
    assert data.num_classes == 20 and np.bincount(data.y).tolist() == [3] * 20
    assert data.class_names[:4] == ["Alpha/character01", "Alpha/character01/rot90",
                                    "Alpha/character01/rot180", "Alpha/character01/rot270"]
    assert data.groups.tolist() == [0] * 8 + [1] * 12
    first = data.X[0, 0]
    # inverted: paper is 0, the bar in the top rows at the left is ink ~1
    assert first[27, 27] == pytest.approx(0.0, abs=1e-3)
    assert first[1, 2] == pytest.approx(1.0, abs=1e-2)
    # class 1 is class 0 rotated by 90 degrees (counter-clockwise, np.rot90)
    np.testing.assert_allclose(data.X[3, 0], np.rot90(data.X[0, 0]))
    no_rot = load_omniglot(tmp_path / "images_background", rotations=False, size=14)
    assert no_rot.X.shape == (15, 1, 14, 14) and no_rot.num_classes == 5


def _runs(root: Path, n_runs: int = 2, n_way: int = 3) -> Path:
    for r in range(1, n_runs + 1):
        run = root / f"run{r:02d}"
        lines = []
        for i in range(1, n_way + 1):
            _write_png(run / "training" / f"class{i:02d}.png", _pattern(i))
            target = (i % n_way) + 1  # item i belongs to class i+1 (cyclic)
            _write_png(run / "test" / f"item{i:02d}.png", _pattern(target))
            name = f"run{r:02d}"
            lines.append(f"{name}/test/item{i:02d}.png {name}/training/class{target:02d}.png")
        (run / "class_labels.txt").write_text("\n".join(lines) + "\n")
    return root


def test_load_runs_pairs_items_with_their_training_class(tmp_path):
    runs = load_runs(_runs(tmp_path / "all_runs"))
    assert [r.name for r in runs] == ["run01", "run02"]
    run = runs[0]
    assert run.support.shape == (3, 1, 28, 28) and run.query.shape == (3, 1, 28, 28)
    assert run.support_labels.tolist() == [0, 1, 2]
    assert run.query_labels.tolist() == [1, 2, 0]
    # every query is the same picture as its training class here
    for q, label in zip(run.query, run.query_labels, strict=True):
        np.testing.assert_allclose(q, run.support[label])


def test_image_folder_auto_inverts_light_backgrounds(tmp_path):
    for c, name in enumerate(["cat", "dog"]):
        for i in range(2):
            _write_png(tmp_path / "pets" / name / f"{i}.png", _pattern(c + 2 * i))
    (tmp_path / "pets" / "dog" / "notes.txt").write_text("not an image")
    data = load_image_folder(tmp_path / "pets", size=7)
    assert data.class_names == ["cat", "dog"] and data.y.tolist() == [0, 0, 1, 1]
    assert data.X.shape == (4, 1, 7, 7) and data.X.mean() < 0.5  # ink = 1 after inversion
    raw = load_image_folder(tmp_path / "pets", size=7, invert=False, channels=3)
    assert raw.X.shape == (4, 3, 7, 7) and raw.X.mean() > 0.5


def test_missing_and_malformed_folders_name_the_path(tmp_path):
    missing = tmp_path / "nope"
    for loader in (load_omniglot, load_runs, load_image_folder):
        with pytest.raises(ValueError, match="nope.*does not exist"):
            loader(missing)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no <alphabet>"):
        load_omniglot(empty)
    with pytest.raises(ValueError, match="no run01"):
        load_runs(empty)
    with pytest.raises(ValueError, match="no class subfolders"):
        load_image_folder(empty)
    (empty / "Alpha" / "character01").mkdir(parents=True)
    with pytest.raises(ValueError, match="character01.*has no images"):
        load_omniglot(empty)
    bad = tmp_path / "bad" / "A" / "c1" / "x.png"
    bad.parent.mkdir(parents=True)
    bad.write_text("this is not a png")
    with pytest.raises(ValueError, match="cannot read image .*x.png"):
        load_omniglot(tmp_path / "bad")


def test_malformed_runs(tmp_path):
    root = _runs(tmp_path / "runs", n_runs=1)
    labels = root / "run01" / "class_labels.txt"
    labels.write_text("run01/test/item01.png\n")
    with pytest.raises(ValueError, match="line 1: expected"):
        load_runs(root)
    labels.write_text("run01/test/item01.png run01/training/class09.png\n")
    with pytest.raises(ValueError, match="class09.png' is not an image"):
        load_runs(root)
    labels.unlink()
    with pytest.raises(ValueError, match="no class_labels.txt"):
        load_runs(root)


def test_within_alphabet_episodes_on_the_fixture_folder(tmp_path):
    from deepdojo.data.episodes import EpisodeSampler

    data = load_omniglot(_omniglot(tmp_path / "images_background"), rotations=False)
    groups = data.groups[data.y]  # (n,) alphabet of every image: Alpha 2 chars, Beta 3
    s = EpisodeSampler(data.y, 2, 1, 1, 40, seed=3, groups=groups, rank=0, world_size=1)
    eps = list(s)
    seen = set()
    for e in eps:
        alphabet = {int(data.groups[c]) for c in e.classes}
        assert len(alphabet) == 1  # the episode's classes share one alphabet
        seen |= alphabet
        assert {int(data.y[i]) for i in e.support} == set(e.classes.tolist())
    assert seen == {0, 1}  # both alphabets are drawn
    again = EpisodeSampler(data.y, 2, 1, 1, 40, seed=3, groups=groups, rank=0, world_size=1)
    assert all(a.support.tolist() == b.support.tolist() for a, b in zip(eps, again, strict=True))
    shards = [EpisodeSampler(data.y, 2, 1, 1, 40, seed=3, groups=groups, rank=r, world_size=2)
              for r in (0, 1)]
    assert [e.support.tolist() for e in shards[1]] == [e.support.tolist() for e in eps[1::2]]
    mixed = {len({int(data.groups[c]) for c in e.classes})
             for e in EpisodeSampler(data.y, 2, 1, 1, 40, seed=3)}
    assert mixed == {1, 2}  # without groups, episodes mix alphabets


def test_within_alphabet_errors_are_one_line(tmp_path):
    from deepdojo.data.episodes import EpisodeSampler

    data = load_omniglot(_omniglot(tmp_path / "images_background"), rotations=False)
    groups = data.groups[data.y]
    with pytest.raises(ValueError, match=r"need n_way=3 classes in every group, but 1 have "
                                         r"fewer \(group 0: 2\)"):
        EpisodeSampler(data.y, 3, 1, 1, 5, groups=groups)
    EpisodeSampler(data.y, 3, 1, 1, 5, groups=groups, classes=[2, 3, 4])  # Beta only: fine
    bad = groups.copy()
    bad[0] = 1  # one drawing of class 0 in another alphabet
    with pytest.raises(ValueError, match="constant within a class, but class 0 spans"):
        EpisodeSampler(data.y, 2, 1, 1, 5, groups=bad)
    with pytest.raises(ValueError, match="groups must be one integer group per item"):
        EpisodeSampler(data.y, 2, 1, 1, 5, groups=groups[:-1])
