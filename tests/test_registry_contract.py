"""The seeds' acceptance criteria, on both stores and both serializers."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from modelshelf import (
    AmbiguousVersionError,
    DuplicateVersionError,
    IntegrityWarning,
    InvalidInputError,
    InvalidVersionError,
    ModelMetadata,
    ModelNotFoundError,
    ModelRegistry,
    RetiredVersionError,
    Stage,
    UnknownStageError,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

Data = tuple[np.ndarray, np.ndarray]


def test_default_storage_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, logistic: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    registry = ModelRegistry()
    model_id = registry.save_model(logistic, model_name="clf", metrics={"f1": 0.9})
    root = tmp_path / "data" / "models" / "registry"
    assert (root / "registry.db").is_file()
    files = [p for p in (root / "models").rglob("*") if p.is_file()]
    assert len(files) == 1
    assert registry.get_metadata(model_id).artifact.size == files[0].stat().st_size
    registry.close()


def test_save_returns_int_and_stores_everything(registry: ModelRegistry, logistic: Any) -> None:
    model_id = registry.save_model(
        logistic,
        model_name="clf",
        model_type="LogisticRegression",
        metrics={"f1": 0.75, "roc_auc": 0.85},
        hyperparameters={"max_iter": 1000, "penalty": "l2", "nested": {"a": [1, 2.5, None]}},
        description="baseline",
    )
    assert isinstance(model_id, int)
    meta = registry.get_metadata(model_id)
    assert meta.metrics == {"f1": 0.75, "roc_auc": 0.85}
    assert meta.hyperparameters == {
        "max_iter": 1000,
        "penalty": "l2",
        "nested": {"a": [1, 2.5, None]},
    }
    assert meta.description == "baseline"
    assert meta.model_type == "LogisticRegression"
    assert meta.created_at.tzinfo is not None
    assert meta.feature_names == ()
    assert registry.storage.exists(meta.artifact.key)
    assert len(meta.artifact.sha256) == 64


def test_optional_arguments_may_be_omitted(registry: ModelRegistry, logistic: Any) -> None:
    model_id = registry.save_model(logistic, model_name="clf")
    meta = registry.get_metadata(model_id)
    assert meta.metrics == {}
    assert meta.hyperparameters == {}
    assert meta.description == ""
    assert meta.model_type == "LogisticRegression"  # inferred from the object
    assert meta.version == "1.0.0"


def test_load_by_id_and_version_predicts_the_same(
    registry: ModelRegistry, forest: Any, iris: Data
) -> None:
    X, _ = iris
    model_id = registry.save_model(forest, model_name="forest", metrics={"f1": 0.9})
    by_id = registry.load(model_id).model
    by_keyword = registry.load(model_id).model
    by_version = registry.load_model(version="1.0.0")
    by_name = registry.load_model(model_name="forest")
    by_both = registry.load("forest:1.0.0").model
    for loaded in (by_id, by_keyword, by_version, by_name, by_both):
        np.testing.assert_array_equal(loaded.predict(X), forest.predict(X))
        np.testing.assert_array_equal(loaded.predict_proba(X), forest.predict_proba(X))


def test_missing_id_gives_none(registry: ModelRegistry, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="modelshelf"):
        assert registry.load_model(12345) is None
    assert "12345" in caplog.text
    with pytest.raises(ModelNotFoundError):
        registry.load(12345)


def test_corrupted_file_gives_none_with_reason(
    registry: ModelRegistry, logistic: Any, caplog: pytest.LogCaptureFixture
) -> None:
    model_id = registry.save_model(logistic, model_name="clf")
    path = registry.storage.local_path(registry.get_metadata(model_id).artifact.key)
    assert path is not None
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with (
        caplog.at_level(logging.WARNING, logger="modelshelf"),
        pytest.warns(IntegrityWarning, match="checksum mismatch"),
    ):
        assert registry.load_model(model_id) is None
    assert "checksum mismatch" in caplog.text


def test_truncated_file_gives_none(registry: ModelRegistry, logistic: Any) -> None:
    model_id = registry.save_model(logistic, model_name="clf")
    path = registry.storage.local_path(registry.get_metadata(model_id).artifact.key)
    assert path is not None
    path.write_bytes(path.read_bytes()[:100])
    with pytest.warns(IntegrityWarning, match="checksum mismatch"):
        assert registry.load_model(model_id) is None


def test_list_all_by_type_by_min_f1_and_empty(
    registry: ModelRegistry, logistic: Any, forest: Any
) -> None:
    assert registry.list_models() == []
    registry.save_model(
        logistic, model_name="lr", model_type="LogisticRegression", metrics={"f1": 0.6}
    )
    registry.save_model(forest, model_name="rf", model_type="RandomForest", metrics={"f1": 0.8})
    registry.save_model(forest, model_name="rf", model_type="RandomForest", metrics={"f1": 0.9})
    assert len(registry.list_models()) == 3
    assert all(isinstance(m, ModelMetadata) for m in registry.list_models())
    assert [m.model_name for m in registry.list_models(model_type="RandomForest")] == ["rf", "rf"]
    assert [m.metrics["f1"] for m in registry.list_models(min_f1=0.7)] == [0.8, 0.9]
    assert registry.list_models(model_type="RandomForest", min_f1=0.85)[0].version == "1.0.1"
    assert registry.list_models(model_type="Nothing") == []


def test_best_by_f1_by_roc_auc_by_type_and_empty(
    registry: ModelRegistry, logistic: Any, forest: Any
) -> None:
    assert registry.get_best_model() is None
    registry.save_model(
        logistic, model_name="lr", model_type="LR", metrics={"f1": 0.7, "roc_auc": 0.95}
    )
    registry.save_model(
        forest, model_name="rf", model_type="RF", metrics={"f1": 0.9, "roc_auc": 0.80}
    )
    registry.save_model(
        forest, model_name="rf", model_type="RF", metrics={"f1": 0.8, "roc_auc": 0.85}
    )
    best = registry.get_best_model()
    assert best is not None and (best.model_name, best.metrics["f1"]) == ("rf", 0.9)
    by_auc = registry.get_best_model(metric="roc_auc")
    assert by_auc is not None and by_auc.model_name == "lr"
    by_type = registry.get_best_model(metric="roc_auc", model_type="RF")
    assert by_type is not None and by_type.version == "1.0.1"
    assert registry.get_best_model(metric="f1", model_type="SVM") is None


def test_best_ranks_lower_is_better_metrics(registry: ModelRegistry, logistic: Any) -> None:
    for rmse in (0.5, 0.2, 0.9):
        registry.save_model(
            logistic, model_name="reg", metrics={"rmse": rmse, "log_loss": rmse * 2}
        )
    assert registry.get_best_model(metric="rmse").metrics["rmse"] == 0.2  # type: ignore[union-attr]
    assert registry.get_best_model(metric="log_loss").metrics["rmse"] == 0.2  # type: ignore[union-attr]


def test_best_on_ties_is_the_newest(registry: ModelRegistry, logistic: Any) -> None:
    ids = [registry.save_model(logistic, model_name="t", metrics={"f1": 0.8}) for _ in range(3)]
    assert registry.get_best_model().model_id == ids[-1]  # type: ignore[union-attr]


def test_semver_sequence(registry: ModelRegistry, logistic: Any) -> None:
    versions = [
        registry.get_metadata(registry.save_model(logistic, model_name="m")).version
        for _ in range(3)
    ]
    assert versions == ["1.0.0", "1.0.1", "1.0.2"]
    explicit = registry.save_model(logistic, model_name="m", version="2.0.0")
    after = registry.save_model(logistic, model_name="m")
    assert registry.get_metadata(explicit).version == "2.0.0"
    assert registry.get_metadata(after).version == "2.0.1"
    # versions are per model name
    assert (
        registry.get_metadata(registry.save_model(logistic, model_name="other")).version == "1.0.0"
    )


def test_integer_versions(make_registry: Any, store_name: str, logistic: Any) -> None:
    registry = make_registry(store=store_name, versioning="integer")
    versions = [
        registry.get_metadata(registry.save_model(logistic, model_name="m")).version
        for _ in range(3)
    ]
    assert versions == ["1", "2", "3"]
    assert registry.get_metadata(registry.save_model(logistic, model_name="n")).version == "1"


def test_duplicate_explicit_version_writes_nothing(registry: ModelRegistry, logistic: Any) -> None:
    registry.save_model(logistic, model_name="m", version="1.2.3")
    files_before = sorted(registry.storage.iter_keys())
    with pytest.raises(DuplicateVersionError, match=r"1\.2\.3") as info:
        registry.save_model(logistic, model_name="m", version="1.2.3")
    assert isinstance(info.value, ValueError)
    assert sorted(registry.storage.iter_keys()) == files_before
    assert len(registry.list_models()) == 1


def test_version_shared_by_two_names_is_ambiguous(
    registry: ModelRegistry, logistics: list[Any]
) -> None:
    registry.save_model(logistics[0], model_name="a")
    registry.save_model(logistics[1], model_name="b")
    with pytest.raises(AmbiguousVersionError, match="pass model_name"):
        registry.get_metadata(version="1.0.0")
    assert registry.load("b:1.0.0").model.C == logistics[1].C
    assert (registry.load("a:1.0.0").model.coef_ == logistics[0].coef_).all()


def test_delete_removes_row_and_file(registry: ModelRegistry, logistic: Any) -> None:
    model_id = registry.save_model(logistic, model_name="m")
    key = registry.get_metadata(model_id).artifact.key
    assert registry.delete_model(model_id) is True
    assert registry.load_model(model_id) is None
    assert not registry.storage.exists(key)
    assert registry.list_models() == []
    assert registry.delete_model(model_id) is False


def test_stage_transitions_archive_previous_production(
    registry: ModelRegistry, logistic: Any
) -> None:
    for _ in range(3):
        registry.save_model(logistic, model_name="m")
    assert registry.get_production_model("m") is None
    staged = registry.transition_stage("m", "1.0.0", "Staging")
    assert staged.stage is Stage.STAGING
    registry.transition_stage("m", "1.0.0", "Production")
    registry.transition_stage("m", "1.0.1", Stage.PRODUCTION)
    stages = {m.version: m.stage for m in registry.get_model_versions("m")}
    assert stages == {"1.0.0": Stage.ARCHIVED, "1.0.1": Stage.PRODUCTION, "1.0.2": Stage.NONE}
    assert registry.get_production_model("m").version == "1.0.1"  # type: ignore[union-attr]
    registry.transition_stage("m", "1.0.2", "Production", archive_existing=False)
    assert len(registry.list_models(model_name="m", stage="Production")) == 2


def test_unknown_stage_lists_the_valid_ones(registry: ModelRegistry, logistic: Any) -> None:
    registry.save_model(logistic, model_name="m")
    with pytest.raises(UnknownStageError, match="Staging, Production, Archived") as info:
        registry.transition_stage("m", "1.0.0", "Prod")
    assert isinstance(info.value, ValueError)
    assert registry.get_metadata("m").stage is Stage.NONE


def test_transition_of_missing_version(registry: ModelRegistry, logistic: Any) -> None:
    registry.save_model(logistic, model_name="m")
    with pytest.raises(ModelNotFoundError) as info:
        registry.transition_stage("m", "9.9.9", "Production")
    assert isinstance(info.value, LookupError)


def test_get_model_versions_oldest_first(registry: ModelRegistry, logistic: Any) -> None:
    registry.save_model(logistic, model_name="m", version="3.0.0")
    registry.save_model(logistic, model_name="m", version="1.0.0")
    registry.save_model(logistic, model_name="x")
    assert [m.version for m in registry.get_model_versions("m")] == ["3.0.0", "1.0.0"]
    assert registry.get_model_versions("nothing") == []
    # "latest" is the highest version, not the last saved
    assert registry.get_metadata("m").version == "3.0.0"


def test_registry_reopens_with_same_content(
    make_registry: Any, store_name: str, logistic: Any, iris: Data
) -> None:
    first = make_registry(store=store_name)
    model_id = first.save_model(logistic, model_name="m", metrics={"f1": 0.5})
    first.transition_stage("m", "1.0.0", "Production")
    first.close()
    second = make_registry(store=store_name)
    meta = second.get_metadata(model_id)
    assert meta.stage is Stage.PRODUCTION and meta.metrics == {"f1": 0.5}
    np.testing.assert_array_equal(
        second.load(model_id).model.predict(iris[0]), logistic.predict(iris[0])
    )


def test_deleted_version_number_is_never_reused(registry: ModelRegistry, logistic: Any) -> None:
    ids = [registry.save_model(logistic, model_name="m") for _ in range(3)]
    assert registry.delete_model(ids[-1])
    assert registry.get_metadata(registry.save_model(logistic, model_name="m")).version == "1.0.3"
    # nor taken on purpose: a version string never names two models
    with pytest.raises(RetiredVersionError, match=r"'1\.0\.2' and it was deleted"):
        registry.save_model(logistic, model_name="m", version="1.0.2")
    assert [m.version for m in registry.get_model_versions("m")] == ["1.0.0", "1.0.1", "1.0.3"]


# -- canonical ids, versions and selectors: one answer on every store and scheme ------------


@pytest.fixture(params=["semver", "integer"])
def scheme(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def three(
    make_registry: Any, store_name: str, scheme: str, logistic: Any
) -> tuple[ModelRegistry, list[int], list[str]]:
    """A registry on each store and scheme holding rf's first three versions."""
    reg = make_registry(store=store_name, versioning=scheme)
    ids = [
        reg.save_model(logistic, model_name="rf", metrics={"f1": 0.5 + n / 10}) for n in range(3)
    ]
    return reg, ids, [reg.get_metadata(i).version for i in ids]


def snapshot(reg: ModelRegistry) -> list[ModelMetadata]:
    return reg.list_models() + reg.list_checkpoints("rf")


def test_an_int_version_is_its_string_under_the_integer_scheme(
    three: tuple[ModelRegistry, list[int], list[str]], scheme: str, logistic: Any, iris: Data
) -> None:
    reg, ids, versions = three
    if scheme != "integer":
        pytest.skip("ints name versions only under the integer scheme (next test)")
    assert versions == ["1", "2", "3"]
    second = ids[1]
    assert reg.get_metadata(model_name="rf", version=2).model_id == second
    assert reg.get_metadata(version=2).model_id == second
    assert reg.get_metadata("rf:2").model_id == second
    np.testing.assert_array_equal(
        reg.load_model(model_name="rf", version=2).predict(iris[0]), logistic.predict(iris[0])
    )
    assert reg.transition_stage("rf", 2, "Production").model_id == second
    assert reg.get_metadata(second).stage is Stage.PRODUCTION
    assert reg.set_alias("rf:2", "champion").aliases == ("champion",)
    assert reg.get_metadata("rf@champion", version=2).model_id == second
    # Written with an int, recorded as the string, and the next one follows it.
    assert reg.get_metadata(reg.save_model(logistic, model_name="rf", version=10)).version == "10"
    assert reg.get_metadata(reg.save_model(logistic, model_name="rf")).version == "11"
    with pytest.raises(DuplicateVersionError):
        reg.save_model(logistic, model_name="rf", version=2)
    template = reg.get_metadata(second)
    path = reg.storage.local_path(template.artifact.key)
    assert path is not None
    imported = reg.import_version(template, {"": path}, version=12)
    assert imported.version == "12"
    reg.save_checkpoint(logistic, "rf", step=1)
    promoted = reg.promote_checkpoint("rf", 1, version=20)
    assert reg.get_metadata(promoted).version == "20"


def test_an_int_version_is_refused_under_semver_and_nothing_changes(
    three: tuple[ModelRegistry, list[int], list[str]], scheme: str, logistic: Any
) -> None:
    reg, _, _ = three
    if scheme != "semver":
        pytest.skip("under the integer scheme an int is a version (previous test)")
    before = snapshot(reg)
    calls: list[Callable[[], object]] = [
        lambda: reg.save_model(logistic, model_name="rf", version=10),
        lambda: reg.get_metadata(model_name="rf", version=2),
        lambda: reg.load_model(model_name="rf", version=2),
        lambda: reg.transition_stage("rf", 2, "Production"),
        lambda: reg.get_metadata("rf:1.0.0", version=1),
    ]
    for call in calls:
        with pytest.raises(InvalidVersionError, match=r"semver.*int names a version only"):
            call()
    assert snapshot(reg) == before


NOT_AN_ID = r"must be an int|must be a positive integer|step must be an integer"


def test_ids_are_ints_everywhere_and_strings_are_references(
    three: tuple[ModelRegistry, list[int], list[str]], logistic: Any
) -> None:
    reg, ids, _ = three
    before = snapshot(reg)
    refused: list[Callable[[], object]] = [
        lambda: reg.load_model(model_id="1"),  # type: ignore[arg-type]
        lambda: reg.load(True).model,
        lambda: reg.get_metadata(model_id="1"),  # type: ignore[arg-type]
        lambda: reg.get_metadata(True),
        lambda: reg.delete_model("2"),  # type: ignore[arg-type]
        lambda: reg.delete_model(True),
        lambda: reg.load_checkpoint("rf", "1"),  # type: ignore[arg-type]
    ]
    for call in refused:
        with pytest.raises(
            InvalidInputError,
            match=NOT_AN_ID,
        ):
            call()
    with pytest.raises(InvalidInputError, match=r"pass int\('1'\)"):
        reg.load_model(model_id="1", strict=True)  # type: ignore[arg-type]
    assert snapshot(reg) == before
    # A model may be named "1": the string is its reference, the int an id.
    named_one = reg.save_model(logistic, model_name="1")
    assert reg.get_metadata("1").model_id == named_one
    assert reg.get_metadata(1).model_id == ids[0]
    assert reg.delete_model(ids[1]) is True


def test_selectors_that_contradict_each_other_are_refused(
    three: tuple[ModelRegistry, list[int], list[str]], logistic: Any
) -> None:
    reg, ids, versions = three
    reg.save_model(logistic, model_name="other")
    reg.set_alias(f"rf:{versions[2]}", "champion")
    first = f"rf:{versions[0]}"
    contradictions: dict[str, Callable[[], object]] = {
        "name": lambda: reg.get_metadata(first, model_name="other"),
        "version": lambda: reg.get_metadata(first, version=versions[2]),
        "id": lambda: reg.get_metadata(first, model_id=ids[2]),
        "int and id": lambda: reg.get_metadata(ids[0], model_id=ids[1]),
        "id and name": lambda: reg.get_metadata(model_id=ids[0], model_name="other"),
        "alias": lambda: reg.get_metadata("rf@champion", version=versions[0]),
        "stage": lambda: reg.get_metadata("rf/Production", model_id=ids[0]),
        "load": lambda: reg.load_model(first, model_name="other"),
    }
    for what, call in contradictions.items():
        with pytest.raises(InvalidInputError, match="contradict") as caught:
            call()
        assert not isinstance(caught.value, LookupError), what
    # Selectors that agree are fine, and so is a name plus a version.
    assert reg.get_metadata(first, model_name="rf", model_id=ids[0]).model_id == ids[0]
    assert reg.get_metadata("rf@champion", version=versions[2]).model_id == ids[2]
    assert reg.get_metadata("rf", version=versions[1]).model_id == ids[1]
