"""Stages and aliases for every SQL store: :meth:`~modelshelf.protocols.MetadataStore.transition`.

The rules (who is archived, whether an alias moves, which events are
recorded) are the core's, in :mod:`modelshelf.transitions`; a SQL store only
locks, reads and writes. :class:`SqlLifecycle` does that once for all of
them: under the model name's lock and in one transaction it reads the
:class:`~modelshelf.protocols.NameState`, calls the plan, and applies the
:class:`~modelshelf.protocols.Changes` it returns, so no reader sees two
Production versions, or a change without its event. If the plan raises, the
transaction rolls back and nothing is written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelshelf.errors import StoreError
from modelshelf.metadata import Stage
from modelshelf.protocols import NameState, VersionState

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from modelshelf.protocols import AuditEvent, Changes
    from modelshelf.sql.dialect import Connection, Dialect
    from modelshelf.sql.statements import Statements


#: The audit table's columns, in the order of ``SqlStore._audit_values``.
AUDIT_COLUMNS = (
    "at",
    "model_name",
    "version",
    "action",
    "from_value",
    "to_value",
    "actor",
    "reason",
    "model_id",
)


class SqlLifecycle:
    """Mixed into :class:`~modelshelf.sql.SqlStore`; uses its transactions."""

    sql: Statements
    dialect: Dialect

    if TYPE_CHECKING:

        def _write(self, *lock_names: str) -> Any: ...

        def _audit_values(self, event: AuditEvent) -> tuple[Any, ...]: ...

    def transition(
        self,
        model_name: str,
        plan: Callable[[NameState], Changes],
        *,
        model_ids: Sequence[int] = (),
        aliases: Sequence[str] = (),
    ) -> Changes:
        with self._write(model_name) as conn:
            changes = plan(self._name_state(conn, model_name, model_ids, aliases))
            self._apply(conn, model_name, changes)
        return changes

    def _name_state(
        self, conn: Connection, model_name: str, model_ids: Sequence[int], aliases: Sequence[str]
    ) -> NameState:
        """What a plan decides on, read inside the write transaction."""
        p = self.sql.p
        targets: dict[str, int] = {}
        for alias in aliases:
            row = conn.execute(
                f"SELECT model_id FROM aliases WHERE model_name = {p} AND alias = {p}",
                (model_name, alias),
            ).fetchone()
            if row is not None:
                targets[alias] = int(row[0])
        wanted = [*model_ids, *targets.values()]
        by_id = f" OR id IN ({self.dialect.params(len(wanted))})" if wanted else ""
        rows = conn.execute(
            f"SELECT id, version, stage FROM models WHERE model_name = {p} "
            f"AND (stage = {p}{by_id})",
            (model_name, Stage.PRODUCTION.value, *wanted),
        ).fetchall()
        versions = {
            int(i): VersionState(model_id=int(i), version=str(v), stage=Stage(stage))
            for i, v, stage in rows
        }
        return NameState(model_name=model_name, versions=versions, aliases=targets)

    def _apply(self, conn: Connection, model_name: str, changes: Changes) -> None:
        """Write what the plan decided, in the caller's transaction."""
        p = self.sql.p
        for change in changes.stages:
            conn.execute(
                f"UPDATE models SET stage = {p} WHERE id = {p} AND model_name = {p}",
                (change.stage.value, change.model_id, model_name),
            )
        for alias in changes.aliases:
            if alias.model_id is None:
                conn.execute(
                    f"DELETE FROM aliases WHERE model_name = {p} AND alias = {p}",
                    (model_name, alias.alias),
                )
            else:
                conn.execute(self.sql.set_alias, (model_name, alias.alias, alias.model_id))
        self._append_events(conn, changes.events)

    def _append_events(self, conn: Connection, events: Sequence[AuditEvent]) -> None:
        """Append events verbatim (their times included) in the caller's transaction."""
        rows = [self._audit_values(event) for event in events]
        if not rows:
            return
        self.dialect.insert_many(
            conn,
            "audit",
            AUDIT_COLUMNS,
            rows,
        )

    def restore_alias(self, model_name: str, alias: str, model_id: int) -> None:
        """Point ``alias`` at ``model_id`` without recording an audit event
        (a registry copy restores aliases whose events it imports verbatim)."""
        p = self.sql.p
        with self._write(model_name) as conn:
            found = conn.execute(
                f"SELECT 1 FROM models WHERE id = {p} AND model_name = {p}", (model_id, model_name)
            ).fetchone()
            if found is None:
                raise StoreError(f"version id {model_id} of {model_name!r} does not exist")
            conn.execute(self.sql.set_alias, (model_name, alias, model_id))
