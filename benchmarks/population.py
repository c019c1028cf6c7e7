"""Synthetic registries at scale, filled through the stores' bulk paths."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from harness import (
    SMALL_PARAMS,
)

# -- bulk population -------------------------------------------------------------------

MODEL_TYPES = [f"Type{i}" for i in range(10)]
TEAMS = ["vision", "nlp", "tabular", "speech", "ranking"]
VERSIONS_PER_NAME = 100


@dataclass
class Row:
    model_id: int
    model_name: str
    version: str
    model_type: str
    metrics: dict[str, float]
    stage: str
    tags: dict[str, str]
    created_at: datetime


def synthetic_rows(n: int, seed: int = 7) -> list[Row]:
    """``n`` versions: 100 per name, ten model types, four metrics, one team tag."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    rows = []
    for i in range(n):
        name_index, patch = divmod(i, VERSIONS_PER_NAME)
        last = patch == VERSIONS_PER_NAME - 1 or i == n - 1
        rows.append(
            Row(
                model_id=i + 1,
                model_name=f"model-{name_index:04d}",
                version=f"1.0.{patch}",
                model_type=MODEL_TYPES[i % len(MODEL_TYPES)],
                metrics={
                    "f1": round(rng.uniform(0.5, 1.0), 6),
                    "accuracy": round(rng.uniform(0.5, 1.0), 6),
                    "roc_auc": round(rng.uniform(0.5, 1.0), 6),
                    "loss": round(rng.uniform(0.01, 1.0), 6),
                },
                stage="Production" if last else "None",
                tags={"team": TEAMS[name_index % len(TEAMS)]},
                created_at=start + timedelta(seconds=i),
            )
        )
    return rows


def template_payload() -> dict[str, Any]:
    """A complete unstructured version, built through the real metadata types."""
    from modelshelf import converter
    from modelshelf.metadata import ArtifactRef, ModelDraft, TrainingInfo, metadata_from_draft

    draft = ModelDraft(
        model_name="template",
        model_type="Type0",
        metrics={"f1": 0.5},
        hyperparameters=SMALL_PARAMS,
        description="synthetic version for benchmarks",
        training_info=TrainingInfo(dataset="bench.csv", n_samples=150),
        feature_names=["a", "b", "c", "d"],
        artifact=ArtifactRef(key="bulk/none.joblib", serializer="joblib", sha256="0" * 64, size=1),
    )
    payload: dict[str, Any] = converter.unstructure(
        metadata_from_draft(draft, model_id=1, version="1.0.0")
    )
    return payload


def payload_for(row: Row, template: dict[str, Any]) -> dict[str, Any]:
    payload = dict(template)
    payload.update(
        model_id=row.model_id,
        model_name=row.model_name,
        version=row.version,
        model_type=row.model_type,
        metrics=row.metrics,
        stage=row.stage,
        tags=row.tags,
        created_at=row.created_at.isoformat(),
        artifact={**template["artifact"], "key": f"bulk/{row.model_id}.joblib"},
    )
    return payload


def populate_sqlite(registry: Any, rows: list[Row]) -> None:
    """Bulk path: rows written straight into the store's schema, one transaction."""
    from modelshelf_plugins.sqlite_store import _MUTABLE_FIELDS, to_micros

    store = registry.store
    template = template_payload()
    sort_key = registry.versioning.sort_key
    models, metrics, tags = [], [], []
    for row in rows:
        payload = payload_for(row, template)
        for key in _MUTABLE_FIELDS:
            payload.pop(key, None)
        models.append(
            (
                row.model_id,
                row.model_name,
                row.version,
                sort_key(row.version),
                row.model_type,
                row.stage,
                "synthetic version for benchmarks",
                to_micros(row.created_at),
                0,
                0,
                payload.get("training_info", {}).get("dataset", ""),
                json.dumps(payload, separators=(",", ":")),
            )
        )
        metrics += [(row.model_id, k, v) for k, v in row.metrics.items()]
        tags += [(row.model_id, k, v) for k, v in row.tags.items()]
    with store._write() as conn:
        conn.executemany(
            "INSERT INTO models (id, model_name, version, version_key, model_type, stage, "
            "description, created_at, checkpoint, is_ensemble, dataset, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            models,
        )
        # The highest-version mark per name, as add keeps it.
        conn.execute(
            "INSERT OR REPLACE INTO version_high_water (model_name, version, version_key) "
            "SELECT model_name, version, max(version_key) FROM models GROUP BY model_name"
        )
        conn.executemany("INSERT INTO metrics (model_id, name, value) VALUES (?, ?, ?)", metrics)
        conn.executemany("INSERT INTO tags (model_id, key, value) VALUES (?, ?, ?)", tags)


def populate_json(registry: Any, rows: list[Row]) -> None:
    """Bulk path: an index built in memory, written by the store's own compaction."""
    from modelshelf_plugins.json_store import FORMAT, _Index

    store = registry.store
    template = template_payload()
    sort_key = registry.versioning.sort_key
    snapshot = {
        "format": FORMAT,
        "generation": 0,
        "next_id": len(rows) + 1,
        "versions": [
            {"version_key": sort_key(row.version), "data": payload_for(row, template)}
            for row in rows
        ],
        "aliases": [],
        "audit": [],
        "model_info": {},
    }
    with store._locked():
        store._index = _Index.from_snapshot(snapshot)
        store._compact()
