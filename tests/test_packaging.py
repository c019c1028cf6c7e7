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
        "heavy = ('joblib', 'cloudpickle', 'numpy', 'sklearn', 'fsspec', 'psycopg', 'mlflow')\n"
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


#: The core's layers, lowest first. A module may import its own layer's modules and lower
#: layers' (type-checking imports included), never a higher layer's: so the graph has no
#: loop, and a module's place says what it may know. docs/contributing.md draws the map.
LAYERS: list[set[str]] = [
    {"errors"},
    {
        "metadata",
        "_checks",
        "signatures",
        "_signature_types",
        "_signature_data",
        "_signature_inference",
        "_signature_checking",
    },
    {"converter", "config", "query", "references", "snapshot", "manifest"},
    {"protocols"},
    {"hookspecs", "selectors", "sql", "transitions"},
    {"plugins"},
    {
        "registry",
        "_shared",
        "_saving",
        "_loading",
        "_querying",
        "_lifecycle",
        "_housekeeping",
        "_opening",
        "_predicting",
    },
    {
        "bundle",
        "_bundle_format",
        "_bundle_card",
        "_bundle_import",
        "report",
        "_report_charts",
        "transfer",
        "recovery",
        "testing",
    },
    {"listening"},
    {"cli", "ui", "serving", "migrate", "_migration_report", "_mlflow_reading", "_mlflow_copying"},
]


def _layer_of(module: str) -> int:
    top = module.split(".")[1] if "." in module else ""
    for rank, names in enumerate(LAYERS):
        if top in names:
            return rank
    raise AssertionError(f"modelshelf.{top} is in no layer: add it to LAYERS")


def _core_imports(path: Path) -> set[str]:
    """Every ``modelshelf.*`` module ``path`` imports, at run time or for type checking."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "modelshelf":
                found.update(f"modelshelf.{alias.name}" for alias in node.names)
            elif node.module.startswith("modelshelf."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("modelshelf."))
    return found


def test_core_modules_import_only_their_layer_and_below() -> None:
    core = ROOT / "src" / "modelshelf"
    wrong = []
    for path in sorted(core.rglob("*.py")):
        if path == core / "__init__.py":
            continue  # the public façade re-exports from every layer
        module = ".".join(("modelshelf", *path.relative_to(core).with_suffix("").parts))
        module = module.removesuffix(".__init__")
        for imported in sorted(_core_imports(path)):
            if _layer_of(imported) > _layer_of(module):
                wrong.append(f"{module} imports {imported}")
    assert wrong == []
