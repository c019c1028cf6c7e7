"""``ls``, ``show``, ``best``, ``stats``, ``compare``: find and read versions, changing nothing."""

from __future__ import annotations

from typing import Any

import click

from modelshelf.cli._core import (
    EXIT_NOT_FOUND,
    Env,
    Failure,
    cli,
    shelf_command,
)
from modelshelf.cli._helpers import (
    _filter_options,
    _meta,
    _out,
    _reference,
    _say,
    _timestamp,
)
from modelshelf.errors import ModelNotFoundError


@shelf_command(cli)
@click.argument("model_name", required=False)
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True)
@_filter_options
def compare(
    env: Env,
    model_name: str | None,
    limit: int,
    filters: dict[str, Any],
) -> None:
    """Rank versions (of MODEL_NAME, or all) by the scoring policy, with their metrics.

    Example: modelshelf compare churn --limit 5
    """
    name = filters.pop("model_name", None)
    if model_name and name and model_name != name:
        raise click.UsageError(f"MODEL_NAME {model_name!r} and --name {name!r} disagree")
    rows: list[dict[str, Any]] = env.open().compare_models(model_name or name, limit, **filters)

    def human() -> None:
        from collections import Counter

        from modelshelf.cli import _output

        if not rows:
            _say("no version matches and can be ranked by the scoring policy")
            return
        counts = Counter(metric for row in rows for metric in row["metrics"])
        metrics = [metric for metric, _ in counts.most_common()]
        header = ["rank", "id", "name", "version", "stage", "score", *metrics]
        cells = [
            [
                str(row["rank"]),
                str(row["model_id"]),
                row["model_name"],
                row["version"],
                row["stage"],
                f"{row['score']:.4g}",
                *(f"{row['metrics'][m]:.4g}" if m in row["metrics"] else "" for m in metrics),
            ]
            for row in rows
        ]
        out = _output.console()
        table, left_out = _output.fitted_table(
            out,
            header,
            cells,
            essential=["rank", "id", "name", "version", "score"],
            optional=["stage", *metrics],
            right={"rank", "id", "score", *metrics},
            style_column="stage",
        )
        out.print(table)
        if left_out:
            out.print(f"[dim]not shown: {', '.join(left_out)} (widen the terminal, or --json)[/]")

    _out(env, rows, human)


@shelf_command(cli, "ls")
@_filter_options
@click.option("--created-after", metavar="WHEN", help="ISO 8601 date/time (UTC if no zone).")
@click.option("--created-before", metavar="WHEN", help="ISO 8601 date/time (UTC if no zone).")
@click.option(
    "--order-by",
    default="model_id",
    show_default=True,
    help="A field (model_id, version, created_at, ...) or a metric name.",
)
@click.option("--desc", "descending", is_flag=True, help="Largest first.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many rows.")
@click.option("--offset", type=click.IntRange(min=0), default=0, help="Skip this many rows.")
def ls(
    env: Env,
    filters: dict[str, Any],
    created_after: str | None,
    created_before: str | None,
    order_by: str,
    descending: bool,
    limit: int | None,
    offset: int,
) -> None:
    """List versions as a table, with the same filters as list_models().

    On a terminal the table fits its width: ids, names, versions and stages
    are never cut, and the columns that do not fit (the rarer metrics, type,
    creation time) are named under it. Piped output has every column.

    Example: modelshelf ls --name churn --min f1=0.8 --order-by f1 --desc
    """
    after = _timestamp("--created-after", created_after)
    before = _timestamp("--created-before", created_before)
    rows = env.open().list_models(
        created_after=after,
        created_before=before,
        order_by=order_by,
        descending=descending,
        limit=limit,
        offset=offset,
        **filters,
    )

    def human() -> None:
        from modelshelf.cli import _output

        if rows:
            _output.versions_table(rows)
        else:
            _output.plain("no model versions match")

    _out(env, [_meta(m) for m in rows], human)


@shelf_command(cli)
@click.argument("reference")
def show(env: Env, reference: str) -> None:
    """Show everything about one version: metrics, parameters, training, files.

    Example: modelshelf show churn@champion
    """
    registry = env.open()
    metadata = registry.get_metadata(_reference(reference))
    score = registry.score(metadata)
    parent = None
    if metadata.parent_id is not None:
        try:
            parent = (
                f"{registry.get_metadata(metadata.parent_id).reference} (id {metadata.parent_id})"
            )
        except ModelNotFoundError:
            parent = f"id {metadata.parent_id} (deleted)"

    def human() -> None:
        from modelshelf.cli import _output

        _output.show_version(metadata, score=score, parent=parent)

    _out(env, {**_meta(metadata), "score": score}, human)


@shelf_command(cli)
@click.option("--metric", "-m", help="Rank by this metric; default: the scoring policy.")
@_filter_options
def best(
    env: Env,
    metric: str | None,
    filters: dict[str, Any],
) -> None:
    """Show the best version by a metric or by the registry's scoring policy.

    Example: modelshelf best --name churn --metric f1
    """
    registry = env.open()
    found = registry.get_best_model(metric, **filters)
    if found is None:
        by = f"metric {metric!r}" if metric else "the scoring policy"
        raise Failure(f"no version matches and can be ranked by {by}", EXIT_NOT_FOUND, "NoBest")
    metadata = found
    score = metadata.metrics.get(metric) if metric else registry.score(metadata)

    def human() -> None:
        label = metric or "score"
        value = "-" if score is None else f"{score:.4g}"
        _say(f"best: {metadata.reference} (id {metadata.model_id}, {label} {value})")

    _out(env, {**_meta(metadata), "score": score}, human)


@shelf_command(cli)
def stats(env: Env) -> None:
    """Counts by name, type and stage, storage used, and the best version of each name.

    Example: modelshelf stats
    """
    registry = env.open()
    summary = registry.summary()
    by_name: dict[str, int] = summary["by_name"]
    by_type: dict[str, int] = summary["by_type"]
    by_stage = {stage: n for stage, n in summary["by_stage"].items() if n}
    size: int = summary["storage_bytes"]
    best_of: dict[str, Any] = {}
    for name, reference in summary["best"].items():
        top = None if reference is None else registry.get_metadata(reference)
        best_of[name] = (
            None
            if top is None
            else {
                "reference": top.reference,
                "model_id": top.model_id,
                "score": registry.score(top),
            }
        )
    data = {
        "versions": summary["versions"],
        "names": len(by_name),
        "storage_bytes": size,
        "by_name": by_name,
        "by_type": by_type,
        "by_stage": by_stage,
        "best": best_of,
    }

    def human() -> None:
        from rich.table import Table

        from modelshelf.cli._output import console, key_values

        out = console()
        out.print(
            f"{summary['versions']} version(s) of {len(by_name)} model(s), {size:,} bytes stored"
        )
        out.print(key_values("by stage", sorted(by_stage.items())))
        out.print(key_values("by type", sorted(by_type.items())))
        table = Table(title="by name", title_justify="left", header_style="bold")
        for column in ("name", "versions", "best", "score"):
            table.add_column(column)
        for name, count in sorted(by_name.items()):
            top = best_of[name]
            score = "-" if not top or top["score"] is None else f"{top['score']:.4g}"
            table.add_row(name, str(count), top["reference"] if top else "-", score)
        out.print(table)

    _out(env, data, human)
