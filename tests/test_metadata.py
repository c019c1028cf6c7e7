"""ModelMetadata validation and the converter's exact round trip."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from modelshelf import (
    ArtifactRef,
    InvalidMetadataError,
    ModelMetadata,
    Stage,
    TrainingInfo,
    converter,
)

ARTIFACT = ArtifactRef(key="m/abc.joblib", serializer="joblib", sha256="a" * 64, size=3)


def make(**overrides: Any) -> ModelMetadata:
    values: dict[str, Any] = {
        "model_id": 1,
        "model_name": "m",
        "version": "1.0.0",
        "artifact": ARTIFACT,
    }
    values.update(overrides)
    return ModelMetadata(**values)


def test_round_trip_through_real_json() -> None:
    meta = make(
        metrics={"f1": 0.5, "loss": 3},
        hyperparameters={"layers": [1, 2], "opt": {"lr": 1e-3}, "flag": True, "none": None},
        tags={"team": "risk"},
        stage="production",
        aliases=["champion"],
        created_at=datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=2))),
        training_info=TrainingInfo(
            dataset="iris", n_samples=150, class_distribution={"0": 50}, is_ensemble=True
        ),
        feature_names=["a", "b"],
        artifacts={"scaler": ARTIFACT},
        parent_id=3,
    )
    text = converter.dumps(meta)
    assert json.loads(text)["schema_version"] == 1
    again = converter.loads(text)
    assert again == meta
    assert again.stage is Stage.PRODUCTION
    assert again.created_at.tzinfo == timezone.utc
    assert again.metrics["loss"] == 3.0 and isinstance(again.metrics["loss"], float)


@pytest.mark.parametrize(
    ("overrides", "field", "rule"),
    [
        ({"model_name": ""}, "model_name", "empty"),
        ({"model_name": "a/b"}, "model_name", "'/'"),
        ({"model_name": "a\\b"}, "model_name", "'\\\\'"),
        ({"model_name": "a..b"}, "model_name", "'..'"),
        ({"model_name": "a\x00b"}, "model_name", "NUL"),
        ({"model_name": "a\nb"}, "model_name", "control"),
        ({"model_name": "x" * 256}, "model_name", "limit is 255"),
        ({"model_name": "with space"}, "model_name", "only letters"),
        ({"metrics": {"f1": math.nan}}, "metrics", "finite"),
        ({"metrics": {"f1": math.inf}}, "metrics", "finite"),
        ({"metrics": {"f1": "0.9"}}, "metrics", "real number"),
        ({"metrics": {"f1": True}}, "metrics", "real number"),
        ({"metrics": {"f1; DROP TABLE models": 1.0}}, "metrics", "metric name"),
        ({"hyperparameters": {"fn": print}}, "hyperparameters.fn", "cannot be stored as JSON"),
        ({"hyperparameters": {"x": math.nan}}, "hyperparameters.x", "not finite"),
        ({"hyperparameters": {1: 2}}, "hyperparameters", "must be a string"),
        ({"created_at": datetime(2026, 1, 1)}, "created_at", "timezone-aware"),
        ({"model_id": 0}, "model_id", "positive"),
        ({"tags": {"k": 1}}, "tags", "must be a string"),
    ],
)
def test_bad_fields_name_field_and_rule(overrides: dict[str, Any], field: str, rule: str) -> None:
    with pytest.raises(InvalidMetadataError, match=rule) as info:
        make(**overrides)
    assert info.value.field == field
    assert isinstance(info.value, ValueError)


def test_numpy_values_are_normalised() -> None:
    np = pytest.importorskip("numpy")
    meta = make(metrics={"f1": np.float32(0.5)}, hyperparameters={"n": np.int64(3), "a": (1, 2)})
    assert meta.metrics == {"f1": 0.5}
    assert meta.hyperparameters == {"n": 3, "a": [1, 2]}
    assert type(meta.hyperparameters["n"]) is int


def test_stored_metadata_from_the_future_is_refused() -> None:
    data = converter.unstructure(make())
    data["schema_version"] = 99
    with pytest.raises(ValueError, match="newer"):
        converter.structure(data, ModelMetadata)
