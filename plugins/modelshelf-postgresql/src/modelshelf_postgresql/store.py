"""The PostgreSQL metadata store: the shared SQL store code over a connection pool.

Every write is one transaction. Writes that touch a model name first take
the dialect's advisory lock on that name, so writers queue on the lock
instead of failing: no contention error ever reaches a user.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from modelshelf.errors import StoreError
from modelshelf.metadata import ModelMetadata, Stage
from modelshelf.protocols import STAGE_ACTION
from modelshelf.sql import SqlStore, Statements, lock_names
from modelshelf_postgresql.connection import POOL_MAX_SIZE, location_of, open_pool, resolve_url
from modelshelf_postgresql.dialect import PostgresDialect, _check_text
from modelshelf_postgresql.schema import create_schema

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    import psycopg
    from psycopg_pool import ConnectionPool

DIALECT = PostgresDialect()
STATEMENTS = Statements(DIALECT)
#: Everything a reader needs to rebuild a version, in one row.
_SELECT = STATEMENTS.select


class PostgresStore(SqlStore):
    """Metadata in a PostgreSQL database (optionally in its own schema)."""

    dialect = DIALECT
    sql = STATEMENTS

    def __init__(self, url: str | None = None, *, pool_size: int = POOL_MAX_SIZE) -> None:
        import psycopg

        self._psycopg = psycopg
        conninfo, self.schema = resolve_url(url)
        self._lock_prefix = f"modelshelf:{self.schema or ''}:"
        self.location = location_of(conninfo)
        self._closed = threading.Event()
        try:
            self._pool: ConnectionPool[Any] = open_pool(
                conninfo, self.schema, pool_size, f"modelshelf-{self.location}"
            )
        except Exception as exc:
            raise StoreError(f"cannot open PostgreSQL store at {self.location}: {exc}") from exc
        try:
            create_schema(self._pool, self.schema, DIALECT, self.location)
        except Exception as exc:
            self._pool.close()
            if isinstance(exc, StoreError):
                raise
            raise StoreError(f"cannot open PostgreSQL store at {self.location}: {exc}") from exc

    @property
    def _rows_at(self) -> str:
        return f"at {self.location}"

    def schema_version(self) -> int:
        """The schema version recorded in the database."""
        return int(self._read("SELECT version FROM modelshelf_schema")[0][0])

    # -- transactions ---------------------------------------------------------------

    @contextmanager
    def _write(self, *lock_names_: str) -> Iterator[psycopg.Connection[Any]]:
        """One transaction, holding the advisory lock of every name given."""
        try:
            with self._pool.connection() as conn, conn.transaction():
                lock_names(conn, DIALECT, lock_names_, self._lock_prefix)
                yield conn
        except self._psycopg.Error as exc:
            raise StoreError(f"PostgreSQL store {self.location}: {exc}") from exc

    @contextmanager
    def _snapshot(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self._pool.connection() as conn, conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                yield conn
        except self._psycopg.Error as exc:
            raise StoreError(f"query failed on {self.location}: {exc}") from exc

    def _read(self, query: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            with self._pool.connection() as conn:
                return list(conn.execute(query, params).fetchall())
        except self._psycopg.Error as exc:
            raise StoreError(f"query failed on {self.location}: {exc}") from exc

    # -- the lifecycle --------------------------------------------------------------

    @staticmethod
    def _audit(
        conn: psycopg.Connection[Any],
        model_name: str,
        version: str,
        action: str,
        old: str | None,
        new: str | None,
        actor: str,
        reason: str,
        model_id: int | None,
    ) -> None:
        conn.execute(
            "INSERT INTO audit (at, model_name, version, action, from_value, to_value, "
            "actor, reason, model_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                datetime.now(timezone.utc),
                model_name,
                version,
                action,
                old,
                new,
                _check_text("actor", actor),
                _check_text("reason", reason),
                model_id,
            ),
        )

    def _name_of(self, model_id: int) -> str | None:
        rows = self._read("SELECT model_name FROM models WHERE id = %s", (model_id,))
        return None if not rows else str(rows[0][0])

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
        name = self._name_of(model_id)
        if name is None:
            return []
        with self._write(name) as conn:
            rows = conn.execute(f"{_SELECT} WHERE models.id = %s", (model_id,)).fetchall()
            if not rows:
                return []
            target = self._row_to_metadata(rows[0])
            changed_ids = [model_id]
            if archive_others and stage is Stage.PRODUCTION:
                others = conn.execute(
                    "SELECT id, version, stage FROM models WHERE model_name = %s "
                    "AND stage = %s AND id != %s ORDER BY id",
                    (target.model_name, Stage.PRODUCTION.value, model_id),
                ).fetchall()
                for other_id, other_version, other_stage in others:
                    conn.execute(
                        "UPDATE models SET stage = %s WHERE id = %s",
                        (Stage.ARCHIVED.value, other_id),
                    )
                    self._audit(
                        conn,
                        target.model_name,
                        other_version,
                        STAGE_ACTION,
                        other_stage,
                        Stage.ARCHIVED.value,
                        actor,
                        f"replaced by {target.version} in Production",
                        int(other_id),
                    )
                    changed_ids.append(int(other_id))
            conn.execute("UPDATE models SET stage = %s WHERE id = %s", (stage.value, model_id))
            self._audit(
                conn,
                target.model_name,
                target.version,
                action,
                target.stage.value,
                stage.value,
                actor,
                reason,
                model_id,
            )
            changed = {
                m.model_id: m
                for m in (
                    self._row_to_metadata(row)
                    for row in conn.execute(
                        f"{_SELECT} WHERE models.id = ANY(%s)", (changed_ids,)
                    ).fetchall()
                )
            }
        return [changed[i] for i in changed_ids]

    def set_alias(
        self, model_name: str, alias: str, model_id: int | None, *, actor: str, reason: str
    ) -> int | None:
        with self._write(model_name) as conn:
            previous, old_version, new_version = self._point_alias(
                conn, model_name, alias, model_id
            )
            self._audit(
                conn,
                model_name,
                new_version or old_version or "",
                f"alias:{alias}",
                old_version,
                new_version,
                actor,
                reason,
                previous if model_id is None else model_id,
            )
        return previous

    @staticmethod
    def _point_alias(
        conn: psycopg.Connection[Any], model_name: str, alias: str, model_id: int | None
    ) -> tuple[int | None, str | None, str | None]:
        row = conn.execute(
            "SELECT a.model_id, m.version FROM aliases a JOIN models m ON m.id = a.model_id "
            "WHERE a.model_name = %s AND a.alias = %s",
            (model_name, alias),
        ).fetchone()
        previous, old_version = (None, None) if row is None else (int(row[0]), str(row[1]))
        if model_id is None:
            conn.execute(
                "DELETE FROM aliases WHERE model_name = %s AND alias = %s", (model_name, alias)
            )
            return previous, old_version, None
        new = conn.execute(
            "SELECT version FROM models WHERE id = %s AND model_name = %s",
            (model_id, model_name),
        ).fetchone()
        if new is None:
            raise StoreError(f"version id {model_id} of {model_name!r} does not exist")
        conn.execute(
            "INSERT INTO aliases (model_name, alias, model_id) VALUES (%s, %s, %s) "
            "ON CONFLICT (model_name, alias) DO UPDATE SET model_id = excluded.model_id",
            (model_name, alias, model_id),
        )
        return previous, old_version, str(new[0])

    def restore_alias(self, model_name: str, alias: str, model_id: int) -> None:
        """Point ``alias`` at ``model_id`` without recording an audit event."""
        with self._write(model_name) as conn:
            self._point_alias(conn, model_name, alias, model_id)

    def close(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            self._pool.close()

    def __repr__(self) -> str:
        schema = f" schema={self.schema}" if self.schema else ""
        return f"<PostgresStore {self.location}{schema}>"
