"""modelshelf: a model registry for Python ML work, built from plugins.

>>> from modelshelf import ModelRegistry
>>> registry = ModelRegistry("data/models/registry")  # doctest: +SKIP
"""

from __future__ import annotations

from modelshelf.errors import (
    AmbiguousVersionError,
    DuplicateVersionError,
    IntegrityError,
    InvalidInputError,
    InvalidMetadataError,
    InvalidReferenceError,
    InvalidVersionError,
    MetadataValidationError,
    ModelNotFoundError,
    ModelShelfError,
    NotFoundError,
    PluginError,
    PluginLoadError,
    SerializationError,
    StoreError,
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
    "DuplicateVersionError",
    "IntegrityError",
    "InvalidInputError",
    "InvalidMetadataError",
    "InvalidReferenceError",
    "InvalidVersionError",
    "LoadedModel",
    "MetadataValidationError",
    "ModelMetadata",
    "ModelNotFoundError",
    "ModelRegistry",
    "ModelShelfError",
    "NotFoundError",
    "PluginError",
    "PluginLoadError",
    "Provider",
    "Query",
    "RankTerm",
    "Ranking",
    "Reference",
    "SerializationError",
    "Stage",
    "StoreError",
    "TrainingInfo",
    "UnknownPluginError",
    "UnknownStageError",
    "UnsafePathError",
    "VerifyReport",
    "VetoError",
    "hookimpl",
    "list_plugins",
    "parse_reference",
]
