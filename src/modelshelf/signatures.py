"""Model signatures: what a version takes as input (and gives as output).

A :class:`Signature` records the input schema a model was saved with: named,
typed columns for a table (a pandas DataFrame, a list of records), or one
dtype and shape, the batch dimension left free, for an array. It is inferred
from an example (:func:`infer_signature`) or written by hand, stored on the
version's metadata, and checked against every input ``predict`` is given
(:func:`prepare_input`), so a missing column, an extra one, a string where a
number belongs or an array with too few features is refused by name with
:class:`~modelshelf.SchemaError` instead of failing somewhere inside the model,
or worse, predicting from the wrong column.

pandas and numpy are imported only when the data handed in is theirs: the
core installs and imports without either.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from attrs import field, frozen

from modelshelf.errors import InvalidMetadataError, SchemaError

#: Every dtype a column or an array can be recorded with. Numbers keep their
#: width (a model trained on float32 is told so); text is ``string`` and any
#: date-time is ``datetime``, whatever the library's spelling.
INTEGER_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
FLOAT_DTYPES = ("float16", "float32", "float64")
DTYPES = ("bool", *INTEGER_DTYPES, *FLOAT_DTYPES, "string", "datetime")
#: Rows kept as the input example, at most; and the most JSON text they may
#: take. An example is a reminder of what the input looks like, not data.
MAX_EXAMPLE_ROWS = 5
MAX_EXAMPLE_BYTES = 64 * 1024
#: Limits that keep a signature a small part of a version's record.
MAX_COLUMNS = 100_000
MAX_DIMENSIONS = 32
_MAX_COLUMN_NAME = 1024


# -- value objects ------------------------------------------------------------------


def _check_column_name(instance: object, attribute: Any, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidMetadataError("signature", f"a column name must be text, got {value!r}")
    if len(value) > _MAX_COLUMN_NAME or "\x00" in value:
        raise InvalidMetadataError(
            "signature",
            f"column name {value[:40]!r}... must be at most {_MAX_COLUMN_NAME} characters, no NUL",
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidMetadataError(
            "signature", f"column name {value!r} is not valid Unicode"
        ) from None


def _check_dtype(instance: object, attribute: Any, value: Any) -> None:
    if value not in DTYPES:
        raise InvalidMetadataError(
            "signature", f"unknown dtype {value!r}; the dtypes are: {', '.join(DTYPES)}"
        )


def _to_shape(value: object) -> tuple[int | None, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise InvalidMetadataError("signature", f"a shape must be a sequence, got {value!r}")
    shape = tuple(None if dim == -1 else dim for dim in value)
    if not 1 <= len(shape) <= MAX_DIMENSIONS:
        raise InvalidMetadataError(
            "signature", f"a shape has 1 to {MAX_DIMENSIONS} dimensions, got {len(shape)}"
        )
    if shape[0] is not None:
        raise InvalidMetadataError(
            "signature",
            f"shape {value!r}: the first dimension is the batch and must be free (None or -1)",
        )
    for dim in shape[1:]:
        if isinstance(dim, bool) or not isinstance(dim, int) or not 0 <= dim <= 2**31:
            raise InvalidMetadataError(
                "signature", f"shape {value!r}: dimensions after the first are sizes >= 0"
            )
    return shape


@frozen(kw_only=True)
class ColumnSpec:
    """One named, typed column of a table input."""

    name: str = field(validator=_check_column_name)
    dtype: str = field(validator=_check_dtype)


@frozen(kw_only=True)
class TensorSpec:
    """An array input: its dtype and shape, with the first (batch) dimension ``None``."""

    dtype: str = field(validator=_check_dtype)
    shape: tuple[int | None, ...] = field(converter=_to_shape)

    def shown_shape(self) -> str:
        """The shape as numpy users write it, the free batch dimension as -1."""
        dims = ["-1" if dim is None else str(dim) for dim in self.shape]
        return f"({dims[0]},)" if len(dims) == 1 else f"({', '.join(dims)})"


def _to_columns(value: object) -> tuple[ColumnSpec, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise InvalidMetadataError(
            "signature", f"columns must be a sequence of ColumnSpec, got {type(value).__name__}"
        )
    columns = tuple(value)
    for column in columns:
        if not isinstance(column, ColumnSpec):
            raise InvalidMetadataError(
                "signature", f"columns must be ColumnSpec values, got {type(column).__name__}"
            )
    return columns


def _to_tensor(value: object) -> TensorSpec | None:
    if value is not None and not isinstance(value, TensorSpec):
        raise InvalidMetadataError(
            "signature", f"tensor must be a TensorSpec or None, got {type(value).__name__}"
        )
    return value


def _one_kind(instance: Schema, attribute: Any, value: Any) -> None:
    if bool(instance.columns) == (instance.tensor is not None):
        raise InvalidMetadataError(
            "signature", "a schema has either columns or a tensor: exactly one of them"
        )
    if len(instance.columns) > MAX_COLUMNS:
        raise InvalidMetadataError("signature", f"more than {MAX_COLUMNS} columns")
    seen: set[str] = set()
    for column in instance.columns:
        if column.name in seen:
            raise InvalidMetadataError("signature", f"column {column.name!r} appears twice")
        seen.add(column.name)


@frozen(kw_only=True)
class Schema:
    """A table (``columns``, in order) or an array (``tensor``): exactly one of them."""

    columns: tuple[ColumnSpec, ...] = field(default=(), converter=_to_columns)
    tensor: TensorSpec | None = field(default=None, converter=_to_tensor, validator=_one_kind)

    @property
    def names(self) -> tuple[str, ...]:
        """The column names, in order (empty for an array)."""
        return tuple(column.name for column in self.columns)

    def describe(self) -> str:
        """One line a person reads: ``a: float64, b: string`` or ``float64 (-1, 4)``."""
        if self.tensor is not None:
            return f"{self.tensor.dtype} array, shape {self.tensor.shown_shape()}"
        return ", ".join(f"{c.name}: {c.dtype}" for c in self.columns)


def _to_schema(value: object) -> Schema:
    """A :class:`Schema`, or what stands for one: a list of columns, a tensor."""
    if isinstance(value, Schema):
        return value
    if isinstance(value, TensorSpec):
        return Schema(tensor=value)
    if isinstance(value, (list, tuple)):
        return Schema(columns=value)
    raise InvalidMetadataError(
        "signature",
        "inputs must be a Schema, a list of ColumnSpec or a TensorSpec, "
        f"got {type(value).__name__}",
    )


def _to_optional_schema(value: object) -> Schema | None:
    return None if value is None else _to_schema(value)


@frozen(kw_only=True)
class Signature:
    """What a version takes (``inputs``) and, when known, what it gives (``outputs``).

    ``inputs`` accepts a :class:`Schema`, a list of :class:`ColumnSpec` or a
    :class:`TensorSpec`::

        Signature(inputs=[ColumnSpec(name="age", dtype="int64")])
    """

    inputs: Schema = field(converter=_to_schema)
    outputs: Schema | None = field(default=None, converter=_to_optional_schema)


def to_signature(value: object) -> Signature | None:
    """The metadata field's rule: a :class:`Signature` or None, nothing else."""
    if value is None or isinstance(value, Signature):
        return value
    raise InvalidMetadataError(
        "signature",
        f"must be a modelshelf.Signature (see infer_signature), got {type(value).__name__}",
    )


# -- recognising data ---------------------------------------------------------------


def _module(value: object) -> str:
    return type(value).__module__.split(".", 1)[0]


def _is_frame(value: object) -> bool:
    return _module(value) == "pandas" and type(value).__name__ == "DataFrame"


def _is_series(value: object) -> bool:
    return _module(value) == "pandas" and type(value).__name__ == "Series"


def _is_array(value: object) -> bool:
    return _module(value) == "numpy" and type(value).__name__ == "ndarray"


def _is_missing(value: object) -> bool:
    """None, NaN, NaT or pandas' NA, without assuming either library is installed."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    name = type(value).__name__
    if name in ("NAType", "NaTType"):
        return True
    if _module(value) == "numpy":
        kind = getattr(getattr(value, "dtype", None), "kind", "")
        if kind in "fc":
            return bool(value != value)  # NaN is the one value unequal to itself
        if kind in "mM":
            import numpy as np

            return bool(np.isnat(value))  # type: ignore[call-overload]
    return False


def _dtype_name(dtype: Any) -> str | None:
    """Our name for a numpy or pandas dtype; None for ``object`` (look at the values)."""
    kind = getattr(dtype, "kind", None)
    text = str(dtype)
    if kind == "b" or text == "boolean":
        return "bool"
    if kind in ("i", "u", "f"):
        bits = int(getattr(dtype, "itemsize", 8)) * 8
        name = {"i": "int", "u": "uint", "f": "float"}[kind] + str(bits)
        return name if name in DTYPES else None
    if kind in ("U", "S") or text in ("string", "str") or text.startswith("string["):
        return "string"
    if kind == "M" or text.startswith("datetime64"):
        return "datetime"
    categories = getattr(dtype, "categories", None)
    if categories is not None:  # a pandas category: its categories' kind
        return _dtype_name(categories.dtype) or _values_dtype(list(categories))
    return None


def _values_dtype(values: Sequence[Any]) -> str | None:
    """The dtype plain Python values agree on (missing ones aside), or None."""
    present = [v for v in values if not _is_missing(v)]
    if not present:
        return None
    kinds = set()
    for value in present:
        if isinstance(value, bool) or type(value).__name__ == "bool_":
            kinds.add("bool")
        elif isinstance(value, int) or _dtype_name(getattr(value, "dtype", None)) in (
            INTEGER_DTYPES
        ):
            kinds.add("int64")
        elif isinstance(value, float) or _dtype_name(getattr(value, "dtype", None)) in (
            FLOAT_DTYPES
        ):
            kinds.add("float64")
        elif isinstance(value, str):
            kinds.add("string")
        elif isinstance(value, (datetime, date)):
            kinds.add("datetime")
        else:
            return None
    if kinds == {"int64", "float64"}:
        return "float64"
    return kinds.pop() if len(kinds) == 1 else None


def _column_dtype(column: Any) -> str | None:
    """A pandas column's dtype name; object columns are judged by their values."""
    name = _dtype_name(column.dtype)
    if name is None and str(column.dtype) == "object":
        return _values_dtype(column.tolist())
    return name


def _array_dtype(array: Any) -> str | None:
    name = _dtype_name(array.dtype)
    if name is None and array.dtype.kind == "O":
        return _values_dtype(array.ravel().tolist())
    return name


def _records(value: object) -> list[Mapping[str, Any]] | None:
    """The rows of a list of records (dicts), or None if ``value`` is not one."""
    if isinstance(value, (list, tuple)) and value and all(isinstance(r, Mapping) for r in value):
        return list(value)
    return None


# -- inference ----------------------------------------------------------------------


def _bad_example(message: str) -> InvalidMetadataError:
    return InvalidMetadataError("input_example", message)


_SUPPORTED = "give a pandas DataFrame, a numpy array, or a list of records (dicts) or rows (lists)"


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


def _as_array(value: Sequence[Any], what: str) -> Any:
    try:
        import numpy as np
    except ImportError:
        raise _bad_example(f"{what} as a list of rows needs numpy installed") from None
    try:
        return np.asarray(value)
    except ValueError as exc:  # ragged rows
        raise _bad_example(
            f"the rows do not form a table ({exc}); every row needs as many values"
        ) from None


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


__all__ = [
    "DTYPES",
    "ColumnSpec",
    "Schema",
    "Signature",
    "TensorSpec",
    "can_widen",
    "example_rows",
    "first_rows",
    "infer_schema",
    "infer_signature",
    "prepare_input",
    "to_signature",
]
