"""Who changed what, what is kept, and how versions and names are described:
``history``, ``retention``, ``update`` and ``info``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from modelshelf.cli._core import Env, cli, shelf_command
from modelshelf.cli._helpers import _meta, _out, _reference, _say, _tag_edit_options

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from modelshelf.protocols import AuditEvent


def _event_dict(event: AuditEvent) -> dict[str, Any]:
    import attrs

    data = attrs.asdict(event)
    data["at"] = event.at.isoformat()
    return data


@shelf_command(cli)
@click.argument("model_name", required=False)
@click.option("--limit", type=click.IntRange(min=1), help="Only the newest N events.")
def history(env: Env, model_name: str | None, limit: int | None) -> None:
    """The audit log: every stage change and alias move, oldest first.

    Example: modelshelf history churn
    """
    events = env.open().audit_log(model_name)
    if limit is not None:
        events = events[-limit:]
    rows = [_event_dict(event) for event in events]

    def human() -> None:
        from modelshelf.cli import _output

        if not rows:
            _say("no recorded changes" + (f" for {model_name!r}" if model_name else ""))
            return
        header = ["when", "version", "action", "from", "to", "actor", "reason"]
        cells = [
            [
                e.at.strftime("%Y-%m-%d %H:%M:%S"),
                f"{e.model_name}:{e.version}",
                e.action,
                e.from_value or "-",
                e.to_value or "-",
                e.actor,
                e.reason,
            ]
            for e in events
        ]
        out = _output.console()
        table, left_out = _output.fitted_table(
            out,
            header,
            cells,
            essential=["when", "version", "action", "to"],
            optional=["from", "actor", "reason"],
            right=set(),
        )
        out.print(table)
        if left_out:
            out.print(f"[dim]not shown: {', '.join(left_out)} (widen the terminal, or --json)[/]")

    _out(env, rows, human)


@shelf_command(cli)
@click.option("--name", "-n", "model_name", help="Only this model name.")
@click.option(
    "--keep-last", type=click.IntRange(min=1), help="Keep the newest K versions of each name."
)
@click.option(
    "--archived-max-age-days",
    type=click.FloatRange(min=0, min_open=True),
    help="Drop Archived versions older than this.",
)
@click.option("--apply", "apply_", is_flag=True, help="Delete; without it, only list.")
def retention(
    env: Env,
    model_name: str | None,
    keep_last: int | None,
    archived_max_age_days: float | None,
    apply_: bool,
) -> None:
    """List (and with --apply delete) versions the retention policy no longer keeps.

    The policy is these options, else the registry's [retention] settings. A
    Production version, or one an alias points at, is never deleted.

    Example: modelshelf retention --keep-last 5
    """
    chosen = env.open().apply_retention(
        model_name,
        keep_last=keep_last,
        archived_max_age_days=archived_max_age_days,
        dry_run=not apply_,
    )

    def human() -> None:
        verb = "deleted" if apply_ else "would delete"
        for metadata in chosen:
            _say(f"{verb} {metadata.reference} (id {metadata.model_id}, {metadata.stage.value})")
        _say(f"{len(chosen)} version(s) " + ("deleted" if apply_ else "to delete (use --apply)"))

    _out(env, {"applied": apply_, "versions": [_meta(m) for m in chosen]}, human)


@shelf_command(cli)
@click.argument("reference")
@_tag_edit_options("the version")
def update(
    env: Env,
    reference: str,
    description: str | None,
    edit_tags: Callable[[Mapping[str, str]], dict[str, str] | None],
) -> None:
    """Edit one version's description and tags.

    Example: modelshelf update churn:1.0.2 --description "retrained" --tag team=growth
    """
    registry = env.open()
    current = registry.get_metadata(_reference(reference))
    tags = edit_tags(current.tags)
    if description is None and tags is None:
        raise click.UsageError("nothing to change: give --description, --tag or --untag")
    metadata = registry.update_model(current.model_id, description=description, tags=tags)
    _out(env, _meta(metadata), lambda: _say(f"updated {metadata.reference}"))


@shelf_command(cli)
@click.argument("model_name")
@_tag_edit_options("the model name")
def info(
    env: Env,
    model_name: str,
    description: str | None,
    edit_tags: Callable[[Mapping[str, str]], dict[str, str] | None],
) -> None:
    """Show, or edit, the description and tags of a model name (not of one version).

    Example: modelshelf info churn --description "monthly churn model" --tag owner=growth
    """
    registry = env.open()
    current = registry.get_model_info(model_name)
    tags = edit_tags(current.tags)
    if description is not None or tags is not None:
        current = registry.set_model_info(model_name, description=description, tags=tags)
    data = {
        "model_name": current.model_name,
        "description": current.description,
        "tags": current.tags,
    }

    def human() -> None:
        _say(f"{current.model_name}: {current.description or '(no description)'}")
        for key, value in sorted(current.tags.items()):
            _say(f"  {key}={value}")

    _out(env, data, human)
