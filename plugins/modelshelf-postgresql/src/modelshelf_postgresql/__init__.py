"""A PostgreSQL metadata store for modelshelf, for registries shared by many machines.

Built as a third party would build it: it knows only modelshelf's public API
(``hookimpl``, :class:`~modelshelf.protocols.Provider`, the ``MetadataStore``
protocol and :mod:`modelshelf.sql`, which writes the statements). What is
PostgreSQL's own is in :mod:`~modelshelf_postgresql.dialect` (collation,
advisory locks, COPY), :mod:`~modelshelf_postgresql.connection` (URL and
pool), :mod:`~modelshelf_postgresql.schema` (opening and upgrading) and
:mod:`~modelshelf_postgresql.store`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelshelf import hookimpl
from modelshelf.protocols import MetadataStore, Provider
from modelshelf_postgresql.connection import (
    CONNECT_TIMEOUT_SECONDS,
    DATABASE_URL_ENV,
    POOL_MAX_SIZE,
    connect,
    resolve_url,
)
from modelshelf_postgresql.dialect import PostgresDialect
from modelshelf_postgresql.schema import SCHEMA_VERSION
from modelshelf_postgresql.store import PostgresStore

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "CONNECT_TIMEOUT_SECONDS",
    "DATABASE_URL_ENV",
    "POOL_MAX_SIZE",
    "SCHEMA_VERSION",
    "PostgresDialect",
    "PostgresStore",
    "connect",
    "modelshelf_metadata_stores",
    "resolve_url",
]


def _create(storage_path: Path | None = None, url: str | None = None) -> MetadataStore:
    return PostgresStore(url)


@hookimpl
def modelshelf_metadata_stores() -> list[Provider[MetadataStore]]:
    return [
        Provider(
            name="postgresql",
            factory=_create,
            description=(
                "PostgreSQL database at store_url or MODELSHELF_DATABASE_URL "
                "(shared by many machines; schema created on open)"
            ),
            capabilities={"transactions", "multiprocess", "multihost", "sql", "restore"},
        )
    ]
