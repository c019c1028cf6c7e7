"""The JSON store's save cost as the registry grows, compactions included."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

from harness import (
    SMALL_METRICS,
    SMALL_PARAMS,
    Figure,
    median,
    ms,
    small_model,
)
from population import populate, synthetic_rows


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def bench_json_growth(work: Path, quick: bool) -> list[Figure]:
    """Saves into a JSON store of ``size`` versions against the same saves into one of 100.

    A save appends a journal line; every so often the journal is folded into
    a new snapshot (a compaction), and that save pays for rewriting the whole
    index. The run is long enough for the big store to compact at least
    once, so the mean, the p99 and the worst save show that cost beside the
    median. Both stores are filled through ``add_many``.
    """
    from modelshelf import ModelRegistry
    from modelshelf_plugins.json_store import MIN_COMPACTION_LINES

    size = 2_000 if quick else 10_000
    model = small_model()
    registries = []
    for versions in (100, size):
        registry = ModelRegistry(work / f"json-growth-{versions}", store="json")
        populate(registry, synthetic_rows(versions))
        registries.append(registry)
    small, large = registries
    journal = large.store.directory / "index.journal"  # type: ignore[attr-defined]
    # The big store folds after max(MIN_COMPACTION_LINES, size) journal lines or
    # json_store.MAX_JOURNAL_BYTES of journal, whichever comes first: save until it has
    # folded once, then a few hundred more (bounded, in case it never does).
    limit = max(MIN_COMPACTION_LINES, size) + 1000
    after = 300

    def save(registry: Any) -> float:
        start = time.perf_counter()
        registry.save_model(model, "growth", metrics=SMALL_METRICS, hyperparameters=SMALL_PARAMS)
        return time.perf_counter() - start

    mine: list[float] = []
    floor: list[float] = []

    def generation() -> int:
        """The snapshot generation the journal belongs to: a fold raises it."""
        with open(journal, "rb") as handle:
            return int(json.loads(handle.readline())["generation"])

    first = generation()
    saves = 0
    folded_at: int | None = None
    while saves < limit and (folded_at is None or saves < folded_at + after):
        pair = [(large, mine), (small, floor)]
        for registry, sink in pair if saves % 2 else reversed(pair):
            sink.append(save(registry))
        saves += 1
        if folded_at is None and saves % 50 == 0 and generation() > first:
            folded_at = saves
    compactions = generation() - first
    for registry in registries:
        registry.close()
    label = "same save at 100 versions"
    note = f"{saves} saves, {compactions} compaction(s) of the {size:,}-version index"
    name = f"JSON store: save at {size:,} versions"
    mean = sum(mine) / len(mine)
    return [
        Figure(
            "json-growth",
            f"{name} (median)",
            "ms",
            ms(median(mine)),
            ms(median(floor)),
            label,
            target="ratio <= 2",
            samples=saves,
            note=note,
        ),
        Figure(
            "json-growth",
            f"{name} (mean: compactions amortised)",
            "ms",
            ms(mean),
            ms(sum(floor) / len(floor)),
            label,
            target="ratio <= 2",
            samples=saves,
        ),
        Figure(
            "json-growth",
            f"{name} (p99)",
            "ms",
            ms(_percentile(mine, 0.99)),
            ms(_percentile(floor, 0.99)),
            label,
            samples=saves,
        ),
        Figure(
            "json-growth",
            f"{name} (worst: a compaction)",
            "ms",
            ms(max(mine)),
            ms(max(floor)),
            label,
            samples=saves,
        ),
    ]
