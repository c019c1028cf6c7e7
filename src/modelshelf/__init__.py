"""modelshelf: a model registry for Python ML work, built from plugins.

>>> from modelshelf import ModelRegistry
>>> registry = ModelRegistry("data/models/registry")  # doctest: +SKIP
"""

from __future__ import annotations

from modelshelf.errors import (
    AmbiguousVersionError,
    ConfigError,
    CorruptMetadataError,
    DeserializationError,
    DuplicateVersionError,
    GcRefusedError,
    IntegrityError,
    IntegrityWarning,
    InvalidInputError,
    InvalidMetadataError,
    InvalidReferenceError,
    InvalidVersionError,
    MetadataMissingError,
    MetadataValidationError,
    ModelNotFoundError,
    ModelShelfError,
    ModelShelfWarning,
    NotFoundError,
    PluginError,
    PluginLoadError,
    PredictionError,
    RetiredVersionError,
    SchemaError,
    SerializationError,
    StoreError,
    UnknownMetricWarning,
    UnknownPluginError,
    UnknownStageError,
    UnsafePathError,
    VetoError,
)
from modelshelf.metadata import ArtifactRef, ModelMetadata, Stage, TrainingInfo
from modelshelf.plugins import hookimpl, list_plugins
from modelshelf.protocols import Provider
from modelshelf.query import Query, Ranking, RankTerm
from modelshelf.references import Reference, parse_reference
from modelshelf.registry import LoadedModel, ModelRegistry, VerifyReport
from modelshelf.signatures import ColumnSpec, Schema, Signature, TensorSpec, infer_signature

__version__ = "0.1.0"

__all__ = [
    "AmbiguousVersionError",
    "ArtifactRef",
    "ColumnSpec",
    "ConfigError",
    "CorruptMetadataError",
    "DeserializationError",
    "DuplicateVersionError",
    "GcRefusedError",
    "IntegrityError",
    "IntegrityWarning",
    "InvalidInputError",
    "InvalidMetadataError",
    "InvalidReferenceError",
    "InvalidVersionError",
    "LoadedModel",
    "MetadataMissingError",
    "MetadataValidationError",
    "ModelMetadata",
    "ModelNotFoundError",
    "ModelRegistry",
    "ModelShelfError",
    "ModelShelfWarning",
    "NotFoundError",
    "PluginError",
    "PluginLoadError",
    "PredictionError",
    "Provider",
    "Query",
    "RankTerm",
    "Ranking",
    "Reference",
    "RetiredVersionError",
    "Schema",
    "SchemaError",
    "SerializationError",
    "Signature",
    "Stage",
    "StoreError",
    "TensorSpec",
    "TrainingInfo",
    "UnknownMetricWarning",
    "UnknownPluginError",
    "UnknownStageError",
    "UnsafePathError",
    "VerifyReport",
    "VetoError",
    "hookimpl",
    "infer_signature",
    "list_plugins",
    "parse_reference",
]
