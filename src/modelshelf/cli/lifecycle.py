"""``promote``, ``transition``, ``alias``, ``rollback``, ``delete``: a version's lifecycle."""

from __future__ import annotations

import sys

import click

from modelshelf.cli._core import (
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    Env,
    Failure,
    ShelfGroup,
    cli,
    shelf_command,
)
from modelshelf.cli._helpers import (
    _meta,
    _out,
    _reference,
    _say,
)


@shelf_command(cli)
@click.argument("reference")
@click.option("--stage", "-s", default="Production", show_default=True, help="Stage to move it to.")
@click.option("--reason", default="", help="Recorded in the audit log.")
def promote(env: Env, reference: str, stage: str, reason: str) -> None:
    """Move a version to a stage (Production archives the previous one).

    Example: modelshelf promote churn:1.0.2 --reason "better f1"
    """
    registry = env.open()
    found = registry.get_metadata(_reference(reference))
    metadata = registry.transition_stage(found.model_name, found.version, stage, reason=reason)
    _out(env, _meta(metadata), lambda: _say(f"{metadata.reference} is now {metadata.stage.value}"))


@shelf_command(cli)
@click.argument("model_name")
@click.argument("version")
@click.argument("stage")
@click.option(
    "--keep-existing", is_flag=True, help="Do not archive the current Production version."
)
@click.option("--reason", default="", help="Recorded in the audit log.")
def transition(
    env: Env, model_name: str, version: str, stage: str, keep_existing: bool, reason: str
) -> None:
    """Move MODEL_NAME VERSION to STAGE (None, Staging, Production, Archived).

    Example: modelshelf transition churn 1.0.0 Archived
    """
    metadata = env.open().transition_stage(
        model_name, version, stage, archive_existing=not keep_existing, reason=reason
    )
    _out(env, _meta(metadata), lambda: _say(f"{metadata.reference} is now {metadata.stage.value}"))


@cli.group(cls=ShelfGroup)
def alias() -> None:
    """Point a named alias (e.g. champion) at a version, move it, or delete it."""


@shelf_command(alias, "set")
@click.argument("reference")
@click.argument("alias_name", metavar="ALIAS")
@click.option("--reason", default="", help="Recorded in the audit log.")
def alias_set(env: Env, reference: str, alias_name: str, reason: str) -> None:
    """Point ALIAS at the version REFERENCE names (moving it if it is set).

    Example: modelshelf alias set churn:1.0.2 champion
    """
    metadata = env.open().set_alias(_reference(reference), alias_name, reason=reason)
    _out(
        env,
        _meta(metadata),
        lambda: _say(f"{metadata.model_name}@{alias_name} -> {metadata.reference}"),
    )


@shelf_command(alias, "delete")
@click.argument("model_name")
@click.argument("alias_name", metavar="ALIAS")
@click.option("--reason", default="", help="Recorded in the audit log.")
def alias_delete(env: Env, model_name: str, alias_name: str, reason: str) -> None:
    """Remove ALIAS from MODEL_NAME.

    Example: modelshelf alias delete churn champion
    """
    removed = env.open().delete_alias(model_name, alias_name, reason=reason)
    if not removed:
        raise Failure(f"{model_name}@{alias_name} is not set", EXIT_NOT_FOUND, "AliasNotFound")
    _out(
        env,
        {"model_name": model_name, "alias": alias_name, "deleted": True},
        lambda: _say(f"deleted {model_name}@{alias_name}"),
    )


@shelf_command(cli)
@click.argument("model_name")
@click.option("--reason", default="", help="Recorded in the audit log beside the rollback.")
def rollback(env: Env, model_name: str, reason: str) -> None:
    """Put MODEL_NAME's previous Production version back in Production.

    Example: modelshelf rollback churn
    """
    metadata = env.open().rollback(model_name, reason=reason)
    _out(env, _meta(metadata), lambda: _say(f"{metadata.reference} is Production again"))


@shelf_command(cli)
@click.argument("reference")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def delete(env: Env, reference: str, yes: bool) -> None:
    """Delete one version: its record, then its files.

    Example: modelshelf delete churn:1.0.0 --yes
    """
    registry = env.open()
    metadata = registry.get_metadata(_reference(reference))
    if not yes:
        if not sys.stdin.isatty():
            raise Failure(
                f"refusing to delete {metadata.reference} without --yes (not a terminal)",
                EXIT_USAGE,
            )
        click.confirm(f"delete {metadata.reference} (id {metadata.model_id})?", abort=True)
    if not registry.delete_model(metadata.model_id):
        raise Failure(f"{metadata.reference} was deleted meanwhile", EXIT_NOT_FOUND)
    _out(
        env,
        {**_meta(metadata), "deleted": True},
        lambda: _say(f"deleted {metadata.reference} (id {metadata.model_id})"),
    )
