"""ModelMetadata validation and the converter's exact round trip."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from modelshelf import (
    ArtifactRef,
    InvalidInputError,
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


# -- the trusted path for rows a store wrote --------------------------------------------


def _rich() -> ModelMetadata:
    return make(
        metrics={"f1": 0.5, "loss": 3},
        hyperparameters={"layers": [1, 2], "opt": {"lr": 1e-3}, "flag": True, "none": None},
        tags={"team": "risk", "note": "café"},
        description="naïve Bayes baseline",
        stage="Production",
        aliases=["champion"],
        training_info=TrainingInfo(
            dataset="iris", n_samples=150, class_distribution={"0": 50}, extra={"k": [1.5]}
        ),
        feature_names=["a", "ß"],
        artifacts={"scaler": ARTIFACT},
        parent_id=3,
    )


def test_stored_rows_read_back_equal_on_the_trusted_path() -> None:
    meta = _rich()
    data = json.loads(converter.dumps(meta))
    again = converter.structure_stored(data)
    assert again == meta == converter.structure(json.loads(converter.dumps(meta)), ModelMetadata)
    assert again.stage is Stage.PRODUCTION
    assert again.created_at.tzinfo is timezone.utc
    assert type(again.feature_names) is tuple and type(again.aliases) is tuple
    assert isinstance(again.training_info, TrainingInfo)
    assert isinstance(again.artifacts["scaler"], ArtifactRef)


#: Damage the trusted path must refuse exactly as the strict path does.
DAMAGE: list[tuple[str, Any]] = [
    ("metrics", {"f1": "high"}),
    ("metrics", {"f1": math.nan}),
    ("metrics", {"f1": math.inf}),
    ("metrics", {"bad name!": 1.0}),
    ("metrics", {"f1": True}),
    ("hyperparameters", [1, 2]),
    ("hyperparameters", {"x": math.nan}),
    ("hyperparameters", {"x": 10**30}),
    ("hyperparameters", {"x": "\udcff"}),
    ("model_type", "\udcff"),
    ("model_type", "a\x00b"),
    ("description", "x" * 100_001),
    ("model_name", "../../etc"),
    ("model_name", "a..b"),
    ("version", "1.0.0/../x"),
    ("version", ""),
    ("model_id", 0),
    ("model_id", True),
    ("model_id", 2**63),
    ("parent_id", 0),
    ("stage", "Deployed"),
    ("stage", 3),
    ("created_at", "2024-01-01T00:00:00"),
    ("created_at", "yesterday"),
    ("checkpoint", "false"),
    ("tags", {"team": 1}),
    ("tags", {"bad key!": "x"}),
    ("feature_names", "ab"),
    ("feature_names", [1]),
    ("aliases", ["not an alias!"]),
    ("training_info.is_ensemble", "no"),
    ("training_info.n_samples", "150"),
    ("training_info.n_samples", 10**400),
    ("training_info.class_distribution", {"a": -1}),
    ("training_info.data_quality_score", math.nan),
    ("training_info.dataset", "x" * 1025),
    ("artifact.sha256", "not-a-digest"),
    ("artifact.sha256", "A" * 64),
    ("artifact.size", -1),
    ("artifact.key", "../escape.joblib"),
    ("artifact.key", "/abs/path.joblib"),
    ("artifacts", {"../x": {}}),
    ("schema_version", 99),
]


@pytest.mark.parametrize(("path", "value"), DAMAGE, ids=[f"{p}={v!r}"[:40] for p, v in DAMAGE])
def test_trusted_path_refuses_what_the_strict_path_refuses(path: str, value: Any) -> None:
    data = json.loads(converter.dumps(_rich()))
    *parents, leaf = path.split(".")
    target = data
    for key in parents:
        target = target[key]
    target[leaf] = value
    with pytest.raises(InvalidInputError) as strict:
        converter.structure(json.loads(json.dumps(data)), ModelMetadata)
    with pytest.raises(InvalidInputError) as trusted:
        converter.structure_stored(json.loads(json.dumps(data)))
    assert type(trusted.value) is type(strict.value)
    assert str(trusted.value) == str(strict.value)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("metrics", {"f1": 1}),  # an int metric is a float to the strict path
        ("created_at", "2026-01-02T03:04:05+02:00"),  # another offset becomes UTC
        ("stage", "production"),  # any case
        ("schema_version", None),  # an older row without the key
    ],
)
def test_rows_off_the_trusted_shape_still_read_as_the_strict_path_reads_them(
    path: str, value: Any
) -> None:
    data = json.loads(converter.dumps(_rich()))
    if value is None:
        del data[path]
    else:
        data[path] = value
    expected = converter.structure(json.loads(json.dumps(data)), ModelMetadata)
    assert converter.structure_stored(json.loads(json.dumps(data))) == expected
