"""An example modelshelf plugin: f1 minus a penalty for slow models.

The whole plugin is a policy class and one hook implementation. The
``modelshelf`` entry point in pyproject.toml names this module, so installing
the distribution is all a user does; ``ModelRegistry(scoring="latency-aware")``
then picks the policy by name.
"""

from __future__ import annotations

from modelshelf import hookimpl
from modelshelf.errors import InvalidInputError
from modelshelf.protocols import Provider, ScoringPolicy
from modelshelf.query import Ranking, RankTerm, lower_is_better

#: What one millisecond of latency costs, in units of the quality metric.
DEFAULT_PENALTY = 0.001


class LatencyAwarePolicy:
    """Rank by ``metrics[metric] - penalty * metrics[latency_metric]``.

    A version without the quality metric is not ranked at all; one without
    a latency measurement is ranked on quality alone (a missing metric counts
    as 0 in a :class:`~modelshelf.query.Ranking`). Because the policy answers
    with a ``Ranking`` rather than a Python function, every store computes the
    score where the data lives (in SQL for the SQLite and PostgreSQL stores).
    """

    name = "latency-aware"

    def __init__(
        self,
        metric: str = "f1",
        latency_metric: str = "latency_ms",
        penalty: float = DEFAULT_PENALTY,
    ) -> None:
        if isinstance(penalty, bool) or not isinstance(penalty, (int, float)) or penalty < 0:
            raise InvalidInputError(f"latency-aware penalty must be a number >= 0, got {penalty!r}")
        if lower_is_better(metric):
            raise InvalidInputError(
                f"latency-aware metric must be higher-is-better, got {metric!r}"
            )
        if not lower_is_better(latency_metric):
            raise InvalidInputError(
                f"latency_metric {latency_metric!r} must name a lower-is-better metric "
                "(e.g. latency_ms)"
            )
        self._ranking = Ranking(
            terms=(
                RankTerm(metric=metric, weight=1.0),
                RankTerm(metric=latency_metric, weight=-float(penalty)),
            ),
            required=(metric,),
        )

    def ranking(self) -> Ranking:
        return self._ranking


def _create(
    metric: str = "f1", latency_metric: str = "latency_ms", penalty: float = DEFAULT_PENALTY
) -> ScoringPolicy:
    return LatencyAwarePolicy(metric=metric, latency_metric=latency_metric, penalty=penalty)


@hookimpl
def modelshelf_scoring_policies() -> list[Provider[ScoringPolicy]]:
    """Offer the policy under the name users pass as ``scoring=``."""
    return [
        Provider(
            name="latency-aware",
            factory=_create,
            description="f1 minus penalty x latency_ms; options: metric=, latency_metric=, "
            "penalty=",
        )
    ]
