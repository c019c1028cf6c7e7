"""Artifact storage at any fsspec URL: ``s3://``, ``gs://``, ``az://``, ``memory://``...

A team that serves from many machines keeps its artifacts in the object
store it already runs; fsspec speaks to all of them, so nothing here is
specific to one vendor. Credentials and endpoints come from the backend's
own configuration (for S3: ``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL``,
profiles...), or from ``storage_options`` when the store is built in code.

Atomicity, per backend: on object stores (S3, GCS, Azure: fsspec's buffered
files) a write relies on the store's own atomic commit. A small artifact is
one PUT and a large one a multipart upload; either becomes an object under
its final key only when complete, and a failed write is discarded (the
multipart upload aborted). Elsewhere (``memory://``, other filesystems) the
bytes go to a temporary name beside the key (``.<name>.tmp-<uuid>``) and
are then moved onto it. Either way the SHA-256 is computed while writing,
readers never see a partial object under a final key, and what a crash
leaves (a temporary name, or an unfinished multipart upload that a bucket
lifecycle rule expires) is never taken for an artifact.

Local paths do not come here: the registry keeps them on the ``local``
store, whose rename-and-fsync path is faster and durable.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from typing import IO, TYPE_CHECKING, Any, cast

from modelshelf import hookimpl
from modelshelf.errors import InvalidInputError, StoreError, UnsafePathError
from modelshelf.protocols import ArtifactStore, Provider, StoredFile
from modelshelf_plugins.local_storage import TEMP_MARKER, HashingWriter, check_key

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path


#: Backends whose uploads become objects only when complete (PUT / multipart).
COMMITTING_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "oss"})
#: Backends whose paths are local files, where a symlink could lead out of the root.
LOCAL_PROTOCOLS = frozenset({"file", "local"})


class FsspecArtifactStore:
    """Files under ``<url>/models`` on any fsspec filesystem; keys are relative paths."""

    def __init__(self, url: str, **storage_options: Any) -> None:
        import fsspec

        self.url = url.rstrip("/")
        try:
            self.fs, root = fsspec.core.url_to_fs(self.url, **storage_options)
        except (ImportError, ValueError) as exc:
            raise StoreError(
                f"cannot open artifact storage {url!r}: {exc} "
                "(is the fsspec backend for this scheme installed, e.g. s3fs for s3://?)"
            ) from exc
        self.root = f"{root.rstrip('/')}/models"
        protocols = self.fs.protocol
        protocols = {protocols} if isinstance(protocols, str) else set(protocols)
        #: Whether this backend publishes an upload atomically when it completes.
        self.commits_uploads = bool(protocols & COMMITTING_PROTOCOLS)
        #: The root as the operating system resolves it, when the files are local.
        self._local_root = os.path.realpath(self.root) if protocols & LOCAL_PROTOCOLS else None
        # Object stores have no directories, and creating a bucket may be
        # forbidden; the first write reports a real problem.
        with contextlib.suppress(OSError, NotImplementedError):
            self.fs.makedirs(self.root, exist_ok=True)

    def path_for(self, key: str) -> str:
        path = f"{self.root}/{check_key(key)}"
        if self._local_root is not None:
            resolved = os.path.realpath(path)
            if os.path.commonpath([resolved, self._local_root]) != self._local_root:
                raise UnsafePathError(
                    key, f"artifact key resolves to {resolved}, outside the storage directory"
                )
        return path

    def _key_of(self, path: str) -> str:
        path = self.fs._strip_protocol(path)
        root = self.fs._strip_protocol(self.root)
        return path[len(root) :].lstrip("/")

    def put(self, key: str, write: Callable[[IO[bytes]], None]) -> StoredFile:
        path = self.path_for(key)
        if self.commits_uploads:
            try:
                raw = self.fs.open(path, "wb")
            except OSError as exc:
                raise StoreError(f"could not write {key} to {self.url}: {exc}") from exc
            return self._put_committed(key, raw, write)
        return self._put_moved(key, path, write)

    def _put_committed(self, key: str, raw: Any, write: Callable[[IO[bytes]], None]) -> StoredFile:
        """Object stores: the object appears whole when the upload is committed.

        A small file is one PUT; a large one is a multipart upload that only
        becomes an object on completion. On failure the upload is discarded
        (an unfinished multipart upload is aborted), so nothing is visible.
        """
        writer = HashingWriter(raw)
        try:
            write(writer)  # type: ignore[arg-type]
            raw.close()
        except BaseException as exc:
            with contextlib.suppress(Exception):
                raw.discard()
                raw.closed = True  # nothing left to flush; keeps __del__ from uploading
            if isinstance(exc, OSError):
                raise StoreError(f"could not write {key} to {self.url}: {exc}") from exc
            raise
        return StoredFile(key=key, sha256=writer.hexdigest(), size=writer.size)

    def _put_moved(self, key: str, path: str, write: Callable[[IO[bytes]], None]) -> StoredFile:
        """Other filesystems: write a temporary name beside the key, then move it."""
        directory, _, name = path.rpartition("/")
        temp = f"{directory}/.{name}{TEMP_MARKER}{uuid.uuid4().hex}"
        # A real filesystem (file://, sftp://...) needs the key's directory first.
        with contextlib.suppress(OSError, NotImplementedError):
            self.fs.makedirs(directory, exist_ok=True)
        try:
            with self.fs.open(temp, "wb") as raw:
                writer = HashingWriter(raw)
                write(writer)  # type: ignore[arg-type]
            self.fs.mv(temp, path)
        except BaseException as exc:
            self._remove_quietly(temp)
            if isinstance(exc, OSError):
                raise StoreError(f"could not write {key} to {self.url}: {exc}") from exc
            raise
        return StoredFile(key=key, sha256=writer.hexdigest(), size=writer.size)

    def _remove_quietly(self, path: str) -> None:
        # Best effort: a leftover is reported by verify and removed by gc.
        with contextlib.suppress(Exception):
            if self.fs.exists(path):
                self.fs.rm(path)

    def open(self, key: str) -> IO[bytes]:
        path = self.path_for(key)
        try:
            return cast("IO[bytes]", self.fs.open(path, "rb"))
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise StoreError(f"could not read {key} from {self.url}: {exc}") from exc

    def delete(self, key: str) -> bool:
        path = self.path_for(key)
        if self._info(key) is None:  # deleting a missing S3 object is not an error there
            return False
        try:
            self.fs.rm(path)
        except FileNotFoundError:
            return False
        return True

    def _info(self, key: str) -> dict[str, Any] | None:
        path = self.path_for(key)
        self.fs.invalidate_cache(path)
        try:
            info = self.fs.info(path)
        except FileNotFoundError:
            return None
        return info if info.get("type") == "file" else None

    def exists(self, key: str) -> bool:
        return self._info(key) is not None

    def size(self, key: str) -> int | None:
        info = self._info(key)
        return None if info is None else int(info["size"])

    def modified_at(self, key: str) -> float | None:
        if self._info(key) is None:
            return None
        try:
            return float(self.fs.modified(self.path_for(key)).timestamp())
        except (NotImplementedError, FileNotFoundError, OSError):
            return None

    def _walk(self) -> Iterator[str]:
        self.fs.invalidate_cache()
        try:
            paths = self.fs.find(self.root)
        except FileNotFoundError:
            return
        for path in paths:
            yield self._key_of(path)

    def iter_keys(self) -> Iterator[str]:
        for key in self._walk():
            if TEMP_MARKER not in key.rpartition("/")[2]:
                yield key

    def iter_temporary(self) -> Iterator[str]:
        for key in self._walk():
            if TEMP_MARKER in key.rpartition("/")[2]:
                yield key

    def delete_temporary(self, name: str) -> bool:
        if TEMP_MARKER not in name.rpartition("/")[2]:
            raise InvalidInputError(f"{name!r} is not a temporary file")
        return self.delete(name)

    def local_path(self, key: str) -> Path | None:
        return None

    def __repr__(self) -> str:
        return f"<FsspecArtifactStore {self.url}>"


def _create(root: str, **storage_options: Any) -> ArtifactStore:
    return FsspecArtifactStore(root, **storage_options)


@hookimpl
def modelshelf_artifact_stores() -> list[Provider[ArtifactStore]]:
    return [
        Provider(
            name="fsspec",
            factory=_create,
            description="any fsspec URL (s3://, gs://, az://, memory://); temp key then move",
            capabilities={"atomic", "remote"},
        )
    ]
