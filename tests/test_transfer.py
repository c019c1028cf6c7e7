"""Moving a registry: SQLite + local files → PostgreSQL + S3 (moto server on loopback).

The source is built through the public API (real saves, promotions, aliases,
edits), the move runs for real, and the destination is compared field by
field, audit log included, and checked byte for byte.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING, Any

import pytest
from sklearn.linear_model import LogisticRegression

from modelshelf import ModelRegistry
from modelshelf.errors import IntegrityError, InvalidInputError
from modelshelf.metadata import ModelInfo
from modelshelf.query import Query
from modelshelf.transfer import RestorableStore, TransferConflictError, transfer

if TYPE_CHECKING:
    from pathlib import Path

    from modelshelf.metadata import ModelMetadata

NAMES = ("churn", "fraud", "ranker", "forecast")


def build_source(path: Path, versions: int) -> ModelRegistry:
    """A registry with every kind of state a move must carry."""
    registry = ModelRegistry(path, signing_key="team-key", user="alice")
    model = LogisticRegression(C=0.5)
    for i in range(versions):
        name = NAMES[i % len(NAMES)]
        registry.save_model(
            model,
            name,
            metrics={"f1": (i % 97) / 100, "loss": 1 - (i % 89) / 100},
            hyperparameters={"C": 0.5, "step": i},
            description=f"run {i}",
            tags={"team": "risk" if i % 2 else "growth", "run": str(i)},
            training_info={"dataset": f"d{i % 3}", "n_samples": 100 + i},
            artifacts={"scaler": {"mean": [0.0, 1.0]}} if i % 50 == 0 else None,
            parent_id=i if i % 10 == 9 else None,
        )
    for name in NAMES:
        versions_of = registry.get_model_versions(name)
        registry.transition_stage(name, versions_of[0].version, "Staging", reason="qa")
        registry.transition_stage(name, versions_of[1].version, "Production", reason="ship")
        registry.transition_stage(name, versions_of[2].version, "Production", reason="better")
        registry.set_alias(versions_of[2].model_id, "champion")
        registry.set_alias(versions_of[1].model_id, "challenger")
        registry.set_alias(versions_of[0].model_id, "challenger", reason="moved")
        registry.update_model(versions_of[3].model_id, description="edited", tags={"k": "v"})
        registry.store.set_model_info(
            ModelInfo(model_name=name, description=f"the {name} model", tags={"owner": "ml"})
        )
    return registry


def snapshot(registry: ModelRegistry) -> list[dict[str, Any]]:
    """Every version as comparable values (ids and lineage by reference, not number)."""
    rows = [
        *registry.store.find(Query(checkpoints=False)),
        *registry.store.find(Query(checkpoints=True)),
    ]
    by_id = {m.model_id: m for m in rows}

    def view(m: ModelMetadata) -> dict[str, Any]:
        parent = by_id[m.parent_id].reference if m.parent_id in by_id else None
        return {
            "ref": m.reference,
            "type": m.model_type,
            "metrics": m.metrics,
            "hyperparameters": m.hyperparameters,
            "description": m.description,
            "tags": m.tags,
            "stage": m.stage,
            "aliases": m.aliases,
            "created_at": m.created_at,
            "training_info": m.training_info,
            "artifact": m.artifact,
            "artifacts": m.artifacts,
            "parent": parent,
            "checkpoint": m.checkpoint,
        }

    return sorted((view(m) for m in rows), key=lambda v: v["ref"])


def open_destination(location: str, url: str) -> ModelRegistry:
    return ModelRegistry(location, store="postgresql", store_url=url, signing_key="team-key")


def assert_same_registry(source: ModelRegistry, destination: ModelRegistry) -> None:
    assert snapshot(destination) == snapshot(source)
    assert destination.audit_log() == source.audit_log()
    for name in NAMES:
        assert destination.store.get_model_info(name) == source.store.get_model_info(name)
        assert destination.get_metadata(f"{name}@champion").version == (
            source.get_metadata(f"{name}@champion").version
        )
    # transfer() has read every artifact back already; here: nothing missing or stray.
    report = destination.verify(deep=False)
    assert report.ok
    assert report.findings == ()


def test_moving_1000_versions_to_postgresql_and_s3(
    tmp_path: Path, s3_bucket: str, modelshelf_postgresql_url: str
) -> None:
    source = build_source(tmp_path / "source", 1000)
    destination = open_destination(f"{s3_bucket}/registry", modelshelf_postgresql_url)
    assert isinstance(destination.store, RestorableStore)
    try:
        report = transfer(source, destination)
        assert report.versions_copied == 1000
        assert report.artifacts_copied == 1020
        assert report.verified == 1020
        assert report.audit_copied
        assert report.audit_events_copied == len(source.audit_log()) == 28
        assert report.model_info_copied == 4
        assert_same_registry(source, destination)
        best = destination.get_best_model()
        assert best is not None
        assert best.reference == source.get_best_model().reference  # type: ignore[union-attr]
        loaded = destination.load("fraud@champion").model
        assert loaded.get_params()["C"] == 0.5
        assert destination.load("churn:1.0.0").artifacts["scaler"] == {"mean": [0.0, 1.0]}

        again = transfer(source, destination, verify=False)
        assert (again.versions_copied, again.artifacts_copied) == (0, 0)
        assert again.versions_skipped == 1000
        assert (again.audit_events_copied, again.aliases_set, again.model_info_copied) == (0, 0, 0)
        assert snapshot(destination) == snapshot(source)
        assert destination.audit_log() == source.audit_log()
    finally:
        source.close()
        destination.close()


_MOVER = textwrap.dedent(
    """
    import sys
    import time
    from modelshelf import ModelRegistry
    from modelshelf.transfer import transfer

    source_path, location, url = sys.argv[1:4]
    source = ModelRegistry(source_path, signing_key="team-key")
    destination = ModelRegistry(
        location, store="postgresql", store_url=url, signing_key="team-key"
    )


    def progress(done, total):
        print(done, flush=True)
        if done == int(sys.argv[4]):
            time.sleep(120)  # hold still: the test kills the process here


    transfer(source, destination, progress=progress)
    """
)


def test_an_interrupted_move_resumes_where_it_stopped(
    tmp_path: Path, s3_bucket: str, modelshelf_postgresql_url: str
) -> None:
    source = build_source(tmp_path / "source", 160)
    location = f"{s3_bucket}/moved"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _MOVER,
            str(tmp_path / "source"),
            location,
            modelshelf_postgresql_url,
            "40",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    assert child.stdout is not None
    for line in child.stdout:
        if int(line) == 40:
            break
    child.send_signal(signal.SIGKILL)  # no chance to clean up, like a lost machine
    child.communicate(timeout=60)
    destination = open_destination(location, modelshelf_postgresql_url)
    try:
        assert destination.store.count(Query()) == 40
        # The next version's file made it, its record did not (killed in between).
        pending = source.get_metadata(41).artifact
        with source.storage.open(pending.key) as stream:
            destination.storage.put(pending.key, lambda out: shutil.copyfileobj(stream, out))
        report = transfer(source, destination)
        assert (report.versions_skipped, report.versions_copied) == (40, 120)
        assert report.artifacts_skipped == 1
        assert report.audit_events_copied == 28
        assert_same_registry(source, destination)
    finally:
        source.close()
        destination.close()


def test_sqlite_destination_keeps_the_audit_log_too(tmp_path: Path) -> None:
    source = build_source(tmp_path / "source", 16)
    destination = ModelRegistry(tmp_path / "dest", signing_key="team-key")
    try:
        report = transfer(source, destination)
        assert report.versions_copied == 16
        assert report.audit_events_copied == 28
        assert_same_registry(source, destination)

        # Verification reads the destination's bytes back: damage there is caught.
        victim = destination.get_metadata("forecast:1.0.1").artifact
        path = destination.storage.local_path(victim.key)
        assert path is not None
        path.write_bytes(b"damaged in transit")
        with pytest.raises(IntegrityError, match="destination bytes"):
            transfer(source, destination)
    finally:
        source.close()
        destination.close()


def test_a_different_history_at_the_destination_is_refused(tmp_path: Path) -> None:
    source = build_source(tmp_path / "source", 16)
    destination = ModelRegistry(tmp_path / "dest")
    try:
        destination.save_model(LogisticRegression(C=9.0), "churn")
        with pytest.raises(TransferConflictError, match=r"churn:1\.0\.0"):
            transfer(source, destination)
    finally:
        source.close()
        destination.close()


def test_a_corrupt_source_artifact_is_not_copied(tmp_path: Path) -> None:
    source = build_source(tmp_path / "source", 16)
    destination = ModelRegistry(tmp_path / "dest")
    try:
        victim = source.get_metadata("ranker:1.0.0").artifact
        path = source.storage.local_path(victim.key)
        assert path is not None
        path.write_bytes(b"rotten")
        with pytest.raises(IntegrityError, match="recorded"):
            transfer(source, destination)
        assert not destination.storage.exists(victim.key)
    finally:
        source.close()
        destination.close()


def test_versioning_schemes_must_agree(tmp_path: Path) -> None:
    with (
        ModelRegistry(tmp_path / "a") as source,
        ModelRegistry(tmp_path / "b", versioning="integer") as destination,
        pytest.raises(InvalidInputError, match="versioning"),
    ):
        transfer(source, destination)
