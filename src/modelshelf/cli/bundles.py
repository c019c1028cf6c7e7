"""``export``, ``import`` and ``report``: versions as files to move, or a page to read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from modelshelf.cli._core import (
    Env,
    cli,
    shelf_command,
)
from modelshelf.cli._helpers import (
    _out,
    _reference,
    _say,
)


@shelf_command(cli, "export")
@click.argument("reference", required=False)
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(path_type=Path),
    help="Bundle to write: a directory, or an archive if it ends .tar.gz.",
)
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Export the whole registry (or every version of --name).",
)
@click.option("--name", "-n", help="With --all: only this model name.")
def export_cmd(
    env: Env, reference: str | None, output: Path, everything: bool, name: str | None
) -> None:
    """Write a version (REFERENCE) or the registry (--all) as a verifiable bundle.

    Example: modelshelf export churn@champion --output bundles/churn.tar.gz
    """
    from modelshelf import bundle
    from modelshelf.cli import _output

    if everything == (reference is not None):
        raise click.UsageError("give either a REFERENCE or --all")
    if name and not everything:
        raise click.UsageError("--name goes with --all")
    registry = env.open()
    if reference is not None:
        metadata = registry.get_metadata(_reference(reference))
        path = bundle.export_version(registry, metadata.model_id, output)
        data: dict[str, Any] = {
            "path": str(path.resolve()),
            "count": 1,
            "versions": [metadata.reference],
        }
    else:
        with _output.progress_bar(True) as bar:
            exported = bundle.export_registry(
                registry,
                output,
                model_name=name,
                progress=_output.progress_callback(bar, "exporting"),
            )
        path = exported.path
        data = {
            "path": str(path.resolve()),
            "count": len(exported.references),
            "versions": list(exported.references),
        }
    _out(env, data, lambda: _say(f"exported {data['count']} version(s) to {path}"))


@shelf_command(cli, "import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--on-conflict",
    type=click.Choice(["refuse", "renumber"]),
    default="refuse",
    show_default=True,
    help="When a version already exists: refuse the import, or give it the next version.",
)
@click.option("--no-stage", is_flag=True, help="Import with no stage instead of the exported one.")
def import_cmd(env: Env, path: Path, on_conflict: str, no_stage: bool) -> None:
    """Verify a bundle completely, then record its version(s) in the registry.

    Example: modelshelf import churn-1.0.2.tar.gz --on-conflict renumber
    """
    from modelshelf import bundle
    from modelshelf.cli import _output

    registry = env.open(create=True)
    with _output.progress_bar(True) as bar:
        imported = bundle.import_path(
            registry,
            path,
            on_conflict=on_conflict,  # type: ignore[arg-type]
            keep_stage=not no_stage,
            progress=_output.progress_callback(bar, "importing"),
        )

    def human() -> None:
        for item in imported:
            note = "  (" + "; ".join(item.notes) + ")" if item.notes else ""
            _say(
                f"imported {item.source_reference} as {item.metadata.reference} "
                f"(id {item.metadata.model_id}){note}"
            )

    _out(env, [item.as_dict() for item in imported], human)


@shelf_command(cli)
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--name", "-n", help="Report only this model name.")
@click.option(
    "--metric",
    "-m",
    "metrics",
    multiple=True,
    help="Metrics to show, in order (repeatable); default: all.",
)
@click.option("--title", help="Page title.")
def report(
    env: Env, path: Path, name: str | None, metrics: tuple[str, ...], title: str | None
) -> None:
    """Write a self-contained HTML report comparing versions (works offline).

    Example: modelshelf report report.html --name churn
    """
    from modelshelf.report import write_report

    written = write_report(
        env.open(), path, model_name=name, metrics=list(metrics) or None, title=title
    )
    _out(env, {"path": str(written.resolve())}, lambda: _say(f"report written to {written}"))
