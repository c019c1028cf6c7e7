"""``modelshelf migrate``: bring another registry's models into modelshelf.

The work is done by :mod:`modelshelf.migrate`; this module parses options,
opens (or creates) the destination and prints the report.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from modelshelf.cli._core import (
    EXIT_BACKEND,
    EXIT_CONFLICT,
    EXIT_INTEGRITY,
    Env,
    ShelfGroup,
    cli,
    shelf_command,
)
from modelshelf.cli._helpers import _out, _pairs, _say

if TYPE_CHECKING:
    from collections.abc import Callable

    from modelshelf.migrate import MigrationReport

#: Without a terminal (CI logs, pipes), progress is one stderr line per this share of versions.
_LOG_EVERY = 0.1


@cli.group(cls=ShelfGroup)
def migrate() -> None:
    """Copy models from another model registry into this one."""


def _exit_code(report: MigrationReport) -> int:
    kinds = {problem.kind for problem in report.failed}
    if not kinds:
        return 0
    if "integrity" in kinds:
        return EXIT_INTEGRITY
    if kinds == {"conflict"}:
        return EXIT_CONFLICT
    return EXIT_BACKEND


def _log_progress() -> Callable[[int, int, str], None]:
    step = [0]

    def log(done: int, total: int, reference: str) -> None:
        mark = int(done / total / _LOG_EVERY) if total else 0
        if total >= 100 and mark > step[0]:
            step[0] = mark
            sys.stderr.write(f"{done}/{total} MLflow versions done ({reference})\n")
            sys.stderr.flush()

    return log


@shelf_command(migrate, "mlflow")
@click.option(
    "--tracking-uri",
    required=True,
    metavar="URI",
    help="MLflow's tracking URI: sqlite:///mlflow.db, file:///path/mlruns, http://host:5000.",
)
@click.option("--registry-uri", metavar="URI", help="MLflow's registry URI; default: as tracking.")
@click.option(
    "--name",
    "-n",
    "names",
    multiple=True,
    help="Only this registered model (repeatable); default: all of them.",
)
@click.option(
    "--rename",
    "renames",
    multiple=True,
    metavar="OLD=NEW",
    help="Record MLflow's model OLD as NEW here (for names modelshelf does not accept).",
)
@click.option("--no-verify", is_flag=True, help="Skip reading the copied artifacts back.")
def migrate_mlflow(
    env: Env,
    tracking_uri: str,
    registry_uri: str | None,
    names: tuple[str, ...],
    renames: tuple[str, ...],
    no_verify: bool,
) -> None:
    """Copy every registered model version from MLflow: stages, aliases, run metrics and params.

    Safe to run again: versions already migrated are skipped, so an interrupted
    migration is finished by the next run. A new registry is created with
    integer versioning (MLflow's 1, 2, 3). Versions that could not be brought
    are listed, and the exit code says why: 3 a checksum mismatch, 5 only
    conflicts with versions already here, 6 anything else (e.g. a download).
    Needs MLflow's client: pip install 'modelshelf[mlflow]'.

    Example: modelshelf migrate mlflow --tracking-uri sqlite:///mlflow.db --registry migrated
    """
    from modelshelf.cli import _output
    from modelshelf.migrate import check_destination, destination_versioning, from_mlflow

    remote = "://" in env.location and not env.location.startswith("file://")
    registry = env.open(
        create=True, versioning="integer" if remote else destination_versioning(env.path)
    )
    check_destination(registry)
    log = _log_progress()
    with _output.progress_bar(not env.as_json) as bar:
        update = _output.progress_callback(bar, "migrating")

        def progress(done: int, total: int, reference: str) -> None:
            if update is not None:
                update(done, total, reference)
            else:
                log(done, total, reference)

        report = from_mlflow(
            registry,
            tracking_uri,
            registry_uri=registry_uri,
            names=list(names) or None,
            rename=dict(_pairs("--rename", renames)),
            verify=not no_verify,
            progress=progress,
        )
    data: dict[str, Any] = report.as_dict()

    def human() -> None:
        for problem in report.failed:
            _say(f"failed   {problem.reference}  {problem.kind}: {problem.reason}")
        for problem in report.notes:
            _say(f"note     {problem.reference}  {problem.reason}")
        _say(
            f"copied {report.copied}, skipped {report.skipped} (already here), "
            f"failed {len(report.failed)} of {report.total} MLflow version(s); "
            f"{report.stages_set} stage(s) and {report.aliases_set} alias(es) set; "
            f"verified {report.verified} file(s) in {report.seconds:.1f} s"
        )

    _out(env, data, human)
    code = _exit_code(report)
    if code:
        raise click.exceptions.Exit(code)
