"""What the registry and its parts share: the result types users get back
(``LoadedModel``, ``VerifyReport``, ``Finding``), the limits the parts obey,
and the small checks on constructor input. It lives apart from
:mod:`modelshelf.registry` so the parts can use it without importing the
registry itself.
"""

from __future__ import annotations

import getpass
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import frozen

from modelshelf import _predicting
from modelshelf.config import CONFIG_FILE
from modelshelf.errors import (
    InvalidInputError,
)
from modelshelf.metadata import (
    ModelMetadata,
    check_unicode,
)

if TYPE_CHECKING:
    from collections.abc import Iterator


logger = logging.getLogger("modelshelf")

T = TypeVar("T")

DEFAULT_STORAGE_PATH = Path("data/models/registry")
#: Files up to this size are read once into one buffer, hashed and
#: deserialized from it; larger ones are captured in a :class:`Snapshot`,
#: which gives its memory back as the serializer reads, so peak memory stays
#: near the model's own size. Either way only bytes that were hashed are
#: ever deserialized: the stored file is never read a second time.
IN_MEMORY_LOAD_LIMIT = 64 * 1024 * 1024
_CHUNK = 1024 * 1024
_PENDING_SHA = "0" * 64
#: The longest retention age: what a ``timedelta`` can hold, in whole days.
_MAX_AGE_DAYS = 999_999_999


class _CheckpointVersions:
    """Versions of checkpoints: ``ckpt-<step>``, ordered by step."""

    name = "checkpoint"

    def version_of(self, step: int) -> str:
        return f"ckpt-{step}"

    def validate(self, version: str) -> str:
        self.sort_key(version)
        return version

    def sort_key(self, version: str) -> str:
        prefix, _, step = version.partition("-")
        if prefix != "ckpt" or not step.isdigit():
            raise InvalidInputError(f"{version!r} is not a checkpoint version (ckpt-<step>)")
        return f"{int(step):020d}"

    def first(self) -> str:
        return self.version_of(0)

    def next_after(self, highest: str) -> str:
        return self.version_of(int(self.sort_key(highest)) + 1)


_CHECKPOINTS = _CheckpointVersions()


@frozen(kw_only=True)
class LoadedModel:
    """A model with its auxiliary artifacts and metadata, from one call."""

    model: Any
    artifacts: dict[str, Any]
    metadata: ModelMetadata

    def __iter__(self) -> Iterator[Any]:
        """Unpack as ``model, artifacts, metadata = registry.load(...)``."""
        return iter((self.model, self.artifacts, self.metadata))

    def predict(self, X: Any) -> Any:
        """The model's predictions for ``X``, exactly as the version was saved to predict.

        ``X`` (a pandas DataFrame, a numpy array, or a list of records or
        rows) is checked against the signature, its columns put in the
        signature's order, then every preprocessing step's ``transform``
        runs in order before the model's ``predict``.

        :raises SchemaError: ``X`` does not match the signature; the error names the column.
        :raises PredictionError: a step or the model refused the input.
        """
        return self._run(X, "predict")

    def predict_proba(self, X: Any) -> Any:
        """Class probabilities for ``X``, through the same checks and steps as :meth:`predict`.

        :raises PredictionError: the model has no ``predict_proba`` (a
            regressor, say), or it refused the input.
        :raises SchemaError: ``X`` does not match the signature.
        """
        return self._run(X, "predict_proba")

    def _run(self, X: Any, method: str) -> Any:
        return _predicting.run(
            reference=self.metadata.reference,
            model=self.model,
            artifacts=self.artifacts,
            signature=self.metadata.signature,
            steps=self.metadata.preprocessing,
            data=X,
            method=method,
        )


#: Findings that mean something recorded is damaged or lost (``verify().ok`` is False).
PROBLEM_KINDS = ("missing", "mismatch", "unsafe", "unrecorded", "metadata")
#: Without a registry record (no sidecars to tell lost versions from leftovers),
#: ``gc`` refuses to delete more orphans than this share of all stored files.
GC_MAX_ORPHAN_SHARE = 0.1


@frozen(kw_only=True)
class Finding:
    """One problem ``verify`` found."""

    kind: str  # missing | mismatch | unsafe | unrecorded | metadata | orphan | temporary | sidecar
    key: str
    model_id: int | None
    detail: str


@frozen(kw_only=True)
class VerifyReport:
    checked: int
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not any(f.kind in PROBLEM_KINDS for f in self.findings)


def _actor(user: str | None) -> str:
    if user:
        return user
    try:
        return os.environ.get("MODELSHELF_USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _check_reason(reason: object) -> None:
    """An audit reason is text every store can keep (it is checked before any write)."""
    if not isinstance(reason, str):
        raise InvalidInputError(f"reason must be text, got {type(reason).__name__}")
    check_unicode("reason", reason)


def _location(storage_path: str | os.PathLike[str]) -> str:
    """The storage location as a string: a local path, or a URL with its scheme.

    ``file://`` URLs become plain paths, so they keep the local fast path.
    """
    location = os.fspath(storage_path)
    scheme, sep, rest = location.partition("://")
    if sep and scheme.lower() == "file":
        return rest or "/"
    return location


def _signing_key(key: str | bytes | None) -> bytes | None:
    if key is None:
        key = os.environ.get("MODELSHELF_SIGNING_KEY") or None
    if key is None:
        return None
    return key.encode() if isinstance(key, str) else bytes(key)


def _given(argument: object, configured: str | None) -> tuple[str | None, str]:
    """The plugin name asked for, and who asked: the argument wins over the file."""
    if argument is not None:
        name = argument if isinstance(argument, str) else getattr(argument, "name", None)
        return (name if isinstance(name, str) else None), "the argument"
    return configured, CONFIG_FILE
