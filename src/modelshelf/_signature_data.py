"""Recognising the data handed in (pandas, numpy or plain rows) and its dtypes.

pandas and numpy are imported only when the data is theirs. Shared by inference
(:mod:`modelshelf._signature_inference`) and the input check
(:mod:`modelshelf._signature_checking`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from modelshelf._signature_types import (
    DTYPES,
    FLOAT_DTYPES,
    INTEGER_DTYPES,
)
from modelshelf.errors import InvalidMetadataError

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


def _bad_example(message: str) -> InvalidMetadataError:
    return InvalidMetadataError("input_example", message)


_SUPPORTED = "give a pandas DataFrame, a numpy array, or a list of records (dicts) or rows (lists)"


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
