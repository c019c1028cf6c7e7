"""Checking input against a schema before the model sees it.

Every column present, no extra one, each of a dtype that widens to the recorded one;
public through :mod:`modelshelf.signatures`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelshelf._signature_data import (
    _SUPPORTED,
    _array_dtype,
    _as_array,
    _dtype_name,
    _is_array,
    _is_frame,
    _is_series,
    _records,
    _values_dtype,
)
from modelshelf._signature_types import (
    FLOAT_DTYPES,
    INTEGER_DTYPES,
    Schema,
)
from modelshelf.errors import InvalidMetadataError, SchemaError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

# -- checking input -----------------------------------------------------------------


_FLOAT_BITS_FOR_INT = {8: 16, 16: 32, 32: 64, 64: 64}


def _split(dtype: str) -> tuple[str, int]:
    for kind in ("uint", "int", "float"):
        if dtype.startswith(kind):
            return kind, int(dtype[len(kind) :])
    return dtype, 0


def can_widen(actual: str, expected: str) -> bool:
    """Whether ``actual`` values fit ``expected`` without loss (numpy's "safe" casting).

    An int column may go where a float is expected, a float32 where a
    float64 is; text never goes where a number is, nor a float where an int is.
    """
    if actual == expected:
        return True
    numeric = (*INTEGER_DTYPES, *FLOAT_DTYPES)
    if expected not in numeric or actual not in ("bool", *numeric):
        return False
    if actual == "bool":
        return True
    have, have_bits = _split(actual)
    want, want_bits = _split(expected)
    if want == "float":
        needed = have_bits if have == "float" else _FLOAT_BITS_FOR_INT[have_bits]
        return want_bits >= needed
    if have == "float":
        return False
    if have == want:
        return want_bits >= have_bits
    return have == "uint" and want == "int" and want_bits > have_bits


def _refuse_dtype(column: str | None, actual: str | None, expected: str) -> None:
    if actual is not None and can_widen(actual, expected):
        return
    where = f"column {column!r}" if column is not None else "the array"
    numeric = (*INTEGER_DTYPES, *FLOAT_DTYPES)
    if actual is None:
        got, why = "values of mixed or unsupported types", f"every value must be {expected}"
    elif actual in numeric and expected in numeric:
        got, why = actual, f"{actual} does not fit in {expected} without loss"
    else:
        got, why = actual, f"{actual} values cannot be used as {expected}"
    raise SchemaError(
        f"{where}: expected {expected}, got {got} ({why})",
        problem="dtype",
        column=column,
        expected=expected,
        actual=got,
    )


def _duplicates(labels: Sequence[str]) -> list[str]:
    return sorted({label for label in labels if labels.count(label) > 1})


def _check_frame(schema: Schema, frame: Any, *, from_json: bool = False) -> Any:
    """Check a DataFrame's columns and return them in the signature's order.

    ``from_json``: the frame was built from lists (records or rows), whose
    values carry no dtype of their own, so date-times may arrive as ISO text
    and missing floats as null; those are converted rather than refused.
    """
    strings = [str(label) for label in frame.columns]
    twice = _duplicates(strings)
    if twice:
        raise SchemaError(
            f"column {twice[0]!r} appears more than once in the input",
            problem="extra",
            column=twice[0],
            columns=twice,
        )
    labels = dict(zip(strings, frame.columns, strict=True))
    names = schema.names
    missing = [name for name in names if name not in labels]
    if missing:
        raise SchemaError(
            f"missing column(s) {', '.join(map(repr, missing))}; the model takes "
            f"{', '.join(map(repr, names))}",
            problem="missing",
            column=missing[0],
            columns=missing,
            expected=", ".join(names),
        )
    known = set(names)
    extra = [label for label in strings if label not in known]
    if extra:
        raise SchemaError(
            f"unexpected column(s) {', '.join(map(repr, extra))}; the model takes only "
            f"{', '.join(map(repr, names))}",
            problem="extra",
            column=extra[0],
            columns=extra,
            expected=", ".join(names),
        )
    # Already in order (the usual case): no copy, and no pandas indexing per call.
    ordered = frame if strings == list(names) else frame[[labels[name] for name in names]]
    dtypes = dict(zip(names, ordered.dtypes, strict=True))
    changed: dict[Any, Any] = {}
    for spec in schema.columns:
        label = labels[spec.name]
        actual = _dtype_name(dtypes[spec.name])
        if actual == spec.dtype:
            continue
        column = ordered[label]
        if actual is None and str(column.dtype) == "object":
            actual = _values_dtype(column.tolist())
        if actual is None and len(column.index) and bool(column.isna().all()):
            if spec.dtype in FLOAT_DTYPES or spec.dtype in ("string", "datetime"):
                if spec.dtype in FLOAT_DTYPES:
                    changed[label] = column.astype(spec.dtype)
                elif spec.dtype == "datetime":
                    changed[label] = _parse_datetimes(spec.name, column)
                continue  # missing values, where the model's column may hold them
            raise SchemaError(
                f"column {spec.name!r}: only missing values, which a {spec.dtype} column "
                f"cannot hold; the model takes {schema.describe()}",
                problem="dtype",
                column=spec.name,
                expected=spec.dtype,
                actual="missing",
            )
        if from_json and spec.dtype == "datetime" and actual == "string":
            changed[label] = _parse_datetimes(spec.name, column)
            continue
        _refuse_dtype(spec.name, actual, spec.dtype)
        if actual != spec.dtype and spec.dtype in (*INTEGER_DTYPES, *FLOAT_DTYPES):
            changed[label] = column.astype(spec.dtype)
    if changed:
        ordered = ordered.copy()
        for label, values in changed.items():
            ordered[label] = values
    return ordered


def _parse_datetimes(name: str, column: Any) -> Any:
    import pandas as pd

    try:
        return pd.to_datetime(column)
    except (ValueError, TypeError) as exc:
        raise SchemaError(
            f"column {name!r}: expected datetime, got text that is not a date-time ({exc})",
            problem="dtype",
            column=name,
            expected="datetime",
            actual="string",
        ) from None


def _check_array(schema: Schema, array: Any) -> Any:
    tensor = schema.tensor
    assert tensor is not None
    expected = tensor.shape
    if array.ndim != len(expected):
        hint = (
            "; a single row is a batch of one: X.reshape(1, -1)"
            if array.ndim == 1 and len(expected) == 2
            else ""
        )
        raise SchemaError(
            f"expected a {len(expected)}-dimensional array of shape {tensor.shown_shape()}, "
            f"got {array.ndim} dimension(s), shape {tuple(array.shape)}{hint}",
            problem="shape",
            expected=tensor.shown_shape(),
            actual=str(tuple(array.shape)),
        )
    for axis, (want, have) in enumerate(zip(expected, array.shape, strict=True)):
        if want is not None and want != have:
            what = (
                f"{want} features per row" if len(expected) == 2 else f"size {want} on axis {axis}"
            )
            raise SchemaError(
                f"expected {what} (shape {tensor.shown_shape()}), got {have} "
                f"(shape {tuple(array.shape)})",
                problem="shape",
                expected=tensor.shown_shape(),
                actual=str(tuple(array.shape)),
            )
    actual = _array_dtype(array)
    _refuse_dtype(None, actual, tensor.dtype)
    if actual != tensor.dtype and tensor.dtype in (*INTEGER_DTYPES, *FLOAT_DTYPES):
        return array.astype(tensor.dtype)
    return array


def _check_records_plain(schema: Schema, records: list[Mapping[str, Any]]) -> Any:
    """Records checked without pandas: rows in the signature's order."""
    names = schema.names
    keys: list[str] = []
    for record in records:
        keys.extend(str(k) for k in record if str(k) not in keys)
    missing = [name for name in names if name not in keys]
    if missing:
        raise SchemaError(
            f"missing column(s) {', '.join(map(repr, missing))}; the model takes "
            f"{', '.join(map(repr, names))}",
            problem="missing",
            column=missing[0],
            columns=missing,
        )
    extra = [key for key in keys if key not in names]
    if extra:
        raise SchemaError(
            f"unexpected column(s) {', '.join(map(repr, extra))}; the model takes only "
            f"{', '.join(map(repr, names))}",
            problem="extra",
            column=extra[0],
            columns=extra,
        )
    for spec in schema.columns:
        values = [{str(k): v for k, v in r.items()}.get(spec.name) for r in records]
        _refuse_dtype(spec.name, _values_dtype(values), spec.dtype)
    rows = [[{str(k): v for k, v in r.items()}.get(name) for name in names] for r in records]
    try:
        import numpy as np
    except ImportError:
        return rows
    return np.asarray(rows)


def _frame_from_rows(schema: Schema, rows: Any) -> Any:
    import pandas as pd

    frame = pd.DataFrame(rows, columns=list(schema.names))
    return frame.infer_objects() if any(str(dtype) == "object" for dtype in frame.dtypes) else frame


def prepare_input(schema: Schema, data: Any) -> Any:
    """Check ``data`` against ``schema`` and return it as the model should get it.

    A table's columns are put in the signature's order (a DataFrame stays a
    DataFrame); an array or rows for a table become a DataFrame with the
    signature's names (with pandas installed). Numbers of a narrower dtype
    are widened to the recorded one.

    :raises SchemaError: naming the missing, extra or mistyped column, or
        the shape that does not fit.
    """
    if schema.tensor is not None:
        if _is_frame(data) or _is_series(data):
            return _check_array(schema, data.to_numpy())
        if _is_array(data):
            return _check_array(schema, data)
        if isinstance(data, (list, tuple)):
            if _records(data) is not None:
                raise SchemaError(
                    f"records (dicts) were given, but the model takes an array "
                    f"({schema.describe()}); give rows (lists) or a numpy array",
                    problem="type",
                )
            try:
                return _check_array(schema, _as_array(data, "input"))
            except InvalidMetadataError as exc:
                raise SchemaError(str(exc), problem="shape") from None
        raise _unsupported(data, schema)
    if _is_frame(data):
        return _check_frame(schema, data)
    records = _records(data) if isinstance(data, (list, tuple)) else None
    if records is not None:
        try:
            import pandas as pd
        except ImportError:
            return _check_records_plain(schema, records)
        return _check_frame(schema, _records_frame(pd, records), from_json=True)
    if _is_array(data) or isinstance(data, (list, tuple)):
        array = data if _is_array(data) else _as_rows(data, schema)
        _check_width(schema, array)
        try:
            import pandas  # noqa: F401
        except ImportError:
            for spec in schema.columns:
                _refuse_dtype(spec.name, _array_dtype(array), spec.dtype)
            return array
        source = array if _is_array(data) else data
        return _check_frame(schema, _frame_from_rows(schema, source), from_json=not _is_array(data))
    raise _unsupported(data, schema)


def _check_width(schema: Schema, array: Any) -> None:
    """Rows for a table carry one value per column, in the signature's order."""
    names = schema.names
    if array.ndim == 2 and array.shape[1] == len(names):
        return
    if array.ndim != 2:
        hint = "; a single row is a batch of one: X.reshape(1, -1)" if array.ndim == 1 else ""
        raise SchemaError(
            f"expected rows of {len(names)} features ({', '.join(map(repr, names))}), got an "
            f"array of shape {tuple(array.shape)}{hint}",
            problem="shape",
            expected=str(len(names)),
            actual=str(tuple(array.shape)),
        )
    width = int(array.shape[1])
    lacking = list(names[width:])
    if lacking:
        detail = f"no value for {', '.join(map(repr, lacking))}"
    else:
        detail = f"{width - len(names)} value(s) more than the columns"
    raise SchemaError(
        f"expected {len(names)} features per row ({', '.join(map(repr, names))}), got "
        f"{width}: {detail}",
        problem="shape",
        column=lacking[0] if lacking else None,
        columns=lacking,
        expected=str(len(names)),
        actual=str(width),
    )


def _records_frame(pd: Any, records: list[Mapping[str, Any]]) -> Any:
    frame = pd.DataFrame.from_records([{str(k): v for k, v in r.items()} for r in records])
    return frame.infer_objects() if any(str(dtype) == "object" for dtype in frame.dtypes) else frame


def _as_rows(data: Sequence[Any], schema: Schema) -> Any:
    try:
        return _as_array(data, "input")
    except InvalidMetadataError as exc:
        raise SchemaError(
            f"{exc}; the model takes rows of {len(schema.columns)} values", problem="shape"
        ) from None


def _unsupported(data: object, schema: Schema) -> SchemaError:
    return SchemaError(
        f"a {type(data).__name__} cannot be model input; {_SUPPORTED} "
        f"(the model takes {schema.describe()})",
        problem="type",
    )
