"""The tables every SQL store keeps, written once and rendered per dialect,
and the bookkeeping of which schema version a database holds.

Metrics and tags live in their own tables with ``(name, value)`` indexes, so
any metric can be filtered and ranked without loading rows into Python. The
fields that can change after a save (stage, description, tags, aliases) are
columns or side tables; everything else is one JSON document in ``data``.
``version_high_water`` keeps the highest release version ever recorded per
name: choosing the next version reads that one row, never the name's
versions, and a deleted version's number is never handed out again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import frozen

from modelshelf.errors import StoreError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from modelshelf.sql.dialect import Dialect

#: The schema version this code writes. A database records the version it
#: holds; opening one that is newer is refused, an older one is upgraded.
SCHEMA_VERSION = 3


@frozen
class Table:
    """``columns`` is the body of CREATE TABLE, in logical types ``{KEY}``, ``{ID}``..."""

    name: str
    columns: str
    clustered: bool = False


@frozen
class Index:
    name: str
    table: str
    columns: str


TABLES = (
    Table(
        "models",
        """
        id {ID},
        model_name {KEY} NOT NULL,
        version {KEY} NOT NULL,
        version_key {KEY} NOT NULL,
        model_type {KEY} NOT NULL,
        stage {KEY} NOT NULL,
        description {TEXT} NOT NULL,
        created_at {TIME} NOT NULL,
        checkpoint {BOOL} NOT NULL,
        is_ensemble {BOOL} NOT NULL,
        dataset {KEY} NOT NULL,
        data {TEXT} NOT NULL,
        CONSTRAINT models_name_version UNIQUE (model_name, version)
        """,
    ),
    Table(
        "metrics",
        """
        model_id {REF} NOT NULL REFERENCES models (id) ON DELETE CASCADE,
        name {KEY} NOT NULL,
        value {FLOAT} NOT NULL,
        PRIMARY KEY (model_id, name)
        """,
        clustered=True,
    ),
    Table(
        "tags",
        """
        model_id {REF} NOT NULL REFERENCES models (id) ON DELETE CASCADE,
        {key} {KEY} NOT NULL,
        value {KEY} NOT NULL,
        PRIMARY KEY (model_id, {key})
        """,
        clustered=True,
    ),
    Table(
        "aliases",
        """
        model_name {KEY} NOT NULL,
        alias {KEY} NOT NULL,
        model_id {REF} NOT NULL REFERENCES models (id) ON DELETE CASCADE,
        PRIMARY KEY (model_name, alias)
        """,
    ),
    Table(
        "audit",
        """
        id {ID},
        at {TIME} NOT NULL,
        model_name {KEY} NOT NULL,
        version {KEY} NOT NULL,
        action {KEY} NOT NULL,
        from_value {TEXT},
        to_value {TEXT},
        actor {TEXT} NOT NULL,
        reason {TEXT} NOT NULL,
        model_id {REF}
        """,
    ),
    Table(
        "model_info",
        "model_name {KEY} PRIMARY KEY, description {TEXT} NOT NULL, tags {TEXT} NOT NULL",
    ),
    Table(
        "version_high_water",
        "model_name {KEY} PRIMARY KEY, version {KEY} NOT NULL, version_key {KEY} NOT NULL",
    ),
    Table(
        "retired_versions",
        "model_name {KEY} NOT NULL, version {KEY} NOT NULL, PRIMARY KEY (model_name, version)",
        clustered=True,
    ),
)

INDEXES = (
    Index("models_by_name_version", "models", "model_name, checkpoint, version_key"),
    Index("models_by_type", "models", "model_type"),
    Index("models_by_stage", "models", "stage, model_name"),
    Index("models_by_created", "models", "created_at"),
    Index("models_by_dataset", "models", "dataset"),
    Index("metrics_by_value", "metrics", "name, value, model_id"),
    Index("tags_by_value", "tags", "{key}, value"),
    Index("aliases_by_model", "aliases", "model_id"),
    Index("aliases_by_alias", "aliases", "alias, model_id"),
    Index("audit_by_name", "audit", "model_name, id"),
)


def _render(text: str, dialect: Dialect) -> str:
    return text.format(key=dialect.quote("key"), **dialect.types)


def create_statements(dialect: Dialect) -> list[str]:
    """The DDL of the current schema; every statement may run again harmlessly."""
    statements = [
        f"CREATE TABLE IF NOT EXISTS {t.name} ({_render(t.columns, dialect).strip()})"
        + (dialect.clustered_suffix if t.clustered else "")
        for t in TABLES
    ]
    statements += [
        f"CREATE INDEX IF NOT EXISTS {i.name} ON {i.table} ({_render(i.columns, dialect)})"
        for i in INDEXES
    ]
    return statements + list(dialect.extra_schema)


@frozen
class VersionBook:
    """Where a database records its schema version: a one-row table by default.

    A store whose databases already keep it elsewhere (SQLite's key/value
    ``schema_info``) names that place instead.
    """

    create: str = (
        "CREATE TABLE IF NOT EXISTS modelshelf_schema "
        "(id BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id), version INTEGER NOT NULL)"
    )
    read: str = "SELECT version FROM modelshelf_schema"
    #: Upsert of the one row, ``{p}`` for its one parameter, the version;
    #: None: the dialect's upsert of ``modelshelf_schema``.
    write: str | None = None


def open_schema(
    execute: Callable[[str, Sequence[Any]], list[Any]],
    dialect: Dialect,
    *,
    location: str,
    upgrades: Mapping[int, Sequence[str]],
    book: VersionBook | None = None,
) -> int:
    """Create or upgrade the schema; returns the version the database held (0: new).

    The DDL runs on every open (each statement is ``IF NOT EXISTS``), so an
    index added to :data:`INDEXES` reaches existing databases too.

    Runs inside the caller's transaction (and schema lock, where the database
    has one), so concurrent openers of a fresh database queue. ``upgrades[n]``
    takes a database of version n-1 to n: the history of a store's own older
    databases, since each store reached version :data:`SCHEMA_VERSION` its
    own way. A newer database than this code is refused before anything is
    touched.
    """
    book = book or VersionBook()
    execute(book.create, ())
    rows = execute(book.read, ())
    current = int(rows[0][0]) if rows else 0
    if current > SCHEMA_VERSION:
        raise StoreError(
            f"the database at {location} has modelshelf schema version {current}, "
            f"newer than this code understands ({SCHEMA_VERSION}); upgrade modelshelf"
        )
    if current:
        for version in range(current + 1, SCHEMA_VERSION + 1):
            for statement in upgrades.get(version, ()):
                execute(statement, ())
    for statement in create_statements(dialect):
        execute(statement, ())
    if book.write is None:
        upsert = dialect.upsert("modelshelf_schema", ("id", "version"), ("id",))
        execute(upsert, (True, SCHEMA_VERSION))
    else:
        execute(book.write.format(p=dialect.placeholder), (SCHEMA_VERSION,))
    return current
