"""A weighted sum of several metrics, with a bonus for ensembles.

Weights apply to the metric's value when higher is better and to its
negation when lower is better (loss, rmse, mae, ...), so a configured
``{"rmse": 0.5}`` rewards small errors. A missing metric counts as 0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelshelf import hookimpl
from modelshelf.errors import InvalidInputError
from modelshelf.protocols import Provider, ScoringPolicy
from modelshelf.query import Ranking, RankTerm, lower_is_better

if TYPE_CHECKING:
    from collections.abc import Mapping

#: The composite policy's default weights; ``roc_auc`` is the name scikit-learn and our
#: examples use for the area under the ROC curve.
DEFAULT_WEIGHTS: Mapping[str, float] = {
    "accuracy": 0.4,
    "roc_auc": 0.3,
    "f1": 0.2,
    "data_quality": 0.1,
}
DEFAULT_ENSEMBLE_MULTIPLIER = 1.05


class CompositePolicy:
    name = "composite"

    def __init__(
        self,
        weights: Mapping[str, float] | None = None,
        ensemble_multiplier: float = DEFAULT_ENSEMBLE_MULTIPLIER,
    ) -> None:
        chosen = dict(DEFAULT_WEIGHTS if weights is None else weights)
        if not chosen:
            raise InvalidInputError("composite scoring needs at least one weight")
        for metric, weight in chosen.items():
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
                raise InvalidInputError(
                    f"composite weight for {metric!r} must be a number >= 0, got {weight!r}"
                )
        self.weights = chosen
        self._ranking = Ranking(
            terms=tuple(
                RankTerm(metric=metric, weight=-weight if lower_is_better(metric) else weight)
                for metric, weight in chosen.items()
            ),
            ensemble_multiplier=ensemble_multiplier,
        )

    def ranking(self) -> Ranking:
        return self._ranking


def _create(
    weights: Mapping[str, float] | None = None,
    ensemble_multiplier: float = DEFAULT_ENSEMBLE_MULTIPLIER,
) -> ScoringPolicy:
    return CompositePolicy(weights=weights, ensemble_multiplier=ensemble_multiplier)


@hookimpl
def modelshelf_scoring_policies() -> list[Provider[ScoringPolicy]]:
    return [
        Provider(
            name="composite",
            factory=_create,
            description="weighted sum (accuracy .4, roc_auc .3, f1 .2, data_quality .1), "
            "ensembles x1.05; options: weights=, ensemble_multiplier=",
        )
    ]
