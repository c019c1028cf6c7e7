"""What the registry asks a store: filters, ordering and rankings as values.

A store receives a :class:`Query` or a :class:`Ranking` and answers it as close
to its data as it can (SQL for the database stores). The ``matches`` /
``sort_key`` / ``score`` methods here are the reference semantics: the
in-memory stores use them directly, and the conformance suite holds every
other store to them.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

from attrs import field, frozen

from modelshelf.errors import InvalidInputError, InvalidMetadataError
from modelshelf.metadata import (
    INT64_MAX,
    ModelMetadata,
    Stage,
    _to_tags,
    _to_utc,
    check_alias,
    check_metric_name,
    check_metric_value,
    check_name,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

#: Fields a query may order by; anything else names a metric.
ORDER_FIELDS = ("model_id", "model_name", "model_type", "version", "created_at", "stage")

#: Name fragments of metrics where a smaller value is better.
LOWER_IS_BETTER = re.compile(
    r"(^|[_./-])(loss|rmse|mse|mae|mape|log_loss|logloss|error|err|cost|latency|"
    r"perplexity|brier|wer|cer)($|[_./-])",
    re.IGNORECASE,
)


def lower_is_better(metric: str) -> bool:
    """Whether a smaller value of ``metric`` is better (loss, rmse, mae, mse, ...)."""
    return LOWER_IS_BETTER.search(metric) is not None


def _optional_model_name(value: object) -> str | None:
    return None if value is None else check_name("model_name", value)


def _optional_version(value: object) -> str | None:
    """Versions are compared as the strings the stores hold; the registry turns
    what a caller gave (``2`` under the integer scheme) into one first."""
    if value is not None and not isinstance(value, str):
        raise InvalidInputError(f"a query's version must be a string, got {value!r}")
    return value


def _optional_stage(value: object) -> Stage | None:
    return None if value is None else Stage.parse(value)


def _optional_alias(value: object) -> str | None:
    return None if value is None else check_alias(value)


def _optional_time(value: object) -> datetime | None:
    return None if value is None else _to_utc(value)


def _count(field_name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError(f"{field_name} must be an integer >= 0, got {value!r}")
    if value > INT64_MAX:  # no store can count that far; SQLite cannot even bind it
        raise InvalidInputError(f"{field_name} must be at most {INT64_MAX}, got {value}")
    return value


def _optional_limit(value: object) -> int | None:
    return None if value is None else _count("limit", value)


def _offset(value: object) -> int:
    return 0 if value is None else _count("offset", value)


def _bounds(value: Iterable[MetricBound]) -> tuple[MetricBound, ...]:
    return tuple(value)


def _terms(value: Iterable[RankTerm]) -> tuple[RankTerm, ...]:
    return tuple(value)


def _metric_names(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(check_metric_name(name) for name in value)


def _weight(value: object) -> float:
    return check_metric_value("weight", value)


def _optional_bound(value: object) -> float | None:
    return None if value is None else check_metric_value("bound", value)


@frozen(kw_only=True)
class MetricBound:
    """``minimum <= metrics[name] <= maximum``; a version lacking the metric fails it."""

    name: str = field(converter=check_metric_name)
    minimum: float | None = field(default=None, converter=_optional_bound)
    maximum: float | None = field(default=None, converter=_optional_bound)

    def accepts(self, metrics: Mapping[str, float]) -> bool:
        value = metrics.get(self.name)
        if value is None:
            return False
        if self.minimum is not None and value < self.minimum:
            return False
        return not (self.maximum is not None and value > self.maximum)


def _order_by(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInputError(f"order_by must be a string, got {value!r}")
    if value in ORDER_FIELDS:
        return value
    try:
        return check_metric_name(value)
    except InvalidMetadataError as exc:
        raise InvalidInputError(
            f"order_by={value!r} is neither a field ({', '.join(ORDER_FIELDS)}) "
            "nor a valid metric name"
        ) from exc


@frozen(kw_only=True)
class Query:
    """A filter over recorded versions plus an order and a window.

    Ties are always broken by ``model_id`` in the query's direction, so a query
    returns the same rows in the same order on every store.
    """

    model_name: str | None = field(default=None, converter=_optional_model_name)
    model_type: str | None = None
    version: str | None = field(default=None, converter=_optional_version)
    stage: Stage | None = field(default=None, converter=_optional_stage)
    alias: str | None = field(default=None, converter=_optional_alias)
    tags: dict[str, str] = field(factory=dict, converter=_to_tags)
    bounds: tuple[MetricBound, ...] = field(default=(), converter=_bounds)
    created_after: datetime | None = field(default=None, converter=_optional_time)
    created_before: datetime | None = field(default=None, converter=_optional_time)
    dataset: str | None = None
    is_ensemble: bool | None = None
    checkpoints: bool = False
    order_by: str = field(default="model_id", converter=_order_by)
    descending: bool = False
    limit: int | None = field(default=None, converter=_optional_limit)
    offset: int = field(default=0, converter=_offset)

    @property
    def orders_by_metric(self) -> bool:
        return self.order_by not in ORDER_FIELDS

    @property
    def names_at_most(self) -> bool:
        """Whether the filter part is at most a model name and the checkpoint flag.

        A store that keeps versions by name then needs no :meth:`matches` per
        version. Compared field by field, so a filter added later counts.
        """
        return self == Query(
            model_name=self.model_name,
            checkpoints=self.checkpoints,
            order_by=self.order_by,
            descending=self.descending,
            limit=self.limit,
            offset=self.offset,
        )

    def matches(self, metadata: ModelMetadata) -> bool:
        """Reference semantics of the filter part of the query."""
        m = metadata
        return (
            m.checkpoint is self.checkpoints  # first: most scans stop or pass here
            and (self.model_name is None or m.model_name == self.model_name)
            and (self.model_type is None or m.model_type == self.model_type)
            and (self.version is None or m.version == self.version)
            and (self.stage is None or m.stage is self.stage)
            and (self.alias is None or self.alias in m.aliases)
            and (not self.tags or all(m.tags.get(k) == v for k, v in self.tags.items()))
            and (not self.bounds or all(bound.accepts(m.metrics) for bound in self.bounds))
            and (self.created_after is None or m.created_at >= self.created_after)
            and (self.created_before is None or m.created_at < self.created_before)
            and (self.dataset is None or m.training_info.dataset == self.dataset)
            and (self.is_ensemble is None or m.training_info.is_ensemble is self.is_ensemble)
        )


@frozen(kw_only=True)
class RankTerm:
    """``weight * metrics[metric]``; a negative weight means lower is better."""

    metric: str = field(converter=check_metric_name)
    weight: float = field(converter=_weight)


@frozen(kw_only=True)
class Ranking:
    """How a scoring policy orders versions, in a form a store can push down.

    ``score = sum(weight * metric, missing metrics count 0)``, multiplied by
    ``ensemble_multiplier`` for versions whose training_info says is_ensemble.
    A version lacking any ``required`` metric is not ranked. Ties go to the
    newest version (highest ``model_id``).
    """

    terms: tuple[RankTerm, ...] = field(converter=_terms)
    required: tuple[str, ...] = field(default=(), converter=_metric_names)
    ensemble_multiplier: float = 1.0

    @classmethod
    def by_metric(cls, metric: str) -> Ranking:
        """Rank by one metric, in the direction its name implies."""
        weight = -1.0 if lower_is_better(metric) else 1.0
        return cls(terms=(RankTerm(metric=metric, weight=weight),), required=(metric,))

    def score(self, metadata: ModelMetadata) -> float | None:
        """Reference score of one version, or None when it cannot be ranked."""
        metrics = metadata.metrics
        if any(name not in metrics for name in self.required):
            return None
        total = sum(term.weight * metrics.get(term.metric, 0.0) for term in self.terms)
        if metadata.training_info.is_ensemble:
            total *= self.ensemble_multiplier
        return total
