"""The embedded default metadata store: one SQLite file, no server.

The statements are :mod:`modelshelf.sql`'s, in :class:`SqliteDialect`; this
module opens the file and runs transactions. Every write is one ``BEGIN
IMMEDIATE`` transaction, so concurrent processes queue on SQLite's lock
(behind an ``flock`` queue, see :meth:`SqliteStore._queued`) instead of
failing, and a version number is decided inside the transaction that
records it. WAL lets readers run while a writer commits and never see half
of a change.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelshelf import hookimpl
from modelshelf.errors import InvalidInputError, StoreError
from modelshelf.protocols import MetadataStore, Provider
from modelshelf.sql import (
    SqlStore,
    Statements,
    from_micros,
    open_schema,
    to_micros,
)
from modelshelf_plugins.sqlite_dialect import UPGRADES, VERSION_BOOK, SqliteDialect, align_columns
from modelshelf_plugins.sqlite_file import check_database_file, failure, lenient_text

if sys.platform != "win32":
    import fcntl

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

__all__ = [
    "SqliteDialect",
    "SqliteStore",
    "check_database_file",
    "from_micros",
    "modelshelf_metadata_stores",
    "to_micros",
    "where_clause",
]

SCHEMA_VERSION = 3
BUSY_TIMEOUT_SECONDS = 60.0

DIALECT = SqliteDialect()
STATEMENTS = Statements(DIALECT)
#: A query's filters as a WHERE clause and its bound values.
where_clause = STATEMENTS.where


class SqliteStore(SqlStore):
    """Metadata in ``registry.db`` (or the file ``url`` names)."""

    dialect = DIALECT
    sql = STATEMENTS

    def __init__(self, path: Path, busy_timeout: float = BUSY_TIMEOUT_SECONDS) -> None:
        self.path = path
        self.location = str(path)
        check_database_file(path)
        self._lock = threading.RLock()
        self._queue_fd = self._open_queue(path)
        try:
            self._conn = sqlite3.connect(
                path,
                timeout=busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            with self._write() as conn:
                align_columns(conn)
                open_schema(
                    lambda sql, params: conn.execute(sql, params).fetchall(),
                    DIALECT,
                    location=str(path),
                    upgrades=UPGRADES,
                    book=VERSION_BOOK,
                )
        except sqlite3.Error as exc:
            raise failure(path, f"cannot open SQLite store at {path}", exc) from exc

    # -- transactions ---------------------------------------------------------

    @staticmethod
    def _open_queue(path: Path) -> int | None:
        if sys.platform == "win32" or str(path) == ":memory:":
            return None
        try:
            return os.open(f"{path}-writers.lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            return None  # e.g. a read-only directory: SQLite's own locking still holds

    @contextmanager
    def _queued(self) -> Iterator[None]:
        """Queue writers on an ``flock`` before SQLite's lock.

        SQLite's busy handler sleeps 1, 2, 5 ... 100 ms between tries, so with
        several processes saving, the lock sat free while waiters slept: four
        processes saved at a third of one process's rate. The kernel wakes the
        next ``flock`` waiter the moment the holder lets go. The lock is freed
        when a process dies, and SQLite's locking stays the real guard.
        """
        if sys.platform == "win32" or self._queue_fd is None:
            yield
            return
        fcntl.flock(self._queue_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._queue_fd, fcntl.LOCK_UN)

    @contextmanager
    def _write(self, *lock_names: str) -> Iterator[sqlite3.Connection]:
        """One immediate transaction: the write lock is taken up front, so
        two writers never both read the same highest version (and no name
        needs a lock of its own)."""
        with self._lock, self._queued():
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"SQLite store {self.path} is not writable: {exc}") from exc
            try:
                yield self._conn
            except BaseException as exc:
                self._rollback()
                if isinstance(exc, sqlite3.Error):  # e.g. "database or disk is full"
                    raise StoreError(f"write failed on {self.path}: {exc}") from exc
                if isinstance(exc, OverflowError):  # an int sqlite3 cannot bind
                    raise self._out_of_range(exc) from exc
                raise
            else:
                try:
                    self._conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    self._rollback()
                    raise StoreError(f"commit failed on {self.path}: {exc}") from exc

    def _out_of_range(self, exc: OverflowError) -> InvalidInputError:
        return InvalidInputError(
            f"a value given to the SQLite store {self.path} is outside SQLite's signed "
            f"64-bit integer range: {exc}"
        )

    def _rollback(self) -> None:
        """Roll back unless SQLite already did (it does after some errors,
        such as a full disk, and a second ROLLBACK would mask the first error)."""
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except OverflowError as exc:
                raise self._out_of_range(exc) from exc
            except sqlite3.OperationalError as exc:
                if "decode" not in str(exc):
                    raise StoreError(f"query failed on {self.path}: {exc}") from exc
                return self._read_damaged(sql, params)
            except sqlite3.Error as exc:
                raise failure(self.path, f"query failed on {self.path}", exc) from exc

    def _read_damaged(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """Run a query again when a TEXT cell holds bytes that are not UTF-8.

        Such bytes decode with ``surrogateescape`` here, so the row still
        arrives and the metadata boundary, which refuses lone surrogates,
        reports the damaged version by id instead of failing the whole query.
        Only this slow path pays for the Python text factory.
        """
        self._conn.text_factory = lenient_text
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"query failed on {self.path}: {exc}") from exc
        finally:
            self._conn.text_factory = str

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """Reads in one deferred transaction: under WAL they see one state."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            finally:
                self._rollback()

    def check(self) -> list[str]:
        """Problems SQLite finds in the database file (``PRAGMA quick_check``): damaged
        pages or indexes that queries may not touch until much later. [] when sound."""
        try:
            rows = self._read("PRAGMA quick_check")
        except StoreError as exc:
            return [str(exc)]
        problems = [str(row[0]) for row in rows]
        return [] if problems == ["ok"] else problems

    def close(self) -> None:
        with self._lock:
            self._conn.close()
            if self._queue_fd is not None:
                os.close(self._queue_fd)
                self._queue_fd = None


def _database_path(storage_path: Path, url: str | None) -> Path:
    if url is not None:
        return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:") else Path(url)
    return storage_path / "registry.db"


def _create(
    storage_path: Path, url: str | None = None, busy_timeout: float = BUSY_TIMEOUT_SECONDS
) -> MetadataStore:
    """``busy_timeout`` (seconds, a ``store_options`` key): how long a write
    waits for another process's transaction before failing."""
    if isinstance(busy_timeout, bool) or not isinstance(busy_timeout, (int, float)):
        raise StoreError(f"sqlite store option busy_timeout must be seconds, got {busy_timeout!r}")
    return SqliteStore(_database_path(storage_path, url), busy_timeout=float(busy_timeout))


def _footprint(storage_path: Path, url: str | None) -> list[Path]:
    return [_database_path(storage_path, url)]


@hookimpl
def modelshelf_metadata_stores() -> list[Provider[MetadataStore]]:
    return [
        Provider(
            name="sqlite",
            factory=_create,
            description="SQLite file registry.db in the storage directory (WAL, indexed)",
            capabilities={"transactions", "multiprocess", "sql"},
            footprint=_footprint,
        )
    ]
