"""Writing and recording versions, the registry's write path.

Every save and import runs the same order: validate and run every veto,
write the artifact durably, then record its metadata; on any failure the
written file is discarded so nothing half-saved stays behind.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from attrs import evolve

from modelshelf import _predicting
from modelshelf._predicting import check_steps
from modelshelf._shared import (
    _CHUNK,
    _PENDING_SHA,
    logger,
)
from modelshelf.errors import (
    DuplicateVersionError,
    IntegrityError,
    InvalidInputError,
    ModelShelfError,
    SerializationError,
    StoreError,
)
from modelshelf.metadata import (
    ArtifactRef,
    ModelDraft,
    ModelMetadata,
    Stage,
    TrainingInfo,
    check_key_suffix,
    check_name,
    draft_from_metadata,
    metadata_from_draft,
    to_training_info,
)
from modelshelf.protocols import IMPORT_ACTION, STAGE_ACTION
from modelshelf.query import Query
from modelshelf.selectors import (
    parse_requested_version,
)
from modelshelf.signatures import (
    example_rows,
    first_rows,
    infer_schema,
    infer_signature,
    prepare_input,
    to_signature,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from modelshelf.protocols import (
        VersioningScheme,
    )
    from modelshelf.registry import ModelRegistry
    from modelshelf.signatures import Schema, Signature


def save_model(
    self: ModelRegistry,
    model: Any,
    model_name: str,
    model_type: str | None = None,
    metrics: Mapping[str, float] | None = None,
    hyperparameters: Mapping[str, Any] | None = None,
    description: str | None = None,
    version: str | int | None = None,
    tags: Mapping[str, str] | None = None,
    *,
    stage: str | Stage | None = None,
    training_info: TrainingInfo | Mapping[str, Any] | None = None,
    feature_names: Sequence[str] | None = None,
    artifacts: Mapping[str, Any] | None = None,
    parent_id: int | None = None,
    signature: Signature | None = None,
    input_example: Any = None,
    preprocessing: Sequence[str] | None = None,
) -> int:
    """Store ``model`` as a new version of ``model_name`` and return its id.

    Nothing is written unless every input is valid and every
    ``before_save`` hook agrees. The file is durable before the record
    that points at it is committed.
    """
    draft = self._draft(
        model,
        model_name=model_name,
        model_type=model_type,
        metrics=metrics,
        hyperparameters=hyperparameters,
        description=description,
        version=version,
        tags=tags,
        stage=stage,
        training_info=training_info,
        feature_names=feature_names,
        artifact_names=list(artifacts or {}),
        parent_id=parent_id,
    )
    draft = _describe_input(
        draft,
        model,
        artifacts or {},
        signature=signature,
        input_example=input_example,
        preprocessing=preprocessing,
    )
    initial_stage = draft.stage
    draft = evolve(draft, stage=Stage.NONE)
    self.plugins.before_save(registry=self, draft=draft)
    _gate_initial_stage(self, draft, initial_stage)
    metadata = self._write_and_record(draft, model, artifacts, self.versioning)
    if initial_stage is not Stage.NONE:
        self._move_stage(metadata, initial_stage, action=STAGE_ACTION, reason="initial stage")
    return metadata.model_id


def _describe_input(
    draft: ModelDraft,
    model: Any,
    artifacts: Mapping[str, Any],
    *,
    signature: Signature | None,
    input_example: Any,
    preprocessing: Sequence[str] | None,
) -> ModelDraft:
    """Record what the model takes: its signature, an example and its steps.

    An example infers the signature unless one is given, in which case the
    example must fit it. With an inferred signature, the example is also run
    through the steps and the model once, so the signature says what the
    model gives; a model that cannot do that still saves, without outputs.
    """
    draft = evolve(draft, preprocessing=preprocessing, signature=to_signature(signature))
    check_steps(draft.preprocessing, artifacts)
    if input_example is None:
        return _names_from_signature(draft)
    found = draft.signature
    if found is None:
        found = infer_signature(input_example)
        outputs = _infer_outputs(draft, model, artifacts, found, input_example)
        if outputs is not None:
            found = evolve(found, outputs=outputs)
    else:
        prepare_input(found.inputs, input_example)
    draft = evolve(draft, signature=found, input_example=example_rows(input_example))
    return _names_from_signature(draft)


def _infer_outputs(
    draft: ModelDraft,
    model: Any,
    artifacts: Mapping[str, Any],
    signature: Signature,
    input_example: Any,
) -> Schema | None:
    if not callable(getattr(model, "predict", None)):
        return None
    try:
        result = _predicting.run(
            reference=draft.model_name,
            model=model,
            artifacts=artifacts,
            signature=signature,
            steps=draft.preprocessing,
            data=first_rows(input_example),  # what comes out, not a full predict
            method="predict",
        )
        return infer_schema(result)
    except Exception as exc:  # the outputs are a courtesy: the save goes on
        logger.warning(
            "%s: could not predict on the input example, so the signature has no outputs: %s",
            draft.model_name,
            exc,
        )
        return None


def _names_from_signature(draft: ModelDraft) -> ModelDraft:
    """A table's column names are its feature names when nothing else said."""
    if draft.feature_names or draft.signature is None or not draft.signature.inputs.columns:
        return draft
    return evolve(draft, feature_names=draft.signature.inputs.names)


def _gate_initial_stage(self: ModelRegistry, draft: ModelDraft, stage: Stage) -> None:
    """Gates judge a version entering a stage however it gets there
    (saved or imported straight into it), before anything is written."""
    if stage is Stage.NONE:
        return
    provisional = metadata_from_draft(
        draft, model_id=1, version=draft.requested_version or "pending"
    )
    self.plugins.before_stage_transition(
        registry=self, metadata=provisional, from_stage=Stage.NONE, to_stage=stage
    )


def _write_and_record(
    self: ModelRegistry,
    draft: ModelDraft,
    model: Any,
    artifacts: Mapping[str, Any] | None,
    scheme: VersioningScheme,
) -> ModelMetadata:
    """Serialize the model and its artifacts, then record the version."""
    objects = {"": model, **(artifacts or {})}
    return self._record(
        draft,
        scheme,
        lambda written: {
            name: _write_object(self, draft.model_name, obj, written)
            for name, obj in objects.items()
        },
    )


def _record(
    self: ModelRegistry,
    draft: ModelDraft,
    scheme: VersioningScheme,
    write_files: Callable[[list[str]], dict[str, ArtifactRef]],
) -> ModelMetadata:
    """Write every file durably, then record the version; undo the files on failure.

    ``write_files`` stores the files, appending each key to the list it is
    given as soon as it exists, and returns their refs by artifact name
    (``""`` for the model itself; artifact names are never empty).
    """
    written: list[str] = []
    try:
        stored = write_files(written)
        main = stored.pop("")
        metadata = self.store.add(evolve(draft, artifact=main, artifacts=stored), scheme)
    except BaseException:
        for key in written:
            self._discard(key)
        raise
    self._sidecars(metadata)
    self.plugins.after_save(registry=self, metadata=metadata)
    return metadata


def _draft(
    self: ModelRegistry,
    model: Any,
    *,
    model_name: str,
    model_type: str | None,
    metrics: Mapping[str, float] | None,
    hyperparameters: Mapping[str, Any] | None,
    description: str | None,
    version: str | int | None,
    tags: Mapping[str, str] | None,
    stage: str | Stage | None,
    training_info: TrainingInfo | Mapping[str, Any] | None,
    feature_names: Sequence[str] | None,
    artifact_names: list[str],
    parent_id: int | None,
) -> ModelDraft:
    check_name("model_name", model_name)
    for name in artifact_names:
        check_name("artifacts", name)
    version = None if version is None else parse_requested_version(version, self.versioning)
    training_info = to_training_info(training_info)
    if stage is None:
        stage = self.settings.default_stage
    quality = training_info.data_quality_score
    if quality is not None and "data_quality" not in (metrics or {}):
        # The composite policy and metric filters see it like any metric.
        metrics = {**(metrics or {}), "data_quality": quality}
    if feature_names is None:
        names = getattr(model, "feature_names_in_", None)
        feature_names = [str(n) for n in names] if names is not None else None
    pending = ArtifactRef(
        key="pending", serializer=self.serializer.name, sha256=_PENDING_SHA, size=0
    )
    draft = ModelDraft(
        model_name=model_name,
        model_type=model_type if model_type is not None else type(model).__name__,
        metrics=metrics,
        hyperparameters=hyperparameters,
        description=description,
        tags=tags,
        stage=stage,
        training_info=training_info,
        feature_names=feature_names,
        artifact=pending,
        parent_id=parent_id,
        requested_version=version,
    )
    if version is not None and self.store.count(Query(model_name=model_name, version=version)):
        raise DuplicateVersionError(model_name, version)
    return draft


def _signature(self: ModelRegistry, key: str, sha256: str, size: int) -> str | None:
    """Binds the bytes' digest to the key they live under, so a file swapped
    in from another version fails even if its own checksum is right."""
    return self.sign_bytes(f"{key}\n{sha256}\n{size}".encode())


def _write_object(
    self: ModelRegistry, model_name: str, obj: Any, written: list[str]
) -> ArtifactRef:
    serializer = self.serializer
    extension = check_key_suffix("file_extension", serializer.file_extension)
    key = f"{model_name}/{uuid.uuid4().hex}{extension}"

    def write(stream: IO[bytes]) -> None:
        try:
            serializer.dump(obj, stream)
        except OSError as exc:
            raise StoreError(f"could not write {key}: {exc}") from exc
        except ModelShelfError:
            raise
        except Exception as exc:
            raise SerializationError(serializer.name, f"{type(exc).__name__}: {exc}") from exc

    stored = self.storage.put(key, write)
    written.append(key)
    return ArtifactRef(
        key=stored.key,
        serializer=serializer.name,
        sha256=stored.sha256,
        size=stored.size,
        signature=self._signature(stored.key, stored.sha256, stored.size),
    )


def import_version(
    self: ModelRegistry,
    template: ModelMetadata,
    files: Mapping[str, Path],
    *,
    version: str | int | None,
    stage: str | Stage | None = None,
    parent_id: int | None = None,
) -> ModelMetadata:
    """Record a version exported elsewhere, from files already serialized.

    ``template`` is the exported metadata: its fields (created_at, tags,
    training info...) are kept, its ids and storage keys are not.
    ``files`` maps ``""`` to the model file and each auxiliary artifact's
    name to its file; every file must hash to what ``template`` recorded.
    ``version=None`` lets the versioning scheme number it; ``stage`` is the
    stage to record (the caller decides whether the exported one fits
    here) and ``parent_id`` a version of this registry. It follows the
    save path: validate and veto first, write each file durably, then
    record; a failure removes whatever was written. A ``stage`` is then
    entered exactly as a promotion enters it (one locked store
    transaction that archives the name's other Production version and
    records an ``import`` audit event), so an import racing a promotion
    never leaves two Production versions and ``rollback`` can return to
    an imported version.
    """
    refs = {"": template.artifact, **template.artifacts}
    for name in template.artifacts:  # the record is checked again before writing
        check_name("artifacts", name)
    if set(files) != set(refs):
        raise InvalidInputError(
            f"import_version: files {sorted(files)} do not match the recorded "
            f"artifacts {sorted(refs)}"
        )
    for ref in refs.values():
        self._serializer_named(ref.serializer)
    if version is not None:
        version = parse_requested_version(version, self.versioning)
        if self.store.count(Query(model_name=template.model_name, version=version)):
            raise DuplicateVersionError(template.model_name, version)
    draft = draft_from_metadata(
        template,
        stage=stage,
        parent_id=parent_id,
        requested_version=version,
        artifacts={},
    )
    initial_stage = draft.stage
    draft = evolve(draft, stage=Stage.NONE)
    self.plugins.before_save(registry=self, draft=draft)
    _gate_initial_stage(self, draft, initial_stage)
    metadata = self._record(
        draft,
        self.versioning,
        lambda written: {
            name: _copy_file(self, template.model_name, files[name], ref, written)
            for name, ref in refs.items()
        },
    )
    if initial_stage is Stage.NONE:
        return metadata
    return self._move_stage(
        metadata, initial_stage, action=IMPORT_ACTION, reason=f"imported {template.reference}"
    )


def _copy_file(
    self: ModelRegistry, model_name: str, source: Path, expected: ArtifactRef, written: list[str]
) -> ArtifactRef:
    suffix = check_key_suffix("key", Path(expected.key).suffix)
    key = f"{model_name}/{uuid.uuid4().hex}{suffix}"

    def write(stream: IO[bytes]) -> None:
        with open(source, "rb") as src:
            while chunk := src.read(_CHUNK):
                stream.write(chunk)

    stored = self.storage.put(key, write)
    written.append(key)
    if stored.sha256 != expected.sha256 or stored.size != expected.size:
        raise IntegrityError(
            str(source),
            f"changed while importing: expected sha256 {expected.sha256} "
            f"({expected.size} bytes), copied {stored.sha256} ({stored.size} bytes)",
            expected=expected.sha256,
            actual=stored.sha256,
        )
    return ArtifactRef(
        key=stored.key,
        serializer=expected.serializer,
        sha256=stored.sha256,
        size=stored.size,
        signature=self._signature(stored.key, stored.sha256, stored.size),
    )


def sign_bytes(self: ModelRegistry, data: bytes) -> str | None:
    """HMAC-SHA256 of ``data`` with the signing key; None when signing is off."""
    if self._signing_key is None:
        return None
    return hmac.new(self._signing_key, data, hashlib.sha256).hexdigest()


def _discard(self: ModelRegistry, key: str) -> None:
    try:
        self.storage.delete(key)
    except (OSError, ModelShelfError) as exc:
        logger.warning("could not remove %s after a failed save: %s (gc will)", key, exc)
