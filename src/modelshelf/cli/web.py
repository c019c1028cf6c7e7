"""``ui``: serve the web app of :mod:`modelshelf.ui` over a registry.

The web libraries (the ``ui`` extra) are imported only when the command runs,
so the rest of the command line never pays for them.
"""

from __future__ import annotations

import click

from modelshelf.cli._core import EXIT_BACKEND, Env, Failure, cli, shelf_command


@shelf_command(cli)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8008, show_default=True, type=int, help="Port to listen on (0: any free)."
)
@click.option(
    "--allow-writes",
    is_flag=True,
    help="Allow promote, rollback, aliases and edits (each needs the printed token).",
)
@click.option(
    "--user",
    envvar="MODELSHELF_USER",
    default=None,
    help="Name the audit log records for writes (env MODELSHELF_USER; default: login name).",
)
def ui(env: Env, host: str, port: int, allow_writes: bool, user: str | None) -> None:
    """Serve a local web app to browse, compare and steer the registry (needs modelshelf[ui]).

    Example: modelshelf ui --allow-writes --user alice
    """
    try:
        from modelshelf.ui import serve
    except ImportError as exc:
        raise Failure(
            f"the web UI needs the ui extra: pip install 'modelshelf[ui]' ({exc})",
            EXIT_BACKEND,
            "MissingDependency",
        ) from exc
    try:
        serve(env.open(user=user), host=host, port=port, allow_writes=allow_writes, echo=click.echo)
    except OSError as exc:
        raise Failure(f"cannot listen on {host}:{port}: {exc}", EXIT_BACKEND, "OSError") from exc
