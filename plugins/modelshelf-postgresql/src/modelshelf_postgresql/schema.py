"""Creating and upgrading a PostgreSQL store's schema when it opens.

The tables are :mod:`modelshelf.sql.schema`'s. Opening runs under a
database-wide advisory lock, so several processes opening a fresh database
at once do not trip over each other; ``modelshelf_schema`` holds the applied
version and a database newer than this code is refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelshelf.sql import SCHEMA_VERSION, open_schema

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool

    from modelshelf_postgresql.dialect import PostgresDialect

__all__ = ["SCHEMA_VERSION", "UPGRADES", "create_schema"]

_SCHEMA_LOCK = "modelshelf:schema"

#: How older databases of this store reach the shared schema: entry n upgrades n-1 to n.
UPGRADES: dict[int, tuple[str, ...]] = {
    2: (
        # The highest release version ever recorded per name: deletes never
        # lower it, so a deleted version's number is never handed out again.
        """
        CREATE TABLE version_high_water (
            model_name TEXT COLLATE "C" PRIMARY KEY,
            version TEXT COLLATE "C" NOT NULL,
            version_key TEXT COLLATE "C" NOT NULL
        )
        """,
        """
        INSERT INTO version_high_water (model_name, version, version_key)
        SELECT DISTINCT ON (model_name) model_name, version, version_key
        FROM models WHERE NOT checkpoint ORDER BY model_name, version_key DESC
        """,
    ),
    3: (
        # Audit events name the version they concern by id: a version string
        # can name another model after a delete, an id never does. An older
        # event concerns the version that had its number when it was recorded
        # (one created later reused a deleted version's number).
        "ALTER TABLE audit ADD COLUMN model_id BIGINT",
        """
        UPDATE audit SET model_id = (
            SELECT m.id FROM models m WHERE m.model_name = audit.model_name
            AND m.version = audit.version AND NOT m.checkpoint AND m.created_at <= audit.at
            ORDER BY m.id DESC LIMIT 1
        )
        """,
        # Schema 2 recorded a rollback as a stage change whose reason the
        # registry wrote as "rollback from <version>[: <reason>]".
        """
        UPDATE audit SET action = 'rollback' WHERE action = 'stage'
        AND to_value = 'Production' AND reason LIKE 'rollback from %'
        """,
        # Release versions that were deleted: never recorded again. Seeded
        # with the versions older events and high-water marks name that no
        # row holds any more.
        """
        CREATE TABLE retired_versions (
            model_name TEXT COLLATE "C" NOT NULL,
            version TEXT COLLATE "C" NOT NULL,
            PRIMARY KEY (model_name, version)
        )
        """,
        """
        INSERT INTO retired_versions (model_name, version)
        SELECT model_name, version FROM audit WHERE version != ''
        UNION SELECT model_name, version FROM version_high_water
        EXCEPT SELECT model_name, version FROM models
        """,
    ),
}


def create_schema(
    pool: ConnectionPool[Any], schema: str | None, dialect: PostgresDialect, location: str
) -> None:
    """Create or upgrade the tables in ``schema`` (the search path's when None)."""
    from psycopg import sql

    with pool.connection() as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (_SCHEMA_LOCK,))
        if schema is not None:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))

        def execute(statement: str, params: Any) -> list[Any]:
            cursor = conn.execute(statement, params or None)
            return list(cursor.fetchall()) if cursor.description else []

        open_schema(execute, dialect, location=location, upgrades=UPGRADES)
