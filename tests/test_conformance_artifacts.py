"""The bundled artifact store against the artifact store conformance suite."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from modelshelf.testing.contracts import ArtifactStoreContract
from modelshelf_plugins.local_storage import LocalArtifactStore

if TYPE_CHECKING:
    from pathlib import Path

    from modelshelf.protocols import ArtifactStore


class TestLocalArtifactStore(ArtifactStoreContract):
    @pytest.fixture
    def artifact_store(self, tmp_path: Path) -> ArtifactStore:
        return LocalArtifactStore(tmp_path)
