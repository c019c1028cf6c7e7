"""Artifact storage on the local filesystem, crash-safe by construction.

A file is written to a temporary name in its final directory while its
SHA-256 is computed, flushed and fsynced, renamed into place, and the
directory fsynced. A crash at any point leaves either the complete file
under its final name or only a temporary leftover that ``gc`` removes.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import uuid
from pathlib import Path
from typing import IO, TYPE_CHECKING

from modelshelf import hookimpl
from modelshelf.errors import InvalidInputError, StoreError, UnsafePathError
from modelshelf.protocols import ArtifactStore, Provider, StoredFile

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

#: Temporary files carry this marker; a complete file never does.
TEMP_MARKER = ".tmp-"
#: Large writes are passed on and hashed in slices this big, each hashed
#: right after it is written, while it is still in the CPU cache: a 1 GiB
#: model saves markedly faster than writing each 16 MiB chunk joblib hands
#: over and then reading it back from memory to hash it (or hashing it on a
#: second thread, which two busy cores do not reward).
HASH_SLICE_BYTES = 1024 * 1024


def check_key(key: str) -> str:
    """Refuse keys that could address anything outside a store's root.

    Shared by every artifact store that maps keys onto paths, so all of
    them accept and refuse the same keys.
    """
    parts = key.split("/")
    if (
        not key
        or key.startswith("/")
        or "\\" in key
        or "\x00" in key
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise UnsafePathError(key, "artifact key is not a safe relative path")
    return key


class HashingWriter(io.RawIOBase):
    """A write-only stream that hashes and counts every byte it passes on."""

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__()
        self._raw = raw
        self._hash = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(data).cast("B")
        for start in range(0, len(view), HASH_SLICE_BYTES):
            piece = view[start : start + HASH_SLICE_BYTES]
            self._raw.write(piece)
            self._hash.update(piece)
        self.size += len(view)
        return len(view)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self._raw.flush()

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def fsync_directory(path: Path) -> None:
    """Make a rename or a new entry in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalArtifactStore:
    """Files under ``root/models``; keys are relative POSIX paths."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().absolute() / "models"
        self.root.mkdir(parents=True, exist_ok=True)
        self._resolved_root = self.root.resolve()
        self._root_text = str(self.root)
        self._root_identity = self._identity(self._root_text)

    @staticmethod
    def _identity(path: str) -> tuple[int, int] | None:
        try:
            found = os.stat(path)
        except OSError:
            return None
        return (found.st_dev, found.st_ino)

    def _plainly_inside(self, parts: list[str]) -> bool:
        """Whether ``root/parts`` cannot leave the root, in a few system calls.

        True when the root is still the directory resolved at start and no
        existing component below it is a symlink; then, with ``..`` already
        refused, the path stays inside. Resolving the whole absolute path
        instead costs one ``lstat`` per component and was a tenth of a small
        model's load time.
        """
        if self._identity(self._root_text) != self._root_identity:
            return False
        prefix = self._root_text
        for part in parts:
            prefix = f"{prefix}/{part}"
            try:
                mode = os.lstat(prefix).st_mode
            except FileNotFoundError:
                return True  # nothing deeper exists either
            except OSError:
                return False
            if stat.S_ISLNK(mode):
                return False
        return True

    def path_for(self, key: str) -> Path:
        """The path of ``key``, refused unless it stays inside the root."""
        return Path(self._checked_path(key))

    def _checked_path(self, key: str) -> str:
        """:meth:`path_for` as text: a load opens it without building a Path."""
        parts = check_key(key).split("/")
        text = "/".join((self._root_text, *parts))
        if self._plainly_inside(parts):
            return text
        path = self.root.joinpath(*parts)
        resolved = path.resolve()
        if not resolved.is_relative_to(self._resolved_root):
            raise UnsafePathError(
                key, f"artifact key resolves to {resolved}, outside the storage directory"
            )
        return str(path)

    def _ensure_directory(self, directory: Path) -> None:
        if directory.is_dir():
            return
        directory.mkdir(parents=True, exist_ok=True)
        fsync_directory(directory.parent)
        if not directory.resolve().is_relative_to(self._resolved_root):
            raise UnsafePathError(str(directory), "resolves outside the storage directory")

    def put(self, key: str, write: Callable[[IO[bytes]], None]) -> StoredFile:
        path = self.path_for(key)
        try:
            self._ensure_directory(path.parent)
        except OSError as exc:
            raise StoreError(f"could not write {key}: {exc}") from exc
        temp = path.with_name(f".{path.name}{TEMP_MARKER}{uuid.uuid4().hex}")
        try:
            with open(temp, "xb") as raw:
                writer = HashingWriter(raw)
                write(writer)  # type: ignore[arg-type]
                raw.flush()
                os.fsync(raw.fileno())
            os.replace(temp, path)
        except BaseException as exc:
            temp.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise StoreError(f"could not write {key}: {exc}") from exc
            raise
        fsync_directory(path.parent)
        return StoredFile(key=key, sha256=writer.hexdigest(), size=writer.size)

    def open(self, key: str) -> IO[bytes]:
        return open(self._checked_path(key), "rb")

    def delete(self, key: str) -> bool:
        path = self.path_for(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        fsync_directory(path.parent)
        return True

    def exists(self, key: str) -> bool:
        return self.path_for(key).is_file()

    def size(self, key: str) -> int | None:
        try:
            return self.path_for(key).stat().st_size
        except FileNotFoundError:
            return None

    def modified_at(self, key: str) -> float | None:
        try:
            return self.path_for(key).stat().st_mtime
        except FileNotFoundError:
            return None

    def _walk(self) -> Iterator[Path]:
        for directory, _, files in os.walk(self.root):
            for name in files:
                yield Path(directory, name)

    def iter_keys(self) -> Iterator[str]:
        for path in self._walk():
            if TEMP_MARKER not in path.name:
                yield path.relative_to(self.root).as_posix()

    def iter_temporary(self) -> Iterator[str]:
        for path in self._walk():
            if TEMP_MARKER in path.name:
                yield path.relative_to(self.root).as_posix()

    def delete_temporary(self, name: str) -> bool:
        if TEMP_MARKER not in name:
            raise InvalidInputError(f"{name!r} is not a temporary file")
        return self.delete(name)

    def local_path(self, key: str) -> Path | None:
        return self.path_for(key)


def _create(root: str) -> ArtifactStore:
    return LocalArtifactStore(root)


@hookimpl
def modelshelf_artifact_stores() -> list[Provider[ArtifactStore]]:
    return [
        Provider(
            name="local",
            factory=_create,
            description="files on the local filesystem, atomic rename and fsync",
            capabilities={"atomic", "local-path"},
        )
    ]
