"""Names that would address files outside a bundle, an export or the storage.

A bundle's ``metadata.json`` names each auxiliary artifact, and the stored
key's extension becomes part of the file name an export writes. A crafted
bundle that renames an artifact to ``../../site-packages/evil`` with a
``.pth`` key (a file Python runs at start-up) must be refused wherever it
enters, and no write may ever leave its target directory, even for a record
that reached a store before names were checked.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import tarfile
from typing import IO, TYPE_CHECKING, Any

import pytest
from click.testing import CliRunner
from sklearn.preprocessing import StandardScaler

from modelshelf import (
    ArtifactRef,
    IntegrityError,
    InvalidInputError,
    InvalidMetadataError,
    ModelMetadata,
    ModelRegistry,
    ModelShelfError,
    UnsafePathError,
    converter,
)
from modelshelf.bundle import (
    _contained,
    export_registry,
    export_version,
    import_path,
    read_bundle,
    verify_path,
)
from modelshelf.cli import EXIT_CODES, cli
from modelshelf.transfer import transfer

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    import numpy as np
    from sklearn.linear_model import LogisticRegression

#: Where a traversal aims: a directory beside the bundle, made to exist so a
#: write that escaped would succeed (and be seen) rather than fail by luck.
TRAVERSAL = "../../../../../../site-packages/evil"
#: A store reading such a record back refuses it (naming the rule) or leaves it out.
REFUSED_RECORD = r"must not contain '/'|no model"


@pytest.fixture(params=["sqlite", "json"])
def source(
    request: pytest.FixtureRequest,
    make_registry: Callable[..., ModelRegistry],
    logistic: LogisticRegression,
    iris: tuple[np.ndarray, np.ndarray],
) -> ModelRegistry:
    registry = make_registry(store=request.param)
    X, _ = iris
    registry.save_model(
        logistic,
        model_name="iris",
        metrics={"f1": 0.9},
        artifacts={"scaler": StandardScaler().fit(X)},
    )
    return registry


@pytest.fixture
def site_packages(tmp_path: Path) -> Path:
    path = tmp_path / "site-packages"
    path.mkdir()
    return path


def _with_pth_key(ref: dict[str, Any]) -> dict[str, Any]:
    stem = ref["key"].rsplit(".", 1)[0]
    return {**ref, "key": f"{stem}.pth"}


def _rename_artifact(metadata: dict[str, Any], old: str, new: str) -> None:
    metadata["artifacts"][new] = _with_pth_key(metadata["artifacts"].pop(old))


def _recompute_checksums(root: Path) -> None:
    lines = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel not in ("checksums", "signature"):
            lines.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {rel}\n")
    (root / "checksums").write_text("".join(lines))


def _craft(source: ModelRegistry, tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """A bundle whose metadata was edited and whose checksums agree again."""
    bundle = export_version(source, "iris", tmp_path / "crafted")
    metadata = json.loads((bundle / "metadata.json").read_text())
    manifest = json.loads((bundle / "manifest.json").read_text())
    before = set(metadata["artifacts"])
    edit(metadata)
    after = set(metadata["artifacts"])
    # The manifest maps the same file (inside the bundle) to the new name.
    for old, new in zip(sorted(before - after), sorted(after - before), strict=True):
        manifest["artifacts"][new] = manifest["artifacts"].pop(old)
    (bundle / "metadata.json").write_text(json.dumps(metadata))
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    _recompute_checksums(bundle)
    return bundle


def _archive(directory: Path) -> Path:
    path = directory.with_name(f"{directory.name}.tar.gz")
    with tarfile.open(path, "w:gz") as archive:
        archive.add(directory, arcname=directory.name)
    return path


def _everything_under(root: Path) -> set[str]:
    """Every path below ``root``, except the SQLite journal files a reopened registry adds."""
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if not p.name.endswith(("registry.db-wal", "registry.db-shm"))
    }


EDITS: dict[str, Callable[[dict[str, Any]], None]] = {
    "traversal-name-pth-key": lambda m: _rename_artifact(m, "scaler", TRAVERSAL),
    "dotdot-name": lambda m: _rename_artifact(m, "scaler", ".."),
    "absolute-name": lambda m: _rename_artifact(m, "scaler", "/tmp/evil"),
    "traversal-key": lambda m: m["artifacts"]["scaler"].update(
        key="../../../site-packages/evil.pth"
    ),
    "separator-in-extension": lambda m: m["artifact"].update(key="iris/abc.p/../../../evil.pth"),
    "odd-extension": lambda m: m["artifact"].update(key="iris/abc.pth;rm -rf"),
}


@pytest.mark.parametrize("form", ["directory", "tar.gz"])
@pytest.mark.parametrize("edit", sorted(EDITS))
def test_crafted_bundle_is_refused_everywhere_and_writes_nothing(
    source: ModelRegistry, tmp_path: Path, site_packages: Path, form: str, edit: str
) -> None:
    crafted = _craft(source, tmp_path, EDITS[edit])
    path = crafted if form == "directory" else _archive(crafted)
    target = ModelRegistry(tmp_path / "target", store="sqlite")
    before = _everything_under(tmp_path)

    with pytest.raises(IntegrityError, match="not valid metadata"):
        import_path(target, path)
    with pytest.raises(IntegrityError, match="not valid metadata"):
        verify_path(target, path)
    with pytest.raises(IntegrityError, match="not valid metadata"):
        read_bundle(target, crafted)
    result = CliRunner().invoke(
        cli,
        ["verify", "--bundle", str(path)],
        env={"MODELSHELF_REGISTRY": str(tmp_path / "target")},
    )
    assert result.exit_code == 3, result.output
    assert EXIT_CODES[3].startswith("integrity failure")
    assert "not valid metadata" in result.stderr

    assert target.list_models() == []
    assert sorted(target.storage.iter_keys()) == []
    assert list(site_packages.iterdir()) == []
    assert _everything_under(tmp_path) == before
    target.close()


def test_the_error_names_the_field_and_the_rule(source: ModelRegistry, tmp_path: Path) -> None:
    crafted = _craft(source, tmp_path, EDITS["traversal-name-pth-key"])
    with pytest.raises(IntegrityError) as raised:
        read_bundle(source, crafted)
    assert f"artifacts: {TRAVERSAL!r} must not contain '/'" in str(raised.value)


def _store_of(registry: ModelRegistry) -> str:
    return "sqlite" if (registry.storage_path / "registry.db").exists() else "json"


def _poison(
    registry: ModelRegistry, edit: Callable[[dict[str, Any]], None], opened: list[ModelRegistry]
) -> Callable[[], ModelRegistry]:
    """Rewrite the stored record the way a registry written before names were
    checked could hold it, straight in the store's files; returns how to reopen it
    (a store may already refuse to open a registry holding such a record)."""
    registry.close()
    store = _store_of(registry)
    if store == "sqlite":
        with sqlite3.connect(registry.storage_path / "registry.db") as db:
            (data,) = db.execute("SELECT data FROM models").fetchone()
            payload = json.loads(data)
            edit(payload)
            db.execute("UPDATE models SET data = ?", (json.dumps(payload),))
        db.close()
    else:
        journal = registry.storage_path / "index.journal"
        lines = []
        for line in journal.read_text().splitlines():
            entry = json.loads(line)
            if entry.get("op") == "add":
                edit(entry["data"])
            lines.append(json.dumps(entry))
        journal.write_text("\n".join(lines) + "\n")

    def reopen() -> ModelRegistry:
        opened.append(ModelRegistry(registry.storage_path, store=store))
        return opened[-1]

    return reopen


def test_export_of_a_poisoned_record_writes_nothing_outside(
    source: ModelRegistry, tmp_path: Path, site_packages: Path
) -> None:
    """However a store treats the bad record (refusing the row or the whole
    registry), no export writes a file for it, inside or outside its target."""
    model_id = source.get_metadata("iris").model_id
    opened: list[ModelRegistry] = []
    reopen = _poison(source, EDITS["traversal-name-pth-key"], opened)
    (tmp_path / "out" / "a" / "b" / "c").mkdir(parents=True)
    before = _everything_under(tmp_path)

    for destination in ("bundle", "bundle.tar.gz"):
        with pytest.raises(ModelShelfError, match=REFUSED_RECORD):
            export_version(reopen(), model_id, tmp_path / "out" / "a" / "b" / "c" / destination)
    with pytest.raises(ModelShelfError, match=REFUSED_RECORD):
        export_registry(reopen(), tmp_path / "out" / "all", model_name="iris")
    result = CliRunner().invoke(
        cli,
        ["export", str(model_id), "-o", str(tmp_path / "out" / "cli")],
        env={
            "MODELSHELF_REGISTRY": str(source.storage_path),
            "MODELSHELF_STORE": _store_of(source),
        },
    )
    assert result.exit_code != 0, result.output
    assert re.search(REFUSED_RECORD, result.stderr), result.stderr

    assert list(site_packages.iterdir()) == []
    assert _everything_under(tmp_path) == before
    for registry in opened:
        registry.close()


def test_a_poisoned_record_is_not_transferred(
    source: ModelRegistry, tmp_path: Path, site_packages: Path
) -> None:
    opened: list[ModelRegistry] = []
    reopen = _poison(source, EDITS["traversal-key"], opened)
    destination = ModelRegistry(tmp_path / "destination", store="json")
    with pytest.raises(ModelShelfError, match="not a safe relative key"):
        transfer(reopen(), destination)
    assert destination.list_models() == []
    assert sorted(destination.storage.iter_keys()) == []
    assert list(site_packages.iterdir()) == []
    destination.close()
    for registry in opened:
        registry.close()


def test_reading_a_poisoned_record_says_which_rule_it_breaks(source: ModelRegistry) -> None:
    """Before any store-specific handling, the shared converter refuses the row."""
    row = converter.unstructure(source.get_metadata("iris"))
    EDITS["traversal-name-pth-key"](row)
    with pytest.raises(InvalidInputError, match=f"artifacts: {TRAVERSAL!r} must not contain '/'"):
        converter.structure(row, ModelMetadata)
    row = converter.unstructure(source.get_metadata("iris"))
    EDITS["traversal-key"](row)
    with pytest.raises(InvalidInputError, match="not a safe relative key"):
        converter.structure(row, ModelMetadata)


def test_export_never_writes_outside_even_when_validation_is_bypassed(
    source: ModelRegistry, tmp_path: Path, site_packages: Path
) -> None:
    """Metadata dicts are mutable: a name smuggled in after construction is
    still refused by the export itself, before any file is written."""
    metadata = source.get_metadata("iris")
    metadata.artifacts[TRAVERSAL] = metadata.artifacts.pop("scaler")
    (tmp_path / "out" / "a" / "b" / "c").mkdir(parents=True)
    before = _everything_under(tmp_path)
    source.get_metadata = lambda *args, **kwargs: metadata  # type: ignore[method-assign]
    with pytest.raises(InvalidMetadataError, match="must not contain '/'"):
        export_version(source, "iris", tmp_path / "out" / "a" / "b" / "c" / "bundle")
    assert list(site_packages.iterdir()) == []
    assert _everything_under(tmp_path) == before


def test_every_bundle_write_stays_inside_its_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "artifacts").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    assert _contained(root, "artifacts/scaler.joblib") == root / "artifacts" / "scaler.joblib"
    for rel in ("../outside/x.pth", "artifacts/../../outside/x", "/etc/passwd", "a//b", ""):
        with pytest.raises(UnsafePathError, match="unsafe path"):
            _contained(root, rel)
    (root / "model").symlink_to(outside)
    with pytest.raises(UnsafePathError, match="symlink"):
        _contained(root, "model/model.joblib")
    (root / "card.md").symlink_to(outside / "card.md")
    with pytest.raises(UnsafePathError, match="symlink"):
        _contained(root, "card.md")
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("artifacts", {TRAVERSAL: "ref"}, "must not contain '/'"),
        ("artifacts", {"..": "ref"}, "must not contain '..'"),
        ("artifacts", {"_scaler": "ref"}, "must start with a letter or digit"),
        ("key", "m/../../evil.pth", "not a safe relative key"),
        ("key", "/abs/model.joblib", "not a safe relative key"),
        ("key", "m\\..\\evil.pth", "not a safe relative key"),
        ("key", "m/a.jo/blib", None),
        ("key", "m/model.pth;x", "file extension"),
        ("key", "m/model.a-b", "file extension"),
        ("key", "m/model.", "file extension"),
    ],
)
def test_metadata_refuses_unsafe_names_and_keys(field: str, value: Any, rule: str | None) -> None:
    ref = ArtifactRef(key="m/a.joblib", serializer="joblib", sha256="a" * 64, size=1)
    if field == "key":
        if rule is None:  # a plain directory part with a dot is fine
            assert ArtifactRef(key=value, serializer="joblib", sha256="a" * 64, size=1).key == value
            return
        with pytest.raises(InvalidMetadataError, match=rule):
            ArtifactRef(key=value, serializer="joblib", sha256="a" * 64, size=1)
        return
    artifacts = {name: ref for name in value}
    with pytest.raises(InvalidMetadataError, match=rule):
        ModelMetadata(model_id=1, version="1", model_name="m", artifact=ref, artifacts=artifacts)


def test_valid_names_and_keys_round_trip(tmp_path: Path) -> None:
    ref = ArtifactRef(key="m/0af3.skops", serializer="skops", sha256="a" * 64, size=1)
    plain = ArtifactRef(key="m/no-extension", serializer="joblib", sha256="b" * 64, size=2)
    metadata = ModelMetadata(
        model_id=1,
        version="1",
        model_name="m",
        artifact=ref,
        artifacts={"scaler": plain, "label-encoder.v2": ref},
    )
    assert converter.loads(converter.dumps(metadata)) == metadata


def _writing(data: bytes) -> Callable[[IO[bytes]], None]:
    """A writer for ``ArtifactStore.put`` that writes ``data``."""

    def write(out: IO[bytes]) -> None:
        out.write(data)

    return write


def test_save_refuses_a_serializer_extension_that_is_not_plain(
    make_registry: Callable[..., ModelRegistry], logistic: LogisticRegression
) -> None:
    registry = make_registry()
    registry.serializer.file_extension = ".pth/../../evil"
    with pytest.raises(InvalidMetadataError, match="file extension"):
        registry.save_model(logistic, model_name="iris")
    assert list(registry.storage.iter_keys()) == []
    assert registry.list_models() == []


def test_local_storage_refuses_writes_through_a_symlink_out_of_its_root(
    make_registry: Callable[..., ModelRegistry], tmp_path: Path
) -> None:
    registry = make_registry()
    outside = tmp_path / "outside"
    outside.mkdir()
    storage_root = registry.storage_path / "models"
    (storage_root / "iris").symlink_to(outside)
    with pytest.raises(UnsafePathError, match="outside the storage directory"):
        registry.storage.put("iris/x.joblib", _writing(b"owned"))
    with pytest.raises(UnsafePathError, match="not a safe relative path"):
        registry.storage.put("../../outside/x.pth", _writing(b"owned"))
    assert list(outside.iterdir()) == []


def test_fsspec_storage_on_local_files_refuses_a_symlink_out_of_its_root(
    tmp_path: Path,
) -> None:
    from modelshelf_plugins.fsspec_storage import FsspecArtifactStore

    storage = FsspecArtifactStore(f"file://{tmp_path / 'bucket'}")
    stored = storage.put("iris/model.joblib", _writing(b"model bytes"))
    assert storage.open(stored.key).read() == b"model bytes"
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "bucket" / "models" / "evil").symlink_to(outside)
    with pytest.raises(UnsafePathError, match="outside the storage directory"):
        storage.put("evil/x.pth", _writing(b"owned"))
    with pytest.raises(UnsafePathError, match="outside the storage directory"):
        storage.open("evil/x.pth")
    assert list(outside.iterdir()) == []


def test_compound_extensions_are_plain_enough() -> None:
    from modelshelf.metadata import check_key_suffix

    assert check_key_suffix("file_extension", ".pkl.gz") == ".pkl.gz"
    assert check_key_suffix("file_extension", "") == ""
    for bad in (".a.b.c.d", "pkl", ".pkl/", "..pkl", ".p kl", ".pkl\n"):
        with pytest.raises(InvalidMetadataError, match="file extension"):
            check_key_suffix("file_extension", bad)
    key = "m/0af3.pkl.gz"
    assert ArtifactRef(key=key, serializer="x", sha256="a" * 64, size=1).key == key
