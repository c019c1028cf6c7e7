"""pytest fixtures for code that runs against a real PostgreSQL server.

Registered through the ``pytest11`` entry point, as ``modelshelf.testing``
is. Each test gets a fresh schema in the test database and loses it
afterwards, so tests never see each other's rows. A developer without a
server sees these tests skipped with the reason; with ``CI=true`` a missing
server fails the run instead, so CI cannot pass by skipping.
"""

from __future__ import annotations

import os
import uuid
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

#: Overrides the server the fixtures use.
TEST_DATABASE_URL_ENV = "MODELSHELF_TEST_DATABASE_URL"
DEFAULT_TEST_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"


def server_url() -> str:
    return os.environ.get(TEST_DATABASE_URL_ENV, DEFAULT_TEST_DATABASE_URL)


def _unreachable_reason(url: str) -> str | None:
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - the plugin depends on it
        return f"psycopg is not installed: {exc}"
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL at {url} is unreachable ({exc.__class__.__name__}: {exc})".strip()
    return None


@pytest.fixture(scope="session")
def modelshelf_postgresql_server() -> str:
    """The test server's URL; skips (or fails under CI=true) when it is down."""
    url = server_url()
    reason = _unreachable_reason(url)
    if reason is not None:
        message = f"{reason}; start PostgreSQL or set {TEST_DATABASE_URL_ENV}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and {message}", pytrace=False)
        pytest.skip(message)
    return url


@pytest.fixture
def modelshelf_postgresql_url(modelshelf_postgresql_server: str) -> Iterator[str]:
    """A store URL naming a fresh schema that is dropped after the test."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:16]}"
    separator = "&" if "?" in modelshelf_postgresql_server else "?"
    yield f"{modelshelf_postgresql_server}{separator}schema={schema}"
    with psycopg.connect(modelshelf_postgresql_server, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
