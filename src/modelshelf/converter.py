"""The one cattrs converter every store uses to read and write metadata.

Stores never map fields by hand: they call :func:`unstructure` / :func:`dumps`
to persist and :func:`structure` / :func:`loads` to read back, so a new field
reaches every backend at once. Wire-format decisions (UTC ISO 8601 datetimes,
stage values, the ``schema_version`` key, no NaN) live here only.

It stays one module past the usual size because the strict path and the
trusted path for a store's own rows (:func:`structure_stored`) must accept and
refuse exactly the same documents: kept side by side, a field added to one is
seen missing from the other in the same read.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, TypeVar

import cattrs
from cattrs.preconf.json import JsonConverter
from cattrs.preconf.json import make_converter as make_json_converter
from cattrs.v import format_exception

from modelshelf.errors import (
    CorruptMetadataError,
    InvalidInputError,
    InvalidMetadataError,
    MetadataValidationError,
)
from modelshelf.metadata import (
    ALIAS_PATTERN,
    INT64_MAX,
    INT64_MIN,
    MAX_NAME_LENGTH,
    METRIC_NAME_PATTERN,
    NAME_PATTERN,
    ArtifactRef,
    ModelInfo,
    ModelMetadata,
    Stage,
    TrainingInfo,
    check_artifact_key,
    check_unicode,
)

#: Bumped when the wire format changes incompatibly; readers refuse newer data.
SCHEMA_VERSION = 1

T = TypeVar("T")


def _unstructure_datetime(value: datetime) -> str:
    if value.tzinfo is None:
        raise InvalidMetadataError("created_at", "naive datetimes cannot be stored")
    return value.astimezone(timezone.utc).isoformat()


def _structure_datetime(value: Any, _: type) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        parsed = datetime.fromisoformat(value)
    else:
        raise MetadataValidationError(f"expected an ISO 8601 datetime, got {value!r}")
    if parsed.tzinfo is None:
        raise MetadataValidationError(f"datetime {value!r} has no timezone")
    return parsed.astimezone(timezone.utc)


# cattrs' own scalar hooks coerce (``bool("no")`` is True, ``int("5")`` is 5,
# ``str(5)`` is "5"), so a damaged or hand-edited record would be read back as
# something it never said. Stored data holds exact JSON types; these accept
# only those.


def _structure_bool(value: Any, _: type) -> bool:
    if type(value) is not bool:
        raise MetadataValidationError(f"expected true or false, got {value!r}")
    return value


def _structure_int(value: Any, _: type) -> int:
    if type(value) is not int:
        raise MetadataValidationError(f"expected an integer, got {value!r}")
    if not INT64_MIN <= value <= INT64_MAX:
        raise MetadataValidationError(f"integer {value} is out of the signed 64-bit range")
    return value


def _structure_float(value: Any, _: type) -> float:
    if type(value) is float:
        return value
    if type(value) is not int:
        raise MetadataValidationError(f"expected a number, got {value!r}")
    try:
        return float(value)
    except OverflowError:
        raise MetadataValidationError(f"number {value} is too large for a float") from None


def _structure_str(value: Any, _: type) -> str:
    if type(value) is str and value.isascii():
        return value
    if type(value) is not str:
        raise MetadataValidationError(f"expected a string, got {value!r}")
    return check_unicode("text", value)


def _structure_container(kind: type) -> Any:
    """A hook that only checks the container's own type.

    The attrs converters of the fields these types annotate (metrics, tags,
    class counts, feature names, aliases) check every key and value strictly
    already, so structuring each element here as well would only double the
    cost of every read.
    """

    def structure(value: Any, _: type) -> Any:
        if type(value) is not kind:
            raise MetadataValidationError(f"expected a {kind.__name__}, got {value!r}")
        return value

    return structure


def _format_error(exc: BaseException, type_: type | None) -> str:
    """Our validators' own words (field and rule) instead of cattrs' "invalid value"."""
    if isinstance(exc, InvalidInputError):
        return str(exc)
    return format_exception(exc, type_)


def make_converter() -> JsonConverter:
    """Build the private converter; never touches cattrs' global one."""
    converter = make_json_converter()
    converter.register_unstructure_hook(datetime, _unstructure_datetime)
    converter.register_structure_hook(datetime, _structure_datetime)
    converter.register_structure_hook(bool, _structure_bool)
    converter.register_structure_hook(int, _structure_int)
    converter.register_structure_hook(float, _structure_float)
    converter.register_structure_hook(str, _structure_str)
    mappings = (dict[str, float], dict[str, str], dict[str, int])
    converter.register_structure_hook_func(
        lambda annotation: annotation in mappings, _structure_container(dict)
    )
    converter.register_structure_hook_func(
        lambda annotation: annotation == tuple[str, ...], _structure_container(list)
    )
    converter.register_unstructure_hook(Stage, lambda stage: stage.value)
    converter.register_structure_hook(Stage, lambda value, _: Stage.parse(value))

    unstructure_metadata = cattrs.gen.make_dict_unstructure_fn(ModelMetadata, converter)
    structure_metadata = cattrs.gen.make_dict_structure_fn(ModelMetadata, converter)

    def unstructure_with_schema(metadata: ModelMetadata) -> dict[str, Any]:
        data = unstructure_metadata(metadata)
        data["schema_version"] = SCHEMA_VERSION
        return data

    def structure_with_schema(data: Any, cls: type) -> ModelMetadata:
        if not isinstance(data, dict):
            raise MetadataValidationError(f"expected a metadata object, got {type(data).__name__}")
        payload = dict(data)
        schema = payload.pop("schema_version", SCHEMA_VERSION)
        if not isinstance(schema, int) or schema > SCHEMA_VERSION:
            raise MetadataValidationError(
                f"metadata schema_version {schema!r} is newer than this modelshelf "
                f"understands ({SCHEMA_VERSION}); upgrade modelshelf"
            )
        return structure_metadata(payload, cls)

    converter.register_unstructure_hook(ModelMetadata, unstructure_with_schema)
    converter.register_structure_hook(ModelMetadata, structure_with_schema)
    return converter


@lru_cache(maxsize=1)
def get_converter() -> JsonConverter:
    return make_converter()


def unstructure(value: Any) -> Any:
    """Turn a metadata value into JSON-safe Python data."""
    return get_converter().unstructure(value)


def structure(data: Any, cls: type[T]) -> T:
    """Rebuild ``cls`` from stored data; any failure is a :class:`MetadataValidationError`."""
    try:
        return get_converter().structure(data, cls)
    except cattrs.BaseValidationError as exc:
        messages = "; ".join(cattrs.transform_error(exc, format_exception=_format_error))
        raise MetadataValidationError(f"stored metadata is invalid: {messages}") from exc
    except (InvalidMetadataError, MetadataValidationError):
        raise
    except (TypeError, ValueError, KeyError, OverflowError, RecursionError) as exc:
        raise MetadataValidationError(f"stored metadata is invalid: {exc!r}") from exc


def dumps(metadata: ModelMetadata) -> str:
    """Serialize metadata to compact JSON; NaN can never be written."""
    return json.dumps(unstructure(metadata), allow_nan=False, separators=(",", ":"), sort_keys=True)


def loads(text: str | bytes) -> ModelMetadata:
    """Parse JSON written by :func:`dumps`."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MetadataValidationError(f"stored metadata is not valid JSON: {exc}") from exc
    return structure(data, ModelMetadata)


# -- reading back what a store wrote ------------------------------------------------
#
# A store's own rows were validated field by field when they were written, so
# reading them back through cattrs and every attrs converter again (rules,
# regexes, copies of each mapping) checks the same facts twice and costs
# several times the SELECT and ``json.loads`` that produced the row. The
# trusted path below builds the frozen objects directly after a structural
# check: every field has exactly the JSON type the converter writes and each
# value is one the strict path accepts (names, keys, digests and versions
# still pass their patterns; numbers are finite and in range; text is valid
# Unicode). Anything else, including rows from older formats, goes down the
# strict path, which either accepts it or says precisely what is wrong: the
# trusted path never accepts what the strict one would refuse.

_STAGES = {stage.value: stage for stage in Stage}
# Exactly the converter's keys: the trusted path reads every one of them (a
# missing key is a KeyError, so the strict path), and the count rules out extras.
#: Fields a version's document may leave out (written before they existed) and that
#: the trusted path takes only at their defaults; anything else goes the strict way.
_OPTIONAL_FIELDS = ("signature", "input_example", "preprocessing")
_METADATA_FIELDS = (
    len(ModelMetadata.__attrs_attrs__) + 1 - len(_OPTIONAL_FIELDS)
)  # + schema_version
_TRAINING_FIELDS = len(TrainingInfo.__attrs_attrs__)
_ARTIFACT_FIELDS = len(ArtifactRef.__attrs_attrs__)
_HEX = "0123456789abcdef"
_set = object.__setattr__
_new = object.__new__
_isfinite = math.isfinite

#: Strings that passed their rule once. Model names, versions, metric and tag
#: names, model types and serializers repeat from row to row, so each distinct
#: one is matched against its pattern once rather than once per row. Bounded:
#: a set that fills up is emptied and refilled.
_KNOWN_LIMIT = 1 << 16
_NAMES: set[str] = set()
_VERSIONS: set[str] = set()
_METRIC_NAMES: set[str] = set()
_LABELS: set[str] = set()


def _remember(known: set[str], value: str) -> None:
    if len(known) >= _KNOWN_LIMIT:
        known.clear()
    known.add(value)


class _Untrusted(Exception):
    """A value the trusted path does not vouch for: take the strict path."""


def _unicode(value: Any) -> None:
    """Any string the strict path accepts: valid Unicode (no lone surrogate)."""
    if type(value) is not str:
        raise _Untrusted
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _Untrusted from None


def _text(value: Any, limit: int) -> str:
    """Text with :func:`~modelshelf.metadata.check_text`'s rule: a length limit, no NUL."""
    if type(value) is not str or len(value) > limit or "\x00" in value:
        raise _Untrusted
    if not value.isascii():
        _unicode(value)
    return value


def _label(value: Any) -> str:
    """A short text that repeats across rows (model type, serializer, dataset)."""
    if value in _LABELS:
        return value  # type: ignore[no-any-return]
    _remember(_LABELS, _text(value, MAX_NAME_LENGTH))
    return value  # type: ignore[no-any-return]


def _name(value: Any) -> str:
    if value in _NAMES:
        return value  # type: ignore[no-any-return]
    if (
        type(value) is not str
        or len(value) > MAX_NAME_LENGTH
        or ".." in value
        or not NAME_PATTERN.fullmatch(value)
    ):
        raise _Untrusted
    _remember(_NAMES, value)
    return value


def _version(value: Any) -> str:
    if value in _VERSIONS:
        return value  # type: ignore[no-any-return]
    if (
        type(value) is not str
        or not value
        or len(value) > 64
        or not NAME_PATTERN.fullmatch(value.replace("+", ""))
    ):
        raise _Untrusted
    _remember(_VERSIONS, value)
    return value


def _metric_name(value: Any) -> None:
    if value not in _METRIC_NAMES:
        if type(value) is not str or not METRIC_NAME_PATTERN.fullmatch(value):
            raise _Untrusted
        _remember(_METRIC_NAMES, value)


def _plain_json(value: Any, depth: int = 0) -> None:
    """Refuse what ``json.loads`` can return but metadata may not hold: NaN and
    infinities, integers past 64 bits, lone surrogates, deep nesting."""
    kind = type(value)
    if kind is str:
        if not value.isascii():
            _unicode(value)
    elif kind is float:
        if not _isfinite(value):
            raise _Untrusted
    elif kind is int:
        if not INT64_MIN <= value <= INT64_MAX:
            raise _Untrusted
    elif kind is dict:
        if depth >= 100:
            raise _Untrusted
        for key, item in value.items():
            if type(key) is not str or not key.isascii():
                _unicode(key)
            if type(item) is not str or not item.isascii():
                _plain_json(item, depth + 1)
    elif kind is list:
        if depth >= 100:
            raise _Untrusted
        for item in value:
            _plain_json(item, depth + 1)
    elif value is not None and kind is not bool:
        raise _Untrusted


def _artifact(data: Any) -> ArtifactRef:
    if type(data) is not dict or len(data) != _ARTIFACT_FIELDS:
        raise _Untrusted
    sha256, size, signature = data["sha256"], data["size"], data["signature"]
    if (
        type(size) is not int
        or not 0 <= size <= INT64_MAX
        or type(sha256) is not str
        or len(sha256) != 64
        or sha256.strip(_HEX)
        or (signature is not None and type(signature) is not str)
    ):
        raise _Untrusted
    if signature is not None:
        _unicode(signature)
    ref = _new(ArtifactRef)
    _set(ref, "key", check_artifact_key("artifact.key", data["key"]))
    _set(ref, "serializer", _label(data["serializer"]))
    _set(ref, "sha256", sha256)
    _set(ref, "size", size)
    _set(ref, "signature", signature)
    return ref


def _training_info(data: Any) -> TrainingInfo:
    if type(data) is not dict or len(data) != _TRAINING_FIELDS:
        raise _Untrusted
    n_samples, counts = data["n_samples"], data["class_distribution"]
    quality, is_ensemble, extra = data["data_quality_score"], data["is_ensemble"], data["extra"]
    if (
        (n_samples is not None and (type(n_samples) is not int or not 0 <= n_samples <= INT64_MAX))
        or type(counts) is not dict
        or (quality is not None and (type(quality) is not float or not _isfinite(quality)))
        or type(is_ensemble) is not bool
        or type(extra) is not dict
    ):
        raise _Untrusted
    for label, count in counts.items():
        _unicode(label)
        if type(count) is not int or not 0 <= count <= INT64_MAX:
            raise _Untrusted
    if extra:
        _plain_json(extra)
    dataset = data["dataset"]
    info = _new(TrainingInfo)
    _set(info, "dataset", _label(dataset) if len(dataset) <= 255 else _text(dataset, 1024))
    _set(info, "n_samples", n_samples)
    _set(info, "class_distribution", counts)
    _set(info, "data_quality_score", quality)
    _set(info, "is_ensemble", is_ensemble)
    _set(info, "extra", extra)
    return info


def _trusted(data: dict[str, Any]) -> ModelMetadata:
    """Build a version from a payload in exactly the converter's own shape."""
    optional = 0
    for name in _OPTIONAL_FIELDS:
        if name in data:
            optional += 1
            if data[name]:  # a signature, an example or steps: the full check builds them
                raise _Untrusted
    if len(data) - optional != _METADATA_FIELDS or data["schema_version"] != SCHEMA_VERSION:
        raise _Untrusted
    model_id, metrics, hyperparameters = data["model_id"], data["metrics"], data["hyperparameters"]
    tags, stage, created = data["tags"], data["stage"], data["created_at"]
    parent_id, checkpoint = data["parent_id"], data["checkpoint"]
    features, aliases, artifacts = data["feature_names"], data["aliases"], data["artifacts"]
    if (
        type(model_id) is not int
        or not 1 <= model_id <= INT64_MAX
        or type(metrics) is not dict
        or type(hyperparameters) is not dict
        or type(tags) is not dict
        or type(stage) is not str
        or type(created) is not str
        or not (parent_id is None or (type(parent_id) is int and 1 <= parent_id <= INT64_MAX))
        or type(checkpoint) is not bool
        or type(features) is not list
        or type(aliases) is not list
        or type(artifacts) is not dict
    ):
        raise _Untrusted
    for metric, value in metrics.items():
        if type(value) is not float or not _isfinite(value):
            raise _Untrusted
        _metric_name(metric)
    for key, value in tags.items():
        _metric_name(key)
        if type(value) is not str or not value.isascii():
            _unicode(value)
    if hyperparameters:
        _plain_json(hyperparameters)
    for feature in features:
        if type(feature) is not str or not feature.isascii():
            _unicode(feature)
    for alias in aliases:
        if type(alias) is not str or not ALIAS_PATTERN.fullmatch(alias):
            raise _Untrusted
    try:
        created_at = datetime.fromisoformat(created)
    except ValueError:
        raise _Untrusted from None
    if created_at.tzinfo is not timezone.utc:  # what the converter writes: UTC, "+00:00"
        raise _Untrusted
    metadata = _new(ModelMetadata)
    _set(metadata, "model_name", _name(data["model_name"]))
    _set(metadata, "model_type", _label(data["model_type"]))
    _set(metadata, "metrics", metrics)
    _set(metadata, "hyperparameters", hyperparameters)
    _set(metadata, "description", _text(data["description"], 100_000))
    _set(metadata, "tags", tags)
    _set(metadata, "stage", _STAGES[stage])
    _set(metadata, "created_at", created_at)
    _set(metadata, "training_info", _training_info(data["training_info"]))
    _set(metadata, "feature_names", tuple(features))
    _set(metadata, "artifact", _artifact(data["artifact"]))
    _set(
        metadata,
        "artifacts",
        {_name(name): _artifact(ref) for name, ref in artifacts.items()} if artifacts else {},
    )
    _set(metadata, "parent_id", parent_id)
    _set(metadata, "checkpoint", checkpoint)
    _set(metadata, "signature", None)
    _set(metadata, "input_example", None)
    _set(metadata, "preprocessing", ())
    _set(metadata, "model_id", model_id)
    _set(metadata, "version", _version(data["version"]))
    _set(metadata, "aliases", tuple(aliases))
    return metadata


def structure_stored(data: Any) -> ModelMetadata:
    """Rebuild a version a store wrote itself, as :func:`structure` would.

    Rows in the converter's own shape take the trusted path (a structural
    check, no second validation); anything else takes :func:`structure`, so
    a damaged row still raises :class:`MetadataValidationError` (or
    :class:`InvalidMetadataError`) saying what is wrong. Imports and bundles
    keep calling :func:`structure`: their data was never checked here.
    """
    if type(data) is dict:
        try:
            return _trusted(data)
        except (_Untrusted, InvalidInputError, TypeError, KeyError):
            pass
    return structure(data, ModelMetadata)


def _decode(value: Any) -> Any:
    return json.loads(value) if isinstance(value, (str, bytes, bytearray)) else value


def metadata_from_row(
    model_id: Any,
    data: Any,
    *,
    stage: Any,
    description: Any,
    tags: Any,
    aliases: Any,
    location: str = "",
) -> ModelMetadata:
    """Rebuild a version from a database row: the JSON document plus the
    columns kept beside it (``tags`` and ``aliases`` as JSON text or values).

    Shared by the SQL stores. A damaged row (truncated JSON, stray bytes, a
    field of the wrong type) raises :class:`CorruptMetadataError` naming
    ``model_id``, so one bad row is reported as itself and reads of other
    rows are unaffected.
    """
    try:
        payload = json.loads(data) if type(data) is str else _decode(data)
        if type(payload) is not dict:
            raise MetadataValidationError(
                f"its data is {type(payload).__name__}, not a JSON object"
            )
        payload["model_id"] = model_id
        payload["stage"] = stage
        payload["description"] = description
        # "{}" and "[]": what the SQL stores' aggregates give a version with none.
        payload["tags"] = _decode(tags) if tags and tags != "{}" else {}
        payload["aliases"] = sorted(_decode(aliases)) if aliases and aliases != "[]" else []
        if "schema_version" not in payload:
            payload["schema_version"] = SCHEMA_VERSION
        return structure_stored(payload)
    except (InvalidInputError, ValueError, TypeError, RecursionError) as exc:
        message = exc if isinstance(exc, InvalidInputError) else repr(exc)
        number = model_id if type(model_id) is int else None
        raise CorruptMetadataError(str(message), model_id=number, location=location) from exc


def model_info_from_row(
    model_name: str, description: Any, tags: Any, *, location: str = ""
) -> ModelInfo:
    """Rebuild a name's description and tags from a stored row; a damaged
    row raises :class:`CorruptMetadataError` naming the model name."""
    try:
        return ModelInfo(model_name=model_name, description=description, tags=_decode(tags))
    except (InvalidInputError, ValueError, TypeError, RecursionError) as exc:
        message = exc if isinstance(exc, InvalidInputError) else repr(exc)
        where = f"model info of {model_name!r}" + (f" in {location}" if location else "")
        raise CorruptMetadataError(str(message), location=where) from exc
