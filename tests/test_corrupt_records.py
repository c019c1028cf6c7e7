"""A damaged metadata record is reported as itself, on every store.

Each case damages one stored version at rest (the registry is closed, the
bytes are changed underneath it, as bit rot or a careless hand edit would)
and reopens the registry. Reading the damaged version must raise
``CorruptMetadataError`` naming its id; reading, listing, saving and
promoting the other names must keep working. The JSON store's journal can
also lose a whole line, which leaves nothing to tell which version it held:
then every call names the file and byte offset instead.
"""

from __future__ import annotations

import json
import random
import sqlite3
from typing import TYPE_CHECKING, Any

import pytest
from click.testing import CliRunner
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from modelshelf import CorruptMetadataError, MetadataMissingError, ModelRegistry, ModelShelfError
from modelshelf.cli import EXIT_INTEGRITY, cli

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


VICTIM = "victim"
HEALTHY = "healthy"


def _edit(change: Callable[[dict[str, Any]], None]) -> Callable[[str], str]:
    def damage(text: str) -> str:
        data = json.loads(text)
        change(data)
        return json.dumps(data)

    return damage


def _set(path: str, value: Any) -> Callable[[str], str]:
    *parents, leaf = path.split(".")

    def change(data: dict[str, Any]) -> None:
        for key in parents:
            data = data[key]
        data[leaf] = value

    return _edit(change)


def _drop(key: str) -> Callable[[str], str]:
    return _edit(lambda data: data.pop(key))


def _random_text(text: str) -> str:
    rng = random.Random(7)
    # Latin-1 text with no NUL (a PostgreSQL TEXT column cannot hold NUL).
    return "".join(chr(rng.randrange(1, 256)) for _ in range(len(text)))


#: How the JSON document of one version is damaged: (id, damage(text) -> text).
DAMAGED_DATA: list[tuple[str, Callable[[str], str]]] = [
    ("truncated", lambda text: text[: len(text) // 2]),
    ("truncated-one-byte", lambda text: text[:-1]),
    ("empty", lambda text: ""),
    ("random-text", _random_text),
    ("json-array", lambda text: "[1, 2, 3]"),
    ("json-null", lambda text: "null"),
    ("json-string", lambda text: json.dumps(text)),
    ("deep-nesting", lambda text: "[" * 100_000 + "]" * 100_000),
    ("is-ensemble-text", _set("training_info.is_ensemble", "no")),
    ("metric-text", _set("metrics", {"f1": "high"})),
    ("metric-huge", lambda text: text.replace('"metrics":{', '"metrics":{"x":1' + "0" * 400 + ",")),
    ("n-samples-huge", _set("training_info.n_samples", 10**400)),
    ("n-samples-text", _set("training_info.n_samples", "150")),
    ("hyperparameters-list", _set("hyperparameters", [1, 2])),
    ("surrogate-escape", lambda text: text.replace('"model_type":"', '"model_type":"\\udcff')),
    ("no-artifact", _drop("artifact")),
    ("no-model-name", _drop("model_name")),
    ("bad-checksum", _set("artifact.sha256", "not-a-digest")),
    ("negative-size", _set("artifact.size", -1)),
    ("naive-date", _set("created_at", "2024-01-01T00:00:00")),
    ("date-text", _set("created_at", "yesterday")),
    ("future-schema", _set("schema_version", 99)),
    ("traversal-name", _set("model_name", "../../etc")),
    ("checkpoint-text", _set("checkpoint", "false")),
]

#: Damage to the columns kept beside the document (SQL stores only).
DAMAGED_COLUMNS: dict[str, list[tuple[str, str, Any]]] = {
    "sqlite": [
        ("stage-unknown", "UPDATE models SET stage = ? WHERE id = ?", "Deployed"),
        ("stage-number", "UPDATE models SET stage = ? WHERE id = ?", 3),
        ("description-blob", "UPDATE models SET description = ? WHERE id = ?", b"\x00\xff"),
        ("data-blob", "UPDATE models SET data = ? WHERE id = ?", bytes(range(256))),
        (
            "data-invalid-utf8",
            "UPDATE models SET data = CAST(? AS TEXT) WHERE id = ?",
            b'{"model_name":"\xff\xfe"}',
        ),
        (
            "description-invalid-utf8",
            "UPDATE models SET description = CAST(? AS TEXT) WHERE id = ?",
            b"caf\xe9",
        ),
        ("data-number", "UPDATE models SET data = ? WHERE id = ?", 12345),
    ],
    "postgresql": [
        ("stage-unknown", "UPDATE models SET stage = %s WHERE id = %s", "Deployed"),
        ("stage-lowercase-garbage", "UPDATE models SET stage = %s WHERE id = %s", "pr0duction"),
    ],
}


@pytest.fixture(params=["sqlite", "json", "postgresql"])
def store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "postgresql":
        url = request.getfixturevalue("modelshelf_postgresql_url")
        monkeypatch.setenv("MODELSHELF_DATABASE_URL", url)
    return str(request.param)


#: The ``C`` of the healthy name's second version, so a load can tell it from the first.
HEALTHY_C = 0.5


def _populate(path: Path, store: str, model: Any) -> tuple[int, int]:
    retrained = LogisticRegression(C=HEALTHY_C, max_iter=1000).fit(*load_iris(return_X_y=True))
    assert model.C != HEALTHY_C
    with ModelRegistry(path, store=store) as registry:
        registry.save_model(model, HEALTHY, metrics={"f1": 0.7})
        victim = registry.save_model(
            model, VICTIM, metrics={"f1": 0.9}, training_info={"n_samples": 150}
        )
        healthy = registry.save_model(retrained, HEALTHY, metrics={"f1": 0.8})
    return victim, healthy


# -- writing damage underneath each store ------------------------------------------


def _sqlite_execute(path: Path, sql: str, params: tuple[Any, ...]) -> None:
    conn = sqlite3.connect(path / "registry.db")
    try:
        with conn:
            conn.execute(sql, params)
    finally:
        conn.close()


def _postgres_execute(sql: str, params: tuple[Any, ...]) -> Any:
    import os

    import psycopg
    from modelshelf_postgresql import resolve_url

    conninfo, schema = resolve_url(os.environ["MODELSHELF_DATABASE_URL"])
    assert schema is not None
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(
            psycopg.sql.SQL("SET search_path TO {}").format(psycopg.sql.Identifier(schema))
        )
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if cursor.description else None


def _damage_data(path: Path, store: str, model_id: int, damage: Callable[[str], str]) -> bool:
    """Replace the victim's JSON document; True when the damage is confined to it."""
    if store == "sqlite":
        conn = sqlite3.connect(path / "registry.db")
        (text,) = conn.execute("SELECT data FROM models WHERE id = ?", (model_id,)).fetchone()
        conn.close()
        _sqlite_execute(path, "UPDATE models SET data = ? WHERE id = ?", (damage(text), model_id))
        return True
    if store == "postgresql":
        ((text,),) = _postgres_execute("SELECT data FROM models WHERE id = %s", (model_id,))
        _postgres_execute("UPDATE models SET data = %s WHERE id = %s", (damage(text), model_id))
        return True
    # JSON store: the version is an "add" line of the journal (no fold yet).
    journal = path / "index.journal"
    lines = journal.read_text().splitlines()
    for number, line in enumerate(lines):
        entry = json.loads(line)
        if entry.get("op") == "add" and entry["data"]["model_id"] == model_id:
            text = json.dumps(entry["data"], separators=(",", ":"))
            damaged = damage(text)
            try:
                data = json.loads(damaged)
            except (ValueError, RecursionError):
                data = None  # not JSON any more: the line itself is broken
                lines[number] = line.replace(text, damaged)
            else:
                entry["data"] = data
                lines[number] = json.dumps(entry, separators=(",", ":"))
            journal.write_text("\n".join(lines) + "\n")
            # Without its id the record cannot be told from any other.
            return isinstance(data, dict) and data.get("model_id") == model_id
    raise AssertionError(f"no add line for id {model_id}")


# -- what a damaged record must and must not break ---------------------------------


def _check_confined(path: Path, store: str, model: Any, victim: int, healthy: int) -> None:
    with ModelRegistry(path, store=store) as registry:
        with pytest.raises(CorruptMetadataError) as caught:
            registry.get_metadata(victim)
        error = caught.value
        assert error.model_id == victim
        assert f"model id {victim}" in str(error)
        assert isinstance(error, ValueError)
        assert registry.load_model(victim) is None  # the seeds' contract: None if corrupt
        with pytest.raises(CorruptMetadataError):
            registry.load(victim)
        with pytest.raises(CorruptMetadataError, match=f"model id {victim}"):
            registry.list_models()  # a listing that includes it says which one
        # Everything that does not read the damaged record keeps working.
        assert registry.get_metadata(healthy).model_name == HEALTHY
        assert [m.version for m in registry.list_models(model_name=HEALTHY)] == ["1.0.0", "1.0.1"]
        assert registry.load(f"{HEALTHY}:1.0.1").model.C == HEALTHY_C
        assert registry.load(f"{HEALTHY}:1.0.0").model.C == model.C
        again = registry.save_model(model, HEALTHY, metrics={"f1": 0.85})
        assert registry.get_metadata(again).version == "1.0.2"
        promoted = registry.promote(f"{HEALTHY}:1.0.2")
        assert promoted.stage.value == "Production"
        assert registry.get_best_model(model_name=HEALTHY).model_id == again  # type: ignore[union-attr]


def _check_cli(path: Path, store: str, victim: int) -> None:
    args = ["show", str(victim), "--registry", str(path), "--store", store]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == EXIT_INTEGRITY, result.output
    assert result.stderr.startswith(f"error: the stored metadata of model id {victim}")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("case", "damage"), DAMAGED_DATA, ids=[c for c, _ in DAMAGED_DATA])
def test_damaged_document_is_reported_by_id(
    case: str,
    damage: Callable[[str], str],
    store: str,
    tmp_path: Path,
    logistic: LogisticRegression,
) -> None:
    path = tmp_path / "registry"
    victim, healthy = _populate(path, store, logistic)
    if _damage_data(path, store, victim, damage):
        _check_confined(path, store, logistic, victim, healthy)
        _check_cli(path, store, victim)
    else:
        # A JSON journal line that no longer parses: nothing says which version
        # it held, so no call can be answered safely; each one names the line.
        assert store == "json", case
        with pytest.raises(CorruptMetadataError, match=r"index.journal at byte \d+"):
            ModelRegistry(path, store=store)
        result = CliRunner().invoke(cli, ["ls", "--registry", str(path), "--store", store])
        assert result.exit_code == EXIT_INTEGRITY
        assert len(result.stderr.strip().splitlines()) == 1


COLUMN_CASES = [
    pytest.param(store, sql, value, id=f"{store}-{case}")
    for store, cases in DAMAGED_COLUMNS.items()
    for case, sql, value in cases
]


@pytest.mark.parametrize(("store", "sql", "value"), COLUMN_CASES, indirect=["store"])
def test_damaged_column_is_reported_by_id(
    store: str, sql: str, value: Any, tmp_path: Path, logistic: LogisticRegression
) -> None:
    path = tmp_path / "registry"
    victim, healthy = _populate(path, store, logistic)
    if store == "sqlite":
        _sqlite_execute(path, sql, (value, victim))
    else:
        _postgres_execute(sql, (value, victim))
    _check_confined(path, store, logistic, victim, healthy)
    _check_cli(path, store, victim)


def _fold(registry: ModelRegistry) -> None:
    """Fold the JSON store's journal into its snapshot now."""
    from modelshelf_plugins.json_store import JsonStore

    assert isinstance(registry.store, JsonStore)
    registry.store._compact()


def test_damaged_json_snapshot_names_the_file(tmp_path: Path, logistic: LogisticRegression) -> None:
    """The JSON store's snapshot, once folded, damaged as a whole file."""
    path = tmp_path / "registry"
    _populate(path, "json", logistic)
    with ModelRegistry(path, store="json") as registry:
        _fold(registry)
    snapshot = path / "index.json"
    snapshot.write_bytes(snapshot.read_bytes()[:-10])
    # The whole snapshot is lost, not one record: the registry refuses to open.
    with pytest.raises(MetadataMissingError, match=r"index\.json"):
        ModelRegistry(path, store="json")


def test_damaged_record_in_json_snapshot_is_kept_verbatim(
    tmp_path: Path, logistic: LogisticRegression
) -> None:
    """A damaged version survives folds unchanged, so it can still be repaired."""
    path = tmp_path / "registry"
    victim, healthy = _populate(path, "json", logistic)
    _damage_data(path, "json", victim, _set("training_info.is_ensemble", "no"))
    with ModelRegistry(path, store="json") as registry:
        _fold(registry)
        again = registry.save_model(logistic, VICTIM)
        # The damaged version still holds its number: the next one is 1.0.1.
        assert registry.get_metadata(again).version == "1.0.1"
    kept = json.loads((path / "index.json").read_text())["versions"]
    damaged = [v for v in kept if v["data"]["model_id"] == victim]
    assert damaged[0]["data"]["training_info"]["is_ensemble"] == "no"
    _check_confined(path, "json", logistic, victim, healthy)


def test_store_level_integers_outside_sqlite_range_are_typed(tmp_path: Path) -> None:
    """The SQLite store itself refuses what it cannot bind, whoever calls it."""
    from modelshelf import InvalidInputError
    from modelshelf_plugins.sqlite_store import SqliteStore

    store = SqliteStore(tmp_path / "registry.db")
    try:
        calls: list[Callable[[], object]] = [
            lambda: store.get(2**63),
            lambda: store.delete(2**64),
            lambda: store.update(-(2**63) - 1, description="x", tags=None),
        ]
        for call in calls:
            with pytest.raises(InvalidInputError, match="64-bit integer range"):
                call()
    finally:
        store.close()


def test_errors_are_modelshelf_errors() -> None:
    assert issubclass(CorruptMetadataError, ModelShelfError)


@pytest.mark.parametrize("flag", ["no", "false", 1, None])
def test_bundle_with_a_non_boolean_is_ensemble_is_refused(
    flag: Any, store: str, tmp_path: Path, logistic: LogisticRegression
) -> None:
    """``bool("no")`` is True: importing it would earn the composite ensemble bonus."""
    import hashlib

    from modelshelf import IntegrityError, MetadataValidationError
    from modelshelf.bundle import CHECKSUMS, METADATA, export_version, import_bundle

    with ModelRegistry(tmp_path / "source", store="sqlite") as source:
        source.save_model(logistic, "iris", metrics={"accuracy": 0.9})
        bundle = export_version(source, "iris", tmp_path / "bundle")
    metadata = json.loads((bundle / METADATA).read_text())
    metadata["training_info"]["is_ensemble"] = flag
    (bundle / METADATA).write_text(json.dumps(metadata))
    digest = hashlib.sha256((bundle / METADATA).read_bytes()).hexdigest()
    lines = (bundle / CHECKSUMS).read_text().splitlines()
    fixed = [f"{digest}  {METADATA}" if line.endswith(f"  {METADATA}") else line for line in lines]
    (bundle / CHECKSUMS).write_text("\n".join(fixed) + "\n")
    with ModelRegistry(tmp_path / "destination", store=store) as destination:
        # A bundle whose metadata breaks a rule is refused as a tampered bundle.
        with pytest.raises(IntegrityError, match="is_ensemble") as refused:
            import_bundle(destination, bundle)
        assert isinstance(refused.value.__cause__, MetadataValidationError)
        assert destination.count_models() == 0
        assert list(destination.storage.iter_keys()) == []
