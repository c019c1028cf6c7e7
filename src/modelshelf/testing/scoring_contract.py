"""The scoring-policy conformance suite, apart from the store suites so each reads alone."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelshelf.metadata import (
    ModelMetadata,
    TrainingInfo,
    metadata_from_draft,
)
from modelshelf.protocols import ScoringPolicy as ScoringPolicyProtocol
from modelshelf.query import Query, Ranking, RankTerm, lower_is_better
from modelshelf.testing._contract_support import SUITE_SETTINGS, _not_overridden
from modelshelf.testing.reference import (
    make_draft,
    reference_best,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from modelshelf.protocols import (
        ScoringPolicy,
    )


def _version(model_id: int, metrics: dict[str, float], *, ensemble: bool = False) -> ModelMetadata:
    return metadata_from_draft(
        make_draft("alpha", metrics=metrics, training_info=TrainingInfo(is_ensemble=ensemble)),
        model_id=model_id,
        version=str(model_id),
    )


class ScoringPolicyContract:
    """The behaviour every :class:`~modelshelf.protocols.ScoringPolicy` must show.

    Override ``policy``. Declare ``better`` (``(better_metrics, worse_metrics)``
    pairs the policy must order) and ``unranked`` (metric sets it must refuse
    to rank, e.g. lacking its metric); each test without data skips.
    """

    better: ClassVar[Sequence[tuple[dict[str, float], dict[str, float]]]] = ()
    unranked: ClassVar[Sequence[dict[str, float]]] = ()
    #: Terms on lower-is-better metrics (loss, rmse, ...) have weights <= 0.
    respects_metric_direction: ClassVar[bool] = True

    @pytest.fixture
    def policy(self) -> ScoringPolicy:
        """The policy under test; override in your subclass."""
        raise _not_overridden("policy", "ScoringPolicyContract")

    def test_is_a_scoring_policy(self, policy: ScoringPolicy) -> None:
        assert isinstance(policy, ScoringPolicyProtocol)
        assert isinstance(policy.name, str)
        assert policy.name
        ranking = policy.ranking()
        assert isinstance(ranking, Ranking)
        assert ranking.terms, "a ranking needs at least one term"
        assert policy.ranking() == ranking, "ranking() must be stable"

    def test_declared_pairs_are_ordered(self, policy: ScoringPolicy) -> None:
        if not self.better:
            pytest.skip("declare better = [(better_metrics, worse_metrics), ...]")
        ranking = policy.ranking()
        for good, bad in self.better:
            good_score, bad_score = (
                ranking.score(_version(1, good)),
                ranking.score(_version(2, bad)),
            )
            assert good_score is not None, good
            assert bad_score is None or good_score > bad_score, (good, bad)
            # Whichever is recorded first, the better one wins.
            for ids in ((1, 2), (2, 1)):
                rows = [_version(ids[0], good), _version(ids[1], bad)]
                best = reference_best(rows, ranking, Query())
                assert best is not None
                assert best.metrics == good

    def test_unranked_metric_sets_are_never_best(self, policy: ScoringPolicy) -> None:
        if not self.unranked:
            pytest.skip("declare unranked = [metrics, ...] the policy must not rank")
        ranking = policy.ranking()
        for metrics in self.unranked:
            assert ranking.score(_version(1, metrics)) is None, metrics
            assert reference_best([_version(1, metrics)], ranking, Query()) is None

    def test_ties_go_to_the_newest_version(self, policy: ScoringPolicy) -> None:
        ranking = policy.ranking()
        metrics = {term.metric: 0.5 for term in ranking.terms}
        metrics.update({name: 0.5 for name in ranking.required})
        rows = [_version(i, metrics) for i in (3, 1, 2)]
        best = reference_best(rows, ranking, Query())
        assert best is not None
        assert best.model_id == 3

    def test_metric_direction(self, policy: ScoringPolicy) -> None:
        if not self.respects_metric_direction:
            pytest.skip("policy declares respects_metric_direction = False")
        for term in policy.ranking().terms:
            if lower_is_better(term.metric):
                assert term.weight <= 0, f"{term.metric} is lower-is-better, weight {term.weight}"
            else:
                assert term.weight >= 0, f"{term.metric} is higher-is-better, weight {term.weight}"

    def test_improving_a_metric_never_lowers_the_score(self, policy: ScoringPolicy) -> None:
        """Property: moving any ranked metric in its better direction helps or is neutral."""
        ranking = policy.ranking()
        names = sorted({t.metric for t in ranking.terms} | set(ranking.required))

        @given(
            st.fixed_dictionaries(
                {name: st.floats(min_value=0, max_value=1, allow_nan=False) for name in names}
            ),
            st.sampled_from(ranking.terms),
            st.floats(min_value=0.001, max_value=1),
            st.booleans(),
        )
        @SUITE_SETTINGS
        def check(metrics: dict[str, float], term: RankTerm, step: float, ensemble: bool) -> None:
            before = ranking.score(_version(1, metrics, ensemble=ensemble))
            better = dict(metrics)
            better[term.metric] += step if term.weight >= 0 else -step
            after = ranking.score(_version(1, better, ensemble=ensemble))
            assert before is not None
            assert after is not None
            assert math.isfinite(after)
            assert after >= before - 1e-9 * max(1.0, abs(before))

        check()


__all__ = ["ScoringPolicyContract"]
