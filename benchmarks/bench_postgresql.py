"""PostgreSQL store figures: concurrent saves, and list/best at 100,000 versions.

    python benchmarks/bench_postgresql.py                  # full run (about a minute)
    python benchmarks/bench_postgresql.py --quick          # smoke run (seconds)
    python benchmarks/bench_postgresql.py --versions 100000 --json out.json

The database comes from ``--url``, else ``MODELSHELF_DATABASE_URL``, else the
local test server (``postgresql://postgres@127.0.0.1:5432/test``). Everything
happens in a schema of its own, dropped at the end.

* ``concurrent saves``: W processes each save S real scikit-learn models to
  one model name through ``ModelRegistry`` (PostgreSQL + local artifacts),
  started together; the figure is saves per second over all of them, beside
  one process doing the same alone. The run fails if any version is lost or
  assigned twice.
* ``list`` / ``best``: the store is filled with N versions across 100 names
  through the bulk path (:meth:`PostgresStore.add_many`, COPY), then the
  queries the registry pushes down are timed (median of repeats). The plan of
  the best-by-metric query is printed so index use can be checked.

``fill(store, n)`` and ``concurrent_saves(url, workers, each)`` are importable
for other benchmark drivers.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from modelshelf_postgresql import PostgresStore

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _median_ms(action: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def fill(store: PostgresStore, versions: int, *, names: int = 100, batch: int = 10_000) -> float:
    """Add ``versions`` versions across ``names`` names with the bulk path; seconds taken."""
    from modelshelf.metadata import ArtifactRef, ModelDraft, TrainingInfo
    from modelshelf_plugins.semver import SemverScheme

    scheme = SemverScheme()
    start_at = datetime(2025, 1, 1, tzinfo=timezone.utc)
    started = time.perf_counter()
    done = 0
    while done < versions:
        drafts = []
        for i in range(done, min(done + batch, versions)):
            drafts.append(
                ModelDraft(
                    model_name=f"model-{i % names}",
                    model_type="RandomForestClassifier" if i % 3 else "LogisticRegression",
                    metrics={
                        "f1": (i * 7919 % 10_000) / 10_000,
                        "accuracy": (i * 104_729 % 10_000) / 10_000,
                        "auc": (i * 1_299_709 % 10_000) / 10_000,
                        "loss": (i * 15_485_863 % 10_000) / 10_000,
                    },
                    hyperparameters={"n_estimators": 100 + i % 50, "max_depth": i % 12},
                    tags={"team": f"team-{i % 7}", "dataset": f"ds-{i % 5}"},
                    created_at=start_at + timedelta(seconds=i),
                    training_info=TrainingInfo(dataset=f"ds-{i % 5}", is_ensemble=i % 4 == 0),
                    artifact=ArtifactRef(
                        key=f"model-{i % names}/{uuid.uuid4().hex}.joblib",
                        serializer="joblib",
                        sha256="0" * 64,
                        size=1024,
                    ),
                )
            )
        store.add_many(drafts, scheme)
        done += len(drafts)
    return time.perf_counter() - started


def _save_worker(args: tuple[str, str, int, Any]) -> list[str]:
    url, storage, each, barrier = args
    from sklearn.linear_model import LogisticRegression

    from modelshelf import ModelRegistry

    model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    with ModelRegistry(storage, store="postgresql", store_url=url) as registry:
        barrier.wait()
        return [
            registry.get_metadata(
                registry.save_model(model, "shared", metrics={"f1": 0.5 + n / 1000})
            ).version
            for n in range(each)
        ]


def concurrent_saves(url: str, workers: int, each: int) -> dict[str, float]:
    """Saves per second with ``workers`` processes on one name, and with one process."""
    context = multiprocessing.get_context("spawn")
    results: dict[str, float] = {}
    for label, count in (("one process", 1), (f"{workers} processes", workers)):
        schema_url = _with_schema(url, f"bench_{uuid.uuid4().hex[:10]}")
        with tempfile.TemporaryDirectory() as storage, context.Manager() as manager:
            barrier = manager.Barrier(count + 1)
            with context.Pool(count) as pool:
                pending = pool.map_async(
                    _save_worker, [(schema_url, storage, each, barrier)] * count
                )
                barrier.wait()
                start = time.perf_counter()
                versions = [v for batch in pending.get() for v in batch]
                elapsed = time.perf_counter() - start
        _drop_schema(schema_url)
        expected = {f"1.0.{n}" for n in range(count * each)}
        if len(versions) != len(set(versions)) or set(versions) != expected:
            raise SystemExit(f"lost or duplicate versions with {label}: {sorted(versions)}")
        results[label] = count * each / elapsed
    return results


def _with_schema(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}schema={schema}"


def _drop_schema(url: str) -> None:
    from modelshelf_postgresql import connect
    from psycopg import sql

    schema = url.rsplit("schema=", 1)[1]
    with connect(url) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def queries_at_scale(url: str, versions: int, repeats: int) -> dict[str, Any]:
    """Fill a fresh schema with ``versions`` versions and time the pushed-down queries."""
    from modelshelf_postgresql import PostgresStore

    from modelshelf import ModelRegistry

    schema_url = _with_schema(url, f"bench_{uuid.uuid4().hex[:10]}")
    store = PostgresStore(schema_url)
    figures: dict[str, Any] = {}
    try:
        figures["fill (bulk COPY) s"] = round(fill(store, versions), 2)
        with tempfile.TemporaryDirectory() as storage:
            registry = ModelRegistry(storage, store=store, scoring="composite")
            timed: dict[str, Callable[[], object]] = {
                "count_models()": registry.count_models,
                "list_models(model_name=, min_f1=0.9)": lambda: registry.list_models(
                    model_name="model-42", min_f1=0.9
                ),
                "list_models(order_by='f1', desc, limit=20)": lambda: registry.list_models(
                    order_by="f1", descending=True, limit=20
                ),
                "list_models(tags={team}, min_auc=0.99)": lambda: registry.list_models(
                    tags={"team": "team-3"}, min_auc=0.99
                ),
                "get_model_versions(name) (1,000 rows)": lambda: registry.get_model_versions(
                    "model-7"
                ),
                "get_best_model('f1')": lambda: registry.get_best_model("f1"),
                "get_best_model('loss') (lower is better)": lambda: registry.get_best_model("loss"),
                "get_best_model('f1', model_type=)": lambda: registry.get_best_model(
                    "f1", model_type="LogisticRegression"
                ),
                "get_best_model() composite policy": registry.get_best_model,
                "get_metadata('model-7:latest')": lambda: registry.get_metadata("model-7:latest"),
            }
            for label, action in timed.items():
                figures[f"{label} ms"] = round(_median_ms(action, repeats), 2)
            figures["list_models() all rows ms"] = round(
                _median_ms(registry.list_models, max(1, repeats // 5)), 1
            )
            plan_sql = (
                "SELECT models.id FROM models JOIN metrics r ON r.model_id = models.id "
                "AND r.name = %s WHERE models.checkpoint = false "
                "ORDER BY r.value DESC, models.id DESC LIMIT 1"
            )
            figures["plan of best-by-metric"] = store.explain(plan_sql, ["f1"])
    finally:
        store.close()
        _drop_schema(schema_url)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("MODELSHELF_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--versions", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--saves", type=int, default=25, help="saves per process")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.versions, args.workers, args.saves, args.repeats = 2_000, 2, 3, 3

    figures: dict[str, Any] = {
        "versions": args.versions,
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
    }
    for label, rate in concurrent_saves(args.url, args.workers, args.saves).items():
        figures[f"saves/s, {label} ({args.saves} each, one name)"] = round(rate, 1)
    figures.update(queries_at_scale(args.url, args.versions, args.repeats))

    for key, value in figures.items():
        if isinstance(value, list):
            print(f"{key}:")
            for line in value:
                print(f"    {line}")
        else:
            print(f"{key:<55} {value}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(figures, out, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
