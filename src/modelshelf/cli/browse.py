"""``compare``: versions side by side, ranked by the scoring policy."""

from __future__ import annotations

from typing import Any

import click

from modelshelf.cli import Env, _filter_options, _list_filters, _out, _say, cli, shelf_command


@shelf_command(cli)
@click.argument("model_name", required=False)
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True)
@_filter_options
def compare(
    env: Env,
    model_name: str | None,
    limit: int,
    name: str | None,
    model_type: str | None,
    stage: str | None,
    alias: str | None,
    tags: tuple[str, ...],
    minimum: tuple[str, ...],
    maximum: tuple[str, ...],
) -> None:
    """Rank versions (of MODEL_NAME, or all) by the scoring policy, with their metrics.

    Example: modelshelf compare churn --limit 5
    """
    if model_name and name and model_name != name:
        raise click.UsageError(f"MODEL_NAME {model_name!r} and --name {name!r} disagree")
    filters = _list_filters(
        name=None,
        model_type=model_type,
        stage=stage,
        alias=alias,
        tags=tags,
        minimum=minimum,
        maximum=maximum,
    )
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
