"""Export a version (or a whole registry) to a self-checking bundle, and import it back.

A version bundle is a directory, or a ``.tar.gz`` holding one directory::

    iris-clf-1.0.2/
        manifest.json     what the bundle is and which file is which
        metadata.json     the version's metadata, as the converter writes it
        model/model.joblib              the model file, byte for byte as stored
        artifacts/scaler.joblib         each auxiliary artifact, likewise
        README.md         a model card: metrics, hyperparameters, training, lineage
        checksums         sha256 of every other file (``sha256sum -c`` reads it)
        signature         HMAC-SHA256 of ``checksums``, when signing is on

A registry bundle holds ``registry.json`` (the list of versions, oldest
first), its own ``checksums`` and ``signature``, and one version bundle per
version under ``versions/``.

Import trusts nothing until it has checked everything: archive members
(no absolute paths, no ``..``, no links or devices), that ``checksums`` lists
exactly the files present and each hashes as listed, the signature when the
importing registry has a signing key, that the metadata is valid, and that the
model files hash to what the metadata recorded. Only then does it record
anything, through :meth:`ModelRegistry.import_version`, which writes each
file durably before its record. Bundles never get deserialized on import:
loading a pickle runs code, and that stays the user's explicit choice.
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

from modelshelf import converter
from modelshelf.errors import (
    DuplicateVersionError,
    IntegrityError,
    InvalidInputError,
    ModelNotFoundError,
    UnsafePathError,
)
from modelshelf.metadata import ModelMetadata, Stage, check_key_suffix, check_name
from modelshelf.query import Query

if TYPE_CHECKING:
    from modelshelf.registry import ModelRegistry

__all__ = [
    "BUNDLE_FORMAT",
    "REGISTRY_FORMAT",
    "ExportedRegistry",
    "ImportConflictError",
    "ImportedVersion",
    "VerifiedBundle",
    "export_registry",
    "export_version",
    "import_bundle",
    "import_path",
    "import_registry",
    "is_registry_bundle",
    "model_card",
    "read_bundle",
    "read_registry_bundle",
    "verify_path",
]

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


# -- model card ------------------------------------------------------------------------


def _md(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def model_card(metadata: ModelMetadata, files: dict[str, str], *, source: str = "") -> str:
    """A README.md that tells a reader what this version is and how to load it."""
    m = metadata
    lines = [f"# {m.model_name} {m.version}", ""]
    if m.description:
        lines += [m.description, ""]
    lines += [
        "| | |",
        "|---|---|",
        f"| Type | {_md(m.model_type or '-')} |",
        f"| Stage | {m.stage.value} |",
        f"| Aliases | {_md(', '.join(m.aliases) or '-')} |",
        f"| Created | {m.created_at.isoformat()} |",
        f"| Serializer | {m.artifact.serializer} |",
        f"| Size | {m.artifact.size} bytes |",
        f"| SHA-256 | `{m.artifact.sha256}` |",
        "",
        "## Metrics",
        "",
    ]
    if m.metrics:
        lines += ["| Metric | Value |", "|---|---|"]
        lines += [f"| {_md(k)} | {v:.6g} |" for k, v in sorted(m.metrics.items())]
    else:
        lines.append("No metrics were recorded.")
    lines += ["", "## Hyperparameters", ""]
    if m.hyperparameters:
        lines += ["| Name | Value |", "|---|---|"]
        lines += [
            f"| {_md(k)} | `{_md(json.dumps(v, sort_keys=True))}` |"
            for k, v in sorted(m.hyperparameters.items())
        ]
    else:
        lines.append("No hyperparameters were recorded.")
    info = m.training_info
    lines += ["", "## Training", ""]
    facts = [
        ("Dataset", info.dataset or None),
        ("Samples", info.n_samples),
        (
            "Class distribution",
            ", ".join(f"{k}: {v}" for k, v in sorted(info.class_distribution.items())) or None,
        ),
        ("Data quality score", info.data_quality_score),
        ("Ensemble", "yes" if info.is_ensemble else None),
        ("Features", ", ".join(m.feature_names) or None),
    ]
    facts += [(k, json.dumps(v, sort_keys=True)) for k, v in sorted(info.extra.items())]
    shown = [(k, v) for k, v in facts if v is not None]
    if shown:
        lines += ["| | |", "|---|---|", *(f"| {_md(k)} | {_md(v)} |" for k, v in shown)]
    else:
        lines.append("No training information was recorded.")
    lines += ["", "## Lineage", ""]
    lines.append(f"- Exported from model id {m.model_id}" + (f" of `{source}`" if source else ""))
    lines.append(
        f"- Parent version: model id {m.parent_id}" if m.parent_id else "- No parent version"
    )
    if m.checkpoint:
        lines.append("- This version is a training checkpoint")
    if m.tags:
        lines.append("- Tags: " + ", ".join(f"`{k}={v}`" for k, v in sorted(m.tags.items())))
    if m.artifacts:
        lines += ["", "## Auxiliary artifacts", "", "| Name | File | SHA-256 |", "|---|---|---|"]
        lines += [
            f"| {_md(name)} | `{files[name]}` | `{ref.sha256}` |"
            for name, ref in sorted(m.artifacts.items())
        ]
    lines += [
        "",
        "## Loading it",
        "",
        "Check the files, then import the bundle into a registry and load it by reference:",
        "",
        "```bash",
        "sha256sum -c checksums",
        "modelshelf import . --registry data/models/registry",
        "```",
        "",
        "```python",
        "from modelshelf import ModelRegistry",
        "",
        'registry = ModelRegistry("data/models/registry")',
        f'model = registry.load("{m.reference}").model',
        "```",
        "",
        f"Or load the file directly with {m.artifact.serializer} (only from a source you trust:",
        "unpickling runs code):",
        "",
        "```python",
        f"import {m.artifact.serializer}",
        "",
        f'with open("{files[""]}", "rb") as f:',
        f"    model = {m.artifact.serializer}.load(f)",
        "```",
        "",
    ]
    return "\n".join(lines)


# -- export ----------------------------------------------------------------------------


def _copy_verified(registry: ModelRegistry, key: str, sha256: str, size: int, target: Path) -> None:
    digest = hashlib.sha256()
    written = 0
    with registry.storage.open(key) as source, open(target, "xb") as out:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            written += len(chunk)
            out.write(chunk)
    if digest.hexdigest() != sha256 or written != size:
        raise IntegrityError(
            key,
            f"stored file fails its checksum (expected {sha256}, {size} bytes; "
            f"found {digest.hexdigest()}, {written} bytes); refusing to export it",
            expected=sha256,
            actual=digest.hexdigest(),
        )


def _bundle_name(metadata: ModelMetadata) -> str:
    return f"{metadata.model_name}-{metadata.version}"


def _file_name(stem: str, key: str) -> str:
    """``stem`` plus the stored key's extension: the name a file gets in a bundle.

    Checked again here, not only when the record was made, so a record that
    got into a store before names were validated is refused, not exported.
    """
    return check_name("artifacts", stem) + check_key_suffix("key", PurePosixPath(key).suffix)


def _write_version(registry: ModelRegistry, metadata: ModelMetadata, root: Path) -> None:
    files = {"": f"model/{_file_name('model', metadata.artifact.key)}"}
    for name, ref in metadata.artifacts.items():
        files[name] = f"artifacts/{_file_name(name, ref.key)}"
    root.mkdir(parents=True)
    (root / "model").mkdir()
    if metadata.artifacts:
        (root / "artifacts").mkdir()
    for name, rel in files.items():
        ref = metadata.artifact if name == "" else metadata.artifacts[name]
        _copy_verified(registry, ref.key, ref.sha256, ref.size, _contained(root, rel))
    (root / METADATA).write_text(converter.dumps(metadata) + "\n")
    _write_json(
        root / MANIFEST,
        {
            "format": BUNDLE_FORMAT,
            "format_version": FORMAT_VERSION,
            "reference": metadata.reference,
            "model_id": metadata.model_id,
            "model": files[""],
            "artifacts": {k: v for k, v in files.items() if k},
            "exported_at": _now(),
        },
    )
    (root / CARD).write_text(model_card(metadata, files, source=str(registry.storage_path)))
    _write_checksums(root, registry)


def _prepare(destination: Path) -> tuple[Path, bool]:
    destination = Path(destination)
    if destination.exists():
        raise InvalidInputError(f"{destination} already exists; choose a new path")
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise InvalidInputError(f"{destination.parent} is not a directory") from None
    return destination, _is_archive(destination)


def export_version(registry: ModelRegistry, reference: int | str, destination: Path) -> Path:
    """Write one version as a bundle: a directory, or an archive if the path ends .tar.gz."""
    metadata = registry.get_metadata(reference)
    destination, archive = _prepare(destination)
    if not archive:
        _build_atomically(destination, lambda root: _write_version(registry, metadata, root))
        return destination
    with tempfile.TemporaryDirectory(dir=destination.parent, prefix=".modelshelf-") as temp:
        root = Path(temp) / _bundle_name(metadata)
        _write_version(registry, metadata, root)
        _pack(root, destination)
    return destination


def _build_atomically(destination: Path, build: Callable[[Path], None]) -> None:
    """Build a directory under a temporary name and rename it into place when complete."""
    temp = destination.with_name(f".{destination.name}.tmp-{os.getpid()}")
    try:
        build(temp)
        os.replace(temp, destination)
    finally:
        if temp.exists():
            shutil.rmtree(temp)


def _all_versions(registry: ModelRegistry, model_name: str | None) -> list[ModelMetadata]:
    found = [
        m
        for checkpoints in (False, True)
        for m in registry.store.find(Query(model_name=model_name, checkpoints=checkpoints))
    ]
    return sorted(found, key=lambda m: m.model_id)


def export_registry(
    registry: ModelRegistry,
    destination: Path,
    *,
    model_name: str | None = None,
    progress: Progress | None = None,
) -> ExportedRegistry:
    """Write every version (or every version of ``model_name``) as one registry bundle."""
    versions = _all_versions(registry, model_name)
    if model_name is not None and not versions:
        raise ModelNotFoundError(f"no model named {model_name!r}")
    destination, archive = _prepare(destination)

    def build(root: Path) -> None:
        root.mkdir(parents=True)
        names = []
        for done, metadata in enumerate(versions):
            if progress:
                progress(done, len(versions), metadata.reference)
            name = f"versions/{metadata.model_id:06d}-{_bundle_name(metadata)}"
            _write_version(registry, metadata, _contained(root, name))
            names.append(name)
        if progress:
            progress(len(versions), len(versions), "")
        _write_json(
            root / REGISTRY_MANIFEST,
            {
                "format": REGISTRY_FORMAT,
                "format_version": FORMAT_VERSION,
                "versions": names,
                "exported_at": _now(),
                "source": str(registry.storage_path),
            },
        )
        _write_checksums(root, registry, exclude_dirs=("versions",))

    references = tuple(m.reference for m in versions)
    if not archive:
        _build_atomically(destination, build)
        return ExportedRegistry(path=destination, references=references)
    with tempfile.TemporaryDirectory(dir=destination.parent, prefix=".modelshelf-") as temp:
        root = Path(temp) / destination.name.removesuffix(".tar.gz").removesuffix(".tgz")
        build(root)
        _pack(root, destination, progress)
    return ExportedRegistry(path=destination, references=references)


# -- verification ----------------------------------------------------------------------


def read_bundle(registry: ModelRegistry, root: Path) -> VerifiedBundle:
    """Check an extracted version bundle completely; raise on the first problem."""
    signed, checked, listed = _check_checksums(root, registry)
    manifest = _read_manifest(root, MANIFEST, BUNDLE_FORMAT)
    try:
        metadata = converter.loads((root / METADATA).read_bytes())
    except InvalidInputError as exc:
        # Its checksums passed, so these bytes were written this way on purpose.
        raise IntegrityError(
            str(root / METADATA), f"not valid metadata, refusing the bundle: {exc}"
        ) from exc
    model = manifest.get("model")
    artifacts = manifest.get("artifacts")
    if not isinstance(model, str) or not isinstance(artifacts, dict):
        raise InvalidInputError(f"{root / MANIFEST}: 'model' and 'artifacts' are required")
    paths = {"": model, **artifacts}
    if set(paths) != {"", *metadata.artifacts}:
        raise IntegrityError(
            str(root),
            f"manifest artifacts {sorted(artifacts)} differ from the metadata's "
            f"{sorted(metadata.artifacts)}",
        )
    files: dict[str, Path] = {}
    for name, rel in paths.items():
        if not isinstance(rel, str):
            raise InvalidInputError(f"{root / MANIFEST}: file of {name or 'model'!r} is not a path")
        relative = _safe_relative(rel, str(root / MANIFEST)).as_posix()
        path = root / relative
        if relative not in listed:
            raise IntegrityError(str(path), f"not a file covered by {CHECKSUMS}")
        ref = metadata.artifact if name == "" else metadata.artifacts[name]
        sha, size = listed[relative], path.stat().st_size  # hashed by _check_checksums
        if sha != ref.sha256 or size != ref.size:
            raise IntegrityError(
                str(path),
                f"does not match the metadata (expected {ref.sha256}, {ref.size} bytes; "
                f"found {sha}, {size} bytes)",
                expected=ref.sha256,
                actual=sha,
            )
        files[name] = path
    return VerifiedBundle(
        path=root, metadata=metadata, files=files, signed=signed, signature_checked=checked
    )


def read_registry_bundle(registry: ModelRegistry, root: Path) -> list[VerifiedBundle]:
    """Check a registry bundle and every version in it."""
    _check_checksums(root, registry, exclude_dirs=("versions",))
    manifest = _read_manifest(root, REGISTRY_MANIFEST, REGISTRY_FORMAT)
    names = manifest.get("versions")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise InvalidInputError(f"{root / REGISTRY_MANIFEST}: 'versions' must be a list of paths")
    listed = {_safe_relative(n, str(root / REGISTRY_MANIFEST)).as_posix() for n in names}
    versions_dir = root / "versions"
    present = (
        {f"versions/{p.name}" for p in versions_dir.iterdir()} if versions_dir.is_dir() else set()
    )
    if listed != present:
        raise IntegrityError(
            str(root),
            f"{REGISTRY_MANIFEST} lists {sorted(listed - present)} that are missing and "
            f"omits {sorted(present - listed)} that are present",
        )
    bundles = [read_bundle(registry, root / name) for name in names]
    seen: set[str] = set()
    for bundle in bundles:
        if bundle.metadata.reference in seen:
            raise IntegrityError(str(root), f"{bundle.metadata.reference} appears twice")
        seen.add(bundle.metadata.reference)
    return bundles


def is_registry_bundle(root: Path) -> bool:
    return (root / REGISTRY_MANIFEST).is_file()


def verify_path(registry: ModelRegistry, path: Path) -> list[VerifiedBundle]:
    """Check a bundle or registry bundle (directory or archive) without importing it."""
    with _opened(path) as root:
        if is_registry_bundle(root):
            return read_registry_bundle(registry, root)
        return [read_bundle(registry, root)]


# -- import ----------------------------------------------------------------------------


def _plan_version(
    registry: ModelRegistry, metadata: ModelMetadata, on_conflict: OnConflict
) -> str | None:
    """The version to record, or None to let the scheme number it."""
    if on_conflict not in ("refuse", "renumber"):
        raise InvalidInputError(f"on_conflict must be 'refuse' or 'renumber', got {on_conflict!r}")
    try:
        registry.versioning.validate(metadata.version)
    except InvalidInputError as exc:
        if on_conflict == "refuse":
            raise ImportConflictError(
                f"{metadata.reference}: {exc}; import with renumbering "
                "(on_conflict='renumber', --on-conflict renumber) to give it the next version"
            ) from exc
        return None
    if not registry.store.count(Query(model_name=metadata.model_name, version=metadata.version)):
        return metadata.version
    if on_conflict == "refuse":
        raise ImportConflictError(
            f"{metadata.reference} already exists in {registry.storage_path}; nothing was "
            "imported (import with renumbering, on_conflict='renumber' or "
            "--on-conflict renumber, to give it the next version)"
        )
    return None


def _record(
    registry: ModelRegistry,
    bundle: VerifiedBundle,
    *,
    version: str | None,
    keep_stage: bool,
    parent_id: int | None,
    renumber: bool = False,
) -> ImportedVersion:
    source = bundle.metadata
    notes: list[str] = []
    stage = source.stage if keep_stage else Stage.NONE
    if stage is Stage.PRODUCTION and registry.get_production_model(source.model_name):
        notes.append(
            f"{source.model_name} already has a Production version here; imported with no stage"
        )
        stage = Stage.NONE
    try:
        recorded = registry.import_version(
            source, bundle.files, version=version, stage=stage, parent_id=parent_id
        )
    except DuplicateVersionError:
        if not renumber or version is None:
            raise
        # Taken (or retired by a delete) since it was planned: renumbering
        # means the scheme numbers it, inside the store's own transaction.
        recorded = registry.import_version(
            source, bundle.files, version=None, stage=stage, parent_id=parent_id
        )
    for alias in source.aliases:
        if registry.list_models(model_name=source.model_name, alias=alias):
            notes.append(f"alias {alias!r} already points at a version here; left as it was")
            continue
        recorded = registry.set_alias(recorded.model_id, alias, reason="import")
    return ImportedVersion(
        source_reference=source.reference,
        source_model_id=source.model_id,
        metadata=recorded,
        renumbered=recorded.version != source.version,
        notes=tuple(notes),
    )


def import_bundle(
    registry: ModelRegistry,
    path: Path,
    *,
    on_conflict: OnConflict = "refuse",
    keep_stage: bool = True,
) -> ImportedVersion:
    """Verify one version bundle completely, then record it in ``registry``."""
    with _opened(path) as root:
        if is_registry_bundle(root):
            raise InvalidInputError(f"{path} is a registry bundle; use import_registry")
        bundle = read_bundle(registry, root)
        version = _plan_version(registry, bundle.metadata, on_conflict)
        return _record(
            registry,
            bundle,
            version=version,
            keep_stage=keep_stage,
            parent_id=None,
            renumber=on_conflict == "renumber",
        )


def import_registry(
    registry: ModelRegistry,
    path: Path,
    *,
    on_conflict: OnConflict = "refuse",
    keep_stage: bool = True,
    progress: Progress | None = None,
) -> list[ImportedVersion]:
    """Verify a whole registry bundle, then record its versions oldest first.

    With ``on_conflict="refuse"`` any clash stops the import before anything
    is recorded. Lineage (``parent_id``) is carried over when the parent is
    part of the same bundle.
    """
    with _opened(path) as root:
        if not is_registry_bundle(root):
            raise InvalidInputError(f"{path} is a single-version bundle; use import_bundle")
        bundles = read_registry_bundle(registry, root)
        plans = [_plan_version(registry, b.metadata, on_conflict) for b in bundles]
        imported: list[ImportedVersion] = []
        new_ids: dict[int, int] = {}
        for done, (bundle, version) in enumerate(zip(bundles, plans, strict=True)):
            if progress:
                progress(done, len(bundles), bundle.metadata.reference)
            if version is not None and registry.store.count(
                Query(model_name=bundle.metadata.model_name, version=version)
            ):
                version = None  # taken by an earlier version of this very import
            parent = bundle.metadata.parent_id
            result = _record(
                registry,
                bundle,
                version=version,
                keep_stage=keep_stage,
                parent_id=new_ids.get(parent) if parent is not None else None,
                renumber=on_conflict == "renumber",
            )
            new_ids[bundle.metadata.model_id] = result.metadata.model_id
            imported.append(result)
        if progress:
            progress(len(bundles), len(bundles), "")
        return imported


def import_path(
    registry: ModelRegistry,
    path: Path,
    *,
    on_conflict: OnConflict = "refuse",
    keep_stage: bool = True,
    progress: Progress | None = None,
) -> list[ImportedVersion]:
    """Import whatever bundle ``path`` holds: one version or a whole registry."""
    with _opened(path) as root:
        if is_registry_bundle(root):
            return import_registry(
                registry, root, on_conflict=on_conflict, keep_stage=keep_stage, progress=progress
            )
        return [import_bundle(registry, root, on_conflict=on_conflict, keep_stage=keep_stage)]
