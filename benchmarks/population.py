"""Synthetic registries at scale, filled through the stores' public methods."""

from __future__ import annotations

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


def draft_for(row: Row) -> Any:
    """The version ``row`` describes, as a caller hands it to a store."""
    from modelshelf.metadata import ArtifactRef, ModelDraft, TrainingInfo

    return ModelDraft(
        model_name=row.model_name,
        model_type=row.model_type,
        metrics=row.metrics,
        hyperparameters=SMALL_PARAMS,
        description="synthetic version for benchmarks",
        tags=row.tags,
        stage=row.stage,
        created_at=row.created_at,
        training_info=TrainingInfo(dataset="bench.csv", n_samples=150),
        feature_names=["a", "b", "c", "d"],
        artifact=ArtifactRef(
            key=f"bulk/{row.model_id}.joblib", serializer="joblib", sha256="0" * 64, size=1
        ),
    )


def populate(registry: Any, rows: list[Row], batch: int = 10_000) -> None:
    """Fill a registry through its store's public methods only: ``add_many``
    (the bulk path: versions decided as ``add`` decides them) where the store
    has one, ``add`` otherwise. Every figure read from the result reads rows
    the store wrote itself."""
    store, scheme = registry.store, registry.versioning
    add_many = getattr(store, "add_many", None)
    for start in range(0, len(rows), batch):
        drafts = [draft_for(row) for row in rows[start : start + batch]]
        if add_many is not None:
            add_many(drafts, scheme)
        else:
            for draft in drafts:
                store.add(draft, scheme)
