"""The SQLite store answers the hot queries from its indexes.

Timings are for benchmarks/ (the machine is noisy); what can be checked
exactly is the plan. ``EXPLAIN QUERY PLAN`` of the very statement the store
runs must search an index, never scan the models table, and the
best-by-metric query must read the metric index in order instead of sorting.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

from modelshelf import Query, Ranking, Stage
from modelshelf.query import MetricBound

if TYPE_CHECKING:
    from collections.abc import Callable

    from modelshelf import ModelRegistry


@pytest.fixture
def sqlite_registry(make_registry: Callable[..., ModelRegistry], logistic: Any) -> ModelRegistry:
    registry = make_registry(store="sqlite")
    for f1, model_type in ((0.7, "LogisticRegression"), (0.9, "LogisticRegression"), (0.8, "X")):
        registry.save_model(
            logistic,
            "iris",
            model_type=model_type,
            metrics={"f1": f1, "loss": 1 - f1},
            tags={"team": "tabular"},
        )
    return registry


def plan(registry: ModelRegistry, sql: str, params: list[Any]) -> list[str]:
    lines: list[str] = registry.store.explain(sql, params)  # type: ignore[attr-defined]
    assert lines, "EXPLAIN QUERY PLAN returned nothing"
    return lines


def assert_no_table_scan(lines: list[str]) -> None:
    scans = [line for line in lines if line.startswith("SCAN")]
    assert not scans, f"full scan in plan: {lines}"


@pytest.mark.parametrize(
    ("metric", "model_type"),
    [("f1", None), ("f1", "LogisticRegression"), ("loss", None), ("loss", "X")],
)
def test_best_by_metric_walks_the_metric_index(
    sqlite_registry: ModelRegistry, metric: str, model_type: str | None
) -> None:
    ranking = Ranking.by_metric(metric)
    query = Query(model_type=model_type)
    sql, params = sqlite_registry.store.best_sql(ranking, query)  # type: ignore[attr-defined]
    lines = plan(sqlite_registry, sql, params)
    assert lines[0] == "SEARCH r USING COVERING INDEX metrics_by_value (name=?)", lines
    assert "SEARCH models USING INTEGER PRIMARY KEY (rowid=?)" in lines
    assert "USE TEMP B-TREE FOR ORDER BY" not in lines, "best-by-metric sorts every row"
    assert_no_table_scan(lines)
    if metric == "f1":  # higher is better: the index order is the whole answer
        assert not any("TEMP B-TREE" in line for line in lines), lines
    best = sqlite_registry.get_best_model(metric, model_type=model_type)
    assert best is not None
    expected = {("f1", None): 0.9, ("f1", "LogisticRegression"): 0.9, ("loss", "X"): 0.8}
    assert best.metrics["f1"] == pytest.approx(expected.get((metric, model_type), 0.9))


def test_filtered_list_searches_type_index_and_metric_key(sqlite_registry: ModelRegistry) -> None:
    query = Query(
        model_type="LogisticRegression",
        bounds=[MetricBound(name="f1", minimum=0.8)],
        limit=100,
    )
    sql, params = sqlite_registry.store.find_sql(query)  # type: ignore[attr-defined]
    lines = plan(sqlite_registry, sql, params)
    assert lines[0] == "SEARCH models USING INDEX models_by_type (model_type=?)", lines
    assert "SEARCH m USING PRIMARY KEY (model_id=? AND name=?)" in lines
    assert "USE TEMP B-TREE FOR ORDER BY" not in lines  # rows come out in id order
    assert_no_table_scan(lines)
    found = sqlite_registry.list_models(model_type="LogisticRegression", min_f1=0.8)
    assert [m.metrics["f1"] for m in found] == [0.9]


@pytest.mark.parametrize(
    ("query", "index"),
    [
        (Query(model_name="iris", version="1.0.1"), "sqlite_autoindex_models_1"),
        (Query(model_name="iris", order_by="version", descending=True, limit=1), None),
        (
            Query(
                model_name="iris",
                stage=Stage.PRODUCTION,
                order_by="version",
                descending=True,
                limit=1,
            ),
            None,
        ),
        (Query(model_name="iris", order_by="model_id"), None),
    ],
    ids=["reference", "latest", "production", "versions"],
)
def test_lookups_by_name_search_an_index(
    sqlite_registry: ModelRegistry, query: Query, index: str | None
) -> None:
    sql, params = sqlite_registry.store.find_sql(query)  # type: ignore[attr-defined]
    lines = plan(sqlite_registry, sql, params)
    assert lines[0].startswith("SEARCH models USING INDEX "), lines
    assert "(model_name=?" in lines[0], lines
    if index is not None:
        assert f"USING INDEX {index} " in lines[0], lines
    assert_no_table_scan(lines)


def test_find_runs_the_statement_find_sql_builds(sqlite_registry: ModelRegistry) -> None:
    """The plans above are only worth checking if they are of the real query."""
    query = Query(model_type="LogisticRegression", order_by="f1", descending=True)
    sql, params = sqlite_registry.store.find_sql(query)  # type: ignore[attr-defined]
    rows = sqlite_registry.store._read(sql, params)  # type: ignore[attr-defined]
    assert [row[0] for row in rows] == [m.model_id for m in sqlite_registry.store.find(query)]
    assert len(rows) == 2


def test_a_page_by_metric_sorts_narrow_pairs_then_reads_only_its_rows(
    sqlite_registry: ModelRegistry,
) -> None:
    """A deep page of a name sorted by a metric must not sort whole rows: the
    page's ids are chosen from (id, value) pairs, then only its rows are read."""
    query = Query(model_name="iris", order_by="loss", limit=2, offset=1)
    sql, params = sqlite_registry.store.find_sql(query)  # type: ignore[attr-defined]
    lines = plan(sqlite_registry, sql, params)
    assert any("page" in line and ("CO-ROUTINE" in line or "MATERIALIZE" in line) for line in lines)
    assert any(line.startswith("SEARCH models USING INTEGER PRIMARY KEY") for line in lines), lines
    found = sqlite_registry.store.find(query)
    assert [m.metrics["loss"] for m in found] == pytest.approx([0.2, 0.3])


@pytest.mark.parametrize(
    ("query", "index"),
    [
        (
            Query(bounds=[MetricBound(name="f1", minimum=0.85)]),
            "metrics_by_value (name=? AND value>?)",
        ),
        (
            Query(bounds=[MetricBound(name="f1", minimum=0.85)], limit=100),
            "metrics_by_value (name=? AND value>?)",
        ),
        (
            Query(bounds=[MetricBound(name="loss", maximum=0.15)]),
            "metrics_by_value (name=? AND value<?)",
        ),
        (Query(tags={"team": "tabular"}), "tags_by_value (key=? AND value=?)"),
        (Query(alias="champion"), "aliases_by_alias (alias=?)"),
    ],
    ids=["min-metric", "min-metric-limit", "max-lower-is-better", "tag", "alias"],
)
def test_a_side_table_filter_alone_drives_the_query_from_its_index(
    sqlite_registry: ModelRegistry, query: Query, index: str
) -> None:
    """Without a filter on a models column, the side table's index yields the ids;
    probing every version (a scan of models) grew with the registry."""
    sqlite_registry.set_alias("iris:1.0.1", "champion")
    sql, params = sqlite_registry.store.find_sql(query)  # type: ignore[attr-defined]
    lines = plan(sqlite_registry, sql, params)
    assert any(line.endswith(f"USING COVERING INDEX {index}") for line in lines), lines
    assert "SEARCH models USING INTEGER PRIMARY KEY (rowid=?)" in lines, lines
    assert "USE TEMP B-TREE FOR ORDER BY" not in lines  # ids come out in order
    assert_no_table_scan(lines)
    found = sqlite_registry.store.find(query)
    assert found == [m for m in sqlite_registry.list_models() if query.matches(m)]
    assert found


def test_a_created_range_searches_the_created_index(sqlite_registry: ModelRegistry) -> None:
    first = sqlite_registry.get_model_versions("iris")[0].created_at
    query = Query(created_after=first, created_before=first + timedelta(days=1))
    sql, params = sqlite_registry.store.find_sql(query)  # type: ignore[attr-defined]
    lines = plan(sqlite_registry, sql, params)
    assert lines[0].startswith("SEARCH models USING INDEX models_by_created (created_at>?"), lines
    assert_no_table_scan(lines)
    assert len(sqlite_registry.store.find(query)) == 3


def test_the_next_version_is_read_from_the_name_s_mark_not_its_versions(
    sqlite_registry: ModelRegistry,
) -> None:
    """Saving reads one row however many versions the name has."""
    store = sqlite_registry.store
    lines = plan(sqlite_registry, store.sql.high_water, ["iris"])  # type: ignore[attr-defined]
    assert lines == [
        "SEARCH version_high_water USING INDEX sqlite_autoindex_version_high_water_1 (model_name=?)"
    ]
    assert store._read(store.sql.high_water, ["iris"]) == [("1.0.2",)]  # type: ignore[attr-defined]


@pytest.mark.parametrize("metric", ["f1", "loss"])
def test_a_page_of_the_registry_by_metric_walks_the_metric_index(
    sqlite_registry: ModelRegistry, metric: str
) -> None:
    """Without a filter on a models column, the page's ids come from the metric's
    index in order; sorting every version made the first page cost the registry."""
    query = Query(order_by=metric, descending=True, limit=100)
    sql, params = sqlite_registry.store.find_sql(query)  # type: ignore[attr-defined]
    lines = plan(sqlite_registry, sql, params)
    assert "SEARCH o USING COVERING INDEX metrics_by_value (name=?)" in lines, lines
    assert not any(line.startswith("SCAN models") for line in lines), lines
    assert lines.index("SCAN page") > lines.index("MATERIALIZE page"), lines
    found = sqlite_registry.store.find(query)
    assert [m.metrics[metric] for m in found] == sorted(
        (m.metrics[metric] for m in sqlite_registry.list_models()), reverse=True
    )


def test_the_benchmarks_floors_read_what_the_stores_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """The queries section times each store beside the same SELECT written by
    hand; a floor that drifts from the store's statement measures nothing."""
    import importlib
    from pathlib import Path

    from modelshelf_postgresql import PostgresDialect

    from modelshelf.sql import Statements
    from modelshelf_plugins.sqlite_dialect import SqliteDialect

    benchmarks = Path(__file__).resolve().parent.parent / "benchmarks"
    monkeypatch.syspath_prepend(str(benchmarks))
    queries = importlib.import_module("sections.queries")

    def words(sql: str) -> str:
        return " ".join(sql.replace("(", " ( ").replace(")", " ) ").split())

    assert words(queries.SQLITE_COLUMNS) == words(Statements(SqliteDialect()).select)
    assert words(queries.POSTGRES_COLUMNS) == words(Statements(PostgresDialect()).select)
