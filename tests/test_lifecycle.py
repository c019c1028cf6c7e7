"""Aliases, references, tags, queries, rollback, gates, artifacts, checkpoints,
retention, configuration and summary, on both bundled stores."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler

from modelshelf import (
    InvalidInputError,
    InvalidReferenceError,
    ModelNotFoundError,
    ModelRegistry,
    Stage,
    UnknownMetricWarning,
    VetoError,
)
from modelshelf.config import CONFIG_FILE, ConfigError
from modelshelf_plugins.gates import MetricGate

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


@pytest.fixture
def reg(make_registry: Callable[..., ModelRegistry], store_name: str) -> ModelRegistry:
    return make_registry(store=store_name, user="alice")


def save_versions(
    reg: ModelRegistry, model: Any, name: str, f1s: list[float], **kw: Any
) -> list[int]:
    return [reg.save_model(model, model_name=name, metrics={"f1": f1}, **kw) for f1 in f1s]


# -- aliases and references ----------------------------------------------------


def test_alias_moves_between_versions(reg: ModelRegistry, logistic: Any) -> None:
    save_versions(reg, logistic, "m", [0.5, 0.6, 0.7])
    reg.set_alias("m:1.0.0", "champion")
    reg.set_alias("m:1.0.1", "challenger")
    assert reg.get_metadata("m@champion").version == "1.0.0"
    assert reg.get_metadata("m:1.0.0").aliases == ("champion",)
    reg.set_alias("m:1.0.2", "champion", reason="better f1")
    assert reg.get_metadata("m@champion").version == "1.0.2"
    assert reg.get_metadata("m:1.0.0").aliases == ()
    assert [m.version for m in reg.list_models(alias="champion")] == ["1.0.2"]
    assert reg.delete_alias("m", "challenger") is True
    assert reg.delete_alias("m", "challenger") is False
    with pytest.raises(ModelNotFoundError):
        reg.get_metadata("m@challenger")
    moves = [(e.action, e.from_value, e.to_value, e.actor) for e in reg.audit_log("m")]
    assert moves == [
        ("alias:champion", None, "1.0.0", "alice"),
        ("alias:challenger", None, "1.0.1", "alice"),
        ("alias:champion", "1.0.0", "1.0.2", "alice"),
        ("alias:challenger", "1.0.1", None, "alice"),
    ]
    assert reg.audit_log("m")[2].reason == "better f1"


def test_alias_is_per_model_name(reg: ModelRegistry, logistic: Any) -> None:
    save_versions(reg, logistic, "a", [0.1])
    save_versions(reg, logistic, "b", [0.2])
    reg.set_alias("a", "champion")
    reg.set_alias("b", "champion")
    assert reg.get_metadata("a@champion").model_name == "a"
    assert reg.get_metadata("b@champion").model_name == "b"


def test_references_of_every_form(reg: ModelRegistry, logistics: list[Any]) -> None:
    for model, f1 in zip(logistics[:3], [0.5, 0.9, 0.7], strict=True):  # 1.0.0, 1.0.1, 1.0.2
        reg.save_model(model, model_name="xgb", metrics={"f1": f1})
    by_version = {"1.0.0": logistics[0], "1.0.1": logistics[1], "1.0.2": logistics[2]}
    reg.transition_stage("xgb", "1.0.1", "Production")
    reg.transition_stage("xgb", "1.0.0", "Staging")
    reg.set_alias("xgb:1.0.0", "champion")
    cases = {
        "xgb": "1.0.2",
        "xgb:latest": "1.0.2",
        "xgb:1.0.1": "1.0.1",
        "xgb@champion": "1.0.0",
        "xgb/Production": "1.0.1",
        "xgb/staging": "1.0.0",
        "models:/xgb@champion": "1.0.0",
        "models:/xgb/Production": "1.0.1",
    }
    for reference, version in cases.items():
        assert reg.get_metadata(reference).version == version, reference
        assert reg.load(reference).model.C == by_version[version].C, reference
    with pytest.raises(ModelNotFoundError):
        reg.get_metadata("xgb/Archived")
    with pytest.raises(ModelNotFoundError):
        reg.get_metadata("nothing:1.0.0")


@pytest.mark.parametrize(
    "reference",
    [
        "",
        " ",
        "xgb:",
        "xgb@",
        "xgb/",
        "xgb:1.0@a",
        "a:b:c",
        "xgb/Prod",
        "../etc:1",
        "x@1bad",
        "x y",
    ],
)
def test_malformed_references_show_accepted_forms(reg: ModelRegistry, reference: str) -> None:
    with pytest.raises(InvalidReferenceError, match="Accepted forms: name; name:VERSION") as info:
        reg.load(reference)
    assert isinstance(info.value, ValueError)


# -- tags, descriptions, names ---------------------------------------------------------


def test_tags_and_descriptions_editable_and_filterable(reg: ModelRegistry, logistic: Any) -> None:
    first, second = save_versions(reg, logistic, "m", [0.5, 0.6], tags={"team": "risk"})
    reg.update_model(first, description="retrained on October data", tags={"team": "fraud"})
    assert reg.get_metadata(first).description == "retrained on October data"
    assert [m.model_id for m in reg.list_models(tags={"team": "risk"})] == [second]
    assert [m.model_id for m in reg.list_models(tags={"team": "fraud"})] == [first]
    with pytest.raises(InvalidInputError, match="tags"):
        reg.update_model(first, tags={"bad key!": "x"})
    assert reg.get_metadata(first).tags == {"team": "fraud"}


def test_model_name_info(reg: ModelRegistry, logistic: Any) -> None:
    save_versions(reg, logistic, "a", [0.1])
    save_versions(reg, logistic, "b", [0.1])
    assert reg.get_model_info("a").description == ""
    reg.set_model_info("a", description="credit scoring", tags={"owner": "risk"})
    reg.set_model_info("a", tags={"owner": "risk", "tier": "1"})
    info = reg.get_model_info("a")
    assert (info.description, info.tags) == ("credit scoring", {"owner": "risk", "tier": "1"})
    assert reg.list_model_names(tags={"owner": "risk"}) == ["a"]
    assert reg.list_model_names() == ["a", "b"]
    with pytest.raises(ModelNotFoundError):
        reg.get_model_info("missing")


# -- queries ---------------------------------------------------------------------------


def test_filters_combined_and_ordering(reg: ModelRegistry, logistic: Any) -> None:
    specs = [
        ("a", "LR", {"f1": 0.9, "loss": 0.3}, {"env": "prod"}),
        ("a", "LR", {"f1": 0.7, "loss": 0.2}, {"env": "prod"}),
        ("a", "RF", {"f1": 0.8, "loss": 0.1}, {"env": "dev"}),
        ("b", "LR", {"f1": 0.95}, {"env": "prod"}),
        ("a", "LR", {"f1": 0.8, "loss": 0.25}, {"env": "prod"}),
    ]
    ids = [
        reg.save_model(logistic, model_name=n, model_type=t, metrics=m, tags=g)
        for n, t, m, g in specs
    ]
    found = reg.list_models(
        model_name="a",
        model_type="LR",
        tags={"env": "prod"},
        min_f1=0.75,
        max_loss=0.3,
        order_by="f1",
        descending=True,
    )
    assert [m.model_id for m in found] == [ids[0], ids[4]]
    by_loss = reg.list_models(order_by="loss")
    assert [m.model_id for m in by_loss] == [ids[2], ids[1], ids[4], ids[0], ids[3]]  # missing last
    page = reg.list_models(order_by="model_id", descending=True, limit=2, offset=1)
    assert [m.model_id for m in page] == [ids[3], ids[2]]
    assert reg.count_models(model_name="a") == 4
    best = reg.get_best_model(model_name="a", model_type="LR", tags={"env": "prod"}, max_loss=0.28)
    assert best is not None and best.model_id == ids[4]


def test_ties_are_deterministic(reg: ModelRegistry, logistic: Any) -> None:
    ids = save_versions(reg, logistic, "t", [0.5, 0.5, 0.5])
    assert [m.model_id for m in reg.list_models(order_by="f1")] == ids
    assert [m.model_id for m in reg.list_models(order_by="f1", descending=True)] == ids[::-1]
    assert reg.get_best_model().model_id == ids[-1]  # type: ignore[union-attr]


def test_created_time_range(reg: ModelRegistry, logistic: Any) -> None:
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    model_id = reg.save_model(logistic, model_name="m")
    after = datetime.now(timezone.utc) + timedelta(seconds=1)
    assert [m.model_id for m in reg.list_models(created_after=before, created_before=after)] == [
        model_id
    ]
    assert reg.list_models(created_after=after) == []
    with pytest.raises(InvalidInputError, match="timezone"):
        reg.list_models(created_after=datetime(2026, 1, 1))


def test_bad_query_arguments(reg: ModelRegistry) -> None:
    with pytest.raises(InvalidInputError, match="unknown filter 'colour'"):
        reg.list_models(colour="red")
    filters: dict[str, Any] = {"min_f1; DROP TABLE models": 1.0}
    with pytest.raises(InvalidInputError, match="metric name"):
        reg.list_models(**filters)
    with pytest.raises(InvalidInputError, match="order_by"):
        reg.list_models(order_by="f1 DESC; --")
    with pytest.raises(InvalidInputError, match="limit"):
        reg.list_models(limit=-1)


def test_training_info_is_queryable(reg: ModelRegistry, logistic: Any, forest: Any) -> None:
    reg.save_model(
        logistic,
        model_name="m",
        metrics={"accuracy": 0.9},
        training_info={
            "dataset": "loans-2026-10",
            "n_samples": 1000,
            "class_distribution": {"0": 900, "1": 100},
            "data_quality_score": 0.8,
        },
    )
    ens = reg.save_model(
        forest,
        model_name="m",
        metrics={"accuracy": 0.9},
        training_info={"dataset": "loans-2026-11", "is_ensemble": True},
    )
    assert [m.training_info.dataset for m in reg.list_models(dataset="loans-2026-10")] == [
        "loans-2026-10"
    ]
    assert [m.model_id for m in reg.list_models(is_ensemble=True)] == [ens]
    assert [m.metrics["data_quality"] for m in reg.list_models(min_data_quality=0.5)] == [0.8]


def test_compare_models_with_composite(
    make_registry: Callable[..., ModelRegistry], store_name: str, logistic: Any, forest: Any
) -> None:
    reg = make_registry(store=store_name, scoring="composite")
    reg.save_model(logistic, model_name="m", metrics={"accuracy": 0.9, "roc_auc": 0.9, "f1": 0.8})
    reg.save_model(
        forest,
        model_name="m",
        metrics={"accuracy": 0.9, "roc_auc": 0.9, "f1": 0.8},
        training_info={"is_ensemble": True},
    )
    reg.save_model(logistic, model_name="m", metrics={"accuracy": 0.5})
    # No version records data_quality: its default weight counts for nothing, and says so.
    with pytest.warns(UnknownMetricWarning, match="'data_quality'"):
        rows = reg.compare_models("m", limit=2)
    assert [r["version"] for r in rows] == ["1.0.1", "1.0.0"]
    assert rows[0]["score"] == pytest.approx((0.36 + 0.27 + 0.16) * 1.05)
    assert rows[1]["score"] == pytest.approx(0.79)
    assert set(rows[0]) >= {
        "model_id",
        "model_name",
        "model_type",
        "version",
        "stage",
        "metrics",
        "score",
    }
    with pytest.warns(UnknownMetricWarning, match="'data_quality'"):
        best = reg.get_best_model()
    assert best is not None and best.version == "1.0.1"


# -- rollback, gates -------------------------------------------------------------------


def test_rollback_twice_walks_back(reg: ModelRegistry, logistic: Any) -> None:
    save_versions(reg, logistic, "m", [0.1, 0.2, 0.3])
    for version in ("1.0.0", "1.0.1", "1.0.2"):
        reg.transition_stage("m", version, "Production")
    assert reg.rollback("m").version == "1.0.1"
    assert reg.rollback("m", reason="bad latency").version == "1.0.0"
    stages = {m.version: m.stage for m in reg.get_model_versions("m")}
    assert stages == {"1.0.0": Stage.PRODUCTION, "1.0.1": Stage.ARCHIVED, "1.0.2": Stage.ARCHIVED}
    with pytest.raises(ModelNotFoundError, match="no earlier Production"):
        reg.rollback("m")
    last = reg.audit_log("m")[-1]
    assert (last.version, last.from_value, last.to_value, last.actor) == (
        "1.0.0",
        "Archived",
        "Production",
        "alice",
    )
    assert last.reason == "rollback from 1.0.1: bad latency"


def test_rollback_without_production(reg: ModelRegistry, logistic: Any) -> None:
    save_versions(reg, logistic, "m", [0.1])
    with pytest.raises(ModelNotFoundError, match="no Production version"):
        reg.rollback("m")


def test_gate_in_code_refuses_and_nothing_changes(
    make_registry: Callable[..., ModelRegistry], store_name: str, logistic: Any
) -> None:
    reg = make_registry(
        store=store_name, plugins=[MetricGate({"Production": {"f1": 0.7, "rmse": 0.5}})]
    )
    save_versions(reg, logistic, "m", [0.9])
    reg.save_model(logistic, model_name="m", metrics={"f1": 0.65, "rmse": 0.9})
    reg.save_model(logistic, model_name="m", metrics={"f1": 0.8, "rmse": 0.4})
    with pytest.raises(VetoError, match=r"f1 0.65 < 0.7; rmse 0.9 > 0.5"):
        reg.transition_stage("m", "1.0.1", "Production")
    with pytest.raises(VetoError, match="no 'rmse' metric"):
        reg.transition_stage("m", "1.0.0", "Production")
    assert all(m.stage is Stage.NONE for m in reg.get_model_versions("m"))
    assert reg.audit_log("m") == []
    assert reg.transition_stage("m", "1.0.2", "Production").stage is Stage.PRODUCTION
    staged = reg.transition_stage("m", "1.0.1", "Staging")  # other stages are not gated
    assert staged.stage is Stage.STAGING


def test_gate_from_config_also_guards_saving_into_a_stage(
    tmp_path: Path, store_name: str, logistic: Any
) -> None:
    root = tmp_path / "reg"
    root.mkdir()
    (root / CONFIG_FILE).write_text(f'store = "{store_name}"\n[gates.Production]\nf1 = 0.7\n')
    reg = ModelRegistry(root)
    with pytest.raises(VetoError, match=r"f1 0\.5 < 0\.7"):
        reg.save_model(logistic, model_name="m", metrics={"f1": 0.5}, stage="Production")
    assert reg.list_models() == []
    assert list(reg.storage.iter_keys()) == []
    model_id = reg.save_model(logistic, model_name="m", metrics={"f1": 0.8}, stage="Production")
    assert reg.get_production_model("m").model_id == model_id  # type: ignore[union-attr]
    reg.close()


# -- artifacts, checkpoints, retention ------------------------------------------------------


def test_auxiliary_artifacts_round_trip(reg: ModelRegistry, logistic: Any, iris: Any) -> None:
    X, _ = iris
    scaler = StandardScaler().fit(X)
    reg.save_model(
        logistic,
        model_name="m",
        metrics={"f1": 0.9},
        artifacts={"scaler": scaler, "classes": ["a", "b", "c"]},
    )
    reg.save_model(logistic, model_name="m", metrics={"f1": 0.5})
    best = reg.load_best_model()
    assert best is not None
    model, artifacts, metadata = best
    np.testing.assert_allclose(artifacts["scaler"].transform(X), scaler.transform(X))
    assert artifacts["classes"] == ["a", "b", "c"]
    assert metadata.version == "1.0.0" and set(metadata.artifacts) == {"scaler", "classes"}
    np.testing.assert_array_equal(model.predict(X), logistic.predict(X))
    assert reg.verify().checked == 4
    reg.delete_model(metadata.model_id)
    assert len(list(reg.storage.iter_keys())) == 1


def test_checkpoints_keep_last_k(reg: ModelRegistry, logistic: Any) -> None:
    reg.save_model(logistic, model_name="m", metrics={"f1": 0.1})
    for step in range(5):
        reg.save_checkpoint(
            {"step": step},
            "m",
            step=step * 100,
            metrics={"f1": 0.99, "loss": 1.0 / (step + 1)},
            keep_last=3,
        )
    assert [c.version for c in reg.list_checkpoints("m")] == ["ckpt-200", "ckpt-300", "ckpt-400"]
    assert reg.load_checkpoint("m").model == {"step": 4}
    assert reg.load_checkpoint("m", step=200).model == {"step": 2}
    # never a released version
    assert [m.version for m in reg.list_models()] == ["1.0.0"]
    assert reg.get_best_model().version == "1.0.0"  # type: ignore[union-attr]
    assert reg.get_metadata("m").version == "1.0.0"
    assert reg.get_metadata(reg.save_model(logistic, model_name="m")).version == "1.0.1"
    released = reg.promote_checkpoint("m", step=300)
    meta = reg.get_metadata(released)
    assert (meta.version, meta.metrics["f1"], meta.checkpoint) == ("1.0.2", 0.99, False)
    assert meta.parent_id == reg.list_checkpoints("m")[1].model_id
    with pytest.raises(ModelNotFoundError):
        reg.load_checkpoint("m", step=7)
    assert reg.verify().ok


def test_retention_never_removes_production_or_aliased(reg: ModelRegistry, logistic: Any) -> None:
    save_versions(reg, logistic, "m", [0.1] * 6)
    reg.transition_stage("m", "1.0.0", "Production")
    reg.set_alias("m:1.0.1", "champion")
    planned = reg.apply_retention("m", keep_last=2)
    assert [m.version for m in planned] == ["1.0.2", "1.0.3"]
    assert len(reg.list_models()) == 6  # dry run
    removed = reg.apply_retention("m", keep_last=2, dry_run=False)
    assert [m.version for m in removed] == ["1.0.2", "1.0.3"]
    assert [m.version for m in reg.list_models()] == ["1.0.0", "1.0.1", "1.0.4", "1.0.5"]
    assert reg.verify().ok and reg.gc() == []


def test_retention_drops_old_archived(reg: ModelRegistry, logistic: Any) -> None:
    save_versions(reg, logistic, "m", [0.1, 0.2, 0.3])
    reg.transition_stage("m", "1.0.0", "Archived")
    reg.transition_stage("m", "1.0.1", "Archived")
    reg.set_alias("m:1.0.1", "keep")
    assert reg.apply_retention(archived_max_age_days=1) == []  # too young
    later = reg.apply_retention(archived_max_age_days=1e-9, dry_run=False)
    assert [m.version for m in later] == ["1.0.0"]
    with pytest.raises(InvalidInputError):
        reg.apply_retention(keep_last=0)


# -- configuration and summary --------------------------------------------------------------


def test_config_read_on_open_and_constructor_wins(tmp_path: Path, logistic: Any) -> None:
    root = tmp_path / "reg"
    root.mkdir()
    (root / CONFIG_FILE).write_text(
        'store = "json"\nversioning = "integer"\nscoring = "composite"\n'
        'default_stage = "Staging"\n[scoring_options.weights]\naccuracy = 1.0\n'
        "[retention]\nkeep_last = 1\n"
    )
    reg = ModelRegistry(root)
    model_id = reg.save_model(logistic, model_name="m", metrics={"accuracy": 0.5})
    assert (root / "index.json").exists() or (root / "index.journal").exists()
    meta = reg.get_metadata(model_id)
    assert (meta.version, meta.stage) == ("1", Stage.STAGING)
    reg.save_model(logistic, model_name="m", metrics={"accuracy": 0.9})
    assert reg.get_best_model().version == "2"  # type: ignore[union-attr]
    assert [m.version for m in reg.apply_retention()] == ["1"]
    # The registry recorded what it was created with; contradicting it is an error.
    with pytest.raises(ConfigError, match=r"versioning 'integer'.*versioning 'semver'"):
        ModelRegistry(root, versioning="semver", store="json")
    scoring = ModelRegistry(root, scoring="f1", scoring_options={})  # not part of the record
    assert scoring.scoring.name == "f1"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('stor = "json"', "stor"),
        ("[retention]\nkeep_last = 0", "retention.keep_last"),
        ("[retention]\nkeep_last = 'many'", "retention.keep_last"),
        ("[gates.Prod]\nf1 = 0.7", "gates.Prod"),
        ('default_stage = "Live"', "default_stage"),
        ("store = [", "not valid TOML"),
    ],
)
def test_invalid_config_names_the_key(tmp_path: Path, text: str, key: str) -> None:
    (tmp_path / CONFIG_FILE).write_text(text)
    with pytest.raises(ConfigError, match=key) as info:
        ModelRegistry(tmp_path)
    assert isinstance(info.value, ValueError)


def test_summary(reg: ModelRegistry, logistic: Any, forest: Any) -> None:
    save_versions(reg, logistic, "a", [0.5, 0.9])
    reg.save_model(forest, model_name="b", model_type="RF", metrics={"f1": 0.7})
    reg.transition_stage("a", "1.0.1", "Production")
    summary = reg.summary()
    assert summary["versions"] == 3
    assert summary["by_name"] == {"a": 2, "b": 1}
    assert summary["by_type"] == {"LogisticRegression": 2, "RF": 1}
    assert summary["by_stage"] == {"None": 2, "Staging": 0, "Production": 1, "Archived": 0}
    assert summary["storage_bytes"] == sum(m.artifact.size for m in reg.list_models())
    assert summary["best"] == {"a": "a:1.0.1", "b": "b:1.0.0"}


def test_audit_user_from_environment(
    make_registry: Callable[..., ModelRegistry], monkeypatch: pytest.MonkeyPatch, logistic: Any
) -> None:
    monkeypatch.setenv("MODELSHELF_USER", "ci-bot")
    reg = make_registry()
    reg.save_model(logistic, model_name="m")
    reg.transition_stage("m", "1.0.0", "Staging", reason="smoke tests passed")
    event = reg.audit_log()[0]
    assert (event.actor, event.reason, event.from_value, event.to_value) == (
        "ci-bot",
        "smoke tests passed",
        "None",
        "Staging",
    )
    assert event.at.tzinfo is not None


def test_gate_also_guards_importing_into_a_stage(
    make_registry: Callable[..., ModelRegistry], tmp_path: Path, logistic: Any
) -> None:
    from modelshelf.bundle import export_version, import_bundle

    source = make_registry(storage_path=tmp_path / "source")
    source.save_model(logistic, model_name="m", metrics={"f1": 0.5}, stage="Production")
    bundle = export_version(source, "m:1.0.0", tmp_path / "bundle")
    gated = make_registry(
        storage_path=tmp_path / "gated", plugins=[MetricGate({"Production": {"f1": 0.7}})]
    )
    with pytest.raises(VetoError, match=r"f1 0\.5 < 0\.7"):
        import_bundle(gated, bundle)
    assert gated.list_models() == []
    assert list(gated.storage.iter_keys()) == []
