"""Export a version (or a whole registry) to a self-checking bundle, and import it back.

A version bundle is a directory, or a ``.tar.gz`` holding one directory::

    iris-clf-1.0.2/
        manifest.json     what the bundle is and which file is which
        metadata.json     the version's metadata, as the converter writes it
        model/model.joblib              the model file, byte for byte as stored
        artifacts/scaler.joblib         each auxiliary artifact, likewise
        README.md         a model card: metrics, hyperparameters, training, lineage
        checksums         sha256 of every other file (``sha256sum -c`` reads it)
        signature         HMAC-SHA256 of ``checksums``, when signing is on

A registry bundle holds ``registry.json`` (the list of versions, oldest
first), its own ``checksums`` and ``signature``, and one version bundle per
version under ``versions/``.

Import trusts nothing until it has checked everything: archive members
(no absolute paths, no ``..``, no links or devices), that ``checksums`` lists
exactly the files present and each hashes as listed, the signature when the
importing registry has a signing key, that the metadata is valid, and that the
model files hash to what the metadata recorded. Only then does it record
anything, through :meth:`ModelRegistry.import_version`, which writes each
file durably before its record. Bundles never get deserialized on import:
loading a pickle runs code, and that stays the user's explicit choice.

Export lives here; the parts it shares with import are ``_bundle_format``
(file names, checksums, archives, result types), ``_bundle_card`` (the
README.md) and ``_bundle_import`` (checking and importing), whose public
names are importable from here.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from modelshelf import converter

# Names of the parts, importable from here as before.
from modelshelf._bundle_card import model_card as model_card
from modelshelf._bundle_format import (
    _CHUNK,
    _is_archive,
    _now,
    _pack,
    _write_checksums,
    _write_json,
)
from modelshelf._bundle_format import BUNDLE_FORMAT as BUNDLE_FORMAT
from modelshelf._bundle_format import CARD as CARD
from modelshelf._bundle_format import CHECKSUMS as CHECKSUMS
from modelshelf._bundle_format import FORMAT_VERSION as FORMAT_VERSION
from modelshelf._bundle_format import MANIFEST as MANIFEST
from modelshelf._bundle_format import METADATA as METADATA
from modelshelf._bundle_format import REGISTRY_FORMAT as REGISTRY_FORMAT
from modelshelf._bundle_format import REGISTRY_MANIFEST as REGISTRY_MANIFEST
from modelshelf._bundle_format import SIGNATURE as SIGNATURE
from modelshelf._bundle_format import ExportedRegistry as ExportedRegistry
from modelshelf._bundle_format import ImportConflictError as ImportConflictError
from modelshelf._bundle_format import ImportedVersion as ImportedVersion
from modelshelf._bundle_format import OnConflict as OnConflict
from modelshelf._bundle_format import Progress as Progress
from modelshelf._bundle_format import VerifiedBundle as VerifiedBundle
from modelshelf._bundle_format import _contained as _contained
from modelshelf._bundle_import import import_bundle as import_bundle
from modelshelf._bundle_import import import_path as import_path
from modelshelf._bundle_import import import_registry as import_registry
from modelshelf._bundle_import import is_registry_bundle as is_registry_bundle
from modelshelf._bundle_import import read_bundle as read_bundle
from modelshelf._bundle_import import read_registry_bundle as read_registry_bundle
from modelshelf._bundle_import import verify_path as verify_path
from modelshelf.errors import (
    IntegrityError,
    InvalidInputError,
    ModelNotFoundError,
)
from modelshelf.metadata import ModelMetadata, check_key_suffix, check_name
from modelshelf.query import Query

if TYPE_CHECKING:
    from collections.abc import Callable

    from modelshelf.registry import ModelRegistry


__all__ = [
    "BUNDLE_FORMAT",
    "REGISTRY_FORMAT",
    "ExportedRegistry",
    "ImportConflictError",
    "ImportedVersion",
    "VerifiedBundle",
    "export_registry",
    "export_version",
    "import_bundle",
    "import_path",
    "import_registry",
    "is_registry_bundle",
    "model_card",
    "read_bundle",
    "read_registry_bundle",
    "verify_path",
]

# -- export ----------------------------------------------------------------------------


def _copy_verified(registry: ModelRegistry, key: str, sha256: str, size: int, target: Path) -> None:
    digest = hashlib.sha256()
    written = 0
    with registry.storage.open(key) as source, open(target, "xb") as out:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            written += len(chunk)
            out.write(chunk)
    if digest.hexdigest() != sha256 or written != size:
        raise IntegrityError(
            key,
            f"stored file fails its checksum (expected {sha256}, {size} bytes; "
            f"found {digest.hexdigest()}, {written} bytes); refusing to export it",
            expected=sha256,
            actual=digest.hexdigest(),
        )


def _bundle_name(metadata: ModelMetadata) -> str:
    return f"{metadata.model_name}-{metadata.version}"


def _file_name(stem: str, key: str) -> str:
    """``stem`` plus the stored key's extension: the name a file gets in a bundle.

    Checked again here, not only when the record was made, so a record that
    got into a store before names were validated is refused, not exported.
    """
    return check_name("artifacts", stem) + check_key_suffix("key", PurePosixPath(key).suffix)


def _write_version(registry: ModelRegistry, metadata: ModelMetadata, root: Path) -> None:
    files = {"": f"model/{_file_name('model', metadata.artifact.key)}"}
    for name, ref in metadata.artifacts.items():
        files[name] = f"artifacts/{_file_name(name, ref.key)}"
    root.mkdir(parents=True)
    (root / "model").mkdir()
    if metadata.artifacts:
        (root / "artifacts").mkdir()
    for name, rel in files.items():
        ref = metadata.artifact if name == "" else metadata.artifacts[name]
        _copy_verified(registry, ref.key, ref.sha256, ref.size, _contained(root, rel))
    (root / METADATA).write_text(converter.dumps(metadata) + "\n")
    _write_json(
        root / MANIFEST,
        {
            "format": BUNDLE_FORMAT,
            "format_version": FORMAT_VERSION,
            "reference": metadata.reference,
            "model_id": metadata.model_id,
            "model": files[""],
            "artifacts": {k: v for k, v in files.items() if k},
            "exported_at": _now(),
        },
    )
    (root / CARD).write_text(model_card(metadata, files, source=str(registry.storage_path)))
    _write_checksums(root, registry)


def _prepare(destination: Path) -> tuple[Path, bool]:
    destination = Path(destination)
    if destination.exists():
        raise InvalidInputError(f"{destination} already exists; choose a new path")
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise InvalidInputError(f"{destination.parent} is not a directory") from None
    return destination, _is_archive(destination)


def export_version(registry: ModelRegistry, reference: int | str, destination: Path) -> Path:
    """Write one version as a bundle: a directory, or an archive if the path ends .tar.gz."""
    metadata = registry.get_metadata(reference)
    destination, archive = _prepare(destination)
    if not archive:
        _build_atomically(destination, lambda root: _write_version(registry, metadata, root))
        return destination
    with tempfile.TemporaryDirectory(dir=destination.parent, prefix=".modelshelf-") as temp:
        root = Path(temp) / _bundle_name(metadata)
        _write_version(registry, metadata, root)
        _pack(root, destination)
    return destination


def _build_atomically(destination: Path, build: Callable[[Path], None]) -> None:
    """Build a directory under a temporary name and rename it into place when complete."""
    temp = destination.with_name(f".{destination.name}.tmp-{os.getpid()}")
    try:
        build(temp)
        os.replace(temp, destination)
    finally:
        if temp.exists():
            shutil.rmtree(temp)


def _all_versions(registry: ModelRegistry, model_name: str | None) -> list[ModelMetadata]:
    found = [
        m
        for checkpoints in (False, True)
        for m in registry.store.find(Query(model_name=model_name, checkpoints=checkpoints))
    ]
    return sorted(found, key=lambda m: m.model_id)


def export_registry(
    registry: ModelRegistry,
    destination: Path,
    *,
    model_name: str | None = None,
    progress: Progress | None = None,
) -> ExportedRegistry:
    """Write every version (or every version of ``model_name``) as one registry bundle."""
    versions = _all_versions(registry, model_name)
    if model_name is not None and not versions:
        raise ModelNotFoundError(f"no model named {model_name!r}")
    destination, archive = _prepare(destination)

    def build(root: Path) -> None:
        root.mkdir(parents=True)
        names = []
        for done, metadata in enumerate(versions):
            if progress:
                progress(done, len(versions), metadata.reference)
            name = f"versions/{metadata.model_id:06d}-{_bundle_name(metadata)}"
            _write_version(registry, metadata, _contained(root, name))
            names.append(name)
        if progress:
            progress(len(versions), len(versions), "")
        _write_json(
            root / REGISTRY_MANIFEST,
            {
                "format": REGISTRY_FORMAT,
                "format_version": FORMAT_VERSION,
                "versions": names,
                "exported_at": _now(),
                "source": str(registry.storage_path),
            },
        )
        _write_checksums(root, registry, exclude_dirs=("versions",))

    references = tuple(m.reference for m in versions)
    if not archive:
        _build_atomically(destination, build)
        return ExportedRegistry(path=destination, references=references)
    with tempfile.TemporaryDirectory(dir=destination.parent, prefix=".modelshelf-") as temp:
        root = Path(temp) / destination.name.removesuffix(".tar.gz").removesuffix(".tgz")
        build(root)
        _pack(root, destination, progress)
    return ExportedRegistry(path=destination, references=references)
