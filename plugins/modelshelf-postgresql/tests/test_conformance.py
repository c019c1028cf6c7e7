"""The PostgreSQL store against modelshelf's store conformance suite.

Each test runs in a fresh schema of the real server (see
``modelshelf_postgresql.testing``), so the suite sees an empty store every time.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import pytest
from modelshelf_postgresql import PostgresStore

from modelshelf.testing.contracts import MetadataStoreContract

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from modelshelf.protocols import MetadataStore


class TestPostgresStore(MetadataStoreContract):
    multiprocess_workers = 4

    @pytest.fixture
    def store(self, modelshelf_postgresql_url: str) -> Iterator[MetadataStore]:
        store = PostgresStore(modelshelf_postgresql_url)
        yield store
        store.close()

    @pytest.fixture
    def store_opener(self, modelshelf_postgresql_url: str) -> Callable[[], MetadataStore]:
        return functools.partial(PostgresStore, modelshelf_postgresql_url)
