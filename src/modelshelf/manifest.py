"""What a registry remembers about itself, and the sidecars that let it be rebuilt.

``registry.json`` in the storage directory records the plugins a registry was
created with (metadata store, versioning scheme, default serializer,
artifact storage). Every later open, from Python or the CLI, uses them when
nothing is given, and refuses a choice that contradicts them, so the same
directory never shows two different registries and no command starts a
second store beside the first. It is written once, when the registry is
created (or adopted by ``modelshelf init`` / ``modelshelf recover``), never
edited by hand: preferences that may change belong in ``modelshelf.toml``.

Each recorded version also gets a sidecar, ``sidecars/<artifact key>.json``:
its metadata as the store holds it, rewritten when the registry changes the
version. The metadata store stays the source of truth; the sidecars are what
``recover`` rebuilds it from when it is lost, and what proves, when a store
opens empty, that it once held versions.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cattrs
from attrs import asdict, frozen

from modelshelf import converter
from modelshelf.errors import ConfigError, MetadataValidationError
from modelshelf.metadata import ModelMetadata

if TYPE_CHECKING:
    from collections.abc import Iterator

#: The record of a registry's plugins, in its storage directory.
MANIFEST_FILE = "registry.json"
MANIFEST_FORMAT = 1
#: Directory of per-version metadata sidecars, in the storage directory.
SIDECAR_DIR = "sidecars"
SIDECAR_SUFFIX = ".json"
SIDECAR_FORMAT = 1
_TEMP_MARKER = ".tmp-"

#: The recorded choices; the order is the order they are written and checked in.
RECORDED = ("store", "versioning", "serializer", "storage", "store_url")
#: Choices a registry is bound to. The serializer is only the default: each
#: file records its own serializer, so saving one model with another is safe.
BINDING = ("store", "versioning", "storage")


@frozen(kw_only=True)
class Manifest:
    """The plugins a registry was created with (``None``: not recorded)."""

    store: str | None = None
    versioning: str | None = None
    serializer: str | None = None
    storage: str | None = None
    #: Where the store's metadata lives when given at creation (a file path, or a
    #: URL without a password); later opens use it unless given another.
    store_url: str | None = None
    created_at: str = ""
    modelshelf_version: str = ""

    def recorded(self, option: str) -> str | None:
        value: str | None = getattr(self, option)
        return value


def _modelshelf_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("modelshelf")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


def recordable_url(url: str | None) -> str | None:
    """``url`` if it is safe to write down (never one that carries credentials);
    a plain file path is made absolute, so it means the same from any directory."""
    if url is None or "@" in url:
        return None
    return url if ":" in url else os.path.abspath(url)


def new_manifest(**choices: str | None) -> Manifest:
    return Manifest(
        **choices,
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        modelshelf_version=_modelshelf_version(),
    )


def read_manifest(directory: Path) -> Manifest | None:
    """The registry's record, None if it has none (made before records existed)."""
    path = directory / MANIFEST_FILE
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"{path} is unreadable ({exc}); it records which plugins the registry was "
            "created with: restore it from a backup, or delete it and run `modelshelf init "
            f"--registry {directory}` with the registry's store and versioning"
        ) from exc
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise ConfigError(f"{path}: unsupported registry record format {data!r:.80}")
    fields = {key: data.get(key) for key in (*RECORDED, "created_at", "modelshelf_version")}
    if not all(v is None or isinstance(v, str) for v in fields.values()):
        raise ConfigError(f"{path}: every recorded plugin must be a name (a string)")
    return Manifest(**{k: v for k, v in fields.items() if v is not None})


def _atomic_write(path: Path, content: bytes, *, durable: bool = True) -> None:
    """Write ``content`` under ``path`` completely or not at all (for a crashed
    process; for a power cut too when ``durable``)."""
    temp = path.with_name(f".{path.name}{_TEMP_MARKER}{uuid.uuid4().hex}")
    try:
        with open(temp, "xb") as handle:
            handle.write(content)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_manifest(directory: Path, manifest: Manifest) -> None:
    data = {"format": MANIFEST_FORMAT, **{k: v for k, v in asdict(manifest).items() if v}}
    _atomic_write(directory / MANIFEST_FILE, (json.dumps(data, indent=2) + "\n").encode())


def check_choice(
    option: str, given: str | None, source: str, manifest: Manifest | None, where: Path
) -> None:
    """Refuse a given plugin name that contradicts the registry's record."""
    recorded = manifest.recorded(option) if manifest is not None else None
    if given is None or recorded is None or given == recorded or option not in BINDING:
        return
    raise ConfigError(
        f"the registry at {where} was created with {option} {recorded!r} (recorded in "
        f"{where / MANIFEST_FILE}), but {source} asks for {option} {given!r}; "
        f"open it without {option}= to use {recorded!r}, or use another directory"
    )


# -- sidecars -------------------------------------------------------------------------


def sidecar_path(directory: Path, key: str) -> Path:
    """Where the sidecar of the version whose model file is ``key`` lives."""
    return directory / SIDECAR_DIR / f"{key}{SIDECAR_SUFFIX}"


def write_sidecar(directory: Path, metadata: ModelMetadata) -> None:
    """Record ``metadata`` beside the store, replacing an older copy atomically.

    Written to a temporary name and renamed, so a crashed process never
    leaves half a sidecar; not fsynced, which halved a small model's save
    cost of the sidecar. A power cut can then lose the newest sidecars, which
    only matters if the metadata store is lost at the same moment; ``recover``
    reports a sidecar it cannot read.
    """
    path = sidecar_path(directory, metadata.artifact.key)
    payload = {"format": SIDECAR_FORMAT, "metadata": converter.unstructure(metadata)}
    content = json.dumps(payload, allow_nan=False, separators=(",", ":")).encode()
    try:
        _atomic_write(path, content, durable=False)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(path, content, durable=False)


def remove_sidecar(directory: Path, key: str) -> None:
    sidecar_path(directory, key).unlink(missing_ok=True)


def read_sidecar(path: Path) -> ModelMetadata:
    """The metadata a sidecar holds; MetadataValidationError if it is damaged."""
    try:
        payload: Any = json.loads(path.read_bytes())
        if payload.get("format") != SIDECAR_FORMAT:
            raise ValueError(f"unsupported sidecar format {payload.get('format')!r}")
        return converter.structure(payload["metadata"], ModelMetadata)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise MetadataValidationError(f"sidecar {path} is unreadable: {exc}") from exc
    except cattrs.BaseValidationError as exc:
        problems = "; ".join(cattrs.transform_error(exc))
        raise MetadataValidationError(f"sidecar {path} is invalid: {problems}") from exc


def iter_sidecars(directory: Path) -> Iterator[tuple[str, Path]]:
    """(model file key, sidecar path) for every complete sidecar."""
    root = directory / SIDECAR_DIR
    for folder, _, names in os.walk(root):
        for name in names:
            if _TEMP_MARKER in name or not name.endswith(SIDECAR_SUFFIX):
                continue
            path = Path(folder, name)
            key = path.relative_to(root).as_posix()[: -len(SIDECAR_SUFFIX)]
            yield key, path


def iter_temporary_sidecars(directory: Path) -> Iterator[Path]:
    for folder, _, names in os.walk(directory / SIDECAR_DIR):
        for name in names:
            if _TEMP_MARKER in name:
                yield Path(folder, name)


def has_sidecars(directory: Path) -> bool:
    return next(iter_sidecars(directory), None) is not None


__all__ = [
    "MANIFEST_FILE",
    "SIDECAR_DIR",
    "Manifest",
    "check_choice",
    "has_sidecars",
    "iter_sidecars",
    "read_manifest",
    "read_sidecar",
    "sidecar_path",
    "write_manifest",
    "write_sidecar",
]
