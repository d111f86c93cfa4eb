"""Q11's landscape: FRAMEWORKS covers what the answer names, and says it consistently."""

from __future__ import annotations

import dataclasses

import pytest

from deepdojo.answers import FRAMEWORKS, Framework, get_framework, get_question

Q11 = get_question("Q11")
NAMES = [fw.name for fw in FRAMEWORKS]


def test_every_named_framework_has_an_entry_and_every_entry_is_in_the_answer():
    named = ["PyTorch", "TensorFlow", "Keras", "JAX", "Caffe", "Caffe2", "MXNet", "Theano",
             "CNTK", "PaddlePaddle", "Deeplearning4j", "LiteRT", "ExecuTorch", "ONNX Runtime"]
    assert sorted(NAMES) == sorted(named) and len(set(NAMES)) == len(NAMES)
    for name in NAMES:
        assert name in Q11.answer, f"{name} is in FRAMEWORKS but not in the Q11 answer"


@pytest.mark.parametrize("fw", FRAMEWORKS, ids=NAMES)
def test_entry_is_complete_and_typed(fw):
    assert isinstance(fw, Framework) and dataclasses.is_dataclass(fw)
    assert fw.kind in ("framework", "front end", "runtime")
    assert fw.status in ("active", "maintenance", "discontinued", "merged")
    assert fw.route in ("native", "onnx", "legacy", "none")
    for text in (fw.what, fw.status_note, fw.path):
        assert text.strip().endswith("."), f"{fw.name}: {text!r} is not a sentence"
    assert fw.source.startswith("https://")
    if fw.route in ("onnx", "legacy"):  # the bridge is the project's exporter
        assert "deepdojo.export.to_onnx" in fw.path or "onnx2tf" in fw.path, fw.name
    if fw.route == "none":
        assert "deepdojo.export" not in fw.path, fw.name
    if fw.status in ("discontinued", "merged"):
        assert fw.route in ("legacy", "none"), f"{fw.name}: no live route into a dead framework"


@pytest.mark.parametrize(
    "name,status,year",
    [("Theano", "discontinued", "2017"), ("Caffe", "discontinued", "2017"),
     ("CNTK", "discontinued", "2019"), ("MXNet", "discontinued", "2023"),
     ("Caffe2", "merged", "2024"), ("LiteRT", "active", "2024")],
)  # fmt: skip
def test_dates_of_the_issue_22_corrections(name, status, year):
    fw = get_framework(name)
    assert fw.status == status and year in fw.status_note
    assert year in Q11.answer


def test_answer_states_the_current_names_and_backends():
    text = Q11.answer
    assert "LiteRT" in text and "ExecuTorch" in text
    assert "Keras 3" in text and all(b in text for b in ("JAX", "TensorFlow", "PyTorch"))
    assert "CNTK stopped at version 2.7 in 2019" in text
    assert "Apache Attic in 2023" in text
    assert get_framework("ExecuTorch").route == "native"  # torch.export, no ONNX step
    assert get_framework("pytorch") is get_framework(" PyTorch ")


def test_unknown_framework_lists_known_ones():
    with pytest.raises(ValueError, match=r"unknown framework 'Chainer'; known: PyTorch, "):
        get_framework("Chainer")
