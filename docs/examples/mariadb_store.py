"""A MySQL/MariaDB metadata store for modelshelf: a dialect and a connection.

An example of a third-party SQL store, not a shipped backend: modelshelf.sql
writes every statement; this file says how MariaDB spells what differs and
how it opens connections and runs transactions.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

import pymysql

from modelshelf.errors import InvalidMetadataError, StoreError
from modelshelf.sql import Dialect, SqlStore, Statements, lock_names, open_schema

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

#: Exact text: byte order, no case folding, and trailing spaces count (NO PAD).
EXACT = "CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin"
#: Indexed text: InnoDB keys hold at most 3072 bytes, 4 per character.
KEY_LENGTH = 255


class MariaDbDialect(Dialect):
    name: ClassVar[str] = "mariadb"
    placeholder: ClassVar[str] = "%s"
    types: ClassVar[dict[str, str]] = {
        "ID": "BIGINT AUTO_INCREMENT PRIMARY KEY",
        "REF": "BIGINT",
        "KEY": f"VARCHAR({KEY_LENGTH}) {EXACT}",
        "TEXT": f"LONGTEXT {EXACT}",
        "TIME": "BIGINT",  # microseconds since the epoch
        "BOOL": "BOOLEAN",
        "INT": "INTEGER",
        "FLOAT": "DOUBLE",
    }
    no_limit: ClassVar[int | None] = 2**64 - 1
    # The lock row of a name, locked until the transaction ends.
    lock_name_sql: ClassVar[str | None] = (
        "INSERT INTO name_locks (model_name) VALUES (%s) "
        "ON DUPLICATE KEY UPDATE model_name = model_name"
    )
    extra_schema: ClassVar[tuple[str, ...]] = (
        f"CREATE TABLE IF NOT EXISTS name_locks (model_name VARCHAR({KEY_LENGTH}) {EXACT} "
        "PRIMARY KEY)",
    )

    def quote(self, identifier: str) -> str:
        return f"`{identifier}`"

    def tags_json(self, alias: str) -> str:
        return f"JSON_OBJECTAGG({alias}.`key`, {alias}.value)"

    def aliases_json(self, alias: str) -> str:
        return f"JSON_ARRAYAGG({alias}.alias)"

    def cast(self, logical_type: str) -> str:
        if logical_type == "FLOAT":
            return "CAST(%s AS DOUBLE)"
        return "CAST(%s AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_nopad_bin"

    def upsert(self, table: str, columns: Sequence[str], keys: Sequence[str]) -> str:
        update = ", ".join(f"{c} = VALUES({c})" for c in columns if c not in keys)
        return (
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({self.params(len(columns))}) "
            f"ON DUPLICATE KEY UPDATE {update}"
        )

    def insert_ignore(self, table: str, columns: Sequence[str]) -> str:
        values = self.params(len(columns))
        return f"INSERT IGNORE INTO {table} ({', '.join(columns)}) VALUES ({values})"

    def check_text(self, field_name: str, value: str) -> str:
        if field_name in ("tags", "training_info.dataset") and len(value) > KEY_LENGTH:
            raise InvalidMetadataError(field_name, f"is longer than {KEY_LENGTH} characters")
        return value


class _Connection:
    """PyMySQL executes on cursors; the shared code calls ``execute`` on a connection."""

    def __init__(self, conn: pymysql.connections.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        cursor = self.conn.cursor()
        cursor.execute(sql, tuple(params) or None)
        return cursor


class MariaDbStore(SqlStore):
    """Metadata in a MariaDB (or MySQL) database; one connection, guarded by a lock."""

    dialect = MariaDbDialect()
    sql = Statements(dialect)

    def __init__(self, *, database: str, host: str = "127.0.0.1", **options: Any) -> None:
        self.location = f"mysql://{host}/{database}"
        self._guard = threading.RLock()
        try:
            self._conn = pymysql.connect(host=host, database=database, **options)
            with self._write() as conn:
                # A database-wide lock, so processes opening a fresh database queue.
                conn.execute("SELECT GET_LOCK('modelshelf:schema', 60)")
                try:
                    open_schema(
                        lambda sql, params: list(conn.execute(sql, params).fetchall()),
                        self.dialect,
                        location=self.location,
                        upgrades={},
                    )
                finally:
                    conn.execute("SELECT RELEASE_LOCK('modelshelf:schema')")
        except pymysql.Error as exc:
            raise StoreError(f"cannot open MariaDB store at {self.location}: {exc}") from exc

    @contextmanager
    def _write(self, *names: str) -> Iterator[_Connection]:
        with self._guard:
            conn = _Connection(self._conn)
            try:
                self._conn.begin()
                lock_names(conn, self.dialect, names)
                yield conn
                self._conn.commit()
            except pymysql.Error as exc:
                self._conn.rollback()
                raise StoreError(f"MariaDB store {self.location}: {exc}") from exc
            except BaseException:
                self._conn.rollback()
                raise

    _snapshot = _write

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._write() as conn:
            return list(conn.execute(sql, params).fetchall())

    def close(self) -> None:
        with self._guard:
            self._conn.close()
