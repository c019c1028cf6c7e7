"""Queries and ranking: listing, counting, best and compare, model info.

The store answers queries; this part turns user filters into a
:class:`~modelshelf.query.Query`, ranks with the scoring policy and warns
about metrics no version has.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from attrs import evolve

from modelshelf.errors import (
    InvalidInputError,
    ModelNotFoundError,
    UnknownMetricWarning,
)
from modelshelf.metadata import (
    ModelInfo,
    ModelMetadata,
    Stage,
    check_metric_name,
    check_name,
)
from modelshelf.query import MetricBound, Query, Ranking

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from datetime import datetime

    from modelshelf.registry import ModelRegistry


def _query(
    self: ModelRegistry,
    *,
    model_name: str | None = None,
    model_type: str | None = None,
    stage: str | Stage | None = None,
    alias: str | None = None,
    tags: Mapping[str, str] | None = None,
    min_metrics: Mapping[str, float] | None = None,
    max_metrics: Mapping[str, float] | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    dataset: str | None = None,
    is_ensemble: bool | None = None,
    order_by: str = "model_id",
    descending: bool = False,
    limit: int | None = None,
    offset: int = 0,
    **thresholds: float | None,
) -> Query:
    lows = dict(min_metrics or {})
    highs = dict(max_metrics or {})
    for key, value in thresholds.items():
        if value is None:
            continue
        if key.startswith("min_"):
            lows[check_metric_name(key[4:])] = value
        elif key.startswith("max_"):
            highs[check_metric_name(key[4:])] = value
        else:
            raise InvalidInputError(
                f"unknown filter {key!r}; metric thresholds are min_<metric>= / max_<metric>="
            )
    bounds = [
        MetricBound(name=name, minimum=lows.get(name), maximum=highs.get(name))
        for name in sorted(set(lows) | set(highs))
    ]
    return Query(
        model_name=model_name,
        model_type=model_type,
        stage=stage,
        alias=alias,
        tags=tags,
        bounds=bounds,
        created_after=created_after,
        created_before=created_before,
        dataset=dataset,
        is_ensemble=is_ensemble,
        order_by=order_by,
        descending=descending,
        limit=limit,
        offset=offset,
    )


def list_models(
    self: ModelRegistry, model_type: str | None = None, min_f1: float | None = None, **filters: Any
) -> list[ModelMetadata]:
    """Versions matching every filter; [] when none do.

    Filters: ``model_name``, ``model_type``, ``stage``, ``alias``, ``tags``,
    ``min_<metric>`` / ``max_<metric>`` (or ``min_metrics`` / ``max_metrics``
    dicts), ``created_after`` / ``created_before``; ``order_by`` a field or
    a metric, ``descending``, ``limit``, ``offset``. Ties go by id.
    """
    query = _query(self, model_type=model_type, min_f1=min_f1, **filters)
    return self.store.find(query)


def count_models(self: ModelRegistry, **filters: Any) -> int:
    return self.store.count(_query(self, **filters))


def _ranking(self: ModelRegistry, metric: str | None) -> tuple[Ranking, str]:
    """The ranking ``metric`` names (the scoring policy without one), and its
    name for messages."""
    if metric is None:
        return self.scoring.ranking(), f"the scoring policy {self.scoring.name!r}"
    return Ranking.by_metric(check_metric_name(metric)), f"metric={metric!r}"


def _warn_unknown_metrics(
    self: ModelRegistry,
    ranking: Ranking,
    source: str,
    scope: Query,
    *,
    recorded: Iterable[str] = (),
    complete: bool = False,
    found: bool = False,
) -> None:
    """Warn about each metric ``ranking`` names that no version in ``scope`` records.

    ``recorded`` holds metrics known to be recorded in scope: the winner's
    (``found``: the scope is not empty), or those of every row in a
    non-empty scope already read (``complete``). Only the others cost a
    count query each, and the scope one more when one is missing and
    nothing was found. Never reads the versions themselves. An empty scope
    warns about nothing.
    """
    seen = set(recorded)
    named = dict.fromkeys([*ranking.required, *(t.metric for t in ranking.terms)])
    missing = [m for m in named if m not in seen]
    if missing and not complete:
        missing = [
            metric
            for metric in missing
            if not self.store.count(evolve(scope, bounds=(*scope.bounds, MetricBound(name=metric))))
        ]
        if missing and not found and not self.store.count(scope):
            return
    for metric in missing:
        effect = (
            "so no version can be ranked"
            if metric in ranking.required
            else "so it adds nothing to any score"
        )
        warnings.warn(
            UnknownMetricWarning(
                metric,
                f"no version in scope records the metric {metric!r} that {source} "
                f"names, {effect}; check the name against your recorded metrics "
                "(scoring options: docs/querying.md)",
            ),
            stacklevel=3,
        )


def get_best_model(
    self: ModelRegistry, metric: str | None = None, model_type: str | None = None, **filters: Any
) -> ModelMetadata | None:
    """The best version by ``metric`` (its direction inferred from its name)
    or, without one, by the registry's scoring policy; None if nothing ranks.

    A metric the ranking names that no version in scope records gives an
    :class:`UnknownMetricWarning`.
    """
    ranking, source = _ranking(self, metric)
    for key in ("order_by", "descending", "limit", "offset"):
        if key in filters:
            raise InvalidInputError(f"get_best_model does not take {key}=")
    scope = _query(self, model_type=model_type, **filters)
    best = self.store.best(ranking, scope)
    _warn_unknown_metrics(
        self,
        ranking,
        source,
        scope,
        recorded=() if best is None else best.metrics,
        found=best is not None,
    )
    return best


def score(self: ModelRegistry, metadata: ModelMetadata) -> float | None:
    """The scoring policy's score of one version (None if it cannot be ranked)."""
    return self.scoring.ranking().score(metadata)


def compare_models(
    self: ModelRegistry,
    model_name: str | None = None,
    limit: int = 10,
    *,
    metric: str | None = None,
    **filters: Any,
) -> list[dict[str, Any]]:
    """Versions ranked as rows ready for a table, best first.

    Ranked by ``metric`` (its direction inferred from its name; ``score``
    is then that metric's value) or, without one, by the scoring policy.
    Versions the ranking cannot score are left out; a metric it names that
    no version in scope records gives an :class:`UnknownMetricWarning`.
    """
    ranking, source = _ranking(self, metric)
    shown = None if metric is None else check_metric_name(metric)
    scope = _query(self, model_name=model_name, **filters)
    versions = self.store.find(scope)
    recorded: set[str] = set()
    rows = []
    for metadata in versions:
        recorded.update(metadata.metrics)
        score = ranking.score(metadata)
        if score is not None:
            rows.append((score, metadata))
    if versions:
        _warn_unknown_metrics(self, ranking, source, scope, recorded=recorded, complete=True)
    rows.sort(key=lambda pair: (pair[0], pair[1].model_id), reverse=True)
    return [
        {
            "rank": rank,
            "model_id": m.model_id,
            "model_name": m.model_name,
            "model_type": m.model_type,
            "version": m.version,
            "stage": m.stage.value,
            "metrics": dict(m.metrics),
            "score": score if shown is None else m.metrics[shown],
        }
        for rank, (score, m) in enumerate(rows[:limit], start=1)
    ]


def get_model_versions(self: ModelRegistry, model_name: str) -> list[ModelMetadata]:
    """Every version of ``model_name``, oldest first."""
    return self.store.find(Query(model_name=model_name, order_by="model_id"))


def get_production_model(self: ModelRegistry, model_name: str) -> ModelMetadata | None:
    found = self.store.find(
        Query(
            model_name=model_name,
            stage=Stage.PRODUCTION,
            order_by="version",
            descending=True,
            limit=1,
        )
    )
    return found[0] if found else None


def get_model_info(self: ModelRegistry, model_name: str) -> ModelInfo:
    """The description and tags of a model name (empty if never set)."""
    check_name("model_name", model_name)
    found = self.store.get_model_info(model_name)
    if found is not None:
        return found
    if not self.store.count(Query(model_name=model_name, limit=1)):
        raise ModelNotFoundError(f"no model named {model_name!r}")
    return ModelInfo(model_name=model_name)


def set_model_info(
    self: ModelRegistry,
    model_name: str,
    *,
    description: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> ModelInfo:
    """Set the description and/or replace the tags of a model name.

    A name with no versions is absent, as for :func:`get_model_info`:
    ModelNotFoundError, so a typo never creates a name nobody saved.
    """
    check_name("model_name", model_name)
    current = self.store.get_model_info(model_name)
    if current is None:
        if not self.store.count(Query(model_name=model_name, limit=1)):
            raise ModelNotFoundError(f"no model named {model_name!r}")
        current = ModelInfo(model_name=model_name)
    info = ModelInfo(
        model_name=model_name,
        description=current.description if description is None else description,
        tags=current.tags if tags is None else tags,
    )
    self.store.set_model_info(info)
    return info


def list_model_names(self: ModelRegistry, *, tags: Mapping[str, str] | None = None) -> list[str]:
    """Model names with versions, optionally only those whose name-level tags match."""
    names = self.store.model_names()
    if not tags:
        return names
    wanted = dict(tags)
    return [
        name
        for name in names
        if (info := self.store.get_model_info(name)) is not None
        and all(info.tags.get(k) == v for k, v in wanted.items())
    ]


def summary(self: ModelRegistry) -> dict[str, Any]:
    """Counts by name, type and stage, bytes stored, and the best version per name."""
    by_name: dict[str, int] = {}
    by_type: dict[str, int] = {}
    by_stage: dict[str, int] = {stage.value: 0 for stage in Stage}
    stored = 0
    versions = 0
    recorded: set[str] = set()
    for metadata in self.store.find(Query()):
        versions += 1
        recorded.update(metadata.metrics)
        by_name[metadata.model_name] = by_name.get(metadata.model_name, 0) + 1
        by_type[metadata.model_type] = by_type.get(metadata.model_type, 0) + 1
        by_stage[metadata.stage.value] += 1
        stored += metadata.artifact.size + sum(a.size for a in metadata.artifacts.values())
    ranking, source = _ranking(self, None)
    if versions:
        _warn_unknown_metrics(self, ranking, source, Query(), recorded=recorded, complete=True)
    best = {}
    for name in sorted(by_name):
        winner = self.store.best(ranking, Query(model_name=name))
        best[name] = None if winner is None else winner.reference
    return {
        "versions": versions,
        "by_name": dict(sorted(by_name.items())),
        "by_type": dict(sorted(by_type.items())),
        "by_stage": by_stage,
        "storage_bytes": stored,
        "best": best,
    }
