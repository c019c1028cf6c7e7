"""The web app behind ``modelshelf ui``: browse, compare and steer one registry.

:func:`create_app` returns a plain Starlette application, so it can run on its
own (``modelshelf ui``), under any ASGI server, or be mounted beside other
routes (``Mount("/registry", create_app(registry))``); links are built with
``url_for``, so they follow the mount point.

Every read and write goes through the public :class:`~modelshelf.ModelRegistry`
API, on one worker thread: the registry is used from a single thread whatever
store it holds, and pages never block the event loop. Pages read only what
they show: the versions table asks the store for one sorted page and a count,
never for every version.

Security, for a server that can promote models:

- Host check: requests must name an allowed host (``127.0.0.1``, ``localhost``,
  ``::1`` and the address it was started on), which defeats DNS rebinding.
- Writes are refused unless the app was created with ``allow_writes=True``.
- Every write needs the app's token in the form (or the ``X-Modelshelf-Token``
  header). Opening any page with ``?token=...`` keeps it in a same-site,
  HTTP-only cookie so the pages can put it into their forms; the cookie alone
  never authorises anything.
- Writes from another origin are refused (``Origin``, ``Sec-Fetch-Site``,
  ``Referer``), and the pages cannot be framed (no click-jacking a promote).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import re
import secrets
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from modelshelf import report
from modelshelf.errors import (
    InvalidInputError,
    ModelNotFoundError,
    ModelShelfError,
    NotFoundError,
    VetoError,
)
from modelshelf.metadata import Stage, check_alias
from modelshelf.query import ORDER_FIELDS, lower_is_better
from modelshelf.ui.filters import VersionFilters, parse_filters, parse_tags

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterable, Mapping
    from datetime import datetime

    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from modelshelf.metadata import ModelMetadata
    from modelshelf.protocols import AuditEvent
    from modelshelf.registry import ModelRegistry

__all__ = ["DEFAULT_HOSTS", "TOKEN_HEADER", "create_app"]

T = TypeVar("T")

HERE = Path(__file__).parent
#: Host names a request may carry when no others are allowed explicitly.
DEFAULT_HOSTS = ("127.0.0.1", "localhost", "::1")
#: Header a program can send the write token in instead of a form field.
TOKEN_HEADER = "X-Modelshelf-Token"
#: Header the pages' script sends to get a page's fingerprint instead of its HTML.
POLL_HEADER = "X-Modelshelf-Poll"
NAMES_PER_PAGE = 50
MAX_COMPARED = 50
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: What the pages may load: only this server's own files (the charts are inline SVG).
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}
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


# -- the registry's thread -------------------------------------------------------------


class RegistryWorker:
    """Runs every registry call on one dedicated thread.

    One thread means two requests never interleave inside a store (no store
    connection is used by two threads at once), and the event loop stays free
    for other requests meanwhile. The thread starts with the first call and
    ends when the app shuts down.
    """

    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry
        self._executor: ThreadPoolExecutor | None = None

    async def run(self, func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="modelshelf-ui")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, partial(func, self.registry, *args, **kwargs)
        )

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None


# -- security ----------------------------------------------------------------------------


def _host_name(host_header: str) -> str:
    """``[::1]:8008`` -> ``::1``; ``localhost:8008`` -> ``localhost``."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


class Guard:
    """ASGI middleware: host check, writes off or same-origin, security headers."""

    def __init__(
        self, app: ASGIApp, *, allowed_hosts: frozenset[str] | None, allow_writes: bool
    ) -> None:
        self.app = app
        self.allowed_hosts = allowed_hosts
        self.allow_writes = allow_writes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        refusal = self.refusal(request)
        if refusal is not None:
            status, message = refusal
            response: Response = JSONResponse({"error": message}, status_code=status)
            if "text/html" in request.headers.get("accept", ""):
                response = _plain_page(message, status)
            await self._with_headers(response)(scope, receive, send)
            return
        await self._with_headers(self.app)(scope, receive, send)

    def refusal(self, request: Request) -> tuple[int, str] | None:
        host = request.headers.get("host", "")
        if self.allowed_hosts is not None and _host_name(host) not in self.allowed_hosts:
            return 421, f"refused: host {host!r} is not this server's (DNS rebinding?)"
        if request.method in SAFE_METHODS:
            return None
        if not self.allow_writes:
            return 403, "refused: this server is read-only (start it with --allow-writes)"
        expected = f"{request.url.scheme}://{host}".lower()
        origin = request.headers.get("origin")
        if origin is not None and origin.lower() != expected:
            return 403, f"refused: a write from another origin ({origin})"
        fetch_site = request.headers.get("sec-fetch-site")
        if fetch_site is not None and fetch_site not in ("same-origin", "none"):
            return 403, f"refused: a write from another site (Sec-Fetch-Site: {fetch_site})"
        referer = request.headers.get("referer")
        if origin is None and referer:
            parts = urlsplit(referer)
            if f"{parts.scheme}://{parts.netloc}".lower() != expected:
                return 403, "refused: a write from another origin (Referer)"
        return None

    @staticmethod
    def _with_headers(app: ASGIApp) -> ASGIApp:
        async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
            async def send_with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    headers = MutableHeaders(scope=message)
                    for key, value in SECURITY_HEADERS.items():
                        headers.setdefault(key, value)
                await send(message)

            await app(scope, receive, send_with_headers)

        return wrapped


def _plain_page(message: str, status: int) -> Response:
    body = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>refused</title>'
        '</head><body><p class="error" role="alert">'
        f"{Markup.escape(message)}</p></body></html>"
    )
    return Response(body, status_code=status, media_type="text/html")


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


# -- the app -------------------------------------------------------------------------------


class UI:
    """The app's state and its request handlers."""

    def __init__(
        self,
        registry: ModelRegistry,
        *,
        allow_writes: bool,
        token: str,
        poll_seconds: float,
    ) -> None:
        self.registry = registry
        self.worker = RegistryWorker(registry)
        self.allow_writes = allow_writes
        self.token = token
        self.poll_seconds = poll_seconds
        env = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(default=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters.update(fmt=_fmt, when=_when, size=_size, tags_text=_tags_text)
        env.globals.update(
            link=_link,
            here=_here,
            stage_colours={stage.value: colour for stage, colour in report.STAGE_COLOURS.items()},
            stages=[stage.value for stage in Stage],
            lower_is_better=lower_is_better,
            order_fields=ORDER_FIELDS,
        )
        self.templates = Jinja2Templates(env=env)

    # -- token ------------------------------------------------------------------------

    def cookie_name(self, request: Request) -> str:
        # Cookies ignore ports: name it after ours so two servers do not clash.
        return f"modelshelf_ui_{request.url.port or 80}"

    def token_ok(self, candidate: str | None) -> bool:
        return bool(candidate) and hmac.compare_digest(str(candidate).encode(), self.token.encode())

    def page_token(self, request: Request) -> str | None:
        """The token the page may put into its forms: the visitor proved they have it."""
        candidate = request.cookies.get(self.cookie_name(request))
        return candidate if self.allow_writes and self.token_ok(candidate) else None

    # -- rendering ----------------------------------------------------------------------

    def render(
        self,
        request: Request,
        template: str,
        data: dict[str, Any],
        *,
        status: int = 200,
        error: str | None = None,
        **extra: Any,
    ) -> Response:
        if request.headers.get(POLL_HEADER):
            return JSONResponse({"fingerprint": _fingerprint(data)})
        context = {
            "data": data,
            "fingerprint": _fingerprint(data),
            "token": self.page_token(request),
            "allow_writes": self.allow_writes,
            "user": self.registry.user,
            "location": self.registry.location,
            "scoring": self.registry.scoring.name,
            "poll_ms": int(self.poll_seconds * 1000) if request.method == "GET" else 0,
            "error": error,
            "done": _done_message(request),
            **extra,
        }
        return self.templates.TemplateResponse(request, template, context, status_code=status)

    def error_page(self, request: Request, message: str, status: int) -> Response:
        return self.render(request, "error.html", {"message": message}, status=status)

    async def page(
        self,
        request: Request,
        template: str,
        read: Callable[..., dict[str, Any]],
        *args: Any,
        **extra: Any,
    ) -> Response:
        """Read on the registry's thread and render, with the token hand-off first."""
        given = request.query_params.get("token")
        if given is not None:
            if not self.allow_writes:
                return self.error_page(request, "this server is read-only; no token needed", 400)
            if not self.token_ok(given):
                return self.error_page(request, "that token is not this server's", 403)
            response = RedirectResponse(_here(request), status_code=303)
            response.set_cookie(self.cookie_name(request), given, httponly=True, samesite="strict")
            return response
        try:
            data = await self.worker.run(read, *args)
        except NotFoundError as exc:
            return self.error_page(request, str(exc), 404)
        except InvalidInputError as exc:
            return self.error_page(request, str(exc), 400)
        return self.render(request, template, data, **extra)

    # -- pages -----------------------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        params = request.query_params
        page = _page_number(params.get("page", ""))
        return await self.page(
            request,
            "home.html",
            home_data,
            params.get("q", "").strip(),
            params.get("tag", ""),
            page,
        )

    async def model(self, request: Request) -> Response:
        name = request.path_params["name"]
        try:
            filters = parse_filters(request.query_params)
        except InvalidInputError as exc:
            return await self.page(
                request, "model.html", model_data, name, VersionFilters(), error=str(exc)
            )
        return await self.page(request, "model.html", model_data, name, filters)

    async def version(self, request: Request) -> Response:
        name, version = request.path_params["name"], request.path_params["version"]
        return await self.page(request, "version.html", version_data, name, version)

    async def compare(self, request: Request) -> Response:
        picked: list[int | str] = []
        for value in request.query_params.getlist("v"):
            for part in filter(None, (p.strip() for p in value.split(","))):
                picked.append(int(part) if part.isdigit() else part)
        if len(picked) > MAX_COMPARED:
            return self.error_page(request, f"compare at most {MAX_COMPARED} versions", 400)
        return await self.page(request, "compare.html", compare_data, picked, picked=picked)

    async def report_css(self, request: Request) -> Response:
        return Response(report._CSS, media_type="text/css")

    # -- writes -----------------------------------------------------------------------------

    async def write(
        self,
        request: Request,
        action: Callable[..., object],
        *,
        done: dict[str, str],
        back: str,
        on_error: tuple[str, Callable[..., dict[str, Any]], tuple[Any, ...]],
    ) -> Response:
        """Run one write on the registry's thread; redirect back, or show why not."""
        form = await request.form()
        given = form.get("token") or request.headers.get(TOKEN_HEADER)
        if not self.token_ok(given if isinstance(given, str) else None):
            return self.error_page(
                request,
                "refused: a write needs the token printed when the server started "
                "(open the page once with ?token=...)",
                403,
            )
        requested_back = form.get("back")
        try:
            await self.worker.run(action)
        except ModelShelfError as exc:
            status = 409 if isinstance(exc, VetoError) else _status_for(exc)
            template, read, args = on_error
            try:
                data = await self.worker.run(read, *args)
            except ModelShelfError:
                return self.error_page(request, str(exc), status)
            return self.render(request, template, data, status=status, error=str(exc))
        target = requested_back if isinstance(requested_back, str) else ""
        if not _local_path(target):
            target = back
        joiner = "&" if "?" in target else "?"
        return RedirectResponse(f"{target}{joiner}{urlencode(done)}", status_code=303)

    async def set_stage(self, request: Request) -> Response:
        name, version = request.path_params["name"], request.path_params["version"]
        form = await request.form()
        stage = str(form.get("stage", ""))
        reason = str(form.get("reason", ""))

        def act(registry: ModelRegistry) -> object:
            return registry.transition_stage(name, version, stage, reason=reason)

        return await self.write(
            request,
            act,
            done={"done": "stage", "ref": f"{name}:{version}", "stage_to": stage},
            back=str(request.url_for("version", name=name, version=version).path),
            on_error=("version.html", version_data, (name, version)),
        )

    async def rollback(self, request: Request) -> Response:
        name = request.path_params["name"]
        form = await request.form()
        reason = str(form.get("reason", ""))

        def act(registry: ModelRegistry) -> object:
            return registry.rollback(name, reason=reason)

        filters = VersionFilters()
        return await self.write(
            request,
            act,
            done={"done": "rollback", "ref": name},
            back=str(request.url_for("model", name=name).path),
            on_error=("model.html", model_data, (name, filters)),
        )

    async def set_alias(self, request: Request) -> Response:
        name, version = request.path_params["name"], request.path_params["version"]
        form = await request.form()
        alias = str(form.get("alias", "")).strip()
        reason = str(form.get("reason", ""))

        def act(registry: ModelRegistry) -> object:
            return registry.set_alias(f"{name}:{version}", check_alias(alias), reason=reason)

        return await self.write(
            request,
            act,
            done={"done": "alias", "ref": f"{name}:{version}", "alias_name": alias},
            back=str(request.url_for("version", name=name, version=version).path),
            on_error=("version.html", version_data, (name, version)),
        )

    async def delete_alias(self, request: Request) -> Response:
        name, alias = request.path_params["name"], request.path_params["alias"]

        def act(registry: ModelRegistry) -> object:
            if not registry.delete_alias(name, alias):
                raise ModelNotFoundError(f"{name!r} has no alias {alias!r}")
            return None

        return await self.write(
            request,
            act,
            done={"done": "alias-deleted", "alias_name": alias},
            back=str(request.url_for("model", name=name).path),
            on_error=("model.html", model_data, (name, VersionFilters())),
        )

    async def edit_version(self, request: Request) -> Response:
        name, version = request.path_params["name"], request.path_params["version"]
        form = await request.form()
        description = str(form.get("description", ""))
        tags_text = str(form.get("tags", ""))

        def act(registry: ModelRegistry) -> object:
            return registry.update_model(
                f"{name}:{version}", description=description, tags=_parse_tag_lines(tags_text)
            )

        return await self.write(
            request,
            act,
            done={"done": "edited", "ref": f"{name}:{version}"},
            back=str(request.url_for("version", name=name, version=version).path),
            on_error=("version.html", version_data, (name, version)),
        )

    async def edit_model(self, request: Request) -> Response:
        name = request.path_params["name"]
        form = await request.form()
        description = str(form.get("description", ""))
        tags_text = str(form.get("tags", ""))

        def act(registry: ModelRegistry) -> object:
            registry.get_model_info(name)  # the name must exist
            return registry.set_model_info(
                name, description=description, tags=_parse_tag_lines(tags_text)
            )

        return await self.write(
            request,
            act,
            done={"done": "info", "ref": name},
            back=str(request.url_for("model", name=name).path),
            on_error=("model.html", model_data, (name, VersionFilters())),
        )


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


def create_app(
    registry: ModelRegistry,
    *,
    allow_writes: bool = False,
    token: str | None = None,
    allowed_hosts: Iterable[str] | None = DEFAULT_HOSTS,
    poll_seconds: float = 2.0,
) -> Starlette:
    """The web app over ``registry``, ready for any ASGI server.

    :param registry: the registry to show; writes go through its public API,
        so its gates can veto and its audit log records ``registry.user``.
    :param allow_writes: accept writes (promote, alias, rollback, edits); off
        by default, so an open port can only show the registry.
    :param token: the secret every write must carry; a random one is made when
        writes are allowed and none is given (read it from ``app.state.token``).
    :param allowed_hosts: host names requests may address; ``None`` turns the
        check off (only behind a proxy that does it).
    :param poll_seconds: how often an open page asks whether it changed.
    """
    if token is not None and len(token) < 16:
        raise InvalidInputError("token: use at least 16 characters")
    secret = token or secrets.token_urlsafe(24)
    ui = UI(registry, allow_writes=allow_writes, token=secret, poll_seconds=poll_seconds)
    version = "/models/{name}/versions/{version}"
    routes = [
        Route("/", ui.home, name="home"),
        Route("/models/{name}", ui.model, name="model"),
        Route(version, ui.version, name="version"),
        Route("/compare", ui.compare, name="compare"),
        Route(version + "/stage", ui.set_stage, methods=["POST"], name="set_stage"),
        Route(version + "/alias", ui.set_alias, methods=["POST"], name="set_alias"),
        Route(version + "/edit", ui.edit_version, methods=["POST"], name="edit_version"),
        Route("/models/{name}/rollback", ui.rollback, methods=["POST"], name="rollback"),
        Route("/models/{name}/edit", ui.edit_model, methods=["POST"], name="edit_model"),
        Route(
            "/models/{name}/aliases/{alias}/delete",
            ui.delete_alias,
            methods=["POST"],
            name="delete_alias",
        ),
        Route("/report.css", ui.report_css, name="report_css"),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            ui.worker.close()

    app = Starlette(routes=routes, lifespan=lifespan)
    hosts = None if allowed_hosts is None else frozenset(h.lower() for h in allowed_hosts)
    app.add_middleware(Guard, allowed_hosts=hosts, allow_writes=allow_writes)
    app.state.ui = ui
    app.state.token = secret
    return app
