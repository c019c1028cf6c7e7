"""The one error hierarchy of modelshelf.

Every error a user can see is a :class:`ModelShelfError`.  Bad input is also a
:class:`ValueError` and failed lookups are also a :class:`LookupError`, so code
written against the standard library's conventions keeps working.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable


def _rebuild_error(cls: type[ModelShelfError], args: tuple[object, ...]) -> ModelShelfError:
    """Recreate an error without calling its ``__init__`` (see ``__reduce__``)."""
    error = cls.__new__(cls, *args)
    error.args = args
    return error


class ModelShelfError(Exception):
    """Root of every error modelshelf raises on purpose.

    Errors cross process boundaries (a worker of a multiprocessing pool
    raising ``DuplicateVersionError``), so every subclass must pickle. The
    default ``Exception`` pickling calls ``cls(*args)``, which breaks for
    any subclass whose ``__init__`` takes other arguments than its message
    and leaves a pool waiting forever for a result it cannot rebuild.
    ``__reduce__`` here rebuilds without calling ``__init__`` and restores
    the attributes (``model_name``, ``version``, ...) from ``__dict__``, so
    subclasses get this for free whatever their signature.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_error, (type(self), self.args), self.__dict__ or None)


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


class RetiredVersionError(DuplicateVersionError):
    """An explicit version names a version of that model that was deleted.

    A deleted version's number is never given to another model: an audit
    log, a deployment or a colleague that names ``xgb:1.0.0`` must never
    get a model that is not the one it meant.
    """

    def __init__(self, model_name: str, version: str) -> None:
        InvalidInputError.__init__(
            self,
            f"model {model_name!r} had version {version!r} and it was deleted; a deleted "
            "version's number is never given to another model, pick another one or omit "
            "version= to get the next",
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


class CorruptMetadataError(MetadataValidationError):
    """A stored record is damaged (not JSON, or not valid metadata).

    ``model_id`` names the damaged version when the store knows it and
    ``location`` says where the record lives (a table row, a journal line),
    so the one bad record can be found, repaired or deleted; calls that do
    not read it keep working.
    """

    def __init__(self, message: str, *, model_id: int | None = None, location: str = "") -> None:
        where = f"model id {model_id}" if model_id is not None else "a record"
        if location:
            where += f" ({location})"
        super().__init__(f"the stored metadata of {where} is damaged: {message}")
        self.model_id = model_id
        self.location = location


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


class SchemaError(InvalidInputError):
    """Input does not match the version's signature; nothing was predicted.

    ``problem`` says how (``missing``, ``extra``, ``dtype``, ``shape`` or
    ``type``), ``column`` names the first offending column (None for an
    array, which has no column names) and ``columns`` every one of them;
    ``expected`` and ``actual`` give both sides as text.
    """

    def __init__(
        self,
        message: str,
        *,
        problem: str,
        column: str | None = None,
        columns: Iterable[str] = (),
        expected: str = "",
        actual: str = "",
    ) -> None:
        super().__init__(message)
        self.problem = problem
        self.column = column
        self.columns = tuple(columns) or ((column,) if column is not None else ())
        self.expected = expected
        self.actual = actual


class PredictionError(InvalidInputError):
    """A loaded version could not predict: the model has no such method (a
    regressor asked for ``predict_proba``), or it or a preprocessing step
    refused the input. ``step`` names which (``"model"`` or the step's
    artifact name) and ``method`` the method called.
    """

    def __init__(self, reference: str, step: str, method: str, message: str) -> None:
        super().__init__(f"{reference}: {message}")
        self.reference = reference
        self.step = step
        self.method = method


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


class DeserializationError(ModelShelfError):
    """Verified bytes could not become a model again because code it needs (a
    module, a class) cannot be imported here. The bytes are intact: this is
    not tampering. Install the package that defines the model, then load again.
    """

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


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


class ModelShelfWarning(UserWarning):
    """Root of every warning modelshelf emits: something was not what it seemed,
    but the call still answered (filter them all with this one class)."""


class IntegrityWarning(ModelShelfWarning):
    """``load_model`` returned None because stored bytes failed verification.

    The lenient path never hides tampering: the reason is logged and warned.
    """


class UnknownMetricWarning(ModelShelfWarning):
    """A metric a ranking names (a scoring weight, ``metric=``) is recorded by
    no version in scope, so it counts for nothing; ``metric`` names it."""

    def __init__(self, metric: str, message: str) -> None:
        super().__init__(message)
        self.metric = metric


class MetadataMissingError(StoreError):
    """A registry's metadata is lost, truncated or unreadable while its model files remain.

    Raised when the registry opens, before anything is written or deleted, so
    a lost ``registry.db`` or ``index.json`` never looks like an empty
    registry. ``modelshelf recover`` rebuilds the metadata from the files'
    sidecars.
    """

    def __init__(self, location: str, problem: str) -> None:
        super().__init__(
            f"the registry at {location} has lost its metadata: {problem}. Nothing was "
            f"changed; rebuild it with `modelshelf recover --registry {location}` "
            "(Python: modelshelf.recovery.recover)"
        )
        self.location = location
        self.problem = problem


class ConfigError(InvalidInputError):
    """The configuration is invalid or contradicts what the registry recorded; the
    message names the key and both values."""


class GcRefusedError(ModelShelfError):
    """``gc`` would delete files that look like lost versions rather than leftovers.

    Either the files have metadata sidecars (their versions were recorded once),
    or they are more than a small share of everything stored, which is what a
    lost or rolled-back metadata store looks like. ``force=True`` overrides.
    """

    def __init__(self, message: str, keys: Iterable[str]) -> None:
        super().__init__(message)
        self.keys = tuple(keys)


__all__ = [
    "AmbiguousVersionError",
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
    "MetadataMissingError",
    "MetadataValidationError",
    "ModelNotFoundError",
    "ModelShelfError",
    "ModelShelfWarning",
    "NotFoundError",
    "PluginError",
    "PluginLoadError",
    "PredictionError",
    "RetiredVersionError",
    "SchemaError",
    "SerializationError",
    "StoreError",
    "UnknownMetricWarning",
    "UnknownPluginError",
    "UnknownStageError",
    "UnsafePathError",
    "VetoError",
]

for _name in __all__:
    globals()[_name].__module__ = "modelshelf"
