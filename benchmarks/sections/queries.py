"""Queries at scale: bulk-filled registries (SQLite, JSON, PostgreSQL) and the
filter shapes teams use, each beside a hand-written SQL or dict-scan floor."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
import uuid
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

from harness import (
    HERE,
    Figure,
    interleaved,
    median,
    ms,
    skipped,
)
from population import Row, populate_json, populate_sqlite, synthetic_rows

# -- queries at scale ------------------------------------------------------------------


@dataclass
class QuerySpec:
    label: str
    ours: Callable[[], object]
    floor: Callable[[], object]
    floor_label: str


def sqlite_queries(registry: Any, rows: list[Row]) -> list[QuerySpec]:
    raw = sqlite3.connect(registry.store.path)
    name, version = rows[len(rows) // 2].model_name, rows[len(rows) // 2].version

    def raw_rows(sql: str, params: tuple[Any, ...]) -> list[Any]:
        return [json.loads(data) for _, data in raw.execute(sql, params).fetchall()]

    return [
        QuerySpec(
            "list: type + min_f1, first 100",
            lambda: registry.list_models(model_type="Type3", min_f1=0.9, limit=100),
            lambda: raw_rows(
                "SELECT id, data FROM models WHERE model_type = ? AND checkpoint = 0 AND "
                "EXISTS (SELECT 1 FROM metrics m WHERE m.model_id = models.id "
                "AND m.name = 'f1' AND m.value >= ?) ORDER BY id LIMIT 100",
                ("Type3", 0.9),
            ),
            "hand-written SQL + json.loads",
        ),
        QuerySpec(
            "best by f1 within a type",
            lambda: registry.get_best_model("f1", model_type="Type3"),
            lambda: raw_rows(
                "SELECT models.id, data FROM metrics r JOIN models ON models.id = r.model_id "
                "WHERE r.name = 'f1' AND models.model_type = ? AND models.checkpoint = 0 "
                "ORDER BY r.value DESC, r.model_id DESC LIMIT 1",
                ("Type3",),
            ),
            "hand-written SQL + json.loads",
        ),
        QuerySpec(
            "get by reference name:version",
            lambda: registry.get_metadata(f"{name}:{version}"),
            lambda: raw_rows(
                "SELECT id, data FROM models WHERE model_name = ? AND version = ?",
                (name, version),
            ),
            "hand-written SQL + json.loads",
        ),
    ]


def json_queries(registry: Any, rows: list[Row]) -> list[QuerySpec]:
    snapshot = json.loads((registry.store.snapshot_path).read_bytes())
    dicts = [v["data"] for v in snapshot["versions"]]
    by_ref = {(d["model_name"], d["version"]): d for d in dicts}
    name, version = rows[len(rows) // 2].model_name, rows[len(rows) // 2].version

    def floor_list() -> object:
        hits = [d for d in dicts if d["model_type"] == "Type3" and d["metrics"]["f1"] >= 0.9]
        return hits[:100]

    def floor_best() -> object:
        return max(
            (d for d in dicts if d["model_type"] == "Type3"),
            key=lambda d: (d["metrics"]["f1"], d["model_id"]),
        )

    return [
        QuerySpec(
            "list: type + min_f1, first 100",
            lambda: registry.list_models(model_type="Type3", min_f1=0.9, limit=100),
            floor_list,
            "scan of plain dicts",
        ),
        QuerySpec(
            "best by f1 within a type",
            lambda: registry.get_best_model("f1", model_type="Type3"),
            floor_best,
            "scan of plain dicts",
        ),
        QuerySpec(
            "get by reference name:version",
            lambda: registry.get_metadata(f"{name}:{version}"),
            lambda: by_ref[(name, version)],
            "dict lookup",
        ),
    ]


def postgresql_available() -> str | None:
    """Why PostgreSQL figures cannot run, or None when they can."""
    try:
        distribution("modelshelf-postgresql")
    except PackageNotFoundError:
        return "modelshelf-postgresql plugin is not installed"
    if not (HERE / "bench_postgresql.py").exists():
        return "benchmarks/bench_postgresql.py is missing"
    return None


def time_specs(
    specs: list[QuerySpec], store: str, size: int, repeat: int, limit_ms: float, note: str
) -> list[Figure]:
    figures = []
    for spec in specs:
        assert spec.ours() is not None
        mine, floor = interleaved(spec.ours, spec.floor, repeat)
        target = ""
        if size >= 100_000 and limit_ms and not spec.label.startswith("get"):
            target = f"ours <= {limit_ms:g}"
        figures.append(
            Figure(
                "queries",
                f"{store} {size:,}: {spec.label}",
                "ms",
                ms(median(mine)),
                ms(median(floor)),
                spec.floor_label,
                target=target,
                samples=repeat,
                note=note,
            )
        )
    return figures


def bench_queries(work: Path, quick: bool) -> list[Figure]:
    from modelshelf import ModelRegistry

    sizes = [1_000, 10_000] if quick else [1_000, 100_000]
    repeat = 15 if quick else 60
    figures: list[Figure] = []
    for size in sizes:
        rows = synthetic_rows(size)
        for store, populate, specs, limit_ms in (
            ("sqlite", populate_sqlite, sqlite_queries, 5.0),
            ("json", populate_json, json_queries, 0.0),
        ):
            path = work / f"{store}-{size}"
            registry = ModelRegistry(path, store=store)
            started = time.perf_counter()
            populate(registry, rows)
            registry.close()
            built = time.perf_counter() - started
            started = time.perf_counter()
            registry = ModelRegistry(path, store=store)
            registry.count_models()
            opened = time.perf_counter() - started
            note = f"filled in {built:.1f} s, opened in {ms(opened):.0f} ms"
            figures += time_specs(specs(registry, rows), store, size, repeat, limit_ms, note)
            registry.close()
    reason = postgresql_available()
    if reason is not None:
        figures.append(skipped("queries", "postgresql: every query figure", reason))
    else:
        for size in sizes:
            figures += bench_postgresql_queries(work, size, repeat)
    return figures


def bench_postgresql_queries(work: Path, size: int, repeat: int) -> list[Figure]:
    """The same three queries on the PostgreSQL store, filled by its COPY bulk path."""
    sys.path.insert(0, str(HERE))
    import bench_postgresql as pg
    from modelshelf_postgresql import connect
    from psycopg import sql

    from modelshelf import ModelRegistry, ModelShelfError

    url = os.environ.get("MODELSHELF_DATABASE_URL", pg.DEFAULT_URL)
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    schema_url = pg._with_schema(url, schema)
    try:
        registry = ModelRegistry(work / f"pg-{size}", store="postgresql", store_url=schema_url)
    except ModelShelfError as exc:
        return [skipped("queries", f"postgresql {size:,}: every query figure", str(exc))]
    raw = connect(schema_url)
    try:
        built = pg.fill(registry.store, size)  # type: ignore[arg-type]
        pg._analyze(schema_url)
        raw.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))

        def raw_rows(query: str, params: tuple[Any, ...]) -> list[Any]:
            rows = raw.execute(query, params).fetchall()
            return [json.loads(data) for _, data in rows]

        kind = "LogisticRegression"
        specs = [
            QuerySpec(
                "list: type + min_f1, first 100",
                lambda: registry.list_models(model_type=kind, min_f1=0.9, limit=100),
                lambda: raw_rows(
                    "SELECT id, data FROM models WHERE model_type = %s AND NOT checkpoint AND "
                    "EXISTS (SELECT 1 FROM metrics m WHERE m.model_id = models.id "
                    "AND m.name = 'f1' AND m.value >= %s) ORDER BY id LIMIT 100",
                    (kind, 0.9),
                ),
                "hand-written SQL + json.loads",
            ),
            QuerySpec(
                "best by f1 within a type",
                lambda: registry.get_best_model("f1", model_type=kind),
                lambda: raw_rows(
                    "SELECT models.id, data FROM metrics r JOIN models ON models.id = r.model_id "
                    "WHERE r.name = 'f1' AND models.model_type = %s AND NOT models.checkpoint "
                    "ORDER BY r.value DESC, r.model_id DESC LIMIT 1",
                    (kind,),
                ),
                "hand-written SQL + json.loads",
            ),
            QuerySpec(
                "get by reference name:version",
                lambda: registry.get_metadata("model-42:1.0.7"),
                lambda: raw_rows(
                    "SELECT id, data FROM models WHERE model_name = %s AND version = %s",
                    ("model-42", "1.0.7"),
                ),
                "hand-written SQL + json.loads",
            ),
        ]
        note = f"filled by COPY in {built:.1f} s"
        return time_specs(specs, "postgresql", size, repeat, 10.0, note)
    finally:
        raw.close()
        registry.close()
        pg._drop_schema(schema_url)
