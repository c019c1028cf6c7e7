"""The bundled artifact store against the artifact store conformance suite."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from modelshelf.testing.contracts import ArtifactStoreContract
from modelshelf_plugins.local_storage import LocalArtifactStore

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from modelshelf.protocols import ArtifactStore


class TestLocalArtifactStore(ArtifactStoreContract):
    @pytest.fixture
    def artifact_store(self, tmp_path: Path) -> ArtifactStore:
        return LocalArtifactStore(tmp_path)


class TestFsspecLocalArtifactStore(ArtifactStoreContract):
    """The fsspec store on fsspec's local filesystem (a real directory)."""

    @pytest.fixture
    def artifact_store(self, tmp_path: Path) -> ArtifactStore:
        from modelshelf_plugins.fsspec_storage import FsspecArtifactStore

        return FsspecArtifactStore(f"file://{tmp_path}")


class TestFsspecMemoryArtifactStore(ArtifactStoreContract):
    """The fsspec store on fsspec's in-memory filesystem (an object-store-like API)."""

    @pytest.fixture
    def artifact_store(self) -> Iterator[ArtifactStore]:
        import uuid

        import fsspec

        from modelshelf_plugins.fsspec_storage import FsspecArtifactStore

        root = f"memory://conformance-{uuid.uuid4().hex}"
        yield FsspecArtifactStore(root)
        fsspec.filesystem("memory").rm(root.removeprefix("memory://"), recursive=True)
