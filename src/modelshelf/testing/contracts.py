"""Conformance suites: the tests every plugin of a kind must pass.

A backend subclasses one contract in a test module and overrides one
fixture that builds its object; everything else comes from here::

    from modelshelf.testing.contracts import MetadataStoreContract

    class TestMyStore(MetadataStoreContract):
        @pytest.fixture
        def store(self, tmp_path):
            store = MyStore(tmp_path / "db")
            yield store
            store.close()

The contracts are named ``...Contract`` so pytest does not collect them
where they are defined, only in a ``Test...`` subclass. Capabilities are
class attributes with safe defaults; a test that needs a capability the
backend lacks skips and says why. A backend can override any single test
by redefining the method (e.g. to mark it ``xfail`` with a reason).

The expected answers come from :mod:`modelshelf.testing.reference`, which
derives them from :mod:`modelshelf.query` (the reference semantics), so the
suite and the in-memory reference can never disagree.
"""

from __future__ import annotations

from modelshelf.testing._contract_support import SUITE_SETTINGS
from modelshelf.testing._store_contract_support import Populated
from modelshelf.testing.artifact_contract import ArtifactStoreContract
from modelshelf.testing.guarantees import StoreGuarantees
from modelshelf.testing.scoring_contract import ScoringPolicyContract
from modelshelf.testing.serializer_contract import SerializerContract
from modelshelf.testing.store_concurrency_contract import StoreConcurrencyContract
from modelshelf.testing.store_lifecycle_contract import StoreLifecycleContract
from modelshelf.testing.store_queries_contract import StoreQueriesContract
from modelshelf.testing.store_writes_contract import StoreWritesContract
from modelshelf.testing.versioning_contract import UNSAFE_VERSIONS, VersioningSchemeContract


class MetadataStoreContract(
    StoreWritesContract,
    StoreQueriesContract,
    StoreLifecycleContract,
    StoreConcurrencyContract,
    StoreGuarantees,
):
    """The behaviour every :class:`~modelshelf.protocols.MetadataStore` must show.

    Override ``store`` to yield a fresh, empty store (and close it after).
    Override ``store_opener`` to return a picklable zero-argument callable
    that opens the *same* store again (another connection, another process);
    without it the reopen and multiprocess tests fail, unless the store
    declares ``supports_multiprocess = False`` (then they skip).
    The races, exactness and pickling tests come from
    :class:`~modelshelf.testing.guarantees.StoreGuarantees`.
    """


__all__ = [
    "SUITE_SETTINGS",
    "UNSAFE_VERSIONS",
    "ArtifactStoreContract",
    "MetadataStoreContract",
    "Populated",
    "ScoringPolicyContract",
    "SerializerContract",
    "VersioningSchemeContract",
]
