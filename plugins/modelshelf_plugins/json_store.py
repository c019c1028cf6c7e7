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
    InvalidInputError,
    MetadataMissingError,
    MetadataValidationError,
    ModelShelfError,
    RetiredVersionError,
    StoreError,
)
from modelshelf.metadata import ModelDraft, ModelInfo, ModelMetadata, Stage, metadata_from_draft
from modelshelf.protocols import (
    ROLLBACK_ACTION,
    STAGE_ACTION,
    AuditEvent,
    MetadataStore,
    NameState,
    Provider,
    VersioningScheme,
    VersionState,
)
from modelshelf_plugins.local_storage import fsync_directory

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from modelshelf.protocols import Changes
    from modelshelf.query import Query, Ranking

FORMAT = 1
#: The journal is folded into the snapshot once it holds this many lines and
#: at least as many as the snapshot held versions when it was written, so a
#: fold's cost is amortised over as many writes as it copies: O(1) per write.
MIN_COMPACTION_LINES = 1000
#: ... or as soon as it reaches this size, so it stays small in a big registry.
MAX_JOURNAL_BYTES = 8 * 1024 * 1024
LOCK_TIMEOUT_SECONDS = 120.0

logger = logging.getLogger("modelshelf")


class _Index:
    """The in-memory state that snapshot + journal describe."""

    def __init__(self) -> None:
        self.generation = 0
        self.next_id = 1
        self.records: dict[int, ModelMetadata] = {}
        self.version_keys: dict[int, str] = {}
        self.by_name: dict[str, dict[str, int]] = {}
        self.aliases: dict[tuple[str, str], int] = {}
        self.audit: list[dict[str, Any]] = []
        self.model_info: dict[str, dict[str, Any]] = {}
        #: Highest release (version_key, version) ever recorded per name; deletes
        #: never lower it, so a deleted version's number is never handed out again.
        self.high_water: dict[str, tuple[str, str]] = {}
        #: Release versions that were deleted, per name: never recorded again.
        self.retired: dict[str, set[str]] = {}
        #: Versions whose data cannot be read back: the error to raise and the
        #: entry as found, written back verbatim when the journal is folded.
        self.damaged: dict[int, tuple[CorruptMetadataError, dict[str, Any]]] = {}

    def record(self, model_id: int) -> ModelMetadata | None:
        """The version with ``model_id``; raises if its data is damaged."""
        if model_id in self.damaged:
            raise self.damaged[model_id][0]
        return self.records.get(model_id)

    def _keep_damaged(self, entry: dict[str, Any], exc: ModelShelfError, where: str) -> None:
        """Set aside an ``add`` whose data does not structure.

        Its id, name and version still count (no id or version is handed out
        twice); without a usable id the index cannot be trusted, so that
        raises for every call instead.
        """
        data = entry.get("data")
        data = data if isinstance(data, dict) else {}
        model_id, name, version = data.get("model_id"), data.get("model_name"), data.get("version")
        if type(model_id) is not int or model_id < 1:
            raise CorruptMetadataError(str(exc), location=where) from exc
        error = CorruptMetadataError(str(exc), model_id=model_id, location=where)
        error.__cause__ = exc
        self.records.pop(model_id, None)
        self.damaged[model_id] = (error, {"version_key": entry.get("version_key"), "data": data})
        self.next_id = max(self.next_id, model_id + 1)
        if isinstance(name, str) and isinstance(version, str):
            self.by_name.setdefault(name, {})[version] = model_id
            key = entry.get("version_key")
            known = self.high_water.get(name)
            if (
                isinstance(key, str)
                and not data.get("checkpoint")
                and (known is None or (key, version) > known)
            ):
                self.high_water[name] = (key, version)

    # Each journal operation has exactly one ``_apply_*`` here, used both when
    # writing and when replaying, so the two can never disagree.

    def apply(self, entry: dict[str, Any], where: str = "index.journal") -> None:
        """Apply one change; ``where`` names its place for error messages."""
        op = entry["op"]
        if op == "batch":
            # One change made of several entries travels as one journal line,
            # so a torn write loses all of it or none (see ``_append``).
            for part in entry["entries"]:
                self.apply(part, where)
            return
        if op == "add":
            try:
                metadata = converter.structure_stored(entry["data"])
            except InvalidInputError as exc:  # MetadataValidationError, bad fields
                self._keep_damaged(entry, exc, where)
                return
            self.records[metadata.model_id] = metadata
            self.version_keys[metadata.model_id] = entry["version_key"]
            self.by_name.setdefault(metadata.model_name, {})[metadata.version] = metadata.model_id
            self.next_id = max(self.next_id, metadata.model_id + 1)
            mark = (entry["version_key"], metadata.version)
            known = self.high_water.get(metadata.model_name)
            if not metadata.checkpoint and (known is None or mark > known):
                self.high_water[metadata.model_name] = mark
        elif op == "delete":
            lost = self.damaged.pop(entry["id"], None)
            if lost is not None:
                name, version = lost[1]["data"].get("model_name"), lost[1]["data"].get("version")
                if self.by_name.get(name, {}).get(version) == entry["id"]:
                    del self.by_name[name][version]
                    if not self.by_name[name]:
                        del self.by_name[name]
            gone = self.records.pop(entry["id"], None)
            self.version_keys.pop(entry["id"], None)
            if gone is not None:
                versions = self.by_name[gone.model_name]
                versions.pop(gone.version, None)
                if not versions:
                    del self.by_name[gone.model_name]
                for key in [k for k, v in self.aliases.items() if v == gone.model_id]:
                    del self.aliases[key]
                if not gone.checkpoint:
                    self.retired.setdefault(gone.model_name, set()).add(gone.version)
        elif op == "set":
            if entry["id"] in self.damaged:
                return  # its fields stay as found; reading it still raises
            current = self.records[entry["id"]]
            data = converter.unstructure(current)
            data.update(entry["fields"])
            self.records[current.model_id] = converter.structure(data, ModelMetadata)
        elif op == "alias":
            key = (entry["name"], entry["alias"])
            if entry["id"] is None:
                self.aliases.pop(key, None)
            else:
                self.aliases[key] = entry["id"]
        elif op == "audit":
            event = entry["event"]
            self.audit.append(event if "model_id" in event else self.upgrade_event(event))
        elif op == "model_info":
            self.model_info[entry["name"]] = {
                "description": entry["description"],
                "tags": entry["tags"],
            }
        else:
            raise MetadataValidationError(f"unknown journal operation {op!r}")

    def upgrade_event(self, event: dict[str, Any]) -> dict[str, Any]:
        """An audit event written before events carried ``model_id``, as it is now.

        Its version is matched with the version holding that number when it
        was recorded (replay order; one created after the event is a reuse
        of a deleted number). A rollback was then a stage change whose
        reason the registry wrote as ``rollback from <version>[: <reason>]``.
        """
        upgraded = dict(event)
        model_id = self.by_name.get(event["model_name"], {}).get(event["version"])
        if model_id is not None and self.records[model_id].created_at > datetime.fromisoformat(
            event["at"]
        ):
            model_id = None
        upgraded["model_id"] = model_id
        if (
            event["action"] == STAGE_ACTION
            and event["to_value"] == Stage.PRODUCTION.value
            and event["reason"].startswith("rollback from ")
        ):
            upgraded["action"] = ROLLBACK_ACTION
        return upgraded

    def with_aliases(self, metadata: ModelMetadata) -> ModelMetadata:
        names = sorted(
            alias
            for (name, alias), target in self.aliases.items()
            if target == metadata.model_id and name == metadata.model_name
        )
        if tuple(names) == metadata.aliases:
            return metadata
        data = converter.unstructure(metadata)
        data["aliases"] = names
        return converter.structure(data, ModelMetadata)

    def to_snapshot(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "generation": self.generation,
            "next_id": self.next_id,
            "versions": sorted(
                [
                    *(
                        {"version_key": self.version_keys[i], "data": converter.unstructure(m)}
                        for i, m in self.records.items()
                    ),
                    *(raw for _, raw in self.damaged.values()),
                ],
                key=lambda version: int(version["data"]["model_id"]),
            ),
            "aliases": [
                {"name": name, "alias": alias, "id": target}
                for (name, alias), target in sorted(self.aliases.items())
            ],
            "audit": self.audit,
            "model_info": self.model_info,
            "high_water": {name: list(mark) for name, mark in self.high_water.items()},
            "retired": {name: sorted(versions) for name, versions in self.retired.items()},
        }

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> _Index:
        if data.get("format") != FORMAT:
            raise MetadataValidationError(f"unsupported index format {data.get('format')!r}")
        index = cls()
        index.generation = data["generation"]
        for version in data["versions"]:
            index.apply({"op": "add", **version}, "index.json")
        index.next_id = max(index.next_id, data["next_id"])
        for alias in data["aliases"]:
            index.aliases[(alias["name"], alias["alias"])] = alias["id"]
        index.audit = [e if "model_id" in e else index.upgrade_event(e) for e in data["audit"]]
        index.model_info = dict(data.get("model_info", {}))
        for name, (key, version) in data.get("high_water", {}).items():
            current = index.high_water.get(name)
            if current is None or (key, version) > current:
                index.high_water[name] = (key, version)
        if "retired" in data:
            index.retired = {name: set(versions) for name, versions in data["retired"].items()}
        else:
            # A snapshot from before deletes were remembered: the versions its
            # audit log and high-water marks name that no record holds were deleted.
            named = [(e["model_name"], e["version"]) for e in index.audit if e["version"]]
            named += [(name, mark[1]) for name, mark in index.high_water.items()]
            for name, version in named:
                if version not in index.by_name.get(name, {}):
                    index.retired.setdefault(name, set()).add(version)
        return index


def _event_entry(event: AuditEvent) -> dict[str, Any]:
    """An audit event as the journal keeps it, its time included."""
    return {
        "at": event.at.isoformat(),
        "model_name": event.model_name,
        "version": event.version,
        "action": event.action,
        "from_value": event.from_value,
        "to_value": event.to_value,
        "actor": event.actor,
        "reason": event.reason,
        "model_id": event.model_id,
    }


def _parse(line: bytes, where: str) -> dict[str, Any]:
    """One JSON object from the index; anything else names where it broke."""
    try:
        entry = json.loads(line)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, bad UTF-8
        raise CorruptMetadataError(f"not valid JSON: {exc!r}", location=where) from exc
    if not isinstance(entry, dict):
        raise CorruptMetadataError(
            f"expected a JSON object, got {type(entry).__name__}", location=where
        )
    return entry


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
