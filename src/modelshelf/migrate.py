"""Bring an MLflow model registry into modelshelf: every name, version, stage and alias.

``from_mlflow(destination, tracking_uri)`` reads MLflow through its own
client (``mlflow.MlflowClient``), so a SQLite database, a ``file:`` store and
an MLflow tracking server (``http(s)://``) all work, and records each model
version through the public registry API, so promotion gates and the audit
log apply as for any other version.

What a version brings: its name and number (MLflow numbers versions 1, 2, 3
per name, and so does the destination, which must use integer versioning),
description, tags, creation time, stage and aliases; its source run's
metrics, parameters, start time and tags; and the model itself. A
scikit-learn model is copied as MLflow stored it (``model.pkl`` or
``model.skops``), byte for byte, and recorded with the modelshelf serializer
that reads that format; nothing is unpickled while migrating, so no stored
code runs. Any other flavour (or a scikit-learn model that needs code shipped
with it) is kept as its whole MLflow directory in one archive, loaded through
``mlflow.pyfunc`` by the bundled ``mlflow`` serializer.

Why it is safe to interrupt and to run twice: a version is recorded with its
MLflow origin (tags ``mlflow.run_id`` and ``mlflow.source``), and a version
already present under the same name and number with the same origin is
skipped before anything is downloaded; one with another origin is a conflict,
reported and left alone. Stages and aliases are applied after the versions
exist and only where the destination has none yet, so a run cut off half-way
is completed by the next one without undoing changes made since. Every
migrated artifact is read back from the destination and its SHA-256 compared
with the bytes MLflow gave.

``import modelshelf`` never imports MLflow: this module imports it only when a
migration runs.
"""

from __future__ import annotations

import hashlib
import os
import pickletools
import shutil
import tarfile
import tempfile
import time
import warnings
import zipfile
from collections import OrderedDict
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from attrs import field, frozen

from modelshelf.config import load_settings
from modelshelf.errors import (
    DuplicateVersionError,
    IntegrityError,
    InvalidInputError,
    ModelShelfError,
    VetoError,
)
from modelshelf.metadata import (
    ArtifactRef,
    ModelInfo,
    ModelMetadata,
    Stage,
    TrainingInfo,
    check_alias,
    check_metric_name,
    check_metric_value,
    check_name,
)
from modelshelf.query import Query

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

    from modelshelf.registry import ModelRegistry

#: Version tag holding the MLflow run the version was registered from (its lineage).
RUN_ID_TAG = "mlflow.run_id"
#: Version tag holding MLflow's source URI of the model (``runs:/...``, ``models:/m-...``).
SOURCE_TAG = "mlflow.source"
#: The versioning scheme that keeps MLflow's numbers as they are.
VERSIONING = "integer"
#: The audit reason of stages and aliases set by a migration.
REASON = "migrated from MLflow"
#: Serializer of MLflow model directories stored whole (plugins/modelshelf_plugins/mlflow_model.py).
MLFLOW_SERIALIZER = "mlflow"
#: sklearn flavour formats and the modelshelf serializer that reads each file as MLflow wrote it.
SKLEARN_FORMATS = {"pickle": "cloudpickle", "cloudpickle": "cloudpickle", "skops": "skops"}
#: Downloaded model directories kept at once: versions registered from the same
#: source are downloaded once, without holding a whole registry in temporary space.
DOWNLOAD_CACHE = 8
_CHUNK = 1024 * 1024


class MigrationError(InvalidInputError):
    """The migration cannot start: the destination cannot hold MLflow's versions as they are."""


class MlflowMissingError(ModelShelfError):
    """MLflow is not installed where the migration runs."""

    def __init__(
        self,
        message: str = "migrating from MLflow needs MLflow's client: "
        "pip install 'modelshelf[mlflow]'",
    ) -> None:
        super().__init__(message)


@frozen(kw_only=True)
class Problem:
    """Something a migration could not bring (a failure) or brought only in part (a note)."""

    #: The MLflow version concerned, ``name:version`` (or just the name).
    reference: str
    #: conflict | download | invalid | not-ready | veto | integrity | error | partial
    kind: str
    reason: str


@frozen(kw_only=True)
class MigrationReport:
    """What one run of :func:`from_mlflow` did; a second run copies nothing."""

    #: Versions MLflow holds that this run looked at.
    total: int
    copied: int
    skipped: int
    failed: tuple[Problem, ...] = ()
    #: Versions brought with something left out (a tag key modelshelf cannot hold...).
    notes: tuple[Problem, ...] = ()
    stages_set: int = 0
    aliases_set: int = 0
    model_info_set: int = 0
    #: Artifacts read back from the destination with a matching SHA-256.
    verified: int = 0
    seconds: float = 0.0
    #: The destination's references of the versions copied by this run.
    references: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when every version MLflow holds is in the destination."""
        return not self.failed

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for ``--json`` and for scripts."""
        return {
            "ok": self.ok,
            "total": self.total,
            "copied": self.copied,
            "skipped": self.skipped,
            "failed": [_problem_dict(p) for p in self.failed],
            "notes": [_problem_dict(p) for p in self.notes],
            "stages_set": self.stages_set,
            "aliases_set": self.aliases_set,
            "model_info_set": self.model_info_set,
            "verified": self.verified,
            "seconds": round(self.seconds, 3),
            "references": list(self.references),
        }


def _problem_dict(problem: Problem) -> dict[str, str]:
    return {"reference": problem.reference, "kind": problem.kind, "reason": problem.reason}


# -- the destination ----------------------------------------------------------------------


def destination_versioning(path: str | os.PathLike[str]) -> str | None:
    """The versioning to open a local destination with: integer, unless its
    ``modelshelf.toml`` chose a scheme (then None: the registry's own, which
    :func:`check_destination` judges)."""
    root = Path(path)
    if root.is_dir() and load_settings(root).versioning not in (None, VERSIONING):
        return None
    return VERSIONING


def check_destination(registry: ModelRegistry) -> None:
    """Refuse a destination whose versioning would renumber MLflow's versions."""
    name = registry.versioning.name
    if name != VERSIONING:
        raise MigrationError(
            f"{registry.location} numbers versions with {name!r}; MLflow numbers them 1, 2, 3 "
            "and a migration keeps those numbers: migrate into a new registry (it is created "
            "with integer versioning) or one made with `modelshelf init --versioning integer` "
            "(ModelRegistry(..., versioning='integer'))"
        )


def _redact(uri: str) -> str:
    """``uri`` without credentials or query string, fit to be recorded as lineage."""
    parts = urlsplit(uri)
    if not parts.netloc:
        return urlunsplit(parts._replace(query=""))
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=host, query=""))


# -- reading MLflow ---------------------------------------------------------------------------


@contextmanager
def _quiet() -> Iterator[None]:
    """MLflow and SQLAlchemy warn about their own deprecations (stages, loader
    strategies) while we only read; a user migrating cannot act on them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", UserWarning)
        try:
            from sqlalchemy.exc import SADeprecationWarning

            warnings.simplefilter("ignore", SADeprecationWarning)
        except ImportError:  # pragma: no cover - http stores need no SQLAlchemy
            pass
        yield


@contextmanager
def _file_stores_allowed() -> Iterator[None]:
    """MLflow 3 refuses its file store (``./mlruns``) unless ``MLFLOW_ALLOW_FILE_STORE``
    is set; a migration only reads it, on its way out of that store."""
    previous = os.environ.get("MLFLOW_ALLOW_FILE_STORE")
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        yield
    finally:
        if previous is None:
            del os.environ["MLFLOW_ALLOW_FILE_STORE"]
        else:
            os.environ["MLFLOW_ALLOW_FILE_STORE"] = previous


@contextmanager
def _process_tracking_uri(tracking_uri: str) -> Iterator[None]:
    """Point the process's MLflow tracking URI at the migrated store meanwhile.

    Parts of MLflow ignore the client they serve and open ``MlflowClient()``
    with the process's URI (the file registry store reading a version does):
    without this they would read, or create, ``./mlflow.db``. The previous
    URI is restored afterwards.
    """
    try:
        from mlflow.tracking._tracking_service import utils
    except ImportError as exc:
        raise MlflowMissingError() from exc
    use = getattr(utils, "_use_tracking_uri", None)
    if use is None:  # pragma: no cover - MLflow has had it since 1.x
        yield
        return
    with use(tracking_uri):
        yield


def _client(tracking_uri: str, registry_uri: str | None) -> Any:
    try:
        import mlflow
    except ImportError as exc:
        raise MlflowMissingError() from exc
    with _quiet():
        # MLflow 3 does not default the registry to a file tracking store: it would
        # open (and create) ./mlflow.db instead.
        return mlflow.MlflowClient(
            tracking_uri=tracking_uri, registry_uri=registry_uri or tracking_uri
        )


def _paged(search: Callable[..., Any], **arguments: Any) -> Iterator[Any]:
    token = None
    while True:
        with _quiet():
            page = search(page_token=token, **arguments)
        yield from page
        token = getattr(page, "token", None)
        if not token:
            return


@frozen(kw_only=True)
class _Model:
    """One downloaded MLflow model, ready to be recorded."""

    file: Path
    serializer: str
    suffix: str
    sha256: str
    size: int
    model_type: str
    feature_names: tuple[str, ...]
    facts: dict[str, Any]


def _hash(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _pickled_class(path: Path) -> str:
    """The class a pickle starts with (``sklearn...LogisticRegression``), read from its
    opcodes without unpickling anything; empty if it does not say."""
    strings: list[str] = []
    try:
        with open(path, "rb") as stream:
            for opcode, argument, _ in pickletools.genops(stream):
                if opcode.name == "GLOBAL" and isinstance(argument, str):
                    return argument.replace(" ", ".")
                if opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                    return f"{strings[-2]}.{strings[-1]}"
                if isinstance(argument, str) and "UNICODE" in opcode.name:
                    strings.append(argument)
    except (ValueError, EOFError, OSError):
        return ""
    return ""


def _skops_class(path: Path) -> str:
    """The class a skops file holds, from its schema.json (no object is built)."""
    import json

    try:
        with zipfile.ZipFile(path) as archive:
            schema = json.loads(archive.read("schema.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return ""
    module, name = schema.get("__module__"), schema.get("__class__")
    return f"{module}.{name}" if isinstance(module, str) and isinstance(name, str) else ""


def _feature_names(mlmodel: Mapping[str, Any]) -> tuple[str, ...]:
    import json

    signature = mlmodel.get("signature") or {}
    try:
        inputs = json.loads(signature.get("inputs") or "[]")
    except (TypeError, ValueError):
        return ()
    names = [column.get("name") for column in inputs if isinstance(column, dict)]
    if names and all(isinstance(n, str) for n in names):
        return tuple(str(n) for n in names)
    return ()


def _archive(directory: Path, target: Path) -> None:
    """The MLflow directory as one tar, byte-identical for identical content."""

    def clean(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.mtime = 0
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    with tarfile.open(target, "w") as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file() and not path.is_symlink():
                archive.add(path, arcname=path.relative_to(directory).as_posix(), filter=clean)


def _prepare(directory: Path) -> _Model:
    """Choose what to store for a downloaded MLflow model directory."""
    import yaml

    mlmodel_path = directory / "MLmodel"
    if not mlmodel_path.is_file():
        raise InvalidInputError(f"{directory.name}: not an MLflow model (no MLmodel file)")
    mlmodel = yaml.safe_load(mlmodel_path.read_text()) or {}
    flavors = mlmodel.get("flavors") or {}
    sklearn = flavors.get("sklearn") or {}
    fmt = sklearn.get("serialization_format")
    facts: dict[str, Any] = {
        "flavors": sorted(flavors),
        "mlflow_version": str(mlmodel.get("mlflow_version", "")),
    }
    pickled = sklearn.get("pickled_model")
    if sklearn and fmt in SKLEARN_FORMATS and not sklearn.get("code") and pickled:
        file = directory / str(pickled)
        if not file.is_file() or file.parent != directory:
            raise InvalidInputError(f"MLmodel names {pickled!r}, which is not in the model")
        serializer = SKLEARN_FORMATS[str(fmt)]
        model_type = _skops_class(file) if fmt == "skops" else _pickled_class(file)
        facts.update(
            flavor="sklearn",
            serialization_format=fmt,
            sklearn_version=str(sklearn.get("sklearn_version", "")),
        )
        suffix = ".skops" if fmt == "skops" else ".pkl"
    else:
        file = directory.parent / f"{directory.name}.mlflow.tar"
        _archive(directory, file)
        serializer = MLFLOW_SERIALIZER
        pyfunc = flavors.get("python_function") or {}
        model_type = str(pyfunc.get("loader_module") or next(iter(flavors), "mlflow"))
        facts.update(flavor=next((f for f in flavors if f != "python_function"), "pyfunc"))
        suffix = ".tar"
    requirements = directory / "requirements.txt"
    if requirements.is_file():
        facts["requirements"] = [
            line.strip()
            for line in requirements.read_text().splitlines()
            if line.strip() and not line.startswith("#")
        ]
    sha256, size = _hash(file)
    return _Model(
        file=file,
        serializer=serializer,
        suffix=suffix,
        sha256=sha256,
        size=size,
        model_type=model_type.rsplit(".", 1)[-1] if model_type else "",
        feature_names=_feature_names(mlmodel),
        facts={**facts, "model_class": model_type},
    )


class _Downloads:
    """Model directories by download URI; the least recently used go first."""

    def __init__(self, client: Any, tracking_uri: str, root: Path) -> None:
        self.client = client
        self.tracking_uri = tracking_uri
        self.root = root
        self.kept: OrderedDict[str, tuple[Path, _Model]] = OrderedDict()
        self.count = 0

    def uri(self, version: Any) -> str:
        """Where MLflow keeps the version's model, worked out from its source.

        ``MlflowClient.get_model_version_download_uri`` would do it, but loads
        every version of the name on each call (MLflow 3), which makes a
        migration quadratic; and MLflow resolves a logged model (``models:/m-...``)
        with the process's default tracking URI, not the one migrated from.
        """
        source = str(version.source or "")
        with _quiet():
            if source.startswith("models:/m-"):
                model_id = source.removeprefix("models:/").split("/", 1)[0]
                return str(self.client.get_logged_model(model_id).artifact_location)
            if source.startswith("models:/") or not source:
                return str(
                    self.client.get_model_version_download_uri(version.name, str(version.version))
                )
        return source

    def get(self, version: Any) -> _Model:
        import mlflow.artifacts

        uri = self.uri(version)
        if uri in self.kept:
            self.kept.move_to_end(uri)
            return self.kept[uri][1]
        self.count += 1
        where = self.root / f"d{self.count}"
        where.mkdir()
        try:
            with _quiet():
                local = mlflow.artifacts.download_artifacts(
                    artifact_uri=uri, dst_path=str(where), tracking_uri=self.tracking_uri
                )
            model = _prepare(Path(local))
        except BaseException:
            shutil.rmtree(where, ignore_errors=True)
            raise
        self.kept[uri] = (where, model)
        while len(self.kept) > DOWNLOAD_CACHE:
            _, (old, _) = self.kept.popitem(last=False)
            shutil.rmtree(old, ignore_errors=True)
        return model


# -- the migration --------------------------------------------------------------------------


def _utc(milliseconds: int | None) -> datetime | None:
    if milliseconds is None:
        return None
    return datetime.fromtimestamp(milliseconds / 1000, tz=timezone.utc)


def _origin(version: Any) -> dict[str, str]:
    return {RUN_ID_TAG: version.run_id or "", SOURCE_TAG: str(version.source or "")}


def _same_origin(there: ModelMetadata, version: Any) -> bool:
    """Whether ``there`` was migrated from MLflow's ``version``.

    The lineage in ``training_info`` is read first: tags can be edited after a
    migration, training info cannot.
    """
    origin = _origin(version)
    lineage = there.training_info.extra.get("mlflow")
    if isinstance(lineage, dict):
        return (lineage.get("run_id"), lineage.get("source")) == (
            origin[RUN_ID_TAG],
            origin[SOURCE_TAG],
        )
    return all(there.tags.get(k) == v for k, v in origin.items())


class _Migration:
    def __init__(
        self,
        destination: ModelRegistry,
        client: Any,
        tracking_uri: str,
        workdir: Path,
        rename: Mapping[str, str],
    ) -> None:
        self.destination = destination
        self.client = client
        self.tracking_uri = tracking_uri
        self.downloads = _Downloads(client, tracking_uri, workdir)
        self.rename = dict(rename)
        self.runs: dict[str, Any] = {}
        self.existing: dict[str, dict[str, ModelMetadata]] = {}
        self.failed: list[Problem] = []
        self.notes: list[Problem] = []
        self.copied: list[ModelMetadata] = []
        self.ours: list[ModelMetadata] = []
        #: Ids of destination versions that came from this MLflow registry.
        self.ours_ids: set[int] = set()
        self.counts = {"skipped": 0, "stages": 0, "aliases": 0, "info": 0}

    def target(self, name: str) -> str:
        return self.rename.get(name, name)

    def versions_of(self, name: str) -> dict[str, ModelMetadata]:
        """The destination's versions of ``name``, fetched once."""
        if name not in self.existing:
            found = self.destination.store.find(Query(model_name=name))
            self.existing[name] = {m.version: m for m in found}
        return self.existing[name]

    def run(self, run_id: str | None, reference: str) -> Any:
        if not run_id:
            return None
        if run_id not in self.runs:
            try:
                with _quiet():
                    self.runs[run_id] = self.client.get_run(run_id)
            except Exception as exc:  # MlflowException: deleted or unreachable
                self.runs[run_id] = None
                self.notes.append(
                    Problem(
                        reference=reference,
                        kind="partial",
                        reason=f"run {run_id} could not be read ({exc}); brought without "
                        "its metrics and parameters",
                    )
                )
        return self.runs[run_id]

    # -- one version ------------------------------------------------------------------

    def copy(self, version: Any) -> None:
        name = self.target(version.name)
        reference = f"{version.name}:{version.version}"
        number = str(version.version)
        try:
            check_name("model_name", name)
        except InvalidInputError as exc:
            self.failed.append(
                Problem(
                    reference=reference,
                    kind="invalid",
                    reason=f"{exc}; give it a name modelshelf accepts with "
                    f"rename={{{version.name!r}: 'new-name'}} (--rename OLD=NEW)",
                )
            )
            return
        there = self.versions_of(name).get(number)
        if there is not None:
            if _same_origin(there, version):
                self.counts["skipped"] += 1
                self.ours.append(there)
                self.ours_ids.add(there.model_id)
            else:
                self.failed.append(
                    Problem(
                        reference=reference,
                        kind="conflict",
                        reason=f"{name}:{number} already exists in the destination and did "
                        f"not come from MLflow run {version.run_id or '-'} "
                        f"({version.source}); left as it is",
                    )
                )
            return
        if str(getattr(version, "status", "READY")) not in ("READY", "ModelVersionStatus.READY"):
            self.failed.append(
                Problem(
                    reference=reference,
                    kind="not-ready",
                    reason=f"its MLflow status is {version.status}",
                )
            )
            return
        try:
            model = self.downloads.get(version)
        except ModelShelfError as exc:
            self.failed.append(Problem(reference=reference, kind="invalid", reason=str(exc)))
            return
        except Exception as exc:  # MlflowException, OSError...: the artifact is not there
            self.failed.append(
                Problem(
                    reference=reference,
                    kind="download",
                    reason=f"could not download the model ({type(exc).__name__}: {exc})",
                )
            )
            return
        try:
            template = self.template(version, name, model, reference)
            recorded = self.destination.import_version(
                template, {"": model.file}, version=number, stage=Stage.NONE
            )
        except ModelShelfError as exc:
            self.failed.append(
                Problem(reference=reference, kind=_kind(exc), reason=f"{type(exc).__name__}: {exc}")
            )
            return
        self.versions_of(name)[number] = recorded
        self.copied.append(recorded)
        self.ours.append(recorded)
        self.ours_ids.add(recorded.model_id)

    def template(self, version: Any, name: str, model: _Model, reference: str) -> ModelMetadata:
        run = self.run(version.run_id, reference)
        metrics: dict[str, float] = {}
        params: dict[str, Any] = {}
        facts: dict[str, Any] = {
            "run_id": version.run_id or "",
            "source": str(version.source or ""),
            "registry": _redact(self.tracking_uri),
            "name": version.name,
            "version": int(version.version),
        }
        if getattr(version, "model_id", None):
            facts["model_id"] = str(version.model_id)
        left_out: list[str] = []
        if run is not None:
            for key, value in run.data.metrics.items():
                try:
                    metrics[check_metric_name(key)] = check_metric_value(key, value)
                except InvalidInputError as exc:
                    left_out.append(f"metric {exc}")
            params = dict(run.data.params)
            info = run.info
            start, end = _utc(info.start_time), _utc(info.end_time)
            facts.update(
                experiment_id=str(info.experiment_id),
                run_name=str(info.run_name or ""),
                run_status=str(info.status),
                run_start_time=start.isoformat() if start else None,
                run_end_time=end.isoformat() if end else None,
                run_tags=dict(run.data.tags),
            )
        tags: dict[str, str] = {}
        for key, value in (version.tags or {}).items():
            try:
                check_metric_name(key)
            except InvalidInputError:
                left_out.append(
                    f"tag {key!r}: modelshelf tag keys must match letters, "
                    "digits, '_', '.', '-', '/'"
                )
                continue
            tags[key] = str(value)
        if left_out:
            self.notes.append(
                Problem(reference=reference, kind="partial", reason="; ".join(left_out))
            )
        facts.update(model.facts)
        created = _utc(version.creation_timestamp) or datetime.now(timezone.utc)
        return ModelMetadata(
            model_id=1,
            model_name=name,
            version=str(version.version),
            model_type=model.model_type,
            metrics=metrics,
            hyperparameters=params,
            description=version.description or "",
            tags={**tags, **_origin(version)},
            created_at=created,
            training_info=TrainingInfo(extra={"mlflow": facts}),
            feature_names=model.feature_names,
            artifact=ArtifactRef(
                key=f"{name}/model{model.suffix}",
                serializer=model.serializer,
                sha256=model.sha256,
                size=model.size,
            ),
        )

    # -- what belongs to names ------------------------------------------------------------

    def model_info(self, registered: Any) -> None:
        name = self.target(registered.name)
        try:
            check_name("model_name", name)
            wanted = ModelInfo(
                model_name=name,
                description=registered.description or "",
                tags={k: str(v) for k, v in (registered.tags or {}).items()},
            )
        except InvalidInputError as exc:
            self.notes.append(
                Problem(reference=registered.name, kind="partial", reason=f"name info: {exc}")
            )
            return
        if wanted == ModelInfo(model_name=name) or not self.versions_of(name):
            return
        if self.destination.store.get_model_info(name) is None:
            self.destination.set_model_info(name, description=wanted.description, tags=wanted.tags)
            self.counts["info"] += 1

    def stages(self, versions: Sequence[Any]) -> None:
        """Apply MLflow's stages where the destination has none yet, keeping one
        Production version per name (the highest, if MLflow had several)."""
        production: dict[str, int] = {}
        for version in versions:
            if version.current_stage == Stage.PRODUCTION.value:
                highest = production.get(version.name, 0)
                production[version.name] = max(highest, int(version.version))
        for version in versions:
            name, number = self.target(version.name), str(version.version)
            there = self.existing.get(name, {}).get(number)
            if (
                there is None
                or there.stage is not Stage.NONE
                or there.model_id not in self.ours_ids
            ):
                continue
            reference = f"{version.name}:{version.version}"
            try:
                stage = Stage.parse(version.current_stage or None)
            except InvalidInputError as exc:
                self.notes.append(Problem(reference=reference, kind="partial", reason=str(exc)))
                continue
            if stage is Stage.NONE:
                continue
            if stage is Stage.PRODUCTION and production[version.name] != int(number):
                self.notes.append(
                    Problem(
                        reference=reference,
                        kind="partial",
                        reason=f"MLflow has several Production versions of {version.name}; "
                        f"version {production[version.name]} is Production here, this one "
                        "Archived",
                    )
                )
                stage = Stage.ARCHIVED
            if stage is Stage.PRODUCTION:
                current = self.destination.get_production_model(name)
                if current is not None and current.model_id != there.model_id:
                    self.notes.append(
                        Problem(
                            reference=reference,
                            kind="partial",
                            reason=f"{current.reference} is already Production in the "
                            "destination; this version was left with no stage",
                        )
                    )
                    continue
            try:
                self.destination.transition_stage(
                    name, number, stage, archive_existing=False, reason=REASON
                )
            except ModelShelfError as exc:
                self.failed.append(
                    Problem(
                        reference=reference,
                        kind=_kind(exc),
                        reason=f"copied, but its stage {stage.value} was refused: {exc}",
                    )
                )
                continue
            self.counts["stages"] += 1

    def aliases(self, registered: Sequence[Any]) -> None:
        """Point each MLflow alias at its version, unless the alias already names
        another version in the destination (then it is reported and left).

        Aliases are read from the registered models: MLflow's version search
        leaves them out.
        """
        for model in registered:
            name = self.target(model.name)
            for alias, number in sorted((getattr(model, "aliases", None) or {}).items()):
                reference = f"{model.name}:{number}"
                there = self.existing.get(name, {}).get(str(number))
                if there is None or there.model_id not in self.ours_ids:
                    continue
                try:
                    check_alias(alias)
                except InvalidInputError as exc:
                    self.notes.append(Problem(reference=reference, kind="partial", reason=str(exc)))
                    continue
                current = self.destination.store.find(Query(model_name=name, alias=alias))
                if current and current[0].model_id == there.model_id:
                    continue
                if current:
                    self.notes.append(
                        Problem(
                            reference=reference,
                            kind="partial",
                            reason=f"alias {alias!r} already points at {current[0].reference} "
                            "in the destination; left as it is",
                        )
                    )
                    continue
                self.destination.set_alias(there.model_id, alias, reason=REASON)
                self.counts["aliases"] += 1

    def verify(self) -> int:
        """Read every migrated artifact back and compare it with MLflow's bytes."""
        checked = 0
        for metadata in self.ours:
            there = self.destination.store.get(metadata.model_id)
            if there is None:
                self.failed.append(
                    Problem(
                        reference=metadata.reference,
                        kind="integrity",
                        reason="missing from the destination after the migration",
                    )
                )
                continue
            for ref in [there.artifact, *there.artifacts.values()]:
                digest = hashlib.sha256()
                size = 0
                with self.destination.storage.open(ref.key) as stream:
                    while chunk := stream.read(_CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                if (digest.hexdigest(), size) != (ref.sha256, ref.size):
                    self.failed.append(
                        Problem(
                            reference=metadata.reference,
                            kind="integrity",
                            reason=f"{ref.key} hashes to {digest.hexdigest()} ({size} B) in "
                            f"the destination; MLflow's bytes were {ref.sha256} ({ref.size} B)",
                        )
                    )
                    continue
                checked += 1
        return checked


def _kind(exc: BaseException) -> str:
    if isinstance(exc, VetoError):
        return "veto"
    if isinstance(exc, IntegrityError):
        return "integrity"
    if isinstance(exc, DuplicateVersionError):
        return "conflict"
    if isinstance(exc, InvalidInputError):
        return "invalid"
    return "error"


def _version_key(version: Any) -> tuple[str, int]:
    return (version.name, int(version.version))


def from_mlflow(
    destination: ModelRegistry | str | os.PathLike[str],
    tracking_uri: str,
    *,
    registry_uri: str | None = None,
    names: Sequence[str] | None = None,
    rename: Mapping[str, str] | None = None,
    verify: bool = True,
    progress: Callable[[int, int, str], None] | None = None,
) -> MigrationReport:
    """Copy every registered model version of an MLflow registry into ``destination``.

    ``destination`` is an open registry (it must use integer versioning) or a
    directory, created with integer versioning if new. ``tracking_uri`` is
    whatever MLflow accepts (``sqlite:///mlflow.db``, ``file:///path/mlruns``,
    ``http://mlflow:5000``); ``registry_uri`` defaults to it. ``names`` limits
    the migration to these registered models; ``rename`` maps an MLflow name
    to the modelshelf name to use (for names modelshelf does not accept).
    ``progress(done, total, reference)`` is called after each version.

    Problems with single versions (an artifact that cannot be downloaded, a
    version that exists with another origin, a gate that refuses a stage) do
    not stop the migration: they are listed in the report, and a later run
    picks up what is still missing.

    :raises MigrationError: the destination uses another versioning scheme.
    :raises MlflowMissingError: MLflow's client is not installed.
    """
    opened = None
    if isinstance(destination, (str, os.PathLike)):
        from modelshelf.registry import ModelRegistry

        path = Path(os.fspath(destination))
        opened = ModelRegistry(path, versioning=destination_versioning(path))
        registry = opened
    else:
        registry = destination
    try:
        check_destination(registry)
        with _file_stores_allowed(), _process_tracking_uri(tracking_uri):
            return _migrate(registry, tracking_uri, registry_uri, names, rename, verify, progress)
    finally:
        if opened is not None:
            opened.close()


def _migrate(
    registry: ModelRegistry,
    tracking_uri: str,
    registry_uri: str | None,
    names: Sequence[str] | None,
    rename: Mapping[str, str] | None,
    verify: bool,
    progress: Callable[[int, int, str], None] | None,
) -> MigrationReport:
    started = time.perf_counter()
    client = _client(tracking_uri, registry_uri)
    wanted = set(names) if names else None
    registered = [
        model
        for model in _paged(client.search_registered_models, max_results=1000)
        if wanted is None or model.name in wanted
    ]
    if wanted is not None:
        missing = wanted - {m.name for m in registered}
        if missing:
            raise MigrationError(
                f"MLflow has no registered model named {', '.join(sorted(missing))}"
            )
    chosen = {m.name for m in registered}
    versions = sorted(
        (v for v in _paged(client.search_model_versions, max_results=10_000) if v.name in chosen),
        key=_version_key,
    )
    with tempfile.TemporaryDirectory(prefix="modelshelf-mlflow-") as temp:
        migration = _Migration(registry, client, tracking_uri, Path(temp), rename or {})
        for done, version in enumerate(versions, start=1):
            migration.copy(version)
            if progress is not None:
                progress(done, len(versions), f"{version.name}:{version.version}")
    for model in registered:
        migration.model_info(model)
    migration.stages(versions)
    migration.aliases(registered)
    verified = migration.verify() if verify else 0
    return MigrationReport(
        total=len(versions),
        copied=len(migration.copied),
        skipped=migration.counts["skipped"],
        failed=tuple(migration.failed),
        notes=tuple(migration.notes),
        stages_set=migration.counts["stages"],
        aliases_set=migration.counts["aliases"],
        model_info_set=migration.counts["info"],
        verified=verified,
        seconds=time.perf_counter() - started,
        references=tuple(m.reference for m in migration.copied),
    )


__all__ = [
    "RUN_ID_TAG",
    "SOURCE_TAG",
    "MigrationError",
    "MigrationReport",
    "MlflowMissingError",
    "Problem",
    "check_destination",
    "destination_versioning",
    "from_mlflow",
]
