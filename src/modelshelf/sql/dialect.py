"""What differs between SQL databases, and nothing else.

:mod:`modelshelf.sql` writes every statement a metadata store runs; a
:class:`Dialect` supplies the few words that are not the same from one
database to the next: how a parameter is written, the column types, how a
row is upserted, how a model name is locked for the length of a transaction,
how tags and aliases are gathered into JSON, how a timestamp is stored and
how many rows a window may hold. A new SQL store is a dialect of a few dozen
lines plus the code that opens its connections.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

#: The logical column types the schema is written in; a dialect maps each to its own.
COLUMN_TYPES = ("ID", "REF", "KEY", "TEXT", "TIME", "BOOL", "INT", "FLOAT")

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class Cursor(Protocol):
    """What a statement's result must offer (DB-API cursors do)."""

    def fetchone(self) -> Any: ...

    def fetchall(self) -> Sequence[Any]: ...


class Connection(Protocol):
    """A connection inside a transaction, as the shared store code uses it.

    sqlite3 and psycopg connections are already this; a driver whose
    ``execute`` lives on the cursor (PyMySQL) wraps itself in five lines.
    """

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...


def to_micros(moment: datetime) -> int:
    """Microseconds since the epoch: how databases without a zoned time type keep one."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    return datetime.fromtimestamp(micros // 1_000_000, tz=timezone.utc).replace(
        microsecond=micros % 1_000_000
    )


#: How many versions one ``add_many`` must write before :attr:`Dialect.after_bulk_load` runs.
BULK_ROWS = 1000


class Dialect:
    """The defaults follow standard SQL as SQLite and PostgreSQL speak it.

    Subclass and override the class attributes and methods that differ.
    """

    #: A name for messages.
    name: ClassVar[str] = "sql"
    #: How a bound parameter is written in a statement (``?`` or ``%s``).
    placeholder: ClassVar[str] = "?"
    #: Column type for each logical type of :data:`COLUMN_TYPES`. ``ID`` is an
    #: identity primary key, ``REF`` a column holding one, ``KEY`` text that is
    #: indexed and compared exactly (byte order, no case or space folding),
    #: ``TEXT`` long text, ``TIME`` an instant (see :meth:`time_value`).
    types: ClassVar[dict[str, str]] = {
        "ID": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "REF": "INTEGER",
        "KEY": "TEXT",
        "TEXT": "TEXT",
        "TIME": "INTEGER",
        "BOOL": "INTEGER",
        "INT": "INTEGER",
        "FLOAT": "REAL",
    }
    #: Added after ``CREATE TABLE (...)`` of a table kept in primary-key order.
    clustered_suffix: ClassVar[str] = ""
    #: Put before a statement to show its plan.
    explain_prefix: ClassVar[str] = "EXPLAIN"
    #: The LIMIT value that means "no limit".
    no_limit: ClassVar[int | None] = None
    #: Take one transaction-scoped lock per model name before a write that
    #: decides versions or moves stages; None when every write transaction
    #: already excludes the others (SQLite's ``BEGIN IMMEDIATE``).
    lock_name_sql: ClassVar[str | None] = None
    #: Order a metric-sorted page in two reads (versions with the metric
    #: along its index, then those without) instead of one statement that
    #: sorts the versions lacking it last. For planners that cannot read an
    #: index in ``value IS NULL, value`` order.
    metric_order_in_two_reads: ClassVar[bool] = False
    #: Statements of tables the dialect needs beyond the shared schema.
    extra_schema: ClassVar[tuple[str, ...]] = ()
    #: Run after ``add_many`` writes at least :data:`BULK_ROWS` versions, for
    #: planners that choose by table statistics (PostgreSQL's): without fresh
    #: ones, a page an index walk serves in a millisecond is planned as a join
    #: of every row until the background statistics catch up.
    after_bulk_load: ClassVar[str | None] = None

    def quote(self, identifier: str) -> str:
        """An identifier that is a reserved word somewhere (``key``)."""
        return f'"{identifier}"'

    def params(self, count: int) -> str:
        return ", ".join([self.placeholder] * count)

    def tags_json(self, alias: str) -> str:
        """An aggregate of ``alias``'s key/value rows as one JSON object (text or value)."""
        return f"json_group_object({alias}.{self.quote('key')}, {alias}.value)"

    def aliases_json(self, alias: str) -> str:
        """An aggregate of ``alias``'s alias column as a JSON array or a list."""
        return f"json_group_array({alias}.alias)"

    def cast(self, logical_type: str) -> str:
        """A bound parameter cast to a logical type, where a planner needs to know it."""
        return f"CAST({self.placeholder} AS {self.types[logical_type].split()[0]})"

    def upsert(self, table: str, columns: Sequence[str], keys: Sequence[str]) -> str:
        """Insert a row, or overwrite the non-key columns of the one with its keys."""
        update = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
        return (
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({self.params(len(columns))}) "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {update}"
        )

    def insert_ignore(self, table: str, columns: Sequence[str]) -> str:
        """Insert a row unless one with its keys is there."""
        return (
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({self.params(len(columns))}) "
            "ON CONFLICT DO NOTHING"
        )

    def time_value(self, moment: datetime) -> Any:
        """The value bound for a ``TIME`` column; microseconds since the epoch by default."""
        return to_micros(moment)

    def time_from(self, value: Any) -> datetime:
        """A ``TIME`` column's value read back as a UTC datetime."""
        if isinstance(value, datetime):
            return value.astimezone(timezone.utc)
        return from_micros(int(value))

    def check_text(self, field_name: str, value: str) -> str:
        """Refuse text the database cannot hold, before anything is written."""
        return value

    def insert_many(
        self, conn: Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
    ) -> None:
        """Insert many rows of one table in the current transaction."""
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({self.params(len(columns))})"
        for row in rows:
            conn.execute(sql, row)

    def reserve_ids(self, conn: Connection, count: int) -> list[int] | None:
        """``count`` new ids for models rows inserted in bulk; None: insert one by one."""
        return None

    def plan_lines(self, rows: Sequence[Any]) -> list[str]:
        """The text of an EXPLAIN's rows."""
        return [str(row[0]) for row in rows]
