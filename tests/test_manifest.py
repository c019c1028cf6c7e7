"""A registry remembers how it was made: every open, from Python or the CLI, sees it the same.

Real registries on disk, every local store, the installed console script.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from click.testing import CliRunner

from modelshelf import ConfigError, ModelRegistry, PluginError, StoreError
from modelshelf.cli import cli
from modelshelf.manifest import (
    MANIFEST_FILE,
    SIDECAR_DIR,
    iter_sidecars,
    read_sidecar,
    recordable_url,
)
from modelshelf_plugins.sqlite_store import SqliteStore

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression

STORES = ["sqlite", "json"]
SCRIPT = Path(sys.executable).with_name("modelshelf")


def _cli(*args: str) -> Any:
    return CliRunner().invoke(cli, [*args, "--json"])


def _console(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, timeout=120, check=False
    )


def _make(root: Path, store: str, model: Any, versions: int = 3) -> None:
    """``versions`` versions of iris; ``model`` may be a list, one model per version."""
    models = model if isinstance(model, list) else [model] * versions
    with ModelRegistry(root, store=store, versioning="integer", serializer="cloudpickle") as reg:
        for i in range(versions):
            reg.save_model(models[i], model_name="iris", metrics={"f1": 0.7 + i / 100})


def _other_store_files(root: Path, store: str) -> list[str]:
    """Metadata files of the store the registry does not use (there must be none)."""
    files = {"sqlite": ["registry.db"], "json": ["index.json", "index.journal"]}
    other = "json" if store == "sqlite" else "sqlite"
    return [name for name in files[other] if (root / name).exists()]


@pytest.mark.parametrize("store", STORES)
def test_non_default_registry_reopens_with_no_options_everywhere(
    tmp_path: Path, store: str, logistic: LogisticRegression, logistics: list[LogisticRegression]
) -> None:
    root = tmp_path / "r"
    _make(root, store, logistics[:3])
    record = json.loads((root / MANIFEST_FILE).read_text())
    assert {k: record[k] for k in ("store", "versioning", "serializer")} == {
        "store": store,
        "versioning": "integer",
        "serializer": "cloudpickle",
    }
    with ModelRegistry(root) as plain:
        assert [m.version for m in plain.list_models()] == ["1", "2", "3"]
        assert (plain.versioning.name, plain.serializer.name) == ("integer", "cloudpickle")
        assert plain.load("iris:2").model.C == logistics[1].C
        plain.save_model(logistic, model_name="iris")
        assert plain.get_metadata("iris").version == "4"
        assert plain.get_metadata("iris").artifact.serializer == "cloudpickle"
    runner = _cli("ls", "--registry", str(root))
    assert runner.exit_code == 0, runner.output
    assert [row["version"] for row in json.loads(runner.stdout)] == ["1", "2", "3", "4"]
    real = _console("ls", "--registry", str(root), "--json")
    assert real.returncode == 0, real.stderr
    assert len(json.loads(real.stdout)) == 4
    saved = _cli("save", str(_dump(tmp_path, logistic)), "-n", "iris", "--registry", str(root))
    assert json.loads(saved.stdout)["version"] == "5"
    assert _other_store_files(root, store) == []  # no second store, ever


def _dump(tmp_path: Path, model: Any) -> Path:
    import joblib

    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    return path


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize(
    ("option", "value", "recorded"),
    [("store", None, None), ("versioning", "semver", "integer"), ("storage", "fsspec", "local")],
)
def test_a_contradicting_option_is_a_config_error_naming_both(
    tmp_path: Path,
    store: str,
    option: str,
    value: str | None,
    recorded: str | None,
    logistic: LogisticRegression,
) -> None:
    root = tmp_path / "r"
    _make(root, store, logistic, versions=1)
    before = sorted(p.name for p in root.iterdir())
    if option == "store":
        value, recorded = ("json" if store == "sqlite" else "sqlite"), store
    contradicting: dict[str, Any] = {option: value}
    with pytest.raises(ConfigError) as info:
        ModelRegistry(root, **contradicting)
    assert f"{option} {recorded!r}" in str(info.value)
    assert f"{option} {value!r}" in str(info.value)
    # The same through the CLI (--store is the one plugin option every command takes),
    # and through modelshelf.toml.
    if option == "store":
        result = CliRunner().invoke(cli, ["ls", "--registry", str(root), "--store", str(value)])
        assert result.exit_code == 2
        assert repr(value) in result.stderr and repr(recorded) in result.stderr
    (root / "modelshelf.toml").write_text(f'{option} = "{value}"\n')
    with pytest.raises(ConfigError, match=r"modelshelf\.toml"):
        ModelRegistry(root)
    (root / "modelshelf.toml").unlink()
    assert sorted(p.name for p in root.iterdir()) == before  # nothing created beside


def test_the_serializer_is_a_default_not_a_binding(
    tmp_path: Path, logistics: list[LogisticRegression]
) -> None:
    root = tmp_path / "r"
    _make(root, "sqlite", logistics[:1], versions=1)
    with ModelRegistry(root, serializer="joblib") as other:
        model_id = other.save_model(logistics[1], model_name="iris")
        assert other.get_metadata(model_id).artifact.serializer == "joblib"
    with ModelRegistry(root) as plain:
        assert plain.serializer.name == "cloudpickle"
        assert plain.load(model_id).model.C == logistics[1].C
        assert plain.load("iris:1").model.C == logistics[0].C


@pytest.mark.parametrize("store", STORES)
def test_a_registry_without_a_record_is_recognised_by_its_files(
    tmp_path: Path, store: str, logistic: LogisticRegression
) -> None:
    root = tmp_path / "r"
    _make(root, store, logistic)
    (root / MANIFEST_FILE).unlink()  # as made before registries kept a record
    shutil.rmtree(root / SIDECAR_DIR)
    with ModelRegistry(root) as plain:
        assert [m.version for m in plain.list_models()] == ["1", "2", "3"]
        assert plain.versioning.name == "integer"  # read off the versions
    result = _cli("ls", "--registry", str(root))
    assert len(json.loads(result.stdout)) == 3
    other = "json" if store == "sqlite" else "sqlite"
    with pytest.raises(ConfigError, match="second, empty store") as info:
        ModelRegistry(root, store=other)
    assert repr(store) in str(info.value)
    assert _other_store_files(root, store) == []
    assert not (root / MANIFEST_FILE).exists()  # plain opens do not write the record
    # `init` adopts it: records what it is and writes every version's sidecar.
    adopted = _console("init", "--registry", str(root), "--json")
    assert adopted.returncode == 0, adopted.stderr
    record = json.loads((root / MANIFEST_FILE).read_text())
    assert (record["store"], record["versioning"]) == (store, "integer")
    sidecars = sorted(read_sidecar(p).version for _, p in iter_sidecars(root))
    assert sidecars == ["1", "2", "3"]


def test_an_empty_second_store_left_beside_the_first_is_ignored(
    tmp_path: Path, logistic: LogisticRegression
) -> None:
    """What an older `modelshelf ls` left behind: registry.db beside a JSON index."""
    root = tmp_path / "r"
    _make(root, "json", logistic)
    (root / MANIFEST_FILE).unlink()
    SqliteStore(root / "registry.db").close()
    assert (root / "registry.db").exists()
    with ModelRegistry(root) as plain:
        assert len(plain.list_models()) == 3
        assert type(plain.store).__name__ == "JsonStore"


def test_store_options_reach_the_store_from_code_and_from_the_file(tmp_path: Path) -> None:
    with ModelRegistry(tmp_path / "a", store_options={"busy_timeout": 7}) as reg:
        assert reg.store._conn.execute("PRAGMA busy_timeout").fetchone()[0] == 7000  # type: ignore[attr-defined]
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "modelshelf.toml").write_text(
        'store = "json"\n[store_options]\nlock_timeout = 3.5\n'
    )
    with ModelRegistry(tmp_path / "b") as reg:
        assert reg.store._file_lock.timeout == 3.5  # type: ignore[attr-defined]
    with pytest.raises(PluginError, match="nonesuch"):
        ModelRegistry(tmp_path / "c", store_options={"nonesuch": 1})
    with pytest.raises(StoreError, match="busy_timeout"):
        ModelRegistry(tmp_path / "d", store_options={"busy_timeout": "soon"})
    assert not (tmp_path / "c" / "registry.db").exists()


def test_remote_registries_keep_working_without_a_record(
    tmp_path: Path, logistic: LogisticRegression
) -> None:
    url = str(tmp_path / "meta.db")
    with ModelRegistry("memory://manifest-remote", store_url=url) as reg:
        reg.save_model(logistic, model_name="iris")
        assert reg.manifest is None
    with ModelRegistry("memory://manifest-remote", store_url=url) as again:
        assert again.load("iris").model is not None
    assert sorted(os.listdir(tmp_path)) == ["meta.db", "meta.db-writers.lock"]


def test_a_store_kept_elsewhere_is_found_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, logistic: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "meta").mkdir()
    with ModelRegistry("r", store_url="meta/elsewhere.db") as reg:
        reg.save_model(logistic, model_name="iris")
    monkeypatch.chdir(tmp_path / "meta")  # the record holds an absolute path
    with ModelRegistry(tmp_path / "r") as again:
        assert len(again.list_models()) == 1
    assert not (tmp_path / "r" / "registry.db").exists()
    # A URL with credentials is never written down.
    assert recordable_url("postgresql://ml:secret@db/models") is None
    assert recordable_url("postgresql://db/models") == "postgresql://db/models"
