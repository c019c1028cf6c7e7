"""The default scoring policy: the best version has the highest f1."""

from __future__ import annotations

from modelshelf import hookimpl
from modelshelf.protocols import Provider, ScoringPolicy
from modelshelf.query import Ranking


class MetricPolicy:
    """Rank by a single metric, in the direction its name implies."""

    def __init__(self, metric: str = "f1") -> None:
        self.name = metric
        self._ranking = Ranking.by_metric(metric)

    def ranking(self) -> Ranking:
        return self._ranking


def _create(metric: str = "f1") -> ScoringPolicy:
    return MetricPolicy(metric)


@hookimpl
def modelshelf_scoring_policies() -> list[Provider[ScoringPolicy]]:
    return [
        Provider(
            name="f1",
            factory=_create,
            description="highest metrics['f1'] wins; option metric= ranks by another one",
        )
    ]
