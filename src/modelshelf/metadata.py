"""Value objects that describe a stored model version.

Everything here is frozen and validated on construction, so a
:class:`ModelMetadata` that exists is one every store can persist and every
reader can trust. Normalisation (int metrics become floats, sequences become
tuples, datetimes become UTC) happens in converters; rules live in the
``check_*`` functions of ``_checks`` and raise
:class:`~modelshelf.InvalidMetadataError` naming the field and the rule. The
checks are importable from here as before.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import Any

from attrs import asdict, field, frozen

# Names of the parts, importable from here as before.
from modelshelf._checks import _PLAIN_KEY as _PLAIN_KEY
from modelshelf._checks import ALIAS_PATTERN as ALIAS_PATTERN
from modelshelf._checks import INT64_MAX as INT64_MAX
from modelshelf._checks import INT64_MIN as INT64_MIN
from modelshelf._checks import KEY_SUFFIX_PATTERN as KEY_SUFFIX_PATTERN
from modelshelf._checks import MAX_JSON_DEPTH as MAX_JSON_DEPTH
from modelshelf._checks import MAX_NAME_LENGTH as MAX_NAME_LENGTH
from modelshelf._checks import METRIC_NAME_PATTERN as METRIC_NAME_PATTERN
from modelshelf._checks import NAME_PATTERN as NAME_PATTERN
from modelshelf._checks import SHA256_PATTERN as SHA256_PATTERN
from modelshelf._checks import JSONValue as JSONValue
from modelshelf._checks import (
    _key_validator,
    _name_validator,
    _now,
    _optional_positive_id,
    _positive_id,
    _sha256_validator,
    _size_validator,
    _to_aliases,
    _to_class_distribution,
    _to_dataset,
    _to_description,
    _to_extra,
    _to_feature_names,
    _to_is_ensemble,
    _to_json,
    _to_metrics,
    _to_model_type,
    _to_n_samples,
    _to_quality,
    _version_validator,
)
from modelshelf._checks import _to_hyperparameters as _to_hyperparameters
from modelshelf._checks import _to_tags as _to_tags
from modelshelf._checks import _to_utc as _to_utc
from modelshelf._checks import check_alias as check_alias
from modelshelf._checks import check_artifact_key as check_artifact_key
from modelshelf._checks import check_int as check_int
from modelshelf._checks import check_key_suffix as check_key_suffix
from modelshelf._checks import check_metric_name as check_metric_name
from modelshelf._checks import check_metric_value as check_metric_value
from modelshelf._checks import check_model_id as check_model_id
from modelshelf._checks import check_name as check_name
from modelshelf._checks import check_text as check_text
from modelshelf._checks import check_unicode as check_unicode
from modelshelf.errors import InvalidMetadataError, UnknownStageError
from modelshelf.signatures import MAX_EXAMPLE_BYTES, Signature, to_signature


class Stage(str, Enum):
    """Lifecycle stage of a model version, as MLflow's registry names them."""

    NONE = "None"
    STAGING = "Staging"
    PRODUCTION = "Production"
    ARCHIVED = "Archived"

    @classmethod
    def parse(cls, value: object) -> Stage:
        """Accept a :class:`Stage`, its value in any case, or ``None`` (no stage)."""
        if value is None:
            return cls.NONE
        if isinstance(value, Stage):
            return value
        if isinstance(value, str):
            exact = _STAGES_BY_VALUE.get(value)  # the stored spelling: no loop
            if exact is not None:
                return exact
            for stage in cls:
                if stage.value.lower() == value.strip().lower():
                    return stage
        raise UnknownStageError(value, [stage.value for stage in cls])


_STAGES_BY_VALUE = {stage.value: stage for stage in Stage}


def _stage_converter(value: object) -> Stage:
    return Stage.parse(value)


@frozen(kw_only=True)
class TrainingInfo:
    """How the model was trained (dataset, samples, class balance, data quality).

    Kept queryable, so versions can be filtered by what they were trained on.

    ``data_quality_score`` also feeds the composite scoring policy when it is
    given as the ``data_quality`` metric; ``is_ensemble`` earns ensembles the
    composite policy's bonus.
    """

    dataset: str = field(default="", converter=_to_dataset)
    n_samples: int | None = field(default=None, converter=_to_n_samples)
    class_distribution: dict[str, int] = field(factory=dict, converter=_to_class_distribution)
    data_quality_score: float | None = field(default=None, converter=_to_quality)
    is_ensemble: bool = field(default=False, converter=_to_is_ensemble)
    extra: dict[str, JSONValue] = field(factory=dict, converter=_to_extra)


def to_training_info(value: object) -> TrainingInfo:
    """A :class:`TrainingInfo` from itself, a mapping of its fields, or None.

    Every entry point (save, import, checkpoints) goes through here, so a
    list or a string is refused by name instead of failing deep inside.
    """
    if value is None:
        return TrainingInfo()
    if isinstance(value, TrainingInfo):
        return value
    if not isinstance(value, Mapping):
        raise InvalidMetadataError(
            "training_info",
            f"must be a mapping or a TrainingInfo, got {type(value).__name__}",
        )
    for key in value:
        if not isinstance(key, str):
            raise InvalidMetadataError("training_info", f"key {key!r} must be a string")
    try:
        return TrainingInfo(**value)
    except TypeError as exc:
        known = ", ".join(a.name for a in TrainingInfo.__attrs_attrs__)
        raise InvalidMetadataError("training_info", f"{exc}; the fields are: {known}") from None


@frozen(kw_only=True)
class ArtifactRef:
    """Where one stored file lives and what its bytes must hash to."""

    key: str = field(validator=_key_validator)
    serializer: str
    sha256: str = field(validator=_sha256_validator)
    size: int = field(validator=_size_validator)
    signature: str | None = None


def _to_artifacts(value: object) -> dict[str, ArtifactRef]:
    """Auxiliary artifacts by name; a name becomes a file name on export,
    so it follows the model-name rule (no separator, no ``..``)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidMetadataError("artifacts", f"must be a mapping, got {type(value).__name__}")
    artifacts: dict[str, ArtifactRef] = {}
    for name, ref in value.items():
        check_name("artifacts", name)
        if not isinstance(ref, ArtifactRef):
            raise InvalidMetadataError(
                "artifacts", f"{name}: must be an ArtifactRef, got {type(ref).__name__}"
            )
        artifacts[name] = ref
    return artifacts


_JSON_SCALARS = (str, int, float, bool, type(None))


def _plain_json_size(value: object, depth: int = 0) -> int:
    """About how many bytes ``value`` takes as JSON, or -1 if it is not plainly JSON.

    Every stored record is checked again when read, and the example is the
    largest field; this walks it without building the paths the full check
    (:func:`_to_json`) names in its errors.
    """
    kind = type(value)
    if kind is str:
        text: str = value  # type: ignore[assignment]
        return len(text) + 2 if text.isascii() else -1
    if kind is float:
        return 24 if math.isfinite(value) else -1  # type: ignore[arg-type]
    if kind is int:
        return 20 if INT64_MIN <= value <= INT64_MAX else -1  # type: ignore[operator]
    if kind is bool or value is None:
        return 5
    if depth >= MAX_JSON_DEPTH:
        return -1
    total = 2
    if kind is list:  # a tuple takes the full check, which makes it a list
        for item in value:  # type: ignore[attr-defined]
            size = _plain_json_size(item, depth + 1)
            if size < 0:
                return -1
            total += size + 1
        return total
    if kind is dict:
        for key, item in value.items():  # type: ignore[attr-defined]
            if type(key) is not str or not key.isascii():
                return -1
            size = _plain_json_size(item, depth + 1)
            if size < 0:
                return -1
            total += len(key) + size + 4
        return total
    return -1


def _to_input_example(value: object) -> list[JSONValue] | None:
    """A few rows of input as JSON (records or nested lists), kept small."""
    if value is None:
        return None
    if not isinstance(value, (list, tuple)):
        raise InvalidMetadataError(
            "input_example", f"must be a list of rows, got {type(value).__name__}"
        )
    size = _plain_json_size(value)
    if size < 0:  # not plain JSON: the full check says where and why
        rows = _to_json("input_example", value)
        assert isinstance(rows, list)
    else:
        rows = list(value)
    if size * 2 > MAX_EXAMPLE_BYTES and len(json.dumps(rows)) > MAX_EXAMPLE_BYTES:
        raise InvalidMetadataError(
            "input_example", f"takes more than {MAX_EXAMPLE_BYTES} bytes as JSON; keep a few rows"
        )
    return rows


def _to_preprocessing(value: object) -> tuple[str, ...]:
    """Names of auxiliary artifacts applied in order before the model predicts."""
    if value is None or value == () or value == []:
        return ()
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise InvalidMetadataError(
            "preprocessing", "must be a list of artifact names, in the order they apply"
        )
    steps = tuple(check_name("preprocessing", step) for step in value)
    twice = sorted({step for step in steps if steps.count(step) > 1})
    if twice:
        raise InvalidMetadataError("preprocessing", f"step {twice[0]!r} is listed twice")
    return steps


@frozen(kw_only=True)
class _VersionFields:
    """Fields shared by a version before and after the store accepted it."""

    model_name: str = field(validator=_name_validator)
    model_type: str = field(default="", converter=_to_model_type)
    metrics: dict[str, float] = field(factory=dict, converter=_to_metrics)
    hyperparameters: dict[str, JSONValue] = field(factory=dict, converter=_to_hyperparameters)
    description: str = field(default="", converter=_to_description)
    tags: dict[str, str] = field(factory=dict, converter=_to_tags)
    stage: Stage = field(default=Stage.NONE, converter=_stage_converter)
    created_at: datetime = field(factory=_now, converter=_to_utc)
    training_info: TrainingInfo = field(factory=TrainingInfo, converter=to_training_info)
    feature_names: tuple[str, ...] = field(default=(), converter=_to_feature_names)
    artifact: ArtifactRef
    artifacts: dict[str, ArtifactRef] = field(factory=dict, converter=_to_artifacts)
    parent_id: int | None = field(default=None, validator=_optional_positive_id)
    checkpoint: bool = False
    #: What the model takes (and gives), checked by ``LoadedModel.predict``.
    signature: Signature | None = field(default=None, converter=to_signature)
    #: The first few rows of an input, as JSON: records or nested lists.
    input_example: list[JSONValue] | None = field(default=None, converter=_to_input_example)
    #: Auxiliary artifacts whose ``transform`` runs, in order, before the model.
    preprocessing: tuple[str, ...] = field(default=(), converter=_to_preprocessing)


@frozen(kw_only=True)
class ModelDraft(_VersionFields):
    """A version about to be recorded: the store assigns its id and version.

    ``requested_version`` is the caller's explicit version, or ``None`` for the
    versioning scheme's next one.
    """

    requested_version: str | None = None


@frozen(kw_only=True)
class ModelMetadata(_VersionFields):
    """One recorded model version, as every store returns it."""

    model_id: int = field(validator=_positive_id)
    version: str = field(validator=_version_validator)
    aliases: tuple[str, ...] = field(default=(), converter=_to_aliases)

    @property
    def reference(self) -> str:
        """The reference string that names exactly this version."""
        return f"{self.model_name}:{self.version}"


@frozen(kw_only=True)
class ModelInfo:
    """What belongs to a model name rather than to one of its versions."""

    model_name: str = field(validator=_name_validator)
    description: str = field(default="", converter=_to_description)
    tags: dict[str, str] = field(factory=dict, converter=_to_tags)


def metadata_from_draft(
    draft: ModelDraft, *, model_id: int, version: str, aliases: tuple[str, ...] = ()
) -> ModelMetadata:
    """Turn an accepted draft into the recorded version (used by stores)."""
    values = asdict(draft, recurse=False)
    del values["requested_version"]
    return ModelMetadata(model_id=model_id, version=version, aliases=aliases, **values)


def draft_from_metadata(metadata: ModelMetadata, **changes: Any) -> ModelDraft:
    """A draft that records ``metadata`` again elsewhere (import, transfer).

    Everything the version carries is kept except what the destination
    assigns (id, aliases); the version becomes ``requested_version`` unless
    ``changes`` say otherwise.
    """
    values = asdict(metadata, recurse=False)
    del values["model_id"], values["aliases"]
    values["requested_version"] = values.pop("version")
    values.update(changes)
    return ModelDraft(**values)
