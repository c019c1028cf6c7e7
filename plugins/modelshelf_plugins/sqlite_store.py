"""The embedded default metadata store: one SQLite file, no server.

Filters, metric thresholds, ordering and best-by-score run inside SQLite
with bound parameters; metrics live in their own indexed table so any
metric can be filtered and ranked without loading rows into Python. Every
write is one ``BEGIN IMMEDIATE`` transaction, so concurrent processes queue
on SQLite's lock (busy timeout) instead of failing, and a version number is
decided inside the transaction that records it. WAL lets readers run while
a writer commits and never see half of a change.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelshelf import converter, hookimpl
from modelshelf.errors import (
    DuplicateVersionError,
    InvalidInputError,
    MetadataMissingError,
    RetiredVersionError,
    StoreError,
)
from modelshelf.metadata import ModelDraft, ModelInfo, ModelMetadata, Stage, metadata_from_draft
from modelshelf.protocols import (
    AuditEvent,
    MetadataStore,
    NameState,
    Provider,
    VersioningScheme,
    VersionState,
)

if sys.platform != "win32":
    import fcntl

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from modelshelf.protocols import Changes
    from modelshelf.query import Query, Ranking

SCHEMA_VERSION = 2
BUSY_TIMEOUT_SECONDS = 60.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model_name TEXT NOT NULL,
    version TEXT NOT NULL,
    version_key TEXT NOT NULL,
    model_type TEXT NOT NULL,
    stage TEXT NOT NULL,
    description TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    checkpoint INTEGER NOT NULL,
    is_ensemble INTEGER NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (model_name, version)
);
CREATE INDEX IF NOT EXISTS models_by_name_version
    ON models (model_name, checkpoint, version_key);
CREATE INDEX IF NOT EXISTS models_by_type ON models (model_type);
CREATE INDEX IF NOT EXISTS models_by_stage ON models (stage, model_name);
CREATE INDEX IF NOT EXISTS models_by_created ON models (created_us);
CREATE TABLE IF NOT EXISTS metrics (
    model_id INTEGER NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (model_id, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS metrics_by_value ON metrics (name, value, model_id);
CREATE TABLE IF NOT EXISTS tags (
    model_id INTEGER NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tags_by_value ON tags (key, value);
CREATE TABLE IF NOT EXISTS aliases (
    model_name TEXT NOT NULL,
    alias TEXT NOT NULL,
    model_id INTEGER NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    PRIMARY KEY (model_name, alias)
);
CREATE INDEX IF NOT EXISTS aliases_by_model ON aliases (model_id);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_us INTEGER NOT NULL,
    model_name TEXT NOT NULL,
    version TEXT NOT NULL,
    action TEXT NOT NULL,
    from_value TEXT,
    to_value TEXT,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL,
    model_id INTEGER
);
CREATE INDEX IF NOT EXISTS audit_by_name ON audit (model_name, id);
CREATE TABLE IF NOT EXISTS model_info (
    model_name TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    tags TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS version_high_water (
    model_name TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    version_key TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS retired_versions (
    model_name TEXT NOT NULL,
    version TEXT NOT NULL,
    PRIMARY KEY (model_name, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS schema_info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

#: Upgrades a schema 1 database (audit rows without model_id, no record of
#: deleted versions) to schema 2, in the transaction that opens the store.
_MIGRATE_TO_2 = (
    "ALTER TABLE audit ADD COLUMN model_id INTEGER",
    # An event concerns the version that had its name and version when it was
    # recorded: one created later is a reuse of a deleted version's number.
    "UPDATE audit SET model_id = (SELECT m.id FROM models m WHERE m.model_name = "
    "audit.model_name AND m.version = audit.version AND m.checkpoint = 0 "
    "AND m.created_us <= audit.at_us ORDER BY m.id DESC LIMIT 1)",
    # Schema 1 recorded a rollback as a stage change whose reason it wrote
    # as "rollback from <version>[: <reason>]".
    "UPDATE audit SET action = 'rollback' WHERE action = 'stage' "
    "AND to_value = 'Production' AND reason LIKE 'rollback from %'",
    # Versions that audit rows or the high-water mark name but no row holds
    # any more were deleted: their numbers are retired.
    "INSERT OR IGNORE INTO retired_versions (model_name, version) "
    "SELECT model_name, version FROM audit WHERE version != '' "
    "UNION SELECT model_name, version FROM version_high_water",
    "DELETE FROM retired_versions WHERE EXISTS (SELECT 1 FROM models m WHERE "
    "m.model_name = retired_versions.model_name AND m.version = retired_versions.version)",
)

#: Columns a query may order by; the only text ever put into ORDER BY.
_ORDER_COLUMNS = {
    "model_id": "models.id",
    "model_name": "models.model_name",
    "model_type": "models.model_type",
    "version": "models.version_key",
    "created_at": "models.created_us",
    "stage": "models.stage",
}

#: Everything a reader needs to rebuild a version, in one row.
_SELECT = """
SELECT models.id, models.stage, models.description, models.data,
       (SELECT json_group_object(t.key, t.value) FROM tags t WHERE t.model_id = models.id),
       (SELECT json_group_array(a.alias) FROM aliases a WHERE a.model_id = models.id)
FROM models
"""

#: Fields kept in columns or side tables, so they can change without a rewrite.
_MUTABLE_FIELDS = ("model_id", "stage", "description", "tags", "aliases")


def _lenient_text(value: bytes) -> str:
    return value.decode("utf-8", "surrogateescape")


def to_micros(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    return datetime.fromtimestamp(micros // 1_000_000, tz=timezone.utc).replace(
        microsecond=micros % 1_000_000
    )


_INSERT_AUDIT = (
    "INSERT INTO audit (at_us, model_name, version, action, from_value, to_value, "
    "actor, reason, model_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _audit_row(event: AuditEvent) -> tuple[Any, ...]:
    return (
        to_micros(event.at),
        event.model_name,
        event.version,
        event.action,
        event.from_value,
        event.to_value,
        event.actor,
        event.reason,
        event.model_id,
    )


def where_clause(query: Query) -> tuple[str, list[Any]]:
    """Translate a query's filters into a WHERE clause and its bound values.

    Only fixed SQL fragments are joined here; every user-supplied value,
    metric names included, travels as a parameter.
    """
    clauses = ["models.checkpoint = ?"]
    params: list[Any] = [int(query.checkpoints)]
    for column, value in (
        ("models.model_name", query.model_name),
        ("models.model_type", query.model_type),
        ("models.version", query.version),
        ("models.stage", query.stage.value if query.stage is not None else None),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if query.alias is not None:
        clauses.append(
            "EXISTS (SELECT 1 FROM aliases a WHERE a.model_id = models.id AND a.alias = ?)"
        )
        params.append(query.alias)
    for key, value in query.tags.items():
        clauses.append(
            "EXISTS (SELECT 1 FROM tags t WHERE t.model_id = models.id "
            "AND t.key = ? AND t.value = ?)"
        )
        params += [key, value]
    for bound in query.bounds:
        clause = "EXISTS (SELECT 1 FROM metrics m WHERE m.model_id = models.id AND m.name = ?"
        params.append(bound.name)
        if bound.minimum is not None:
            clause += " AND m.value >= ?"
            params.append(bound.minimum)
        if bound.maximum is not None:
            clause += " AND m.value <= ?"
            params.append(bound.maximum)
        clauses.append(clause + ")")
    if query.created_after is not None:
        clauses.append("models.created_us >= ?")
        params.append(to_micros(query.created_after))
    if query.created_before is not None:
        clauses.append("models.created_us < ?")
        params.append(to_micros(query.created_before))
    if query.dataset is not None:
        clauses.append("json_extract(models.data, '$.training_info.dataset') = ?")
        params.append(query.dataset)
    if query.is_ensemble is not None:
        clauses.append("models.is_ensemble = ?")
        params.append(int(query.is_ensemble))
    return " AND ".join(clauses), params


def window_clause(query: Query) -> tuple[str, list[Any]]:
    if query.limit is None and not query.offset:
        return "", []
    return " LIMIT ? OFFSET ?", [-1 if query.limit is None else query.limit, query.offset]


_HEADER = b"SQLite format 3\x00"


def check_database_file(path: Path, *, attempts: int = 3) -> None:
    """Refuse a database file that is not SQLite's or is shorter than it says.

    SQLite itself reads garbage as "not a database" only on some statements
    and opens a truncated file as long as its first page survives, so a
    damaged ``registry.db`` would show up as an empty or partial registry.
    The 100-byte header says how many pages the file holds (valid when its
    change counter matches its version-valid-for number, as SQLite writes
    it); a file shorter than that lost its tail. An empty file is left to
    SQLite, which treats it as new; the registry decides whether that is a
    loss (files without metadata) or a new registry. Another process's
    checkpoint writes page 1 before the pages that extend the file, so a
    short file is read again before it is called truncated.
    """
    for attempt in range(attempts):
        try:
            _check_header(path)
            return
        except MetadataMissingError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


def _check_header(path: Path) -> None:
    try:
        with open(path, "rb") as handle:
            header = handle.read(100)
            size = os.fstat(handle.fileno()).st_size
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StoreError(f"cannot read SQLite store {path}: {exc}") from exc
    if not header:
        return
    if len(header) < 100 or not header.startswith(_HEADER):
        raise MetadataMissingError(
            str(path.parent), f"{path} is not a SQLite database (overwritten or corrupted)"
        )
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    if pages and header[24:28] == header[92:96] and size < pages * page_size:
        raise MetadataMissingError(
            str(path.parent),
            f"{path} is truncated: {size} bytes where its header promises "
            f"{pages} pages of {page_size} bytes",
        )


#: SQLite's result codes for a damaged file (3.11+ exposes them on the error).
_DAMAGED = {getattr(sqlite3, "SQLITE_CORRUPT", 11), getattr(sqlite3, "SQLITE_NOTADB", 26)}


def _failure(path: Path, what: str, exc: sqlite3.Error) -> StoreError:
    """The typed error for a failed statement: a damaged file is lost metadata."""
    code = getattr(exc, "sqlite_errorcode", None)
    text = str(exc)
    if code in _DAMAGED or "malformed" in text or "not a database" in text:
        return MetadataMissingError(str(path.parent), f"{path} is damaged ({text})")
    return StoreError(f"{what}: {exc}")


class SqliteStore:
    """Metadata in ``registry.db`` (or the file ``url`` names)."""

    def __init__(self, path: Path, busy_timeout: float = BUSY_TIMEOUT_SECONDS) -> None:
        self.path = path
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
            with self._write():
                self._create_schema()
        except sqlite3.Error as exc:
            raise _failure(path, f"cannot open SQLite store at {path}", exc) from exc

    def _create_schema(self) -> None:
        existing = self._schema_version()
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                self._conn.execute(statement)
        if existing == 1:
            for statement in _MIGRATE_TO_2:
                self._conn.execute(statement)
        self._conn.execute(
            "INSERT INTO schema_info (key, value) VALUES ('schema_version', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(SCHEMA_VERSION),),
        )

    def _schema_version(self) -> int | None:
        """The recorded schema version, or None for a new database."""
        found = self._conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_info'"
        ).fetchone()
        if found is None:
            return None
        row = self._conn.execute(
            "SELECT value FROM schema_info WHERE key = 'schema_version'"
        ).fetchone()
        if row is None:
            return None
        version = int(row[0])
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {version}, newer than this modelshelf "
                f"understands ({SCHEMA_VERSION}); upgrade modelshelf"
            )
        return version

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
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One immediate transaction: the write lock is taken up front, so
        two writers never both read the same highest version."""
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
                raise _failure(self.path, f"query failed on {self.path}", exc) from exc

    def _read_damaged(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """Run a query again when a TEXT cell holds bytes that are not UTF-8.

        Such bytes decode with ``surrogateescape`` here, so the row still
        arrives and the metadata boundary, which refuses lone surrogates,
        reports the damaged version by id instead of failing the whole query.
        Only this slow path pays for the Python text factory.
        """
        self._conn.text_factory = _lenient_text
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"query failed on {self.path}: {exc}") from exc
        finally:
            self._conn.text_factory = str

    # -- rows -------------------------------------------------------------------

    def _row_to_metadata(self, row: Sequence[Any]) -> ModelMetadata:
        model_id, stage, description, data, tags, aliases = row
        return converter.metadata_from_row(
            model_id,
            data,
            stage=stage,
            description=description,
            tags=tags,
            aliases=aliases,
            location=f"row {model_id} of the models table in {self.path}",
        )

    def _fetch(self, where: str, params: Sequence[Any], tail: str = "") -> list[ModelMetadata]:
        rows = self._read(f"{_SELECT} WHERE {where}{tail}", params)
        return [self._row_to_metadata(row) for row in rows]

    # -- contract ---------------------------------------------------------------

    def add(self, draft: ModelDraft, scheme: VersioningScheme) -> ModelMetadata:
        name = draft.model_name
        with self._write() as conn:
            if draft.requested_version is not None:
                version = draft.requested_version
                taken = conn.execute(
                    "SELECT 1 FROM models WHERE model_name = ? AND version = ?", (name, version)
                ).fetchone()
                if taken:
                    raise DuplicateVersionError(name, version)
                retired = conn.execute(
                    "SELECT 1 FROM retired_versions WHERE model_name = ? AND version = ?",
                    (name, version),
                ).fetchone()
                if retired:
                    raise RetiredVersionError(name, version)
            else:
                row = conn.execute(
                    # A deleted version's number is never handed out again.
                    "SELECT version FROM (SELECT version, version_key FROM models "
                    "WHERE model_name = ? AND checkpoint = 0 UNION ALL "
                    "SELECT version, version_key FROM version_high_water WHERE model_name = ?) "
                    "ORDER BY version_key DESC LIMIT 1",
                    (name, name),
                ).fetchone()
                version = scheme.first() if row is None else scheme.next_after(row[0])
            provisional = metadata_from_draft(draft, model_id=1, version=version)
            payload = converter.unstructure(provisional)
            for key in _MUTABLE_FIELDS:
                payload.pop(key)
            cursor = conn.execute(
                "INSERT INTO models (model_name, version, version_key, model_type, stage, "
                "description, created_us, checkpoint, is_ensemble, data) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    version,
                    scheme.sort_key(version),
                    draft.model_type,
                    draft.stage.value,
                    draft.description,
                    to_micros(draft.created_at),
                    int(draft.checkpoint),
                    int(draft.training_info.is_ensemble),
                    json.dumps(payload, allow_nan=False, separators=(",", ":")),
                ),
            )
            model_id = cursor.lastrowid
            assert model_id is not None
            if not draft.checkpoint:
                conn.execute(
                    "INSERT INTO version_high_water (model_name, version, version_key) "
                    "VALUES (?, ?, ?) ON CONFLICT (model_name) DO UPDATE SET "
                    "version = excluded.version, version_key = excluded.version_key "
                    "WHERE excluded.version_key > version_high_water.version_key",
                    (name, version, scheme.sort_key(version)),
                )
            conn.executemany(
                "INSERT INTO metrics (model_id, name, value) VALUES (?, ?, ?)",
                [(model_id, k, v) for k, v in draft.metrics.items()],
            )
            conn.executemany(
                "INSERT INTO tags (model_id, key, value) VALUES (?, ?, ?)",
                [(model_id, k, v) for k, v in draft.tags.items()],
            )
        return metadata_from_draft(draft, model_id=model_id, version=version)

    def add_many(self, drafts: Iterable[ModelDraft], scheme: VersioningScheme) -> list[int]:
        """Record many drafts, each exactly as :meth:`add` records it; their ids in order.

        The bulk path for imports and benchmarks. Each version is still its
        own transaction (a refused draft keeps the ones before it), but the
        write-ahead log is synced once, at the end, instead of at every
        commit: a crash during the call can lose versions it recorded, never
        damage the database or anything recorded before. When it returns,
        every version is durable.
        """
        with self._lock:
            self._conn.execute("PRAGMA synchronous=NORMAL")
            try:
                return [self.add(draft, scheme).model_id for draft in drafts]
            finally:
                self._conn.execute("PRAGMA synchronous=FULL")
                # A checkpoint syncs the log first, and with it every commit above.
                self._conn.execute("PRAGMA wal_checkpoint(FULL)")

    def get(self, model_id: int) -> ModelMetadata | None:
        found = self._fetch("models.id = ?", (model_id,))
        return found[0] if found else None

    def find_sql(self, query: Query) -> tuple[str, list[Any]]:
        """The statement and parameters :meth:`find` runs (tests EXPLAIN it)."""
        where, params = where_clause(query)
        direction = "DESC" if query.descending else "ASC"
        window, window_params = window_clause(query)
        if query.orders_by_metric:
            join = "LEFT JOIN metrics o ON o.model_id = models.id AND o.name = ?"
            order = f"o.value IS NULL, o.value {direction}, models.id {direction}"
            if not window:
                return f"{_SELECT} {join} WHERE {where} ORDER BY {order}", [query.order_by, *params]
            # A page: order and window the narrow (id, value) pairs first, then
            # read the wide rows of that page only. Sorting whole rows (the data
            # column with them) made a deep page of a big name take seconds.
            sql = (
                f"{_SELECT} JOIN (SELECT models.id AS id, o.value AS value FROM models "  # noqa: S608 - fixed fragments; values bound
                f"{join} WHERE {where} ORDER BY {order}{window}) AS page "
                f"ON page.id = models.id "
                f"ORDER BY page.value IS NULL, page.value {direction}, page.id {direction}"
            )
            return sql, [query.order_by, *params, *window_params]
        column = _ORDER_COLUMNS[query.order_by]
        tail = f" ORDER BY {column} {direction}, models.id {direction}{window}"
        return f"{_SELECT} WHERE {where}{tail}", [*params, *window_params]

    def find(self, query: Query) -> list[ModelMetadata]:
        sql, params = self.find_sql(query)
        return [self._row_to_metadata(row) for row in self._read(sql, params)]

    def count(self, query: Query) -> int:
        where, params = where_clause(query)
        sql = f"SELECT count(*) FROM models WHERE {where}"  # noqa: S608 - fixed fragments only
        return int(self._read(sql, params)[0][0])

    def best_sql(self, ranking: Ranking, query: Query) -> tuple[str, list[Any]]:
        """The statement and parameters :meth:`best` runs (tests EXPLAIN it)."""
        where, params = where_clause(query)
        if len(ranking.terms) == 1 and ranking.required == (ranking.terms[0].metric,):
            # One metric: walk the (name, value, model_id) index from the best
            # end; ordering ties by r.model_id (not models.id) lets the index
            # give the whole order, so no sort is needed.
            term = ranking.terms[0]
            direction = "DESC" if term.weight >= 0 else "ASC"
            return (
                f"{_SELECT} JOIN metrics r ON r.model_id = models.id AND r.name = ? "
                f"WHERE {where} ORDER BY r.value {direction}, r.model_id DESC LIMIT 1",
                [term.metric, *params],
            )
        values = ", ".join("(?, ?)" for _ in ranking.terms)
        weights = [item for term in ranking.terms for item in (term.metric, term.weight)]
        required = "".join(
            " AND EXISTS (SELECT 1 FROM metrics q WHERE q.model_id = models.id AND q.name = ?)"
            for _ in ranking.required
        )
        return (
            f"WITH weights (name, weight) AS (VALUES {values}) "  # noqa: S608 - fixed fragments; values bound
            f"{_SELECT} WHERE {where}{required} ORDER BY "
            "(SELECT coalesce(sum(w.weight * s.value), 0.0) FROM metrics s "
            " JOIN weights w ON w.name = s.name WHERE s.model_id = models.id) "
            "* (CASE WHEN models.is_ensemble THEN ? ELSE 1.0 END) DESC, models.id DESC "
            "LIMIT 1",
            [*weights, *params, *ranking.required, ranking.ensemble_multiplier],
        )

    def best(self, ranking: Ranking, query: Query) -> ModelMetadata | None:
        rows = self._read(*self.best_sql(ranking, query))
        return self._row_to_metadata(rows[0]) if rows else None

    def model_names(self) -> list[str]:
        rows = self._read("SELECT DISTINCT model_name FROM models ORDER BY model_name")
        return [row[0] for row in rows]

    def delete(self, model_id: int) -> ModelMetadata | None:
        with self._write() as conn:
            rows = conn.execute(f"{_SELECT} WHERE models.id = ?", (model_id,)).fetchall()
            if not rows:
                return None
            removed = self._row_to_metadata(rows[0])
            conn.execute("DELETE FROM models WHERE id = ?", (model_id,))
            if not removed.checkpoint:
                conn.execute(
                    "INSERT OR IGNORE INTO retired_versions (model_name, version) VALUES (?, ?)",
                    (removed.model_name, removed.version),
                )
        return removed

    def transition(
        self,
        model_name: str,
        plan: Callable[[NameState], Changes],
        *,
        model_ids: Sequence[int] = (),
        aliases: Sequence[str] = (),
    ) -> Changes:
        with self._write() as conn:
            changes = plan(self._name_state(conn, model_name, model_ids, aliases))
            self._apply(conn, model_name, changes)
        return changes

    @staticmethod
    def _name_state(
        conn: sqlite3.Connection, model_name: str, model_ids: Sequence[int], aliases: Sequence[str]
    ) -> NameState:
        """What a plan decides on, read inside the write transaction."""
        targets: dict[str, int] = {}
        for alias in aliases:
            row = conn.execute(
                "SELECT model_id FROM aliases WHERE model_name = ? AND alias = ?",
                (model_name, alias),
            ).fetchone()
            if row is not None:
                targets[alias] = int(row[0])
        wanted = [*model_ids, *targets.values()]
        placeholders = ", ".join("?" for _ in wanted)
        rows = conn.execute(
            "SELECT id, version, stage FROM models WHERE model_name = ? AND "  # noqa: S608 - placeholders only
            f"(stage = ? OR id IN ({placeholders}))",
            (model_name, Stage.PRODUCTION.value, *wanted),
        ).fetchall()
        versions = {
            int(i): VersionState(model_id=int(i), version=v, stage=Stage(stage))
            for i, v, stage in rows
        }
        return NameState(model_name=model_name, versions=versions, aliases=targets)

    @staticmethod
    def _apply(conn: sqlite3.Connection, model_name: str, changes: Changes) -> None:
        """Write what the plan decided, in the caller's transaction."""
        for stage in changes.stages:
            conn.execute(
                "UPDATE models SET stage = ? WHERE id = ? AND model_name = ?",
                (stage.stage.value, stage.model_id, model_name),
            )
        for alias in changes.aliases:
            if alias.model_id is None:
                conn.execute(
                    "DELETE FROM aliases WHERE model_name = ? AND alias = ?",
                    (model_name, alias.alias),
                )
            else:
                conn.execute(
                    "INSERT INTO aliases (model_name, alias, model_id) VALUES (?, ?, ?) "
                    "ON CONFLICT (model_name, alias) DO UPDATE SET model_id = excluded.model_id",
                    (model_name, alias.alias, alias.model_id),
                )
        conn.executemany(_INSERT_AUDIT, [_audit_row(e) for e in changes.events])

    def update(
        self, model_id: int, *, description: str | None, tags: dict[str, str] | None
    ) -> ModelMetadata | None:
        with self._write() as conn:
            exists = conn.execute("SELECT 1 FROM models WHERE id = ?", (model_id,)).fetchone()
            if not exists:
                return None
            if description is not None:
                conn.execute(
                    "UPDATE models SET description = ? WHERE id = ?", (description, model_id)
                )
            if tags is not None:
                conn.execute("DELETE FROM tags WHERE model_id = ?", (model_id,))
                conn.executemany(
                    "INSERT INTO tags (model_id, key, value) VALUES (?, ?, ?)",
                    [(model_id, k, v) for k, v in tags.items()],
                )
        return self.get(model_id)

    def audit_log(self, model_name: str | None) -> list[AuditEvent]:
        sql = (
            "SELECT at_us, model_name, version, action, from_value, to_value, actor, reason, "
            "model_id FROM audit"
        )
        params: list[Any] = []
        if model_name is not None:
            sql += " WHERE model_name = ?"
            params.append(model_name)
        rows = self._read(sql + " ORDER BY id", params)
        return [
            AuditEvent(
                at=from_micros(at),
                model_name=name,
                version=version,
                action=action,
                from_value=old,
                to_value=new,
                actor=actor,
                reason=reason,
                model_id=model_id,
            )
            for at, name, version, action, old, new, actor, reason, model_id in rows
        ]

    def get_model_info(self, model_name: str) -> ModelInfo | None:
        rows = self._read(
            "SELECT description, tags FROM model_info WHERE model_name = ?", (model_name,)
        )
        if not rows:
            return None
        description, tags = rows[0]
        return converter.model_info_from_row(model_name, description, tags, location=str(self.path))

    def set_model_info(self, info: ModelInfo) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO model_info (model_name, description, tags) VALUES (?, ?, ?) "
                "ON CONFLICT (model_name) DO UPDATE SET description = excluded.description, "
                "tags = excluded.tags",
                (info.model_name, info.description, json.dumps(info.tags, sort_keys=True)),
            )

    # -- restoring (used when a registry is moved here) -------------------------

    def import_audit(self, events: Sequence[AuditEvent]) -> None:
        """Append recorded events verbatim (their times included), all or none."""
        with self._write() as conn:
            conn.executemany(_INSERT_AUDIT, [_audit_row(e) for e in events])

    def restore_alias(self, model_name: str, alias: str, model_id: int) -> None:
        """Point ``alias`` at ``model_id`` without recording an audit event."""
        with self._write() as conn:
            found = conn.execute(
                "SELECT 1 FROM models WHERE id = ? AND model_name = ?", (model_id, model_name)
            ).fetchone()
            if found is None:
                raise StoreError(f"version id {model_id} of {model_name!r} does not exist")
            conn.execute(
                "INSERT INTO aliases (model_name, alias, model_id) VALUES (?, ?, ?) "
                "ON CONFLICT (model_name, alias) DO UPDATE SET model_id = excluded.model_id",
                (model_name, alias, model_id),
            )

    def check(self) -> list[str]:
        """Problems SQLite finds in the database file (``PRAGMA quick_check``): damaged
        pages or indexes that queries may not touch until much later. [] when sound."""
        try:
            rows = self._read("PRAGMA quick_check")
        except StoreError as exc:
            return [str(exc)]
        problems = [str(row[0]) for row in rows]
        return [] if problems == ["ok"] else problems

    def explain(self, sql: str, params: Sequence[Any]) -> list[str]:
        """EXPLAIN QUERY PLAN of a statement, for tests that check index use."""
        return [row[-1] for row in self._read(f"EXPLAIN QUERY PLAN {sql}", params)]

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
