"""Move a whole registry to another store and storage (SQLite + files → PostgreSQL + S3).

``transfer(source, destination)`` copies every version (releases and
checkpoints) with its stage, tags, description, creation time, lineage and
artifacts, then aliases, name-level info and the audit log, and finally
reads every artifact back from the destination and checks its SHA-256.

Why it is safe to interrupt and to run twice:

* Versions are identified by ``(model_name, version)``, which the
  destination keeps (``requested_version``), so a version already there is
  recognised and skipped (its artifact digests must agree, or the move stops
  with an error instead of merging two different histories).
* Artifacts keep their keys, so signatures made from ``key/sha256/size``
  stay valid. Each is written with the destination's atomic ``put`` before
  the version that points at it is recorded; an artifact already present
  with the right size and digest (left by an interrupted run) is not copied
  again.
* Aliases, name info and audit events are compared with what the
  destination already holds and only the difference is written.

Audit events keep their original times only if the destination store can
restore them: it implements :class:`RestorableStore` (the bundled SQLite
store and the PostgreSQL store do). Otherwise aliases are set through the
ordinary API (and audited as done by the mover) and the report says the
audit log was not copied.
"""

from __future__ import annotations

import hashlib
import shutil
from collections import Counter
from typing import IO, TYPE_CHECKING, Protocol, runtime_checkable

from attrs import evolve, frozen

from modelshelf.errors import IntegrityError, InvalidInputError
from modelshelf.metadata import draft_from_metadata
from modelshelf.query import Query
from modelshelf.transitions import move_alias

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from modelshelf.metadata import ArtifactRef, ModelDraft, ModelMetadata
    from modelshelf.protocols import AuditEvent
    from modelshelf.registry import ModelRegistry

_CHUNK = 1024 * 1024


@runtime_checkable
class RestorableStore(Protocol):
    """What a metadata store offers so a moved registry keeps its history exactly."""

    def import_audit(self, events: Sequence[AuditEvent]) -> None:
        """Append ``events`` verbatim (times included), all or none."""
        ...

    def restore_alias(self, model_name: str, alias: str, model_id: int) -> None:
        """Point ``alias`` at ``model_id`` without recording an audit event."""
        ...


class TransferConflictError(InvalidInputError):
    """The destination already holds a different version under the same name and version."""


@frozen(kw_only=True)
class TransferReport:
    """What one run of :func:`transfer` did; a second run reports only skips."""

    versions_copied: int
    versions_skipped: int
    artifacts_copied: int
    artifacts_skipped: int
    aliases_set: int
    audit_events_copied: int
    audit_copied: bool
    model_info_copied: int
    verified: int


def _all_versions(registry: ModelRegistry) -> list[ModelMetadata]:
    rows = [
        *registry.store.find(Query(checkpoints=False)),
        *registry.store.find(Query(checkpoints=True)),
    ]
    return sorted(rows, key=lambda m: m.model_id)


def _refs(metadata: ModelMetadata | ModelDraft) -> list[ArtifactRef]:
    return [metadata.artifact, *metadata.artifacts.values()]


def _digest(registry: ModelRegistry, key: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with registry.storage.open(key) as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class _Mover:
    def __init__(
        self,
        source: ModelRegistry,
        destination: ModelRegistry,
    ) -> None:
        self.source = source
        self.destination = destination
        self.restorable = isinstance(destination.store, RestorableStore)
        #: Keys already at the destination, listed once: a fresh destination
        #: then costs one listing instead of one lookup per artifact.
        self.present = set(destination.storage.iter_keys())
        self.ids: dict[int, int] = {}
        self._existing: dict[tuple[str, bool], dict[str, ModelMetadata]] = {}
        self.counts: Counter[str] = Counter()

    def existing(self, name: str, checkpoint: bool) -> dict[str, ModelMetadata]:
        """The destination's versions of ``name``, fetched once per name."""
        key = (name, checkpoint)
        if key not in self._existing:
            found = self.destination.store.find(Query(model_name=name, checkpoints=checkpoint))
            self._existing[key] = {m.version: m for m in found}
        return self._existing[key]

    # -- artifacts ----------------------------------------------------------------

    def copy_artifact(self, ref: ArtifactRef) -> None:
        storage = self.destination.storage
        if (
            ref.key in self.present
            and storage.size(ref.key) == ref.size
            and _digest(self.destination, ref.key) == (ref.sha256, ref.size)
        ):
            self.counts["artifacts_skipped"] += 1
            return
        with self.source.storage.open(ref.key) as stream:

            def write(out: IO[bytes]) -> None:
                shutil.copyfileobj(stream, out, _CHUNK)

            stored = storage.put(ref.key, write)
        if (stored.sha256, stored.size) != (ref.sha256, ref.size):
            storage.delete(ref.key)
            raise IntegrityError(
                ref.key,
                f"the source holds bytes hashing to {stored.sha256} ({stored.size} B) but "
                f"recorded {ref.sha256} ({ref.size} B); not copied (run verify on the source)",
            )
        self.counts["artifacts_copied"] += 1

    # -- versions -----------------------------------------------------------------

    def copy_version(self, metadata: ModelMetadata) -> None:
        there = self.existing(metadata.model_name, metadata.checkpoint).get(metadata.version)
        if there is not None:
            mine = [(r.key, r.sha256) for r in _refs(metadata)]
            theirs = [(r.key, r.sha256) for r in _refs(there)]
            if sorted(mine) != sorted(theirs):
                raise TransferConflictError(
                    f"{metadata.reference} exists at the destination with different artifacts; "
                    "refusing to merge two histories (move into an empty registry, or delete "
                    "that version there first)"
                )
            self.ids[metadata.model_id] = there.model_id
            self.counts["versions_skipped"] += 1
            return
        # The draft first: it validates every name and key before anything is written.
        draft = draft_from_metadata(
            metadata,
            parent_id=None if metadata.parent_id is None else self.ids.get(metadata.parent_id),
        )
        for ref in _refs(draft):
            self.copy_artifact(ref)
        added = self.destination.store.add(draft, self.destination.versioning)
        self.existing(metadata.model_name, metadata.checkpoint)[added.version] = added
        self.ids[metadata.model_id] = added.model_id
        self.counts["versions_copied"] += 1

    # -- the rest -------------------------------------------------------------------

    def copy_aliases(self, versions: Sequence[ModelMetadata]) -> None:
        store = self.destination.store
        for metadata in versions:
            target = self.ids[metadata.model_id]
            for alias in metadata.aliases:
                current = store.find(Query(model_name=metadata.model_name, alias=alias))
                if current and current[0].model_id == target:
                    continue
                if isinstance(store, RestorableStore):
                    store.restore_alias(metadata.model_name, alias, target)
                else:
                    move_alias(
                        store,
                        metadata.model_name,
                        alias,
                        target,
                        actor=self.destination.user,
                        reason=f"moved from {self.source.location}",
                    )
                self.counts["aliases_set"] += 1

    def copy_model_info(self) -> None:
        for name in self.source.store.model_names():
            info = self.source.store.get_model_info(name)
            if info is not None and self.destination.store.get_model_info(name) != info:
                self.destination.store.set_model_info(info)
                self.counts["model_info_copied"] += 1

    def copy_audit(self) -> None:
        store = self.destination.store
        if not isinstance(store, RestorableStore):
            return
        present = Counter(store.audit_log(None))
        missing = []
        for recorded in self.source.store.audit_log(None):
            # Events name their version by id, and ids are the destination's own.
            event = evolve(
                recorded,
                model_id=None if recorded.model_id is None else self.ids.get(recorded.model_id),
            )
            if present[event] > 0:
                present[event] -= 1
            else:
                missing.append(event)
        if missing:
            store.import_audit(missing)
        self.counts["audit_events_copied"] += len(missing)

    def verify(self, versions: Sequence[ModelMetadata]) -> int:
        """Read every artifact back from the destination and compare the metadata."""
        checked = 0
        for metadata in versions:
            there = self.destination.store.get(self.ids[metadata.model_id])
            if there is None:
                raise IntegrityError(metadata.reference, "missing at the destination after a move")
            for field in ("stage", "description", "tags", "metrics", "created_at", "aliases"):
                if getattr(there, field) != getattr(metadata, field):
                    raise IntegrityError(
                        metadata.reference,
                        f"{field} differs at the destination: {getattr(there, field)!r} "
                        f"!= {getattr(metadata, field)!r}",
                    )
            for ref in _refs(there):
                sha256, size = _digest(self.destination, ref.key)
                if (sha256, size) != (ref.sha256, ref.size):
                    raise IntegrityError(
                        ref.key,
                        f"destination bytes hash to {sha256} ({size} B), "
                        f"recorded {ref.sha256} ({ref.size} B)",
                    )
                checked += 1
        return checked


def transfer(
    source: ModelRegistry,
    destination: ModelRegistry,
    *,
    verify: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> TransferReport:
    """Copy everything in ``source`` into ``destination``; safe to rerun after a failure.

    ``progress(done, total)`` is called after each version. With ``verify``
    (the default) every artifact is read back from the destination and its
    SHA-256 compared with the record before the report is returned.

    :raises TransferConflictError: the destination holds a different version
        under a name and version being moved.
    :raises IntegrityError: bytes at the source or the destination do not
        match their record.
    """
    if source.versioning.name != destination.versioning.name:
        raise InvalidInputError(
            f"versioning: the source uses {source.versioning.name!r} and the destination "
            f"{destination.versioning.name!r}; open the destination with "
            f"versioning={source.versioning.name!r} so versions keep their order"
        )
    mover = _Mover(source, destination)
    versions = _all_versions(source)
    for done, metadata in enumerate(versions, start=1):
        mover.copy_version(metadata)
        if progress is not None:
            progress(done, len(versions))
    mover.copy_aliases(versions)
    # Recorded through the store, so the destination's sidecars are written here.
    destination._sidecars(*(destination.store.get(i) for i in sorted(set(mover.ids.values()))))
    mover.copy_model_info()
    mover.copy_audit()
    verified = mover.verify(versions) if verify else 0
    counts = mover.counts
    return TransferReport(
        versions_copied=counts["versions_copied"],
        versions_skipped=counts["versions_skipped"],
        artifacts_copied=counts["artifacts_copied"],
        artifacts_skipped=counts["artifacts_skipped"],
        aliases_set=counts["aliases_set"],
        audit_events_copied=counts["audit_events_copied"],
        audit_copied=mover.restorable,
        model_info_copied=counts["model_info_copied"],
        verified=verified,
    )


__all__ = ["RestorableStore", "TransferConflictError", "TransferReport", "transfer"]
