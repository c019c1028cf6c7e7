"""How fast ``modelshelf ui`` answers with 100,000 versions of one model name.

    python benchmarks/bench_ui.py                       # SQLite, 100,000 versions
    python benchmarks/bench_ui.py --versions 5000       # smoke run
    python benchmarks/bench_ui.py --store postgresql    # the local test server
    python benchmarks/bench_ui.py --store json

The registry is filled through the store's public bulk path (``add_many``
where the store has one, else ``add`` per version): one name ``big`` with
``--versions`` versions and four metrics each, a few in Staging, Production
and Archived, every tenth tagged, plus nine small names. A filled SQLite or
JSON registry is kept under ``--cache`` and reused by the next run.

Each page is requested through the real app (routing, the registry's thread,
every store query, template rendering) with Starlette's TestClient; the
figure is the median and the worst of ``--repeats`` requests, in
milliseconds, beside the 300 ms target. The pages read one sorted page and a
count from the store, so the figures should not grow with the registry.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelshelf import ModelRegistry

TARGET_MS = 300.0
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
BASE = "http://127.0.0.1:8008"


def drafts(count: int, name: str, seed: int) -> list[Any]:
    from modelshelf.metadata import ArtifactRef, ModelDraft, Stage, TrainingInfo

    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    stages = {count - 1: Stage.PRODUCTION, count - 2: Stage.STAGING, count - 3: Stage.ARCHIVED}
    out = []
    for i in range(count):
        out.append(
            ModelDraft(
                model_name=name,
                model_type=f"Type{i % 10}",
                metrics={
                    "f1": round(rng.uniform(0.5, 1.0), 6),
                    "accuracy": round(rng.uniform(0.5, 1.0), 6),
                    "roc_auc": round(rng.uniform(0.5, 1.0), 6),
                    "loss": round(rng.uniform(0.01, 1.0), 6),
                },
                hyperparameters={"C": rng.choice([0.1, 1.0, 10.0]), "max_iter": 1000},
                description=f"synthetic version {i} for the UI benchmark",
                tags={"team": "vision"} if i % 10 == 0 else {},
                stage=stages.get(i, Stage.NONE),
                created_at=start + timedelta(seconds=i),
                # Explicit versions: the store checks one index entry per add, where
                # asking it for the next version would scan the name's versions each time.
                requested_version=f"1.{i // 1000}.{i % 1000}",
                training_info=TrainingInfo(dataset="bench.csv", n_samples=150),
                artifact=ArtifactRef(
                    key=f"bulk/{name}/{i}.joblib", serializer="joblib", sha256="0" * 64, size=1
                ),
            )
        )
    return out


def fill(registry: ModelRegistry, versions: int) -> float:
    """Fill through the store's public add_many / add; returns the seconds taken."""
    start = time.perf_counter()
    batches = [("big", versions)] + [(f"small-{k}", 20) for k in range(9)]
    add_many = getattr(registry.store, "add_many", None)
    for seed, (name, count) in enumerate(batches):
        batch = drafts(count, name, seed)
        if add_many is not None:
            for first in range(0, len(batch), 10_000):
                add_many(batch[first : first + 10_000], registry.versioning)
        else:
            for draft in batch:
                registry.store.add(draft, registry.versioning)
    registry.set_model_info("big", description="100,000 versions", tags={"team": "vision"})
    return time.perf_counter() - start


def open_registry(
    args: argparse.Namespace, workdir: Path, schema: str
) -> tuple[ModelRegistry, float | None]:
    from modelshelf import ModelRegistry

    if args.store == "postgresql":
        url = f"{args.url}{'&' if '?' in args.url else '?'}schema={schema}"
        registry = ModelRegistry(workdir / "pg", store="postgresql", store_url=url)
        return registry, fill(registry, args.versions)
    path = Path(args.cache) / f"ui-{args.store}-{args.versions}"
    ready = path / "FILLED"
    registry = ModelRegistry(path, store=args.store)
    if ready.exists():
        return registry, None
    seconds = fill(registry, args.versions)
    ready.write_text("ok\n")
    return registry, seconds


def measure(client: Any, url: str, repeats: int, headers: dict[str, str]) -> dict[str, Any]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        response = client.get(url, headers=headers)
        times.append((time.perf_counter() - start) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{url}: HTTP {response.status_code}\n{response.text[:500]}")
    return {
        "median_ms": statistics.median(times),
        "max_ms": max(times),
        "bytes": len(response.content),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", type=int, default=100_000)
    parser.add_argument("--store", choices=["sqlite", "json", "postgresql"], default="sqlite")
    parser.add_argument("--url", default=DEFAULT_URL, help="PostgreSQL server (--store postgresql)")
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "modelshelf-bench"))
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--json", dest="json_out", help="also write the figures here")
    args = parser.parse_args()
    schema = f"ui_{uuid.uuid4().hex[:12]}"
    try:
        results, total = run(args, schema)
    finally:
        if args.store == "postgresql":
            import psycopg

            with psycopg.connect(args.url, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    report(args, results, total)


def run(args: argparse.Namespace, schema: str) -> tuple[dict[str, Any], int]:
    from starlette.testclient import TestClient

    from modelshelf.ui import create_app

    with tempfile.TemporaryDirectory() as tmp:
        registry, fill_seconds = open_registry(args, Path(tmp), schema)
        if fill_seconds is not None:
            print(f"filled {args.versions:,} versions in {fill_seconds:.1f} s ({args.store})")
        total = registry.count_models(model_name="big")
        last = (total + 49) // 50
        some = registry.list_models(model_name="big", order_by="f1", descending=True, limit=10)
        pages = {
            "home (10 names)": "/",
            "versions, newest first": "/models/big",
            "versions, page 2": "/models/big?page=2",
            f"versions, last page ({last:,})": f"/models/big?page={last}",
            "sorted by f1, best first": "/models/big?sort=f1&desc=1",
            "sorted by f1, last page": f"/models/big?sort=f1&desc=1&page={last}",
            "sorted by loss, page 1000": "/models/big?sort=loss&desc=0&page=1000",
            "filter f1>=0.99": "/models/big?metrics=f1%3E%3D0.99",
            "filter f1>=0.9, loss<=0.1, sorted": (
                "/models/big?metrics=f1%3E%3D0.9%2Closs%3C%3D0.1&sort=accuracy"
            ),
            "filter stage=Production": "/models/big?stage=Production",
            "filter tag team=vision": "/models/big?tag=team%3Dvision",
            "filter saved in one day": "/models/big?after=2026-01-01&before=2026-01-02",
            "version page": f"/models/big/versions/{some[0].version}",
            "compare 10 versions": "/compare?" + "&".join(f"v={m.model_id}" for m in some),
        }
        results: dict[str, Any] = {}
        with TestClient(create_app(registry), base_url=BASE) as client:
            client.get("/models/big")  # warm the store's caches and the templates
            for label, url in pages.items():
                results[label] = measure(client, url, args.repeats, {})
            results["live poll, versions page"] = measure(
                client, "/models/big?sort=f1&desc=1", args.repeats, {"X-Modelshelf-Poll": "1"}
            )
        registry.close()
    return results, total


def report(args: argparse.Namespace, results: dict[str, Any], total: int) -> None:
    width = max(map(len, results))
    print(
        f"\nmodelshelf ui, {args.store}, {total:,} versions of one name; target {TARGET_MS:.0f} ms"
    )
    print(f"{'page':<{width}}  median ms  worst ms  result")
    worst = 0.0
    for label, figure in results.items():
        verdict = "PASS" if figure["max_ms"] < TARGET_MS else "MISS"
        worst = max(worst, figure["max_ms"])
        print(f"{label:<{width}}  {figure['median_ms']:9.1f}  {figure['max_ms']:8.1f}  {verdict}")
    if args.json_out:
        Path(args.json_out).write_text(
            json.dumps({"store": args.store, "versions": total, "pages": results}, indent=2)
        )
    sys.exit(0 if worst < TARGET_MS else 1)


if __name__ == "__main__":
    main()
