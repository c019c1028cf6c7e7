"""What each page reads, on the registry's thread.

Each function takes the registry and what the request asked for and returns
the page's data as plain values, reading only what the page shows: the
versions table asks the store for one sorted page and a count, never for
every version.
"""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from modelshelf import report
from modelshelf.errors import (
    ModelNotFoundError,
)
from modelshelf.metadata import Stage
from modelshelf.query import ORDER_FIELDS, lower_is_better
from modelshelf.ui.filters import VersionFilters, parse_tags

if TYPE_CHECKING:
    from modelshelf.metadata import ModelMetadata
    from modelshelf.protocols import AuditEvent
    from modelshelf.registry import ModelRegistry


NAMES_PER_PAGE = 50


# -- what each page reads (on the registry's thread) -------------------------------------


def _latest(registry: ModelRegistry, name: str, **filters: Any) -> ModelMetadata | None:
    found = registry.list_models(
        model_name=name, order_by="version", descending=True, limit=1, **filters
    )
    return found[0] if found else None


def home_data(registry: ModelRegistry, search: str, tag_text: str, page: int) -> dict[str, Any]:
    """The model list: names are few, so they are filtered here; versions are only counted."""
    tags = parse_tags(tag_text)
    names = registry.list_model_names(tags=tags or None)
    if search:
        names = [name for name in names if search.lower() in name.lower()]
    pages = max(1, math.ceil(len(names) / NAMES_PER_PAGE))
    page = min(page, pages)
    rows = []
    for name in names[(page - 1) * NAMES_PER_PAGE : page * NAMES_PER_PAGE]:
        try:
            info = registry.get_model_info(name)
        except ModelNotFoundError:  # deleted meanwhile
            continue
        rows.append(
            {
                "name": name,
                "info": info,
                "count": registry.count_models(model_name=name),
                "latest": _latest(registry, name),
                "production": _latest(registry, name, stage=Stage.PRODUCTION),
            }
        )
    events = registry.audit_log()[-10:][::-1]
    return {"names": rows, "total": len(names), "page": page, "pages": pages, "events": events}


def page_of(
    registry: ModelRegistry, query: dict[str, Any], filters: VersionFilters, total: int
) -> list[ModelMetadata]:
    """One page of versions, read from whichever end of the order is nearer.

    A store reaches ``offset`` by walking past that many rows, so the last page
    of 100,000 would cost a walk through all of them. Past the middle, the page
    is read in the opposite order from the other end and turned around: every
    order breaks ties by id, so the reversal is exact.
    """
    window = filters.window()
    offset, limit = window["offset"], window["limit"]
    key = filters.order_by
    if offset >= total:
        return []
    if offset <= total // 2:
        return registry.list_models(**query, **window)
    if key in ORDER_FIELDS or key in filters.min_metrics or key in filters.max_metrics:
        return _from_the_end(registry, query, filters, total)
    # A metric order puts the versions lacking that metric last in both
    # directions, so only the versions having it can be read from their far end.
    having_query = {
        **query,
        "min_metrics": {**query.get("min_metrics", {}), key: -sys.float_info.max},
    }
    having = registry.count_models(**having_query)
    if offset + min(limit, total - offset) <= having:
        return _from_the_end(registry, having_query, filters, having)
    return registry.list_models(**query, **window)


def _from_the_end(
    registry: ModelRegistry, query: dict[str, Any], filters: VersionFilters, total: int
) -> list[ModelMetadata]:
    offset = (filters.page - 1) * filters.per_page
    count = min(filters.per_page, total - offset)
    rows = registry.list_models(
        **query,
        order_by=filters.order_by,
        descending=not filters.descending,
        limit=count,
        offset=total - offset - count,
    )
    return rows[::-1]


def model_data(registry: ModelRegistry, name: str, filters: VersionFilters) -> dict[str, Any]:
    """One name's versions table: a count and one page, both answered by the store."""
    info = registry.get_model_info(name)
    query = filters.query(name)
    total = registry.count_models(**query)
    rows = page_of(registry, query, filters, total)
    metrics = sorted({metric for m in rows for metric in m.metrics})
    filtered = query != {"model_name": name}
    return {
        "filters": filters,
        "info": info,
        "all": registry.count_models(model_name=name) if filtered else total,
        "total": total,
        "rows": rows,
        "scores": {m.model_id: registry.score(m) for m in rows},
        "metrics": metrics,
        "production": _latest(registry, name, stage=Stage.PRODUCTION),
        "events": [e for e in registry.audit_log(name)][-8:][::-1],
    }


def version_data(registry: ModelRegistry, name: str, version: str) -> dict[str, Any]:
    """One version, its ancestors (bounded, so a cycle in old records cannot hang a page)."""
    metadata = registry.get_metadata(model_name=name, version=version)
    lineage: list[ModelMetadata | int] = []
    parent, seen = metadata.parent_id, {metadata.model_id}
    while parent is not None and parent not in seen and len(lineage) < 25:
        seen.add(parent)
        try:
            ancestor = registry.get_metadata(parent)
        except ModelNotFoundError:
            lineage.append(parent)  # recorded, since deleted
            break
        lineage.append(ancestor)
        parent = ancestor.parent_id
    history = [e for e in registry.audit_log(name) if _concerns(e, metadata)][::-1]
    return {
        "m": metadata,
        "score": registry.score(metadata),
        "lineage": lineage,
        "history": history,
        "production": _latest(registry, name, stage=Stage.PRODUCTION),
    }


def _concerns(event: AuditEvent, metadata: ModelMetadata) -> bool:
    # Events that carry the version's id match by it: a version string can be
    # handed out again after a delete, an id never is.
    event_id = getattr(event, "model_id", None)
    return (
        event_id == metadata.model_id
        if event_id is not None
        else (event.version == metadata.version)
    )


def compare_data(registry: ModelRegistry, picked: list[int | str]) -> dict[str, Any]:
    """Picked versions grouped by name: a metric is only charted against its own name's."""
    versions: dict[int, ModelMetadata] = {}
    for reference in picked:
        metadata = registry.get_metadata(reference)
        versions.setdefault(metadata.model_id, metadata)
    groups: dict[str, list[ModelMetadata]] = {}
    for metadata in sorted(versions.values(), key=lambda m: m.model_id):
        groups.setdefault(metadata.model_name, []).append(metadata)
    ordered = [m for group in groups.values() for m in group]
    metrics = sorted({k for m in ordered for k in m.metrics})
    best: dict[tuple[str, str], float] = {}
    for name, group in groups.items():
        for metric in metrics:
            values = [m.metrics[metric] for m in group if metric in m.metrics]
            if len(values) > 1:
                best[name, metric] = min(values) if lower_is_better(metric) else max(values)
    params = sorted({k for m in ordered for k in m.hyperparameters})
    differing = {
        key for key in params if len({repr(m.hyperparameters.get(key)) for m in ordered}) > 1
    }
    charts = []
    colours = report.SERIES_COLOURS
    for index, (name, group) in enumerate(groups.items()):
        shown = [metric for metric in metrics if any(metric in m.metrics for m in group)]
        charts.append(
            {
                "name": name,
                "colour": colours[index % len(colours)],
                "count": len(group),
                "charts": [
                    (
                        metric,
                        Markup(  # the report's SVG escapes every piece of text
                            report._line_chart(name, group, metric, colours[index % len(colours)])
                        ),
                    )
                    for metric in shown
                ],
            }
        )
    return {
        "versions": ordered,
        "groups": groups,
        "metrics": metrics,
        "best": best,
        "params": params,
        "differing": differing,
        "charts": charts,
        "scores": {m.model_id: registry.score(m) for m in ordered},
    }
