"""Artifacts at fsspec URLs: a real S3 API on loopback (moto server) and memory://.

The S3 tests talk HTTP to moto's server through s3fs, exactly as a registry
talks to a bucket; nothing in the client is patched.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
import time
import uuid
from typing import IO, TYPE_CHECKING

import pytest
from sklearn.linear_model import LogisticRegression

from modelshelf import ModelRegistry
from modelshelf.errors import IntegrityError, IntegrityWarning, InvalidInputError, StoreError
from modelshelf.testing.contracts import ArtifactStoreContract
from modelshelf_plugins.fsspec_storage import FsspecArtifactStore
from modelshelf_plugins.local_storage import TEMP_MARKER, LocalArtifactStore

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np


@pytest.fixture(params=["s3", "memory"])
def location(request: pytest.FixtureRequest) -> str:
    """A fresh artifact location on each remote backend."""
    if request.param == "s3":
        bucket = request.getfixturevalue("s3_bucket")
        return f"{bucket}/team/registry"
    return f"memory://modelshelf-{uuid.uuid4().hex}"


class TestFsspecS3ArtifactStore(ArtifactStoreContract):
    """The artifact store conformance suite against the loopback S3 server."""

    @pytest.fixture
    def artifact_store(self, s3_bucket: str) -> FsspecArtifactStore:
        return FsspecArtifactStore(f"{s3_bucket}/suite")


def _payload(data: bytes) -> object:
    def write(stream: IO[bytes]) -> None:
        stream.write(data)

    return write


def test_put_open_list_and_delete(location: str) -> None:
    store = FsspecArtifactStore(location)
    stored = store.put("m/a.bin", _payload(b"x" * 1000))  # type: ignore[arg-type]
    assert stored.size == 1000
    assert stored.sha256 == hashlib.sha256(b"x" * 1000).hexdigest()
    with store.open("m/a.bin") as stream:
        assert stream.read() == b"x" * 1000
    assert store.exists("m/a.bin")
    assert store.size("m/a.bin") == 1000
    modified = store.modified_at("m/a.bin")
    assert modified is not None
    assert abs(modified - time.time()) < 600  # the write just now, not a default
    assert list(store.iter_keys()) == ["m/a.bin"]
    assert list(store.iter_temporary()) == []
    assert FsspecArtifactStore(location).exists("m/a.bin")  # a second client sees it
    assert store.delete("m/a.bin") is True
    assert store.delete("m/a.bin") is False
    assert store.size("m/a.bin") is None
    assert list(store.iter_keys()) == []


def test_no_partial_object_is_ever_visible_under_the_final_key(location: str) -> None:
    store = FsspecArtifactStore(location)
    observer = FsspecArtifactStore(location)
    seen: list[bool] = []

    def write(stream: IO[bytes]) -> None:
        stream.write(b"first half")
        stream.flush()
        seen.append(observer.exists("m/model.bin"))
        stream.write(b" second half")

    store.put("m/model.bin", write)
    assert seen == [False]
    with observer.open("m/model.bin") as stream:
        assert stream.read() == b"first half second half"


def test_a_failed_write_leaves_nothing_behind(location: str) -> None:
    store = FsspecArtifactStore(location)

    def write(stream: IO[bytes]) -> None:
        stream.write(b"partial")
        raise RuntimeError("serializer blew up")

    with pytest.raises(RuntimeError, match="blew up"):
        store.put("m/broken.bin", write)
    assert not store.exists("m/broken.bin")
    assert list(store.iter_keys()) == []
    assert list(store.iter_temporary()) == []


@pytest.mark.parametrize("key", ["../escape", "/abs", "a//b", "a/./b", "a\\b", ""])
def test_keys_cannot_escape_the_root(key: str) -> None:
    store = FsspecArtifactStore(f"memory://{uuid.uuid4().hex}")
    with pytest.raises(InvalidInputError, match="safe relative path"):
        store.put(key, _payload(b"x"))  # type: ignore[arg-type]


def test_registry_on_s3_saves_verifies_signs_and_loads(
    s3_bucket: str, tmp_path: Path, iris: tuple[np.ndarray, np.ndarray]
) -> None:
    X, y = iris
    model = LogisticRegression(max_iter=500).fit(X, y)
    location = f"{s3_bucket}/prod"
    with ModelRegistry(
        location, store_url=str(tmp_path / "registry.db"), signing_key="team-secret"
    ) as registry:
        assert isinstance(registry.storage, FsspecArtifactStore)
        model_id = registry.save_model(model, "iris", metrics={"f1": 0.95})
        metadata = registry.get_metadata(model_id)
        assert metadata.artifact.signature is not None
        assert (registry.load(model_id).model.predict(X) == model.predict(X)).all()
        assert registry.verify().ok
        assert not tmp_path.joinpath("s3:").exists()

        # Someone overwrites the object in the bucket: the checksum catches it.
        import fsspec

        fs = fsspec.filesystem("s3")
        fs.pipe(f"{location}/models/{metadata.artifact.key}", b"not the model")
        fs.invalidate_cache()
        with pytest.warns(IntegrityWarning, match="checksum mismatch"):
            assert registry.load_model(model_id) is None
        with pytest.raises(IntegrityError):
            registry.load(model_id)
        assert not registry.verify().ok


def test_registry_on_memory_url(tmp_path: Path) -> None:
    with ModelRegistry(
        f"memory://reg-{uuid.uuid4().hex}", store_url=str(tmp_path / "r.db")
    ) as registry:
        registry.save_model(LogisticRegression(), "m", metrics={"f1": 0.5})
        registry.save_model(LogisticRegression(C=2.0), "m", metrics={"f1": 0.7})
        assert registry.get_best_model().version == "1.0.1"  # type: ignore[union-attr]
        assert registry.load_model(model_name="m").C == 2.0
        assert registry.delete_model(1) is True
        assert registry.verify().findings == ()


def test_crash_leftovers_are_reported_and_collected(s3_bucket: str, tmp_path: Path) -> None:
    location = f"{s3_bucket}/r"
    with ModelRegistry(location, store_url=str(tmp_path / "r.db")) as registry:
        registry.save_model(LogisticRegression(), "m")
        import fsspec

        fs = fsspec.filesystem("s3")
        leftover = f"{location}/models/m/.x.joblib{TEMP_MARKER}dead"
        fs.pipe(leftover, b"half a model")
        fs.invalidate_cache()
        kinds = [f.kind for f in registry.verify().findings]
        assert kinds == ["temporary"]
        assert registry.gc(dry_run=False, min_age_seconds=0) == [f"m/.x.joblib{TEMP_MARKER}dead"]
        assert registry.verify().findings == ()
        assert registry.load_model(model_name="m") is not None


def test_local_paths_keep_the_local_store(tmp_path: Path) -> None:
    with ModelRegistry(tmp_path / "a") as registry:
        assert isinstance(registry.storage, LocalArtifactStore)
    with ModelRegistry(f"file://{tmp_path / 'b'}") as registry:
        assert isinstance(registry.storage, LocalArtifactStore)
        assert registry.storage_path == tmp_path / "b"
        assert (tmp_path / "b").is_dir()


def test_a_remote_location_needs_a_metadata_store_of_its_own(s3_bucket: str) -> None:
    with pytest.raises(StoreError, match="store_url="):
        ModelRegistry(f"{s3_bucket}/r")


_SAVER = textwrap.dedent(
    """
    import os, sys, time
    from sklearn.linear_model import LogisticRegression
    from modelshelf import ModelRegistry

    location, url, go, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    with ModelRegistry(location, store="postgresql", store_url=url) as registry:
        while not os.path.exists(go):
            time.sleep(0.01)
        for i in range(count):
            model_id = registry.save_model(
                LogisticRegression(C=1.0 + i), "shared", metrics={"f1": 0.5}
            )
            print(model_id, registry.get_metadata(model_id).version, flush=True)
    """
)


@pytest.mark.modelshelf_multiprocess
def test_eight_processes_save_to_one_name_on_postgresql_and_s3(
    s3_bucket: str, modelshelf_postgresql_url: str, tmp_path: Path
) -> None:
    location = f"{s3_bucket}/team"
    workers, each = 8, 3
    go = tmp_path / "go"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _SAVER, location, modelshelf_postgresql_url, str(go), str(each)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        for _ in range(workers)
    ]
    time.sleep(0.5)
    go.touch()
    results = [child.communicate(timeout=300) for child in children]
    for child, (_, err) in zip(children, results, strict=True):
        assert child.returncode == 0, err
    pairs = [line.split() for out, _ in results for line in out.splitlines()]
    versions = sorted((v for _, v in pairs), key=lambda v: int(v.rsplit(".", 1)[1]))
    assert versions == [f"1.0.{n}" for n in range(workers * each)]
    with ModelRegistry(location, store="postgresql", store_url=modelshelf_postgresql_url) as reg:
        recorded = reg.get_model_versions("shared")
        assert sorted(m.model_id for m in recorded) == sorted(int(i) for i, _ in pairs)
        report = reg.verify()
        assert report.ok
        assert report.checked == workers * each
        assert report.findings == ()
        assert {reg.load(m.model_id).model.C for m in recorded} == {1.0, 2.0, 3.0}
