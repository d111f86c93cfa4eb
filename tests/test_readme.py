"""Every ``python`` block of the README runs as written (blocks marked ``# slow`` excepted)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_python_blocks():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs(index, tmp_path, monkeypatch, capsys):
    code = BLOCKS[index]
    if code.lstrip().startswith("# slow"):
        pytest.skip("marked slow in the README")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"README block {index}", "exec"), {"__name__": "__readme__"})
    assert capsys.readouterr().out.strip(), "a README example should print what it shows"
