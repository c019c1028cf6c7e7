"""What stands between a request and the registry.

The host, origin and token checks, and the registry's one thread.

The guard is plain ASGI middleware, so it judges every request before a
route sees it; the worker runs every registry call on one thread, so every
store works unchanged and pages never block the event loop.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from markupsafe import Markup
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from modelshelf.registry import ModelRegistry


T = TypeVar("T")


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
