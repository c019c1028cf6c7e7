"""Inferring a signature from an example, and keeping a few rows as the stored example.

Public through :mod:`modelshelf.signatures`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from modelshelf._signature_data import (
    _SUPPORTED,
    _array_dtype,
    _as_array,
    _bad_example,
    _column_dtype,
    _is_array,
    _is_frame,
    _is_missing,
    _is_series,
    _module,
    _records,
    _values_dtype,
)
from modelshelf._signature_types import (
    DTYPES,
    MAX_DIMENSIONS,
    MAX_EXAMPLE_BYTES,
    MAX_EXAMPLE_ROWS,
    ColumnSpec,
    Schema,
    Signature,
    TensorSpec,
)

# -- inference ----------------------------------------------------------------------


def _frame_schema(frame: Any) -> Schema:
    if len(frame.index) == 0:
        raise _bad_example("the DataFrame has no rows; give at least one")
    labels = [str(label) for label in frame.columns]
    if len(set(labels)) != len(labels):
        twice = sorted({label for label in labels if labels.count(label) > 1})
        raise _bad_example(f"column(s) {', '.join(map(repr, twice))} appear more than once")
    columns = []
    for position, label in enumerate(labels):
        column = frame.iloc[:, position]
        if bool(column.isna().all()):
            raise _bad_example(
                f"column {label!r} has only missing values, so its type cannot be inferred; "
                "give an example with a value in every column"
            )
        dtype = _column_dtype(column)
        if dtype is None:
            raise _bad_example(
                f"column {label!r} holds {column.dtype} values of mixed or unsupported types; "
                f"columns are one of: {', '.join(DTYPES)}"
            )
        columns.append(ColumnSpec(name=label, dtype=dtype))
    return Schema(columns=columns)


def _records_schema(records: list[Mapping[str, Any]]) -> Schema:
    try:
        import pandas as pd
    except ImportError:
        pass
    else:
        return _frame_schema(pd.DataFrame.from_records(records))
    names: list[str] = []
    for record in records:
        for key in record:
            if str(key) not in names:
                names.append(str(key))
    columns = []
    for name in names:
        values = [record.get(name) for record in records]
        if all(_is_missing(v) for v in values):
            raise _bad_example(
                f"column {name!r} has only missing values, so its type cannot be inferred"
            )
        dtype = _values_dtype(values)
        if dtype is None:
            raise _bad_example(f"column {name!r} holds values of mixed or unsupported types")
        columns.append(ColumnSpec(name=name, dtype=dtype))
    return Schema(columns=columns)


def _array_schema(array: Any) -> Schema:
    if array.ndim == 0 or array.shape[0] == 0:
        raise _bad_example(f"the array has shape {array.shape}; give at least one row")
    if array.ndim > MAX_DIMENSIONS:
        raise _bad_example(f"the array has {array.ndim} dimensions; at most {MAX_DIMENSIONS}")
    dtype = _array_dtype(array)
    if dtype is None:
        raise _bad_example(
            f"the array's dtype {array.dtype} (mixed or unsupported values) is not one of: "
            f"{', '.join(DTYPES)}"
        )
    if all(_is_missing(v) for v in array.ravel().tolist()):
        raise _bad_example("the array holds only missing values (NaN); give real data")
    return Schema(tensor=TensorSpec(dtype=dtype, shape=(None, *array.shape[1:])))


def infer_schema(data: Any) -> Schema:
    """The schema of ``data``: columns for a DataFrame or records, a tensor for arrays and rows.

    :raises InvalidMetadataError: for an unsupported type, no rows, or a
        column whose type cannot be told (only missing values, mixed types).
    """
    if _is_frame(data):
        return _frame_schema(data)
    if _is_series(data):
        return _array_schema(data.to_numpy())
    if _is_array(data):
        return _array_schema(data)
    if isinstance(data, (list, tuple)):
        if not data:
            raise _bad_example("the example is empty; give at least one row")
        records = _records(data)
        if records is not None:
            return _records_schema(records)
        if any(isinstance(row, Mapping) for row in data):
            raise _bad_example("mixes records (dicts) with other rows; give one kind")
        return _array_schema(_as_array(data, "an example"))
    raise _bad_example(f"a {type(data).__name__} cannot be an input example; {_SUPPORTED}")


def infer_signature(model_input: Any, model_output: Any = None) -> Signature:
    """The signature of a model taking ``model_input`` (and giving ``model_output``).

    ``model_input`` is a pandas DataFrame (column names and dtypes are
    recorded), a numpy array (its dtype and shape, the first dimension
    left free), or a list of records (dicts, like a DataFrame) or rows.
    ``model_output`` is optional, typically the target ``y``.

    :raises InvalidMetadataError: when the data cannot describe an input.
    """
    inputs = infer_schema(model_input)
    outputs = None if model_output is None else infer_schema(model_output)
    return Signature(inputs=inputs, outputs=outputs)


# -- the stored example -------------------------------------------------------------


def _json_scalar(value: Any, where: str) -> Any:
    if _is_missing(value):
        return None
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**63 else str(value)
    if isinstance(value, float):
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if _module(value) == "numpy" and hasattr(value, "item"):
        item = value.item()
        if isinstance(item, int) and getattr(value.dtype, "kind", "") == "M":
            item = str(value)  # datetime64 in ns: item() is an int of nanoseconds
        return _json_scalar(item, where)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise _bad_example(f"{where} holds a {type(value).__name__}, which has no JSON form")


def _json_rows(value: Any, where: str) -> Any:
    if isinstance(value, (list, tuple)):
        return [_json_rows(item, where) for item in value]
    return _json_scalar(value, where)


def first_rows(data: Any, limit: int = MAX_EXAMPLE_ROWS) -> Any:
    """The first ``limit`` rows of ``data``, in its own form (a DataFrame stays one)."""
    if _is_frame(data):
        return data.head(limit)
    if _is_array(data) or _is_series(data) or isinstance(data, (list, tuple)):
        return data[:limit]
    return data


def example_rows(data: Any, *, limit: int = MAX_EXAMPLE_ROWS) -> list[Any] | None:
    """The first rows of ``data`` as JSON-safe values, to keep beside the signature.

    A table becomes a list of records, an array nested lists; missing values
    become null and date-times ISO text. Rows are dropped from the end until
    the JSON fits in :data:`MAX_EXAMPLE_BYTES`; if one row alone does not,
    there is no example (None): the signature still says what it would show.
    """
    if _is_frame(data):
        head = data.head(limit)
        labels = [str(label) for label in head.columns]
        rows: list[Any] = [
            {
                label: _json_scalar(value, f"column {label!r}")
                for label, value in zip(labels, row, strict=True)
            }
            for row in head.itertuples(index=False, name=None)
        ]
    elif _is_array(data) or _is_series(data):
        rows = _json_rows(data[:limit].tolist(), "the array")
    elif (records := _records(data)) is not None:
        rows = [
            {str(k): _json_scalar(v, f"column {str(k)!r}") for k, v in record.items()}
            for record in records[:limit]
        ]
    elif isinstance(data, (list, tuple)):
        rows = _json_rows(list(data[:limit]), "the rows")
    else:
        raise _bad_example(f"a {type(data).__name__} cannot be an input example; {_SUPPORTED}")
    while rows and len(json.dumps(rows, allow_nan=False)) > MAX_EXAMPLE_BYTES:
        rows.pop()
    return rows or None
