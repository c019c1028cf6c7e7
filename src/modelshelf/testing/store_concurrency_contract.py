"""Part of the metadata-store suite: several writers, and a store reopened.

Threads and processes adding at once, a reopened store seeing every write,
and the random-operations state machine; combined into
``MetadataStoreContract`` in :mod:`modelshelf.testing.contracts`.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import pytest

from modelshelf.errors import DuplicateVersionError
from modelshelf.query import Query
from modelshelf.testing._store_contract_support import Populated, StoreContractBase
from modelshelf.testing.guarantees import require_opener
from modelshelf.testing.reference import add_versions, make_draft
from modelshelf.testing.workers import add_versions_and_a_duplicate, run_workers

if TYPE_CHECKING:
    from collections.abc import Callable

    from modelshelf.protocols import MetadataStore, VersioningScheme


class StoreConcurrencyContract(StoreContractBase):
    """Threads, processes, reopening and the state machine."""

    # -- concurrency and persistence ---------------------------------------------

    def test_threads_adding_to_one_name_get_distinct_versions(self, store: MetadataStore) -> None:
        if not self.supports_threads:
            pytest.skip("store declares supports_threads = False")
        results: list[list[str]] = []
        errors: list[BaseException] = []

        def work() -> None:
            try:
                results.append(add_versions(store, "shared", 5))
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, daemon=True) for _ in range(4)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + self.multiprocess_timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        hung = sum(thread.is_alive() for thread in threads)
        assert not hung, f"{hung} of 4 threads did not finish within {self.multiprocess_timeout} s"
        assert errors == []
        versions = [v for batch in results for v in batch]
        assert sorted(versions, key=int) == [str(n) for n in range(1, 21)]
        assert store.count(Query(model_name="shared")) == 20

    def test_reopened_store_sees_every_write(
        self,
        populated: Populated,
        store_opener: Callable[[], MetadataStore] | None,
        scheme: VersioningScheme,
    ) -> None:
        opener = require_opener(
            store_opener,
            multiprocess=self.supports_multiprocess,
            test="test_reopened_store_sees_every_write",
        )
        other = opener()
        try:
            assert other.find(Query()) == populated.store.find(Query())
            assert other.audit_log(None) == populated.store.audit_log(None)
            added = other.add(make_draft("alpha"), scheme)
            assert added.version == "14"
        finally:
            other.close()
        assert populated.store.get(added.model_id) == added

    @pytest.mark.modelshelf_multiprocess
    def test_processes_adding_to_one_name_get_distinct_versions(
        self, store: MetadataStore, store_opener: Callable[[], MetadataStore] | None
    ) -> None:
        if not self.supports_multiprocess:
            pytest.skip("store declares supports_multiprocess = False")
        opener = require_opener(
            store_opener,
            multiprocess=True,
            test="test_processes_adding_to_one_name_get_distinct_versions",
        )
        workers, each = self.multiprocess_workers, self.multiprocess_versions
        outcomes = run_workers(
            opener,
            add_versions_and_a_duplicate,
            [("shared", each)] * workers,
            timeout=self.multiprocess_timeout,
        )
        batches = [batch for batch, _ in outcomes]
        for batch, error in outcomes:
            # The duplicate each worker asked for came back as the error, whole.
            assert isinstance(error, DuplicateVersionError), (batch, error)
            assert (error.model_name, error.version) == ("shared", batch[0])
        versions = [v for batch in batches for v in batch]
        assert sorted(versions, key=int) == [str(n) for n in range(1, workers * each + 1)]
        found = store.find(Query(model_name="shared", order_by="version"))
        assert [m.version for m in found] == [str(n) for n in range(1, workers * each + 1)]

    # -- state machine -----------------------------------------------------------

    def test_state_machine(self, store: MetadataStore) -> None:
        """Random sequences of operations agree with a plain-dict model."""
        from modelshelf.testing.stateful import run_store_machine

        run_store_machine(store)
