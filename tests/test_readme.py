"""The README's Python examples run as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest

ROOT = Path(__file__).parent.parent


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.DOTALL)


def test_readme_quickstart_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    quickstart = python_blocks(ROOT / "README.md")[0]
    namespace: dict[str, object] = {}
    exec(compile(quickstart, "README.md", "exec"), namespace)
    assert (tmp_path / "data" / "models" / "registry" / "registry.db").is_file()
