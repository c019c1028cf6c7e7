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

This module is the entry point and checks the destination; the work is done
by three parts: ``_mlflow_reading`` (MLflow's client and model files),
``_mlflow_copying`` (versions, stages, aliases, verification) and
``_migration_report`` (lineage tags, errors and the report), whose public
names are importable from here.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

# The public names of the parts, importable from here as before.
from modelshelf._migration_report import DOWNLOAD_CACHE as DOWNLOAD_CACHE
from modelshelf._migration_report import MLFLOW_SERIALIZER as MLFLOW_SERIALIZER
from modelshelf._migration_report import REASON as REASON
from modelshelf._migration_report import RUN_ID_TAG as RUN_ID_TAG
from modelshelf._migration_report import SKLEARN_FORMATS as SKLEARN_FORMATS
from modelshelf._migration_report import SOURCE_TAG as SOURCE_TAG
from modelshelf._migration_report import VERSIONING, MigrationError, MigrationReport
from modelshelf._migration_report import MlflowMissingError as MlflowMissingError
from modelshelf._migration_report import Problem as Problem
from modelshelf._mlflow_copying import _Migration, _version_key
from modelshelf._mlflow_reading import _client, _file_stores_allowed, _paged, _process_tracking_uri
from modelshelf.config import load_settings

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from modelshelf.registry import ModelRegistry


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
