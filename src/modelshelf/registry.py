"""``ModelRegistry``: the one object users hold.

It composes the chosen plugins and owns the order of operations that keep
a registry consistent: validate everything and run every veto before writing;
write the artifact durably before recording its metadata; remove the record
before the file; verify bytes before deserializing them. It holds no
backend logic of its own.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import io
import logging
import math
import os
import time
import uuid
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar, cast

from attrs import evolve, frozen

from modelshelf.config import CONFIG_FILE, Settings, load_settings
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
    MetadataMissingError,
    ModelNotFoundError,
    ModelShelfError,
    SerializationError,
    StoreError,
    UnknownMetricWarning,
)
from modelshelf.manifest import (
    SIDECAR_DIR,
    Manifest,
    check_choice,
    has_sidecars,
    iter_sidecars,
    iter_temporary_sidecars,
    new_manifest,
    read_manifest,
    read_sidecar,
    recordable_url,
    remove_sidecar,
    write_manifest,
    write_sidecar,
)
from modelshelf.metadata import (
    ArtifactRef,
    ModelDraft,
    ModelInfo,
    ModelMetadata,
    Stage,
    TrainingInfo,
    check_alias,
    check_int,
    check_key_suffix,
    check_metric_name,
    check_name,
    check_unicode,
    draft_from_metadata,
    metadata_from_draft,
    to_training_info,
)
from modelshelf.plugins import (
    ARTIFACT_STORE,
    METADATA_STORE,
    SCORING,
    SERIALIZER,
    VERSIONING,
    PluginHost,
    PluginKind,
    check_provided,
)
from modelshelf.protocols import IMPORT_ACTION, ROLLBACK_ACTION, STAGE_ACTION, STAGE_ACTIONS
from modelshelf.query import MetricBound, Query, Ranking
from modelshelf.references import Reference, parse_reference
from modelshelf.selectors import (
    Selector,
    parse_model_id,
    parse_requested_version,
    parse_selector,
    parse_step,
    parse_version,
)
from modelshelf.snapshot import Snapshot

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

    from modelshelf.protocols import (
        ArtifactStore,
        AuditEvent,
        MetadataStore,
        ScoringPolicy,
        Serializer,
        VersioningScheme,
    )

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
        self.serializer: Serializer = self._choose(
            SERIALIZER,
            serializer or conf.serializer or recorded.serializer or "joblib",
            **dict(conf.serializer_options if serializer_options is None else serializer_options),
        )
        self.scoring: ScoringPolicy = self._choose(
            SCORING,
            scoring or conf.scoring or "f1",
            **dict(conf.scoring_options if scoring_options is None else scoring_options),
        )
        storage_choice = (
            storage or conf.storage or recorded.storage or ("fsspec" if self.remote else "local")
        )
        self._storage_name = storage_choice if isinstance(storage_choice, str) else None
        self.storage: ArtifactStore = self._choose(
            ARTIFACT_STORE, storage_choice, root=self.location
        )
        url = store_url or conf.store_url or recorded.store_url
        store_choice = store or conf.store or recorded.store
        if store_choice is None:
            store_choice = self._detect_store(url, store_options, conf) or "sqlite"
        elif isinstance(store_choice, str) and self.manifest is None and not self.remote:
            self._refuse_second_store(store_choice, url)
        if isinstance(store_choice, str):
            self._check_footprint(store_choice, url)
        self._store_name = store_choice if isinstance(store_choice, str) else None
        self._store_url = url
        self.store: MetadataStore = self._open_store(
            store_choice,
            url,
            dict(conf.store_options if store_options is None else store_options),
        )
        try:
            fresh = self._check_metadata(store_choice)
            self.versioning: VersioningScheme = self._choose(
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
            self.manifest = self._record_manifest(self._store_name)
        self._serializers: dict[str, Serializer] = {self.serializer.name: self.serializer}

    # -- what the registry is ------------------------------------------------------

    #: Whether opening refuses a store that lost its metadata; recovery opens without.
    _check_on_open = True

    def _footprint(self, name: str, url: str | None) -> list[Path] | None:
        """The files store ``name`` keeps its metadata in here, if it says."""
        found = self.plugins.providers(METADATA_STORE).get(name)
        if found is None or found[0].footprint is None:
            return None
        return list(found[0].footprint(self.storage_path, url))

    def _present_stores(self, url: str | None) -> dict[str, list[Path]]:
        present = {}
        for name in self.plugins.providers(METADATA_STORE):
            paths = [p for p in self._footprint(name, url) or [] if p.is_file()]
            if paths:
                present[name] = paths
        return present

    def _detect_store(
        self, url: str | None, store_options: Mapping[str, Any] | None, conf: Settings
    ) -> str | None:
        """The store whose files an unlabelled directory holds (None: nothing there)."""
        if self.remote:
            return None
        present = self._present_stores(url)
        if len(present) <= 1:
            return next(iter(present), None)
        holding = []
        for name in present:
            probe = self.plugins.create(
                METADATA_STORE,
                name,
                storage_path=self.storage_path,
                url=url,
                **dict(conf.store_options if store_options is None else store_options),
            )
            try:
                if probe.count(Query()) or probe.count(Query(checkpoints=True)):
                    holding.append(name)
            finally:
                probe.close()
        if len(holding) == 1:
            logger.warning(
                "%s holds metadata files of several stores (%s); using %r, the only one "
                "with versions",
                self.location,
                ", ".join(sorted(present)),
                holding[0],
            )
            return holding[0]
        raise ConfigError(
            f"{self.location} holds the metadata of several stores ("
            + ", ".join(f"{n}: {', '.join(p.name for p in ps)}" for n, ps in present.items())
            + "); say which one it is with store= (or --store), then move the other aside"
        )

    def _refuse_second_store(self, name: str, url: str | None) -> None:
        """Never start a second, empty store beside the one a directory holds."""
        mine = self._footprint(name, url)
        if mine is None or any(p.is_file() for p in mine):
            return
        others = {n: ps for n, ps in self._present_stores(url).items() if n != name}
        if others:
            other, paths = next(iter(others.items()))
            raise ConfigError(
                f"the registry at {self.location} keeps its metadata in the {other!r} store "
                f"({', '.join(p.name for p in paths)}), but store {name!r} was asked for, "
                f"which would start a second, empty store beside it; open it with "
                f"store={other!r} or without store="
            )

    def _lost_evidence(self) -> str | None:
        """Why the registry must once have held versions, judged from its files."""
        if self.remote:
            return None
        sidecars = self.storage_path / SIDECAR_DIR
        if has_sidecars(self.storage_path):
            return f"version sidecars remain in {sidecars}"
        if self.manifest is None:
            key = next(iter(self.storage.iter_keys()), None)
            if key is not None:
                return f"model files remain (e.g. {key})"
        return None

    def _check_footprint(self, name: str, url: str | None) -> None:
        """Refuse, before the store starts an empty file, when its file is gone."""
        paths = self._footprint(name, url)
        if not self._check_on_open or not paths or any(p.is_file() for p in paths):
            return
        evidence = self._lost_evidence()
        # Look again: a save elsewhere may have created the file and then the
        # sidecar (in that order) while we looked for evidence.
        if evidence is not None and not any(p.is_file() for p in paths):
            missing = ", ".join(p.name for p in paths)
            raise MetadataMissingError(
                self.location, f"the {name} store's metadata ({missing}) is missing, but {evidence}"
            )

    def _open_store(self, choice: object, url: str | None, options: dict[str, Any]) -> Any:
        try:
            return self._choose(
                METADATA_STORE, choice, storage_path=self.storage_path, url=url, **options
            )
        except StoreError as exc:
            if not self.remote or url:
                raise
            raise StoreError(
                f"{exc}; the storage location {self.location} is remote, so the metadata "
                "store needs a location of its own: pass store_url= (e.g. store='postgresql', "
                "store_url='postgresql://...')"
            ) from exc

    def _holds_versions(self) -> bool:
        """Whether the store records any version (counted: a damaged record still
        counts, and is reported by id when it is read, not when the registry opens)."""
        try:
            return any(self.store.count(Query(checkpoints=c)) for c in (False, True))
        except CorruptMetadataError:
            return True  # a damaged record is still a recorded version

    def _check_metadata(self, store_choice: object) -> bool:
        """Refuse a store that opened empty although versions were recorded.

        Returns whether the registry is new: no versions and no files at all.
        """
        if self._holds_versions():
            return False
        if self.remote:
            return True
        evidence = self._lost_evidence()
        if evidence is not None and self._holds_versions():
            return False  # a first save elsewhere committed, then wrote its sidecar
        if evidence is not None and self._check_on_open:
            name = store_choice if isinstance(store_choice, str) else type(store_choice).__name__
            raise MetadataMissingError(
                self.location,
                f"the {name} store holds no versions (its metadata is empty, truncated "
                f"or replaced), but {evidence}",
            )
        return evidence is None and next(iter(self.storage.iter_keys()), None) is None

    def _detect_versioning(self, sample: Sequence[str] | None = None) -> str | None:
        """The scheme an unlabelled registry's versions follow (semver if several fit)."""
        if sample is None:
            sample = [m.version for m in self.store.find(Query(limit=20))]
        if not sample:
            return None
        available = self.plugins.providers(VERSIONING)
        for name in ["semver", *sorted(n for n in available if n != "semver")]:
            if name not in available:
                continue
            scheme = self.plugins.create(VERSIONING, name)
            try:
                for version in sample:
                    scheme.validate(version)
            except (InvalidInputError, ValueError):
                continue
            return name
        return None

    def _record_manifest(self, store: str) -> Manifest | None:
        """Write down what this new registry is, so every later open agrees."""
        manifest = new_manifest(
            store=store,
            versioning=self.versioning.name,
            serializer=self.serializer.name,
            storage=self._storage_name,
            store_url=recordable_url(self._store_url),
        )
        try:
            write_manifest(self.storage_path, manifest)
        except OSError as exc:
            logger.warning("could not record the registry's plugins in %s: %s", self.location, exc)
            return None
        return manifest

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

    def _sidecars(self, *versions: ModelMetadata | None) -> None:
        """Refresh the sidecars of versions this registry just changed.

        After the change committed: a failure here must not undo it, so it is
        logged; the next change of the version writes its sidecar again.
        """
        if self.remote:
            return
        for metadata in versions:
            if metadata is None:
                continue
            try:
                write_sidecar(self.storage_path, metadata)
            except (OSError, ModelShelfError) as exc:
                logger.warning("could not write the sidecar of %s: %s", metadata.reference, exc)

    def _choose(self, kind: PluginKind, choice: object, **options: Any) -> Any:
        if isinstance(choice, str):
            return self.plugins.create(kind, choice, **options)
        return check_provided(kind, choice, type(choice).__name__)

    def _serializer_named(self, name: str) -> Serializer:
        """The serializer a stored file was written with, even if not the default."""
        if name not in self._serializers:
            self._serializers[name] = self.plugins.create(SERIALIZER, name)
        return self._serializers[name]

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
    ) -> int:
        """Store ``model`` as a new version of ``model_name`` and return its id.

        Nothing is written unless every input is valid and every
        ``before_save`` hook agrees. The file is durable before the record
        that points at it is committed.
        """
        draft = self._draft(
            model,
            model_name=model_name,
            model_type=model_type,
            metrics=metrics,
            hyperparameters=hyperparameters,
            description=description,
            version=version,
            tags=tags,
            stage=stage,
            training_info=training_info,
            feature_names=feature_names,
            artifact_names=list(artifacts or {}),
            parent_id=parent_id,
        )
        initial_stage = draft.stage
        draft = evolve(draft, stage=Stage.NONE)
        self.plugins.before_save(registry=self, draft=draft)
        self._gate_initial_stage(draft, initial_stage)
        metadata = self._write_and_record(draft, model, artifacts, self.versioning)
        if initial_stage is not Stage.NONE:
            self._move_stage(metadata, initial_stage, action=STAGE_ACTION, reason="initial stage")
        return metadata.model_id

    def _gate_initial_stage(self, draft: ModelDraft, stage: Stage) -> None:
        """Gates judge a version entering a stage however it gets there
        (saved or imported straight into it), before anything is written."""
        if stage is Stage.NONE:
            return
        provisional = metadata_from_draft(
            draft, model_id=1, version=draft.requested_version or "pending"
        )
        self.plugins.before_stage_transition(
            registry=self, metadata=provisional, from_stage=Stage.NONE, to_stage=stage
        )

    def _write_and_record(
        self,
        draft: ModelDraft,
        model: Any,
        artifacts: Mapping[str, Any] | None,
        scheme: VersioningScheme,
    ) -> ModelMetadata:
        """Serialize the model and its artifacts, then record the version."""
        objects = {"": model, **(artifacts or {})}
        return self._record(
            draft,
            scheme,
            lambda written: {
                name: self._write_object(draft.model_name, obj, written)
                for name, obj in objects.items()
            },
        )

    def _record(
        self,
        draft: ModelDraft,
        scheme: VersioningScheme,
        write_files: Callable[[list[str]], dict[str, ArtifactRef]],
    ) -> ModelMetadata:
        """Write every file durably, then record the version; undo the files on failure.

        ``write_files`` stores the files, appending each key to the list it is
        given as soon as it exists, and returns their refs by artifact name
        (``""`` for the model itself; artifact names are never empty).
        """
        written: list[str] = []
        try:
            stored = write_files(written)
            main = stored.pop("")
            metadata = self.store.add(evolve(draft, artifact=main, artifacts=stored), scheme)
        except BaseException:
            for key in written:
                self._discard(key)
            raise
        self._sidecars(metadata)
        self.plugins.after_save(registry=self, metadata=metadata)
        return metadata

    def _draft(
        self,
        model: Any,
        *,
        model_name: str,
        model_type: str | None,
        metrics: Mapping[str, float] | None,
        hyperparameters: Mapping[str, Any] | None,
        description: str | None,
        version: str | int | None,
        tags: Mapping[str, str] | None,
        stage: str | Stage | None,
        training_info: TrainingInfo | Mapping[str, Any] | None,
        feature_names: Sequence[str] | None,
        artifact_names: list[str],
        parent_id: int | None,
    ) -> ModelDraft:
        check_name("model_name", model_name)
        for name in artifact_names:
            check_name("artifacts", name)
        version = None if version is None else parse_requested_version(version, self.versioning)
        training_info = to_training_info(training_info)
        if stage is None:
            stage = self.settings.default_stage
        quality = training_info.data_quality_score
        if quality is not None and "data_quality" not in (metrics or {}):
            # The composite policy and metric filters see it like any metric.
            metrics = {**(metrics or {}), "data_quality": quality}
        if feature_names is None:
            names = getattr(model, "feature_names_in_", None)
            feature_names = [str(n) for n in names] if names is not None else None
        pending = ArtifactRef(
            key="pending", serializer=self.serializer.name, sha256=_PENDING_SHA, size=0
        )
        draft = ModelDraft(
            model_name=model_name,
            model_type=model_type if model_type is not None else type(model).__name__,
            metrics=metrics,
            hyperparameters=hyperparameters,
            description=description,
            tags=tags,
            stage=stage,
            training_info=training_info,
            feature_names=feature_names,
            artifact=pending,
            parent_id=parent_id,
            requested_version=version,
        )
        if version is not None and self.store.count(Query(model_name=model_name, version=version)):
            raise DuplicateVersionError(model_name, version)
        return draft

    def _signature(self, key: str, sha256: str, size: int) -> str | None:
        """Binds the bytes' digest to the key they live under, so a file swapped
        in from another version fails even if its own checksum is right."""
        return self.sign_bytes(f"{key}\n{sha256}\n{size}".encode())

    def _write_object(self, model_name: str, obj: Any, written: list[str]) -> ArtifactRef:
        serializer = self.serializer
        extension = check_key_suffix("file_extension", serializer.file_extension)
        key = f"{model_name}/{uuid.uuid4().hex}{extension}"

        def write(stream: IO[bytes]) -> None:
            try:
                serializer.dump(obj, stream)
            except OSError as exc:
                raise StoreError(f"could not write {key}: {exc}") from exc
            except ModelShelfError:
                raise
            except Exception as exc:
                raise SerializationError(serializer.name, f"{type(exc).__name__}: {exc}") from exc

        stored = self.storage.put(key, write)
        written.append(key)
        return ArtifactRef(
            key=stored.key,
            serializer=serializer.name,
            sha256=stored.sha256,
            size=stored.size,
            signature=self._signature(stored.key, stored.sha256, stored.size),
        )

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
        refs = {"": template.artifact, **template.artifacts}
        for name in template.artifacts:  # the record is checked again before writing
            check_name("artifacts", name)
        if set(files) != set(refs):
            raise InvalidInputError(
                f"import_version: files {sorted(files)} do not match the recorded "
                f"artifacts {sorted(refs)}"
            )
        for ref in refs.values():
            self._serializer_named(ref.serializer)
        if version is not None:
            version = parse_requested_version(version, self.versioning)
            if self.store.count(Query(model_name=template.model_name, version=version)):
                raise DuplicateVersionError(template.model_name, version)
        draft = draft_from_metadata(
            template,
            stage=stage,
            parent_id=parent_id,
            requested_version=version,
            artifacts={},
        )
        initial_stage = draft.stage
        draft = evolve(draft, stage=Stage.NONE)
        self.plugins.before_save(registry=self, draft=draft)
        self._gate_initial_stage(draft, initial_stage)
        metadata = self._record(
            draft,
            self.versioning,
            lambda written: {
                name: self._copy_file(template.model_name, files[name], ref, written)
                for name, ref in refs.items()
            },
        )
        if initial_stage is Stage.NONE:
            return metadata
        return self._move_stage(
            metadata, initial_stage, action=IMPORT_ACTION, reason=f"imported {template.reference}"
        )

    def _copy_file(
        self, model_name: str, source: Path, expected: ArtifactRef, written: list[str]
    ) -> ArtifactRef:
        suffix = check_key_suffix("key", Path(expected.key).suffix)
        key = f"{model_name}/{uuid.uuid4().hex}{suffix}"

        def write(stream: IO[bytes]) -> None:
            with open(source, "rb") as src:
                while chunk := src.read(_CHUNK):
                    stream.write(chunk)

        stored = self.storage.put(key, write)
        written.append(key)
        if stored.sha256 != expected.sha256 or stored.size != expected.size:
            raise IntegrityError(
                str(source),
                f"changed while importing: expected sha256 {expected.sha256} "
                f"({expected.size} bytes), copied {stored.sha256} ({stored.size} bytes)",
                expected=expected.sha256,
                actual=stored.sha256,
            )
        return ArtifactRef(
            key=stored.key,
            serializer=expected.serializer,
            sha256=stored.sha256,
            size=stored.size,
            signature=self._signature(stored.key, stored.sha256, stored.size),
        )

    def sign_bytes(self, data: bytes) -> str | None:
        """HMAC-SHA256 of ``data`` with the signing key; None when signing is off."""
        if self._signing_key is None:
            return None
        return hmac.new(self._signing_key, data, hashlib.sha256).hexdigest()

    def _discard(self, key: str) -> None:
        try:
            self.storage.delete(key)
        except (OSError, ModelShelfError) as exc:
            logger.warning("could not remove %s after a failed save: %s (gc will)", key, exc)

    # -- finding ------------------------------------------------------------------

    def resolve(self, reference: str | Reference) -> ModelMetadata:
        """The version a reference names, or ModelNotFoundError."""
        ref = reference if isinstance(reference, Reference) else parse_reference(reference)
        if ref.version is not None:
            query = Query(
                model_name=ref.model_name, version=parse_version(ref.version, self.versioning)
            )
        elif ref.alias is not None:
            query = Query(model_name=ref.model_name, alias=ref.alias)
        elif ref.stage is not None:
            query = Query(
                model_name=ref.model_name,
                stage=ref.stage,
                order_by="version",
                descending=True,
                limit=1,
            )
        else:
            query = Query(model_name=ref.model_name, order_by="version", descending=True, limit=1)
        found = self.store.find(query)
        if not found:
            raise ModelNotFoundError(f"no model version matches {str(ref)!r}")
        return found[0]

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
        selector = parse_selector(
            reference,
            model_id=model_id,
            model_name=model_name,
            version=version,
            scheme=self.versioning,
        )
        return selector.check(self._select(selector))

    def _select(self, selector: Selector) -> ModelMetadata:
        """The version the most specific selector names; the caller checks the others."""
        if selector.model_id is not None:
            found = self.store.get(selector.model_id)
            if found is None:
                raise ModelNotFoundError(f"no model version has id {selector.model_id}")
            return found
        reference = selector.reference()
        if reference is not None:
            return self.resolve(reference)
        version = selector.version
        if version is not None:
            matches = self.store.find(Query(version=version, limit=50))
            if not matches:
                raise ModelNotFoundError(f"no model has version {version!r}")
            names = {m.model_name for m in matches}
            if len(names) > 1:
                raise AmbiguousVersionError(version, names)
            return matches[0]
        raise InvalidInputError("name a version: model_id=, a reference, model_name= or version=")

    # -- loading ------------------------------------------------------------------

    def load_model(
        self,
        reference: int | str | None = None,
        *,
        model_id: int | None = None,
        model_name: str | None = None,
        version: str | int | None = None,
        strict: bool = False,
    ) -> Any:
        """Load a model, or return None (with a logged reason) if it is missing
        or its bytes fail verification. ``strict=True`` raises instead.

        Failed verification also emits an :class:`IntegrityWarning`: a None
        that hides tampered bytes must never pass for a plain "not there".
        """
        try:
            metadata = self.get_metadata(
                reference, model_id=model_id, model_name=model_name, version=version
            )
            return self._load_artifact(metadata.artifact)
        except (ModelNotFoundError, IntegrityError, CorruptMetadataError) as exc:
            if strict:
                raise
            logger.warning("load_model returned None: %s", exc)
            if isinstance(exc, IntegrityError):
                warnings.warn(
                    IntegrityWarning(
                        f"load_model returned None: {exc} (strict=True raises instead)"
                    ),
                    stacklevel=2,
                )
            return None

    def load(self, reference: int | str) -> LoadedModel:
        """Load a version's model, auxiliary artifacts and metadata; raises on any problem."""
        metadata = self.get_metadata(reference)
        model = self._load_artifact(metadata.artifact)
        extra = {name: self._load_artifact(ref) for name, ref in metadata.artifacts.items()}
        return LoadedModel(model=model, artifacts=extra, metadata=metadata)

    def load_best_model(self, metric: str | None = None, **filters: Any) -> LoadedModel | None:
        """The best version's model, artifacts and metadata in one call (``None`` if none ranks).

        What a service needs at start-up; unlike ``load_model`` it raises on a damaged file.
        """
        best = self.get_best_model(metric, **filters)
        return None if best is None else self.load(best.model_id)

    def _check(self, ref: ArtifactRef, sha256: str, size: int) -> None:
        if size != ref.size or sha256 != ref.sha256:
            raise IntegrityError(
                ref.key,
                f"checksum mismatch: expected sha256 {ref.sha256} ({ref.size} bytes), "
                f"found {sha256} ({size} bytes); refusing to deserialize",
                expected=ref.sha256,
                actual=sha256,
            )
        if self._signing_key is not None:
            if ref.signature is None:
                raise IntegrityError(ref.key, "artifact is not signed and signing is required")
            expected = self._signature(ref.key, ref.sha256, ref.size)
            assert expected is not None
            if not hmac.compare_digest(expected, ref.signature):
                raise IntegrityError(ref.key, "signature does not match (wrong key or tampering)")

    def _open_artifact(self, ref: ArtifactRef) -> IO[bytes]:
        try:
            return self.storage.open(ref.key)
        except (OSError, InvalidInputError) as exc:
            # InvalidInputError: the stored key now resolves outside the root
            # (a directory swapped for a symlink); refuse it like a bad file.
            raise IntegrityError(ref.key, f"artifact cannot be read: {exc}") from exc

    def _load_artifact(self, ref: ArtifactRef) -> Any:
        """Deserialize the bytes whose digest was checked, and only those.

        The file is read once, into memory this process owns; whoever can
        write to the storage may change the file afterwards, but not the
        copy the serializer reads.
        """
        serializer = self._serializer_named(ref.serializer)
        if ref.size <= IN_MEMORY_LOAD_LIMIT:
            with self._open_artifact(ref) as stream:
                data = stream.read(ref.size + 1)
            self._check(ref, hashlib.sha256(data).hexdigest(), len(data))
            return self._deserialize(serializer, ref, io.BytesIO(data))
        # Release memory as the serializer reads forward; one that seeks back
        # into released bytes is given a full copy instead.
        for release in (True, False):
            with self._open_artifact(ref) as stream:
                snapshot = Snapshot.capture(stream, limit=ref.size + 1, release=release)
            with snapshot:
                self._check(ref, snapshot.sha256, snapshot.size)
                try:
                    model = self._deserialize(serializer, ref, cast("IO[bytes]", snapshot))
                except IntegrityError:
                    if not snapshot.rewound:
                        raise
                    continue
                if not snapshot.rewound:
                    return model
        raise IntegrityError(ref.key, "the serializer could not read its verified copy")

    @staticmethod
    def _deserialize(serializer: Serializer, ref: ArtifactRef, stream: IO[bytes]) -> Any:
        try:
            return serializer.load(stream)
        except ImportError as exc:  # ModuleNotFoundError too
            raise DeserializationError(
                ref.key,
                f"the model needs {exc.name or 'a module'!r}, which cannot be imported here "
                f"({exc}); install the package that defines the model, then load again",
            ) from exc
        except AttributeError as exc:  # pickle: "Can't get attribute 'Model' on <module ...>"
            raise DeserializationError(
                ref.key,
                f"the model's code is not importable as it was saved ({exc}); "
                "install the version of the package that defines it, then load again",
            ) from exc
        except Exception as exc:
            raise IntegrityError(
                ref.key, f"verified bytes failed to deserialize with {serializer.name}: {exc}"
            ) from exc

    # -- querying -------------------------------------------------------------------

    def _query(
        self,
        *,
        model_name: str | None = None,
        model_type: str | None = None,
        stage: str | Stage | None = None,
        alias: str | None = None,
        tags: Mapping[str, str] | None = None,
        min_metrics: Mapping[str, float] | None = None,
        max_metrics: Mapping[str, float] | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        dataset: str | None = None,
        is_ensemble: bool | None = None,
        order_by: str = "model_id",
        descending: bool = False,
        limit: int | None = None,
        offset: int = 0,
        **thresholds: float | None,
    ) -> Query:
        lows = dict(min_metrics or {})
        highs = dict(max_metrics or {})
        for key, value in thresholds.items():
            if value is None:
                continue
            if key.startswith("min_"):
                lows[check_metric_name(key[4:])] = value
            elif key.startswith("max_"):
                highs[check_metric_name(key[4:])] = value
            else:
                raise InvalidInputError(
                    f"unknown filter {key!r}; metric thresholds are min_<metric>= / max_<metric>="
                )
        bounds = [
            MetricBound(name=name, minimum=lows.get(name), maximum=highs.get(name))
            for name in sorted(set(lows) | set(highs))
        ]
        return Query(
            model_name=model_name,
            model_type=model_type,
            stage=stage,
            alias=alias,
            tags=tags,
            bounds=bounds,
            created_after=created_after,
            created_before=created_before,
            dataset=dataset,
            is_ensemble=is_ensemble,
            order_by=order_by,
            descending=descending,
            limit=limit,
            offset=offset,
        )

    def list_models(
        self, model_type: str | None = None, min_f1: float | None = None, **filters: Any
    ) -> list[ModelMetadata]:
        """Versions matching every filter; [] when none do.

        Filters: ``model_name``, ``model_type``, ``stage``, ``alias``, ``tags``,
        ``min_<metric>`` / ``max_<metric>`` (or ``min_metrics`` / ``max_metrics``
        dicts), ``created_after`` / ``created_before``; ``order_by`` a field or
        a metric, ``descending``, ``limit``, ``offset``. Ties go by id.
        """
        query = self._query(model_type=model_type, min_f1=min_f1, **filters)
        return self.store.find(query)

    def count_models(self, **filters: Any) -> int:
        return self.store.count(self._query(**filters))

    def _ranking(self, metric: str | None) -> tuple[Ranking, str]:
        """The ranking ``metric`` names (the scoring policy without one), and its
        name for messages."""
        if metric is None:
            return self.scoring.ranking(), f"the scoring policy {self.scoring.name!r}"
        return Ranking.by_metric(check_metric_name(metric)), f"metric={metric!r}"

    def _warn_unknown_metrics(
        self,
        ranking: Ranking,
        source: str,
        scope: Query,
        *,
        recorded: Iterable[str] = (),
        complete: bool = False,
        found: bool = False,
    ) -> None:
        """Warn about each metric ``ranking`` names that no version in ``scope`` records.

        ``recorded`` holds metrics known to be recorded in scope: the winner's
        (``found``: the scope is not empty), or those of every row in a
        non-empty scope already read (``complete``). Only the others cost a
        count query each, and the scope one more when one is missing and
        nothing was found. Never reads the versions themselves. An empty scope
        warns about nothing.
        """
        seen = set(recorded)
        named = dict.fromkeys([*ranking.required, *(t.metric for t in ranking.terms)])
        missing = [m for m in named if m not in seen]
        if missing and not complete:
            missing = [
                metric
                for metric in missing
                if not self.store.count(
                    evolve(scope, bounds=(*scope.bounds, MetricBound(name=metric)))
                )
            ]
            if missing and not found and not self.store.count(scope):
                return
        for metric in missing:
            effect = (
                "so no version can be ranked"
                if metric in ranking.required
                else "so it adds nothing to any score"
            )
            warnings.warn(
                UnknownMetricWarning(
                    metric,
                    f"no version in scope records the metric {metric!r} that {source} "
                    f"names, {effect}; check the name against your recorded metrics "
                    "(scoring options: docs/querying.md)",
                ),
                stacklevel=3,
            )

    def get_best_model(
        self, metric: str | None = None, model_type: str | None = None, **filters: Any
    ) -> ModelMetadata | None:
        """The best version by ``metric`` (its direction inferred from its name)
        or, without one, by the registry's scoring policy; None if nothing ranks.

        A metric the ranking names that no version in scope records gives an
        :class:`UnknownMetricWarning`.
        """
        ranking, source = self._ranking(metric)
        for key in ("order_by", "descending", "limit", "offset"):
            if key in filters:
                raise InvalidInputError(f"get_best_model does not take {key}=")
        scope = self._query(model_type=model_type, **filters)
        best = self.store.best(ranking, scope)
        self._warn_unknown_metrics(
            ranking,
            source,
            scope,
            recorded=() if best is None else best.metrics,
            found=best is not None,
        )
        return best

    def score(self, metadata: ModelMetadata) -> float | None:
        """The scoring policy's score of one version (None if it cannot be ranked)."""
        return self.scoring.ranking().score(metadata)

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
        ranking, source = self._ranking(metric)
        shown = None if metric is None else check_metric_name(metric)
        scope = self._query(model_name=model_name, **filters)
        versions = self.store.find(scope)
        recorded: set[str] = set()
        rows = []
        for metadata in versions:
            recorded.update(metadata.metrics)
            score = ranking.score(metadata)
            if score is not None:
                rows.append((score, metadata))
        if versions:
            self._warn_unknown_metrics(ranking, source, scope, recorded=recorded, complete=True)
        rows.sort(key=lambda pair: (pair[0], pair[1].model_id), reverse=True)
        return [
            {
                "rank": rank,
                "model_id": m.model_id,
                "model_name": m.model_name,
                "model_type": m.model_type,
                "version": m.version,
                "stage": m.stage.value,
                "metrics": dict(m.metrics),
                "score": score if shown is None else m.metrics[shown],
            }
            for rank, (score, m) in enumerate(rows[:limit], start=1)
        ]

    def get_model_versions(self, model_name: str) -> list[ModelMetadata]:
        """Every version of ``model_name``, oldest first."""
        return self.store.find(Query(model_name=model_name, order_by="model_id"))

    def get_production_model(self, model_name: str) -> ModelMetadata | None:
        found = self.store.find(
            Query(
                model_name=model_name,
                stage=Stage.PRODUCTION,
                order_by="version",
                descending=True,
                limit=1,
            )
        )
        return found[0] if found else None

    def model_names(self) -> list[str]:
        return self.store.model_names()

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
        model_name = check_name("model_name", model_name)
        version = parse_version(version, self.versioning)
        target_stage = Stage.parse(stage)
        current = self.get_metadata(model_name=model_name, version=version)
        return self._move_stage(
            current,
            target_stage,
            action=STAGE_ACTION,
            reason=reason,
            archive_existing=archive_existing,
        )

    def _move_stage(
        self,
        current: ModelMetadata,
        target_stage: Stage,
        *,
        action: str,
        reason: str,
        archive_existing: bool = True,
    ) -> ModelMetadata:
        """The one path every stage change takes: a promotion, a rollback, a
        save or an import straight into a stage. Gates judge it, the store
        moves it, archives the name's other Production version and records
        the audit event (``action``, with the version's id) in one locked
        transaction, and the after-hooks hear of every change."""
        _check_reason(reason)
        self.plugins.before_stage_transition(
            registry=self, metadata=current, from_stage=current.stage, to_stage=target_stage
        )
        changed = self.store.set_stage(
            current.model_id,
            target_stage,
            archive_others=archive_existing,
            actor=self.user,
            reason=reason,
            action=action,
        )
        if not changed:
            raise ModelNotFoundError(f"{current.reference} was deleted meanwhile")
        self._sidecars(*changed)
        self.plugins.after_stage_transition(
            registry=self, metadata=changed[0], from_stage=current.stage, to_stage=target_stage
        )
        for archived in changed[1:]:
            self.plugins.after_stage_transition(
                registry=self,
                metadata=archived,
                from_stage=Stage.PRODUCTION,
                to_stage=Stage.ARCHIVED,
            )
        return changed[0]

    def promote(
        self, reference: int | str, stage: str | Stage = Stage.PRODUCTION, *, reason: str = ""
    ) -> ModelMetadata:
        """``transition_stage`` by reference: ``promote("xgb:1.0.2")``."""
        metadata = self.get_metadata(reference)
        return self.transition_stage(metadata.model_name, metadata.version, stage, reason=reason)

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
        current = self.get_production_model(model_name)
        if current is None:
            raise ModelNotFoundError(f"{model_name!r} has no Production version to roll back")
        for model_id in reversed(self._production_history(model_name, current.model_id)):
            previous = self.store.get(model_id)
            if previous is None or previous.model_name != model_name or previous.checkpoint:
                continue
            note = f"rollback from {current.version}" + (f": {reason}" if reason else "")
            return self._move_stage(previous, Stage.PRODUCTION, action=ROLLBACK_ACTION, reason=note)
        raise ModelNotFoundError(
            f"{model_name!r} has no earlier Production version to roll back to"
        )

    def _production_history(self, model_name: str, current_id: int) -> list[int]:
        """Ids of the versions ``model_name`` had in Production, oldest first,
        as rollbacks left the stack, without ``current_id`` on top. Events a
        store kept without an id (recorded before ids were, for a version
        deleted since) still push and pop, but are never returned to."""
        history: list[int | None] = []
        for event in self.store.audit_log(model_name):
            if event.action not in STAGE_ACTIONS or event.to_value != Stage.PRODUCTION.value:
                continue
            if event.action == ROLLBACK_ACTION and history:
                history.pop()
                if not history or history[-1] != event.model_id:
                    history.append(event.model_id)
            else:
                history.append(event.model_id)
        while history and history[-1] == current_id:
            history.pop()
        return [i for i in history if i is not None and i != current_id]

    def set_alias(self, reference: int | str, alias: str, *, reason: str = "") -> ModelMetadata:
        """Point ``alias`` (e.g. ``champion``) at a version; it moves if set before."""
        check_alias(alias)
        _check_reason(reason)
        metadata = self.get_metadata(reference)
        previous = self.store.set_alias(
            metadata.model_name, alias, metadata.model_id, actor=self.user, reason=reason
        )
        updated = self.get_metadata(metadata.model_id)
        self._sidecars(updated, None if previous is None else self.store.get(previous))
        return updated

    def delete_alias(self, model_name: str, alias: str, *, reason: str = "") -> bool:
        check_name("model_name", model_name)
        check_alias(alias)
        _check_reason(reason)
        previous = self.store.set_alias(model_name, alias, None, actor=self.user, reason=reason)
        if previous is not None:
            self._sidecars(self.store.get(previous))
        return previous is not None

    def update_model(
        self,
        reference: int | str,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> ModelMetadata:
        """Edit a version's description and/or replace its tags."""
        metadata = self.get_metadata(reference)
        checked = evolve(
            metadata,
            description=metadata.description if description is None else description,
            tags=metadata.tags if tags is None else tags,
        )
        updated = self.store.update(
            metadata.model_id,
            description=None if description is None else checked.description,
            tags=None if tags is None else checked.tags,
        )
        if updated is None:
            raise ModelNotFoundError(f"no model version has id {metadata.model_id}")
        self._sidecars(updated)
        return updated

    def audit_log(self, model_name: str | None = None) -> list[AuditEvent]:
        """Every stage transition and alias move, oldest first."""
        if model_name is not None:
            check_name("model_name", model_name)
        return self.store.audit_log(model_name)

    def delete_model(self, model_id: int) -> bool:
        """Delete a version: its record first, then its files. False if it did not exist."""
        model_id = parse_model_id(model_id)
        metadata = self.store.get(model_id)
        if metadata is None:
            return False
        self.plugins.before_delete(registry=self, metadata=metadata)
        # The sidecar goes first: a crash after it leaves a version without one
        # (harmless) rather than unrecorded files that look like lost metadata.
        if not self.remote:
            remove_sidecar(self.storage_path, metadata.artifact.key)
        try:
            removed = self.store.delete(model_id)
        except BaseException:
            self._sidecars(self.store.get(model_id))
            raise
        if removed is None:
            return False
        for ref in [removed.artifact, *removed.artifacts.values()]:
            self._discard(ref.key)
        self.plugins.after_delete(registry=self, metadata=removed)
        return True

    # -- names ---------------------------------------------------------------------

    def get_model_info(self, model_name: str) -> ModelInfo:
        """The description and tags of a model name (empty if never set)."""
        check_name("model_name", model_name)
        found = self.store.get_model_info(model_name)
        if found is not None:
            return found
        if not self.store.count(Query(model_name=model_name, limit=1)):
            raise ModelNotFoundError(f"no model named {model_name!r}")
        return ModelInfo(model_name=model_name)

    def set_model_info(
        self,
        model_name: str,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> ModelInfo:
        """Set the description and/or replace the tags of a model name."""
        check_name("model_name", model_name)
        current = self.store.get_model_info(model_name) or ModelInfo(model_name=model_name)
        info = ModelInfo(
            model_name=model_name,
            description=current.description if description is None else description,
            tags=current.tags if tags is None else tags,
        )
        self.store.set_model_info(info)
        return info

    def list_model_names(self, *, tags: Mapping[str, str] | None = None) -> list[str]:
        """Model names with versions, optionally only those whose name-level tags match."""
        names = self.store.model_names()
        if not tags:
            return names
        wanted = dict(tags)
        return [
            name
            for name in names
            if (info := self.store.get_model_info(name)) is not None
            and all(info.tags.get(k) == v for k, v in wanted.items())
        ]

    def summary(self) -> dict[str, Any]:
        """Counts by name, type and stage, bytes stored, and the best version per name."""
        by_name: dict[str, int] = {}
        by_type: dict[str, int] = {}
        by_stage: dict[str, int] = {stage.value: 0 for stage in Stage}
        stored = 0
        versions = 0
        recorded: set[str] = set()
        for metadata in self.store.find(Query()):
            versions += 1
            recorded.update(metadata.metrics)
            by_name[metadata.model_name] = by_name.get(metadata.model_name, 0) + 1
            by_type[metadata.model_type] = by_type.get(metadata.model_type, 0) + 1
            by_stage[metadata.stage.value] += 1
            stored += metadata.artifact.size + sum(a.size for a in metadata.artifacts.values())
        ranking, source = self._ranking(None)
        if versions:
            self._warn_unknown_metrics(ranking, source, Query(), recorded=recorded, complete=True)
        best = {}
        for name in sorted(by_name):
            winner = self.store.best(ranking, Query(model_name=name))
            best[name] = None if winner is None else winner.reference
        return {
            "versions": versions,
            "by_name": dict(sorted(by_name.items())),
            "by_type": dict(sorted(by_type.items())),
            "by_stage": by_stage,
            "storage_bytes": stored,
            "best": best,
        }

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
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise InvalidInputError(f"step must be an integer >= 0, got {step!r}")
        check_int("step", step, minimum=0)  # its version's sort key holds 20 digits
        if keep_last is not None and (isinstance(keep_last, bool) or keep_last < 1):
            raise InvalidInputError(f"keep_last must be an integer >= 1, got {keep_last!r}")
        draft = self._draft(
            model,
            model_name=model_name,
            model_type=None,
            metrics=metrics,
            hyperparameters=hyperparameters,
            description=description,
            version=None,
            tags=None,
            stage=Stage.NONE,
            training_info=None,
            feature_names=None,
            artifact_names=list(artifacts or {}),
            parent_id=None,
        )
        version = _CHECKPOINTS.version_of(step)
        if self.store.count(Query(model_name=model_name, version=version, checkpoints=True)):
            raise DuplicateVersionError(model_name, version)
        draft = evolve(draft, checkpoint=True, requested_version=version)
        self.plugins.before_save(registry=self, draft=draft)
        metadata = self._write_and_record(draft, model, artifacts, _CHECKPOINTS)
        if keep_last is not None:
            for old in self.list_checkpoints(model_name)[:-keep_last]:
                self.delete_model(old.model_id)
        return metadata.model_id

    def list_checkpoints(self, model_name: str) -> list[ModelMetadata]:
        """Checkpoints of ``model_name``, lowest step first."""
        return self.store.find(Query(model_name=model_name, checkpoints=True, order_by="version"))

    def load_checkpoint(self, model_name: str, step: int | None = None) -> LoadedModel:
        """The checkpoint at ``step``, or the latest one; raises if there is none."""
        step = None if step is None else parse_step(step)
        query = Query(
            model_name=model_name,
            checkpoints=True,
            version=None if step is None else _CHECKPOINTS.version_of(step),
            order_by="version",
            descending=True,
            limit=1,
        )
        found = self.store.find(query)
        if not found:
            which = "any checkpoint" if step is None else f"a checkpoint at step {step}"
            raise ModelNotFoundError(f"{model_name!r} has no {which}")
        return self.load(found[0].model_id)

    def promote_checkpoint(
        self,
        model_name: str,
        step: int | None = None,
        *,
        version: str | int | None = None,
        **extra: Any,
    ) -> int:
        """Release a checkpoint as a regular version (its parent_id points back)."""
        loaded = self.load_checkpoint(model_name, step)
        source = loaded.metadata
        return self.save_model(
            loaded.model,
            model_name=model_name,
            model_type=extra.pop("model_type", source.model_type),
            metrics=extra.pop("metrics", source.metrics),
            hyperparameters=extra.pop("hyperparameters", source.hyperparameters),
            description=extra.pop("description", source.description),
            version=version,
            artifacts=loaded.artifacts or None,
            parent_id=source.model_id,
            **extra,
        )

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
        keep_last = keep_last if keep_last is not None else self.settings.retention.keep_last
        max_age = (
            archived_max_age_days
            if archived_max_age_days is not None
            else self.settings.retention.archived_max_age_days
        )
        if keep_last is not None and (isinstance(keep_last, bool) or keep_last < 1):
            raise InvalidInputError(f"keep_last must be an integer >= 1, got {keep_last!r}")
        if max_age is not None and not (
            isinstance(max_age, (int, float)) and 0 < max_age <= _MAX_AGE_DAYS
        ):  # also refuses NaN and ages no timedelta can hold
            raise InvalidInputError(
                f"archived_max_age_days must be > 0 and at most {_MAX_AGE_DAYS}, got {max_age!r}"
            )
        names = [check_name("model_name", model_name)] if model_name else self.store.model_names()
        doomed: dict[int, ModelMetadata] = {}
        for name in names:
            if keep_last is not None:
                beyond = Query(
                    model_name=name, order_by="version", descending=True, offset=keep_last
                )
                doomed.update((m.model_id, m) for m in self.store.find(beyond))
            if max_age is not None:
                cutoff = datetime.now(timezone.utc) - timedelta(days=max_age)
                old = Query(model_name=name, stage=Stage.ARCHIVED, created_before=cutoff)
                doomed.update((m.model_id, m) for m in self.store.find(old))
        chosen = [
            m
            for _, m in sorted(doomed.items())
            if m.stage is not Stage.PRODUCTION and not m.aliases
        ]
        if not dry_run:
            for metadata in chosen:
                self.delete_model(metadata.model_id)
        return chosen

    # -- integrity --------------------------------------------------------------------

    def _all_versions(self) -> Iterator[ModelMetadata]:
        for checkpoints in (False, True):
            yield from self.store.find(Query(checkpoints=checkpoints))

    def verify(self, *, deep: bool = True) -> VerifyReport:
        """Check every record's files (hash them when ``deep``) and find
        orphan and temporary files. Reads only; see :meth:`gc` to clean up."""
        findings: list[Finding] = []
        referenced: set[str] = set()
        checked = 0
        check_store = getattr(self.store, "check", None)  # optional: a store's own audit
        if deep and callable(check_store):
            findings.extend(
                Finding(kind="metadata", key="", model_id=None, detail=str(problem))
                for problem in check_store()
            )
        for metadata in self._all_versions():
            for ref in [metadata.artifact, *metadata.artifacts.values()]:
                referenced.add(ref.key)
                checked += 1
                try:
                    size = self.storage.size(ref.key)
                except InvalidInputError as exc:
                    findings.append(
                        Finding(
                            kind="unsafe", key=ref.key, model_id=metadata.model_id, detail=str(exc)
                        )
                    )
                    continue
                if size is None:
                    findings.append(
                        Finding(
                            kind="missing",
                            key=ref.key,
                            model_id=metadata.model_id,
                            detail="file recorded but not stored",
                        )
                    )
                    continue
                if deep:
                    digest = hashlib.sha256()
                    with self.storage.open(ref.key) as stream:
                        while chunk := stream.read(_CHUNK):
                            digest.update(chunk)
                    actual = digest.hexdigest()
                else:
                    actual = ref.sha256
                if size != ref.size or actual != ref.sha256:
                    findings.append(
                        Finding(
                            kind="mismatch",
                            key=ref.key,
                            model_id=metadata.model_id,
                            detail=f"expected {ref.sha256} ({ref.size} B), "
                            f"found {actual} ({size} B)",
                        )
                    )
        unrecorded = self._unrecorded_files(referenced, findings)
        for key in self.storage.iter_keys():
            if key not in referenced and key not in unrecorded:
                findings.append(
                    Finding(
                        kind="orphan",
                        key=key,
                        model_id=None,
                        detail="stored file no record points at",
                    )
                )
        for key in self.storage.iter_temporary():
            findings.append(
                Finding(
                    kind="temporary",
                    key=key,
                    model_id=None,
                    detail="leftover of an unfinished write",
                )
            )
        return VerifyReport(checked=checked, findings=tuple(findings))

    def _unrecorded_files(self, referenced: set[str], findings: list[Finding]) -> set[str]:
        """Files of versions whose sidecar survives but whose record does not.

        They are a lost version, not leftovers: reported as ``unrecorded``
        (so ``ok`` is False and ``gc`` keeps them) until ``recover`` records
        them again. A sidecar whose files are gone too is stale (``sidecar``).
        """
        if self.remote:
            return set()
        unrecorded: set[str] = set()
        for key, path in iter_sidecars(self.storage_path):
            if key in referenced:
                continue
            try:
                metadata = read_sidecar(path)
                keys = [ref.key for ref in [metadata.artifact, *metadata.artifacts.values()]]
                present = [k for k in keys if self.storage.size(k) is not None]
            except (ModelShelfError, OSError) as exc:
                findings.append(
                    Finding(kind="sidecar", key=key, model_id=None, detail=f"unreadable: {exc}")
                )
                continue
            if not present:
                findings.append(
                    Finding(
                        kind="sidecar",
                        key=key,
                        model_id=None,
                        detail="stale sidecar: neither a record nor the files remain",
                    )
                )
                continue
            for file_key in present:
                unrecorded.add(file_key)
                findings.append(
                    Finding(
                        kind="unrecorded",
                        key=file_key,
                        model_id=None,
                        detail=f"file of {metadata.reference} (id {metadata.model_id}), which "
                        "the metadata store no longer records; its sidecar survives: run "
                        "`modelshelf recover` to record it again",
                    )
                )
        return unrecorded

    def _modified_at(self, key: str) -> float:
        """When ``key`` last changed; +inf (never old enough for gc) if it
        cannot be addressed safely, e.g. a symlink pointing out of the root."""
        try:
            return self.storage.modified_at(key) or 0.0
        except InvalidInputError as exc:
            logger.warning("gc leaves %s alone: %s", key, exc)
            return math.inf

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
        report = self.verify(deep=False)
        cutoff = time.time() - min_age_seconds
        kinds = ("orphan", "temporary", "unrecorded") if force else ("orphan", "temporary")
        doomed = [
            f for f in report.findings if f.kind in kinds and self._modified_at(f.key) <= cutoff
        ]
        stale = [f.key for f in report.findings if f.kind == "sidecar"]
        if dry_run:
            return [f.key for f in doomed]
        if not force:
            self._refuse_mass_deletion(report, doomed)
        referenced = {
            ref.key for m in self._all_versions() for ref in [m.artifact, *m.artifacts.values()]
        }
        removed = []
        for finding in doomed:
            if finding.key in referenced:
                continue
            if finding.kind == "temporary":
                self.storage.delete_temporary(finding.key)
            else:
                self.storage.delete(finding.key)
            removed.append(finding.key)
        if not self.remote:
            for key in stale:
                remove_sidecar(self.storage_path, key)
            for path in iter_temporary_sidecars(self.storage_path):
                if path.stat().st_mtime <= cutoff:
                    path.unlink(missing_ok=True)
        return removed

    def _refuse_mass_deletion(self, report: VerifyReport, doomed: list[Finding]) -> None:
        orphans = [f.key for f in doomed if f.kind == "orphan"]
        unrecorded = [f.key for f in report.findings if f.kind == "unrecorded"]
        if unrecorded:
            logger.warning(
                "gc keeps %d file(s) of versions the store no longer records "
                "(run `modelshelf recover`)",
                len(unrecorded),
            )
        if self.manifest is not None or len(orphans) <= 1:
            return
        stored = sum(1 for _ in self.storage.iter_keys())
        if len(orphans) > GC_MAX_ORPHAN_SHARE * stored:
            raise GcRefusedError(
                f"gc would delete {len(orphans)} of the {stored} files stored in "
                f"{self.location} as orphans: more than {GC_MAX_ORPHAN_SHARE:.0%}, which is "
                "what a lost or rolled-back metadata store looks like, so nothing was deleted. "
                "Check the metadata (modelshelf verify, modelshelf recover); if the files "
                "really are leftovers, run gc with force=True (--force)",
                orphans,
            )
