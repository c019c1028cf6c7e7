"""Checking a bundle completely, then importing it.

Nothing is recorded until every check has passed (checksums, signature,
metadata, model file hashes); then each version goes through
:meth:`ModelRegistry.import_version`, which writes files before records.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelshelf import converter
from modelshelf._bundle_format import (
    BUNDLE_FORMAT,
    CHECKSUMS,
    MANIFEST,
    METADATA,
    REGISTRY_FORMAT,
    REGISTRY_MANIFEST,
    ImportConflictError,
    ImportedVersion,
    OnConflict,
    Progress,
    VerifiedBundle,
    _check_checksums,
    _opened,
    _read_manifest,
    _safe_relative,
)
from modelshelf.errors import (
    DuplicateVersionError,
    IntegrityError,
    InvalidInputError,
)
from modelshelf.metadata import ModelMetadata, Stage
from modelshelf.query import Query

if TYPE_CHECKING:
    from pathlib import Path

    from modelshelf.registry import ModelRegistry


# -- verification ----------------------------------------------------------------------


def read_bundle(registry: ModelRegistry, root: Path) -> VerifiedBundle:
    """Check an extracted version bundle completely; raise on the first problem."""
    signed, checked, listed = _check_checksums(root, registry)
    manifest = _read_manifest(root, MANIFEST, BUNDLE_FORMAT)
    try:
        metadata = converter.loads((root / METADATA).read_bytes())
    except InvalidInputError as exc:
        # Its checksums passed, so these bytes were written this way on purpose.
        raise IntegrityError(
            str(root / METADATA), f"not valid metadata, refusing the bundle: {exc}"
        ) from exc
    model = manifest.get("model")
    artifacts = manifest.get("artifacts")
    if not isinstance(model, str) or not isinstance(artifacts, dict):
        raise InvalidInputError(f"{root / MANIFEST}: 'model' and 'artifacts' are required")
    paths = {"": model, **artifacts}
    if set(paths) != {"", *metadata.artifacts}:
        raise IntegrityError(
            str(root),
            f"manifest artifacts {sorted(artifacts)} differ from the metadata's "
            f"{sorted(metadata.artifacts)}",
        )
    files: dict[str, Path] = {}
    for name, rel in paths.items():
        if not isinstance(rel, str):
            raise InvalidInputError(f"{root / MANIFEST}: file of {name or 'model'!r} is not a path")
        relative = _safe_relative(rel, str(root / MANIFEST)).as_posix()
        path = root / relative
        if relative not in listed:
            raise IntegrityError(str(path), f"not a file covered by {CHECKSUMS}")
        ref = metadata.artifact if name == "" else metadata.artifacts[name]
        sha, size = listed[relative], path.stat().st_size  # hashed by _check_checksums
        if sha != ref.sha256 or size != ref.size:
            raise IntegrityError(
                str(path),
                f"does not match the metadata (expected {ref.sha256}, {ref.size} bytes; "
                f"found {sha}, {size} bytes)",
                expected=ref.sha256,
                actual=sha,
            )
        files[name] = path
    return VerifiedBundle(
        path=root, metadata=metadata, files=files, signed=signed, signature_checked=checked
    )


def read_registry_bundle(registry: ModelRegistry, root: Path) -> list[VerifiedBundle]:
    """Check a registry bundle and every version in it."""
    _check_checksums(root, registry, exclude_dirs=("versions",))
    manifest = _read_manifest(root, REGISTRY_MANIFEST, REGISTRY_FORMAT)
    names = manifest.get("versions")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise InvalidInputError(f"{root / REGISTRY_MANIFEST}: 'versions' must be a list of paths")
    listed = {_safe_relative(n, str(root / REGISTRY_MANIFEST)).as_posix() for n in names}
    versions_dir = root / "versions"
    present = (
        {f"versions/{p.name}" for p in versions_dir.iterdir()} if versions_dir.is_dir() else set()
    )
    if listed != present:
        raise IntegrityError(
            str(root),
            f"{REGISTRY_MANIFEST} lists {sorted(listed - present)} that are missing and "
            f"omits {sorted(present - listed)} that are present",
        )
    bundles = [read_bundle(registry, root / name) for name in names]
    seen: set[str] = set()
    for bundle in bundles:
        if bundle.metadata.reference in seen:
            raise IntegrityError(str(root), f"{bundle.metadata.reference} appears twice")
        seen.add(bundle.metadata.reference)
    return bundles


def is_registry_bundle(root: Path) -> bool:
    return (root / REGISTRY_MANIFEST).is_file()


def verify_path(registry: ModelRegistry, path: Path) -> list[VerifiedBundle]:
    """Check a bundle or registry bundle (directory or archive) without importing it."""
    with _opened(path) as root:
        if is_registry_bundle(root):
            return read_registry_bundle(registry, root)
        return [read_bundle(registry, root)]


# -- import ----------------------------------------------------------------------------


def _plan_version(
    registry: ModelRegistry, metadata: ModelMetadata, on_conflict: OnConflict
) -> str | None:
    """The version to record, or None to let the scheme number it."""
    if on_conflict not in ("refuse", "renumber"):
        raise InvalidInputError(f"on_conflict must be 'refuse' or 'renumber', got {on_conflict!r}")
    try:
        registry.versioning.validate(metadata.version)
    except InvalidInputError as exc:
        if on_conflict == "refuse":
            raise ImportConflictError(
                f"{metadata.reference}: {exc}; import with renumbering "
                "(on_conflict='renumber', --on-conflict renumber) to give it the next version"
            ) from exc
        return None
    if not registry.store.count(Query(model_name=metadata.model_name, version=metadata.version)):
        return metadata.version
    if on_conflict == "refuse":
        raise ImportConflictError(
            f"{metadata.reference} already exists in {registry.storage_path}; nothing was "
            "imported (import with renumbering, on_conflict='renumber' or "
            "--on-conflict renumber, to give it the next version)"
        )
    return None


def _record(
    registry: ModelRegistry,
    bundle: VerifiedBundle,
    *,
    version: str | None,
    keep_stage: bool,
    parent_id: int | None,
    renumber: bool = False,
) -> ImportedVersion:
    source = bundle.metadata
    notes: list[str] = []
    stage = source.stage if keep_stage else Stage.NONE
    if stage is Stage.PRODUCTION and registry.get_production_model(source.model_name):
        notes.append(
            f"{source.model_name} already has a Production version here; imported with no stage"
        )
        stage = Stage.NONE
    try:
        recorded = registry.import_version(
            source, bundle.files, version=version, stage=stage, parent_id=parent_id
        )
    except DuplicateVersionError:
        if not renumber or version is None:
            raise
        # Taken (or retired by a delete) since it was planned: renumbering
        # means the scheme numbers it, inside the store's own transaction.
        recorded = registry.import_version(
            source, bundle.files, version=None, stage=stage, parent_id=parent_id
        )
    for alias in source.aliases:
        if registry.list_models(model_name=source.model_name, alias=alias):
            notes.append(f"alias {alias!r} already points at a version here; left as it was")
            continue
        recorded = registry.set_alias(recorded.model_id, alias, reason="import")
    return ImportedVersion(
        source_reference=source.reference,
        source_model_id=source.model_id,
        metadata=recorded,
        renumbered=recorded.version != source.version,
        notes=tuple(notes),
    )


def import_bundle(
    registry: ModelRegistry,
    path: Path,
    *,
    on_conflict: OnConflict = "refuse",
    keep_stage: bool = True,
) -> ImportedVersion:
    """Verify one version bundle completely, then record it in ``registry``."""
    with _opened(path) as root:
        if is_registry_bundle(root):
            raise InvalidInputError(f"{path} is a registry bundle; use import_registry")
        bundle = read_bundle(registry, root)
        version = _plan_version(registry, bundle.metadata, on_conflict)
        return _record(
            registry,
            bundle,
            version=version,
            keep_stage=keep_stage,
            parent_id=None,
            renumber=on_conflict == "renumber",
        )


def import_registry(
    registry: ModelRegistry,
    path: Path,
    *,
    on_conflict: OnConflict = "refuse",
    keep_stage: bool = True,
    progress: Progress | None = None,
) -> list[ImportedVersion]:
    """Verify a whole registry bundle, then record its versions oldest first.

    With ``on_conflict="refuse"`` any clash stops the import before anything
    is recorded. Lineage (``parent_id``) is carried over when the parent is
    part of the same bundle.
    """
    with _opened(path) as root:
        if not is_registry_bundle(root):
            raise InvalidInputError(f"{path} is a single-version bundle; use import_bundle")
        bundles = read_registry_bundle(registry, root)
        plans = [_plan_version(registry, b.metadata, on_conflict) for b in bundles]
        imported: list[ImportedVersion] = []
        new_ids: dict[int, int] = {}
        for done, (bundle, version) in enumerate(zip(bundles, plans, strict=True)):
            if progress:
                progress(done, len(bundles), bundle.metadata.reference)
            if version is not None and registry.store.count(
                Query(model_name=bundle.metadata.model_name, version=version)
            ):
                version = None  # taken by an earlier version of this very import
            parent = bundle.metadata.parent_id
            result = _record(
                registry,
                bundle,
                version=version,
                keep_stage=keep_stage,
                parent_id=new_ids.get(parent) if parent is not None else None,
                renumber=on_conflict == "renumber",
            )
            new_ids[bundle.metadata.model_id] = result.metadata.model_id
            imported.append(result)
        if progress:
            progress(len(bundles), len(bundles), "")
        return imported


def import_path(
    registry: ModelRegistry,
    path: Path,
    *,
    on_conflict: OnConflict = "refuse",
    keep_stage: bool = True,
    progress: Progress | None = None,
) -> list[ImportedVersion]:
    """Import whatever bundle ``path`` holds: one version or a whole registry."""
    with _opened(path) as root:
        if is_registry_bundle(root):
            return import_registry(
                registry, root, on_conflict=on_conflict, keep_stage=keep_stage, progress=progress
            )
        return [import_bundle(registry, root, on_conflict=on_conflict, keep_stage=keep_stage)]
