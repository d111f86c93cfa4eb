"""The layout of ``deepdojo.labs``: what a lab may import, and no prefix-named helper files.

A lab imports only the framework's one face (``deepdojo.labs.framework``), the shared helpers
(``deepdojo.labs.shared[...]``), its own package, the public library (``deepdojo.nn``,
``deepdojo.train``, ...; never ``labs``, ``report`` or ``cli``, never a ``_``-private module)
and third-party packages. Never another lab. Found by walking every import statement of every
file (function-level imports too) with ``ast``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import deepdojo.labs as labs_pkg

LABS_DIR = Path(labs_pkg.__file__).parent
NOT_LABS = {"framework", "shared", "__init__.py", "__pycache__"}
PUBLIC_OFF_LIMITS = {"labs", "report", "cli"}


def _module_name(path: Path) -> str:
    rel = path.relative_to(LABS_DIR.parent.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """Absolute module names imported by ``path`` (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.append((node.lineno, mod))
    return found


def _problem(mod: str, own: str, *, shared: bool) -> str | None:
    """Why ``mod`` may not be imported by a lab whose package is ``own`` (None: allowed)."""
    if mod != "deepdojo" and not mod.startswith("deepdojo."):
        return None  # stdlib and third-party
    parts = mod.split(".")
    if any(p.startswith("_") for p in parts):
        return "a private module"
    if mod == "deepdojo.labs.framework":
        return None
    if mod.startswith("deepdojo.labs.framework."):
        return "a framework module: import from deepdojo.labs.framework, its one face"
    if mod == "deepdojo.labs.shared" or mod.startswith("deepdojo.labs.shared."):
        return None
    if not shared and (mod == own or mod.startswith(own + ".")):
        return None
    if mod.startswith("deepdojo.labs.") or mod == "deepdojo.labs":
        return "another lab (or the labs' public face)"
    if len(parts) > 1 and parts[1] in PUBLIC_OFF_LIMITS:
        return f"deepdojo.{parts[1]} (labs use the library, not the {parts[1]})"
    return None


def _lab_files() -> list[tuple[Path, str, bool]]:
    """Every .py file under labs/ except the framework: (path, own package, is shared)."""
    out = []
    for entry in sorted(LABS_DIR.iterdir()):
        if entry.name in NOT_LABS - {"shared"} or entry.name.startswith("."):
            continue
        if entry.is_dir():
            files = sorted(entry.rglob("*.py"))
        elif entry.suffix == ".py":
            files = [entry]
        else:
            continue
        own = f"deepdojo.labs.{entry.stem if entry.is_file() else entry.name}"
        out += [(f, own, entry.name == "shared") for f in files]
    return out


FILES = _lab_files()


def test_every_lab_and_shared_file_is_walked():
    names = {f.relative_to(LABS_DIR).parts[0] for f, _, _ in FILES}
    assert "shared" in names and len(names) >= 10


@pytest.mark.parametrize(("path", "own", "shared"), FILES,
                         ids=[str(f.relative_to(LABS_DIR)) for f, _, _ in FILES])
def test_lab_imports_only_framework_shared_own_package_and_library(path, own, shared):
    bad = []
    for line, mod in _imports(path):
        why = _problem(mod, own, shared=shared)
        if why is not None:
            bad.append(f"line {line}: {mod} is {why}")
    assert not bad, f"{path.relative_to(LABS_DIR)}: " + "; ".join(bad)


@pytest.mark.parametrize(("path", "own", "shared"), FILES,
                         ids=[str(f.relative_to(LABS_DIR)) for f, _, _ in FILES])
def test_no_lab_sets_the_matplotlib_backend(path, own, shared):
    text = path.read_text(encoding="utf-8")
    assert "matplotlib.use(" not in text, "use `from deepdojo.labs.framework import plt`"
    mods = [m for _, m in _imports(path)]
    assert "matplotlib.pyplot" not in mods, "use `from deepdojo.labs.framework import plt`"


def test_no_prefix_named_helper_files_at_the_top_of_labs():
    extra = [p.name for p in LABS_DIR.iterdir()
             if p.name.startswith("_") and p.name not in ("__init__.py", "__pycache__")]
    assert extra == [], f"helpers belong in shared/ or in the lab's package, found {extra}"


@pytest.mark.parametrize(
    ("mod", "own", "allowed"),
    [
        ("deepdojo.labs.framework", "deepdojo.labs.gru", True),
        ("deepdojo.labs.shared.seq", "deepdojo.labs.gru", True),
        ("deepdojo.labs.gru.measure", "deepdojo.labs.gru", True),
        ("deepdojo.nn", "deepdojo.labs.gru", True),
        ("torch.nn", "deepdojo.labs.gru", True),
        ("deepdojo.labs.attention", "deepdojo.labs.transformer", False),
        ("deepdojo.labs", "deepdojo.labs.gru", False),
        ("deepdojo.labs.framework.runner", "deepdojo.labs.gru", False),
        ("deepdojo.labs._core", "deepdojo.labs.gru", False),
        ("deepdojo.report", "deepdojo.labs.gru", False),
        ("deepdojo.train._private", "deepdojo.labs.gru", False),
    ],
)
def test_the_rule_itself(mod, own, allowed):
    assert (_problem(mod, own, shared=False) is None) is allowed


def test_relative_imports_are_resolved():
    pkg = LABS_DIR / "gru"
    if not (pkg / "__init__.py").exists():
        pytest.skip("the gru lab is not a package")
    mods = {m for _, m in _imports(pkg / "__init__.py")}
    assert any(m.startswith("deepdojo.labs.gru.") for m in mods)
