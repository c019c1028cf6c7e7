"""How the command line shows things: JSON for machines, rich for people.

rich is imported only when something is drawn, so ``--json`` output and
``--help`` never pay for it.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from typing import TYPE_CHECKING, Any

from modelshelf import converter

if TYPE_CHECKING:
    from collections.abc import Iterable
    from contextlib import AbstractContextManager

    from rich.console import Console

    from modelshelf.metadata import ModelMetadata

#: Metrics shown as columns by ``ls``: the most common ones, at most this many.
MAX_METRIC_COLUMNS = 5
#: Longer listings are printed as plain columns even on a terminal.
RICH_ROW_LIMIT = 500


def console(*, stderr: bool = False) -> Console:
    """A console on stdout (or stderr); wide when piped so tables stay one line a row."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else int(os.environ.get("COLUMNS", "0") or 0) or 160
    return Console(file=stream, width=width, highlight=False, soft_wrap=False)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n")


def metadata_dict(metadata: ModelMetadata) -> dict[str, Any]:
    data: dict[str, Any] = converter.unstructure(metadata)
    data["reference"] = metadata.reference
    return data


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _when(metadata: ModelMetadata) -> str:
    return metadata.created_at.strftime("%Y-%m-%d %H:%M")


def _stage_style(stage: str) -> str:
    return {"Production": "bold green", "Staging": "yellow", "Archived": "dim"}.get(stage, "")


def versions_table(rows: list[ModelMetadata], *, title: str | None = None) -> None:
    """``ls``'s table: rich on a terminal, plain aligned columns when piped or long.

    Plain columns are what ``grep``/``awk`` want, and rich's layout engine
    costs about a millisecond a row, which a 10,000-version listing should
    not pay. On a terminal the table fits its width: see :func:`fitted_table`.
    """
    counts = Counter(name for m in rows for name in m.metrics)
    metrics = [name for name, _ in counts.most_common(MAX_METRIC_COLUMNS)]
    header = ["id", "name", "version", "type", "stage", "aliases", *metrics, "created"]
    cells = [
        [
            str(m.model_id),
            m.model_name,
            m.version,
            m.model_type,
            m.stage.value,
            ",".join(m.aliases),
            *(_fmt(m.metrics[n]) if n in m.metrics else "" for n in metrics),
            _when(m),
        ]
        for m in rows
    ]
    if not sys.stdout.isatty() or len(rows) > RICH_ROW_LIMIT:
        _plain_table(header, cells, right={0, *range(6, 6 + len(metrics))})
        return
    out = console()
    table, left_out = fitted_table(
        out,
        header,
        cells,
        essential=["id", "name", "version", "stage"],
        optional=["aliases", *metrics, "type", "created"],
        right={"id", *metrics},
        style_column="stage",
        title=title,
    )
    out.print(table)
    hidden = list(left_out)
    rarer = len(counts) - len(metrics)
    if rarer:
        hidden.append(f"{rarer} more metric{'s' if rarer > 1 else ''}")
    if hidden:
        out.print(f"[dim]not shown: {', '.join(hidden)} (widen the terminal, or --json)[/]")


def fitted_table(
    out: Console,
    header: list[str],
    cells: list[list[str]],
    *,
    essential: list[str],
    optional: list[str],
    right: set[str],
    style_column: str | None = None,
    title: str | None = None,
) -> tuple[Any, list[str]]:
    """A rich table of the ``essential`` columns, never cut, plus as many of the
    ``optional`` ones, in that order of preference, as fit the console's width.

    Returns the table and the optional columns left out, so the caller can
    say so. Ids, versions and stage names cut to ``1…`` are worse than no
    column at all: a reader would copy a wrong reference from them.
    Columns keep the order of ``header``.
    """
    from rich import box
    from rich.table import Table

    present = [name for name in optional if any(row[header.index(name)] for row in cells)]

    def build(columns: set[str]) -> Table:
        table = Table(title=title, header_style="bold", box=box.SIMPLE_HEAD, show_edge=False)
        shown = [i for i, name in enumerate(header) if name in columns]
        for i in shown:
            name = header[i]
            table.add_column(
                name, justify="right" if name in right else "left", no_wrap=name != "name"
            )
        for row in cells:
            values = []
            for i in shown:
                value = row[i]
                style = _stage_style(value) if header[i] == style_column else ""
                values.append(f"[{style}]{value}[/]" if style else value)
            table.add_row(*values)
        return table

    chosen = set(essential)
    unbounded = out.options.update_width(1 << 16)  # measure the natural width, not a clamp
    for name in present:
        if out.measure(build(chosen | {name}), options=unbounded).maximum <= out.width:
            chosen.add(name)
    return build(chosen), [name for name in present if name not in chosen]


def _plain_table(header: list[str], rows: list[list[str]], *, right: set[int]) -> None:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.rjust(width) if index in right else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    sys.stdout.write("\n".join([line(header), *(line(row) for row in rows)]) + "\n")


def key_values(title: str, pairs: Iterable[tuple[str, object]]) -> Any:
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in pairs:
        table.add_row(key, str(value))
    return table


def show_version(metadata: ModelMetadata, *, score: float | None, parent: str | None) -> None:
    out = console()
    m = metadata
    out.print(f"[bold]{m.reference}[/]  (id {m.model_id})")
    if m.description:
        out.print(m.description)
    out.print(
        key_values(
            "",
            [
                ("type", m.model_type or "-"),
                ("stage", m.stage.value),
                ("aliases", ", ".join(m.aliases) or "-"),
                ("created", m.created_at.isoformat()),
                ("score", "-" if score is None else _fmt(score)),
                ("tags", ", ".join(f"{k}={v}" for k, v in sorted(m.tags.items())) or "-"),
                ("parent", parent or "-"),
                ("checkpoint", "yes" if m.checkpoint else "no"),
            ],
        )
    )
    if m.metrics:
        out.print(key_values("metrics", ((k, _fmt(v)) for k, v in sorted(m.metrics.items()))))
    if m.hyperparameters:
        out.print(
            key_values(
                "hyperparameters",
                ((k, json.dumps(v)) for k, v in sorted(m.hyperparameters.items())),
            )
        )
    info = m.training_info
    facts = [
        ("dataset", info.dataset or None),
        ("samples", info.n_samples),
        ("classes", json.dumps(info.class_distribution) if info.class_distribution else None),
        ("data quality", info.data_quality_score),
        ("ensemble", "yes" if info.is_ensemble else None),
        ("features", ", ".join(m.feature_names) or None),
        *((k, json.dumps(v)) for k, v in sorted(info.extra.items())),
    ]
    shown = [(k, v) for k, v in facts if v is not None]
    if shown:
        out.print(key_values("training", shown))
    described = signature_lines(m)
    if described:
        out.print(key_values("signature", described))
    files = [("model", m.artifact), *sorted(m.artifacts.items())]
    lines = []
    for name, ref in files:
        lines.append((name, ref.key))
        lines.append(("", f"{ref.size:,} B, {ref.serializer}, sha256 {ref.sha256}"))
    out.print(key_values("files", lines))


#: Columns ``show`` lists one per line; ``--json`` gives every one.
SHOWN_COLUMNS = 40


def signature_lines(m: ModelMetadata) -> list[tuple[str, str]]:
    """What the version takes and gives, as label/value lines (empty: nothing recorded)."""
    lines: list[tuple[str, str]] = []
    signature = m.signature
    if signature is not None:
        inputs = signature.inputs
        if inputs.tensor is not None:
            lines.append(("inputs", inputs.describe()))
        else:
            count = len(inputs.columns)
            lines.append(("inputs", f"{count} column{'s' if count != 1 else ''}"))
            lines += [("", f"{c.name}: {c.dtype}") for c in inputs.columns[:SHOWN_COLUMNS]]
            if count > SHOWN_COLUMNS:
                lines.append(("", f"and {count - SHOWN_COLUMNS} more (--json lists them)"))
        if signature.outputs is not None:
            lines.append(("outputs", signature.outputs.describe()))
    if m.preprocessing:
        lines.append(("steps", " -> ".join([*m.preprocessing, "model"])))
    if m.input_example:
        rows = len(m.input_example)
        lines.append(("example", json.dumps(m.input_example[0], ensure_ascii=False)))
        if rows > 1:
            lines.append(("", f"(the first of {rows} rows kept; --json shows all)"))
    return lines


def plain(message: str) -> None:
    console().print(message)


def progress_bar(enabled: bool) -> AbstractContextManager[Any]:
    """A rich progress bar on stderr, or a no-op when stderr is not a terminal."""
    from contextlib import nullcontext

    if not enabled or not sys.stderr.isatty():
        return nullcontext(None)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[item]}"),
        console=console(stderr=True),
        transient=True,
    )


def progress_callback(bar: Any, description: str) -> Any:
    """Adapt a rich Progress (or None) to bundle's ``progress(done, total, label)``."""
    if bar is None:
        return None
    task = bar.add_task(description, total=None, item="")

    def update(done: int, total: int, label: str) -> None:
        bar.update(task, completed=done, total=total, item=label)

    return update
