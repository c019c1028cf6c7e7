"""The core stays cheap to import and never depends on a concrete backend."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_core_never_imports_bundled_plugins() -> None:
    for path in (ROOT / "src" / "modelshelf").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(n.startswith("modelshelf_plugins") for n in names), path


def test_import_and_open_do_not_load_heavy_libraries(tmp_path: Path) -> None:
    code = (
        "import sys, modelshelf\n"
        f"modelshelf.ModelRegistry({str(tmp_path)!r})\n"
        "heavy = ('joblib', 'cloudpickle', 'numpy', 'sklearn', 'fsspec', 'psycopg')\n"
        "heavy = [m for m in heavy if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_quickstart_example_runs(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py"), str(tmp_path / "reg")],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    assert "best by f1: cancer-clf:1.0." in out.stdout
    assert "in Production:" in out.stdout
    assert "accuracy on the test set 0.9" in out.stdout
