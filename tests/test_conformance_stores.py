"""The bundled metadata stores against the store conformance suite."""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings

from modelshelf.testing.contracts import MetadataStoreContract
from modelshelf.testing.stateful import MACHINE_SETTINGS, run_store_machine, store_machine
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


STRESS = os.environ.get("MODELSHELF_STRESS") == "1"


@pytest.mark.slow
@pytest.mark.parametrize(
    "open_store",
    [
        lambda path: sqlite_store.SqliteStore(path / "registry.db"),
        lambda path: json_store.JsonStore(path),
    ],
    ids=["sqlite", "json"],
)
def test_long_operation_sequences(
    open_store: Callable[[Path], MetadataStore], tmp_path: Path
) -> None:
    """Longer sequences than the suite's (many more with MODELSHELF_STRESS=1)."""
    store = open_store(tmp_path)
    try:
        run_store_machine(
            store,
            machine_settings=settings(
                MACHINE_SETTINGS,
                max_examples=200 if STRESS else 4,
                stateful_step_count=100 if STRESS else 60,
            ),
        )
    finally:
        store.close()
