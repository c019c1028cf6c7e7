"""Rebuild a registry's metadata from the sidecars beside its model files.

When ``registry.db`` or the JSON index is lost, truncated or overwritten,
the registry refuses to open (:class:`~modelshelf.MetadataMissingError`)
rather than show an empty registry that ``gc`` would then empty for real.
:func:`recover` is the way back: it sets a damaged metadata file aside
(never deletes it), opens the store fresh, and records again every version
whose sidecar survives and whose files still match their checksums, with
its version, stage, aliases, tags, metrics and creation time. What it cannot
rebuild it reports: audit history (other than the aliases it sets again),
and model files that have no sidecar (saved before sidecars existed, or
leftovers of saves that never finished).
"""

from __future__ import annotations

import hashlib
import logging
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attrs import frozen

from modelshelf.errors import ModelShelfError, StoreError
from modelshelf.manifest import iter_sidecars, read_sidecar, write_sidecar
from modelshelf.metadata import ModelMetadata, draft_from_metadata
from modelshelf.query import Query
from modelshelf.registry import _CHECKPOINTS, ModelRegistry, VerifyReport, _location
from modelshelf.transitions import move_alias

if TYPE_CHECKING:
    from collections.abc import Sequence

    from modelshelf.metadata import ArtifactRef

logger = logging.getLogger("modelshelf")

__all__ = ["RecoveryReport", "recover"]

_CHUNK = 1024 * 1024


@frozen(kw_only=True)
class RecoveryReport:
    """What :func:`recover` did, and what it could not do."""

    location: str
    #: Damaged metadata files moved aside (``<name>.damaged-<UTC time>``), never deleted.
    set_aside: tuple[str, ...]
    #: References of the versions recorded again from their sidecars.
    recovered: tuple[str, ...]
    #: Versions the store still held; left as they were.
    already_recorded: int
    #: Sidecars that could not be used, with the reason.
    skipped: tuple[str, ...]
    #: Model files with neither a record nor a sidecar; left in place (``gc`` removes them).
    unrecoverable: tuple[str, ...]
    #: ``verify()`` of the registry after recovery.
    verify: VerifyReport

    @property
    def ok(self) -> bool:
        return self.verify.ok and not self.skipped

    def as_dict(self) -> dict[str, Any]:
        return {
            "location": self.location,
            "set_aside": list(self.set_aside),
            "recovered": list(self.recovered),
            "already_recorded": self.already_recorded,
            "skipped": list(self.skipped),
            "unrecoverable": list(self.unrecoverable),
            "verify_ok": self.verify.ok,
        }


class _RecoveringRegistry(ModelRegistry):
    """A registry opened without the lost-metadata check, whose damaged
    metadata file is set aside so the store can start again."""

    _check_on_open = False
    set_aside: list[str]

    def __init__(
        self, storage_path: str | os.PathLike[str], versions: list[str], **options: Any
    ) -> None:
        self._sidecar_versions = versions
        super().__init__(storage_path, **options)

    def _detect_versioning(self, sample: Sequence[str] | None = None) -> str | None:
        """An emptied store has no versions to judge by; its sidecars do."""
        return super()._detect_versioning(sample) or super()._detect_versioning(
            self._sidecar_versions
        )

    def _open_store(self, choice: object, url: str | None, options: dict[str, Any]) -> Any:
        """Open the store; if it fails, or its own check finds damage, move its
        files aside and open it again, empty."""
        self.set_aside = []
        failure: StoreError | None = None
        try:
            store = super()._open_store(choice, url, options)
        except StoreError as exc:
            failure, problem = exc, str(exc)
        else:
            check = getattr(store, "check", None)
            problems = check() if callable(check) else []
            if not problems:
                return store
            store.close()
            problem = "; ".join(problems)
        paths = self._footprint(choice, url) if isinstance(choice, str) else None
        present = [p for p in paths or [] if p.is_file()]
        if not present:
            if failure is not None:
                raise failure  # nothing of ours to set aside (a server that is down...)
            raise StoreError(f"the metadata store of {self.location} is damaged: {problem}")
        logger.warning("setting aside the damaged metadata of %s: %s", self.location, problem)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        for path in present:
            target = path.with_name(f"{path.name}.damaged-{stamp}")
            os.replace(path, target)
            self.set_aside.append(str(target))
        return super()._open_store(choice, url, options)


def _matches(registry: ModelRegistry, ref: ArtifactRef) -> str | None:
    """Why a recorded file cannot be trusted, or None if it matches its checksum."""
    try:
        size = registry.storage.size(ref.key)
        if size is None:
            return f"{ref.key} is missing"
        digest = hashlib.sha256()
        with registry.storage.open(ref.key) as stream:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
    except (OSError, ModelShelfError) as exc:
        return f"{ref.key} cannot be read: {exc}"
    if size != ref.size or digest.hexdigest() != ref.sha256:
        return f"{ref.key} does not match its recorded checksum"
    return None


def _sidecars(storage_path: Path) -> tuple[list[ModelMetadata], list[str]]:
    found, skipped = [], []
    for _, path in iter_sidecars(storage_path):
        try:
            found.append(read_sidecar(path))
        except ModelShelfError as exc:
            skipped.append(str(exc))
    found.sort(key=lambda m: m.model_id)
    return found, skipped


def _with_salvage(
    registry: _RecoveringRegistry, sidecars: list[ModelMetadata]
) -> list[ModelMetadata]:
    """Add versions the store can still read from the files it set aside (a
    JSON journal outliving its snapshot) and that have no sidecar."""
    salvage = getattr(registry.store, "salvage", None)
    if not registry.set_aside or not callable(salvage):
        return sidecars
    known = {m.artifact.key for m in sidecars}
    readable = salvage([Path(p) for p in registry.set_aside])
    extra = [m for m in readable if m.artifact.key not in known]
    return sorted([*sidecars, *extra], key=lambda m: m.model_id)


def recover(storage_path: str | os.PathLike[str], **options: Any) -> RecoveryReport:
    """Rebuild the metadata of the registry at ``storage_path`` from its sidecars.

    ``options`` are :class:`ModelRegistry`'s (``store=``, ``versioning=``...);
    without them the registry's record decides, as on any open. Versions the
    store still holds are kept; every other version with a usable sidecar is
    recorded again under its own name and version (ids may be renumbered, and
    ``parent_id`` follows). Safe to run again: a second run finds everything
    recorded and changes nothing.
    """
    location = os.fspath(storage_path)
    if "://" in location and not location.startswith("file://"):
        raise StoreError("recover works on a local registry directory, not on a remote one")
    sidecars, skipped = _sidecars(Path(_location(location)))
    registry = _RecoveringRegistry(
        storage_path, [m.version for m in sidecars if not m.checkpoint][:20], **options
    )
    try:
        sidecars = _with_salvage(registry, sidecars)
        recorded = {
            ref.key: m
            for m in registry._all_versions()
            for ref in [m.artifact, *m.artifacts.values()]
        }
        already = len({m.model_id for m in recorded.values()})
        new_ids: dict[int, int] = {}
        recovered = []
        for metadata in sidecars:
            if metadata.artifact.key in recorded:
                new_ids[metadata.model_id] = recorded[metadata.artifact.key].model_id
                continue
            refs = [metadata.artifact, *metadata.artifacts.values()]
            problems = [p for p in (_matches(registry, ref) for ref in refs) if p]
            taken = registry.store.count(
                Query(
                    model_name=metadata.model_name,
                    version=metadata.version,
                    checkpoints=metadata.checkpoint,
                )
            )
            if taken:
                problems.append(f"{metadata.reference} is already recorded with other files")
            if problems:
                skipped.append(f"{metadata.reference}: " + "; ".join(problems))
                continue
            parent = None if metadata.parent_id is None else new_ids.get(metadata.parent_id)
            draft = draft_from_metadata(metadata, parent_id=parent)
            scheme = _CHECKPOINTS if metadata.checkpoint else registry.versioning
            added = registry.store.add(draft, scheme)
            new_ids[metadata.model_id] = added.model_id
            for alias in metadata.aliases:
                move_alias(
                    registry.store,
                    added.model_name,
                    alias,
                    added.model_id,
                    actor=registry.user,
                    reason="recovered from sidecar",
                )
            current = registry.store.get(added.model_id)
            if current is not None:
                write_sidecar(registry.storage_path, current)
            for ref in refs:
                recorded[ref.key] = added
            recovered.append(added.reference)
        covered = set(recorded) | {
            ref.key for m in sidecars for ref in [m.artifact, *m.artifacts.values()]
        }
        unrecoverable = tuple(k for k in registry.storage.iter_keys() if k not in covered)
        registry.adopt()
        report = registry.verify()
        return RecoveryReport(
            location=registry.location,
            set_aside=tuple(registry.set_aside),
            recovered=tuple(recovered),
            already_recorded=already,
            skipped=tuple(skipped),
            unrecoverable=unrecoverable,
            verify=report,
        )
    finally:
        registry.close()
