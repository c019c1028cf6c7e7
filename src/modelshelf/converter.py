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

from modelshelf.errors import InvalidInputError, InvalidMetadataError, MetadataValidationError
from modelshelf.metadata import ModelMetadata, Stage

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
    except (TypeError, ValueError, KeyError) as exc:
        raise MetadataValidationError(f"stored metadata is invalid: {exc}") from exc


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
