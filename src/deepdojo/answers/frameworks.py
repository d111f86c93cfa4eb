"""Q11's framework landscape as data: what each framework is, its status, and the way there.

:data:`FRAMEWORKS` lists every framework and deployment runtime that the Q11 answer names, in
the answer's order. The site shows it as a table beside the frameworks lab's measured parity
table (which it does not repeat), and the lab can read it to label its rows.

Each entry says how a deepdojo model, a ``torch.nn.Module``, reaches that framework:

- ``"native"``: directly, without a format in between (PyTorch itself, ExecuTorch through
  ``torch.export``, Keras 3 on its PyTorch backend);
- ``"onnx"``: export with ``deepdojo.export.to_onnx``, then a maintained ONNX importer or
  runtime (named in ``path``);
- ``"legacy"``: an ONNX importer exists but the framework is no longer developed;
- ``"none"``: no maintained route.

Statuses and dates were checked against the projects' own announcements and repositories
(see each entry's ``source``) in December 2026.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["FRAMEWORKS", "Framework", "get_framework"]

Status = Literal["active", "maintenance", "discontinued", "merged"]
Route = Literal["native", "onnx", "legacy", "none"]
Kind = Literal["framework", "front end", "runtime"]


@dataclass(frozen=True)
class Framework:
    """One row of the landscape.

    Attributes
    ----------
    name : str
        The name as its project writes it (``"PyTorch"``).
    kind : {"framework", "front end", "runtime"}
        Trains and runs models; an API over other frameworks (Keras 3); or runs exported
        models only.
    what : str
        One sentence: what it is and who develops it.
    status : {"active", "maintenance", "discontinued", "merged"}
        Its state today.
    status_note : str
        The status with its date (``"Development ended after Theano 1.0 (November 2017)."``).
    route : {"native", "onnx", "legacy", "none"}
        How a deepdojo model gets there (see the module docstring).
    path : str
        The steps, naming the tools.
    source : str
        Where the status can be checked (an announcement or the project page).
    """

    name: str
    kind: Kind
    what: str
    status: Status
    status_note: str
    route: Route
    path: str
    source: str


_EXPORT = "deepdojo.export.to_onnx, then "

FRAMEWORKS: tuple[Framework, ...] = (
    Framework(
        "PyTorch", "framework",
        "Eager, Python-first framework with autograd and torch.compile; started at Meta, "
        "governed by the PyTorch Foundation (Linux Foundation) since 2022.",
        "active", "Active; the default framework of research code.",
        "native",
        "deepdojo models are torch.nn.Modules: use them as they are, save a state_dict, or "
        "capture the graph with torch.export.",
        "https://pytorch.org",
    ),
    Framework(
        "TensorFlow", "framework",
        "Google's graph-and-eager framework with a large production stack (TF Serving, "
        "TFX).",
        "active", "Active (2.x).",
        "onnx",
        _EXPORT + "onnx2tf (a maintained third-party converter) to a SavedModel; the "
        "official onnx-tensorflow converter is deprecated.",
        "https://github.com/onnx/onnx-tensorflow/issues/1066",
    ),
    Framework(
        "Keras", "front end",
        "A high-level model API; Keras 3 (2023) runs the same code on JAX, TensorFlow or "
        "PyTorch.",
        "active", "Active; Keras 3 released in November 2023 with three backends.",
        "native",
        "On the PyTorch backend, keras.layers.TorchModuleWrapper turns a deepdojo module "
        "into a Keras layer; for the other backends go through TensorFlow (onnx2tf).",
        "https://keras.io/keras_3/",
    ),
    Framework(
        "JAX", "framework",
        "Google's NumPy-like library of composable transforms (grad, jit, vmap) compiled by "
        "XLA; networks are written with Flax or Equinox.",
        "active", "Active; strong on TPUs.",
        "none",
        "No maintained ONNX importer: rewrite the architecture in Flax and copy the weights "
        "(the arrays convert directly), or serve the ONNX file with ONNX Runtime.",
        "https://github.com/jax-ml/jax",
    ),
    Framework(
        "Caffe", "framework",
        "Berkeley's (BVLC) C++ framework for convolutional nets, configured with protobuf "
        "files.",
        "discontinued", "Last release 1.0 (April 2017); no development since.",
        "none",
        "None maintained.",
        "https://github.com/BVLC/caffe",
    ),
    Framework(
        "Caffe2", "framework",
        "Facebook's production and mobile successor to Caffe.",
        "merged",
        "Merged into PyTorch in 2018; its remaining code was removed from the PyTorch "
        "repository in 2024.",
        "none",
        "None: its job (production and mobile) passed to PyTorch itself, today torch.export "
        "and ExecuTorch.",
        "https://caffe2.ai/blog/2018/05/02/Caffe2_PyTorch_1_0.html",
    ),
    Framework(
        "MXNet", "framework",
        "Apache MXNet, a scalable framework with the Gluon API, once backed by Amazon.",
        "discontinued", "Retired to the Apache Attic in 2023; the 2.0 release never came.",
        "legacy",
        _EXPORT + "mxnet.contrib.onnx.import_model (MXNet 1.x); only for keeping old "
        "systems running.",
        "https://attic.apache.org/projects/mxnet.html",
    ),
    Framework(
        "Theano", "framework",
        "MILA's symbolic tensor compiler, the first widely used deep-learning framework in "
        "Python.",
        "discontinued",
        "Development ended after Theano 1.0 (November 2017); PyMC's fork lives on as "
        "PyTensor.",
        "none",
        "None.",
        "https://groups.google.com/g/theano-users/c/7Poq8BZutbY",
    ),
    Framework(
        "CNTK", "framework",
        "Microsoft Cognitive Toolkit, a graph framework with C++, Python and C# APIs.",
        "discontinued", "2.7 (2019) was the last main release; no development since.",
        "legacy",
        _EXPORT + "cntk.Function.load(..., format=ModelFormat.ONNX); only for old systems.",
        "https://github.com/microsoft/CNTK/releases/tag/v2.7",
    ),
    Framework(
        "PaddlePaddle", "framework",
        "Baidu's framework (PArallel Distributed Deep LEarning), widely used in China.",
        "active", "Active.",
        "onnx",
        _EXPORT + "X2Paddle, which converts an ONNX model into a Paddle program.",
        "https://github.com/PaddlePaddle/X2Paddle",
    ),
    Framework(
        "Deeplearning4j", "framework",
        "Eclipse Deeplearning4j, deep learning on the JVM, with the SameDiff graph API.",
        "maintenance", "An Eclipse project; releases have been rare in recent years.",
        "onnx",
        _EXPORT + "SameDiff's ONNX import, which loads the graph on the JVM.",
        "https://github.com/deeplearning4j/deeplearning4j",
    ),
    Framework(
        "LiteRT", "runtime",
        "Google's on-device runtime, the new name of TensorFlow Lite (.tflite models).",
        "active", "TensorFlow Lite was renamed LiteRT in 2024.",
        "onnx",
        "Google's ai-edge-torch converts a PyTorch module to .tflite directly; or "
        + _EXPORT + "onnx2tf, which also writes .tflite.",
        "https://ai.google.dev/edge/litert",
    ),
    Framework(
        "ExecuTorch", "runtime",
        "PyTorch's on-device runtime for phones, wearables and microcontrollers, the "
        "successor of PyTorch Mobile.",
        "active", "Active; announced in 2023.",
        "native",
        "torch.export the module, lower it with ExecuTorch's to_edge and save a .pte "
        "program; no ONNX step.",
        "https://pytorch.org/executorch",
    ),
    Framework(
        "ONNX Runtime", "runtime",
        "Microsoft's cross-platform engine for ONNX graphs (CPU, CUDA, TensorRT, OpenVINO, "
        "mobile and web).",
        "active", "Active.",
        "onnx",
        _EXPORT + "onnxruntime.InferenceSession; the frameworks lab measures that outputs "
        "match the PyTorch model.",
        "https://onnxruntime.ai",
    ),
)


def get_framework(name: str) -> Framework:
    """The entry called ``name`` (case-insensitive); a ValueError lists the known names."""
    for fw in FRAMEWORKS:
        if fw.name.lower() == str(name).strip().lower():
            return fw
    known = ", ".join(fw.name for fw in FRAMEWORKS)
    raise ValueError(f"unknown framework {name!r}; known: {known}")
