"""What a bundle is on disk: its file names, checksums, archives and result types.

Export and import both read and write these files, so their names, the
``checksums`` format, the safe packing and unpacking of ``.tar.gz`` archives
and the values an import returns live in one place.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal

from attrs import frozen

from modelshelf.errors import (
    IntegrityError,
    InvalidInputError,
    UnsafePathError,
)
from modelshelf.metadata import ModelMetadata

if TYPE_CHECKING:
    from modelshelf.registry import ModelRegistry


BUNDLE_FORMAT = "modelshelf-bundle"
REGISTRY_FORMAT = "modelshelf-registry-bundle"
FORMAT_VERSION = 1
CHECKSUMS = "checksums"
SIGNATURE = "signature"
MANIFEST = "manifest.json"
REGISTRY_MANIFEST = "registry.json"
METADATA = "metadata.json"
CARD = "README.md"

OnConflict = Literal["refuse", "renumber"]
#: Called as ``progress(done, total, label)`` while a registry moves: versions
#: written (or read), then, for an archive, files compressed.
Progress = Callable[[int, int, str], None]

_CHUNK = 1024 * 1024
_CHECKSUM_LINE = re.compile(r"([0-9a-f]{64})  (\S(?:.*\S)?)")


class ImportConflictError(InvalidInputError):
    """The version being imported already exists and the caller chose to refuse."""

    __module__ = "modelshelf.bundle"


@frozen(kw_only=True)
class VerifiedBundle:
    """A version bundle whose every byte has been checked."""

    path: Path
    metadata: ModelMetadata
    #: ``""`` is the model file; other keys are auxiliary artifact names.
    files: dict[str, Path]
    signed: bool
    signature_checked: bool


@frozen(kw_only=True)
class ExportedRegistry:
    """Where a registry bundle was written and which versions it holds, oldest first."""

    path: Path
    references: tuple[str, ...]


@frozen(kw_only=True)
class ImportedVersion:
    """What one imported version became in the target registry."""

    source_reference: str
    source_model_id: int
    metadata: ModelMetadata
    renumbered: bool
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "source_reference": self.source_reference,
            "source_model_id": self.source_model_id,
            "model_id": self.metadata.model_id,
            "reference": self.metadata.reference,
            "stage": self.metadata.stage.value,
            "renumbered": self.renumbered,
            "notes": list(self.notes),
        }


# -- helpers ---------------------------------------------------------------------------


def _sha256_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _safe_relative(text: str, where: str) -> PurePosixPath:
    """A bundle-relative path, refused if it could point outside the bundle."""
    path = PurePosixPath(text)
    if (
        not text
        or text.startswith("/")
        or "\\" in text
        or "\x00" in text
        or path.is_absolute()
        or any(part in ("", ".", "..") for part in text.split("/"))
    ):
        raise UnsafePathError(where, f"unsafe path {text!r} (absolute, '..' or empty part)")
    return path


def _contained(root: Path, rel: str) -> Path:
    """``root/rel`` for a file or directory about to be written there.

    Every write into a bundle or an extraction directory goes through here,
    so no name taken from metadata or an archive can put bytes outside
    ``root``: the path must be relative without ``..``, no existing part of
    it may be a symlink, and it must still resolve inside ``root``.
    """
    relative = _safe_relative(rel, str(root))
    target = root.joinpath(*relative.parts)
    probe = root
    for part in relative.parts:
        probe = probe / part
        if probe.is_symlink():
            raise UnsafePathError(str(probe), "is a symlink; refusing to write through it")
    if not target.resolve().is_relative_to(root.resolve()):
        raise UnsafePathError(str(target), f"resolves outside {root}; refusing to write it")
    return target


def _is_archive(path: Path) -> bool:
    return path.name.endswith((".tar.gz", ".tgz"))


def _files_under(root: Path) -> list[str]:
    """Every regular file below ``root`` as a relative POSIX path; links are refused."""
    found: list[str] = []
    for directory, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            full = Path(directory) / name
            mode = full.lstat().st_mode
            if stat.S_ISLNK(mode):
                raise IntegrityError(str(full), "bundles may not contain links")
            if name in filenames and not stat.S_ISREG(mode):
                raise IntegrityError(str(full), "bundles may hold regular files only")
        for name in filenames:
            found.append((Path(directory) / name).relative_to(root).as_posix())
    return sorted(found)


def _write_checksums(
    root: Path, registry: ModelRegistry, *, exclude_dirs: tuple[str, ...] = ()
) -> None:
    lines = []
    for rel in _files_under(root):
        if rel in (CHECKSUMS, SIGNATURE) or rel.split("/", 1)[0] in exclude_dirs:
            continue
        sha, _ = _sha256_file(root / rel)
        lines.append(f"{sha}  {rel}\n")
    data = "".join(lines).encode()
    (root / CHECKSUMS).write_bytes(data)
    signature = registry.sign_bytes(data)
    if signature is not None:
        (root / SIGNATURE).write_text(signature + "\n")


def _check_checksums(
    root: Path, registry: ModelRegistry, *, exclude_dirs: tuple[str, ...] = ()
) -> tuple[bool, bool, dict[str, str]]:
    """Check ``root`` against its checksums (and signature).

    Returns (signed, checked, sha256 of each listed file) so callers compare
    against the verified digests instead of hashing the files again.
    """
    label = str(root)
    try:
        data = (root / CHECKSUMS).read_bytes()
    except FileNotFoundError:
        raise IntegrityError(label, f"no {CHECKSUMS} file; not a complete bundle") from None
    signature_path = root / SIGNATURE
    signed = signature_path.is_file()
    expected_signature = registry.sign_bytes(data)
    if expected_signature is not None:
        if not signed:
            raise IntegrityError(label, "bundle is not signed and this registry requires signing")
        given = signature_path.read_text().strip()
        if not hmac.compare_digest(given, expected_signature):
            raise IntegrityError(label, "signature does not match (wrong key or tampering)")
    listed: dict[str, str] = {}
    for number, line in enumerate(data.decode(errors="replace").splitlines(), start=1):
        match = _CHECKSUM_LINE.fullmatch(line)
        if match is None:
            raise IntegrityError(label, f"{CHECKSUMS} line {number} is malformed: {line!r}")
        rel = _safe_relative(match.group(2), f"{label}/{CHECKSUMS}").as_posix()
        if rel in listed:
            raise IntegrityError(label, f"{CHECKSUMS} lists {rel!r} twice")
        listed[rel] = match.group(1)
    present = {
        rel
        for rel in _files_under(root)
        if rel not in (CHECKSUMS, SIGNATURE) and rel.split("/", 1)[0] not in exclude_dirs
    }
    if missing := sorted(set(listed) - present):
        raise IntegrityError(label, f"files listed in {CHECKSUMS} are missing: {missing}")
    if extra := sorted(present - set(listed)):
        raise IntegrityError(label, f"files not covered by {CHECKSUMS}: {extra}")
    for rel, sha in listed.items():
        actual, _ = _sha256_file(root / rel)
        if actual != sha:
            raise IntegrityError(
                f"{label}/{rel}",
                f"checksum mismatch: expected {sha}, found {actual}",
                expected=sha,
                actual=actual,
            )
    return signed, expected_signature is not None, listed


def _read_manifest(root: Path, name: str, expected_format: str) -> dict[str, Any]:
    try:
        data = json.loads((root / name).read_text())
    except FileNotFoundError:
        raise InvalidInputError(f"{root} is not a modelshelf bundle (no {name})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{root / name} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != expected_format:
        raise InvalidInputError(f"{root / name}: format must be {expected_format!r}")
    version = data.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise InvalidInputError(
            f"{root / name}: format_version {version!r} is newer than this modelshelf "
            f"understands ({FORMAT_VERSION}); upgrade modelshelf"
        )
    return data


# -- archives --------------------------------------------------------------------------


def _pack(source: Path, destination: Path, progress: Progress | None = None) -> None:
    """Write ``source`` (a directory) as ``destination`` (.tar.gz), atomically.

    Entries are added one by one, in a stable order, so ``progress`` can
    follow the compression (the longest part of exporting a large registry)
    as ``progress(files done, files in all, path)``.
    """
    top = destination.name.removesuffix(".tar.gz").removesuffix(".tgz")
    entries: list[Path] = []
    for folder, dirs, files in os.walk(source):
        dirs.sort()
        here = Path(folder)
        entries.append(here)
        entries += [here / name for name in sorted(files)]
    total = sum(1 for entry in entries if entry.is_file())
    done = 0
    temp = destination.with_name(f".{destination.name}.tmp-{os.getpid()}")
    try:
        with tarfile.open(temp, "w:gz") as archive:
            for entry in entries:
                relative = entry.relative_to(source)
                archive.add(entry, arcname=str(Path(top, relative)), recursive=False)
                if entry.is_file():
                    if progress:
                        progress(done, total, f"compressing {relative}")
                    done += 1
            if progress:
                progress(total, total, "")
        os.replace(temp, destination)
    finally:
        temp.unlink(missing_ok=True)


def _check_members(archive: tarfile.TarFile, label: str) -> str:
    """Refuse unsafe members before extracting anything; return the one top directory."""
    tops: set[str] = set()
    for member in archive.getmembers():
        path = _safe_relative(member.name.rstrip("/"), label)
        if not (member.isfile() or member.isdir()):
            raise IntegrityError(
                label, f"member {member.name!r} is a link or device; bundles hold files only"
            )
        tops.add(path.parts[0])
    if len(tops) != 1:
        raise IntegrityError(label, f"expected one top-level directory, found {sorted(tops)}")
    return tops.pop()


@contextmanager
def _opened(path: Path) -> Iterator[Path]:
    """The bundle directory at ``path``, extracting a checked archive to a temporary one."""
    path = Path(path)
    if path.is_dir():
        yield path
        return
    if not path.is_file():
        raise InvalidInputError(f"no bundle at {path}")
    if not _is_archive(path):
        raise InvalidInputError(f"{path}: a bundle is a directory or a .tar.gz archive")
    with tempfile.TemporaryDirectory(prefix="modelshelf-bundle-") as temp:
        root = Path(temp)
        try:
            with tarfile.open(path, "r:gz") as archive:
                top = _check_members(archive, str(path))
                for member in archive.getmembers():
                    target = _contained(root, member.name.rstrip("/"))
                    if member.isdir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    target.parent.mkdir(parents=True, exist_ok=True)
                    source = archive.extractfile(member)
                    assert source is not None
                    with source, open(target, "xb") as out:
                        shutil.copyfileobj(source, out, _CHUNK)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise IntegrityError(str(path), f"not a readable .tar.gz archive: {exc}") from exc
        yield root / top
