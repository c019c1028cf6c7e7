"""The checks on every name, key, metric and value that enters a version's metadata.

Each ``check_*`` enforces one rule and raises
:class:`~modelshelf.InvalidMetadataError` naming the field and the rule; each
``_to_*`` normalises a field (int metrics become floats, sequences become
tuples, datetimes become UTC) and checks it. The value objects in
:mod:`modelshelf.metadata` use them as attrs converters and validators, and
the registry uses them on what callers pass.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from modelshelf.errors import InvalidMetadataError

#: Longest model name, alias, tag key or model type we accept.
MAX_NAME_LENGTH = 255
#: Names are kept to characters that are safe in a path, a URL, a reference
#: string and a shell, so a name can never address anything but itself.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
#: Metric names go into queries as bound values, never as SQL text; the
#: pattern still keeps them readable and rejects anything that looks like code.
METRIC_NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-/]{0,127}")
ALIAS_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")
#: Integers anywhere in metadata (ids, counts, sizes, JSON values) fit in a
#: signed 64-bit integer: the range SQLite, PostgreSQL's BIGINT and every
#: JSON reader that maps numbers to int64 can hold.
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
#: Nested JSON values (hyperparameters, training_info.extra) go this deep at
#: most; deeper (or self-referencing) values are refused instead of
#: exhausting Python's recursion limit in every reader.
MAX_JSON_DEPTH = 100
#: What a stored file's key may end with: a dot and a few letters or digits
#: (``.joblib``, ``.pkl``, ``.skops``), or up to three of them (``.pkl.gz``).
#: An export names files after it, so it can never carry a separator or
#: anything a shell treats specially.
KEY_SUFFIX_PATTERN = re.compile(r"(?:\.[A-Za-z0-9]{1,16}){1,3}")
#: Keys as the registry writes them (``name/<hex>.joblib``) pass with one
#: match; anything else takes the part-by-part check, which says what is wrong.
_PLAIN_KEY = re.compile(r"(?:[A-Za-z0-9_-][A-Za-z0-9._-]*/)*[A-Za-z0-9_-]+(?:\.[A-Za-z0-9]{1,16})?")

JSONValue = Any


def check_unicode(field_name: str, value: str) -> str:
    """Refuse a lone surrogate: it is not Unicode text, so UTF-8 cannot encode it.

    SQLite and PostgreSQL reject such strings when they are written and a
    JSON file would hold an escape no other reader accepts, so the rule is
    one for every store: text is refused at the metadata boundary.
    """
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidMetadataError(
            field_name,
            f"contains a lone surrogate {value[exc.start]!r} at position {exc.start}; "
            "text must be valid Unicode",
        ) from None
    return value


def check_int(field_name: str, value: object, *, minimum: int = INT64_MIN) -> int:
    """An integer (never a bool) in ``minimum`` .. :data:`INT64_MAX`."""
    if type(value) is int and minimum <= value <= INT64_MAX:
        return value  # the common case, without the numbers.Integral ABC check
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidMetadataError(
            field_name, f"must be an integer, got {type(value).__name__} {value!r}"
        )
    number = int(value)
    if not minimum <= number <= INT64_MAX:
        shown = str(number) if abs(number) < 10**30 else f"an integer of {len(str(number))} digits"
        raise InvalidMetadataError(
            field_name, f"{shown} is out of range: it must be between {minimum} and {INT64_MAX}"
        )
    return number


def check_model_id(value: object, field_name: str = "model_id") -> int:
    """A model id: an int from 1 to 2**63 - 1, never a bool.

    ``True == 1`` in Python, so without this check ``delete_model(True)``
    would delete id 1; and ids past 2**63 - 1 cannot exist in any store.
    """
    if type(value) is int and 1 <= value <= INT64_MAX:
        return value  # the common case
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidMetadataError(
            field_name, f"must be a positive integer, got {type(value).__name__} {value!r}"
        )
    return check_int(field_name, value, minimum=1)


def check_name(field_name: str, value: object) -> str:
    """Validate a model name (or anything used as one) and say which rule it broke."""
    # Fast path for a valid name (every stored row is re-validated on read):
    # the pattern already excludes separators, NUL and control characters.
    if (
        type(value) is str
        and len(value) <= MAX_NAME_LENGTH
        and ".." not in value
        and NAME_PATTERN.fullmatch(value)
    ):
        return value
    if not isinstance(value, str):
        raise InvalidMetadataError(field_name, f"must be a string, got {type(value).__name__}")
    if not value:
        raise InvalidMetadataError(field_name, "must not be empty")
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidMetadataError(
            field_name, f"is {len(value)} characters long; the limit is {MAX_NAME_LENGTH}"
        )
    for forbidden, label in (("/", "'/'"), ("\\", "'\\'"), ("\x00", "NUL"), ("..", "'..'")):
        if forbidden in value:
            raise InvalidMetadataError(field_name, f"{value!r} must not contain {label}")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise InvalidMetadataError(field_name, f"{value!r} must not contain control characters")
    if not NAME_PATTERN.fullmatch(value):
        raise InvalidMetadataError(
            field_name,
            f"{value!r} may use only letters, digits, '.', '_' and '-', "
            "and must start with a letter or digit",
        )
    return value


def check_key_suffix(field_name: str, value: object) -> str:
    """Validate a file extension (``""`` for none) that keys and exported names end with."""
    if value == "":
        return ""
    if not isinstance(value, str) or not KEY_SUFFIX_PATTERN.fullmatch(value):
        raise InvalidMetadataError(
            field_name,
            f"file extension {value!r} must be a dot and 1 to 16 letters or digits, "
            "at most three times (e.g. '.joblib', '.pkl.gz')",
        )
    return value


def check_artifact_key(field_name: str, value: object) -> str:
    """Validate a storage key: a relative POSIX path that stays where it is put.

    Every part is a plain name (no ``..``, ``.``, empty part, backslash or
    control character) and the last part's extension, if any, passes
    :func:`check_key_suffix`, because exports and imports reuse it in file names.
    """
    # Every stored row is re-validated on read: the common key is one match.
    if type(value) is str and len(value) <= 1024 and _PLAIN_KEY.fullmatch(value):
        return value
    if not isinstance(value, str):
        raise InvalidMetadataError(field_name, f"must be a string, got {type(value).__name__}")
    if (
        not value
        or len(value) > 1024
        or value.startswith("/")
        or "\\" in value
        or any(ord(ch) < 32 or ord(ch) == 127 for ch in value)
        or any(part in ("", ".", "..") for part in value.split("/"))
    ):
        raise InvalidMetadataError(
            field_name,
            f"{value!r} is not a safe relative key (absolute, '..', '.', empty part, "
            "backslash or control character)",
        )
    last = value.rsplit("/", 1)[-1]
    stem, dot, extension = last.rpartition(".")
    if dot and stem:
        check_key_suffix(field_name, f".{extension}")
    return value


def check_metric_name(value: object) -> str:
    if not isinstance(value, str) or not METRIC_NAME_PATTERN.fullmatch(value):
        raise InvalidMetadataError(
            "metrics",
            f"metric name {value!r} must match {METRIC_NAME_PATTERN.pattern} "
            "(a letter or '_', then letters, digits, '_', '.', '-', '/'; at most 128)",
        )
    return value


def check_metric_value(name: str, value: object) -> float:
    if type(value) is float and math.isfinite(value):
        return value  # the common case, without the numbers.Real ABC check
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidMetadataError(
            "metrics", f"{name}: must be a real number, got {type(value).__name__} {value!r}"
        )
    try:
        number = float(value)
    except OverflowError:
        raise InvalidMetadataError(
            "metrics", f"{name}: is too large for a float (at most about 1.8e308)"
        ) from None
    if not math.isfinite(number):
        raise InvalidMetadataError("metrics", f"{name}: must be finite, got {number!r}")
    return number


def _to_metrics(value: object) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidMetadataError("metrics", f"must be a mapping, got {type(value).__name__}")
    return {check_metric_name(k): check_metric_value(k, v) for k, v in value.items()}


def _to_json(path: str, value: object, depth: int = 0, on_path: set[int] | None = None) -> Any:
    """Copy ``value`` into plain JSON types, or say where it cannot be held.

    ``on_path`` holds the containers on the way down, so a value that
    contains itself is named as such instead of recursing until Python
    gives up.
    """
    kind = type(value)
    if kind is bool or value is None:
        return value
    if kind is str:
        text: str = value  # type: ignore[assignment]
        return text if text.isascii() else check_unicode(path, text)
    if kind is int:
        return value if INT64_MIN <= value <= INT64_MAX else check_int(path, value)  # type: ignore[operator]
    if kind is float and math.isfinite(value):  # type: ignore[arg-type]
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        return check_unicode(path, str(value))
    # Containers before numbers: a dict is then never put through the
    # numbers ABCs, whose isinstance checks are slow.
    if kind is dict or isinstance(value, (Mapping, list, tuple)):
        on_path = set() if on_path is None else on_path
        if id(value) in on_path:
            raise InvalidMetadataError(path, "contains itself; JSON values cannot be circular")
        if depth >= MAX_JSON_DEPTH:
            raise InvalidMetadataError(
                path, f"is nested more than {MAX_JSON_DEPTH} levels deep; flatten it"
            )
        on_path.add(id(value))
        if isinstance(value, (list, tuple)):
            items = [
                _to_json(f"{path}[{i}]", item, depth + 1, on_path) for i, item in enumerate(value)
            ]
            on_path.discard(id(value))
            return items
        out: dict[str, JSONValue] = {}
        for key, item in value.items():  # type: ignore[attr-defined]
            if type(key) is not str:
                if not isinstance(key, str):
                    raise InvalidMetadataError(path, f"key {key!r} must be a string for JSON")
                key = str(key)
            if not key.isascii():
                check_unicode(f"{path} key", key)
            out[key] = _to_json(f"{path}.{key}", item, depth + 1, on_path)
        on_path.discard(id(value))
        return out
    if isinstance(value, numbers.Integral):
        return check_int(path, value)
    if isinstance(value, numbers.Real):
        try:
            number = float(value)
        except OverflowError:
            raise InvalidMetadataError(
                path, "is too large for a float (at most about 1.8e308)"
            ) from None
        if not math.isfinite(number):
            raise InvalidMetadataError(path, f"{number!r} cannot be stored as JSON (not finite)")
        return number
    raise InvalidMetadataError(
        path, f"a value of type {type(value).__name__} cannot be stored as JSON"
    )


def _to_hyperparameters(value: object) -> dict[str, JSONValue]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidMetadataError(
            "hyperparameters", f"must be a mapping, got {type(value).__name__}"
        )
    result = _to_json("hyperparameters", value)
    assert isinstance(result, dict)
    return result


def _to_tags(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidMetadataError("tags", f"must be a mapping, got {type(value).__name__}")
    tags: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not METRIC_NAME_PATTERN.fullmatch(key):
            raise InvalidMetadataError(
                "tags", f"tag key {key!r} must match {METRIC_NAME_PATTERN.pattern}"
            )
        if not isinstance(item, str):
            raise InvalidMetadataError("tags", f"{key}: value must be a string, got {item!r}")
        tags[key] = item if item.isascii() else check_unicode(f"tags: {key}", item)
    return tags


def check_text(field_name: str, limit: int, value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidMetadataError(field_name, f"must be a string, got {type(value).__name__}")
    if len(value) > limit:
        raise InvalidMetadataError(field_name, f"is longer than {limit} characters")
    if "\x00" in value:
        raise InvalidMetadataError(field_name, "must not contain NUL")
    return value if value.isascii() else check_unicode(field_name, value)


def _to_model_type(value: object) -> str:
    return check_text("model_type", MAX_NAME_LENGTH, value)


def _to_description(value: object) -> str:
    return check_text("description", 100_000, value)


def _to_dataset(value: object) -> str:
    return check_text("training_info.dataset", 1024, value)


def _to_extra(value: object) -> dict[str, JSONValue]:
    result = _to_json("training_info.extra", value or {})
    if not isinstance(result, dict):
        raise InvalidMetadataError("training_info.extra", "must be a mapping")
    return result


def _to_utc(value: object) -> datetime:
    if not isinstance(value, datetime):
        raise InvalidMetadataError("created_at", f"must be a datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidMetadataError("created_at", "must be timezone-aware (UTC)")
    return value.astimezone(timezone.utc)


def _to_aliases(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, (list, tuple, set, frozenset)):
        raise InvalidMetadataError("aliases", "must be a sequence of strings")
    names = tuple(sorted(value)) if isinstance(value, (set, frozenset)) else tuple(value)
    for name in names:
        if not isinstance(name, str) or not ALIAS_PATTERN.fullmatch(name):
            raise InvalidMetadataError("aliases", f"{name!r} must match {ALIAS_PATTERN.pattern}")
    return names


def _to_feature_names(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        raise InvalidMetadataError("feature_names", "must be a sequence of strings, not a string")
    if not isinstance(value, Iterable):
        raise InvalidMetadataError("feature_names", "must be a sequence of strings")
    try:
        names = tuple(value)
    except TypeError as exc:
        raise InvalidMetadataError("feature_names", "must be a sequence of strings") from exc
    for name in names:
        if type(name) is not str and not isinstance(name, str):
            raise InvalidMetadataError("feature_names", f"{name!r} is not a string")
        if not name.isascii():
            check_unicode("feature_names", name)
    return names


def _name_validator(instance: object, attribute: Any, value: Any) -> None:
    check_name(attribute.name, value)


def _key_validator(instance: object, attribute: Any, value: Any) -> None:
    check_artifact_key(attribute.name, value)


def _positive_id(instance: object, attribute: Any, value: Any) -> None:
    check_model_id(value, attribute.name)


def _optional_positive_id(instance: object, attribute: Any, value: Any) -> None:
    if value is not None:
        _positive_id(instance, attribute, value)


def _version_validator(instance: object, attribute: Any, value: Any) -> None:
    if not isinstance(value, str) or not value or len(value) > 64:
        raise InvalidMetadataError(
            "version", f"must be a non-empty string of at most 64, got {value!r}"
        )
    if not NAME_PATTERN.fullmatch(value.replace("+", "")):
        raise InvalidMetadataError("version", f"{value!r} has characters a version cannot hold")


def _sha256_validator(instance: object, attribute: Any, value: Any) -> None:
    if not isinstance(value, str) or not SHA256_PATTERN.fullmatch(value):
        raise InvalidMetadataError(
            attribute.name, f"must be 64 lowercase hex digits, got {value!r}"
        )


def _size_validator(instance: object, attribute: Any, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidMetadataError(attribute.name, f"must be an integer >= 0, got {value!r}")
    check_int(attribute.name, value, minimum=0)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _to_n_samples(value: object) -> int | None:
    if value is None or (type(value) is int and 0 <= value <= INT64_MAX):
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 0:
        raise InvalidMetadataError("training_info.n_samples", f"must be an int >= 0, got {value!r}")
    return check_int("training_info.n_samples", value, minimum=0)


def _to_class_distribution(value: object) -> dict[str, int]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidMetadataError(
            "training_info.class_distribution",
            f"must be a mapping of class label to count, got {type(value).__name__}",
        )
    counts: dict[str, int] = {}
    for key, count in value.items():
        if not isinstance(key, str) or isinstance(count, bool) or not isinstance(count, int):
            raise InvalidMetadataError(
                "training_info.class_distribution", f"{key!r}: {count!r} must map str to int"
            )
        check_unicode("training_info.class_distribution", key)
        counts[key] = check_int(f"training_info.class_distribution.{key}", count, minimum=0)
    return counts


def _to_quality(value: object) -> float | None:
    if value is None:
        return None
    return check_metric_value("training_info.data_quality_score", value)


def _to_is_ensemble(value: object) -> bool:
    """Only a real boolean: ``bool("no")`` is True, which would earn a model
    the composite policy's ensemble bonus for saying it is not one."""
    if type(value) is bool:
        return value
    if type(value).__name__ == "bool_" and type(value).__module__ == "numpy":
        return bool(value)  # numpy.bool_, e.g. from a computed flag
    raise InvalidMetadataError(
        "training_info.is_ensemble",
        f"must be True or False, got {type(value).__name__} {value!r}",
    )


def check_alias(value: object) -> str:
    if not isinstance(value, str) or not ALIAS_PATTERN.fullmatch(value):
        raise InvalidMetadataError(
            "alias",
            f"{value!r} must match {ALIAS_PATTERN.pattern} (and cannot look like a version)",
        )
    return value
