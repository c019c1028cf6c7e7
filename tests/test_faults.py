"""Real faults while the artifact is written: disk full, permission denied,
a file size limit, a serializer that fails halfway.

Each must end in a typed modelshelf error, with nothing recorded and no
temporary file left, and the registry must keep working afterwards. The
faults are real: a tiny tmpfs mounted over the artifact directory
(ENOSPC), an immutable directory (``chattr +i``), a read-only bind mount,
a process running as an unprivileged user (EACCES) and ``RLIMIT_FSIZE``.
The tests run as root in CI; where the machine does not allow a fault to
be set up, the test skips and says why.
"""

from __future__ import annotations

import errno
import hashlib
import multiprocessing
import os
import resource
import shutil
import signal
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

from modelshelf import ModelRegistry, ModelShelfError, SerializationError, StoreError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sklearn.linear_model import LogisticRegression

_FORK = multiprocessing.get_context("fork")
NOBODY = 65534


#: Files whose bytes change without a logical change (SQLite's WAL, the lock).
VOLATILE = ("registry.db", "registry.db-wal", "registry.db-shm", "index.lock")


def registry_state(registry: ModelRegistry) -> tuple[list[tuple[int, str]], dict[str, str]]:
    """Every row (id, version) and every stored file with its digest."""
    rows = sorted((m.model_id, m.version) for m in registry.list_models())
    files = {
        str(path.relative_to(registry.storage_path)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(registry.storage_path.rglob("*"))
        if path.is_file() and path.name not in VOLATILE
    }
    return rows, files


def assert_nothing_left(registry: ModelRegistry, before: Any) -> None:
    assert registry_state(registry) == before
    assert list(registry.storage.iter_temporary()) == []
    assert [p for p in registry.storage_path.rglob("*") if ".tmp-" in p.name] == []
    assert registry.verify().findings == ()


@pytest.fixture(scope="module")
def big_model() -> RandomForestClassifier:
    """A few hundred KB once serialized: larger than the tiny filesystem."""
    X, y = load_iris(return_X_y=True)
    return RandomForestClassifier(n_estimators=60, random_state=0).fit(X, y)


def _run(command: list[str]) -> bool:
    return (
        shutil.which(command[0]) is not None
        and subprocess.run(command, capture_output=True, check=False).returncode == 0
    )


@contextmanager
def tiny_filesystem(mountpoint: Path, size: str) -> Iterator[None]:
    mountpoint.mkdir(parents=True, exist_ok=True)
    if not _run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mountpoint)]):
        pytest.skip("cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN) to fill a disk")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


@pytest.mark.parametrize("serializer", ["joblib", "cloudpickle"])
@pytest.mark.parametrize("store", ["sqlite", "json"])
def test_disk_full_while_writing_artifact(
    store: str,
    serializer: str,
    tmp_path: Path,
    big_model: RandomForestClassifier,
    logistic: LogisticRegression,
) -> None:
    storage = tmp_path / "registry"
    with tiny_filesystem(storage / "models", "64k"):
        registry = ModelRegistry(storage, store=store, serializer=serializer)
        try:
            registry.save_model(logistic, "small")
            before = registry_state(registry)
            with pytest.raises(StoreError) as caught:
                registry.save_model(big_model, "big", metrics={"f1": 0.9})
            assert isinstance(caught.value, ModelShelfError)
            assert "No space left on device" in str(caught.value)
            assert "big/" in str(caught.value), "the error should name the file"
            assert registry.list_models(model_name="big") == []
            assert_nothing_left(registry, before)
            # Space is back once the failed write is cleaned up: saving works.
            registry.save_model(logistic, "small")
            assert len(registry.get_model_versions("small")) == 2
        finally:
            registry.close()


def test_disk_full_on_an_auxiliary_artifact_removes_the_main_file(
    tmp_path: Path, big_model: RandomForestClassifier, logistic: LogisticRegression
) -> None:
    storage = tmp_path / "registry"
    with tiny_filesystem(storage / "models", "64k"):
        registry = ModelRegistry(storage)
        try:
            before = registry_state(registry)
            with pytest.raises(StoreError, match="No space left"):
                registry.save_model(logistic, "pair", artifacts={"huge": big_model})
            assert_nothing_left(registry, before)
        finally:
            registry.close()


@contextmanager
def unwritable(directory: Path) -> Iterator[str]:
    """Make ``directory`` refuse new entries even to root, by whatever works here."""
    if _run(["chattr", "+i", str(directory)]):
        try:
            yield "immutable"
        finally:
            subprocess.run(["chattr", "-i", str(directory)], check=False)
        return
    if _run(["mount", "--bind", "-o", "ro", str(directory), str(directory)]):
        try:
            yield "read-only"
        finally:
            subprocess.run(["umount", "-l", str(directory)], check=False)
        return
    pytest.skip("neither chattr +i nor a read-only bind mount works here; root ignores chmod")


@pytest.mark.parametrize("existing_directory", [True, False], ids=["known-name", "new-name"])
@pytest.mark.parametrize("store", ["sqlite", "json"])
def test_unwritable_artifact_directory(
    store: str, existing_directory: bool, tmp_path: Path, logistic: LogisticRegression
) -> None:
    registry = ModelRegistry(tmp_path / "registry", store=store)
    try:
        registry.save_model(logistic, "known")
        before = registry_state(registry)
        models = registry.storage_path / "models"
        target = models / "known" if existing_directory else models
        with unwritable(target):
            with pytest.raises(StoreError) as caught:
                registry.save_model(logistic, "known" if existing_directory else "fresh")
            message = str(caught.value)
            assert "Operation not permitted" in message or "Read-only" in message, message
            assert_nothing_left(registry, before)
        registry.save_model(logistic, "known")
    finally:
        registry.close()


def _as_nobody(storage: Path, model: Any, results: Any) -> None:
    try:
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        registry = ModelRegistry(storage)
        try:
            registry.save_model(model, "denied")
            results.put(("saved", ""))
        except ModelShelfError as exc:
            cause = exc.__cause__
            results.put((type(exc).__name__, f"{getattr(cause, 'errno', None)} {exc}"))
        finally:
            registry.close()
    except BaseException as exc:
        results.put(("crashed", repr(exc)))


def test_permission_denied_for_an_unprivileged_user(
    tmp_path: Path, logistic: LogisticRegression
) -> None:
    """EACCES for real: a user who may write the metadata but not the files."""
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to an unprivileged user")
    # pytest's temporary root is private to root, so use a directory nobody can reach.
    reachable = Path(tempfile.mkdtemp(prefix="modelshelf-eacces-"))
    reachable.chmod(0o755)
    try:
        _permission_denied(reachable / "registry", logistic)
    finally:
        shutil.rmtree(reachable)


def _permission_denied(storage: Path, logistic: LogisticRegression) -> None:
    registry = ModelRegistry(storage)
    registry.save_model(logistic, "denied")
    registry.close()
    for path in [storage, *storage.glob("registry.db*")]:
        os.chown(path, NOBODY, NOBODY)
    with ModelRegistry(storage) as registry:
        before = registry_state(registry)
    results = _FORK.SimpleQueue()
    child = _FORK.Process(target=_as_nobody, args=(storage, logistic, results))
    child.start()
    child.join(60)
    kind, detail = results.get()
    assert kind == "StoreError", detail
    assert detail.startswith(f"{errno.EACCES} "), detail
    assert "Permission denied" in detail
    for path in [storage, *storage.glob("registry.db*")]:
        os.chown(path, 0, 0)
    with ModelRegistry(storage) as registry:
        assert_nothing_left(registry, before)


def _with_size_limit(storage: Path, model: Any, results: Any) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of dying
    resource.setrlimit(resource.RLIMIT_FSIZE, (32 * 1024, 32 * 1024))
    try:
        with ModelRegistry(storage) as registry:
            registry.save_model(model, "capped")
        results.put(("saved", ""))
    except ModelShelfError as exc:
        results.put((type(exc).__name__, f"{getattr(exc.__cause__, 'errno', None)} {exc}"))
    except BaseException as exc:
        results.put(("crashed", repr(exc)))


def test_file_size_limit_while_writing_artifact(
    tmp_path: Path, big_model: RandomForestClassifier
) -> None:
    """RLIMIT_FSIZE needs no privileges: the kernel refuses the write (EFBIG)."""
    storage = tmp_path / "registry"
    ModelRegistry(storage).close()
    with ModelRegistry(storage) as registry:
        before = registry_state(registry)
    results = _FORK.SimpleQueue()
    child = _FORK.Process(target=_with_size_limit, args=(storage, big_model, results))
    child.start()
    child.join(60)
    kind, detail = results.get()
    assert kind == "StoreError", detail
    assert detail.startswith(f"{errno.EFBIG} "), detail
    with ModelRegistry(storage) as registry:
        assert_nothing_left(registry, before)


class HalfwaySerializer:
    """A third-party serializer that writes part of the stream, then fails."""

    name = "halfway"
    file_extension = ".half"

    def __init__(self, failure: BaseException) -> None:
        self.failure = failure

    def dump(self, obj: Any, stream: IO[bytes]) -> None:
        stream.write(np.arange(50_000, dtype=np.int64).tobytes())
        raise self.failure

    def load(self, stream: IO[bytes]) -> Any:
        return stream.read()


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (RuntimeError("encoder crashed"), SerializationError),
        (OSError(errno.EIO, "Input/output error"), StoreError),
    ],
    ids=["serializer-bug", "io-error"],
)
@pytest.mark.parametrize("store", ["sqlite", "json"])
def test_serializer_failing_halfway(
    store: str,
    failure: BaseException,
    error: type[ModelShelfError],
    tmp_path: Path,
    logistic: LogisticRegression,
) -> None:
    registry = ModelRegistry(
        tmp_path / "registry", store=store, serializer=HalfwaySerializer(failure)
    )
    try:
        before = registry_state(registry)
        with pytest.raises(error) as caught:
            registry.save_model(logistic, "halfway", metrics={"f1": 0.5})
        assert str(failure) in str(caught.value)
        assert caught.value.__cause__ is failure
        if error is SerializationError:
            assert isinstance(caught.value, ValueError)
            assert "halfway" in str(caught.value), "the error should name the serializer"
        assert_nothing_left(registry, before)
    finally:
        registry.close()


def test_registry_state_sees_a_stray_file(tmp_path: Path, logistic: LogisticRegression) -> None:
    """The helper the other tests rely on notices a file nobody recorded."""
    with ModelRegistry(tmp_path / "registry") as registry:
        before = registry_state(registry)
        stray = registry.storage_path / "models" / "x" / ".y.joblib.tmp-1"
        stray.parent.mkdir(parents=True)
        stray.write_bytes(b"partial")
        with pytest.raises(AssertionError):
            assert_nothing_left(registry, before)


def _fill(handle: Any, limit: int | None = None) -> int | None:
    """Write zeros until the disk is full (return ENOSPC) or ``limit`` bytes."""
    written = 0
    while limit is None or written < limit:
        try:
            written += handle.write(b"\0" * 4096)
        except OSError as exc:
            return exc.errno
    return None


@pytest.mark.parametrize("store", ["sqlite", "json"])
def test_disk_full_while_recording_metadata(
    store: str, tmp_path: Path, logistic: LogisticRegression
) -> None:
    """The artifact is written, then the metadata store's disk is full: the save
    fails with a StoreError and takes its (already durable) file back with it."""
    metadata_dir = tmp_path / "metadata"
    with tiny_filesystem(metadata_dir, "512k"):
        url = str(metadata_dir / "registry.db") if store == "sqlite" else str(metadata_dir)
        registry = ModelRegistry(tmp_path / "registry", store=store, store_url=url)
        try:
            registry.save_model(logistic, "meta", metrics={"f1": 0.5})
            before = registry_state(registry)
            filler = metadata_dir / "filler"
            with open(filler, "wb", buffering=0) as handle:
                assert _fill(handle) == errno.ENOSPC
            with pytest.raises(StoreError) as caught:
                registry.save_model(logistic, "meta", description="x" * 50_000)
            assert isinstance(caught.value, ModelShelfError)
            assert registry_state(registry) == before
            assert list(registry.storage.iter_keys()) == [
                m.artifact.key for m in registry.list_models()
            ]
            assert list(registry.storage.iter_temporary()) == []
            filler.unlink()
            registry.save_model(logistic, "meta")
            assert [m.version for m in registry.get_model_versions("meta")] == ["1.0.0", "1.0.1"]
            assert registry.verify().findings == ()
        finally:
            registry.close()


def test_disk_full_during_json_compaction_keeps_the_recorded_change(
    tmp_path: Path,
    logistic: LogisticRegression,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The journal line fits but the snapshot it triggers does not. Folding the
    journal is optional work: the save stands (row and file), nothing is lost,
    and a later save once space is back folds everything in."""
    from modelshelf_plugins import json_store

    monkeypatch.setattr(json_store, "MIN_COMPACTION_LINES", 10**6)
    metadata_dir = tmp_path / "metadata"
    with tiny_filesystem(metadata_dir, "256k"):
        registry = ModelRegistry(tmp_path / "registry", store="json", store_url=str(metadata_dir))
        try:
            for _ in range(12):
                registry.save_model(logistic, "folded", description="d" * 2000)
            registry.set_alias("folded:1.0.0", "first")
            # Now the journal outgrows the index at the next write: it will fold.
            monkeypatch.setattr(json_store, "MIN_COMPACTION_LINES", 1)
            fillers: list[Path] = []
            while len(fillers) < 1000:
                fillers.append(metadata_dir / f"filler-{len(fillers)}")
                with open(fillers[-1], "wb", buffering=0) as handle:
                    if _fill(handle, limit=4096) == errno.ENOSPC:
                        break
            else:
                pytest.fail("the tiny filesystem never filled up")
            for filler in fillers[:3]:  # room for a journal line, not a snapshot
                filler.unlink(missing_ok=True)
            outcomes: list[int | None] = []
            for _ in range(3):
                try:
                    outcomes.append(registry.save_model(logistic, "folded", description="e"))
                except StoreError:
                    outcomes.append(None)
            assert any(outcomes), "the tiny journal line should have fit"
            assert "could not fold the journal" in caplog.text, "the fold never hit the full disk"
            for model_id in filter(None, outcomes):
                assert registry.load(model_id).model is not None
            assert registry.verify().ok
            assert [p for p in metadata_dir.iterdir() if ".tmp-" in p.name] == []
            for filler in fillers:
                filler.unlink(missing_ok=True)
            registry.save_model(logistic, "folded")
        finally:
            registry.close()
        with ModelRegistry(
            tmp_path / "registry", store="json", store_url=str(metadata_dir)
        ) as reopened:
            versions = reopened.get_model_versions("folded")
            assert len(versions) == 12 + sum(1 for o in outcomes if o) + 1
            assert reopened.verify().findings == ()
