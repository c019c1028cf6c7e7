"""The value types of a signature, and the dtypes and limits they obey.

:class:`Signature`, :class:`Schema`, :class:`ColumnSpec` and :class:`TensorSpec`;
public through :mod:`modelshelf.signatures`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from attrs import field, frozen

from modelshelf.errors import InvalidMetadataError

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


# Pickles of stored signatures name the public module, whatever file defines the types.
for _cls in (ColumnSpec, TensorSpec, Schema, Signature):
    _cls.__module__ = "modelshelf.signatures"
del _cls
