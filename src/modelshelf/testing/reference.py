"""Reference answers the conformance suites hold every backend to.

Nothing here needs pytest or Hypothesis, so a child process started by a
multiprocess test can import it cheaply. The answers come from
:mod:`modelshelf.query` (``Query.matches``, ``Ranking.score``) plus the
ordering rules every store shares:

* rows are ordered by the query's field, ties broken by ``model_id`` in the
  query's direction; ``version`` orders by the scheme's ``sort_key`` and text
  fields by code point (Python's ``sorted``), never by a locale;
* ordering by a metric puts the versions lacking it last, in either
  direction, among themselves by ``model_id`` in the query's direction;
* ``best`` picks the highest ``Ranking.score``, ties going to the highest
  ``model_id``; a version lacking a required metric is never picked.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from modelshelf.errors import InvalidVersionError, ModelNotFoundError
from modelshelf.metadata import ArtifactRef, ModelDraft
from modelshelf.protocols import STAGE_ACTION
from modelshelf.transitions import move_alias, move_stage

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from modelshelf.metadata import ModelMetadata, Stage
    from modelshelf.protocols import MetadataStore
    from modelshelf.query import Query, Ranking

#: A fixed moment the suites build creation times from, so runs are repeatable.
EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)


class ReferenceScheme:
    """Plain counting versions (1, 2, ... 10, 11) whose order is not string order.

    The store suites use it because "10" sorts before "9" as text: a store
    that picks the highest version by its string instead of ``sort_key``
    hands out a duplicate version and fails.
    """

    name = "reference"

    def validate(self, version: str) -> str:
        if not isinstance(version, str) or not re.fullmatch(r"[1-9][0-9]{0,11}", version):
            raise InvalidVersionError(version, self.name, "a positive integer such as 1, 2, 3")
        return version

    def sort_key(self, version: str) -> str:
        return f"{int(self.validate(version)):012d}"

    def first(self) -> str:
        return "1"

    def next_after(self, highest: str) -> str:
        return str(int(self.validate(highest)) + 1)


def artifact_for(model_name: str, salt: str = "") -> ArtifactRef:
    """A well-formed artifact reference (the bytes need not exist for a store)."""
    digest = hashlib.sha256(f"{model_name}/{salt}".encode()).hexdigest()
    return ArtifactRef(
        key=f"{model_name}/{digest[:12]}.bin", serializer="joblib", sha256=digest, size=42
    )


def make_draft(model_name: str, **fields: Any) -> ModelDraft:
    """A valid :class:`ModelDraft` for ``model_name``; keywords override fields."""
    fields.setdefault("artifact", artifact_for(model_name, str(fields.get("requested_version"))))
    fields.setdefault("model_type", "LogisticRegression")
    return ModelDraft(model_name=model_name, **fields)


def order_key(
    query: Query, sort_key: Callable[[str], str]
) -> Callable[[ModelMetadata], tuple[Any, int]]:
    """The sort key of a non-metric ``order_by`` (direction applied by the caller)."""
    field = query.order_by

    def key(m: ModelMetadata) -> tuple[Any, int]:
        if field == "version":
            return (sort_key(m.version), m.model_id)
        if field == "stage":
            return (m.stage.value, m.model_id)
        return (getattr(m, field), m.model_id)

    return key


def reference_find(
    rows: Iterable[ModelMetadata], query: Query, sort_key: Callable[[str], str]
) -> list[ModelMetadata]:
    """What ``store.find(query)`` must return when the store holds ``rows``."""
    matching = [m for m in rows if query.matches(m)]
    reverse = query.descending
    if query.orders_by_metric:
        metric = query.order_by
        present = sorted(
            (m for m in matching if metric in m.metrics),
            key=lambda m: (m.metrics[metric], m.model_id),
            reverse=reverse,
        )
        absent = sorted(
            (m for m in matching if metric not in m.metrics),
            key=lambda m: m.model_id,
            reverse=reverse,
        )
        ordered = present + absent
    else:
        ordered = sorted(matching, key=order_key(query, sort_key), reverse=reverse)
    end = None if query.limit is None else query.offset + query.limit
    return ordered[query.offset : end]


def reference_best(
    rows: Iterable[ModelMetadata], ranking: Ranking, query: Query
) -> ModelMetadata | None:
    """What ``store.best(ranking, query)`` must return when the store holds ``rows``."""
    best: tuple[float, int] | None = None
    chosen = None
    for metadata in rows:
        if not query.matches(metadata):
            continue
        score = ranking.score(metadata)
        if score is None:
            continue
        if best is None or (score, metadata.model_id) > best:
            best, chosen = (score, metadata.model_id), metadata
    return chosen


def add_versions(store: MetadataStore, model_name: str, count: int) -> list[str]:
    """Add ``count`` automatic versions of ``model_name``; used by worker processes."""
    scheme = ReferenceScheme()
    return [store.add(make_draft(model_name), scheme).version for _ in range(count)]


def change_stage(
    store: MetadataStore,
    model_id: int,
    stage: Stage,
    *,
    archive_others: bool,
    actor: str,
    reason: str,
    action: str = STAGE_ACTION,
) -> list[ModelMetadata]:
    """A stage change as the registry makes it: the core's rules
    (:func:`modelshelf.transitions.plan_stage`) applied through the store's
    ``transition``. The changed versions as the store now holds them, the
    target first, then the archived ones by id; [] for an unknown id.
    """
    target = store.get(model_id)
    if target is None:
        return []
    try:
        changes = move_stage(
            store,
            target.model_name,
            model_id,
            stage,
            archive_others=archive_others,
            actor=actor,
            reason=reason,
            action=action,
        )
    except ModelNotFoundError:
        return []
    return [m for m in (store.get(c.model_id) for c in changes.stages) if m is not None]


def point_alias(
    store: MetadataStore,
    model_name: str,
    alias: str,
    model_id: int | None,
    *,
    actor: str,
    reason: str,
) -> int | None:
    """An alias move as the registry makes it (None removes it): the previous target id."""
    return move_alias(store, model_name, alias, model_id, actor=actor, reason=reason)


def add_versions_in_child(
    opener: Callable[[], MetadataStore], model_name: str, count: int
) -> list[str]:
    """Open the store with ``opener`` in this (child) process and add versions."""
    store = opener()
    try:
        return add_versions(store, model_name, count)
    finally:
        store.close()
