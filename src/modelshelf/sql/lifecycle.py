"""Stages, aliases and their audit events, for a SQL store that keeps no rules of its own.

The defaults :class:`~modelshelf.sql.SqlStore` inherits: each change is one
transaction under the model name's lock, and records its audit event in
that transaction, so no reader sees two Production versions, or a change
without its event. A store may override any of them.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from modelshelf.errors import StoreError
from modelshelf.metadata import Stage
from modelshelf.protocols import STAGE_ACTION, AuditEvent

if TYPE_CHECKING:
    from collections.abc import Iterator

    from modelshelf.metadata import ModelMetadata
    from modelshelf.sql.dialect import Connection
    from modelshelf.sql.statements import Statements


class SqlLifecycle:
    """Mixed into :class:`~modelshelf.sql.SqlStore`; uses its transactions and rows."""

    sql: Statements

    if TYPE_CHECKING:

        def _write(self, *lock_names: str) -> Any: ...

        def _read(self, sql: str, params: Any = ()) -> list[Any]: ...

        def _row_to_metadata(self, row: Any) -> ModelMetadata: ...

        def _audit_values(self, event: AuditEvent) -> tuple[Any, ...]: ...

    def _record(self, conn: Connection, **event: Any) -> None:
        values = self._audit_values(AuditEvent(at=datetime.now(timezone.utc), **event))
        conn.execute(self.sql.insert_audit, values)

    def _rows(self, conn: Connection, ids: list[int]) -> Iterator[ModelMetadata]:
        if not ids:
            return
        marks = ", ".join([self.sql.p] * len(ids))
        for row in conn.execute(f"{self.sql.select} WHERE models.id IN ({marks})", ids).fetchall():
            yield self._row_to_metadata(row)

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
        p = self.sql.p
        found = self._read(f"SELECT model_name FROM models WHERE id = {p}", (model_id,))
        if not found:
            return []
        with self._write(str(found[0][0])) as conn:
            target = next(self._rows(conn, [model_id]), None)
            if target is None:
                return []
            changed = [model_id]
            if archive_others and stage is Stage.PRODUCTION:
                others = conn.execute(
                    f"SELECT id FROM models WHERE model_name = {p} AND stage = {p} "
                    f"AND id != {p} ORDER BY id",
                    (target.model_name, Stage.PRODUCTION.value, model_id),
                ).fetchall()
                for other in self._rows(conn, [int(row[0]) for row in others]):
                    conn.execute(
                        f"UPDATE models SET stage = {p} WHERE id = {p}",
                        (Stage.ARCHIVED.value, other.model_id),
                    )
                    self._record(
                        conn,
                        model_name=other.model_name,
                        version=other.version,
                        action=STAGE_ACTION,
                        from_value=other.stage.value,
                        to_value=Stage.ARCHIVED.value,
                        actor=actor,
                        reason=f"replaced by {target.version} in Production",
                        model_id=other.model_id,
                    )
                    changed.append(other.model_id)
            conn.execute(f"UPDATE models SET stage = {p} WHERE id = {p}", (stage.value, model_id))
            self._record(
                conn,
                model_name=target.model_name,
                version=target.version,
                action=action,
                from_value=target.stage.value,
                to_value=stage.value,
                actor=actor,
                reason=reason,
                model_id=model_id,
            )
            by_id = {m.model_id: m for m in self._rows(conn, changed)}
        return [by_id[i] for i in changed]

    def _point(
        self, conn: Connection, model_name: str, alias: str, model_id: int | None
    ) -> tuple[int | None, str | None, str | None]:
        """Move (or with None, remove) an alias; returns the previous id and both versions."""
        p = self.sql.p
        row = conn.execute(
            "SELECT a.model_id, m.version FROM aliases a JOIN models m ON m.id = a.model_id "
            f"WHERE a.model_name = {p} AND a.alias = {p}",
            (model_name, alias),
        ).fetchone()
        previous, old_version = (None, None) if row is None else (int(row[0]), str(row[1]))
        if model_id is None:
            conn.execute(
                f"DELETE FROM aliases WHERE model_name = {p} AND alias = {p}", (model_name, alias)
            )
            return previous, old_version, None
        new = conn.execute(
            f"SELECT version FROM models WHERE id = {p} AND model_name = {p}",
            (model_id, model_name),
        ).fetchone()
        if new is None:
            raise StoreError(f"version id {model_id} of {model_name!r} does not exist")
        conn.execute(self.sql.set_alias, (model_name, alias, model_id))
        return previous, old_version, str(new[0])

    def set_alias(
        self, model_name: str, alias: str, model_id: int | None, *, actor: str, reason: str
    ) -> int | None:
        with self._write(model_name) as conn:
            previous, old_version, new_version = self._point(conn, model_name, alias, model_id)
            if previous == model_id:
                return previous  # nothing moves, nothing to record
            self._record(
                conn,
                model_name=model_name,
                version=new_version or old_version or "",
                action=f"alias:{alias}",
                from_value=old_version,
                to_value=new_version,
                actor=actor,
                reason=reason,
                model_id=previous if model_id is None else model_id,
            )
        return previous

    def restore_alias(self, model_name: str, alias: str, model_id: int) -> None:
        """Point ``alias`` at ``model_id`` without recording an audit event."""
        with self._write(model_name) as conn:
            self._point(conn, model_name, alias, model_id)
