"""A metadata store in plain JSON files, readable and diffable by people.

The registry's index is a snapshot (``index.json``) plus a journal
(``index.journal``, one JSON change per line). A save appends one line and
fsyncs it, so its cost does not grow with the number of versions; when the
journal outgrows the snapshot, the two are folded into a new snapshot,
written to a temporary file and atomically renamed. Each file names the
snapshot generation it belongs to, so a crash between the two renames
leaves a journal that is recognised as already folded in.

A version whose recorded data is damaged (hand-edited, bit rot) is kept
aside verbatim: reading it raises :class:`~modelshelf.CorruptMetadataError`
naming its id, while the other versions stay readable and writable.

Every operation holds ``index.lock`` (a ``filelock`` lock), so several
processes can share one index, and a process only reads the lines that
were appended since its last look.

The index in memory, and how a journal line becomes state, is
:mod:`modelshelf_plugins.json_index`; this module is the files and the store
protocol over them, one class because every method runs under the same lock
against the same freshly refreshed index.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from contextlib import contextmanager, suppress
from datetime import datetime
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelshelf import converter, hookimpl
from modelshelf.errors import (
    CorruptMetadataError,
    DuplicateVersionError,
    MetadataMissingError,
    MetadataValidationError,
    ModelShelfError,
    RetiredVersionError,
    StoreError,
)
from modelshelf.metadata import ModelDraft, ModelInfo, ModelMetadata, Stage, metadata_from_draft
from modelshelf.protocols import (
    AuditEvent,
    MetadataStore,
    NameState,
    Provider,
    VersioningScheme,
    VersionState,
)
from modelshelf_plugins.json_index import _event_entry, _Index, _parse
from modelshelf_plugins.local_storage import fsync_directory

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from modelshelf.protocols import Changes
    from modelshelf.query import Query, Ranking

#: The journal is folded into the snapshot once it holds this many lines and
#: at least as many as the snapshot held versions when it was written, so a
#: fold's cost is amortised over as many writes as it copies: O(1) per write.
MIN_COMPACTION_LINES = 1000
#: ... or as soon as it reaches this size, so it stays small in a big registry.
MAX_JOURNAL_BYTES = 8 * 1024 * 1024
LOCK_TIMEOUT_SECONDS = 120.0

logger = logging.getLogger("modelshelf")


class JsonStore:
    """Metadata as ``index.json`` + ``index.journal`` in the storage directory."""

    def __init__(self, directory: Path, lock_timeout: float = LOCK_TIMEOUT_SECONDS) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.snapshot_path = directory / "index.json"
        self.journal_path = directory / "index.journal"
        from filelock import FileLock  # here, not at import: registries on other stores skip it

        self._file_lock = FileLock(str(directory / "index.lock"), timeout=lock_timeout)
        self._thread_lock = threading.RLock()
        self._index = _Index()
        self._snapshot_id: tuple[int, int] | None = None
        self._journal_id: tuple[int, int] | None = None
        self._journal_offset = 0
        self._journal_lines = 0
        #: Versions the snapshot held when it was read or written: the journal
        #: is folded once it has as many lines (see MIN_COMPACTION_LINES).
        self._snapshot_versions = 0
        self._stale_journal = False
        with self._locked():
            pass

    # -- synchronisation --------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[_Index]:
        with self._thread_lock, self._file_lock:
            try:
                self._refresh()
            except BaseException as exc:
                # Half-applied: read everything again next time, never twice.
                self._index, self._snapshot_id, self._journal_id = _Index(), None, None
                if isinstance(exc, ModelShelfError):
                    raise
                if isinstance(exc, OSError):
                    raise StoreError(f"cannot read JSON index in {self.directory}: {exc}") from exc
                if isinstance(exc, (ValueError, KeyError, TypeError)):
                    raise MetadataMissingError(
                        str(self.directory), f"its JSON index is unreadable: {exc}"
                    ) from exc
                raise
            yield self._index

    def _whole(self, path: Path, first_line: bytes | None = None) -> dict[str, Any]:
        """The snapshot, or the journal's header line: if either is not JSON the
        whole file is lost (overwritten, truncated), not one record."""
        try:
            return _parse(path.read_bytes() if first_line is None else first_line, path.name)
        except CorruptMetadataError as exc:
            raise MetadataMissingError(
                str(self.directory), f"{path} is unreadable ({exc})"
            ) from exc

    @staticmethod
    def _identity(path: Path) -> tuple[int, int] | None:
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        return (stat.st_ino, stat.st_mtime_ns)

    def _refresh(self) -> None:
        """Catch up with what other processes wrote since we last looked."""
        snapshot_id = self._identity(self.snapshot_path)
        if snapshot_id != self._snapshot_id:
            if snapshot_id is None:
                self._index = _Index()
            else:
                self._index = _Index.from_snapshot(self._whole(self.snapshot_path))
            self._snapshot_versions = len(self._index.records) + len(self._index.damaged)
            self._snapshot_id = snapshot_id
            self._journal_id = None
        journal_id = self._identity(self.journal_path)
        if journal_id is None:
            self._journal_id, self._journal_offset, self._journal_lines = None, 0, 0
            return
        if journal_id[0] != (self._journal_id or (None,))[0]:
            self._journal_offset, self._journal_lines = 0, 0
        self._journal_id = journal_id
        with open(self.journal_path, "rb") as journal:
            journal.seek(self._journal_offset)
            tail = journal.read()
        complete = tail[: tail.rfind(b"\n") + 1]  # a torn last line is ignored
        at = self._journal_offset
        for line in complete.splitlines():
            where = f"{self.journal_path.name} at byte {at}"
            entry = self._whole(self.journal_path, line) if at == 0 else _parse(line, where)
            at += len(line) + 1
            if "generation" in entry and "op" not in entry:
                if snapshot_id is None and entry["generation"] > 0:
                    # The journal continues a snapshot that is gone: replaying
                    # it alone (or starting over it) would lose every version
                    # folded into that snapshot.
                    raise MetadataMissingError(
                        str(self.directory),
                        f"{self.snapshot_path} is missing, but {self.journal_path} continues "
                        f"its generation {entry['generation']}",
                    )
                if entry["generation"] != self._index.generation:
                    # Already folded into the snapshot; skip the stale journal.
                    self._journal_offset += len(complete)
                    self._journal_lines = 0
                    self._stale_journal = True
                    return
                self._stale_journal = False
            elif not self._stale_journal:
                self._index.apply(entry, where)
                self._journal_lines += 1
        self._journal_offset += len(complete)

    def _append(self, entries: list[dict[str, Any]]) -> None:
        """Durably append one change, then apply it to our own view.

        A change of several entries (archive the old Production version,
        promote the new one, audit both) is written as a single ``batch``
        line: a crash can tear only the last line, and a torn line is
        ignored, so the change is applied whole or not at all.
        """
        if len(entries) > 1:
            entries = [{"op": "batch", "entries": entries}]
        payload = b"".join(
            json.dumps(entry, allow_nan=False, separators=(",", ":")).encode() + b"\n"
            for entry in entries
        )
        try:
            if self._identity(self.journal_path) is None or self._stale_journal:
                self._new_journal()
            with open(self.journal_path, "r+b") as journal:
                journal.truncate(self._journal_offset)  # drop a torn line left by a crash
                journal.seek(self._journal_offset)
                journal.write(payload)
                journal.flush()
                os.fsync(journal.fileno())
        except OSError as exc:  # e.g. a full disk: take back what got written
            with suppress(OSError):
                os.truncate(self.journal_path, self._journal_offset)
            raise StoreError(f"cannot write the JSON index in {self.directory}: {exc}") from exc
        for entry in entries:
            self._index.apply(entry)
        self._journal_offset += len(payload)
        self._journal_lines += len(entries)
        self._journal_id = self._identity(self.journal_path)
        if self._journal_offset >= MAX_JOURNAL_BYTES or self._journal_lines >= max(
            MIN_COMPACTION_LINES, self._snapshot_versions
        ):
            self._compact()

    def _replace(self, path: Path, content: bytes) -> None:
        temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            with open(temp, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        fsync_directory(self.directory)

    def _new_journal(self) -> None:
        header = json.dumps({"generation": self._index.generation}).encode() + b"\n"
        self._replace(self.journal_path, header)
        self._journal_id = self._identity(self.journal_path)
        self._journal_offset = len(header)
        self._journal_lines = 0
        self._stale_journal = False

    def _compact(self) -> None:
        """Fold the journal into a new snapshot.

        Optional work, done after a change is already durable in the journal:
        if it fails (a full disk), the change stands and the journal stays
        authoritative. Raising here would tell the caller its change failed
        when it did not, and a save would then discard a recorded file.
        """
        self._index.generation += 1
        snapshot = json.dumps(self._index.to_snapshot(), allow_nan=False, separators=(",", ":"))
        try:
            self._replace(self.snapshot_path, snapshot.encode())
        except OSError as exc:
            self._index.generation -= 1
            logger.warning("could not fold the journal in %s: %s", self.directory, exc)
            return
        self._snapshot_id = self._identity(self.snapshot_path)
        self._snapshot_versions = len(self._index.records) + len(self._index.damaged)
        try:
            self._new_journal()
        except OSError as exc:
            # The snapshot holds everything and the old journal is now stale;
            # the next write starts a fresh journal before it appends.
            self._stale_journal = True
            logger.warning("could not start a new journal in %s: %s", self.directory, exc)

    # -- reading ------------------------------------------------------------------

    def _matching(self, index: _Index, query: Query) -> list[ModelMetadata]:
        candidates: Any = index.records.values()
        if query.model_name is not None:
            ids = index.by_name.get(query.model_name, {}).values()
            candidates = [index.record(i) for i in ids]
        elif index.damaged:
            raise next(iter(index.damaged.values()))[0]  # it could match: say so
        if query.names_at_most:
            checkpoints = query.checkpoints
            return [m for m in candidates if m.checkpoint is checkpoints]
        result = []
        for metadata in candidates:
            if query.alias is not None:
                metadata = index.with_aliases(metadata)
            if query.matches(metadata):
                result.append(metadata)
        return result

    def find(self, query: Query) -> list[ModelMetadata]:
        with self._locked() as index:
            rows = self._matching(index, query)
            reverse = query.descending
            if query.orders_by_metric:
                present = [m for m in rows if query.order_by in m.metrics]
                absent = [m for m in rows if query.order_by not in m.metrics]
                present.sort(key=lambda m: (m.metrics[query.order_by], m.model_id), reverse=reverse)
                absent.sort(key=lambda m: m.model_id, reverse=reverse)
                rows = present + absent
            else:
                field = query.order_by

                def key(m: ModelMetadata) -> tuple[Any, int]:
                    if field == "version":
                        return (index.version_keys[m.model_id], m.model_id)
                    if field == "stage":
                        return (m.stage.value, m.model_id)
                    return (getattr(m, field), m.model_id)

                by_id = field == "model_id"  # ids are unique: no tie to break
                rows.sort(key=attrgetter("model_id") if by_id else key, reverse=reverse)
            end = None if query.limit is None else query.offset + query.limit
            if not index.aliases:
                return rows[query.offset : end]
            return [index.with_aliases(m) for m in rows[query.offset : end]]

    def count(self, query: Query) -> int:
        with self._locked() as index:
            return len(self._matching(index, query))

    def get(self, model_id: int) -> ModelMetadata | None:
        with self._locked() as index:
            found = index.record(model_id)
            return None if found is None else index.with_aliases(found)

    def best(self, ranking: Ranking, query: Query) -> ModelMetadata | None:
        with self._locked() as index:
            winner: tuple[float, int] | None = None
            chosen = None
            for metadata in self._matching(index, query):
                score = ranking.score(metadata)
                if score is None:
                    continue
                candidate = (score, metadata.model_id)
                if winner is None or candidate > winner:
                    winner, chosen = candidate, metadata
            return None if chosen is None else index.with_aliases(chosen)

    def model_names(self) -> list[str]:
        with self._locked() as index:
            return sorted(index.by_name)

    def audit_log(self, model_name: str | None) -> list[AuditEvent]:
        with self._locked() as index:
            events = [
                AuditEvent(
                    at=datetime.fromisoformat(e["at"]),
                    model_name=e["model_name"],
                    version=e["version"],
                    action=e["action"],
                    from_value=e["from_value"],
                    to_value=e["to_value"],
                    actor=e["actor"],
                    reason=e["reason"],
                    model_id=e["model_id"],
                )
                for e in index.audit
                if model_name is None or e["model_name"] == model_name
            ]
        return events

    # -- writing ------------------------------------------------------------------

    def add(self, draft: ModelDraft, scheme: VersioningScheme) -> ModelMetadata:
        with self._locked() as index:
            existing = index.by_name.get(draft.model_name, {})
            high_water = index.high_water.get(draft.model_name)
            if draft.requested_version is not None:
                version = draft.requested_version
                if version in existing:
                    raise DuplicateVersionError(draft.model_name, version)
                if version in index.retired.get(draft.model_name, ()):
                    raise RetiredVersionError(draft.model_name, version)
            elif high_water is not None:
                version = scheme.next_after(high_water[1])
            else:
                version = scheme.first()
            metadata = metadata_from_draft(draft, model_id=index.next_id, version=version)
            self._append(
                [
                    {
                        "op": "add",
                        "version_key": scheme.sort_key(version),
                        "data": converter.unstructure(metadata),
                    }
                ]
            )
            return metadata

    def add_many(self, drafts: Iterable[ModelDraft], scheme: VersioningScheme) -> list[int]:
        """Record many drafts, each as :meth:`add` would; their ids in order.

        The bulk path for imports and benchmarks: versions are decided as
        :meth:`add` decides them, one after another, and travel as a single
        ``batch`` journal line with one fsync, so the call is all or nothing.
        """
        with self._locked() as index:
            next_id = index.next_id
            taken: dict[str, set[str]] = {}
            highest: dict[str, tuple[str, str]] = {}
            entries: list[dict[str, Any]] = []
            for draft in drafts:
                name = draft.model_name
                high_water = highest.get(name) or index.high_water.get(name)
                if draft.requested_version is not None:
                    version = draft.requested_version
                    if version in index.by_name.get(name, {}) or version in taken.get(name, ()):
                        raise DuplicateVersionError(name, version)
                    if version in index.retired.get(name, ()):
                        raise RetiredVersionError(name, version)
                elif high_water is not None:
                    version = scheme.next_after(high_water[1])
                else:
                    version = scheme.first()
                key = scheme.sort_key(version)
                metadata = metadata_from_draft(draft, model_id=next_id, version=version)
                taken.setdefault(name, set()).add(version)
                if not draft.checkpoint and (high_water is None or (key, version) > high_water):
                    highest[name] = (key, version)
                entries.append(
                    {"op": "add", "version_key": key, "data": converter.unstructure(metadata)}
                )
                next_id += 1
            if entries:
                self._append([{"op": "batch", "entries": entries}])
            return [entry["data"]["model_id"] for entry in entries]

    def delete(self, model_id: int) -> ModelMetadata | None:
        with self._locked() as index:
            found = index.record(model_id)
            if found is None:
                return None
            found = index.with_aliases(found)
            self._append([{"op": "delete", "id": model_id}])
            return found

    def transition(
        self,
        model_name: str,
        plan: Callable[[NameState], Changes],
        *,
        model_ids: Sequence[int] = (),
        aliases: Sequence[str] = (),
    ) -> Changes:
        with self._locked() as index:
            targets = {
                alias: index.aliases[(model_name, alias)]
                for alias in aliases
                if (model_name, alias) in index.aliases
            }
            names = index.by_name.get(model_name, {})
            wanted = {*model_ids, *targets.values()}
            versions = {}
            for model_id in sorted(names.values()):
                # A damaged version asked for by id raises; one merely of the name
                # is left out (its stage cannot be read; see below).
                if model_id in wanted:
                    found = index.record(model_id)
                else:
                    found = index.records.get(model_id)
                if found is not None and (model_id in wanted or found.stage is Stage.PRODUCTION):
                    versions[model_id] = VersionState(
                        model_id=model_id, version=found.version, stage=found.stage
                    )
            changes = plan(NameState(model_name=model_name, versions=versions, aliases=targets))
            if any(change.stage is Stage.PRODUCTION for change in changes.stages):
                for model_id in names.values():
                    if model_id in index.damaged:
                        index.record(model_id)  # raises: it may be in Production already
            entries: list[dict[str, Any]] = [
                {"op": "set", "id": change.model_id, "fields": {"stage": change.stage.value}}
                for change in changes.stages
            ]
            entries += [
                {"op": "alias", "name": model_name, "alias": change.alias, "id": change.model_id}
                for change in changes.aliases
            ]
            entries += [{"op": "audit", "event": _event_entry(e)} for e in changes.events]
            if entries:
                self._append(entries)
            return changes

    def update(
        self, model_id: int, *, description: str | None, tags: dict[str, str] | None
    ) -> ModelMetadata | None:
        with self._locked() as index:
            if index.record(model_id) is None:
                return None
            fields: dict[str, Any] = {}
            if description is not None:
                fields["description"] = description
            if tags is not None:
                fields["tags"] = dict(tags)
            if fields:
                self._append([{"op": "set", "id": model_id, "fields": fields}])
            return index.with_aliases(index.records[model_id])

    def get_model_info(self, model_name: str) -> ModelInfo | None:
        with self._locked() as index:
            found = index.model_info.get(model_name)
            if found is None:
                return None
            return ModelInfo(model_name=model_name, **found)

    def set_model_info(self, info: ModelInfo) -> None:
        with self._locked():
            self._append(
                [
                    {
                        "op": "model_info",
                        "name": info.model_name,
                        "description": info.description,
                        "tags": dict(info.tags),
                    }
                ]
            )

    def salvage(self, paths: list[Path]) -> list[ModelMetadata]:
        """Versions still readable from damaged or orphaned index files set aside
        by recovery: a snapshot that parses, and every whole journal line that
        applies on top of it (a journal whose snapshot is gone still holds the
        versions saved since that snapshot). Unreadable parts are skipped."""
        index = _Index()
        snapshots = [p for p in paths if p.name.startswith("index.json")]
        journals = [p for p in paths if p.name.startswith("index.journal")]
        for path in snapshots:
            with suppress(OSError, ValueError, KeyError, TypeError, MetadataValidationError):
                index = _Index.from_snapshot(json.loads(path.read_bytes()))
        for path in journals:
            with suppress(OSError):
                for line in path.read_bytes().splitlines():
                    with suppress(ValueError, KeyError, TypeError, MetadataValidationError):
                        entry = json.loads(line)
                        if "op" in entry:
                            index.apply(entry)
        return [index.with_aliases(m) for _, m in sorted(index.records.items())]

    def close(self) -> None:
        """Nothing stays open between operations."""


def _create(
    storage_path: Path, url: str | None = None, lock_timeout: float = LOCK_TIMEOUT_SECONDS
) -> MetadataStore:
    """``lock_timeout`` (seconds, a ``store_options`` key): how long an
    operation waits for another process holding ``index.lock``."""
    if isinstance(lock_timeout, bool) or not isinstance(lock_timeout, (int, float)):
        raise StoreError(f"json store option lock_timeout must be seconds, got {lock_timeout!r}")
    return JsonStore(Path(url) if url else storage_path, lock_timeout=float(lock_timeout))


def _footprint(storage_path: Path, url: str | None) -> list[Path]:
    directory = Path(url) if url else storage_path
    return [directory / "index.json", directory / "index.journal"]


@hookimpl
def modelshelf_metadata_stores() -> list[Provider[MetadataStore]]:
    return [
        Provider(
            name="json",
            factory=_create,
            description="index.json + append-only journal, file-locked; readable by people",
            capabilities={"multiprocess"},
            footprint=_footprint,
        )
    ]
