"""The example policy passes modelshelf's scoring conformance suite."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from modelshelf_example_scoring import LatencyAwarePolicy

from modelshelf import InvalidInputError
from modelshelf.testing.contracts import ScoringPolicyContract

if TYPE_CHECKING:
    from modelshelf.protocols import ScoringPolicy
    from modelshelf.testing import RegistryFactory


class TestLatencyAwarePolicy(ScoringPolicyContract):
    """One fixture and a few declared facts buy the whole suite."""

    better = (
        ({"f1": 0.9, "latency_ms": 10.0}, {"f1": 0.9, "latency_ms": 50.0}),
        ({"f1": 0.9, "latency_ms": 10.0}, {"f1": 0.8, "latency_ms": 10.0}),
        # 0.05 of f1 is worth more than 40 ms at the default penalty...
        ({"f1": 0.85, "latency_ms": 40.0}, {"f1": 0.8, "latency_ms": 0.0}),
    )
    unranked = ({}, {"latency_ms": 1.0}, {"accuracy": 0.99})

    @pytest.fixture
    def policy(self) -> ScoringPolicy:
        return LatencyAwarePolicy()


class TestHeavyPenalty(ScoringPolicyContract):
    # ...but not at ten times the penalty.
    better = (({"f1": 0.8, "latency_ms": 0.0}, {"f1": 0.85, "latency_ms": 40.0}),)

    @pytest.fixture
    def policy(self) -> ScoringPolicy:
        return LatencyAwarePolicy(penalty=0.01)


@pytest.mark.parametrize(
    "options",
    [{"penalty": -1}, {"penalty": "high"}, {"metric": "loss"}, {"latency_metric": "accuracy"}],
)
def test_bad_options_are_rejected(options: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError):
        LatencyAwarePolicy(**options)


def test_installed_plugin_is_found_by_name(
    modelshelf_registry_factory: RegistryFactory, modelshelf_logistic_regression: Any
) -> None:
    """Through the entry point, as a user gets it: no plugins=[...] needed."""
    registry = modelshelf_registry_factory(scoring="latency-aware")
    fast = registry.save_model(
        modelshelf_logistic_regression,
        model_name="iris",
        metrics={"f1": 0.9, "latency_ms": 5.0},
    )
    registry.save_model(
        modelshelf_logistic_regression,
        model_name="iris",
        metrics={"f1": 0.91, "latency_ms": 300.0},
    )
    best = registry.get_best_model()
    assert best is not None
    assert best.model_id == fast


def test_plugin_is_listed_with_its_distribution() -> None:
    from modelshelf.plugins import list_plugins

    (info,) = [p for p in list_plugins() if p.name == "modelshelf-example-scoring"]
    assert info.distribution == "modelshelf-example-scoring"
    assert info.version == "0.1.0"
    assert info.hooks == ("modelshelf_scoring_policies",)
    assert info.provides == {"scoring policy": ("latency-aware",)}
