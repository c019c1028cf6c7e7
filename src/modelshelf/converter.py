"""The one cattrs converter every store uses to read and write metadata.

Stores never map fields by hand: they call :func:`unstructure` / :func:`dumps`
to persist and :func:`structure` / :func:`loads` to read back, so a new field
reaches every backend at once. Wire-format decisions (UTC ISO 8601 datetimes,
stage values, the ``schema_version`` key, no NaN) live here only.
"""

from __future__ import annotations

import json
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
    INT64_MAX,
    INT64_MIN,
    ModelInfo,
    ModelMetadata,
    Stage,
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
        payload = _decode(data)
        if not isinstance(payload, dict):
            raise MetadataValidationError(
                f"its data is {type(payload).__name__}, not a JSON object"
            )
        payload.update(
            model_id=model_id,
            stage=stage,
            description=description,
            tags=_decode(tags) if tags else {},
            aliases=sorted(_decode(aliases)) if aliases else [],
        )
        return structure(payload, ModelMetadata)
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
