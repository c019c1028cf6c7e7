"""The stage and alias rules of ``modelshelf.transitions``, and stores that predate them.

The rules are pure functions of a name's state, so they are checked here
without a store; that every store applies them atomically is the
conformance suite's job. A store written before ``transition`` (with its own
``set_stage`` and ``set_alias``) still runs a registry, with a deprecation
warning.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import pytest

from modelshelf import CorruptMetadataError, ModelNotFoundError, ModelRegistry, Stage
from modelshelf.protocols import (
    ROLLBACK_ACTION,
    STAGE_ACTION,
    AliasChange,
    AuditEvent,
    Changes,
    NameState,
    StageChange,
    VersionState,
)
from modelshelf.testing.reference import ReferenceScheme, change_stage, make_draft, point_alias
from modelshelf.transitions import plan_alias, plan_stage
from modelshelf_plugins.json_store import JsonStore
from modelshelf_plugins.sqlite_store import SqliteStore

if TYPE_CHECKING:
    from pathlib import Path

    from modelshelf.metadata import ModelDraft, ModelInfo, ModelMetadata
    from modelshelf.protocols import VersioningScheme
    from modelshelf.query import Query, Ranking

AT = datetime(2025, 5, 1, 12, 0, 0, 250_001, tzinfo=timezone.utc)


def _state(*versions: tuple[int, str, Stage], aliases: dict[str, int] | None = None) -> NameState:
    return NameState(
        model_name="m",
        versions={i: VersionState(model_id=i, version=v, stage=s) for i, v, s in versions},
        aliases=aliases or {},
    )


def _event(version: str, action: str, old: str | None, new: str | None, **kw: Any) -> AuditEvent:
    return AuditEvent(
        at=AT,
        model_name="m",
        version=version,
        action=action,
        from_value=old,
        to_value=new,
        actor=kw.pop("actor", "ann"),
        reason=kw.pop("reason", ""),
        **kw,
    )


# -- stages -------------------------------------------------------------------------


def test_promoting_archives_every_other_production_version_and_records_each() -> None:
    state = _state((3, "3", Stage.STAGING), (1, "1", Stage.PRODUCTION), (2, "2", Stage.PRODUCTION))
    changes = plan_stage(
        state, 3, Stage.PRODUCTION, archive_others=True, actor="ann", reason="better", at=AT
    )
    assert changes == Changes(
        stages=[
            StageChange(model_id=3, stage=Stage.PRODUCTION),
            StageChange(model_id=1, stage=Stage.ARCHIVED),
            StageChange(model_id=2, stage=Stage.ARCHIVED),
        ],
        events=[
            _event(
                "1",
                STAGE_ACTION,
                "Production",
                "Archived",
                reason="replaced by 3 in Production",
                model_id=1,
            ),
            _event(
                "2",
                STAGE_ACTION,
                "Production",
                "Archived",
                reason="replaced by 3 in Production",
                model_id=2,
            ),
            _event("3", STAGE_ACTION, "Staging", "Production", reason="better", model_id=3),
        ],
    )


@pytest.mark.parametrize(
    ("stage", "archive_others"),
    [(Stage.PRODUCTION, False), (Stage.STAGING, True), (Stage.ARCHIVED, True)],
)
def test_only_the_target_moves_without_archiving_or_outside_production(
    stage: Stage, archive_others: bool
) -> None:
    state = _state((1, "1", Stage.PRODUCTION), (2, "2", Stage.NONE))
    changes = plan_stage(
        state,
        2,
        stage,
        archive_others=archive_others,
        actor="ann",
        reason="",
        at=AT,
        action=ROLLBACK_ACTION,
    )
    assert changes.stages == (StageChange(model_id=2, stage=stage),)
    assert changes.events == (_event("2", ROLLBACK_ACTION, "None", stage.value, model_id=2),)
    assert changes.aliases == ()


def test_a_version_missing_from_the_state_is_not_found() -> None:
    with pytest.raises(ModelNotFoundError, match="version id 9 of 'm'"):
        plan_stage(_state(), 9, Stage.PRODUCTION, archive_others=True, actor="a", reason="")


# -- aliases ------------------------------------------------------------------------


def test_an_alias_move_names_both_versions_and_the_new_target() -> None:
    state = _state((1, "1", Stage.NONE), (2, "2", Stage.NONE), aliases={"champion": 1})
    changes = plan_alias(state, "champion", 2, actor="ann", reason="f1", at=AT)
    assert changes == Changes(
        aliases=[AliasChange(alias="champion", model_id=2)],
        events=[_event("2", "alias:champion", "1", "2", reason="f1", model_id=2)],
    )


def test_removing_an_alias_names_the_version_it_left() -> None:
    state = _state((1, "1", Stage.NONE), aliases={"champion": 1})
    changes = plan_alias(state, "champion", None, actor="ann", reason="", at=AT)
    assert changes.aliases == (AliasChange(alias="champion", model_id=None),)
    assert changes.events == (_event("1", "alias:champion", "1", None, model_id=1),)


def test_an_alias_that_does_not_move_changes_and_records_nothing() -> None:
    state = _state((1, "1", Stage.NONE), aliases={"champion": 1})
    assert plan_alias(state, "champion", 1, actor="a", reason="") == Changes()
    assert plan_alias(_state(), "champion", None, actor="a", reason="") == Changes()


def test_an_alias_on_a_version_outside_the_state_is_refused() -> None:
    with pytest.raises(ModelNotFoundError, match="version id 5 of 'm'"):
        plan_alias(_state(), "champion", 5, actor="a", reason="")


# -- a store written before transition -----------------------------------------------


class LegacyStore:
    """A store as third parties wrote them before ``transition``: it decides the
    stage and alias rules itself, in ``set_stage`` and ``set_alias``, on SQLite."""

    def __init__(self, path: Path) -> None:
        self._db = SqliteStore(path)

    def add(self, draft: ModelDraft, scheme: VersioningScheme) -> ModelMetadata:
        return self._db.add(draft, scheme)

    def get(self, model_id: int) -> ModelMetadata | None:
        return self._db.get(model_id)

    def find(self, query: Query) -> list[ModelMetadata]:
        return self._db.find(query)

    def count(self, query: Query) -> int:
        return self._db.count(query)

    def best(self, ranking: Ranking, query: Query) -> ModelMetadata | None:
        return self._db.best(ranking, query)

    def model_names(self) -> list[str]:
        return self._db.model_names()

    def delete(self, model_id: int) -> ModelMetadata | None:
        return self._db.delete(model_id)

    def update(
        self, model_id: int, *, description: str | None, tags: dict[str, str] | None
    ) -> ModelMetadata | None:
        return self._db.update(model_id, description=description, tags=tags)

    def audit_log(self, model_name: str | None) -> list[AuditEvent]:
        return self._db.audit_log(model_name)

    def get_model_info(self, model_name: str) -> ModelInfo | None:
        return self._db.get_model_info(model_name)

    def set_model_info(self, info: ModelInfo) -> None:
        self._db.set_model_info(info)

    def close(self) -> None:
        self._db.close()

    def set_stage(
        self,
        model_id: int,
        stage: Stage,
        *,
        archive_others: bool,
        actor: str,
        reason: str,
        action: str = STAGE_ACTION,
    ) -> list[ModelMetadata]:
        target = self._db.get(model_id)
        if target is None:
            return []
        now = datetime.now(timezone.utc)
        changed = [model_id]
        with self._db._write() as conn:
            if archive_others and stage is Stage.PRODUCTION:
                rows = conn.execute(
                    "SELECT id, version FROM models WHERE model_name = ? AND stage = ? "
                    "AND id != ? ORDER BY id",
                    (target.model_name, Stage.PRODUCTION.value, model_id),
                ).fetchall()
                for other_id, version in rows:
                    conn.execute("UPDATE models SET stage = 'Archived' WHERE id = ?", (other_id,))
                    event = AuditEvent(
                        at=now, model_name=target.model_name, version=version,
                        action=STAGE_ACTION, from_value="Production", to_value="Archived",
                        actor=actor, reason=f"replaced by {target.version} in Production",
                        model_id=other_id,
                    )  # fmt: skip
                    self._db._append_events(conn, [event])
                    changed.append(other_id)
            conn.execute("UPDATE models SET stage = ? WHERE id = ?", (stage.value, model_id))
            event = AuditEvent(
                at=now, model_name=target.model_name, version=target.version, action=action,
                from_value=target.stage.value, to_value=stage.value, actor=actor,
                reason=reason, model_id=model_id,
            )  # fmt: skip
            self._db._append_events(conn, [event])
        return [m for m in (self._db.get(i) for i in changed) if m is not None]

    def set_alias(
        self, model_name: str, alias: str, model_id: int | None, *, actor: str, reason: str
    ) -> int | None:
        with self._db._write() as conn:
            row = conn.execute(
                "SELECT model_id FROM aliases WHERE model_name = ? AND alias = ?",
                (model_name, alias),
            ).fetchone()
            previous = None if row is None else int(row[0])
            if model_id is None:
                conn.execute(
                    "DELETE FROM aliases WHERE model_name = ? AND alias = ?", (model_name, alias)
                )
            else:
                conn.execute(
                    "INSERT INTO aliases (model_name, alias, model_id) VALUES (?, ?, ?) ON "
                    "CONFLICT (model_name, alias) DO UPDATE SET model_id = excluded.model_id",
                    (model_name, alias, model_id),
                )
        return previous


def test_a_store_from_before_transition_still_runs_a_registry(tmp_path: Path) -> None:
    legacy = LegacyStore(tmp_path / "legacy.db")
    # The type checker flags it too: a MetadataStore now has transition.
    with pytest.warns(DeprecationWarning, match="LegacyStore implements set_stage/set_alias"):
        registry = ModelRegistry(tmp_path / "reg", store=legacy)  # type: ignore[arg-type]
    with registry:
        ids = [registry.save_model({"n": n}, "m") for n in range(3)]
        for model_id in ids:
            registry.promote(model_id, reason=f"take {model_id}")
        stages = [registry.get_metadata(i).stage for i in ids]
        assert stages == [Stage.ARCHIVED, Stage.ARCHIVED, Stage.PRODUCTION]
        assert registry.rollback("m").model_id == ids[1]
        assert registry.get_metadata(ids[2]).stage is Stage.ARCHIVED
        assert registry.set_alias(ids[0], "champion").aliases == ("champion",)
        assert registry.set_alias(ids[1], "champion").aliases == ("champion",)
        assert registry.get_metadata(ids[0]).aliases == ()
        actions = [e.action for e in registry.audit_log("m")]
        assert actions.count(ROLLBACK_ACTION) == 1


def test_a_store_with_neither_primitive_is_refused(tmp_path: Path) -> None:
    class Incomplete(LegacyStore):
        set_alias = None  # type: ignore[assignment]

    from modelshelf import PluginError

    incomplete = Incomplete(tmp_path / "x.db")
    try:
        with pytest.raises(PluginError, match="transition"):
            ModelRegistry(tmp_path / "reg", store=incomplete)  # type: ignore[arg-type]
    finally:
        incomplete.close()


# -- a version the JSON store cannot read ------------------------------------------------


def test_the_json_store_refuses_to_promote_beside_a_version_it_cannot_read(
    tmp_path: Path,
) -> None:
    """Its stage is unknown, so it may be in Production: promoting another would
    risk two. Other names, and alias moves, are not held up."""
    scheme = ReferenceScheme()
    store = JsonStore(tmp_path)
    try:
        damaged, other = (store.add(make_draft("m"), scheme) for _ in range(2))
        bystander = store.add(make_draft("b"), scheme)
        change_stage(store, damaged.model_id, Stage.PRODUCTION, archive_others=True, actor="a",
                     reason="")  # fmt: skip
    finally:
        store.close()
    journal = tmp_path / "index.journal"
    lines = []
    for line in journal.read_text().splitlines():
        entry = json.loads(line)
        if entry.get("op") == "add" and entry["data"]["model_id"] == damaged.model_id:
            entry["data"]["created_at"] = "not a time"
        lines.append(json.dumps(entry))
    journal.write_text("\n".join(lines) + "\n")
    store = JsonStore(tmp_path)
    try:
        with pytest.raises(CorruptMetadataError, match=f"model id {damaged.model_id}"):
            change_stage(store, other.model_id, Stage.PRODUCTION, archive_others=True,
                         actor="a", reason="")  # fmt: skip
        assert store.audit_log("m")[-1].model_id == damaged.model_id  # nothing recorded
        still = store.get(other.model_id)
        assert still is not None
        assert still.stage is Stage.NONE
        assert point_alias(store, "m", "next", other.model_id, actor="a", reason="") is None
        moved = change_stage(store, bystander.model_id, Stage.PRODUCTION, archive_others=True,
                             actor="a", reason="")  # fmt: skip
        assert [m.stage for m in moved] == [Stage.PRODUCTION]
    finally:
        store.close()
