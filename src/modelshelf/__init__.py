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
    RetiredVersionError,
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

__version__ = "0.1.0"

__all__ = [
    "AmbiguousVersionError",
    "ArtifactRef",
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
    "Provider",
    "Query",
    "RankTerm",
    "Ranking",
    "Reference",
    "RetiredVersionError",
    "SerializationError",
    "Stage",
    "StoreError",
    "TrainingInfo",
    "UnknownMetricWarning",
    "UnknownPluginError",
    "UnknownStageError",
    "UnsafePathError",
    "VerifyReport",
    "VetoError",
    "hookimpl",
    "list_plugins",
    "parse_reference",
]
