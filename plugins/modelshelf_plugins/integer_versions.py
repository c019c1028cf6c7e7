"""Integer versions per model name: 1, 2, 3, as MLflow numbers them."""

from __future__ import annotations

from modelshelf import hookimpl
from modelshelf.protocols import Provider, VersioningScheme
from modelshelf_plugins.semver import IntegerScheme


@hookimpl
def modelshelf_versioning_schemes() -> list[Provider[VersioningScheme]]:
    return [Provider(name="integer", factory=IntegerScheme, description="1, 2, 3 per name")]
