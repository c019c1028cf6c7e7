"""Copying MLflow's versions into a registry, then its stages, aliases and model info.

Each version goes through the public registry API, so gates and the audit
log apply; one already copied from the same origin is skipped before any
download, and every copied artifact can be read back and checked.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from modelshelf._migration_report import _CHUNK, REASON, RUN_ID_TAG, SOURCE_TAG, Problem
from modelshelf._mlflow_reading import _Downloads, _Model, _quiet
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
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from modelshelf.registry import ModelRegistry


def _redact(uri: str) -> str:
    """``uri`` without credentials or query string, fit to be recorded as lineage."""
    parts = urlsplit(uri)
    if not parts.netloc:
        return urlunsplit(parts._replace(query=""))
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=host, query=""))


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
