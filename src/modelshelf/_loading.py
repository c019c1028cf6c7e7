"""Resolving references and loading artifacts.

Bytes are hashed as they are read and checked against the record before a
serializer sees them, so a changed or truncated file never gets
deserialized.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import tempfile
import warnings
from typing import IO, TYPE_CHECKING, Any, cast

from modelshelf._shared import (
    IN_MEMORY_LOAD_LIMIT,
    LoadedModel,
    logger,
)
from modelshelf.errors import (
    AmbiguousVersionError,
    CorruptMetadataError,
    DeserializationError,
    IntegrityError,
    IntegrityWarning,
    InvalidInputError,
    ModelNotFoundError,
)
from modelshelf.metadata import check_model_id
from modelshelf.query import Query
from modelshelf.references import Reference, parse_reference
from modelshelf.selectors import (
    Selector,
    parse_selector,
    parse_version,
)
from modelshelf.snapshot import Snapshot

if TYPE_CHECKING:
    from modelshelf.metadata import (
        ArtifactRef,
        ModelMetadata,
    )
    from modelshelf.protocols import (
        Serializer,
    )
    from modelshelf.registry import ModelRegistry


def resolve(self: ModelRegistry, reference: str | Reference) -> ModelMetadata:
    """The version a reference names, or ModelNotFoundError."""
    ref = reference if isinstance(reference, Reference) else parse_reference(reference)
    if ref.version is not None:
        query = Query(
            model_name=ref.model_name, version=parse_version(ref.version, self.versioning)
        )
    elif ref.alias is not None:
        query = Query(model_name=ref.model_name, alias=ref.alias)
    elif ref.stage is not None:
        query = Query(
            model_name=ref.model_name,
            stage=ref.stage,
            order_by="version",
            descending=True,
            limit=1,
        )
    else:
        query = Query(model_name=ref.model_name, order_by="version", descending=True, limit=1)
    found = self.store.find(query)
    if not found:
        raise ModelNotFoundError(f"no model version matches {str(ref)!r}")
    return found[0]


def get_metadata(
    self: ModelRegistry,
    reference: int | str | None = None,
    *,
    model_id: int | None = None,
    model_name: str | None = None,
    version: str | int | None = None,
) -> ModelMetadata:
    """Find one version by id, reference, name and/or version; it must exist.

    Every selector given must fit the version found: one that contradicts
    another (``get_metadata("a:1.0.0", model_name="b")``) is an
    InvalidInputError, never silently outvoted.
    """
    if model_name is None and version is None and (reference is None) != (model_id is None):
        # By id alone, the everyday load: nothing to merge or cross-check.
        given = model_id if reference is None else reference
        if type(given) is int:
            found = self.store.get(check_model_id(given))
            if found is None:
                raise ModelNotFoundError(f"no model version has id {given}")
            return found
    selector = parse_selector(
        reference,
        model_id=model_id,
        model_name=model_name,
        version=version,
        scheme=self.versioning,
    )
    return selector.check(_select(self, selector))


def _select(self: ModelRegistry, selector: Selector) -> ModelMetadata:
    """The version the most specific selector names; the caller checks the others."""
    if selector.model_id is not None:
        found = self.store.get(selector.model_id)
        if found is None:
            raise ModelNotFoundError(f"no model version has id {selector.model_id}")
        return found
    reference = selector.reference()
    if reference is not None:
        return resolve(self, reference)
    version = selector.version
    if version is not None:
        matches = self.store.find(Query(version=version, limit=50))
        if not matches:
            raise ModelNotFoundError(f"no model has version {version!r}")
        names = {m.model_name for m in matches}
        if len(names) > 1:
            raise AmbiguousVersionError(version, names)
        return matches[0]
    raise InvalidInputError("name a version: model_id=, a reference, model_name= or version=")


def load_model(
    self: ModelRegistry,
    reference: int | str | None = None,
    *,
    model_id: int | None = None,
    model_name: str | None = None,
    version: str | int | None = None,
    strict: bool = False,
    mmap_mode: str | None = None,
) -> Any:
    """Load a model, or return None (with a logged reason) if it is missing
    or its bytes fail verification. ``strict=True`` raises instead.

    Failed verification also emits an :class:`IntegrityWarning`: a None
    that hides tampered bytes must never pass for a plain "not there".
    """
    _check_mmap_mode(mmap_mode)
    try:
        metadata = self.get_metadata(
            reference, model_id=model_id, model_name=model_name, version=version
        )
        if mmap_mode is not None:
            return _load_mapped(self, metadata.artifact, mmap_mode)
        return _load_artifact(self, metadata.artifact)
    except (ModelNotFoundError, IntegrityError, CorruptMetadataError) as exc:
        if strict:
            raise
        logger.warning("load_model returned None: %s", exc)
        if isinstance(exc, IntegrityError):
            warnings.warn(
                IntegrityWarning(f"load_model returned None: {exc} (strict=True raises instead)"),
                stacklevel=2,
            )
        return None


def _check_mmap_mode(mmap_mode: str | None) -> None:
    if mmap_mode is not None and mmap_mode not in MMAP_MODES:
        raise InvalidInputError(
            f"mmap_mode must be one of {', '.join(map(repr, MMAP_MODES))} or None, "
            f"got {mmap_mode!r}"
        )


def load(self: ModelRegistry, reference: int | str, *, mmap_mode: str | None = None) -> LoadedModel:
    """Load a version's model, auxiliary artifacts and metadata; raises on any problem."""
    _check_mmap_mode(mmap_mode)
    metadata = self.get_metadata(reference)
    if mmap_mode is not None:
        model = _load_mapped(self, metadata.artifact, mmap_mode)
    else:
        model = _load_artifact(self, metadata.artifact)
    extra = {name: _load_artifact(self, ref) for name, ref in metadata.artifacts.items()}
    return LoadedModel(model=model, artifacts=extra, metadata=metadata)


def load_best_model(
    self: ModelRegistry, metric: str | None = None, **filters: Any
) -> LoadedModel | None:
    """The best version's model, artifacts and metadata in one call (``None`` if none ranks).

    What a service needs at start-up; unlike ``load_model`` it raises on a damaged file.
    """
    best = self.get_best_model(metric, **filters)
    return None if best is None else self.load(best.model_id)


def _check(self: ModelRegistry, ref: ArtifactRef, sha256: str, size: int) -> None:
    if size != ref.size or sha256 != ref.sha256:
        raise IntegrityError(
            ref.key,
            f"checksum mismatch: expected sha256 {ref.sha256} ({ref.size} bytes), "
            f"found {sha256} ({size} bytes); refusing to deserialize",
            expected=ref.sha256,
            actual=sha256,
        )
    if self._signing_key is not None:
        if ref.signature is None:
            raise IntegrityError(ref.key, "artifact is not signed and signing is required")
        expected = self._signature(ref.key, ref.sha256, ref.size)
        assert expected is not None
        if not hmac.compare_digest(expected, ref.signature):
            raise IntegrityError(ref.key, "signature does not match (wrong key or tampering)")


def _open_artifact(self: ModelRegistry, ref: ArtifactRef) -> IO[bytes]:
    try:
        return self.storage.open(ref.key)
    except (OSError, InvalidInputError) as exc:
        # InvalidInputError: the stored key now resolves outside the root
        # (a directory swapped for a symlink); refuse it like a bad file.
        raise IntegrityError(ref.key, f"artifact cannot be read: {exc}") from exc


def _load_artifact(self: ModelRegistry, ref: ArtifactRef) -> Any:
    """Deserialize the bytes whose digest was checked, and only those.

    The file is read once, into memory this process owns; whoever can
    write to the storage may change the file afterwards, but not the
    copy the serializer reads.
    """
    serializer = self._serializer_named(ref.serializer)
    if ref.size <= IN_MEMORY_LOAD_LIMIT:
        with _open_artifact(self, ref) as stream:
            data = stream.read(ref.size + 1)
        _check(self, ref, hashlib.sha256(data).hexdigest(), len(data))
        return _deserialize(serializer, ref, io.BytesIO(data))
    # Release memory as the serializer reads forward; one that seeks back
    # into released bytes is given a full copy instead.
    for release in (True, False):
        with _open_artifact(self, ref) as stream:
            snapshot = Snapshot.capture(stream, limit=ref.size + 1, release=release)
        with snapshot:
            _check(self, ref, snapshot.sha256, snapshot.size)
            try:
                model = _deserialize(serializer, ref, cast("IO[bytes]", snapshot))
            except IntegrityError:
                if not snapshot.rewound:
                    raise
                continue
            if not snapshot.rewound:
                return model
    raise IntegrityError(ref.key, "the serializer could not read its verified copy")


#: Memory-map modes a load may ask for: read-only, or copy-on-write.
MMAP_MODES = ("r", "c")


def _load_mapped(self: ModelRegistry, ref: ArtifactRef, mmap_mode: str) -> Any:
    """Load with the arrays memory-mapped from a verified private copy.

    Mapping the stored file itself would hand the serializer pages that a
    writer of the storage can change after the hash was checked. So the file
    is copied once, hashed while it is copied, into a fresh directory only
    this user can enter (mode 0700); the copy is checked and only then
    mapped. The directory is removed afterwards: a mapping outlives its
    file's name on POSIX systems. The price is one sequential write of the
    model to the temporary directory (``TMPDIR``, which should be a disk
    rather than a RAM-backed tmpfs for this to save memory).
    """
    serializer = self._serializer_named(ref.serializer)
    load_mapped = getattr(serializer, "load_mapped", None)
    if load_mapped is None:
        raise InvalidInputError(
            f"the {serializer.name} serializer cannot memory-map a model; "
            "load it without mmap_mode (joblib can)"
        )
    with tempfile.TemporaryDirectory(prefix="modelshelf-mmap-", ignore_cleanup_errors=True) as d:
        private = os.path.join(d, f"model{serializer.file_extension}")
        digest = hashlib.sha256()
        size = 0
        buffer = bytearray(_COPY_BYTES)
        with _open_artifact(self, ref) as stream, open(private, "xb") as copy:
            readinto = getattr(stream, "readinto", None)
            with memoryview(buffer) as view:
                while size <= ref.size:
                    if readinto is not None:
                        count = readinto(view) or 0
                    else:
                        data = stream.read(len(view))
                        count = len(data)
                        view[:count] = data
                    if not count:
                        break
                    digest.update(view[:count])
                    copy.write(view[:count])
                    size += count
        _check(self, ref, digest.hexdigest(), size)
        try:
            return load_mapped(private, mmap_mode)
        except ImportError as exc:
            raise DeserializationError(
                ref.key, f"the model needs {exc.name or 'a module'!r}, which cannot be imported"
            ) from exc
        except Exception as exc:
            raise IntegrityError(
                ref.key, f"verified bytes failed to deserialize with {serializer.name}: {exc}"
            ) from exc


#: Bytes copied and hashed per read when a load memory-maps its copy.
_COPY_BYTES = 8 * 1024 * 1024


def _deserialize(serializer: Serializer, ref: ArtifactRef, stream: IO[bytes]) -> Any:
    try:
        return serializer.load(stream)
    except ImportError as exc:  # ModuleNotFoundError too
        raise DeserializationError(
            ref.key,
            f"the model needs {exc.name or 'a module'!r}, which cannot be imported here "
            f"({exc}); install the package that defines the model, then load again",
        ) from exc
    except AttributeError as exc:  # pickle: "Can't get attribute 'Model' on <module ...>"
        raise DeserializationError(
            ref.key,
            f"the model's code is not importable as it was saved ({exc}); "
            "install the version of the package that defines it, then load again",
        ) from exc
    except Exception as exc:
        raise IntegrityError(
            ref.key, f"verified bytes failed to deserialize with {serializer.name}: {exc}"
        ) from exc
