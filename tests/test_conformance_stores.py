"""The bundled metadata stores against the store conformance suite."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import pytest

from modelshelf.testing.contracts import MetadataStoreContract
from modelshelf.testing.stateful import store_machine
from modelshelf_plugins import json_store, sqlite_store

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from modelshelf.protocols import MetadataStore


class TestSqliteStore(MetadataStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[MetadataStore]:
        store = sqlite_store.SqliteStore(tmp_path / "registry.db")
        yield store
        store.close()

    @pytest.fixture
    def store_opener(self, tmp_path: Path) -> Callable[[], MetadataStore]:
        return functools.partial(sqlite_store.SqliteStore, tmp_path / "registry.db")


class TestJsonStore(MetadataStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[MetadataStore]:
        store = json_store.JsonStore(tmp_path / "index")
        yield store
        store.close()

    @pytest.fixture
    def store_opener(self, tmp_path: Path) -> Callable[[], MetadataStore]:
        return functools.partial(json_store.JsonStore, tmp_path / "index")


TestSqliteStoreMachine = store_machine(
    lambda path: sqlite_store.SqliteStore(path / "r.db")
).TestCase
TestJsonStoreMachine = store_machine(json_store.JsonStore).TestCase
