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

The value types live in :mod:`modelshelf._signature_types`, inference in
:mod:`modelshelf._signature_inference` and the input check in
:mod:`modelshelf._signature_checking`; this module is where callers import them.
"""

from __future__ import annotations

from modelshelf._signature_checking import can_widen as can_widen
from modelshelf._signature_checking import prepare_input as prepare_input
from modelshelf._signature_inference import example_rows as example_rows
from modelshelf._signature_inference import first_rows as first_rows
from modelshelf._signature_inference import infer_schema as infer_schema
from modelshelf._signature_inference import infer_signature as infer_signature
from modelshelf._signature_types import DTYPES as DTYPES
from modelshelf._signature_types import FLOAT_DTYPES as FLOAT_DTYPES
from modelshelf._signature_types import INTEGER_DTYPES as INTEGER_DTYPES
from modelshelf._signature_types import MAX_COLUMNS as MAX_COLUMNS
from modelshelf._signature_types import MAX_DIMENSIONS as MAX_DIMENSIONS
from modelshelf._signature_types import MAX_EXAMPLE_BYTES as MAX_EXAMPLE_BYTES
from modelshelf._signature_types import MAX_EXAMPLE_ROWS as MAX_EXAMPLE_ROWS
from modelshelf._signature_types import ColumnSpec as ColumnSpec
from modelshelf._signature_types import Schema as Schema
from modelshelf._signature_types import Signature as Signature
from modelshelf._signature_types import TensorSpec as TensorSpec
from modelshelf._signature_types import to_signature as to_signature

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
