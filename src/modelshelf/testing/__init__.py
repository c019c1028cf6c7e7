"""modelshelf's pytest plugin: fixtures and conformance suites for plugin authors.

Registered through the ``pytest11`` entry point, so installing modelshelf
gives every test session these fixtures (all prefixed ``modelshelf_``):

* ``modelshelf_storage_path``: a fresh, empty storage directory;
* ``modelshelf_registry``: a default registry (SQLite + local files) on it;
* ``modelshelf_registry_factory``: registries with chosen plugins
  (``store=``, ``serializer=``, ``versioning=``, ``scoring=``, ``plugins=[...]``);
* ``modelshelf_iris``, ``modelshelf_logistic_regression``,
  ``modelshelf_random_forest``, ``modelshelf_example_models``: small fitted
  scikit-learn models, fitted once per session.

The conformance suites live in :mod:`modelshelf.testing.contracts`, the
Hypothesis strategies in :mod:`modelshelf.testing.strategies` and the store
state machine in :mod:`modelshelf.testing.stateful`. Importing this module
costs pytest and the core only; scikit-learn loads when a model fixture is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import pytest

# The suites' plain ``assert`` statements explain themselves only when pytest
# rewrites them, which it does for these modules once they are registered
# before their first import.
pytest.register_assert_rewrite(
    "modelshelf.testing._contract_support",
    "modelshelf.testing._store_contract_support",
    "modelshelf.testing.artifact_contract",
    "modelshelf.testing.contracts",
    "modelshelf.testing.scoring_contract",
    "modelshelf.testing.serializer_contract",
    "modelshelf.testing.store_concurrency_contract",
    "modelshelf.testing.store_lifecycle_contract",
    "modelshelf.testing.store_queries_contract",
    "modelshelf.testing.store_writes_contract",
    "modelshelf.testing.versioning_contract",
    "modelshelf.testing.reference",
    "modelshelf.testing.stateful",
)

from modelshelf.registry import ModelRegistry  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path

    from modelshelf.protocols import MetadataStore, ScoringPolicy, Serializer, VersioningScheme

__all__ = ["RegistryFactory"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "modelshelf_multiprocess: test starts several processes on one registry"
    )


@pytest.fixture
def modelshelf_storage_path(tmp_path: Path) -> Path:
    """A fresh, empty storage directory for one test."""
    path = tmp_path / "registry"
    path.mkdir()
    return path


class RegistryFactory(Protocol):
    """Builds a registry on the test's storage path (the type of the factory fixture)."""

    def __call__(
        self,
        *,
        store: str | MetadataStore | None = None,
        serializer: str | Serializer | None = None,
        versioning: str | VersioningScheme | None = None,
        scoring: str | ScoringPolicy | None = None,
        plugins: Sequence[object] = (),
        **options: Any,
    ) -> ModelRegistry: ...


@pytest.fixture
def modelshelf_registry_factory(modelshelf_storage_path: Path) -> Iterator[RegistryFactory]:
    """Build registries on the test's storage path, choosing plugins by keyword.

    ``store=``, ``serializer=``, ``versioning=`` and ``scoring=`` take a plugin
    name or an instance; ``plugins=[...]`` registers plugin objects in code
    (e.g. the module under test, before it is installed); any other keyword
    goes to :class:`~modelshelf.ModelRegistry` (``storage_path=`` included).
    Every registry built is closed when the test ends.
    """
    opened: list[ModelRegistry] = []

    def make(
        *,
        store: str | MetadataStore | None = None,
        serializer: str | Serializer | None = None,
        versioning: str | VersioningScheme | None = None,
        scoring: str | ScoringPolicy | None = None,
        plugins: Sequence[object] = (),
        **options: Any,
    ) -> ModelRegistry:
        options.setdefault("storage_path", modelshelf_storage_path)
        registry = ModelRegistry(
            store=store,
            serializer=serializer,
            versioning=versioning,
            scoring=scoring,
            plugins=plugins,
            **options,
        )
        opened.append(registry)
        return registry

    yield make
    for registry in reversed(opened):
        registry.close()


@pytest.fixture
def modelshelf_registry(modelshelf_registry_factory: RegistryFactory) -> ModelRegistry:
    """A registry with the default plugins (SQLite + local files) on a temp directory."""
    return modelshelf_registry_factory()


# -- small fitted models (scikit-learn, iris; fitted once per session) ---------


@pytest.fixture(scope="session")
def modelshelf_iris() -> tuple[Any, Any]:
    """``(X, y)`` of the iris data set."""
    from modelshelf.testing import models

    return models.iris()


@pytest.fixture(scope="session")
def modelshelf_logistic_regression() -> Any:
    """A fitted ``LogisticRegression`` (iris)."""
    from modelshelf.testing import models

    return models.logistic_regression()


@pytest.fixture(scope="session")
def modelshelf_random_forest() -> Any:
    """A fitted five-tree ``RandomForestClassifier`` (iris), an ensemble."""
    from modelshelf.testing import models

    return models.random_forest()


@pytest.fixture(scope="session")
def modelshelf_example_models() -> dict[str, Any]:
    """Estimators, a pipeline, an array and a dict: what serializers must round-trip."""
    from modelshelf.testing import models

    return models.example_models()
