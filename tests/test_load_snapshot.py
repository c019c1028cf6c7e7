"""Only bytes whose digest was checked are ever deserialized.

A model file over the in-memory limit used to be hashed in one pass and
unpickled from the same handle after ``seek(0)``; rewriting the file's head
in between got an attacker's pickle loaded even with a signing key and
``strict=True``. These tests make that rewrite happen, with a real file and
a real pickle that would create a marker file if it ran.
"""

from __future__ import annotations

import io
import os
import pickle
import threading
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

from modelshelf import IntegrityError, IntegrityWarning, ModelRegistry, Provider, hookimpl
from modelshelf.registry import IN_MEMORY_LOAD_LIMIT
from modelshelf.snapshot import CHUNK_BYTES, Snapshot

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


class _WritesMarker:
    """Unpickling this runs code: it creates ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (exec, (f"with open({str(self.path)!r}, 'w') as f:\n    f.write('pwned')",))


def _payload(marker: Path) -> bytes:
    return pickle.dumps(_WritesMarker(marker), protocol=2)


def _big_model() -> LinearRegression:
    """A real estimator whose file is over the in-memory limit."""
    model = LinearRegression()
    model.coef_ = np.random.default_rng(0).random(IN_MEMORY_LOAD_LIMIT // 8 + 500_000)
    model.intercept_ = 0.5
    return model


class _RewritesAfterHashing(io.RawIOBase):
    """The stored file, as a reader that rewrites its head once it was read to the end.

    This is the moment between "the digest matched" and "the serializer
    reads": whatever is read from the stored file after it sees malicious bytes.
    """

    def __init__(self, path: Path, payload: bytes) -> None:
        super().__init__()
        self._file = open(path, "rb")  # noqa: SIM115  # closed in close()
        self._path = path
        self._payload = payload
        self.rewritten = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def readinto(self, buffer: Any) -> int:
        count = self._file.readinto(buffer)
        if not count and not self.rewritten:
            with open(self._path, "r+b") as out:
                out.write(self._payload)
                out.flush()
                os.fsync(out.fileno())
            self.rewritten = True
        return count

    def close(self) -> None:
        self._file.close()
        super().close()


@pytest.mark.parametrize("serializer", ["joblib", "cloudpickle"])
def test_rewriting_the_file_after_the_hash_never_runs_the_new_bytes(
    make_registry: Callable[..., ModelRegistry],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    serializer: str,
) -> None:
    registry = make_registry(serializer=serializer, signing_key="team-secret")
    model = _big_model()
    model_id = registry.save_model(model, model_name="big")
    ref = registry.get_metadata(model_id).artifact
    assert ref.size > IN_MEMORY_LOAD_LIMIT
    path = registry.storage.local_path(ref.key)
    assert path is not None
    marker = tmp_path / "pwned"
    payload = _payload(marker)
    # The payload really is hostile: loading it the way the serializer would runs it.
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(payload)
    with open(evil, "rb") as stream:
        registry.serializer.load(stream)
    assert marker.read_text() == "pwned"
    marker.unlink()

    readers: list[_RewritesAfterHashing] = []

    def open_and_rewrite(key: str) -> _RewritesAfterHashing:
        reader = _RewritesAfterHashing(path, payload)
        readers.append(reader)
        return reader

    monkeypatch.setattr(registry.storage, "open", open_and_rewrite)
    loaded = registry.load(model_id).model
    assert readers[0].rewritten  # the file did change after it was hashed
    assert not marker.exists()
    np.testing.assert_array_equal(loaded.coef_, model.coef_)
    assert loaded.intercept_ == model.intercept_

    monkeypatch.undo()  # the next load reads the rewritten file and refuses it
    assert path.read_bytes()[: len(payload)] == payload
    with pytest.raises(IntegrityError, match="checksum mismatch"):
        registry.load(model_id)
    with pytest.warns(IntegrityWarning, match="checksum mismatch"):
        assert registry.load_model(model_id) is None
    assert not marker.exists()


def test_a_writer_racing_the_loads_never_gets_its_pickle_run(
    make_registry: Callable[..., ModelRegistry], tmp_path: Path
) -> None:
    """A thread keeps swapping the file's head between good and hostile bytes;
    every load returns the verified model or refuses, and the marker never appears."""
    registry = make_registry(signing_key="team-secret")
    model = _big_model()
    model_id = registry.save_model(model, model_name="big")
    path = registry.storage.local_path(registry.get_metadata(model_id).artifact.key)
    assert path is not None
    marker = tmp_path / "pwned"
    payload = _payload(marker)
    with open(path, "rb") as stream:
        original = stream.read(len(payload))
    stop = threading.Event()

    def swap() -> None:
        with open(path, "r+b") as out:
            while not stop.is_set():
                for head in (payload, original):
                    out.seek(0)
                    out.write(head)
                    out.flush()

    writer = threading.Thread(target=swap)
    writer.start()
    outcomes = []
    try:
        for _ in range(3):
            try:
                loaded = registry.load(model_id).model
            except IntegrityError:
                outcomes.append("refused")
            else:
                np.testing.assert_array_equal(loaded.coef_, model.coef_)
                outcomes.append("verified")
    finally:
        stop.set()
        writer.join()
    assert len(outcomes) == 3
    assert not marker.exists()


def test_large_models_load_with_every_bundled_serializer(
    make_registry: Callable[..., ModelRegistry],
) -> None:
    """skops reads a zip archive: its directory first, then the members in order."""
    model = _big_model()
    for serializer in ("joblib", "cloudpickle", "skops"):
        registry = make_registry(serializer=serializer, store="json")
        model_id = registry.save_model(model, model_name=f"big-{serializer}")
        loaded = registry.load(model_id).model
        np.testing.assert_array_equal(loaded.coef_, model.coef_)


class _RereadingSerializer:
    """Reads its stream to the end, then rewinds and unpickles it: a serializer
    that sniffs a whole file before loading it, as some formats do."""

    name = "rereading"
    file_extension = ".pkl"

    def dump(self, obj: Any, stream: Any) -> None:
        pickle.dump(obj, stream, protocol=5)

    def load(self, stream: Any) -> Any:
        stream.read()
        stream.seek(0)
        return pickle.load(stream)


class _RereadingPlugin:
    @hookimpl
    def modelshelf_serializers(self) -> list[Provider[Any]]:
        return [Provider(name="rereading", factory=_RereadingSerializer)]


def test_a_serializer_that_seeks_back_gets_a_full_verified_copy(
    make_registry: Callable[..., ModelRegistry], monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = make_registry(serializer="rereading", plugins=[_RereadingPlugin()])
    model = _big_model()
    model_id = registry.save_model(model, model_name="big")
    captures: list[bool] = []
    capture = Snapshot.capture.__func__  # type: ignore[attr-defined]

    def counting(cls: type[Snapshot], stream: Any, *, limit: int, release: bool = True) -> Snapshot:
        captures.append(release)
        taken: Snapshot = capture(cls, stream, limit=limit, release=release)
        return taken

    monkeypatch.setattr(Snapshot, "capture", classmethod(counting))
    loaded = registry.load(model_id).model
    np.testing.assert_array_equal(loaded.coef_, model.coef_)
    assert captures == [True, False]  # released memory was asked for: read again, keeping all


def test_snapshot_gives_memory_back_as_it_is_read_forward() -> None:
    data = os.urandom(3 * CHUNK_BYTES + 12345)
    snapshot = Snapshot.capture(io.BytesIO(data), limit=len(data) + 1)
    assert snapshot.size == len(data)
    assert snapshot.sha256 == __import__("hashlib").sha256(data).hexdigest()
    assert snapshot.peek(4) == data[:4]
    assert snapshot.read(CHUNK_BYTES + 10) == data[: CHUNK_BYTES + 10]
    assert snapshot._chunks[0] is None  # released: the reader moved past it
    assert snapshot._chunks[1] is not None
    buffer = bytearray(CHUNK_BYTES)
    assert snapshot.readinto(buffer) == CHUNK_BYTES
    assert bytes(buffer) == data[CHUNK_BYTES + 10 : 2 * CHUNK_BYTES + 10]
    with pytest.raises(io.UnsupportedOperation, match="already released"):
        snapshot.seek(0)
    assert snapshot.rewound
    assert snapshot.read() == data[2 * CHUNK_BYTES + 10 :]
    assert snapshot.read(1) == b""
    snapshot.close()


def test_snapshot_without_release_seeks_anywhere() -> None:
    data = os.urandom(2 * CHUNK_BYTES + 7)
    with Snapshot.capture(io.BytesIO(data), limit=len(data) + 1, release=False) as snapshot:
        assert snapshot.read() == data
        snapshot.seek(-7, io.SEEK_END)
        assert snapshot.read() == data[-7:]
        snapshot.seek(CHUNK_BYTES - 3)
        assert snapshot.read(6) == data[CHUNK_BYTES - 3 : CHUNK_BYTES + 3]
        assert not snapshot.rewound


def test_snapshot_stops_one_byte_past_the_limit() -> None:
    data = os.urandom(1000)
    snapshot = Snapshot.capture(io.BytesIO(data), limit=501)
    assert snapshot.size == 501
    assert snapshot.read() == data[:501]
