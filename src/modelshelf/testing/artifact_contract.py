"""The artifact-store conformance suite, apart from the metadata suites so each reads alone."""

from __future__ import annotations

import hashlib
import time
from typing import IO, TYPE_CHECKING, ClassVar

import pytest

from modelshelf.errors import (
    InvalidInputError,
)
from modelshelf.protocols import ArtifactStore as ArtifactStoreProtocol
from modelshelf.protocols import StoredFile
from modelshelf.testing._contract_support import _not_overridden

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from modelshelf.protocols import (
        ArtifactStore,
    )


def _writer(payload: bytes, chunk: int = 65536) -> Callable[[IO[bytes]], None]:
    def write(stream: IO[bytes]) -> None:
        for start in range(0, len(payload), chunk):
            stream.write(payload[start : start + chunk])

    return write


class _WriteFailed(Exception):
    """Raised by the suite's writer halfway through, to simulate a failed dump."""


def _failing_writer(stream: IO[bytes]) -> None:
    stream.write(b"half of a model")
    raise _WriteFailed("the serializer failed halfway")


def _read(artifact_store: ArtifactStore, key: str) -> bytes:
    with artifact_store.open(key) as stream:
        return stream.read()


class ArtifactStoreContract:
    """The behaviour every :class:`~modelshelf.protocols.ArtifactStore` must show.

    Override ``artifact_store`` to yield a fresh, empty store.
    """

    #: Keys the store must refuse (they could escape the storage root).
    unsafe_keys: ClassVar[Sequence[str]] = (
        "",
        "/etc/passwd",
        "../outside.bin",
        "model/../../outside.bin",
        "model/./x.bin",
        "model//x.bin",
        "model\\..\\x.bin",
        "bad\x00key",
    )

    @pytest.fixture
    def artifact_store(self) -> Iterator[ArtifactStore]:
        """A fresh, empty artifact store; override in your subclass."""
        raise _not_overridden("artifact_store", "ArtifactStoreContract")

    def test_is_an_artifact_store(self, artifact_store: ArtifactStore) -> None:
        assert isinstance(artifact_store, ArtifactStoreProtocol)

    def test_empty_store_has_no_keys(self, artifact_store: ArtifactStore) -> None:
        assert list(artifact_store.iter_keys()) == []
        assert list(artifact_store.iter_temporary()) == []
        assert artifact_store.exists("alpha/1.bin") is False
        assert artifact_store.size("alpha/1.bin") is None
        assert artifact_store.modified_at("alpha/1.bin") is None
        assert artifact_store.delete("alpha/1.bin") is False

    def test_put_reports_digest_and_size_and_reads_back(
        self, artifact_store: ArtifactStore
    ) -> None:
        payload = bytes(range(256)) * 40_000  # ~10 MB, written in chunks
        before = time.time()
        stored = artifact_store.put("alpha/1.0.0/model.bin", _writer(payload))
        assert stored == StoredFile(
            key="alpha/1.0.0/model.bin",
            sha256=hashlib.sha256(payload).hexdigest(),
            size=len(payload),
        )
        assert _read(artifact_store, "alpha/1.0.0/model.bin") == payload
        assert artifact_store.exists("alpha/1.0.0/model.bin")
        assert artifact_store.size("alpha/1.0.0/model.bin") == len(payload)
        modified = artifact_store.modified_at("alpha/1.0.0/model.bin")
        assert modified is not None
        assert before - 5 <= modified <= time.time() + 5
        assert list(artifact_store.iter_keys()) == ["alpha/1.0.0/model.bin"]

    def test_empty_file_is_a_file(self, artifact_store: ArtifactStore) -> None:
        stored = artifact_store.put("alpha/empty.bin", _writer(b""))
        assert (stored.size, stored.sha256) == (0, hashlib.sha256(b"").hexdigest())
        assert artifact_store.exists("alpha/empty.bin")
        assert _read(artifact_store, "alpha/empty.bin") == b""

    def test_put_replaces_an_existing_key(self, artifact_store: ArtifactStore) -> None:
        artifact_store.put("alpha/m.bin", _writer(b"first"))
        stored = artifact_store.put("alpha/m.bin", _writer(b"second version"))
        assert stored.size == len(b"second version")
        assert _read(artifact_store, "alpha/m.bin") == b"second version"
        assert list(artifact_store.iter_keys()) == ["alpha/m.bin"]

    def test_failed_write_leaves_nothing_visible(self, artifact_store: ArtifactStore) -> None:
        with pytest.raises(_WriteFailed):
            artifact_store.put("alpha/broken.bin", _failing_writer)
        assert artifact_store.exists("alpha/broken.bin") is False
        assert "alpha/broken.bin" not in list(artifact_store.iter_keys())
        # A failed overwrite keeps the complete old file.
        artifact_store.put("alpha/kept.bin", _writer(b"complete"))
        with pytest.raises(_WriteFailed):
            artifact_store.put("alpha/kept.bin", _failing_writer)
        assert _read(artifact_store, "alpha/kept.bin") == b"complete"
        assert sorted(artifact_store.iter_keys()) == ["alpha/kept.bin"]

    def test_delete_removes_the_file(self, artifact_store: ArtifactStore) -> None:
        artifact_store.put("alpha/a.bin", _writer(b"a"))
        artifact_store.put("alpha/b.bin", _writer(b"b"))
        assert artifact_store.delete("alpha/a.bin") is True
        assert artifact_store.delete("alpha/a.bin") is False
        assert artifact_store.exists("alpha/a.bin") is False
        assert list(artifact_store.iter_keys()) == ["alpha/b.bin"]
        with pytest.raises((OSError, LookupError)):
            _read(artifact_store, "alpha/a.bin")

    def test_keys_are_listed_completely(self, artifact_store: ArtifactStore) -> None:
        keys = {f"{name}/{n}/model.bin" for name in ("alpha", "beta.v2", "g-3") for n in range(3)}
        for key in keys:
            artifact_store.put(key, _writer(key.encode()))
        assert sorted(artifact_store.iter_keys()) == sorted(keys)
        for key in keys:
            assert _read(artifact_store, key) == key.encode()
        assert list(artifact_store.iter_temporary()) == []

    def test_unsafe_keys_are_refused(self, artifact_store: ArtifactStore) -> None:
        for key in self.unsafe_keys:
            with pytest.raises(InvalidInputError):
                artifact_store.put(key, _writer(b"escape"))
            with pytest.raises(InvalidInputError):
                artifact_store.open(key)
        assert list(artifact_store.iter_keys()) == []

    def test_only_temporary_files_go_through_delete_temporary(
        self, artifact_store: ArtifactStore
    ) -> None:
        artifact_store.put("alpha/m.bin", _writer(b"keep me"))
        with pytest.raises(InvalidInputError):
            artifact_store.delete_temporary("alpha/m.bin")
        assert artifact_store.exists("alpha/m.bin")

    def test_local_path_when_given_holds_the_bytes(self, artifact_store: ArtifactStore) -> None:
        artifact_store.put("alpha/m.bin", _writer(b"local bytes"))
        path = artifact_store.local_path("alpha/m.bin")
        if path is None:
            pytest.skip("store is not local (local_path returns None)")
        assert path.read_bytes() == b"local bytes"


__all__ = ["ArtifactStoreContract"]
