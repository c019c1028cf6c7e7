"""Metric names that match nothing are said out loud, and cheaply.

A team that records ``auc`` and ``f1_score`` while the scoring policy weighs
``roc_auc`` and ``f1`` used to get rankings that silently ignored its
metrics. Every ranking now warns (``UnknownMetricWarning``) about each metric
it names that no version in scope records, in Python and on the CLI's stderr.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import pytest
from click.testing import CliRunner

from modelshelf import (
    IntegrityWarning,
    ModelRegistry,
    ModelShelfWarning,
    UnknownMetricWarning,
)
from modelshelf.cli import cli

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

TEAM_METRICS = [
    {"accuracy": 0.90, "auc": 0.70, "f1_score": 0.60},
    {"accuracy": 0.80, "auc": 0.95, "f1_score": 0.90},
    {"accuracy": 0.85, "auc": 0.80, "f1_score": 0.70},
]


def team_registry(
    make_registry: Callable[..., ModelRegistry], store: str, model: Any, **options: Any
) -> ModelRegistry:
    registry = make_registry(store=store, **options)
    for metrics in TEAM_METRICS:
        registry.save_model(model, model_name="rf", metrics=metrics)
    return registry


def unknown(caught: pytest.WarningsRecorder) -> list[str]:
    return sorted(w.message.metric for w in caught if isinstance(w.message, UnknownMetricWarning))


def test_warning_classes_share_one_root() -> None:
    assert issubclass(UnknownMetricWarning, ModelShelfWarning)
    assert issubclass(IntegrityWarning, ModelShelfWarning)
    assert issubclass(ModelShelfWarning, UserWarning)


def test_default_composite_weights_that_match_nothing_are_named(
    make_registry: Callable[..., ModelRegistry], store_name: str, logistic: Any
) -> None:
    registry = team_registry(make_registry, store_name, logistic, scoring="composite")
    with pytest.warns(UnknownMetricWarning) as caught:
        best = registry.get_best_model()
    # Only accuracy counted: the first version wins on it alone.
    assert best is not None and best.version == "1.0.0"
    assert unknown(caught) == ["data_quality", "f1", "roc_auc"]
    assert "adds nothing to any score" in str(caught[0].message)
    with pytest.warns(UnknownMetricWarning) as caught:
        rows = registry.compare_models("rf")
    assert unknown(caught) == ["data_quality", "f1", "roc_auc"]
    assert [r["version"] for r in rows] == ["1.0.0", "1.0.2", "1.0.1"]
    with pytest.warns(UnknownMetricWarning) as caught:
        registry.summary()
    assert unknown(caught) == ["data_quality", "f1", "roc_auc"]


def test_weights_naming_the_teams_metrics_rank_by_them_silently(
    make_registry: Callable[..., ModelRegistry], store_name: str, logistic: Any
) -> None:
    registry = team_registry(
        make_registry,
        store_name,
        logistic,
        scoring="composite",
        scoring_options={"weights": {"accuracy": 0.2, "auc": 0.4, "f1_score": 0.4}},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        best = registry.get_best_model()
        rows = registry.compare_models("rf")
        summary = registry.summary()
    assert best is not None and best.version == "1.0.1"
    assert rows[0]["score"] == pytest.approx(0.2 * 0.8 + 0.4 * 0.95 + 0.4 * 0.9)
    assert summary["best"] == {"rf": "rf:1.0.1"}


def test_default_policy_on_a_missing_metric_says_why_nothing_ranks(
    make_registry: Callable[..., ModelRegistry], store_name: str, logistic: Any
) -> None:
    registry = team_registry(make_registry, store_name, logistic)
    with pytest.warns(UnknownMetricWarning, match="'f1'.*no version can be ranked"):
        assert registry.compare_models("rf") == []
    with pytest.warns(UnknownMetricWarning, match="'f1'"):
        assert registry.summary()["best"] == {"rf": None}
    with pytest.warns(UnknownMetricWarning, match="'f1_scor'.*metric='f1_scor'"):
        assert registry.get_best_model(metric="f1_scor") is None


def test_compare_models_ranks_by_a_metric(
    make_registry: Callable[..., ModelRegistry], store_name: str, logistic: Any
) -> None:
    registry = team_registry(make_registry, store_name, logistic)
    registry.save_model(logistic, model_name="rf", metrics={"rmse": 0.3})
    registry.save_model(logistic, model_name="rf", metrics={"rmse": 0.1})
    rows = registry.compare_models("rf", metric="f1_score")
    assert [(r["version"], r["score"]) for r in rows] == [
        ("1.0.1", 0.9),
        ("1.0.2", 0.7),
        ("1.0.0", 0.6),
    ]
    # Lower is better for rmse; the score column is the metric's own value.
    rows = registry.compare_models("rf", metric="rmse", limit=1)
    assert [(r["version"], r["score"]) for r in rows] == [("1.0.4", 0.1)]


def test_an_empty_scope_warns_about_nothing(
    make_registry: Callable[..., ModelRegistry], store_name: str, logistic: Any
) -> None:
    registry = team_registry(make_registry, store_name, logistic, scoring="composite")
    assert registry.compare_models("other") == []
    assert registry.get_best_model(model_name="other") is None
    assert registry.get_best_model(metric="anything", min_accuracy=0.99) is None


class CountingStore:
    """Passes every call through to the real store and counts them by method."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.store, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            return method(*args, **kwargs)

        return counted


def test_the_check_costs_a_count_per_missing_metric_and_reads_no_versions(
    make_registry: Callable[..., ModelRegistry], store_name: str, logistic: Any
) -> None:
    registry = make_registry(store=store_name, scoring="composite")
    for n in range(20):
        registry.save_model(
            logistic, model_name="m", metrics={"accuracy": 0.5, "roc_auc": 0.5, "f1": n / 20}
        )
    counting = CountingStore(registry.store)
    registry.store = counting
    with pytest.warns(UnknownMetricWarning, match="data_quality"):
        registry.get_best_model()
    # The winner shows three metrics are recorded (and that the scope is not
    # empty): data_quality costs one count; no version is read.
    assert counting.calls == {"best": 1, "count": 1}
    counting.calls.clear()
    with pytest.warns(UnknownMetricWarning, match="f1_scor"):
        assert registry.get_best_model(metric="f1_scor") is None
    # Nothing ranked: one count for the metric, one to tell "no such metric"
    # from "nothing in scope".
    assert counting.calls == {"best": 1, "count": 2}
    counting.calls.clear()
    assert registry.get_best_model(metric="f1") is not None
    assert counting.calls == {"best": 1}


def test_the_cli_prints_metric_warnings_on_stderr(
    tmp_path: Path, logistic: Any, store_name: str
) -> None:
    path = tmp_path / "registry"
    with ModelRegistry(path, store=store_name) as registry:
        for metrics in TEAM_METRICS:
            registry.save_model(logistic, model_name="rf", metrics=metrics)
    env = {"MODELSHELF_REGISTRY": str(path), "MODELSHELF_STORE": store_name}
    best = CliRunner().invoke(cli, ["best"], env=env)
    assert best.exit_code == 1
    assert "warning: no version in scope records the metric 'f1'" in best.stderr
    assert best.stderr.splitlines()[-1].startswith("error: no version matches")
    stats = CliRunner().invoke(cli, ["stats", "--json"], env=env)
    assert stats.exit_code == 0, stats.stderr
    assert "warning: no version in scope records the metric 'f1'" in stats.stderr
    assert "warning" not in stats.stdout
    ranked = CliRunner().invoke(cli, ["best", "--metric", "auc"], env=env)
    assert ranked.exit_code == 0 and ranked.stderr == ""
    assert "rf:1.0.1" in ranked.stdout
