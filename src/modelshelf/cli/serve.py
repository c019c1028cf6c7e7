"""``serve``: answer predictions over HTTP with the version a reference names.

The web libraries (the ``serve`` extra) are imported only when the command
runs, so the rest of the command line never pays for them.
"""

from __future__ import annotations

import logging
import sys

import click

from modelshelf.cli import EXIT_BACKEND, Env, Failure, _reference, cli, shelf_command


def _log_to_stderr() -> None:
    """Switches and failed verifications go to stderr, one line each, unless
    the program embedding us configured logging itself."""
    log = logging.getLogger("modelshelf.serve")
    if log.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)


@shelf_command(cli)
@click.argument("reference")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8009, show_default=True, type=int, help="Port to listen on (0: any free)."
)
@click.option(
    "--poll-interval",
    default=2.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="How often to look up the reference; a move is loaded, verified and swapped in.",
)
def serve(env: Env, reference: str, host: str, port: int, poll_interval: float) -> None:
    """Serve predictions over HTTP from the version REFERENCE names (needs modelshelf[serve]).

    Speaks the scoring protocol of `mlflow models serve`: POST /predict (or
    /invocations) with JSON (dataframe_split, dataframe_records, instances,
    inputs) or CSV; GET /health and /metadata. The version is verified (sha256,
    and the signature when MODELSHELF_SIGNING_KEY is set) before anything
    listens. When an alias or stage moves, the new version is loaded and
    verified in the background and swapped in without a restart.

    Example: modelshelf serve churn@champion --port 8009
    """
    try:
        from modelshelf.serving import serve as run
    except ImportError as exc:
        raise Failure(
            f"serving needs the serve extra: pip install 'modelshelf[serve]' ({exc})",
            EXIT_BACKEND,
            "MissingDependency",
        ) from exc
    _log_to_stderr()
    try:
        run(
            env.open(),
            _reference(reference),
            host=host,
            port=port,
            poll_interval=poll_interval,
            echo=click.echo,
        )
    except OSError as exc:
        raise Failure(f"cannot listen on {host}:{port}: {exc}", EXIT_BACKEND, "OSError") from exc
