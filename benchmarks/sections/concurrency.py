"""Concurrent saves from several processes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import (
    RUN,
    SMALL_METRICS,
    Figure,
    median,
    small_model,
)


def child_concurrent(path: str, count: str, store: str) -> dict[str, Any]:
    import joblib

    from modelshelf import ModelRegistry

    model = joblib.load(Path(path) / "model.joblib")
    registry = ModelRegistry(Path(path) / "registry", store=store)
    print("ready", flush=True)
    sys.stdin.readline()
    ids = [registry.save_model(model, "shared", metrics=SMALL_METRICS) for _ in range(int(count))]
    registry.close()
    return {"end": time.time(), "ids": ids}


def saving_round(work: Path, store: str, procs: int, count: int) -> float:
    """``procs`` processes save ``count`` versions each to one name, started
    together; the aggregate saves per second, after checking none was lost."""
    import joblib

    from modelshelf import ModelRegistry

    base = Path(tempfile.mkdtemp(prefix=f"{store}-{procs}-", dir=work))
    joblib.dump(small_model(), base / "model.joblib")
    command = [sys.executable, str(RUN), "_child", "concurrent"]
    children = [
        subprocess.Popen(
            [*command, str(base), str(count), store],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(procs)
    ]
    for child in children:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
    start = time.time()
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    results = []
    for child in children:
        out, _ = child.communicate()
        if child.returncode:
            raise RuntimeError(f"concurrent save child failed ({child.returncode})")
        results.append(json.loads(out.strip().splitlines()[-1]))
    elapsed: float = max(r["end"] for r in results) - start
    with ModelRegistry(base / "registry", store=store) as registry:
        versions = {m.version for m in registry.get_model_versions("shared")}
    if len(versions) != procs * count:
        raise RuntimeError(f"{store}: {len(versions)} versions for {procs * count} saves")
    shutil.rmtree(base)
    return procs * count / elapsed


def bench_concurrency(work: Path, quick: bool) -> list[Figure]:
    count = 10 if quick else 40
    rounds = 1 if quick else 3
    figures = []
    for store in ("sqlite", "json"):
        rates: dict[int, list[float]] = {1: [], 2: [], 4: []}
        for _ in range(rounds):  # rounds interleave the levels, so drifting load hits all
            for procs in rates:
                rates[procs].append(saving_round(work, store, procs, count))
        for procs in (2, 4):
            figures.append(
                Figure(
                    "concurrency",
                    f"{store}: {procs} processes saving to one name",
                    "saves/s",
                    median(rates[procs]),
                    median(rates[1]),
                    "1 process",
                    target="ratio >= 1.5" if procs == 4 and store == "sqlite" else "",
                    samples=rounds,
                )
            )
    return figures
