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

This module holds the routes and their handlers (pages, then writes) and
builds the app; ``_guard`` holds the checks above and the registry's thread,
``_queries`` what each page reads, ``_pages`` the helpers they share.
"""

from __future__ import annotations

import hmac
import secrets
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
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

# Names of the parts, importable from here as before.
from modelshelf.ui._guard import SAFE_METHODS as SAFE_METHODS
from modelshelf.ui._guard import SECURITY_HEADERS as SECURITY_HEADERS
from modelshelf.ui._guard import Guard as Guard
from modelshelf.ui._guard import RegistryWorker as RegistryWorker
from modelshelf.ui._pages import DONE_MESSAGES as DONE_MESSAGES
from modelshelf.ui._pages import (
    _done_message,
    _fingerprint,
    _fmt,
    _here,
    _link,
    _local_path,
    _page_number,
    _parse_tag_lines,
    _size,
    _status_for,
    _tags_text,
    _when,
)
from modelshelf.ui._queries import NAMES_PER_PAGE as NAMES_PER_PAGE
from modelshelf.ui._queries import compare_data as compare_data
from modelshelf.ui._queries import home_data as home_data
from modelshelf.ui._queries import model_data as model_data
from modelshelf.ui._queries import page_of as page_of
from modelshelf.ui._queries import version_data as version_data
from modelshelf.ui.filters import VersionFilters, parse_filters

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterable

    from starlette.requests import Request

    from modelshelf.registry import ModelRegistry


__all__ = ["DEFAULT_HOSTS", "TOKEN_HEADER", "create_app"]


HERE = Path(__file__).parent
#: Host names a request may carry when no others are allowed explicitly.
DEFAULT_HOSTS = ("127.0.0.1", "localhost", "::1")
#: Header a program can send the write token in instead of a form field.
TOKEN_HEADER = "X-Modelshelf-Token"
#: Header the pages' script sends to get a page's fingerprint instead of its HTML.
POLL_HEADER = "X-Modelshelf-Poll"
MAX_COMPARED = 50


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
