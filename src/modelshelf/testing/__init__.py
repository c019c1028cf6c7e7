"""modelshelf's pytest plugin: fixtures and conformance suites for plugin authors.

Registered through the ``pytest11`` entry point; importing it costs nothing
beyond pytest itself. The suites live in :mod:`modelshelf.testing.contracts`
and the Hypothesis strategies in :mod:`modelshelf.testing.strategies`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

# The suites' plain ``assert`` statements explain themselves only when pytest
# rewrites them, which it does for these modules once they are registered
# before their first import.
pytest.register_assert_rewrite(
    "modelshelf.testing.contracts",
    "modelshelf.testing.reference",
    "modelshelf.testing.stateful",
)

from modelshelf.registry import ModelRegistry  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path


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


@pytest.fixture
def modelshelf_registry_factory(
    modelshelf_storage_path: Path,
) -> Iterator[Callable[..., ModelRegistry]]:
    """Build registries on the test's storage path; plugin choices as keywords."""
    opened: list[ModelRegistry] = []

    def make(**options: Any) -> ModelRegistry:
        options.setdefault("storage_path", modelshelf_storage_path)
        registry = ModelRegistry(**options)
        opened.append(registry)
        return registry

    yield make
    for registry in opened:
        registry.close()


@pytest.fixture
def modelshelf_registry(
    modelshelf_registry_factory: Callable[..., ModelRegistry],
) -> ModelRegistry:
    """A registry with the default plugins (SQLite + local files) on a temp directory."""
    return modelshelf_registry_factory()
