"""Save and load: durable saves and verified loads beside the hand-written floor."""

from __future__ import annotations

import hashlib
import io
import json
import os
import uuid
from typing import TYPE_CHECKING

from harness import (
    SMALL_METRICS,
    SMALL_PARAMS,
    Figure,
    durable_sqlite,
    forest_model,
    fsync_dir,
    interleaved,
    median,
    ms,
    small_model,
)

if TYPE_CHECKING:
    from pathlib import Path

# -- save and load ---------------------------------------------------------------------


def bench_save_load(work: Path, quick: bool, sections: set[str]) -> list[Figure]:
    import joblib

    from modelshelf import ModelRegistry

    model = small_model()
    repeat = 20 if quick else 200
    registry = ModelRegistry(work / "ours")
    floor_dir = work / "floor" / "models" / "bench"
    floor_dir.mkdir(parents=True)
    conn = durable_sqlite(work / "floor" / "registry.db")
    row = json.dumps({"metrics": SMALL_METRICS, "hyperparameters": SMALL_PARAMS, "x": "y" * 600})
    counter = iter(range(10**9))
    figures = []

    def ours_save() -> None:
        registry.save_model(model, "bench", metrics=SMALL_METRICS, hyperparameters=SMALL_PARAMS)

    def floor_save() -> None:
        n = next(counter)
        final = floor_dir / f"{uuid.uuid4().hex}.joblib"
        temp = floor_dir / f".{final.name}.tmp"
        with open(temp, "xb") as handle:
            joblib.dump(model, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, final)
        fsync_dir(floor_dir)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO models (name, version, data) VALUES (?, ?, ?)",
            ("bench", f"1.0.{n}", row),
        )
        conn.execute("COMMIT")

    if "save" in sections:
        mine, floor = interleaved(ours_save, floor_save, repeat)
        figures.append(
            Figure(
                "save",
                "save small model (SQLite, durable)",
                "ms",
                ms(median(mine)),
                ms(median(floor)),
                "joblib.dump+fsync+rename+INSERT",
                target="ratio <= 1.3",
                samples=repeat,
            )
        )
    else:
        for _ in range(5):
            ours_save()

    if "load" in sections:
        registry.save_model(forest_model(), "forest")
        for name, label in (("bench", "small model"), ("forest", "forest (100 trees)")):
            target = registry.get_metadata(model_name=name)
            path = registry.storage.local_path(target.artifact.key)
            assert path is not None
            model_id = target.model_id

            def ours_load(model_id: int = model_id) -> None:
                loaded = registry.load(model_id).model
                assert loaded is not None

            def floor_load(path: Path = path) -> None:
                with open(path, "rb") as handle:
                    data = handle.read()
                hashlib.sha256(data).hexdigest()
                joblib.load(io.BytesIO(data))

            count = repeat * 2 if name == "bench" else max(6, repeat // 4)
            mine, floor = interleaved(ours_load, floor_load, count)
            figures.append(
                Figure(
                    "load",
                    f"load {label} by id (verified)",
                    "ms",
                    ms(median(mine)),
                    ms(median(floor)),
                    "read+sha256+joblib.load",
                    target="ratio <= 1.15",
                    samples=count,
                    note=f"{target.artifact.size / 1024:,.0f} KiB",
                )
            )
    registry.close()
    conn.close()
    return figures
