"""Turn a versions page's query string into ``ModelRegistry.list_models`` filters.

The page's form speaks in plain words (``f1>=0.8, loss<=0.3``, ``team=vision``,
``2026-01-31``); this module is the one place that reads them, so a bad value
becomes an :class:`~modelshelf.InvalidInputError` naming the field, shown on
the page, instead of a server error. Nothing here touches the registry or the
web framework, so the same parsing can serve a JSON API later.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from attrs import field, frozen

from modelshelf.errors import InvalidInputError
from modelshelf.metadata import Stage, check_alias, check_metric_name
from modelshelf.query import ORDER_FIELDS

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "VersionFilters", "parse_filters"]

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500

#: ``metric>=number`` or ``metric<=number``; several separated by commas or spaces.
_BOUND = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_.\-/]*)\s*(>=|<=|=>|=<)\s*([-+0-9.eE]+)\s*")


@frozen(kw_only=True)
class VersionFilters:
    """What the versions table shows: filters, order and the page."""

    stage: Stage | None = None
    alias: str = ""
    tags: dict[str, str] = field(factory=dict)
    model_type: str = ""
    min_metrics: dict[str, float] = field(factory=dict)
    max_metrics: dict[str, float] = field(factory=dict)
    created_after: datetime | None = None
    created_before: datetime | None = None
    order_by: str = "version"
    descending: bool = True
    page: int = 1
    per_page: int = DEFAULT_PAGE_SIZE

    def query(self, model_name: str) -> dict[str, Any]:
        """Keyword arguments for ``list_models`` / ``count_models`` (no window)."""
        found: dict[str, Any] = {"model_name": model_name}
        if self.stage is not None:
            found["stage"] = self.stage
        if self.alias:
            found["alias"] = self.alias
        if self.tags:
            found["tags"] = dict(self.tags)
        if self.model_type:
            found["model_type"] = self.model_type
        if self.min_metrics:
            found["min_metrics"] = dict(self.min_metrics)
        if self.max_metrics:
            found["max_metrics"] = dict(self.max_metrics)
        if self.created_after is not None:
            found["created_after"] = self.created_after
        if self.created_before is not None:
            found["created_before"] = self.created_before
        return found

    def window(self) -> dict[str, Any]:
        """Order and page for ``list_models``."""
        return {
            "order_by": self.order_by,
            "descending": self.descending,
            "limit": self.per_page,
            "offset": (self.page - 1) * self.per_page,
        }


def _positive(label: str, text: str, default: int, maximum: int) -> int:
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise InvalidInputError(f"{label}: {text!r} is not a whole number") from None
    if value < 1:
        raise InvalidInputError(f"{label}: must be 1 or more, got {value}")
    return min(value, maximum)


def parse_bounds(text: str) -> tuple[dict[str, float], dict[str, float]]:
    """``"f1>=0.8, loss<=0.3"`` -> ({"f1": 0.8}, {"loss": 0.3})."""
    lows: dict[str, float] = {}
    highs: dict[str, float] = {}
    for part in filter(None, re.split(r"[,;]|\s+(?=[A-Za-z_])", text.strip())):
        match = _BOUND.fullmatch(part)
        if match is None:
            raise InvalidInputError(
                f"metrics: {part.strip()!r} must look like 'f1>=0.8' or 'loss<=0.3'"
            )
        name, op, number = match.groups()
        check_metric_name(name)
        try:
            value = float(number)
        except ValueError:
            raise InvalidInputError(f"metrics: {number!r} is not a number") from None
        (lows if op in (">=", "=>") else highs)[name] = value
    return lows, highs


def parse_tags(text: str) -> dict[str, str]:
    """``"team=vision, env=prod"`` -> {"team": "vision", "env": "prod"}."""
    tags = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(f"tag: {part!r} must look like KEY=VALUE")
        tags[key.strip()] = value.strip()
    return tags


def parse_date(label: str, text: str) -> datetime | None:
    """A date (``2026-01-31``, midnight UTC) or an ISO 8601 time; naive means UTC."""
    if not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInputError(f"{label}: {text!r} is not a date like 2026-01-31") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def parse_filters(params: Mapping[str, str]) -> VersionFilters:
    """Read the versions page's query parameters; raises InvalidInputError on a bad one."""
    stage_text = params.get("stage", "")
    stage = Stage.parse(stage_text) if stage_text else None
    alias = params.get("alias", "").strip()
    if alias:
        check_alias(alias)
    lows, highs = parse_bounds(params.get("metrics", ""))
    order_by = params.get("sort", "") or "version"
    if order_by not in ORDER_FIELDS:
        check_metric_name(order_by)
    return VersionFilters(
        stage=stage,
        alias=alias,
        tags=parse_tags(params.get("tag", "")),
        model_type=params.get("type", "").strip(),
        min_metrics=lows,
        max_metrics=highs,
        created_after=parse_date("after", params.get("after", "")),
        created_before=parse_date("before", params.get("before", "")),
        order_by=order_by,
        descending=params.get("desc", "1" if "sort" not in params else "") == "1",
        page=_positive("page", params.get("page", ""), 1, 10**9),
        per_page=_positive(
            "per_page", params.get("per_page", ""), DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
        ),
    )
