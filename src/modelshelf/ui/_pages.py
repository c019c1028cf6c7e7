"""Small helpers the pages and handlers share.

Formatting for templates, links, page numbers, and what a finished write says.

Everything a template filter or a redirect reads from the request goes
through here, so query text is checked once (no open redirects, no text
echoed back unchecked).
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from modelshelf.errors import (
    InvalidInputError,
    ModelShelfError,
    NotFoundError,
)
from modelshelf.metadata import Stage
from modelshelf.ui.filters import parse_tags

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from starlette.requests import Request


#: What a successful write says on the page it returns to.
DONE_MESSAGES = {
    "stage": "{ref} moved to {stage}.",
    "rollback": "Rolled back {ref}: its previous Production version is back.",
    "alias": "Alias {alias} now points at {ref}.",
    "alias-deleted": "Alias {alias} removed.",
    "edited": "Saved {ref}.",
    "info": "Saved the description and tags of {ref}.",
}
_SAFE_TEXT = re.compile(r"[A-Za-z0-9._:+@/-]{1,300}")


# -- helpers for pages -------------------------------------------------------------------


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "—" if value is None else str(value)


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _size(size: int) -> str:
    amount = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if amount < 1024 or unit == "GiB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{size} B"  # pragma: no cover - the loop always returns


def _link(request: Request, **changes: object) -> str:
    """This page's URL with some query parameters changed (None removes one)."""
    params = dict(request.query_params)
    for key in ("done", "ref", "stage_to", "alias_name", "token"):
        params.pop(key, None)
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = str(value)
    query = urlencode(params)
    return request.url.path + (f"?{query}" if query else "")


def _here(request: Request) -> str:
    query = urlencode(
        [
            (k, v)
            for k, v in request.query_params.multi_items()
            if k not in ("done", "ref", "stage_to", "alias_name", "token")
        ]
    )
    return request.url.path + (f"?{query}" if query else "")


def _fingerprint(data: Mapping[str, Any]) -> str:
    """Changes whenever anything the page shows changes (frozen values repr stably)."""
    return hashlib.sha256(repr(sorted(data.items())).encode()).hexdigest()[:20]


def _tags_text(tags: Mapping[str, str]) -> str:
    return "\n".join(f"{k}={v}" for k, v in tags.items())


def _parse_tag_lines(text: str) -> dict[str, str]:
    return parse_tags(",".join(line for line in text.splitlines() if line.strip()))


def _page_number(text: str) -> int:
    return int(text) if text.isdigit() and int(text) > 0 else 1


def _status_for(exc: ModelShelfError) -> int:
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, InvalidInputError):
        return 400
    return 500


def _local_path(target: str) -> bool:
    """Only a path on this server may be a redirect target (no open redirect)."""
    return (
        target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and not any(ord(ch) < 32 for ch in target)
    )


def _done_message(request: Request) -> str | None:
    params = request.query_params
    template = DONE_MESSAGES.get(params.get("done", ""))
    if template is None:
        return None
    values = {}
    for key, param in (("ref", "ref"), ("stage", "stage_to"), ("alias", "alias_name")):
        text = params.get(param, "")
        if not _SAFE_TEXT.fullmatch(text):
            text = ""
        values[key] = text
    if values["stage"]:
        try:
            values["stage"] = Stage.parse(values["stage"]).value
        except InvalidInputError:
            values["stage"] = ""
    return template.format(**values)
