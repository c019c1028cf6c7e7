"""The PostgreSQL store against a real server: schema, versions, queries, writers."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING

import psycopg
import pytest
from modelshelf_postgresql import SCHEMA_VERSION, PostgresStore, connect
from psycopg import sql
from sklearn.linear_model import LogisticRegression

from modelshelf import ModelRegistry
from modelshelf.errors import (
    DuplicateVersionError,
    InvalidMetadataError,
    ModelShelfError,
    StoreError,
)
from modelshelf.metadata import ArtifactRef, ModelDraft, Stage
from modelshelf.query import MetricBound, Query, Ranking
from modelshelf.testing.reference import change_stage, point_alias

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

REF = ArtifactRef(key="m/a.joblib", serializer="joblib", sha256="0" * 64, size=1)


class Scheme:
    """A tiny integer scheme, so these tests need no other plugin."""

    name = "int"

    def validate(self, version: str) -> str:
        return version

    def sort_key(self, version: str) -> str:
        return version.zfill(12)

    def first(self) -> str:
        return "1"

    def next_after(self, highest: str) -> str:
        return str(int(highest) + 1)


def draft(name: str = "m", **fields: object) -> ModelDraft:
    fields.setdefault("artifact", REF)
    return ModelDraft(model_name=name, **fields)  # type: ignore[arg-type]


@pytest.fixture
def store(modelshelf_postgresql_url: str) -> Iterator[PostgresStore]:
    opened = PostgresStore(modelshelf_postgresql_url)
    yield opened
    opened.close()


def test_versions_are_assigned_per_name_and_explicit_ones_are_kept(store: PostgresStore) -> None:
    scheme = Scheme()
    assert [store.add(draft(), scheme).version for _ in range(3)] == ["1", "2", "3"]
    assert store.add(draft(requested_version="10"), scheme).version == "10"
    assert store.add(draft(), scheme).version == "11"
    assert store.add(draft("other"), scheme).version == "1"
    with pytest.raises(DuplicateVersionError):
        store.add(draft(requested_version="10"), scheme)
    assert store.count(Query(model_name="m")) == 5


def test_checkpoints_do_not_advance_release_versions(store: PostgresStore) -> None:
    scheme = Scheme()
    store.add(draft(), scheme)
    store.add(draft(checkpoint=True, requested_version="50"), scheme)
    assert store.add(draft(), scheme).version == "2"
    assert [m.version for m in store.find(Query(checkpoints=True))] == ["50"]


def test_queries_filter_order_and_rank_in_sql(store: PostgresStore) -> None:
    scheme = Scheme()
    for i in range(6):
        store.add(
            draft(
                metrics={"f1": i / 10, "loss": 1 - i / 10} if i != 3 else {"loss": 0.01},
                tags={"team": "a" if i % 2 else "b"},
                model_type="Forest" if i < 3 else "Linear",
            ),
            scheme,
        )
    found = store.find(Query(bounds=[MetricBound(name="f1", minimum=0.2)], tags={"team": "a"}))
    assert [m.version for m in found] == ["6"]
    by_f1 = store.find(Query(order_by="f1", descending=True))
    assert [m.version for m in by_f1] == ["6", "5", "3", "2", "1", "4"]
    assert store.best(Ranking.by_metric("f1"), Query()).version == "6"  # type: ignore[union-attr]
    assert store.best(Ranking.by_metric("loss"), Query()).version == "4"  # type: ignore[union-attr]
    assert store.best(Ranking.by_metric("f1"), Query(model_type="Forest")).version == "3"  # type: ignore[union-attr]
    assert store.count(Query(model_type="Linear")) == 3
    assert [m.version for m in store.find(Query(limit=2, offset=1))] == ["2", "3"]


def test_version_order_follows_the_scheme_not_the_text(store: PostgresStore) -> None:
    scheme = Scheme()
    for version in ("9", "10", "2"):
        store.add(draft(requested_version=version), scheme)
    assert [m.version for m in store.find(Query(order_by="version"))] == ["2", "9", "10"]
    assert store.add(draft(), scheme).version == "11"


def test_text_postgresql_cannot_hold_is_refused_before_writing(store: PostgresStore) -> None:
    with pytest.raises(InvalidMetadataError, match="tags"):
        store.add(draft(tags={"k": "bad\x00value"}), Scheme())
    assert store.count(Query()) == 0


def test_stage_alias_and_audit_are_one_transaction(store: PostgresStore) -> None:
    scheme = Scheme()
    first, second = store.add(draft(), scheme), store.add(draft(), scheme)
    change_stage(store, first.model_id, Stage.PRODUCTION, archive_others=True, actor="a", reason="")
    changed = change_stage(
        store, second.model_id, Stage.PRODUCTION, archive_others=True, actor="b", reason="better"
    )
    assert [(m.version, m.stage) for m in changed] == [
        ("2", Stage.PRODUCTION),
        ("1", Stage.ARCHIVED),
    ]
    assert point_alias(store, "m", "champion", first.model_id, actor="a", reason="") is None
    assert (
        point_alias(store, "m", "champion", second.model_id, actor="a", reason="") == first.model_id
    )
    assert store.get(second.model_id).aliases == ("champion",)  # type: ignore[union-attr]
    actions = [(e.version, e.action, e.from_value, e.to_value) for e in store.audit_log("m")]
    assert actions == [
        ("1", "stage", "None", "Production"),
        ("1", "stage", "Production", "Archived"),
        ("2", "stage", "None", "Production"),
        ("1", "alias:champion", None, "1"),
        ("2", "alias:champion", "1", "2"),
    ]
    deleted = store.delete(second.model_id)
    assert deleted is not None
    assert deleted.model_id == second.model_id
    assert store.find(Query(alias="champion")) == []


def test_schema_is_created_once_and_reopening_is_idempotent(modelshelf_postgresql_url: str) -> None:
    for _ in range(2):
        store = PostgresStore(modelshelf_postgresql_url)
        assert store.schema_version() == SCHEMA_VERSION
        store.add(draft(), Scheme())
        store.close()
    store = PostgresStore(modelshelf_postgresql_url)
    assert store.count(Query()) == 2
    store.close()


def _open_and_add(url: str) -> str:
    store = PostgresStore(url)
    try:
        return store.add(draft(), Scheme()).version
    finally:
        store.close()


def test_many_processes_opening_a_fresh_database_at_once(modelshelf_postgresql_url: str) -> None:
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(4, mp_context=context) as pool:
        versions = list(pool.map(_open_and_add, [modelshelf_postgresql_url] * 4))
    assert sorted(versions, key=int) == ["1", "2", "3", "4"]


def test_a_newer_schema_is_refused(modelshelf_postgresql_url: str) -> None:
    PostgresStore(modelshelf_postgresql_url).close()
    schema = modelshelf_postgresql_url.rsplit("schema=", 1)[1]
    with connect(modelshelf_postgresql_url) as conn:
        conn.execute(
            sql.SQL("UPDATE {}.modelshelf_schema SET version = 99").format(sql.Identifier(schema))
        )
    with pytest.raises(StoreError, match="schema version 99"):
        PostgresStore(modelshelf_postgresql_url)


def test_url_comes_from_the_argument_or_the_environment(
    modelshelf_postgresql_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("MODELSHELF_DATABASE_URL", raising=False)
    with pytest.raises(StoreError, match="MODELSHELF_DATABASE_URL"):
        ModelRegistry(tmp_path, store="postgresql")
    with pytest.raises(StoreError, match="not a PostgreSQL URL"):
        ModelRegistry(tmp_path, store="postgresql", store_url="mysql://x/y")
    with pytest.raises(StoreError, match="schema="):
        ModelRegistry(tmp_path, store="postgresql", store_url="postgresql:///test?schema=a;b")
    monkeypatch.setenv("MODELSHELF_DATABASE_URL", modelshelf_postgresql_url)
    with ModelRegistry(tmp_path, store="postgresql") as registry:
        registry.save_model(LogisticRegression(), "env", metrics={"f1": 0.5})
        assert registry.count_models(model_name="env") == 1


def test_an_unreachable_server_is_a_clear_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open PostgreSQL store"):
        ModelRegistry(
            tmp_path, store="postgresql", store_url="postgresql://nobody@127.0.0.1:1/none"
        )


def test_the_registry_round_trips_a_real_model(
    modelshelf_postgresql_url: str, tmp_path: Path
) -> None:
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(X, y)
    with ModelRegistry(tmp_path, store="postgresql", store_url=modelshelf_postgresql_url) as reg:
        model_id = reg.save_model(model, "iris", metrics={"f1": 0.9}, tags={"team": "a"})
        loaded = reg.load(model_id).model
        assert (loaded.predict(X) == model.predict(X)).all()
        reg.transition_stage("iris", "1.0.0", "Production")
        assert reg.get_production_model("iris").version == "1.0.0"  # type: ignore[union-attr]
        assert reg.verify().ok


def test_bulk_insert_assigns_versions_like_add(store: PostgresStore) -> None:
    scheme = Scheme()
    store.add(draft(), scheme)
    ids = store.add_many(
        [draft(metrics={"f1": i / 100}, tags={"i": str(i)}) for i in range(50)]
        + [draft("b", requested_version="7")],
        scheme,
    )
    assert len(ids) == 51
    assert store.count(Query(model_name="m")) == 51
    assert (
        store.find(Query(model_name="m", order_by="version", descending=True, limit=1))[0].version
        == "51"
    )
    assert store.best(Ranking.by_metric("f1"), Query()).tags == {"i": "49"}  # type: ignore[union-attr]
    assert store.add(draft("b"), scheme).version == "8"
    with pytest.raises(DuplicateVersionError):
        store.add_many([draft("b", requested_version="7")], scheme)


def test_psycopg_errors_never_escape_raw(store: PostgresStore) -> None:
    with pytest.raises(StoreError):
        store.explain("SELECT * FROM no_such_table")
    assert not isinstance(StoreError("x"), psycopg.Error)


def test_a_row_naming_a_file_outside_the_storage_is_refused_when_read(
    store: PostgresStore, modelshelf_postgresql_url: str
) -> None:
    """A row written before artifact names were checked (or edited in the
    database) is refused by the same metadata rules as any other input."""
    import json

    added = store.add(draft(artifacts={"scaler": REF}), Scheme())
    schema = modelshelf_postgresql_url.rsplit("schema=", 1)[1]
    with connect(modelshelf_postgresql_url) as conn:
        (data,) = conn.execute(
            sql.SQL("SELECT data FROM {}.models WHERE id = %s").format(sql.Identifier(schema)),
            (added.model_id,),
        ).fetchone()  # type: ignore[misc]
        payload = json.loads(data)
        payload["artifacts"]["../../site-packages/evil"] = payload["artifacts"].pop("scaler")
        payload["artifacts"]["../../site-packages/evil"]["key"] = "m/a.pth"
        conn.execute(
            sql.SQL("UPDATE {}.models SET data = %s WHERE id = %s").format(sql.Identifier(schema)),
            (json.dumps(payload), added.model_id),
        )
    with pytest.raises(ModelShelfError, match="site-packages/evil' must not contain '/'"):
        store.get(added.model_id)


def test_a_bulk_load_leaves_the_planner_statistics(
    store: PostgresStore, modelshelf_postgresql_url: str
) -> None:
    """Straight after a big ``add_many`` the planner knows the tables' sizes, so a
    metric-sorted page walks the index instead of joining every row."""
    schema = modelshelf_postgresql_url.rsplit("schema=", 1)[1]
    scheme = Scheme()

    def analyzed() -> dict[str, int]:
        with psycopg.connect(modelshelf_postgresql_url.split("?")[0], autocommit=True) as conn:
            rows = conn.execute(
                "SELECT relname, analyze_count FROM pg_stat_user_tables WHERE schemaname = %s",
                (schema,),
            ).fetchall()
        return {name: count for name, count in rows}

    store.add_many([draft(metrics={"f1": 0.5}) for _ in range(10)], scheme)
    assert analyzed().get("models", 0) == 0  # a small batch leaves it to autovacuum
    store.add_many([draft(metrics={"f1": i / 2000}) for i in range(1000)], scheme)
    counts = analyzed()
    assert all(counts.get(table, 0) >= 1 for table in ("models", "metrics", "tags")), counts
