"""The contracts a plugin's objects fulfil, and the descriptors that offer them.

A plugin's provider hook returns :class:`Provider` descriptors; the registry
picks one by name and calls its ``factory``. What the factory returns is
checked against the ``runtime_checkable`` Protocol of its kind here (shape),
and the conformance suites in :mod:`modelshelf.testing` check behaviour.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Generic, Protocol, TypeVar, runtime_checkable

from attrs import field, frozen

from modelshelf.metadata import Stage

if TYPE_CHECKING:
    from modelshelf.config import Settings
    from modelshelf.metadata import ModelDraft, ModelInfo, ModelMetadata
    from modelshelf.query import Query, Ranking

T = TypeVar("T")


def _capabilities(value: Iterable[str]) -> frozenset[str]:
    return frozenset(value)


@frozen(kw_only=True)
class Provider(Generic[T]):
    """A named thing a plugin offers: a serializer, a store, a scheme...

    ``factory`` is called with keyword options (see each kind's docs) and
    returns the object; ``capabilities`` lets conformance tests and users
    know what the object can do without trying it.
    """

    name: str
    factory: Callable[..., T]
    description: str = ""
    capabilities: frozenset[str] = field(default=frozenset(), converter=_capabilities)
    #: Metadata stores only, optional: given the factory's ``storage_path`` and
    #: ``url``, the local files that hold the store's metadata (whether they
    #: exist or not). The registry uses it to find which store an unlabelled
    #: registry directory holds, to refuse opening a second store beside it,
    #: to notice a lost metadata file before the factory silently starts an
    #: empty one, and to set a damaged file aside when recovering.
    footprint: Callable[[Path, str | None], list[Path]] | None = None


@runtime_checkable
class Serializer(Protocol):
    """Turns a model into bytes on a stream and back.

    Options reach the factory as keywords (``joblib`` takes ``compress``).
    """

    name: str
    file_extension: str

    def dump(self, obj: Any, stream: IO[bytes]) -> None: ...

    def load(self, stream: IO[bytes]) -> Any: ...


@runtime_checkable
class VersioningScheme(Protocol):
    """Parses, orders and advances the versions of one model name."""

    name: str

    def validate(self, version: str) -> str:
        """Return the canonical form of ``version`` or raise InvalidVersionError."""
        ...

    def sort_key(self, version: str) -> str:
        """A string whose lexicographic order is the scheme's version order."""
        ...

    def first(self) -> str: ...

    def next_after(self, highest: str) -> str: ...


@runtime_checkable
class ScoringPolicy(Protocol):
    """Says which version is best, as a :class:`~modelshelf.query.Ranking`."""

    name: str

    def ranking(self) -> Ranking: ...


@frozen(kw_only=True)
class StoredFile:
    """What an artifact store reports after a complete, durable write."""

    key: str
    sha256: str
    size: int


@runtime_checkable
class ArtifactStore(Protocol):
    """Holds the bytes of models, addressed by keys the registry chooses.

    ``put`` is atomic: either the complete file is under ``key`` (durably) or
    nothing is, and the digest is computed while writing. Factories take
    ``root`` (the registry's storage path) as a keyword.
    """

    def put(self, key: str, write: Callable[[IO[bytes]], None]) -> StoredFile: ...

    def open(self, key: str) -> IO[bytes]: ...

    def delete(self, key: str) -> bool: ...

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int | None: ...

    def modified_at(self, key: str) -> float | None:
        """When the file under ``key`` was written (epoch seconds), or None."""
        ...

    def iter_keys(self) -> Iterator[str]:
        """Every complete file, as keys."""
        ...

    def iter_temporary(self) -> Iterator[str]:
        """Leftovers of writes that never finished (e.g. after a crash)."""
        ...

    def delete_temporary(self, name: str) -> bool: ...

    def local_path(self, key: str) -> Path | None:
        """A filesystem path for ``key`` when the store is local, else None."""
        ...


#: :attr:`AuditEvent.action` of a stage change asked for by name
#: (``transition_stage``, ``promote``, a save straight into a stage), and of
#: the archiving of a Production version another one replaced.
STAGE_ACTION = "stage"
#: :attr:`AuditEvent.action` of the stage change ``rollback`` makes: the
#: version it puts back in Production. History is replayed from these, never
#: from the free-text reason.
ROLLBACK_ACTION = "rollback"
#: :attr:`AuditEvent.action` of the stage a version was imported into.
IMPORT_ACTION = "import"
#: The actions that move a version's stage; their ``from_value`` and
#: ``to_value`` are stage names. Alias moves are ``alias:<alias>``.
STAGE_ACTIONS = frozenset({STAGE_ACTION, ROLLBACK_ACTION, IMPORT_ACTION})


@frozen(kw_only=True)
class AuditEvent:
    """One recorded change of a version's stage or of an alias.

    ``model_id`` identifies the version the event concerns (for an alias,
    the version it now points at, or pointed at before it was removed);
    ``version`` is its version string at the time, kept for people to
    read. A version string can name another model after a delete, an id
    never does, so history is replayed by ``model_id``. It is None only on
    events recorded before stores kept it whose version could not be
    matched when the store was upgraded.
    """

    at: datetime
    model_name: str
    version: str
    action: str
    from_value: str | None
    to_value: str | None
    actor: str
    reason: str = ""
    model_id: int | None = None


def _versions(value: Mapping[int, VersionState]) -> dict[int, VersionState]:
    return dict(value)


def _targets(value: Mapping[str, int]) -> dict[str, int]:
    return dict(value)


@frozen(kw_only=True)
class VersionState:
    """What a stage or alias decision needs to know of one version."""

    model_id: int
    version: str
    stage: Stage


@frozen(kw_only=True)
class NameState:
    """The part of one model name a :meth:`MetadataStore.transition` plan decides on.

    Read by the store under its per-name lock, in the transaction that
    applies the plan's :class:`Changes`, so nothing moves in between.
    """

    model_name: str
    #: By id: the versions asked for (``model_ids``) that exist under this
    #: name, every version of the name in Production, and every version an
    #: alias in :attr:`aliases` points at.
    versions: dict[int, VersionState] = field(factory=dict, converter=_versions)
    #: The current target id of each alias asked for that is set; an alias
    #: that is not set is absent.
    aliases: dict[str, int] = field(factory=dict, converter=_targets)


@frozen(kw_only=True)
class StageChange:
    """Put version ``model_id`` in ``stage``."""

    model_id: int
    stage: Stage


@frozen(kw_only=True)
class AliasChange:
    """Point ``alias`` at version ``model_id``, or remove it when ``model_id`` is None."""

    alias: str
    model_id: int | None


def _stage_changes(value: Iterable[StageChange]) -> tuple[StageChange, ...]:
    return tuple(value)


def _alias_changes(value: Iterable[AliasChange]) -> tuple[AliasChange, ...]:
    return tuple(value)


def _events(value: Iterable[AuditEvent]) -> tuple[AuditEvent, ...]:
    return tuple(value)


@frozen(kw_only=True)
class Changes:
    """What a plan decided: the store applies all of it in one transaction, or none.

    ``stages`` lists the version asked for first, then the versions it
    displaced (by id); ``events`` are appended to the audit log as given,
    in order, their times included.
    """

    stages: tuple[StageChange, ...] = field(default=(), converter=_stage_changes)
    aliases: tuple[AliasChange, ...] = field(default=(), converter=_alias_changes)
    events: tuple[AuditEvent, ...] = field(default=(), converter=_events)


@runtime_checkable
class LegacyMetadataStore(Protocol):
    """A metadata store written for modelshelf before :meth:`MetadataStore.transition`.

    Such a store decided the stage and alias rules itself, in ``set_stage``
    and ``set_alias``. The registry still uses one, with a
    ``DeprecationWarning`` when it is opened; see docs/plugins.md.
    """

    def set_stage(
        self,
        model_id: int,
        stage: Stage,
        *,
        archive_others: bool,
        actor: str,
        reason: str,
        action: str = STAGE_ACTION,
    ) -> list[ModelMetadata]: ...

    def set_alias(
        self, model_name: str, alias: str, model_id: int | None, *, actor: str, reason: str
    ) -> int | None: ...


@runtime_checkable
class MetadataStore(Protocol):
    """Records versions and answers queries about them.

    Factories take ``storage_path`` (a directory the registry owns) and
    ``url`` (a store-specific location, or None) as keywords.
    """

    def add(self, draft: ModelDraft, scheme: VersioningScheme) -> ModelMetadata:
        """Record ``draft`` in one transaction and return it with id and version.

        The version is ``draft.requested_version`` (DuplicateVersionError if the
        name has it already) or ``scheme.next_after(highest)`` / ``scheme.first()``,
        where ``highest`` is the highest release version the name ever had by
        ``scheme.sort_key`` (checkpoints never count; deleted versions do, so a
        number is never handed out twice), decided inside the same transaction
        as the insert, so concurrent writers never get the same version. A
        requested version that a deleted release of the name had is refused
        with RetiredVersionError (a DuplicateVersionError): a version string
        never names two different models.
        """
        ...

    def get(self, model_id: int) -> ModelMetadata | None: ...

    def find(self, query: Query) -> list[ModelMetadata]: ...

    def count(self, query: Query) -> int: ...

    def best(self, ranking: Ranking, query: Query) -> ModelMetadata | None: ...

    def model_names(self) -> list[str]: ...

    def delete(self, model_id: int) -> ModelMetadata | None: ...

    def transition(
        self,
        model_name: str,
        plan: Callable[[NameState], Changes],
        *,
        model_ids: Sequence[int] = (),
        aliases: Sequence[str] = (),
    ) -> Changes:
        """Change stages and aliases of ``model_name`` as ``plan`` decides, atomically.

        Under the store's per-name lock and in one transaction: read the
        name's :class:`NameState` (the versions of ``model_ids`` that belong
        to the name, every version of the name in Production, and the
        current target of each alias in ``aliases``, with its version),
        call ``plan`` with it (a store that retries its transaction calls it
        again with the state read anew: plans are pure), then apply the :class:`Changes` it
        returns (set each stage, point or remove each alias, append each
        audit event verbatim) and return them. If ``plan`` raises, nothing
        is written and the exception propagates unchanged. The rules (who is
        archived, what is recorded) are the core's; the store only reads,
        locks and writes.
        """
        ...

    def update(
        self, model_id: int, *, description: str | None, tags: dict[str, str] | None
    ) -> ModelMetadata | None:
        """Replace the description and/or tags of a version."""
        ...

    def audit_log(self, model_name: str | None) -> list[AuditEvent]: ...

    def get_model_info(self, model_name: str) -> ModelInfo | None:
        """The name-level description and tags, or None if never set."""
        ...

    def set_model_info(self, info: ModelInfo) -> None:
        """Create or replace the name-level description and tags."""
        ...

    def close(self) -> None: ...


class RegistryView(Protocol):
    """What a lifecycle hook may use of the registry it is called for.

    Hooks get the registry so a gate can look around before it decides
    (is there a Production version? what did it score?). Naming it through
    this Protocol, not ``ModelRegistry``, keeps the hook specs and the
    plugin host below the registry in the import graph, and tells plugin
    authors which calls are theirs to make: reads only, since a hook that
    writes through the registry it was called from would re-enter it.
    """

    @property
    def settings(self) -> Settings:
        """The registry's ``modelshelf.toml`` settings (gates, retention...)."""
        ...

    @property
    def location(self) -> str:
        """Where the artifacts live: a local path or an fsspec URL."""
        ...

    @property
    def user(self) -> str:
        """Who is acting: recorded in the audit log."""
        ...

    def get_metadata(self, reference: int | str) -> ModelMetadata: ...

    def list_models(self, **filters: Any) -> list[ModelMetadata]: ...

    def count_models(self, **filters: Any) -> int: ...

    def get_production_model(self, model_name: str) -> ModelMetadata | None: ...

    def get_best_model(self, metric: str | None = None, **filters: Any) -> ModelMetadata | None: ...

    def audit_log(self, model_name: str | None = None) -> list[AuditEvent]: ...


__all__ = [
    "IMPORT_ACTION",
    "ROLLBACK_ACTION",
    "STAGE_ACTION",
    "STAGE_ACTIONS",
    "AliasChange",
    "ArtifactStore",
    "AuditEvent",
    "Changes",
    "LegacyMetadataStore",
    "MetadataStore",
    "NameState",
    "Provider",
    "RegistryView",
    "ScoringPolicy",
    "Serializer",
    "StageChange",
    "StoredFile",
    "VersionState",
    "VersioningScheme",
]
