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
    timed,
)
from population import Row, populate, synthetic_rows

# -- queries at scale ------------------------------------------------------------------


@dataclass
class QuerySpec:
    label: str
    ours: Callable[[], object]
    floor: Callable[[], object]
    floor_label: str
    #: A target of its own (materialising figures: ratio to the floor).
    target: str = ""
    #: Repeats, when the spec reads so many rows that the section's count is too many.
    repeat: int | None = None
    #: A second, narrower floor whose ratio goes in the note.
    plain: Callable[[], object] | None = None
    plain_label: str = ""


#: The columns the SQL stores read for every version: the JSON document plus
#: the mutable columns and side tables kept beside it. Word for word the
#: SELECT of ``modelshelf.sql.Statements`` in each store's dialect
#: (tests/test_query_plans.py checks it), written out so the floor is plain SQL.
SQLITE_COLUMNS = """
SELECT models.id, models.stage, models.description, models.data,
       (SELECT json_group_object(t."key", t.value) FROM tags t WHERE t.model_id = models.id),
       (SELECT json_group_array(a.alias) FROM aliases a WHERE a.model_id = models.id)
FROM models
"""
POSTGRES_COLUMNS = """
SELECT models.id, models.stage, models.description, models.data,
       (SELECT json_object_agg(t.key, t.value)::text FROM tags t WHERE t.model_id = models.id),
       (SELECT array_agg(a.alias) FROM aliases a WHERE a.model_id = models.id)
FROM models
"""
MATERIALISE = "ratio <= 2"


def _decoded(rows: list[Any]) -> list[Any]:
    """The floor's own work on each row: ``json.loads`` of every JSON column."""
    loads = json.loads
    return [
        (
            model_id,
            stage,
            description,
            loads(data),
            loads(tags) if tags else None,
            (loads(aliases) if isinstance(aliases, str) else aliases),
        )
        for model_id, stage, description, data, tags, aliases in rows
    ]


def materialising(
    registry: Any, name: str, run: Callable[[str, tuple[Any, ...]], list[Any]], columns: str
) -> list[QuerySpec]:
    """``list_models()`` and ``get_model_versions()`` beside the same SELECT and
    ``json.loads`` of the same columns, by hand: what is left is the cost of
    turning rows into ModelMetadata."""
    mark = "?" if "json_group_object" in columns else "%s"  # sqlite3's or psycopg's
    every = f"{columns} WHERE NOT checkpoint ORDER BY models.id"
    named = f"{columns} WHERE model_name = {mark} AND NOT checkpoint ORDER BY models.id"
    plain_every = "SELECT id, data FROM models WHERE NOT checkpoint ORDER BY id"
    plain_named = (
        f"SELECT id, data FROM models WHERE model_name = {mark} AND NOT checkpoint "  # noqa: S608 - a placeholder; the value is bound
        "ORDER BY id"
    )

    def plain(sql: str, params: tuple[Any, ...]) -> Callable[[], object]:
        return lambda: [json.loads(data) for _, data in run(sql, params)]

    label = "same SELECT + json.loads of its JSON columns"
    return [
        QuerySpec(
            "list_models(): every version",
            lambda: registry.list_models(),
            lambda: _decoded(run(every, ())),
            label,
            target=MATERIALISE,
            plain=plain(plain_every, ()),
            plain_label="SELECT id, data + json.loads",
        ),
        QuerySpec(
            "get_model_versions(name)",
            lambda: registry.get_model_versions(name),
            lambda: _decoded(run(named, (name,))),
            label,
            target=MATERIALISE,
            plain=plain(plain_named, (name,)),
            plain_label="SELECT id, data + json.loads",
        ),
    ]


def sqlite_queries(registry: Any, rows: list[Row]) -> list[QuerySpec]:
    raw = sqlite3.connect(registry.store.path)
    name, version = rows[len(rows) // 2].model_name, rows[len(rows) // 2].version

    def raw_rows(sql: str, params: tuple[Any, ...]) -> list[Any]:
        return [json.loads(data) for _, data in raw.execute(sql, params).fetchall()]

    def run(sql: str, params: tuple[Any, ...]) -> list[Any]:
        return raw.execute(sql, params).fetchall()

    return [
        *materialising(registry, name, run, SQLITE_COLUMNS),
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
    dicts = [v["data"] for v in read_json_index(registry.store.directory)]
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
            "list_models(): every version",
            lambda: registry.list_models(),
            lambda: [d for d in dicts if not d["checkpoint"]],
            "scan of plain dicts",
            target=MATERIALISE,
        ),
        QuerySpec(
            "get_model_versions(name)",
            lambda: registry.get_model_versions(name),
            lambda: [d for d in dicts if d["model_name"] == name and not d["checkpoint"]],
            "scan of plain dicts",
            target=MATERIALISE,
        ),
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
        count = spec.repeat or repeat
        if spec.target and size >= 100_000:
            count = min(count, 7)  # every row of 100,000: each run takes seconds
        mine, floor = interleaved(spec.ours, spec.floor, count, warmup=1)
        target = spec.target
        if not target and size >= 100_000 and limit_ms and not spec.label.startswith("get"):
            target = f"ours <= {limit_ms:g}"
        extra = ""
        if spec.plain is not None:
            plain = median(timed(spec.plain, max(3, count // 2), warmup=1))
            extra = f"; {median(mine) / plain:.2f}x of {spec.plain_label}"
        figures.append(
            Figure(
                "queries",
                f"{store} {size:,}: {spec.label}",
                "ms",
                ms(median(mine)),
                ms(median(floor)),
                spec.floor_label,
                target=target,
                samples=count,
                note=note + extra,
            )
        )
    return figures


#: How long opening a JSON store (snapshot + journal into memory) may take.
JSON_OPEN_MS = {10_000: 200.0, 100_000: 2000.0}


def read_json_index(directory: Path) -> list[dict[str, Any]]:
    """Every version entry of a JSON store's files, as plain dicts: the floor of
    opening one (its snapshot and journal read and parsed, nothing built)."""
    versions: list[dict[str, Any]] = []
    snapshot = directory / "index.json"
    if snapshot.exists():
        versions += json.loads(snapshot.read_bytes())["versions"]
    journal = directory / "index.journal"
    if journal.exists():
        for line in journal.read_bytes().splitlines()[1:]:
            entry = json.loads(line)
            for part in entry["entries"] if entry["op"] == "batch" else [entry]:
                if part["op"] == "add":
                    versions.append(part)
    return versions


def json_open_figure(path: Path, size: int, repeat: int) -> Figure:
    from modelshelf import ModelRegistry

    def ours() -> None:
        with ModelRegistry(path, store="json") as registry:
            registry.count_models()

    mine, floor = interleaved(ours, lambda: read_json_index(path), repeat, warmup=1)
    limit = JSON_OPEN_MS.get(size)
    return Figure(
        "queries",
        f"json {size:,}: open registry + count",
        "ms",
        ms(median(mine)),
        ms(median(floor)),
        "read + json.loads of its files",
        target="" if limit is None else f"ours <= {limit:g}",
        samples=repeat,
    )


def bench_queries(work: Path, quick: bool) -> list[Figure]:
    from modelshelf import ModelRegistry

    sizes = [1_000, 10_000] if quick else [1_000, 100_000]
    json_sizes = [1_000, 10_000] if quick else [1_000, 10_000, 100_000]
    repeat = 15 if quick else 60
    figures: list[Figure] = []
    for size in sorted({*sizes, *json_sizes}):
        rows = synthetic_rows(size)
        for store, specs, limit_ms in (
            ("sqlite", sqlite_queries, 5.0),
            ("json", json_queries, 0.0),
        ):
            if size not in (json_sizes if store == "json" else sizes):
                continue
            path = work / f"{store}-{size}"
            registry = ModelRegistry(path, store=store)
            started = time.perf_counter()
            populate(registry, rows)
            registry.close()
            built = time.perf_counter() - started
            note = f"filled by add_many in {built:.1f} s"
            if store == "json":
                figures.append(json_open_figure(path, size, 3 if size >= 100_000 else 7))
            if size in sizes:
                registry = ModelRegistry(path, store=store)
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
        raw.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))

        def raw_rows(query: str, params: tuple[Any, ...]) -> list[Any]:
            rows = raw.execute(query, params).fetchall()
            return [json.loads(data) for _, data in rows]

        def run(query: str, params: tuple[Any, ...]) -> list[Any]:
            return list(raw.execute(query, params).fetchall())

        kind = "LogisticRegression"
        specs = [
            *materialising(registry, "model-42", run, POSTGRES_COLUMNS),
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
