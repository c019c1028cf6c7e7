"""The PostgreSQL metadata store: the shared SQL store code over a connection pool.

Every write is one transaction. Writes that touch a model name first take
the dialect's advisory lock on that name, so writers queue on the lock
instead of failing: no contention error ever reaches a user.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from modelshelf.errors import StoreError
from modelshelf.sql import SqlStore, Statements, lock_names
from modelshelf_postgresql.connection import POOL_MAX_SIZE, location_of, open_pool, resolve_url
from modelshelf_postgresql.dialect import PostgresDialect
from modelshelf_postgresql.schema import create_schema

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    import psycopg
    from psycopg_pool import ConnectionPool

DIALECT = PostgresDialect()
STATEMENTS = Statements(DIALECT)


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

    def close(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            self._pool.close()

    def __repr__(self) -> str:
        schema = f" schema={self.schema}" if self.schema else ""
        return f"<PostgresStore {self.location}{schema}>"
