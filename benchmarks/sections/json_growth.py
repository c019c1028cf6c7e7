"""The JSON store's save cost as the registry grows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

from harness import (
    SMALL_METRICS,
    SMALL_PARAMS,
    Figure,
    interleaved,
    median,
    ms,
    small_model,
)
from population import populate_json, synthetic_rows


def bench_json_growth(work: Path, quick: bool) -> list[Figure]:
    """A JSON-store save at 10,000 versions against one at 100."""
    from modelshelf import ModelRegistry

    model = small_model()
    repeat = 15 if quick else 60
    registries = []
    for size in (100, 10_000):
        registry = ModelRegistry(work / f"json-growth-{size}", store="json")
        populate_json(registry, synthetic_rows(size))
        registries.append(registry)
    small, large = registries

    def save(registry: Any) -> Callable[[], object]:
        return lambda: registry.save_model(
            model, "growth", metrics=SMALL_METRICS, hyperparameters=SMALL_PARAMS
        )

    mine, floor = interleaved(save(large), save(small), repeat)
    for registry in registries:
        registry.close()
    return [
        Figure(
            "json-growth",
            "JSON store: save at 10,000 versions",
            "ms",
            ms(median(mine)),
            ms(median(floor)),
            "same save at 100 versions",
            target="ratio <= 2",
            samples=repeat,
        )
    ]
