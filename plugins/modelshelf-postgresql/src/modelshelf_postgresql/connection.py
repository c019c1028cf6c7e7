"""Where a PostgreSQL store connects: the URL, its options and the pool."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from modelshelf.errors import StoreError

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

#: The environment variable read when no ``store_url`` is given.
DATABASE_URL_ENV = "MODELSHELF_DATABASE_URL"
#: How long opening a store waits for the server before giving up.
CONNECT_TIMEOUT_SECONDS = 10.0
#: Connections kept per store; a registry is used by a handful of threads at most.
POOL_MAX_SIZE = 4
_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def resolve_url(url: str | None) -> tuple[str, str | None]:
    """The connection URL to use and the schema it names (``?schema=``), if any.

    ``url`` wins; otherwise ``MODELSHELF_DATABASE_URL``. The ``schema`` query
    parameter is ours, not libpq's, so it is taken out before connecting.
    """
    chosen = url or os.environ.get(DATABASE_URL_ENV)
    if not chosen:
        raise StoreError(
            "the postgresql store needs a database URL: pass "
            "ModelRegistry(store='postgresql', store_url='postgresql://user@host/db') "
            f"or set {DATABASE_URL_ENV}"
        )
    parts = urlsplit(chosen)
    if parts.scheme not in ("postgresql", "postgres"):
        raise StoreError(
            f"{chosen!r} is not a PostgreSQL URL (expected postgresql://user@host:port/dbname)"
        )
    schema = None
    kept = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "schema":
            if not _SCHEMA_NAME.fullmatch(value):
                raise StoreError(
                    f"schema={value!r} in the database URL must match {_SCHEMA_NAME.pattern}"
                )
            schema = value
        else:
            kept.append((key, value))
    return urlunsplit(parts._replace(query=urlencode(kept))), schema


def location_of(conninfo: str) -> str:
    """The URL without user, password or options: safe to show in messages."""
    parts = urlsplit(conninfo)
    return urlunsplit(parts._replace(netloc=parts.hostname or "", query=""))


def connect(url: str | None = None) -> psycopg.Connection[Any]:
    """One plain connection to the database ``url`` (or the environment) names.

    For tools and tests that need to talk to the same database directly.
    """
    import psycopg

    conninfo, _ = resolve_url(url)
    return psycopg.connect(conninfo, connect_timeout=int(CONNECT_TIMEOUT_SECONDS))


def open_pool(conninfo: str, schema: str | None, size: int, name: str) -> ConnectionPool[Any]:
    """A pool of connections whose search path is ``schema``, once it is reachable.

    One direct attempt comes first: a refused connection fails at once with
    libpq's own message instead of the pool retrying until its timeout.
    """
    import psycopg
    from psycopg import sql
    from psycopg_pool import ConnectionPool

    def configure(conn: psycopg.Connection[Any]) -> None:
        if schema is not None:
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
            conn.commit()

    pool: ConnectionPool[Any] = ConnectionPool(
        conninfo,
        min_size=1,
        max_size=max(1, size),
        kwargs={"connect_timeout": int(CONNECT_TIMEOUT_SECONDS)},
        configure=configure,
        open=False,
        name=name,
    )
    try:
        psycopg.connect(conninfo, connect_timeout=int(CONNECT_TIMEOUT_SECONDS)).close()
        pool.open(wait=True, timeout=CONNECT_TIMEOUT_SECONDS)
    except BaseException:
        pool.close()
        raise
    return pool
