"""The JSON store's index in memory: every version, alias, name's info and audit
event, rebuilt from the snapshot and the journal's lines.

Applying a journal line is the one place a stored change becomes state, so a
damaged line or record is caught here and kept aside verbatim (reading that
version raises :class:`~modelshelf.CorruptMetadataError` naming its id) while
the rest stays readable. The files themselves (locking, appending, folding)
are :class:`~modelshelf_plugins.json_store.JsonStore`'s.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from modelshelf import converter
from modelshelf.errors import (
    CorruptMetadataError,
    InvalidInputError,
    MetadataValidationError,
    ModelShelfError,
)
from modelshelf.metadata import ModelMetadata, Stage
from modelshelf.protocols import (
    ROLLBACK_ACTION,
    STAGE_ACTION,
    AuditEvent,
)

#: The snapshot's format; a snapshot of another is refused, never guessed at.
FORMAT = 1

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
