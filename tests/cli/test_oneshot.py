"""``deepdojo oneshot train|eval`` on tiny generated glyphs and fixture folders; error paths."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from safetensors.torch import load_file

TINY = ["--epochs", "1", "--episodes", "2", "--way", "3", "--query", "2", "--size", "14"]


def _png(path: Path, ink: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    big = np.kron(ink.astype(np.uint8), np.ones((15, 15), dtype=np.uint8))  # 105 x 105
    Image.fromarray((255 * (1 - big)).astype(np.uint8)).save(path)


def _bar(k: int) -> np.ndarray:
    ink = np.zeros((7, 7), dtype=bool)
    ink[k % 7, :4] = True
    return ink


@pytest.fixture(scope="module")
def protonet_dir(tmp_path_factory) -> Path:
    from typer.testing import CliRunner

    from deepdojo.cli import app

    out = tmp_path_factory.mktemp("model") / "protonet"
    result = CliRunner().invoke(app, ["oneshot", "train", "--data", "glyphs:6", "--out",
                                      str(out), *TINY])
    assert result.exit_code == 0, result.output
    assert "trained protonet" in result.stdout
    return out


def test_train_saves_safetensors_and_config(protonet_dir):
    config = json.loads((protonet_dir / "config.json").read_text())
    assert config["method"] == "protonet" and config["size"] == 14
    assert config["classes"] == 6 and config["glyph_classes"] == 6
    assert config["train"]["way"] == 3 and config["seconds"] >= 0
    state = load_file(protonet_dir / "model.safetensors")
    assert "encoder.features.0.weight" in state
    assert not list(protonet_dir.glob("*.tmp*"))  # atomic writes leave no temp file


def test_eval_episodes_prints_accuracy_with_interval_and_writes_json(invoke, protonet_dir):
    result = invoke("oneshot", "eval", "--model", str(protonet_dir), "--data", "glyphs:5",
                    "--way", "3", "--episodes", "12")
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.stdout and "95% CI" in result.stdout
    record = json.loads((protonet_dir / "eval-3way1shot.json").read_text())
    assert len(record["per_episode"]) == 12
    low, high = record["ci95"]
    assert low <= record["accuracy"] <= high
    assert record["accuracy"] == pytest.approx(np.mean(record["per_episode"]))


def test_eval_runs(invoke, protonet_dir, tmp_path):
    root = tmp_path / "all_runs"
    for r in (1, 2):
        run, lines = root / f"run{r:02d}", []
        for i in (1, 2, 3):
            _png(run / "training" / f"class{i:02d}.png", _bar(i))
            _png(run / "test" / f"item{i:02d}.png", _bar(i))
            lines.append(f"run{r:02d}/test/item{i:02d}.png run{r:02d}/training/class{i:02d}.png")
        (run / "class_labels.txt").write_text("\n".join(lines))
    out_json = tmp_path / "score.json"
    result = invoke("oneshot", "eval", "--model", str(protonet_dir), "--runs", str(root),
                    "--json", str(out_json))
    assert result.exit_code == 0, result.output
    record = json.loads(out_json.read_text())
    assert record["n"] == 2 and record["accuracy"] == 1.0  # each query is its class's image
    assert "2 fixed runs" in result.stdout


def test_siamese_on_an_image_folder(invoke, tmp_path):
    for c in range(4):
        for i in range(3):
            _png(tmp_path / "mine" / f"class{c}" / f"{i}.png", _bar(c + (i % 2) * 3))
    out = tmp_path / "siamese"
    result = invoke("oneshot", "train", "--data", f"folder:{tmp_path / 'mine'}", "--method",
                    "siamese", "--out", str(out), *TINY)
    assert result.exit_code == 0, result.output
    result = invoke("oneshot", "eval", "--model", str(out), "--data",
                    f"folder:{tmp_path / 'mine'}", "--way", "2", "--episodes", "5")
    assert result.exit_code == 0, result.output
    assert json.loads((out / "config.json").read_text())["method"] == "siamese"


def test_train_on_an_omniglot_folder(invoke, tmp_path):
    for a in ("Alpha", "Beta"):
        for c in range(2):
            for d in range(3):
                _png(tmp_path / "bg" / a / f"character{c}" / f"{d}.png", _bar(c + d))
    out = tmp_path / "omni"
    result = invoke("oneshot", "train", "--data", f"omniglot:{tmp_path / 'bg'}", "--out",
                    str(out), *TINY)
    assert result.exit_code == 0, result.output
    assert "48 images of 16 classes" in result.stdout
    # eval on omniglot data: within-alphabet episodes by default (2 characters per alphabet)
    result = invoke("oneshot", "eval", "--model", str(out), "--data",
                    f"omniglot:{tmp_path / 'bg'}", "--way", "2", "--episodes", "6")
    assert result.exit_code == 0, result.output
    score = json.loads((out / "eval-2way1shot.json").read_text())
    assert score["within_alphabet"] is True and len(score["per_episode"]) == 6
    result = invoke("oneshot", "eval", "--model", str(out), "--data",
                    f"omniglot:{tmp_path / 'bg'}", "--way", "3", "--episodes", "6")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: --within-alphabet: 2 alphabet(s) have fewer than --way 3 classes (alphabet "
        "#0: 2); lower --way or use --all-alphabets"]
    result = invoke("oneshot", "eval", "--model", str(out), "--data",
                    f"omniglot:{tmp_path / 'bg'}", "--way", "3", "--episodes", "6",
                    "--all-alphabets")
    assert result.exit_code == 0, result.output
    assert json.loads((out / "eval-3way1shot.json").read_text())["within_alphabet"] is False
    within = tmp_path / "within"  # training within alphabets (8 classes each with rotations)
    result = invoke("oneshot", "train", "--data", f"omniglot:{tmp_path / 'bg'}", "--out",
                    str(within), "--within-alphabet", *TINY)
    assert result.exit_code == 0, result.output
    assert json.loads((within / "config.json").read_text())["train"]["within_alphabet"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--data", "omniglot:{missing}", "--out", "{out}"],
         "omniglot folder '{missing}' does not exist"),
        (["train", "--data", "folder:{empty}", "--out", "{out}"], "has no class subfolders"),
        (["train", "--data", "omniglot:{empty}", "--out", "{out}"], "no <alphabet>/ subfolders"),
        (["train", "--data", "mnist", "--out", "{out}"], "--data must be omniglot:PATH"),
        (["train", "--data", "glyphs:x", "--out", "{out}"], "--data must be omniglot:PATH"),
        (["train", "--data", "glyphs:1", "--out", "{out}"], "needs N >= 2"),
        (["train", "--data", "glyphs:4", "--method", "maml", "--out", "{out}"],
         "--method must be protonet or siamese"),
        (["train", "--data", "glyphs:4", "--epochs", "0", "--out", "{out}"],
         "--epochs must be a positive integer"),
        (["train", "--data", "glyphs:3", "--way", "5", "--out", "{out}"],
         "n_way=5 exceeds the 3 available classes"),
        (["train", "--data", "glyphs:4", "--out", "{file}"], "must be a folder, not a file"),
        (["train", "--data", "glyphs:4", "--within-alphabet", "--out", "{out}"],
         "--within-alphabet needs omniglot:PATH or folder:PATH data"),
        (["eval", "--model", "{missing}", "--data", "glyphs"], "does not exist"),
        (["eval", "--model", "{empty}", "--data", "glyphs"], "holds no model"),
        (["eval", "--model", "{broken}", "--data", "glyphs"], "is not a readable oneshot model"),
        (["eval", "--model", "{empty}"], "give exactly one of --data DATA or --runs PATH"),
        (["eval", "--model", "{empty}", "--data", "glyphs", "--runs", "{empty}"],
         "give exactly one"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(invoke, tmp_path, argv, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "afile").write_text("x")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    (broken / "model.safetensors").write_bytes(b"")
    paths = {"missing": str(tmp_path / "typo"), "empty": str(tmp_path / "empty"),
             "out": str(tmp_path / "out"), "file": str(tmp_path / "afile"),
             "broken": str(broken)}
    result = invoke("oneshot", *[a.format(**paths) for a in argv])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert message.format(**paths) in lines[0]
    assert not (tmp_path / "out").exists()
