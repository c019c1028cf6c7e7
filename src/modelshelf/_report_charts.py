"""The HTML report's charts, drawn as SVG in Python, and its colours.

No charting library: the report must open offline, in any browser, years
later (see docs/decisions.md). Each chart is a string of SVG; escaping and
number formatting live here because the page uses them too.
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING

from modelshelf.metadata import Stage
from modelshelf.query import lower_is_better

if TYPE_CHECKING:
    from collections.abc import Iterable

    from modelshelf.metadata import ModelMetadata


STAGE_ORDER: tuple[Stage, ...] = (Stage.NONE, Stage.STAGING, Stage.PRODUCTION, Stage.ARCHIVED)
STAGE_COLOURS: dict[Stage, str] = {
    Stage.NONE: "#8b95a5",
    Stage.STAGING: "#d98e04",
    Stage.PRODUCTION: "#1f9254",
    Stage.ARCHIVED: "#5b6fa8",
}
#: Line colours for model names, cycled (Tableau 10, colour-blind friendly).
SERIES_COLOURS = (
    "#4e79a7",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#f28e2b",
    "#bab0ac",
)

# Chart geometry, in SVG user units (the SVG scales to its card's width).
WIDTH, HEIGHT = 420, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 52


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: float) -> str:
    return f"{value:.4g}"


# -- charts ----------------------------------------------------------------------------


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high], about ``count`` of them."""
    if not high > low:
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = magnitude * 10
    for factor in (1, 2, 2.5, 5, 10):
        if (high - low) / (factor * magnitude) <= count:
            step = factor * magnitude
            break
    start = math.floor(low / step) * step
    stop = math.ceil(high / step) * step
    n = round((stop - start) / step)
    return [start + i * step for i in range(n + 1)]


class _Axis:
    """Maps values onto the plot area's vertical extent."""

    def __init__(self, values: Iterable[float], *, include_zero: bool = False) -> None:
        data = list(values)
        low, high = min(data), max(data)
        if include_zero:
            low, high = min(low, 0.0), max(high, 0.0)
        else:
            pad = (high - low) * 0.08
            low, high = low - pad, high + pad
        self.ticks = _ticks(low, high)
        self.low, self.high = self.ticks[0], self.ticks[-1]

    def y(self, value: float) -> float:
        span = self.high - self.low
        return TOP + (HEIGHT - TOP - BOTTOM) * (1 - (value - self.low) / span)

    def grid(self) -> str:
        lines = []
        for tick in self.ticks:
            y = self.y(tick)
            lines.append(
                f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
                f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                f"{_fmt(round(tick, 12))}</text>"
            )
        return "".join(lines)


def _svg(label: str, body: str) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{_esc(label)}"><title>{_esc(label)}</title>{body}</svg>'
    )


def _point(m: ModelMetadata, x: float, y: float, value: float, metric: str) -> str:
    tip = f"{m.reference} ({m.stage.value}) {metric} = {_fmt(value)}"
    return (
        f'<circle class="point" data-model-id="{m.model_id}" cx="{x:.1f}" cy="{y:.1f}" r="4.5" '
        f'fill="{STAGE_COLOURS[m.stage]}"><title>{_esc(tip)}</title></circle>'
    )


def _line_chart(name: str, versions: list[ModelMetadata], metric: str, colour: str) -> str:
    points = [(i, m) for i, m in enumerate(versions) if metric in m.metrics]
    axis = _Axis(m.metrics[metric] for _, m in points)
    plot_width = WIDTH - LEFT - RIGHT
    slot = plot_width / max(len(versions), 1)

    def x(index: int) -> float:
        return LEFT + slot * (index + 0.5)

    body = [axis.grid()]
    every = max(1, math.ceil(len(versions) / 10))
    for i, m in enumerate(versions):
        if i % every == 0 or i == len(versions) - 1:
            body.append(
                f'<text class="tick" x="{x(i):.1f}" y="{HEIGHT - BOTTOM + 14}" '
                f'text-anchor="end" transform="rotate(-35 {x(i):.1f} {HEIGHT - BOTTOM + 14})">'
                f"{_esc(m.version)}</text>"
            )
    path = " ".join(
        f"{'M' if n == 0 else 'L'}{x(i):.1f},{axis.y(m.metrics[metric]):.1f}"
        for n, (i, m) in enumerate(points)
    )
    body.append(f'<path class="series" d="{path}" stroke="{colour}"/>')
    body += [
        _point(m, x(i), axis.y(m.metrics[metric]), m.metrics[metric], metric) for i, m in points
    ]
    direction = " (lower is better)" if lower_is_better(metric) else ""
    return _svg(f"{metric} across versions of {name}{direction}", "".join(body))


def _stage_chart(versions: list[ModelMetadata], metric: str) -> str:
    having = [m for m in versions if metric in m.metrics]
    axis = _Axis((m.metrics[metric] for m in having), include_zero=True)
    slot = (WIDTH - LEFT - RIGHT) / len(STAGE_ORDER)
    body = [axis.grid()]
    zero = axis.y(0.0)
    for column, stage in enumerate(STAGE_ORDER):
        centre = LEFT + slot * (column + 0.5)
        in_stage = [m for m in having if m.stage is stage]
        body.append(
            f'<text class="tick" x="{centre:.1f}" y="{HEIGHT - BOTTOM + 16}" '
            f'text-anchor="middle">{_esc(stage.value)}</text>'
            f'<text class="count" x="{centre:.1f}" y="{HEIGHT - BOTTOM + 30}" '
            f'text-anchor="middle">n={len(in_stage)}</text>'
        )
        if not in_stage:
            continue
        mean = sum(m.metrics[metric] for m in in_stage) / len(in_stage)
        top, bottom = sorted((axis.y(mean), zero))
        body.append(
            f'<rect class="bar" x="{centre - slot * 0.3:.1f}" y="{top:.1f}" '
            f'width="{slot * 0.6:.1f}" height="{max(bottom - top, 1.0):.1f}" '
            f'fill="{STAGE_COLOURS[stage]}"><title>{_esc(stage.value)}: mean {metric} = '
            f"{_fmt(mean)} over {len(in_stage)} version(s)</title></rect>"
        )
        for k, m in enumerate(in_stage):
            # Spread the dots across the bar so equal values stay visible.
            offset = (k - (len(in_stage) - 1) / 2) * min(8.0, slot * 0.5 / len(in_stage))
            value = m.metrics[metric]
            body.append(_point(m, centre + offset, axis.y(value), value, metric))
    direction = " (lower is better)" if lower_is_better(metric) else ""
    return _svg(f"{metric} by stage{direction}", "".join(body))


def _charts_across_versions(
    by_name: dict[str, list[ModelMetadata]], metrics: list[str], colours: dict[str, str]
) -> str:
    if not metrics:
        return (
            "<section><h2>Metrics across versions</h2>"
            '<p class="empty">No metrics recorded.</p></section>'
        )
    groups = []
    for name, versions in by_name.items():
        cards = "".join(
            f'<figure class="chart-card"><figcaption>{_esc(metric)}</figcaption>'
            f"{_line_chart(name, versions, metric, colours[name])}</figure>"
            for metric in metrics
            if any(metric in m.metrics for m in versions)
        )
        if cards:
            groups.append(
                f'<h3><span class="swatch" style="background:{colours[name]}"></span>'
                f"{_esc(name)} <small>{len(versions)} version(s), in version order</small></h3>"
                f'<div class="charts">{cards}</div>'
            )
    return f"<section><h2>Metrics across versions</h2>{''.join(groups)}</section>"


def _charts_by_stage(versions: list[ModelMetadata], metrics: list[str]) -> str:
    if not metrics:
        return ""
    cards = "".join(
        f'<figure class="chart-card"><figcaption>{_esc(metric)}</figcaption>'
        f"{_stage_chart(versions, metric)}</figure>"
        for metric in metrics
    )
    return (
        '<section><h2>Metrics by stage</h2><p class="hint">Bars are the mean of the versions '
        f'in each stage; dots are the versions.</p><div class="charts">{cards}</div></section>'
    )
