"""Run the UI app under uvicorn on a socket bound before the URL is printed.

Binding first means ``--port 0`` works (the OS picks a free port and the
printed URL names it) and a port already in use fails before anything is
printed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelshelf.errors import InvalidInputError
from modelshelf.listening import WILDCARDS, bind, url_for
from modelshelf.ui.app import DEFAULT_HOSTS, create_app

if TYPE_CHECKING:
    from collections.abc import Callable

    from modelshelf.registry import ModelRegistry

__all__ = ["bind", "serve"]


def serve(
    registry: ModelRegistry,
    *,
    host: str = "127.0.0.1",
    port: int = 8008,
    allow_writes: bool = False,
    token: str | None = None,
    echo: Callable[[str], object] = print,
) -> None:
    """Serve the UI until interrupted; prints the URL (and the write token) first."""
    import uvicorn

    if not 0 <= port <= 65535:
        raise InvalidInputError(f"port: must be 0-65535, got {port}")
    sock = bind(host, port)
    bound_port = sock.getsockname()[1]
    # A wildcard address answers to any name, so no Host list can be right:
    # the check is off, and the message says so.
    hosts = None if host in WILDCARDS else (*DEFAULT_HOSTS, host.lower())
    app = create_app(registry, allow_writes=allow_writes, token=token, allowed_hosts=hosts)
    url = url_for(host, bound_port)
    echo(f"modelshelf ui: {registry.location} at {url}")
    if allow_writes:
        echo(f"writes allowed, recorded as {registry.user!r}; token: {app.state.token}")
        echo(f"open {url}?token={app.state.token} to promote, roll back and edit")
    else:
        echo("read-only (start with --allow-writes to promote, roll back and edit)")
    if hosts is None:
        echo(
            f"warning: listening on every interface ({host or 'all'}): anyone who can "
            "reach this machine can read the registry"
        )
    echo("press Ctrl-C to stop")
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])
