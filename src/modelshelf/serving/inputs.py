"""Request bodies into tables, predictions into JSON: the scoring protocol of
``mlflow models serve``, as pure functions.

A client written for MLflow's scoring server must work unchanged, so the
bodies and the answers follow MLflow's rules:

- ``application/json``: an object with exactly one of ``dataframe_split``
  (``{"columns": [...], "data": [[...]], "index": [...]}``, ``columns`` and
  ``index`` optional), ``dataframe_records`` (``[{"col": value}, ...]``),
  ``instances`` (rows, or records) or ``inputs`` (rows, or ``{"col": [...]}``),
  and optionally ``params`` (an object). Other keys are ignored, as MLflow
  ignores them.
- ``text/csv``: a header row, then the rows (what ``DataFrame.to_csv(index=False)``
  writes).
- Only UTF-8: a ``charset`` other than ``utf-8``, another content-type
  parameter, or another content type is a 415.
- The answer is ``{"predictions": [...]}``; a malformed body is a 400 whose body
  is ``{"error_code": "BAD_REQUEST", "message": "..."}``.

One rule is ours: the bundled serializers hold tabular models, so an input
must be a table. A 1-D list, a scalar, or an empty table is refused here,
with a message that says how to send one row, rather than failing inside the
model.
"""

from __future__ import annotations

import io
import json
import math
from typing import Any

import numpy as np
import pandas as pd
from attrs import frozen

from modelshelf.errors import InvalidInputError

__all__ = [
    "CSV",
    "FORMATS",
    "JSON",
    "BodyTooLargeError",
    "InvalidRequestError",
    "ParsedRequest",
    "UnsupportedMediaTypeError",
    "parse_body",
    "parse_csv",
    "parse_json",
    "to_jsonable",
]

JSON = "application/json"
CSV = "text/csv"
#: The JSON input fields MLflow's scoring server accepts; a body names exactly one.
FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
PARAMS = "params"


class InvalidRequestError(InvalidInputError):
    """A request body the server cannot turn into a table: answered with
    ``status`` and ``{"error_code": error_code, "message": ...}``."""

    status = 400
    error_code = "BAD_REQUEST"


class UnsupportedMediaTypeError(InvalidRequestError):
    """A content type (or charset) the server does not read: a 415."""

    status = 415


class BodyTooLargeError(InvalidRequestError):
    """A body over the server's limit: a 413, refused before it is parsed."""

    status = 413


@frozen(kw_only=True)
class ParsedRequest:
    """What a body says: the rows (a DataFrame when its columns are named, else
    a 2-D array), the ``params`` object if any, and which format it came in."""

    rows: Any
    params: dict[str, Any] | None
    format: str


def parse_body(body: bytes, content_type: str | None) -> ParsedRequest:
    """Parse a request body by its content type; see the module's rules."""
    mime = _media_type(content_type)
    if mime == CSV:
        return parse_csv(body)
    return parse_json(body)


def _media_type(content_type: str | None) -> str:
    if not content_type:
        raise UnsupportedMediaTypeError(
            f"give a Content-Type: {JSON} or {CSV} (the body's format cannot be guessed)"
        )
    mime, *parameters = (part.strip() for part in content_type.split(";"))
    mime = mime.lower()
    for parameter in parameters:
        key, _, value = parameter.partition("=")
        key, value = key.strip().lower(), value.strip().strip('"').lower()
        if key != "charset":
            raise UnsupportedMediaTypeError(
                f"unrecognized content type parameter {key!r}: only charset=utf-8 is accepted"
            )
        if value not in ("utf-8", "utf8"):
            raise UnsupportedMediaTypeError(
                f"charset {value!r} is not supported: the server reads UTF-8 only"
            )
    if mime not in (JSON, CSV):
        raise UnsupportedMediaTypeError(
            f"content type {mime!r} is not supported: send {JSON} or {CSV}"
        )
    return mime


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequestError(f"the body is not valid UTF-8: {exc}") from None


def parse_csv(body: bytes) -> ParsedRequest:
    """A CSV body with a header row, read as pandas reads it."""
    text = _text(body)
    if not text.strip():
        raise InvalidRequestError("the CSV body is empty: send a header row, then the rows")
    try:
        frame = pd.read_csv(io.StringIO(text))
    except (ValueError, pd.errors.ParserError) as exc:
        raise InvalidRequestError(
            f"the body is not CSV with a header row (as DataFrame.to_csv writes it): {exc}"
        ) from None
    return ParsedRequest(rows=_table(frame, "the CSV body"), params=None, format="csv")


def parse_json(body: bytes) -> ParsedRequest:
    """A JSON body in one of MLflow's four input formats."""
    try:
        decoded = json.loads(_text(body))
    except json.JSONDecodeError as exc:
        raise InvalidRequestError(f"the body is not valid JSON: {exc}") from None
    expected = f"a JSON object with exactly one of the fields {', '.join(FORMATS)}"
    if not isinstance(decoded, dict):
        raise InvalidRequestError(f"the input must be {expected}; received {_kind(decoded)}")
    named = [key for key in FORMATS if key in decoded]
    if len(named) != 1:
        raise InvalidRequestError(
            f"the input must be {expected}; received the fields {sorted(decoded)}"
        )
    params = decoded.get(PARAMS)
    if params is not None and not isinstance(params, dict):
        raise InvalidRequestError(f"params must be a JSON object, not {_kind(params)}")
    name = named[0]
    rows = _PARSERS[name](decoded[name])
    return ParsedRequest(rows=_table(rows, name), params=params, format=name)


def _kind(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")


def _split(value: object) -> Any:
    if not isinstance(value, dict):
        raise InvalidRequestError(
            f"dataframe_split must be an object with 'data' and optionally 'columns' and "
            f"'index'; received {_kind(value)}"
        )
    keys = set(value)
    if "data" not in keys or keys - {"columns", "data", "index"}:
        raise InvalidRequestError(
            "dataframe_split must have a 'data' field and optionally 'columns' and 'index'; "
            f"received the fields {sorted(keys)}"
        )
    try:
        return pd.DataFrame(
            data=value["data"], columns=value.get("columns"), index=value.get("index")
        )
    except (ValueError, TypeError) as exc:
        raise InvalidRequestError(f"dataframe_split is not a valid table: {exc}") from None


def _records(value: object) -> Any:
    if not isinstance(value, list):
        raise InvalidRequestError(
            f"dataframe_records must be a list of records; received {_kind(value)}"
        )
    try:
        return pd.DataFrame(data=value)
    except (ValueError, TypeError) as exc:
        raise InvalidRequestError(f"dataframe_records is not a valid table: {exc}") from None


def _instances(value: object) -> Any:
    if not isinstance(value, list):
        raise InvalidRequestError(
            f"instances must be a list of rows or of records; received {_kind(value)}"
        )
    if value and isinstance(value[0], dict):
        if not all(isinstance(item, dict) for item in value):
            raise InvalidRequestError("instances mixes records (objects) with other values")
        # Records become columns, as MLflow turns them into a column mapping.
        columns: dict[str, list[Any]] = {}
        for item in value:
            for key, cell in item.items():
                columns.setdefault(key, []).append(cell)
        return _columns(columns, "instances")
    return _array(value, "instances")


def _inputs(value: object) -> Any:
    if isinstance(value, dict):
        return _columns(value, "inputs")
    if isinstance(value, list):
        if value and all(isinstance(item, dict) for item in value):
            return _records(value)
        return _array(value, "inputs")
    raise InvalidRequestError(
        f"inputs must be a list of rows or an object of columns; received {_kind(value)}"
    )


def _columns(columns: dict[str, Any], field: str) -> Any:
    lengths = {}
    for name, values in columns.items():
        if not isinstance(values, list):
            raise InvalidRequestError(
                f"{field}: column {name!r} must be a list of values, not {_kind(values)}"
            )
        lengths[name] = len(values)
    if len(set(lengths.values())) > 1:
        raise InvalidRequestError(
            f"{field}: the columns have different lengths ({lengths}); every column needs "
            "one value per row"
        )
    return pd.DataFrame(columns)


def _array(rows: list[Any], field: str) -> Any:
    try:
        array = np.array(rows)
    except ValueError as exc:
        raise InvalidRequestError(
            f"{field}: the rows must all have the same length ({exc})"
        ) from None
    if array.ndim == 1 and array.size:
        raise InvalidRequestError(
            f"{field} must be a list of rows (lists), not a list of {array.size} values: "
            "send one row as [[...]]"
        )
    if array.dtype == object and any(isinstance(row, list) for row in rows):
        raise InvalidRequestError(f"{field}: the rows must all have the same length")
    return array


_PARSERS = {
    "dataframe_split": _split,
    "dataframe_records": _records,
    "instances": _instances,
    "inputs": _inputs,
}


def _table(rows: Any, source: str) -> Any:
    """Refuse what is not a non-empty 2-D table, before the model sees it."""
    if isinstance(rows, pd.DataFrame):
        if rows.shape[0] == 0 or rows.shape[1] == 0:
            raise InvalidRequestError(f"{source} holds no rows: send at least one")
        return rows
    if rows.ndim != 2 or rows.shape[0] == 0 or rows.shape[1] == 0:
        if rows.size == 0:
            raise InvalidRequestError(f"{source} holds no rows: send at least one")
        raise InvalidRequestError(
            f"{source} must be a table (a list of rows); got an array of shape {rows.shape}"
        )
    return rows


def _named(frame: Any) -> bool:
    return isinstance(frame, pd.DataFrame) and all(isinstance(c, str) for c in frame.columns)


def to_jsonable(values: Any) -> Any:
    """Predictions as JSON values: arrays and Series become lists, a DataFrame
    a list of records (as MLflow answers), numpy scalars Python numbers, and
    NaN or infinity ``null`` (JSON has neither)."""
    if isinstance(values, pd.DataFrame):
        return to_jsonable(values.to_dict(orient="records"))
    if isinstance(values, (pd.Series, pd.Index)):
        return to_jsonable(values.to_numpy())
    if isinstance(values, np.ndarray):
        if values.dtype.kind == "f" and np.isfinite(values).all():
            return values.tolist()
        return to_jsonable(values.tolist())
    if isinstance(values, np.generic):
        return to_jsonable(values.item())
    if isinstance(values, float):
        return values if math.isfinite(values) else None
    if isinstance(values, (list, tuple)):
        return [to_jsonable(v) for v in values]
    if isinstance(values, dict):
        return {str(k): to_jsonable(v) for k, v in values.items()}
    if values is None or isinstance(values, (str, int, bool)):
        return values
    raise TypeError(f"a prediction of type {type(values).__name__} cannot be sent as JSON")
