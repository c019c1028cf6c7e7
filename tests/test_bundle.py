"""Export bundles: complete, self-checking, and refused when anything was changed."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from typing import TYPE_CHECKING, Any

import pytest
from sklearn.preprocessing import StandardScaler

from modelshelf import IntegrityError, InvalidInputError, ModelRegistry, Stage, converter
from modelshelf.bundle import (
    ImportConflictError,
    export_registry,
    export_version,
    import_bundle,
    import_path,
    import_registry,
    verify_path,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    import numpy as np
    from sklearn.linear_model import LogisticRegression


@pytest.fixture
def source(
    make_registry: Callable[..., ModelRegistry],
    logistic: LogisticRegression,
    iris: tuple[np.ndarray, np.ndarray],
) -> ModelRegistry:
    """A registry with two names, lineage, a Production version, an alias and a scaler."""
    X, _ = iris
    registry = make_registry()
    first = registry.save_model(
        logistic,
        model_name="iris",
        metrics={"f1": 0.91, "roc_auc": 0.97},
        hyperparameters={"C": 1.0, "solver": "lbfgs"},
        description="baseline",
        tags={"team": "vision"},
        training_info={"dataset": "iris", "n_samples": 150, "class_distribution": {"0": 50}},
        artifacts={"scaler": StandardScaler().fit(X)},
    )
    registry.save_model(logistic, model_name="iris", metrics={"f1": 0.95}, parent_id=first)
    registry.save_model(logistic, model_name="other", metrics={"f1": 0.5})
    registry.transition_stage("iris", "1.0.1", "Production")
    registry.set_alias("iris:1.0.0", "champion")
    return registry


def _target(tmp_path: Path, name: str = "target", **options: Any) -> ModelRegistry:
    options.setdefault("store", "json")
    options.setdefault("serializer", "cloudpickle")
    return ModelRegistry(tmp_path / name, **options)


def _stored_files(registry: ModelRegistry) -> list[str]:
    return sorted(registry.storage.iter_keys())


def _rewrite_checksums(root: Path) -> None:
    """What a careful attacker does after editing files: recompute the checksums."""
    lines = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel not in ("checksums", "signature"):
            lines.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {rel}\n")
    (root / "checksums").write_text("".join(lines))


def test_version_bundle_holds_model_metadata_checksums_and_card(
    source: ModelRegistry, tmp_path: Path
) -> None:
    bundle = export_version(source, "iris:1.0.0", tmp_path / "b")
    files = sorted(p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file())
    assert files == [
        "README.md",
        "artifacts/scaler.joblib",
        "checksums",
        "manifest.json",
        "metadata.json",
        "model/model.joblib",
    ]
    listed: dict[str, str] = {}
    for line in (bundle / "checksums").read_text().splitlines():
        sha, rel = line.split("  ", 1)
        listed[rel] = sha
    assert set(listed) == set(files) - {"checksums"}
    for rel, sha in listed.items():
        assert hashlib.sha256((bundle / rel).read_bytes()).hexdigest() == sha
    metadata = converter.loads((bundle / "metadata.json").read_text())
    assert metadata == source.get_metadata("iris:1.0.0")
    card = (bundle / "README.md").read_text()
    assert "# iris 1.0.0" in card
    assert "| f1 | 0.91 |" in card
    assert '| solver | `"lbfgs"` |' in card
    assert "| Dataset | iris |" in card
    assert "| Samples | 150 |" in card
    assert 'registry.load("iris:1.0.0").model' in card
    assert "| scaler | `artifacts/scaler.joblib` |" in card


@pytest.mark.parametrize("suffix", ["", ".tar.gz"])
def test_export_then_import_into_a_fresh_registry_and_load(
    source: ModelRegistry,
    tmp_path: Path,
    suffix: str,
    iris: tuple[np.ndarray, np.ndarray],
    logistic: LogisticRegression,
) -> None:
    X, _ = iris
    path = export_version(source, "iris@champion", tmp_path / f"bundle{suffix}")
    assert path.is_file() == bool(suffix)
    target = _target(tmp_path)
    result = import_bundle(target, path)
    original = source.get_metadata("iris:1.0.0")
    imported = result.metadata
    assert (imported.reference, result.renumbered) == ("iris:1.0.0", False)
    for field in ("metrics", "hyperparameters", "description", "tags", "created_at", "stage"):
        assert getattr(imported, field) == getattr(original, field), field
    assert imported.training_info == original.training_info
    assert imported.aliases == ("champion",)
    assert imported.artifact.sha256 == original.artifact.sha256
    assert imported.artifact.serializer == "joblib"  # bytes kept as stored
    loaded = target.load("iris@champion")
    assert (loaded.model.predict(X) == logistic.predict(X)).all()
    assert loaded.artifacts["scaler"].mean_ == pytest.approx(X.mean(axis=0))
    assert target.verify().ok
    target.close()


def test_import_refuses_or_renumbers_a_clash(source: ModelRegistry, tmp_path: Path) -> None:
    path = export_version(source, "iris:1.0.1", tmp_path / "b.tar.gz")
    target = _target(tmp_path)
    first = import_bundle(target, path)
    assert first.metadata.stage is Stage.PRODUCTION
    files = _stored_files(target)
    with pytest.raises(ImportConflictError, match=r"iris:1\.0\.1 already exists"):
        import_bundle(target, path)
    assert _stored_files(target) == files
    again = import_bundle(target, path, on_conflict="renumber")
    assert (again.metadata.version, again.renumbered) == ("1.0.2", True)
    assert again.metadata.stage is Stage.NONE  # one Production per name
    assert "already has a Production version" in again.notes[0]
    with pytest.raises(InvalidInputError, match="on_conflict"):
        import_bundle(target, path, on_conflict="merge")  # type: ignore[arg-type]
    target.close()


def test_whole_registry_round_trip_keeps_lineage_stages_and_aliases(
    source: ModelRegistry, tmp_path: Path
) -> None:
    seen: list[tuple[int, int]] = []
    exported = export_registry(
        source, tmp_path / "all.tar.gz", progress=lambda d, t, _: seen.append((d, t))
    )
    assert exported.references == ("iris:1.0.0", "iris:1.0.1", "other:1.0.0")
    assert (3, 3) in seen  # every version written...
    files, total = seen[-1]
    assert files == total > 3  # ...then every file compressed (the archive's longest part)
    target = _target(tmp_path)
    target.save_model([1, 2], model_name="unrelated")
    results = import_registry(target, exported.path)
    assert tuple(r.metadata.reference for r in results) == exported.references
    by_ref = {m.reference: m for m in target.list_models()}
    assert by_ref["iris:1.0.1"].parent_id == by_ref["iris:1.0.0"].model_id
    assert target.get_production_model("iris") == by_ref["iris:1.0.1"]
    assert by_ref["iris:1.0.0"].aliases == ("champion",)
    # Refusing a clash records nothing at all, even for versions that would fit.
    before = [m.model_id for m in target.list_models()]
    source.save_model([3], model_name="fresh")
    again = export_registry(source, tmp_path / "again")
    with pytest.raises(ImportConflictError):
        import_path(target, again.path)
    assert [m.model_id for m in target.list_models()] == before
    renumbered = import_path(target, again.path, on_conflict="renumber")
    assert [r.metadata.version for r in renumbered] == ["1.0.2", "1.0.3", "1.0.1", "1.0.0"]
    target.close()


def test_export_refuses_a_damaged_stored_file(source: ModelRegistry, tmp_path: Path) -> None:
    metadata = source.get_metadata("other")
    path = source.storage.local_path(metadata.artifact.key)
    assert path is not None
    path.write_bytes(path.read_bytes()[:-1] + b"\x00")
    with pytest.raises(IntegrityError, match="refusing to export"):
        export_version(source, "other", tmp_path / "b")
    assert not (tmp_path / "b").exists()


def _imports_nothing(target: ModelRegistry, path: Path, match: str) -> None:
    with pytest.raises(IntegrityError, match=match):
        import_path(target, path)
    assert target.list_models() == []
    assert _stored_files(target) == []


def test_tampered_bundles_are_refused_before_anything_is_recorded(
    source: ModelRegistry, tmp_path: Path
) -> None:
    target = _target(tmp_path)
    bundle = export_version(source, "iris:1.0.0", tmp_path / "b")

    model = bundle / "model" / "model.joblib"
    pristine = model.read_bytes()
    model.write_bytes(pristine[:100] + bytes([pristine[100] ^ 1]) + pristine[101:])
    _imports_nothing(target, bundle, "checksum mismatch")
    _rewrite_checksums(bundle)  # checksums agree again, the metadata still does not
    _imports_nothing(target, bundle, "does not match the metadata")
    model.write_bytes(pristine)
    _rewrite_checksums(bundle)

    metadata = bundle / "metadata.json"
    original = metadata.read_text()
    metadata.write_text(original.replace('"f1":0.91', '"f1":0.99'))
    _imports_nothing(target, bundle, "checksum mismatch")
    metadata.write_text(original)

    (bundle / "model" / "extra.py").write_text("import os\n")
    _imports_nothing(target, bundle, "not covered by checksums")
    (bundle / "model" / "extra.py").unlink()
    (bundle / "README.md").unlink()
    _imports_nothing(target, bundle, "missing")
    target.close()


def test_signed_bundles_resist_recomputed_checksums(
    make_registry: Callable[..., ModelRegistry], logistic: LogisticRegression, tmp_path: Path
) -> None:
    source = make_registry(signing_key="team-secret")
    source.save_model(logistic, model_name="iris", metrics={"f1": 0.6})
    bundle = export_version(source, "iris", tmp_path / "b")
    assert (bundle / "signature").is_file()
    signed_target = _target(tmp_path, signing_key="team-secret")
    assert verify_path(signed_target, bundle)[0].signature_checked

    metadata = bundle / "metadata.json"
    metadata.write_text(metadata.read_text().replace('"f1":0.6', '"f1":0.99'))
    _rewrite_checksums(bundle)
    _imports_nothing(signed_target, bundle, "signature does not match")
    _imports_nothing(_target(tmp_path, "wrong", signing_key="other-key"), bundle, "signature")
    (bundle / "signature").unlink()
    _imports_nothing(signed_target, bundle, "not signed")
    signed_target.close()


def _evil_archive(path: Path, members: list[tarfile.TarInfo]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for member in members:
            data = b"owned\n" if member.isfile() else b""
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data) if data else None)
    return path


@pytest.mark.parametrize(
    ("name", "kind", "link", "match"),
    [
        ("b/../../escaped.txt", tarfile.REGTYPE, "", "unsafe path"),
        ("/tmp/absolute.txt", tarfile.REGTYPE, "", "unsafe path"),
        ("b/model/model.joblib", tarfile.SYMTYPE, "/etc/passwd", "link or device"),
        ("b/model/model.joblib", tarfile.LNKTYPE, "b/README.md", "link or device"),
    ],
)
def test_unsafe_archive_members_are_refused_before_extraction(
    source: ModelRegistry, tmp_path: Path, name: str, kind: bytes, link: str, match: str
) -> None:
    good = export_version(source, "other", tmp_path / "good")
    members = []
    for file in sorted(p for p in good.rglob("*") if p.is_file()):
        info = tarfile.TarInfo(f"b/{file.relative_to(good).as_posix()}")
        members.append(info)
    evil = tarfile.TarInfo(name)
    evil.type = kind
    evil.linkname = link
    archive = _evil_archive(tmp_path / "evil.tar.gz", [evil, *members])
    target = _target(tmp_path)
    _imports_nothing(target, archive, match)
    assert not (tmp_path / "escaped.txt").exists()
    target.close()


def test_not_a_bundle_is_bad_input(tmp_path: Path) -> None:
    target = _target(tmp_path)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "checksums").write_text("")
    with pytest.raises(InvalidInputError, match="not a modelshelf bundle"):
        import_path(target, tmp_path / "empty")
    (tmp_path / "x.zip").write_bytes(b"PK")
    with pytest.raises(InvalidInputError, match=r"\.tar\.gz"):
        import_path(target, tmp_path / "x.zip")
    (tmp_path / "x.tar.gz").write_bytes(b"not gzip")
    with pytest.raises(IntegrityError, match="not a readable"):
        import_path(target, tmp_path / "x.tar.gz")
    manifest = {"format": "modelshelf-bundle", "format_version": 99}
    (tmp_path / "empty" / "manifest.json").write_text(json.dumps(manifest))
    _rewrite_checksums(tmp_path / "empty")
    with pytest.raises(InvalidInputError, match="newer than this modelshelf"):
        import_path(target, tmp_path / "empty")
    target.close()
