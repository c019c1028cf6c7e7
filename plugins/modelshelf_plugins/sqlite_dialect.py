"""SQLite's words for the shared SQL store code, and its databases' history.

What differs from the defaults of :class:`modelshelf.sql.Dialect`: bulk
inserts go through ``executemany``, tables kept in key order are ``WITHOUT
ROWID``, and plans are read with ``EXPLAIN QUERY PLAN``. No name lock is
needed: every write transaction is ``BEGIN IMMEDIATE``, which excludes all
other writers. Time is kept as microseconds since the epoch (SQLite has no
time type), so ordering and range filters compare integers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from modelshelf.sql import Dialect, VersionBook

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterable, Sequence


class SqliteDialect(Dialect):
    name: ClassVar[str] = "sqlite"
    clustered_suffix: ClassVar[str] = " WITHOUT ROWID"
    explain_prefix: ClassVar[str] = "EXPLAIN QUERY PLAN"
    no_limit: ClassVar[int | None] = -1

    def insert_many(
        self,
        conn: Any,
        table: str,
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
    ) -> None:
        connection: sqlite3.Connection = conn
        connection.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({self.params(len(columns))})",
            rows,
        )

    def plan_lines(self, rows: Sequence[Any]) -> list[str]:
        return [str(row[-1]) for row in rows]


#: SQLite databases record their schema version in a key/value table.
VERSION_BOOK = VersionBook(
    create="CREATE TABLE IF NOT EXISTS schema_info (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    read="SELECT value FROM schema_info WHERE key = 'schema_version'",
    write=(
        "INSERT INTO schema_info (key, value) VALUES ('schema_version', {p}) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
    ),
)

#: How older SQLite databases reach the shared schema: entry n upgrades n-1 to n.
UPGRADES: dict[int, tuple[str, ...]] = {
    # Audit rows without model_id, no record of deleted versions.
    2: (
        "ALTER TABLE audit ADD COLUMN model_id INTEGER",
        # An event concerns the version that had its name and version when it
        # was recorded: one created later is a reuse of a deleted version's number.
        "UPDATE audit SET model_id = (SELECT m.id FROM models m WHERE m.model_name = "
        "audit.model_name AND m.version = audit.version AND m.checkpoint = 0 "
        "AND m.created_at <= audit.at ORDER BY m.id DESC LIMIT 1)",
        # Schema 1 recorded a rollback as a stage change whose reason it wrote
        # as "rollback from <version>[: <reason>]".
        "UPDATE audit SET action = 'rollback' WHERE action = 'stage' "
        "AND to_value = 'Production' AND reason LIKE 'rollback from %'",
        # Versions that audit rows or the high-water mark name but no row holds
        # any more were deleted: their numbers are retired.
        "CREATE TABLE IF NOT EXISTS retired_versions (model_name TEXT NOT NULL, "
        "version TEXT NOT NULL, PRIMARY KEY (model_name, version)) WITHOUT ROWID",
        "INSERT OR IGNORE INTO retired_versions (model_name, version) "
        "SELECT model_name, version FROM audit WHERE version != '' "
        "UNION SELECT model_name, version FROM version_high_water",
        "DELETE FROM retired_versions WHERE EXISTS (SELECT 1 FROM models m WHERE "
        "m.model_name = retired_versions.model_name AND m.version = retired_versions.version)",
    ),
    # Version 3 named the time columns as the other SQL stores do and gave
    # the dataset a column: align_columns does it, whatever version a file has.
    3: (),
}


def align_columns(conn: sqlite3.Connection) -> None:
    """Give an older file the shared schema's column names and its dataset column.

    Runs before the upgrades, which are written in the current names; a file
    that has them already is left alone.
    """
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "models" not in tables:
        return
    for table, old, new in (("models", "created_us", "created_at"), ("audit", "at_us", "at")):
        columns = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if old in columns:
            conn.execute(f"ALTER TABLE {table} RENAME COLUMN {old} TO {new}")
    if "dataset" not in {row[1] for row in conn.execute("PRAGMA table_info(models)")}:
        conn.execute("ALTER TABLE models ADD COLUMN dataset TEXT NOT NULL DEFAULT ''")
        conn.execute(
            "UPDATE models SET dataset = "
            "coalesce(json_extract(data, '$.training_info.dataset'), '')"
        )
