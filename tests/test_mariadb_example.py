"""The plugin guide's MySQL/MariaDB store, run against the whole store conformance suite.

The store is ``docs/examples/mariadb_store.py``, the very file the guide
shows; each test gets a fresh database on the MariaDB server (by default
``root@127.0.0.1:3306``) and drops it afterwards. Without a reachable server
the tests skip and say why.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from modelshelf.testing.contracts import MetadataStoreContract

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from modelshelf.protocols import MetadataStore

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"
SERVER: dict[str, Any] = {
    "host": os.environ.get("MODELSHELF_TEST_MARIADB_HOST", "127.0.0.1"),
    "port": int(os.environ.get("MODELSHELF_TEST_MARIADB_PORT", "3306")),
    "user": "root",
    "password": "",
}


def _example() -> Any:
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))  # importable by name in worker processes too
    return importlib.import_module("mariadb_store")


@pytest.fixture(scope="session")
def mariadb_server() -> dict[str, Any]:
    import pymysql

    try:
        pymysql.connect(**SERVER, connect_timeout=3).close()
    except pymysql.Error as exc:
        pytest.skip(f"MariaDB at {SERVER['host']}:{SERVER['port']} is unreachable ({exc})")
    return SERVER


@pytest.fixture
def mariadb_database(mariadb_server: dict[str, Any]) -> Iterator[str]:
    import pymysql

    name = f"t_{uuid.uuid4().hex[:16]}"
    with pymysql.connect(**mariadb_server) as conn, conn.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name}")
    yield name
    with pymysql.connect(**mariadb_server) as conn, conn.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name}")


class TestMariaDbStore(MetadataStoreContract):
    multiprocess_workers = 4

    @pytest.fixture
    def store(self, mariadb_database: str) -> Iterator[MetadataStore]:
        store = _example().MariaDbStore(database=mariadb_database, **SERVER)
        yield store
        store.close()

    @pytest.fixture
    def store_opener(self, mariadb_database: str) -> Callable[[], MetadataStore]:
        opener: Callable[[], MetadataStore] = functools.partial(
            _example().MariaDbStore, database=mariadb_database, **SERVER
        )
        return opener


def test_the_guide_shows_the_tested_file() -> None:
    """docs/plugins.md carries the example verbatim, so what readers copy is what passes."""
    guide = (EXAMPLES.parent / "plugins.md").read_text()
    code = (EXAMPLES / "mariadb_store.py").read_text()
    assert f"```python\n{code}```" in guide
    assert len(code.splitlines()) < 200
