"""The bundled scoring policies against the scoring conformance suite."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from modelshelf.testing.contracts import ScoringPolicyContract
from modelshelf_plugins.composite_scoring import CompositePolicy
from modelshelf_plugins.f1_scoring import MetricPolicy

if TYPE_CHECKING:
    from modelshelf.protocols import ScoringPolicy


class TestF1Policy(ScoringPolicyContract):
    better = (
        ({"f1": 0.9}, {"f1": 0.8}),
        ({"f1": 0.5}, {"f1": 0.25, "accuracy": 1.0}),
        ({"f1": 0.1}, {"accuracy": 1.0}),
    )
    unranked = ({}, {"accuracy": 0.99, "roc_auc": 0.99})

    @pytest.fixture
    def policy(self) -> ScoringPolicy:
        return MetricPolicy("f1")


class TestLossPolicy(ScoringPolicyContract):
    """The f1 policy's ``metric=`` option with a lower-is-better metric."""

    better = (({"val_loss": 0.1}, {"val_loss": 0.2}),)
    unranked = ({"f1": 1.0},)

    @pytest.fixture
    def policy(self) -> ScoringPolicy:
        return MetricPolicy("val_loss")


class TestCompositePolicy(ScoringPolicyContract):
    better = (
        (
            {"accuracy": 0.9, "roc_auc": 0.9, "f1": 0.9, "data_quality": 0.9},
            {"accuracy": 0.8, "roc_auc": 0.8, "f1": 0.8, "data_quality": 0.8},
        ),
        # Accuracy weighs twice what f1 does.
        ({"accuracy": 0.8, "f1": 0.5}, {"accuracy": 0.5, "f1": 0.8}),
        # A missing metric counts as zero.
        ({"accuracy": 0.9, "f1": 0.9}, {"accuracy": 0.9}),
    )

    @pytest.fixture
    def policy(self) -> ScoringPolicy:
        return CompositePolicy()


class TestCompositePolicyWithLoss(ScoringPolicyContract):
    better = (({"accuracy": 0.9, "rmse": 0.1}, {"accuracy": 0.9, "rmse": 0.5}),)

    @pytest.fixture
    def policy(self) -> ScoringPolicy:
        return CompositePolicy(weights={"accuracy": 1.0, "rmse": 0.5})
