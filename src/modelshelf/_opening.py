"""Opening a registry: choosing its plugins and checking what it finds.

A registry must open the store that holds its versions, never a second empty
one beside it, and must refuse a store whose metadata was lost rather than
look empty; this part detects stores and versioning from what is on disk
and records the manifest of a new registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelshelf._shared import (
    logger,
)
from modelshelf.errors import (
    ConfigError,
    CorruptMetadataError,
    InvalidInputError,
    MetadataMissingError,
    ModelShelfError,
    StoreError,
)
from modelshelf.manifest import (
    SIDECAR_DIR,
    Manifest,
    has_sidecars,
    new_manifest,
    recordable_url,
    write_manifest,
    write_sidecar,
)
from modelshelf.plugins import (
    METADATA_STORE,
    SERIALIZER,
    VERSIONING,
    PluginKind,
    check_provided,
)
from modelshelf.query import Query

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from modelshelf.config import Settings
    from modelshelf.metadata import (
        ModelMetadata,
    )
    from modelshelf.protocols import (
        Serializer,
    )
    from modelshelf.registry import ModelRegistry


def _footprint(self: ModelRegistry, name: str, url: str | None) -> list[Path] | None:
    """The files store ``name`` keeps its metadata in here, if it says."""
    found = self.plugins.providers(METADATA_STORE).get(name)
    if found is None or found[0].footprint is None:
        return None
    return list(found[0].footprint(self.storage_path, url))


def _present_stores(self: ModelRegistry, url: str | None) -> dict[str, list[Path]]:
    present = {}
    for name in self.plugins.providers(METADATA_STORE):
        paths = [p for p in self._footprint(name, url) or [] if p.is_file()]
        if paths:
            present[name] = paths
    return present


def _detect_store(
    self: ModelRegistry, url: str | None, store_options: Mapping[str, Any] | None, conf: Settings
) -> str | None:
    """The store whose files an unlabelled directory holds (None: nothing there)."""
    if self.remote:
        return None
    present = _present_stores(self, url)
    if len(present) <= 1:
        return next(iter(present), None)
    holding = []
    for name in present:
        probe = self.plugins.create(
            METADATA_STORE,
            name,
            storage_path=self.storage_path,
            url=url,
            **dict(conf.store_options if store_options is None else store_options),
        )
        try:
            if probe.count(Query()) or probe.count(Query(checkpoints=True)):
                holding.append(name)
        finally:
            probe.close()
    if len(holding) == 1:
        logger.warning(
            "%s holds metadata files of several stores (%s); using %r, the only one with versions",
            self.location,
            ", ".join(sorted(present)),
            holding[0],
        )
        return holding[0]
    raise ConfigError(
        f"{self.location} holds the metadata of several stores ("
        + ", ".join(f"{n}: {', '.join(p.name for p in ps)}" for n, ps in present.items())
        + "); say which one it is with store= (or --store), then move the other aside"
    )


def _refuse_second_store(self: ModelRegistry, name: str, url: str | None) -> None:
    """Never start a second, empty store beside the one a directory holds."""
    mine = self._footprint(name, url)
    if mine is None or any(p.is_file() for p in mine):
        return
    others = {n: ps for n, ps in _present_stores(self, url).items() if n != name}
    if others:
        other, paths = next(iter(others.items()))
        raise ConfigError(
            f"the registry at {self.location} keeps its metadata in the {other!r} store "
            f"({', '.join(p.name for p in paths)}), but store {name!r} was asked for, "
            f"which would start a second, empty store beside it; open it with "
            f"store={other!r} or without store="
        )


def _lost_evidence(self: ModelRegistry) -> str | None:
    """Why the registry must once have held versions, judged from its files."""
    if self.remote:
        return None
    sidecars = self.storage_path / SIDECAR_DIR
    if has_sidecars(self.storage_path):
        return f"version sidecars remain in {sidecars}"
    if self.manifest is None:
        key = next(iter(self.storage.iter_keys()), None)
        if key is not None:
            return f"model files remain (e.g. {key})"
    return None


def _check_footprint(self: ModelRegistry, name: str, url: str | None) -> None:
    """Refuse, before the store starts an empty file, when its file is gone."""
    paths = self._footprint(name, url)
    if not self._check_on_open or not paths or any(p.is_file() for p in paths):
        return
    evidence = _lost_evidence(self)
    # Look again: a save elsewhere may have created the file and then the
    # sidecar (in that order) while we looked for evidence.
    if evidence is not None and not any(p.is_file() for p in paths):
        missing = ", ".join(p.name for p in paths)
        raise MetadataMissingError(
            self.location, f"the {name} store's metadata ({missing}) is missing, but {evidence}"
        )


def _open_store(
    self: ModelRegistry, choice: object, url: str | None, options: dict[str, Any]
) -> Any:
    try:
        return _choose(
            self, METADATA_STORE, choice, storage_path=self.storage_path, url=url, **options
        )
    except StoreError as exc:
        if not self.remote or url:
            raise
        raise StoreError(
            f"{exc}; the storage location {self.location} is remote, so the metadata "
            "store needs a location of its own: pass store_url= (e.g. store='postgresql', "
            "store_url='postgresql://...')"
        ) from exc


def _holds_versions(self: ModelRegistry) -> bool:
    """Whether the store records any version (counted: a damaged record still
    counts, and is reported by id when it is read, not when the registry opens)."""
    try:
        return any(self.store.count(Query(checkpoints=c)) for c in (False, True))
    except CorruptMetadataError:
        return True  # a damaged record is still a recorded version


def _check_metadata(self: ModelRegistry, store_choice: object) -> bool:
    """Refuse a store that opened empty although versions were recorded.

    Returns whether the registry is new: no versions and no files at all.
    """
    if _holds_versions(self):
        return False
    if self.remote:
        return True
    evidence = _lost_evidence(self)
    if evidence is not None and _holds_versions(self):
        return False  # a first save elsewhere committed, then wrote its sidecar
    if evidence is not None and self._check_on_open:
        name = store_choice if isinstance(store_choice, str) else type(store_choice).__name__
        raise MetadataMissingError(
            self.location,
            f"the {name} store holds no versions (its metadata is empty, truncated "
            f"or replaced), but {evidence}",
        )
    return evidence is None and next(iter(self.storage.iter_keys()), None) is None


def _detect_versioning(self: ModelRegistry, sample: Sequence[str] | None = None) -> str | None:
    """The scheme an unlabelled registry's versions follow (semver if several fit)."""
    if sample is None:
        sample = [m.version for m in self.store.find(Query(limit=20))]
    if not sample:
        return None
    available = self.plugins.providers(VERSIONING)
    for name in ["semver", *sorted(n for n in available if n != "semver")]:
        if name not in available:
            continue
        scheme = self.plugins.create(VERSIONING, name)
        try:
            for version in sample:
                scheme.validate(version)
        except (InvalidInputError, ValueError):
            continue
        return name
    return None


def _record_manifest(self: ModelRegistry, store: str) -> Manifest | None:
    """Write down what this new registry is, so every later open agrees."""
    manifest = new_manifest(
        store=store,
        versioning=self.versioning.name,
        serializer=self.serializer.name,
        storage=self._storage_name,
        store_url=recordable_url(self._store_url),
    )
    try:
        write_manifest(self.storage_path, manifest)
    except OSError as exc:
        logger.warning("could not record the registry's plugins in %s: %s", self.location, exc)
        return None
    return manifest


def _sidecars(self: ModelRegistry, *versions: ModelMetadata | None) -> None:
    """Refresh the sidecars of versions this registry just changed.

    After the change committed: a failure here must not undo it, so it is
    logged; the next change of the version writes its sidecar again.
    """
    if self.remote:
        return
    for metadata in versions:
        if metadata is None:
            continue
        try:
            write_sidecar(self.storage_path, metadata)
        except (OSError, ModelShelfError) as exc:
            logger.warning("could not write the sidecar of %s: %s", metadata.reference, exc)


def _choose(self: ModelRegistry, kind: PluginKind, choice: object, **options: Any) -> Any:
    if isinstance(choice, str):
        return self.plugins.create(kind, choice, **options)
    return check_provided(kind, choice, type(choice).__name__)


def _serializer_named(self: ModelRegistry, name: str) -> Serializer:
    """The serializer a stored file was written with, even if not the default."""
    if name not in self._serializers:
        self._serializers[name] = self.plugins.create(SERIALIZER, name)
    return self._serializers[name]
