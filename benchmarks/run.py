"""modelshelf benchmarks: every figure beside a floor measured in the same run.

Each figure is the median of repeated runs, printed next to a baseline that
does the unavoidable work by hand on the same machine in the same run (the
two are interleaved, so a noisy neighbour slows both), with the ratio and
PASS/MISS against the target from docs/performance.md.

    python benchmarks/run.py            # the full table (a few minutes)
    python benchmarks/run.py --quick    # a smoke run of every figure (seconds)
    python benchmarks/run.py --only save,load --json out.json

Results go to ``benchmarks/results/latest.json`` unless ``--json`` says
otherwise. ``nox -s bench`` installs what this needs (MLflow in a venv of
its own) and runs it.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import hashlib
import io
import json
import os
import platform
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "latest.json"
SECTIONS = (
    "save",
    "load",
    "queries",
    "json-growth",
    "large",
    "concurrency",
    "startup",
    "mlflow",
)
MIB = 1024 * 1024


# -- figures ---------------------------------------------------------------------------


@dataclass
class Figure:
    """One line of the table: our median, the baseline's, and the verdict."""

    section: str
    name: str
    unit: str
    ours: float | None
    baseline: float | None
    baseline_label: str
    #: "ours/baseline <= x", "ours/baseline >= x", "ours <= x" (absolute), or ""
    target: str = ""
    result: str = ""
    ratio: float | None = None
    note: str = ""
    samples: int = 0

    def judge(self) -> Figure:
        if self.ours is not None and self.baseline:
            self.ratio = self.ours / self.baseline
        if not self.target or self.ours is None:
            self.result = self.result or ("SKIP" if self.ours is None else "")
            return self
        subject, op, bound = self.target.split()
        value = self.ratio if subject == "ratio" else self.ours
        if value is None:
            self.result = "SKIP"
            return self
        limit = float(bound)
        ok = value <= limit if op == "<=" else value >= limit
        self.result = "PASS" if ok else "MISS"
        return self


def skipped(section: str, name: str, reason: str) -> Figure:
    return Figure(section, name, "", None, None, "", result="SKIP", note=reason)


def median(values: list[float]) -> float:
    return statistics.median(values)


def interleaved(
    ours: Callable[[], object], floor: Callable[[], object], repeat: int, warmup: int = 3
) -> tuple[list[float], list[float]]:
    """Time ``ours`` and ``floor`` alternately so drifting load hits both alike."""
    for _ in range(warmup):
        ours()
        floor()
    mine: list[float] = []
    theirs: list[float] = []
    for i in range(repeat):
        pair = [(ours, mine), (floor, theirs)]
        if i % 2:
            pair.reverse()
        for fn, sink in pair:
            start = time.perf_counter()
            fn()
            sink.append(time.perf_counter() - start)
    return mine, theirs


def timed(fn: Callable[[], object], repeat: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def ms(seconds: float) -> float:
    return seconds * 1e3


# -- shared fixtures -------------------------------------------------------------------


def small_model() -> Any:
    """A fitted scikit-learn model of a few KB: the everyday save."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    return LogisticRegression(max_iter=1000).fit(X, y)


def forest_model() -> Any:
    """A typical mid-sized model: a random forest of 100 trees (a few hundred KiB)."""
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier

    X, y = load_iris(return_X_y=True)
    return RandomForestClassifier(n_estimators=100, random_state=0).fit(X, y)


SMALL_METRICS = {"f1": 0.91, "accuracy": 0.93, "roc_auc": 0.97}
SMALL_PARAMS = {"C": 1.0, "max_iter": 1000, "solver": "lbfgs"}


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def durable_sqlite(path: Path) -> sqlite3.Connection:
    """The floor's database, with the durability our store promises."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS models (id INTEGER PRIMARY KEY, name TEXT, "
        "version TEXT, data TEXT)"
    )
    return conn


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
                loaded = registry.load_model(model_id=model_id)
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


# -- bulk population -------------------------------------------------------------------

MODEL_TYPES = [f"Type{i}" for i in range(10)]
TEAMS = ["vision", "nlp", "tabular", "speech", "ranking"]
VERSIONS_PER_NAME = 100


@dataclass
class Row:
    model_id: int
    model_name: str
    version: str
    model_type: str
    metrics: dict[str, float]
    stage: str
    tags: dict[str, str]
    created_at: datetime


def synthetic_rows(n: int, seed: int = 7) -> list[Row]:
    """``n`` versions: 100 per name, ten model types, four metrics, one team tag."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    rows = []
    for i in range(n):
        name_index, patch = divmod(i, VERSIONS_PER_NAME)
        last = patch == VERSIONS_PER_NAME - 1 or i == n - 1
        rows.append(
            Row(
                model_id=i + 1,
                model_name=f"model-{name_index:04d}",
                version=f"1.0.{patch}",
                model_type=MODEL_TYPES[i % len(MODEL_TYPES)],
                metrics={
                    "f1": round(rng.uniform(0.5, 1.0), 6),
                    "accuracy": round(rng.uniform(0.5, 1.0), 6),
                    "roc_auc": round(rng.uniform(0.5, 1.0), 6),
                    "loss": round(rng.uniform(0.01, 1.0), 6),
                },
                stage="Production" if last else "None",
                tags={"team": TEAMS[name_index % len(TEAMS)]},
                created_at=start + timedelta(seconds=i),
            )
        )
    return rows


def template_payload() -> dict[str, Any]:
    """A complete unstructured version, built through the real metadata types."""
    from modelshelf import converter
    from modelshelf.metadata import ArtifactRef, ModelDraft, TrainingInfo, metadata_from_draft

    draft = ModelDraft(
        model_name="template",
        model_type="Type0",
        metrics={"f1": 0.5},
        hyperparameters=SMALL_PARAMS,
        description="synthetic version for benchmarks",
        training_info=TrainingInfo(dataset="bench.csv", n_samples=150),
        feature_names=["a", "b", "c", "d"],
        artifact=ArtifactRef(key="bulk/none.joblib", serializer="joblib", sha256="0" * 64, size=1),
    )
    payload: dict[str, Any] = converter.unstructure(
        metadata_from_draft(draft, model_id=1, version="1.0.0")
    )
    return payload


def payload_for(row: Row, template: dict[str, Any]) -> dict[str, Any]:
    payload = dict(template)
    payload.update(
        model_id=row.model_id,
        model_name=row.model_name,
        version=row.version,
        model_type=row.model_type,
        metrics=row.metrics,
        stage=row.stage,
        tags=row.tags,
        created_at=row.created_at.isoformat(),
        artifact={**template["artifact"], "key": f"bulk/{row.model_id}.joblib"},
    )
    return payload


def populate_sqlite(registry: Any, rows: list[Row]) -> None:
    """Bulk path: rows written straight into the store's schema, one transaction."""
    from modelshelf_plugins.sqlite_store import _MUTABLE_FIELDS, to_micros

    store = registry.store
    template = template_payload()
    sort_key = registry.versioning.sort_key
    models, metrics, tags = [], [], []
    for row in rows:
        payload = payload_for(row, template)
        for key in _MUTABLE_FIELDS:
            payload.pop(key, None)
        models.append(
            (
                row.model_id,
                row.model_name,
                row.version,
                sort_key(row.version),
                row.model_type,
                row.stage,
                "synthetic version for benchmarks",
                to_micros(row.created_at),
                0,
                0,
                json.dumps(payload, separators=(",", ":")),
            )
        )
        metrics += [(row.model_id, k, v) for k, v in row.metrics.items()]
        tags += [(row.model_id, k, v) for k, v in row.tags.items()]
    with store._write() as conn:
        conn.executemany(
            "INSERT INTO models (id, model_name, version, version_key, model_type, stage, "
            "description, created_us, checkpoint, is_ensemble, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            models,
        )
        conn.executemany("INSERT INTO metrics (model_id, name, value) VALUES (?, ?, ?)", metrics)
        conn.executemany("INSERT INTO tags (model_id, key, value) VALUES (?, ?, ?)", tags)


def populate_json(registry: Any, rows: list[Row]) -> None:
    """Bulk path: an index built in memory, written by the store's own compaction."""
    from modelshelf_plugins.json_store import FORMAT, _Index

    store = registry.store
    template = template_payload()
    sort_key = registry.versioning.sort_key
    snapshot = {
        "format": FORMAT,
        "generation": 0,
        "next_id": len(rows) + 1,
        "versions": [
            {"version_key": sort_key(row.version), "data": payload_for(row, template)}
            for row in rows
        ],
        "aliases": [],
        "audit": [],
        "model_info": {},
    }
    with store._locked():
        store._index = _Index.from_snapshot(snapshot)
        store._compact()


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


# -- child processes (large model, concurrency, start-up) ------------------------------


def run_child(*args: str, stdin: str | None = None) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "_child", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"child {args[0]} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def peak_rss_bytes() -> int:
    """This process's peak resident set (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def big_model(total_bytes: int) -> dict[str, Any]:
    import numpy as np

    parts = 8
    each = total_bytes // parts // 8
    return {f"layer{i}": np.full(each, float(i), dtype=np.float64) for i in range(parts)}


def drop_cache(path: Path) -> None:
    """Evict one file's clean pages so the next read comes from the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def child_large(kind: str, path: str, size: str) -> dict[str, Any]:
    target = Path(path)
    if kind == "raw-write":
        model = big_model(int(size))
        target.parent.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        with open(target, "wb") as handle:
            for array in model.values():
                handle.write(memoryview(array).cast("B"))
            handle.flush()
            os.fsync(handle.fileno())
        fsync_dir(target.parent)
        seconds = time.perf_counter() - start
        return {"seconds": seconds, "bytes": target.stat().st_size, "peak": peak_rss_bytes()}
    if kind == "raw-read":
        drop_cache(target)
        buffer = bytearray(16 * MIB)
        total = 0
        start = time.perf_counter()
        with open(target, "rb", buffering=0) as handle:
            while n := handle.readinto(buffer):
                total += n
        return {"seconds": time.perf_counter() - start, "bytes": total, "peak": peak_rss_bytes()}

    from modelshelf import ModelRegistry

    registry = ModelRegistry(target)
    if kind == "save":
        model = big_model(int(size))
        start = time.perf_counter()
        model_id = registry.save_model(model, "large")
        seconds = time.perf_counter() - start
        metadata = registry.get_metadata(model_id)
        return {
            "seconds": seconds,
            "bytes": metadata.artifact.size,
            "model_bytes": sum(a.nbytes for a in model.values()),
            "peak": peak_rss_bytes(),
            "model_id": model_id,
        }
    metadata = registry.get_metadata(model_name="large")
    artifact = registry.storage.local_path(metadata.artifact.key)
    assert artifact is not None
    drop_cache(artifact)
    start = time.perf_counter()
    loaded = registry.load_model(model_id=metadata.model_id)
    seconds = time.perf_counter() - start
    assert loaded is not None
    return {
        "seconds": seconds,
        "bytes": metadata.artifact.size,
        "model_bytes": sum(a.nbytes for a in loaded.values()),
        "peak": peak_rss_bytes(),
    }


def bench_large(work: Path, quick: bool) -> list[Figure]:
    size = 64 * MIB if quick else 1024 * MIB
    repeat = 1 if quick else 3
    raw_w, ours_w, raw_r, ours_r = [], [], [], []
    save_peak, load_peak, model_bytes = [], [], 0
    for i in range(repeat):
        raw_path = work / f"raw-{i}" / "model.bin"
        ours_path = work / f"ours-{i}"
        w = run_child("large", "raw-write", str(raw_path), str(size))
        s = run_child("large", "save", str(ours_path), str(size))
        r = run_child("large", "raw-read", str(raw_path), str(size))
        ld = run_child("large", "load", str(ours_path), str(size))
        raw_w.append(w["bytes"] / w["seconds"] / MIB)
        ours_w.append(s["bytes"] / s["seconds"] / MIB)
        raw_r.append(r["bytes"] / r["seconds"] / MIB)
        ours_r.append(ld["bytes"] / ld["seconds"] / MIB)
        model_bytes = s["model_bytes"]
        save_peak.append(s["peak"] / MIB)
        load_peak.append(ld["peak"] / MIB)
        shutil.rmtree(raw_path.parent)
        shutil.rmtree(ours_path)
    label = f"{model_bytes / MIB:,.0f} MiB"
    return [
        Figure(
            "large",
            f"large model save throughput ({label})",
            "MiB/s",
            median(ours_w),
            median(raw_w),
            "raw write+fsync",
            target="ratio >= 0.7",
            samples=repeat,
        ),
        Figure(
            "large",
            f"large model load throughput ({label}, cold cache)",
            "MiB/s",
            median(ours_r),
            median(raw_r),
            "raw sequential read",
            target="ratio >= 0.7",
            samples=repeat,
        ),
        Figure(
            "large",
            "large model save: peak memory",
            "MiB",
            median(save_peak),
            model_bytes / MIB,
            "model size",
            target="ratio <= 1.3",
            samples=repeat,
        ),
        Figure(
            "large",
            "large model load: peak memory",
            "MiB",
            median(load_peak),
            model_bytes / MIB,
            "model size",
            target="ratio <= 1.3",
            samples=repeat,
        ),
    ]


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
    command = [sys.executable, str(Path(__file__).resolve()), "_child", "concurrent"]
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


HEAVY = ("joblib", "cloudpickle", "numpy", "sklearn", "fsspec", "psycopg", "click", "rich")


def child_imports(path: str) -> dict[str, Any]:
    import modelshelf

    modelshelf.ModelRegistry(path).close()
    return {"imported": sorted(m for m in HEAVY if m in sys.modules)}


def cli_available() -> str | None:
    script = Path(sys.executable).with_name("modelshelf")
    if not script.exists():
        return "no modelshelf console script next to this interpreter"
    try:
        from modelshelf.cli import main  # noqa: F401
    except ImportError as exc:
        return f"the modelshelf command is not importable yet ({exc})"
    return None


def bench_startup(work: Path, quick: bool) -> list[Figure]:
    from modelshelf import ModelRegistry

    repeat = 5 if quick else 20
    path = work / "startup"
    ModelRegistry(path).close()
    ours_cmd = [
        sys.executable,
        "-c",
        f"import modelshelf; modelshelf.ModelRegistry({str(path)!r}).close()",
    ]
    floor_cmd = [sys.executable, "-c", "pass"]

    cpu: dict[str, list[float]] = {}

    # An installed wheel ships compiled bytecode; an editable checkout under
    # PYTHONDONTWRITEBYTECODE=1 would recompile src/ on every start instead.
    # Compile once and let the children use it, as a user's install does.
    compileall.compile_dir(str(ROOT / "src"), quiet=1)
    compileall.compile_dir(str(ROOT / "plugins"), quiet=1)
    child_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def run(cmd: list[str]) -> Callable[[], object]:
        """Run ``cmd``; also note its CPU time, which a busy machine disturbs less."""

        def once() -> None:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run(cmd, check=True, capture_output=True, env=child_env)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            used = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
            cpu.setdefault(cmd[-1], []).append(used)

        return once

    def cpu_note(cmd: list[str]) -> str:
        return f"CPU {ms(median(cpu[cmd[-1]])):.0f} ms vs {ms(median(cpu['pass'])):.0f} ms"

    mine, floor = interleaved(run(ours_cmd), run(floor_cmd), repeat, warmup=1)
    imported = run_child("imports", str(path))["imported"]
    figures = [
        Figure(
            "startup",
            "python -c 'import modelshelf; open registry'",
            "ms",
            ms(median(mine)),
            ms(median(floor)),
            "python -c pass",
            target="ours <= 150",
            samples=repeat,
            note=cpu_note(ours_cmd),
        ),
        Figure(
            "startup",
            "heavy modules imported by import + open",
            "modules",
            float(len(imported)),
            None,
            "",
            target="ours <= 0",
            note=", ".join(imported) or "none of " + " ".join(HEAVY),
        ),
    ]
    reason = cli_available()
    if reason is not None:
        figures.append(skipped("startup", "modelshelf ls on 1,000 versions", reason))
        return figures
    listed = work / "cli-1000"
    registry = ModelRegistry(listed)
    populate_sqlite(registry, synthetic_rows(1_000))
    registry.close()
    script = str(Path(sys.executable).with_name("modelshelf"))
    cli_cmd = [script, "ls", "--registry", str(listed)]
    probe = subprocess.run(cli_cmd, capture_output=True, text=True, check=False)
    if probe.returncode:
        figures.append(
            skipped("startup", "modelshelf ls on 1,000 versions", probe.stderr.strip()[-200:])
        )
        return figures
    mine, floor = interleaved(run(cli_cmd), run(floor_cmd), repeat, warmup=1)
    figures.append(
        Figure(
            "startup",
            "modelshelf ls on 1,000 versions",
            "ms",
            ms(median(mine)),
            ms(median(floor)),
            "python -c pass",
            samples=repeat,
            note=cpu_note(cli_cmd),
        )
    )
    return figures


# -- MLflow, the peer --------------------------------------------------------------------


def bench_mlflow(work: Path, quick: bool, mlflow_python: str | None) -> list[Figure]:
    from modelshelf import ModelRegistry

    names = ("save small model", "best by f1", "load small model")
    if not mlflow_python:
        reason = "no MLflow interpreter (--mlflow-python or MODELSHELF_BENCH_MLFLOW_PYTHON)"
        return [skipped("mlflow", f"vs MLflow: {n}", reason) for n in names]
    versions = 10 if quick else 40
    repeat = 5 if quick else 30
    peer_args = (str(work / "mlflow"), str(versions), str(repeat))
    done = subprocess.run(
        [mlflow_python, str(HERE / "bench_mlflow.py"), *peer_args],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        reason = f"MLflow run failed: {done.stderr.strip()[-300:]}"
        return [skipped("mlflow", f"vs MLflow: {n}", reason) for n in names]
    theirs = json.loads(done.stdout.strip().splitlines()[-1])

    model = small_model()
    registry = ModelRegistry(work / "peer")
    saves = []
    for i in range(versions):
        metrics = {**SMALL_METRICS, "f1": 0.5 + i / (2 * versions)}
        start = time.perf_counter()
        registry.save_model(model, "bench", metrics=metrics, hyperparameters=SMALL_PARAMS)
        saves.append(time.perf_counter() - start)
    best = timed(lambda: registry.get_best_model("f1"), repeat)
    load = timed(lambda: registry.load_model(model_name="bench", version="1.0.0"), repeat)
    registry.close()
    ours = {"save": median(saves), "best": median(best), "load": median(load)}
    figures = []
    for key, name in zip(("save", "best", "load"), names, strict=True):
        figures.append(
            Figure(
                "mlflow",
                f"vs MLflow {theirs['version']}: {name}",
                "ms",
                ms(ours[key]),
                ms(theirs[key]),
                "MLflow (SQLite backend)",
                # ratio = ours / MLflow, so "20x ahead" is a ratio <= 0.05
                target="ratio <= 0.05" if key != "load" else "",
                samples=versions if key == "save" else repeat,
                note=f"MLflow is {theirs[key] / ours[key]:.0f}x slower",
            )
        )
    return figures


# -- the table -------------------------------------------------------------------------


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}" if value < 1 else f"{value:.2f}"


def table(figures: list[Figure]) -> str:
    header = ("figure", "unit", "ours", "baseline", "baseline is", "ratio", "target", "result")
    lines = [header]
    for f in figures:
        lines.append(
            (
                f.name,
                f.unit,
                fmt(f.ours),
                fmt(f.baseline),
                f.baseline_label,
                "-" if f.ratio is None else f"{f.ratio:.2f}x",
                f.target.replace("ratio", "r").replace("ours", "v"),
                f.result + (f" ({f.note})" if f.note else ""),
            )
        )
    widths = [max(len(str(line[i])) for line in lines[:]) for i in range(len(header) - 1)]
    out = []
    for n, line in enumerate(lines):
        cells = [str(c).ljust(w) for c, w in zip(line[:-1], widths, strict=True)]
        out.append("| " + " | ".join([*cells, line[-1]]) + " |")
        if n == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|---|")
    return "\n".join(out)


@contextlib.contextmanager
def workspace(keep: bool) -> Iterator[Path]:
    """Scratch space on the same disk as the repository (not a tmpfs /tmp)."""
    base = HERE / "results"
    base.mkdir(exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="work-", dir=base))
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats, small sizes")
    parser.add_argument("--only", default="", help=f"comma-separated of: {', '.join(SECTIONS)}")
    parser.add_argument("--json", type=Path, default=RESULTS, help="where to write results")
    parser.add_argument(
        "--mlflow-python",
        default=os.environ.get("MODELSHELF_BENCH_MLFLOW_PYTHON"),
        help="interpreter of a venv with mlflow and scikit-learn installed",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args(argv)
    sections = set(args.only.split(",")) if args.only else set(SECTIONS)
    unknown = sections - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {', '.join(SECTIONS)}")

    figures: list[Figure] = []
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    with workspace(args.keep) as work:
        steps: list[tuple[str, Callable[[Path], list[Figure]]]] = [
            ("save", lambda w: bench_save_load(w, args.quick, sections)),
            ("queries", lambda w: bench_queries(w, args.quick)),
            ("json-growth", lambda w: bench_json_growth(w, args.quick)),
            ("large", lambda w: bench_large(w, args.quick)),
            ("concurrency", lambda w: bench_concurrency(w, args.quick)),
            ("startup", lambda w: bench_startup(w, args.quick)),
            ("mlflow", lambda w: bench_mlflow(w, args.quick, args.mlflow_python)),
        ]
        for name, step in steps:
            if name not in sections and not (name == "save" and "load" in sections):
                continue
            print(f"... {name}", file=sys.stderr, flush=True)
            sub = work / name
            sub.mkdir()
            figures += [f.judge() for f in step(sub)]
    print(table(figures))
    summary = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "quick": args.quick,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        },
        "figures": [asdict(f) for f in figures],
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(summary, indent=2) + "\n")
    print(
        f"\n{len(figures)} figures in {summary['seconds']} s on {os.cpu_count()} CPUs "
        f"(1-minute load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after); "
        f"results in {args.json}"
    )
    return 0


def child_main(argv: list[str]) -> int:
    kind, rest = argv[0], argv[1:]
    if kind == "large":
        result = child_large(*rest)
    elif kind == "concurrent":
        result = child_concurrent(*rest)
    elif kind == "imports":
        result = child_imports(*rest)
    else:
        raise SystemExit(f"unknown child {kind!r}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        sys.exit(child_main(sys.argv[2:]))
    sys.exit(main())
