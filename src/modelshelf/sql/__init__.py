"""One SQL layer for every SQL metadata store.

A SQL store is a :class:`Dialect` (what its database spells differently)
plus a subclass of :class:`SqlStore` that opens connections and runs
transactions; the statements, the schema and its version bookkeeping, the
per-name locking protocol, the highest-version mark, the sort keys, the
decoding of rows and the ``transition`` primitive (applying the core's stage
and alias plans) are here, written once. See "A SQL store" in the plugin
guide for a complete MySQL/MariaDB store built this way.
"""

from __future__ import annotations

from modelshelf.sql.dialect import COLUMN_TYPES, Connection, Dialect, from_micros, to_micros
from modelshelf.sql.schema import (
    INDEXES,
    SCHEMA_VERSION,
    TABLES,
    Index,
    Table,
    VersionBook,
    create_statements,
    open_schema,
)
from modelshelf.sql.statements import MODEL_COLUMNS, ORDER_COLUMNS, Statements
from modelshelf.sql.store import MUTABLE_FIELDS, SqlStore, decode_row, lock_names, model_row

__all__ = [
    "COLUMN_TYPES",
    "INDEXES",
    "MODEL_COLUMNS",
    "MUTABLE_FIELDS",
    "ORDER_COLUMNS",
    "SCHEMA_VERSION",
    "TABLES",
    "Connection",
    "Dialect",
    "Index",
    "SqlStore",
    "Statements",
    "Table",
    "VersionBook",
    "create_statements",
    "decode_row",
    "from_micros",
    "lock_names",
    "model_row",
    "open_schema",
    "to_micros",
]
