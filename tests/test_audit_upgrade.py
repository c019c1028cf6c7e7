"""Audit logs written before events carried ``model_id`` still replay sensibly.

Each store is brought back to the shape an older modelshelf left (SQLite
schema 1, PostgreSQL schema 2, JSON journal and snapshot entries without
``model_id`` and ``retired``), with the history the older code wrote: a
rollback was a stage change whose reason read ``rollback from <version>``,
and nothing stopped a model from being saved under a deleted version's
number. Opening the store upgrades it: old events get the id of the version
that had their number when they were recorded, old rollbacks become
rollback events, and the numbers of deleted versions are retired.
"""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING, Any

import pytest

from modelshelf import ModelNotFoundError, ModelRegistry, RetiredVersionError, Stage
from modelshelf.protocols import ROLLBACK_ACTION, STAGE_ACTION

if TYPE_CHECKING:
    from pathlib import Path

    from sklearn.linear_model import LogisticRegression

STORES = ["sqlite", "json", "postgresql"]


@pytest.fixture(params=STORES)
def target(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    store = str(request.param)
    if store != "postgresql":
        return store, None
    return store, str(request.getfixturevalue("modelshelf_postgresql_url"))


def _make_history(registry: ModelRegistry, model: Any) -> dict[str, int]:
    """The history an older modelshelf could have written; returns ids by label."""
    ids = {}
    for label in ("a", "b", "c"):
        ids[label] = registry.save_model(model, "m")  # m 1.0.0, 1.0.1, 1.0.2
    for version in ("1.0.0", "1.0.1", "1.0.2"):
        registry.promote(f"m:{version}")
    assert registry.rollback("m").version == "1.0.1"
    # n: 1.0.0 was in Production, then deleted; a later model (z, renamed to
    # 1.0.0 below, as older code allowed) was never in Production.
    ids["x"] = registry.save_model(model, "n")
    ids["y"] = registry.save_model(model, "n")
    registry.transition_stage("n", "1.0.0", "Production")
    registry.transition_stage("n", "1.0.1", "Production")
    registry.transition_stage("n", "1.0.0", "Archived")
    assert registry.delete_model(ids["x"])
    ids["z"] = registry.save_model(model, "n")
    # r: deleted versions, one named by the audit log, one the highest.
    for _ in range(3):
        registry.save_model(model, "r")
    registry.transition_stage("r", "1.0.0", "Production")
    registry.transition_stage("r", "1.0.0", "Archived")
    for version in ("1.0.0", "1.0.2"):
        assert registry.delete_model(registry.get_metadata(f"r:{version}").model_id)
    return ids


def _downgrade_sqlite(registry: ModelRegistry, z: int) -> None:
    path = registry.storage_path / "registry.db"
    key = registry.versioning.sort_key("1.0.0")
    registry.close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE audit SET action = 'stage' WHERE action = 'rollback'")
        conn.execute("ALTER TABLE audit DROP COLUMN model_id")
        conn.execute("DROP TABLE retired_versions")
        conn.execute("UPDATE schema_info SET value = '1' WHERE key = 'schema_version'")
        conn.execute(
            "UPDATE models SET version = '1.0.0', version_key = ?, "
            "data = json_set(data, '$.version', '1.0.0') WHERE id = ?",
            (key, z),
        )


def _downgrade_postgresql(registry: ModelRegistry, z: int, url: str) -> None:
    import psycopg
    from modelshelf_postgresql import resolve_url

    conninfo, schema = resolve_url(url)
    key = registry.versioning.sort_key("1.0.0")
    registry.close()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        conn.execute("UPDATE audit SET action = 'stage' WHERE action = 'rollback'")
        conn.execute("ALTER TABLE audit DROP COLUMN model_id")
        conn.execute("DROP TABLE retired_versions")
        conn.execute("UPDATE modelshelf_schema SET version = 2")
        conn.execute(
            "UPDATE models SET version = '1.0.0', version_key = %s, "
            "data = jsonb_set(data::jsonb, '{version}', '\"1.0.0\"')::text WHERE id = %s",
            (key, z),
        )


def _old_event(event: dict[str, Any]) -> dict[str, Any]:
    event = {k: v for k, v in event.items() if k != "model_id"}
    if event["action"] == ROLLBACK_ACTION:
        event["action"] = STAGE_ACTION
    return event


def _old_entry(entry: dict[str, Any], z: int, key: str) -> dict[str, Any]:
    if entry.get("op") == "batch":
        return {**entry, "entries": [_old_entry(e, z, key) for e in entry["entries"]]}
    if entry.get("op") == "audit":
        return {**entry, "event": _old_event(entry["event"])}
    if entry.get("op") == "add" and entry["data"]["model_id"] == z:
        return {**entry, "version_key": key, "data": {**entry["data"], "version": "1.0.0"}}
    return entry


def _downgrade_json(registry: ModelRegistry, z: int, *, snapshot: bool) -> None:
    root = registry.storage_path
    key = registry.versioning.sort_key("1.0.0")
    if snapshot:
        registry.store._compact()  # type: ignore[attr-defined]
    registry.close()
    journal = root / "index.journal"
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    journal.write_text("".join(json.dumps(_old_entry(e, z, key)) + "\n" for e in lines))
    index = root / "index.json"
    if index.exists():
        data = json.loads(index.read_text())
        del data["retired"]
        data["audit"] = [_old_event(e) for e in data["audit"]]
        for version in data["versions"]:
            if version["data"]["model_id"] == z:
                version["version_key"] = key
                version["data"]["version"] = "1.0.0"
        index.write_text(json.dumps(data))


@pytest.mark.parametrize("snapshot", [False, True], ids=["journal", "snapshot"])
def test_an_older_audit_log_replays_by_id_after_the_upgrade(
    target: tuple[str, str | None],
    snapshot: bool,
    tmp_path: Path,
    logistic: LogisticRegression,
) -> None:
    store, url = target
    if snapshot and store != "json":
        pytest.skip("only the JSON store has a snapshot and a journal")

    def open_() -> ModelRegistry:
        return ModelRegistry(tmp_path / "registry", store=store, store_url=url)

    registry = open_()
    ids = _make_history(registry, logistic)
    if store == "sqlite":
        _downgrade_sqlite(registry, ids["z"])
    elif store == "postgresql":
        assert url is not None
        _downgrade_postgresql(registry, ids["z"], url)
    else:
        _downgrade_json(registry, ids["z"], snapshot=snapshot)

    with open_() as upgraded:
        events = upgraded.audit_log("m")
        assert all(e.model_id is not None for e in events)
        assert [(e.action, e.model_id) for e in events if e.to_value == "Production"] == [
            (STAGE_ACTION, ids["a"]),
            (STAGE_ACTION, ids["b"]),
            (STAGE_ACTION, ids["c"]),
            (ROLLBACK_ACTION, ids["b"]),
        ]
        # The old rollback pops: rolling back again walks on to 1.0.0.
        assert upgraded.rollback("m").model_id == ids["a"]

        # n:1.0.0's old events are not the renamed model's: it never deploys.
        # (SQL stores cannot name the deleted version any more; the JSON store
        # replays its journal in order and still can.)
        n_events = upgraded.audit_log("n")
        assert {e.model_id for e in n_events if e.version == "1.0.0"} <= {None, ids["x"]}
        assert upgraded.get_metadata("n:1.0.0").model_id == ids["z"]
        with pytest.raises(ModelNotFoundError, match="no earlier Production"):
            upgraded.rollback("n")
        assert upgraded.get_metadata("n:1.0.0").stage is Stage.NONE

        # Deleted numbers named by the log or the high-water mark are retired.
        for version in ("1.0.0", "1.0.2"):
            with pytest.raises(RetiredVersionError):
                upgraded.save_model(logistic, "r", version=version)
        assert upgraded.get_metadata(upgraded.save_model(logistic, "r")).version == "1.0.3"
