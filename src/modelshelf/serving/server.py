"""Run the scoring app under uvicorn: verify first, then bind, then say where.

The version is loaded and verified before the socket is bound, so a server
that cannot serve a verified model never listens at all. Binding before the
URL is printed means ``--port 0`` works (the OS picks a free port and the
printed URL names it) and a port in use fails before anything is printed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelshelf.errors import InvalidInputError
from modelshelf.listening import WILDCARDS, bind, url_for
from modelshelf.serving.app import create_app
from modelshelf.serving.swap import DEFAULT_POLL_INTERVAL

if TYPE_CHECKING:
    from collections.abc import Callable

    from modelshelf.registry import ModelRegistry

__all__ = ["DEFAULT_PORT", "bind", "serve", "url_for"]

DEFAULT_PORT = 8009


def serve(
    registry: ModelRegistry,
    reference: int | str,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    echo: Callable[[str], object] = print,
) -> None:
    """Serve ``reference`` until interrupted (SIGINT or SIGTERM: requests in
    flight finish first); prints the version and the URL once listening.

    :raises ModelNotFoundError: the reference names no version; nothing listens.
    :raises IntegrityError: the version fails verification; nothing listens.
    :raises OSError: the address cannot be bound.
    """
    import uvicorn

    if not 0 <= port <= 65535:
        raise InvalidInputError(f"port: must be 0-65535, got {port}")
    app = create_app(registry, reference, poll_interval=poll_interval)
    served = app.state.slot.current.metadata
    sock = bind(host, port)
    url = url_for(host, sock.getsockname()[1])
    echo(
        f"modelshelf serve: {reference} is {served.reference} (model id {served.model_id}, "
        f"sha256 {served.artifact.sha256[:12]}, verified) at {url}"
    )
    echo(f"POST {url}predict (or /invocations), GET /health, GET /metadata")
    echo(f"following {reference}: checked every {poll_interval:g} s, swapped without a restart")
    if host in WILDCARDS:
        echo(
            f"warning: listening on every interface ({host or 'all'}) with no authentication: "
            "anyone who can reach this machine can call it"
        )
    echo("press Ctrl-C to stop")
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])
