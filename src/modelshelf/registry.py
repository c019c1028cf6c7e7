"""``ModelRegistry``: the one object users hold.

It composes the chosen plugins and owns the order of operations that keep
a registry consistent: validate everything and run every veto before writing;
write the artifact durably before recording its metadata; remove the record
before the file; verify bytes before deserializing them. It holds no
backend logic of its own.

The class is a facade: each public method keeps its signature and docstring
here, for users and the API reference, and hands the work to the module that
does that one job (``_opening``, ``_saving``, ``_loading``, ``_querying``,
``_lifecycle``, ``_housekeeping``); the private steps those modules call on
the registry are bound here as one-line aliases of their functions.
``LoadedModel``, ``VerifyReport`` and ``Finding`` live in ``_shared`` and are
importable from here as before.

Why this module is longer than the others (about 690 lines) and stays one:
it is one class, the public API, and nothing else. Its length is the
constructor (which must choose and check every plugin in a fixed order) and
about forty short methods, each a signature, the docstring the API reference
renders, and one delegation; there is no logic here to split. Cutting the
class into mixins would scatter the one page where a reader sees every
method and the rule they all follow for things that are not there
(docs/decisions.md), and spread ``ModelRegistry``'s attributes over classes
mypy checks separately.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelshelf import _housekeeping, _lifecycle, _loading, _opening, _querying, _saving

# Re-exported: other modules and users import these from here.
from modelshelf._shared import _CHECKPOINTS as _CHECKPOINTS
from modelshelf._shared import DEFAULT_STORAGE_PATH as DEFAULT_STORAGE_PATH
from modelshelf._shared import GC_MAX_ORPHAN_SHARE as GC_MAX_ORPHAN_SHARE
from modelshelf._shared import IN_MEMORY_LOAD_LIMIT as IN_MEMORY_LOAD_LIMIT
from modelshelf._shared import PROBLEM_KINDS as PROBLEM_KINDS
from modelshelf._shared import Finding as Finding
from modelshelf._shared import LoadedModel as LoadedModel
from modelshelf._shared import VerifyReport as VerifyReport
from modelshelf._shared import _actor, _given, _signing_key
from modelshelf._shared import _location as _location
from modelshelf.config import Settings, load_settings
from modelshelf.errors import (
    InvalidInputError,
)
from modelshelf.manifest import (
    Manifest,
    check_choice,
    new_manifest,
    read_manifest,
    recordable_url,
    write_manifest,
    write_sidecar,
)
from modelshelf.metadata import (
    ModelInfo,
    ModelMetadata,
    Stage,
    TrainingInfo,
    check_unicode,
)
from modelshelf.plugins import (
    ARTIFACT_STORE,
    SCORING,
    SERIALIZER,
    VERSIONING,
    PluginHost,
)

if TYPE_CHECKING:
    import os
    from collections.abc import Mapping, Sequence

    from modelshelf.protocols import (
        ArtifactStore,
        AuditEvent,
        MetadataStore,
        ScoringPolicy,
        Serializer,
        VersioningScheme,
    )
    from modelshelf.references import Reference
    from modelshelf.signatures import Signature


def _deprecated(old: str, new: str) -> None:
    """Warn the caller of a deprecated ``ModelRegistry`` method (see docs/decisions.md)."""
    warnings.warn(
        f"ModelRegistry.{old} is deprecated; use {new} instead",
        DeprecationWarning,
        stacklevel=3,
    )


class ModelRegistry:
    """Save, find, promote and load model versions.

    A new registry records the plugins it was created with (``registry.json``,
    see :mod:`modelshelf.manifest`); later opens use them when none are given
    and refuse ones that contradict them (``ConfigError``). A registry whose
    metadata was lost refuses to open (``MetadataMissingError``) until
    :func:`modelshelf.recovery.recover` rebuilds it. ``store_options`` go to
    the metadata store's factory.

    Plugins are chosen by name (looked up among installed plugins) or given
    as objects. ``plugins=[...]`` registers extra plugin objects, such as a
    promotion gate, for this registry only.
    """

    def __init__(
        self,
        storage_path: str | os.PathLike[str] = DEFAULT_STORAGE_PATH,
        *,
        store: str | MetadataStore | None = None,
        serializer: str | Serializer | None = None,
        storage: str | ArtifactStore | None = None,
        versioning: str | VersioningScheme | None = None,
        scoring: str | ScoringPolicy | None = None,
        plugins: Sequence[object] = (),
        load_entrypoints: bool = True,
        store_url: str | None = None,
        serializer_options: Mapping[str, Any] | None = None,
        scoring_options: Mapping[str, Any] | None = None,
        store_options: Mapping[str, Any] | None = None,
        signing_key: str | bytes | None = None,
        user: str | None = None,
        settings: Settings | None = None,
    ) -> None:
        #: Where the artifacts live: a local directory or an fsspec URL (``s3://...``).
        self.location = _location(storage_path)
        self.remote = "://" in self.location
        self.storage_path = Path(self.location)
        if not self.remote:
            self.storage_path.mkdir(parents=True, exist_ok=True)
        #: Settings from ``modelshelf.toml`` (or given); constructor arguments win.
        self.settings = (
            settings
            if settings is not None
            else load_settings(self.storage_path)
            if not self.remote
            else Settings()
        )
        conf = self.settings
        self.plugins = PluginHost(plugins, load_entrypoints=load_entrypoints)
        self.user = check_unicode("user", _actor(user))
        self._signing_key = _signing_key(signing_key)
        #: What the registry recorded about itself when it was created (local only).
        self.manifest: Manifest | None = None if self.remote else read_manifest(self.storage_path)
        given = {
            "serializer": _given(serializer, conf.serializer),
            "versioning": _given(versioning, conf.versioning),
            "storage": _given(storage, conf.storage),
            "store": _given(store, conf.store),
        }
        for option, (name, source) in given.items():
            check_choice(option, name, source, self.manifest, self.storage_path)
        recorded = self.manifest or Manifest()
        self.serializer: Serializer = _opening._choose(
            self,
            SERIALIZER,
            serializer or conf.serializer or recorded.serializer or "joblib",
            **dict(conf.serializer_options if serializer_options is None else serializer_options),
        )
        self.scoring: ScoringPolicy = _opening._choose(
            self,
            SCORING,
            scoring or conf.scoring or "f1",
            **dict(conf.scoring_options if scoring_options is None else scoring_options),
        )
        storage_choice = (
            storage or conf.storage or recorded.storage or ("fsspec" if self.remote else "local")
        )
        self._storage_name = storage_choice if isinstance(storage_choice, str) else None
        self.storage: ArtifactStore = _opening._choose(
            self, ARTIFACT_STORE, storage_choice, root=self.location
        )
        url = store_url or conf.store_url or recorded.store_url
        store_choice = store or conf.store or recorded.store
        if store_choice is None:
            store_choice = _opening._detect_store(self, url, store_options, conf) or "sqlite"
        elif isinstance(store_choice, str) and self.manifest is None and not self.remote:
            _opening._refuse_second_store(self, store_choice, url)
        if isinstance(store_choice, str):
            _opening._check_footprint(self, store_choice, url)
        self._store_name = store_choice if isinstance(store_choice, str) else None
        self._store_url = url
        self.store: MetadataStore = self._open_store(
            store_choice,
            url,
            dict(conf.store_options if store_options is None else store_options),
        )
        try:
            fresh = _opening._check_metadata(self, store_choice)
            self.versioning: VersioningScheme = _opening._choose(
                self,
                VERSIONING,
                versioning
                or conf.versioning
                or recorded.versioning
                or (None if fresh else self._detect_versioning())
                or "semver",
            )
        except BaseException:
            self.store.close()
            raise
        if fresh and self.manifest is None and not self.remote and self._store_name:
            self.manifest = _opening._record_manifest(self, self._store_name)
        self._serializers: dict[str, Serializer] = {self.serializer.name: self.serializer}

    # -- what the registry is ------------------------------------------------------

    #: Whether opening refuses a store that lost its metadata; recovery opens without.
    _check_on_open = True

    _footprint = _opening._footprint
    _open_store = _opening._open_store
    _detect_versioning = _opening._detect_versioning

    def adopt(self) -> Manifest:
        """Record this registry's plugins (and sidecars of every version) if it
        has no record yet: how ``modelshelf init`` brings an older registry in
        line. Returns the record."""
        if self.remote:
            raise InvalidInputError("a remote registry keeps no record in a directory")
        if self.manifest is None:
            for metadata in self._all_versions():
                write_sidecar(self.storage_path, metadata)
            self.manifest = new_manifest(
                store=self._store_name,
                versioning=self.versioning.name,
                serializer=self.serializer.name,
                storage=self._storage_name,
                store_url=recordable_url(self._store_url),
            )
            write_manifest(self.storage_path, self.manifest)
        return self.manifest

    _sidecars = _opening._sidecars
    _serializer_named = _opening._serializer_named

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> ModelRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ModelRegistry({self.location!r})"

    # -- saving -----------------------------------------------------------------

    def save_model(
        self,
        model: Any,
        model_name: str,
        model_type: str | None = None,
        metrics: Mapping[str, float] | None = None,
        hyperparameters: Mapping[str, Any] | None = None,
        description: str | None = None,
        version: str | int | None = None,
        tags: Mapping[str, str] | None = None,
        *,
        stage: str | Stage | None = None,
        training_info: TrainingInfo | Mapping[str, Any] | None = None,
        feature_names: Sequence[str] | None = None,
        artifacts: Mapping[str, Any] | None = None,
        parent_id: int | None = None,
        signature: Signature | None = None,
        input_example: Any = None,
        preprocessing: Sequence[str] | None = None,
    ) -> int:
        """Store ``model`` as a new version of ``model_name`` and return its id.

        Nothing is written unless every input is valid and every
        ``before_save`` hook agrees. The file is durable before the record
        that points at it is committed.

        ``input_example`` (a DataFrame, an array, or a list of records or
        rows) records the model's :class:`~modelshelf.Signature` (unless
        ``signature`` gives it) and keeps its first rows; ``preprocessing``
        names auxiliary ``artifacts`` whose ``transform`` runs, in that
        order, before the model in :meth:`LoadedModel.predict`. See
        docs/signatures.md.
        """
        return _saving.save_model(
            self,
            model,
            model_name,
            model_type,
            metrics,
            hyperparameters,
            description,
            version,
            tags,
            stage=stage,
            training_info=training_info,
            feature_names=feature_names,
            artifacts=artifacts,
            parent_id=parent_id,
            signature=signature,
            input_example=input_example,
            preprocessing=preprocessing,
        )

    _write_and_record = _saving._write_and_record
    _record = _saving._record
    _draft = _saving._draft
    _signature = _saving._signature

    def import_version(
        self,
        template: ModelMetadata,
        files: Mapping[str, Path],
        *,
        version: str | int | None,
        stage: str | Stage | None = None,
        parent_id: int | None = None,
    ) -> ModelMetadata:
        """Record a version exported elsewhere, from files already serialized.

        ``template`` is the exported metadata: its fields (created_at, tags,
        training info...) are kept, its ids and storage keys are not.
        ``files`` maps ``""`` to the model file and each auxiliary artifact's
        name to its file; every file must hash to what ``template`` recorded.
        ``version=None`` lets the versioning scheme number it; ``stage`` is the
        stage to record (the caller decides whether the exported one fits
        here) and ``parent_id`` a version of this registry. It follows the
        save path: validate and veto first, write each file durably, then
        record; a failure removes whatever was written. A ``stage`` is then
        entered exactly as a promotion enters it (one locked store
        transaction that archives the name's other Production version and
        records an ``import`` audit event), so an import racing a promotion
        never leaves two Production versions and ``rollback`` can return to
        an imported version.
        """
        return _saving.import_version(
            self, template, files, version=version, stage=stage, parent_id=parent_id
        )

    def sign_bytes(self, data: bytes) -> str | None:
        """HMAC-SHA256 of ``data`` with the signing key; None when signing is off."""
        return _saving.sign_bytes(self, data)

    _discard = _saving._discard

    # -- finding ------------------------------------------------------------------

    def resolve(self, reference: str | Reference) -> ModelMetadata:
        """Deprecated alias of :meth:`get_metadata`, which takes the same references.

        .. deprecated:: 0.2
           Use ``get_metadata(reference)``.
        """
        _deprecated("resolve", "get_metadata(reference)")
        return _loading.resolve(self, reference)

    def get_metadata(
        self,
        reference: int | str | None = None,
        *,
        model_id: int | None = None,
        model_name: str | None = None,
        version: str | int | None = None,
    ) -> ModelMetadata:
        """Find one version by id, reference, name and/or version; it must exist.

        Every selector given must fit the version found: one that contradicts
        another (``get_metadata("a:1.0.0", model_name="b")``) is an
        InvalidInputError, never silently outvoted.
        """
        return _loading.get_metadata(
            self, reference, model_id=model_id, model_name=model_name, version=version
        )

    # -- loading ------------------------------------------------------------------

    def load_model(
        self,
        reference: int | str | None = None,
        *,
        model_id: int | None = None,
        model_name: str | None = None,
        version: str | int | None = None,
        strict: bool = False,
        mmap_mode: str | None = None,
    ) -> Any:
        """Deprecated: use :meth:`load` (``load(reference).model``), which raises.

        Kept as it always answered, the one exception to the absent-things
        rule: None (with a logged reason) if the version is missing or its
        bytes fail verification; ``strict=True`` raises instead. Failed
        verification also emits an :class:`IntegrityWarning`: a None that
        hides tampered bytes must never pass for a plain "not there".

        ``mmap_mode="r"`` (or ``"c"``): see :meth:`load`.

        .. deprecated:: 0.2
           Use ``load(reference).model``; a name and version are the
           reference ``"name:version"``.
        """
        try:
            return _loading.load_model(
                self,
                reference,
                model_id=model_id,
                model_name=model_name,
                version=version,
                strict=strict,
                mmap_mode=mmap_mode,
            )
        finally:
            # After the load: an IntegrityWarning it gives stays the first
            # warning a caller records, as it was before the deprecation.
            _deprecated("load_model", "load(reference).model")

    def load(self, reference: int | str, *, mmap_mode: str | None = None) -> LoadedModel:
        """Load a version's model, auxiliary artifacts and metadata.

        Raises ``ModelNotFoundError`` if no version matches and
        ``IntegrityError`` if its bytes fail verification.

        ``mmap_mode="r"`` (or ``"c"``) memory-maps the model's arrays instead
        of reading them into memory, for serializers that can (joblib). The
        file is first copied, hashed on the way, into a directory only this
        process's user can enter, and checked; only that private copy is
        mapped, so a writer of the storage cannot change the bytes after the
        check (see docs/security.md).
        """
        return _loading.load(self, reference, mmap_mode=mmap_mode)

    def load_best_model(self, metric: str | None = None, **filters: Any) -> LoadedModel | None:
        """The best version's model, artifacts and metadata in one call (``None`` if none ranks).

        What a service needs at start-up; it raises on a damaged file, as :meth:`load` does.
        """
        return _loading.load_best_model(self, metric, **filters)

    # -- querying -------------------------------------------------------------------

    def list_models(
        self, model_type: str | None = None, min_f1: float | None = None, **filters: Any
    ) -> list[ModelMetadata]:
        """Versions matching every filter; [] when none do.

        Filters: ``model_name``, ``model_type``, ``stage``, ``alias``, ``tags``,
        ``min_<metric>`` / ``max_<metric>`` (or ``min_metrics`` / ``max_metrics``
        dicts), ``created_after`` / ``created_before``; ``order_by`` a field or
        a metric, ``descending``, ``limit``, ``offset``. Ties go by id.
        """
        return _querying.list_models(self, model_type, min_f1, **filters)

    def count_models(self, **filters: Any) -> int:
        """How many versions match the filters of :meth:`list_models`; 0 when none do."""
        return _querying.count_models(self, **filters)

    def get_best_model(
        self, metric: str | None = None, model_type: str | None = None, **filters: Any
    ) -> ModelMetadata | None:
        """The best version by ``metric`` (its direction inferred from its name)
        or, without one, by the registry's scoring policy; None if nothing ranks.

        A metric the ranking names that no version in scope records gives an
        :class:`UnknownMetricWarning`.
        """
        return _querying.get_best_model(self, metric, model_type, **filters)

    def score(self, metadata: ModelMetadata) -> float | None:
        """The scoring policy's score of one version (None if it cannot be ranked)."""
        return _querying.score(self, metadata)

    def compare_models(
        self,
        model_name: str | None = None,
        limit: int = 10,
        *,
        metric: str | None = None,
        **filters: Any,
    ) -> list[dict[str, Any]]:
        """Versions ranked as rows ready for a table, best first.

        Ranked by ``metric`` (its direction inferred from its name; ``score``
        is then that metric's value) or, without one, by the scoring policy.
        Versions the ranking cannot score are left out; a metric it names that
        no version in scope records gives an :class:`UnknownMetricWarning`.
        """
        return _querying.compare_models(self, model_name, limit, metric=metric, **filters)

    def get_model_versions(self, model_name: str) -> list[ModelMetadata]:
        """Every version of ``model_name``, oldest first."""
        return _querying.get_model_versions(self, model_name)

    def get_production_model(self, model_name: str) -> ModelMetadata | None:
        """The name's Production version, or None when it has none (a question, not a lookup)."""
        return _querying.get_production_model(self, model_name)

    def model_names(self) -> list[str]:
        """Deprecated alias of :meth:`list_model_names`.

        .. deprecated:: 0.2
           Use ``list_model_names()``.
        """
        _deprecated("model_names", "list_model_names()")
        return _querying.list_model_names(self)

    # -- lifecycle --------------------------------------------------------------------

    def transition_stage(
        self,
        model_name: str,
        version: str | int,
        stage: str | Stage,
        *,
        archive_existing: bool = True,
        reason: str = "",
    ) -> ModelMetadata:
        """Move a version to ``stage``. Promoting to Production archives the
        name's previous Production version unless ``archive_existing=False``."""
        return _lifecycle.transition_stage(
            self, model_name, version, stage, archive_existing=archive_existing, reason=reason
        )

    _move_stage = _lifecycle._move_stage

    def promote(
        self, reference: int | str, stage: str | Stage = Stage.PRODUCTION, *, reason: str = ""
    ) -> ModelMetadata:
        """Deprecated: :meth:`transition_stage` by reference (``promote("xgb:1.0.2")``).

        .. deprecated:: 0.2
           Use ``transition_stage(model_name, version, stage)``; from a
           reference, ``m = get_metadata(ref)`` then
           ``transition_stage(m.model_name, m.version, stage)``.
        """
        _deprecated("promote", "transition_stage(model_name, version, stage)")
        return _lifecycle.promote(self, reference, stage, reason=reason)

    def rollback(self, model_name: str, *, reason: str = "") -> ModelMetadata:
        """Put the previous Production version back and archive the current one.

        Production history is a stack read from the audit log: each entry
        into Production (promotion, save or import into it) pushes, each
        ``rollback`` event pops. Rolling back twice therefore walks two
        steps back (3 -> 2 -> 1), never toggles. Versions are replayed by
        ``model_id``, never by version string or reason text: a version
        deleted since is skipped, and a model saved later under a deleted
        version's number is never deployed by a rollback.
        """
        return _lifecycle.rollback(self, model_name, reason=reason)

    def set_alias(self, reference: int | str, alias: str, *, reason: str = "") -> ModelMetadata:
        """Point ``alias`` (e.g. ``champion``) at a version; it moves if set before."""
        return _lifecycle.set_alias(self, reference, alias, reason=reason)

    def delete_alias(self, model_name: str, alias: str, *, reason: str = "") -> bool:
        """Remove ``alias`` from the name; False if it pointed nowhere (idempotent)."""
        return _lifecycle.delete_alias(self, model_name, alias, reason=reason)

    def update_model(
        self,
        reference: int | str,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> ModelMetadata:
        """Edit a version's description and/or replace its tags."""
        return _lifecycle.update_model(self, reference, description=description, tags=tags)

    def audit_log(self, model_name: str | None = None) -> list[AuditEvent]:
        """Every stage transition and alias move, oldest first."""
        return _lifecycle.audit_log(self, model_name)

    def delete_model(self, model_id: int) -> bool:
        """Delete a version: its record first, then its files. False if it did not exist."""
        return _lifecycle.delete_model(self, model_id)

    # -- names ---------------------------------------------------------------------

    def get_model_info(self, model_name: str) -> ModelInfo:
        """The description and tags of a model name (empty if never set)."""
        return _querying.get_model_info(self, model_name)

    def set_model_info(
        self,
        model_name: str,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> ModelInfo:
        """Set the description and/or replace the tags of a model name."""
        return _querying.set_model_info(self, model_name, description=description, tags=tags)

    def list_model_names(self, *, tags: Mapping[str, str] | None = None) -> list[str]:
        """Model names with versions, optionally only those whose name-level tags match."""
        return _querying.list_model_names(self, tags=tags)

    def summary(self) -> dict[str, Any]:
        """Counts by name, type and stage, bytes stored, and the best version per name."""
        return _querying.summary(self)

    # -- checkpoints -----------------------------------------------------------------

    def save_checkpoint(
        self,
        model: Any,
        model_name: str,
        step: int,
        metrics: Mapping[str, float] | None = None,
        *,
        hyperparameters: Mapping[str, Any] | None = None,
        artifacts: Mapping[str, Any] | None = None,
        description: str | None = None,
        keep_last: int | None = None,
    ) -> int:
        """Save a training checkpoint of ``model_name`` at ``step``.

        Checkpoints are versions named ``ckpt-<step>`` that no listing, best
        or reference returns unless asked (``checkpoints=True``), and that
        never consume a release version. ``keep_last`` drops all but the
        newest K checkpoints of the name once this one is safely stored.
        """
        return _housekeeping.save_checkpoint(
            self,
            model,
            model_name,
            step,
            metrics,
            hyperparameters=hyperparameters,
            artifacts=artifacts,
            description=description,
            keep_last=keep_last,
        )

    def list_checkpoints(self, model_name: str) -> list[ModelMetadata]:
        """Checkpoints of ``model_name``, lowest step first."""
        return _housekeeping.list_checkpoints(self, model_name)

    def load_checkpoint(self, model_name: str, step: int | None = None) -> LoadedModel:
        """The checkpoint at ``step``, or the latest one; raises if there is none."""
        return _housekeeping.load_checkpoint(self, model_name, step)

    def promote_checkpoint(
        self,
        model_name: str,
        step: int | None = None,
        *,
        version: str | int | None = None,
        **extra: Any,
    ) -> int:
        """Release a checkpoint as a regular version (its parent_id points back)."""
        return _housekeeping.promote_checkpoint(self, model_name, step, version=version, **extra)

    # -- retention -------------------------------------------------------------------

    def apply_retention(
        self,
        model_name: str | None = None,
        *,
        keep_last: int | None = None,
        archived_max_age_days: float | None = None,
        dry_run: bool = True,
    ) -> list[ModelMetadata]:
        """Delete versions the retention policy no longer keeps; returns them.

        Keeps at most ``keep_last`` versions per name (highest versions) and
        drops Archived versions older than ``archived_max_age_days``; both
        default to the ``[retention]`` settings. A Production version or one
        an alias points at is never deleted. ``dry_run`` (the default) only
        reports what would go.
        """
        return _housekeeping.apply_retention(
            self,
            model_name,
            keep_last=keep_last,
            archived_max_age_days=archived_max_age_days,
            dry_run=dry_run,
        )

    # -- integrity --------------------------------------------------------------------

    _all_versions = _housekeeping._all_versions

    def verify(self, *, deep: bool = True) -> VerifyReport:
        """Check every record's files (hash them when ``deep``) and find
        orphan and temporary files. Reads only; see :meth:`gc` to clean up."""
        return _housekeeping.verify(self, deep=deep)

    def gc(
        self, *, dry_run: bool = True, min_age_seconds: float = 3600.0, force: bool = False
    ) -> list[str]:
        """Remove orphan and temporary files (only report them when ``dry_run``).

        A save writes its file before it commits its record, so a young
        "orphan" may belong to a save still in flight: only files older than
        ``min_age_seconds`` are touched, and only if no record points at them
        when we look again just before deleting.

        Files that look like lost versions rather than leftovers are never
        deleted without ``force=True``: the files of a version whose sidecar
        survives its record (``unrecorded``), and, in a registry with no
        sidecars to tell (one without a record, or a remote one), orphans
        that are more than ``GC_MAX_ORPHAN_SHARE`` of every stored file:
        what a lost or rolled-back metadata store looks like. Then
        ``GcRefusedError`` is raised and nothing is deleted.
        """
        return _housekeeping.gc(self, dry_run=dry_run, min_age_seconds=min_age_seconds, force=force)
