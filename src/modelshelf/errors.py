"""The one error hierarchy of modelshelf.

Every error a user can see is a :class:`ModelShelfError`.  Bad input is also a
:class:`ValueError` and failed lookups are also a :class:`LookupError`, so code
written against the standard library's conventions keeps working.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable


class ModelShelfError(Exception):
    """Root of every error modelshelf raises on purpose."""


class InvalidInputError(ModelShelfError, ValueError):
    """Input was rejected before anything was written."""


class InvalidMetadataError(InvalidInputError):
    """A metadata field broke its rule; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class InvalidVersionError(InvalidMetadataError):
    """A version string is not valid for the registry's versioning scheme."""

    def __init__(self, version: object, scheme: str, rule: str) -> None:
        super().__init__("version", f"{version!r} is not a valid {scheme} version ({rule})")
        self.version = version
        self.scheme = scheme


class DuplicateVersionError(InvalidInputError):
    """An explicit version already exists for that model name."""

    def __init__(self, model_name: str, version: str) -> None:
        super().__init__(
            f"model {model_name!r} already has version {version!r}; "
            "versions are immutable, pick another one or omit version= to get the next"
        )
        self.model_name = model_name
        self.version = version


class UnknownStageError(InvalidInputError):
    """A stage name is not one of the lifecycle stages."""

    def __init__(self, stage: object, valid_choices: Iterable[str]) -> None:
        self.valid_choices = tuple(valid_choices)
        super().__init__(
            f"unknown stage {stage!r}; valid stages are: {', '.join(self.valid_choices)}"
        )
        self.stage = stage


class MetadataValidationError(InvalidInputError):
    """Stored metadata could not be read back into a :class:`ModelMetadata`."""


class InvalidReferenceError(InvalidInputError):
    """A model reference string is malformed."""

    ACCEPTED_FORMS = (
        "name",
        "name:VERSION",
        "name:latest",
        "name@ALIAS",
        "name/STAGE  (e.g. xgb/Production)",
    )

    def __init__(self, reference: object, reason: str) -> None:
        forms = "; ".join(self.ACCEPTED_FORMS)
        super().__init__(
            f"malformed model reference {reference!r}: {reason}. Accepted forms: {forms}"
        )
        self.reference = reference


class SerializationError(InvalidInputError):
    """The serializer could not turn the object into bytes; nothing was stored."""

    def __init__(self, serializer: str, message: str) -> None:
        super().__init__(f"serializer {serializer!r} could not serialize the model: {message}")
        self.serializer = serializer


class NotFoundError(ModelShelfError, LookupError):
    """A lookup that must succeed found nothing."""


class ModelNotFoundError(NotFoundError):
    """No model version matches the lookup."""


class AmbiguousVersionError(InvalidInputError):
    """A bare version matches versions of several model names."""

    def __init__(self, version: str, model_names: Iterable[str]) -> None:
        self.model_names = tuple(sorted(model_names))
        super().__init__(
            f"version {version!r} exists for several models ({', '.join(self.model_names)}); "
            "pass model_name= as well"
        )
        self.version = version


class UnknownPluginError(NotFoundError):
    """No installed plugin provides the requested name."""

    def __init__(self, kind: str, name: str, valid_choices: Iterable[str]) -> None:
        self.valid_choices = tuple(sorted(valid_choices))
        available = ", ".join(self.valid_choices) or "none"
        super().__init__(
            f"no {kind} named {name!r} is installed (available: {available}); "
            "is the plugin that provides it installed in this environment?"
        )
        self.kind = kind
        self.name = name


class PluginError(ModelShelfError):
    """A plugin misbehaved: it raised, or returned something that breaks the contract."""

    def __init__(self, plugin: str, message: str) -> None:
        super().__init__(f"plugin {plugin!r}: {message}")
        self.plugin = plugin


class PluginLoadError(PluginError):
    """A plugin could not be imported or registered."""


class VetoError(ModelShelfError):
    """A lifecycle hook refused the operation; nothing was changed."""


class IntegrityError(ModelShelfError):
    """Stored bytes do not match what was recorded when they were saved."""

    def __init__(self, path: str, message: str, expected: str = "", actual: str = "") -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.expected = expected
        self.actual = actual


class StoreError(ModelShelfError):
    """A metadata store or artifact storage failed underneath (driver or I/O error)."""


class UnsafePathError(InvalidInputError, IntegrityError):
    """A path would leave the directory it must stay in; nothing was written there.

    Raised for ``..``, absolute paths and symlinks that lead out of a bundle,
    an extraction directory or the storage root. It is bad input (a
    ``ValueError``) and an integrity failure at once: such a path only comes
    from a crafted bundle or a tampered record.
    """

    def __init__(self, path: str, message: str) -> None:
        IntegrityError.__init__(self, path, message)


__all__ = [
    "AmbiguousVersionError",
    "DuplicateVersionError",
    "IntegrityError",
    "InvalidInputError",
    "InvalidMetadataError",
    "InvalidReferenceError",
    "InvalidVersionError",
    "MetadataValidationError",
    "ModelNotFoundError",
    "ModelShelfError",
    "NotFoundError",
    "PluginError",
    "PluginLoadError",
    "SerializationError",
    "StoreError",
    "UnknownPluginError",
    "UnknownStageError",
    "UnsafePathError",
    "VetoError",
]

for _name in __all__:
    globals()[_name].__module__ = "modelshelf"
