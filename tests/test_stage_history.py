"""Stage history on every store (SQLite, JSON, PostgreSQL): one path into a stage,
structured audit events, rollback replayed by model_id.

Every way into a stage (promotion, rollback, a save or an import straight into
it) goes through the store's one locked ``transition``, with the core's plan:
it archives the name's other Production version and records an audit event
that names the version by id. ``rollback`` reads its stack from those events alone, so neither a
reason someone typed nor a model saved later under a deleted version's number
can mislead it. The race test runs real processes.
"""

from __future__ import annotations

import json
import multiprocessing
import random
import time
import traceback
from typing import TYPE_CHECKING, Any

import pytest
from attrs import evolve
from sklearn.tree import DecisionTreeClassifier

from modelshelf import (
    DuplicateVersionError,
    ModelNotFoundError,
    ModelRegistry,
    RetiredVersionError,
    Stage,
)
from modelshelf.bundle import export_version, import_bundle, read_bundle
from modelshelf.protocols import (
    IMPORT_ACTION,
    ROLLBACK_ACTION,
    STAGE_ACTION,
    STAGE_ACTIONS,
    AuditEvent,
)
from modelshelf.testing.contracts import MetadataStoreContract
from modelshelf.testing.reference import ReferenceScheme
from modelshelf_plugins.sqlite_store import SqliteStore

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from pathlib import Path

    from sklearn.linear_model import LogisticRegression

    from modelshelf.metadata import ModelMetadata
    from modelshelf.protocols import Changes, NameState

STORES = ["sqlite", "json", "postgresql"]
#: Trials of the import-versus-promotion race per store.
RACE_TRIALS = 20
_FORK = multiprocessing.get_context("fork")


@pytest.fixture(params=STORES)
def target(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    """(store name, store_url); PostgreSQL gets a fresh schema."""
    store = str(request.param)
    if store != "postgresql":
        return store, None
    return store, str(request.getfixturevalue("modelshelf_postgresql_url"))


@pytest.fixture
def open_registry(
    target: tuple[str, str | None], tmp_path: Path
) -> Iterator[Callable[..., ModelRegistry]]:
    """Opens registries by name; on PostgreSQL each gets its own schema."""
    opened: list[ModelRegistry] = []
    schemas: list[str] = []

    def open_(name: str = "registry", **options: Any) -> ModelRegistry:
        store, url = target
        if url is not None:
            url = f"{url}_{name}"
            schemas.append(url.rsplit("schema=", 1)[1])
        registry = ModelRegistry(
            tmp_path / name, store=store, store_url=url, user="alice", **options
        )
        opened.append(registry)
        return registry

    yield open_
    for registry in opened:
        registry.close()
    if schemas:
        _drop_schemas(str(target[1]), schemas)


def _drop_schemas(url: str, schemas: list[str]) -> None:
    import psycopg

    with psycopg.connect(url.split("?", 1)[0], autocommit=True) as conn:
        for schema in schemas:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _production(registry: ModelRegistry, name: str = "m") -> list[str]:
    return [m.version for m in registry.list_models(model_name=name, stage=Stage.PRODUCTION)]


# -- structured rollback --------------------------------------------------------------


def test_a_promotion_reason_that_reads_like_a_rollback_is_still_a_promotion(
    open_registry: Callable[..., ModelRegistry], logistic: LogisticRegression
) -> None:
    registry = open_registry()
    for _ in range(3):
        registry.save_model(logistic, "m")
    registry.transition_stage("m", "1.0.0", "Production")
    registry.transition_stage("m", "1.0.1", "Production")
    registry.promote("m:1.0.2", reason="rollback-safe release")
    assert registry.rollback("m").version == "1.0.1"
    assert registry.rollback("m").version == "1.0.0"
    actions = [(e.action, e.version, e.to_value) for e in registry.audit_log("m")]
    assert actions[-2:] == [
        (STAGE_ACTION, "1.0.1", "Archived"),
        (ROLLBACK_ACTION, "1.0.0", "Production"),
    ]


def test_rollback_events_name_their_version_by_id(
    open_registry: Callable[..., ModelRegistry], logistic: LogisticRegression
) -> None:
    registry = open_registry()
    ids = [registry.save_model(logistic, "m") for _ in range(2)]
    registry.promote(ids[0])
    registry.promote(ids[1])
    registry.rollback("m", reason="latency")
    events = registry.audit_log("m")
    assert [(e.action, e.model_id, e.from_value, e.to_value) for e in events] == [
        (STAGE_ACTION, ids[0], "None", "Production"),
        (STAGE_ACTION, ids[0], "Production", "Archived"),
        (STAGE_ACTION, ids[1], "None", "Production"),
        (STAGE_ACTION, ids[1], "Production", "Archived"),
        (ROLLBACK_ACTION, ids[0], "Archived", "Production"),
    ]
    assert events[-1].reason == "rollback from 1.0.1: latency"


# -- deleted versions --------------------------------------------------------------------


def test_rollback_never_deploys_a_model_saved_under_a_deleted_versions_number(
    open_registry: Callable[..., ModelRegistry], logistic: LogisticRegression, iris: Any
) -> None:
    registry = open_registry()
    first = registry.save_model(logistic, "m")
    registry.save_model(logistic, "m")
    registry.transition_stage("m", "1.0.0", "Production")
    registry.transition_stage("m", "1.0.1", "Production")
    registry.transition_stage("m", "1.0.0", "Archived")
    assert registry.delete_model(first)
    tree = DecisionTreeClassifier(random_state=0).fit(*iris)
    with pytest.raises(RetiredVersionError, match=r"'1\.0\.0' and it was deleted") as info:
        registry.save_model(tree, "m", version="1.0.0")
    assert isinstance(info.value, DuplicateVersionError)
    assert isinstance(info.value, ValueError)
    assert [m.version for m in registry.get_model_versions("m")] == ["1.0.1"]
    assert list(registry.storage.iter_keys()) == [registry.get_metadata("m:1.0.1").artifact.key]
    # An unused number is still free; the deleted one is skipped by rollback.
    registry.save_model(tree, "m", version="0.9.0")
    with pytest.raises(ModelNotFoundError, match="no earlier Production"):
        registry.rollback("m")
    assert _production(registry) == ["1.0.1"]


def test_checkpoint_steps_can_be_saved_again_after_they_were_dropped(
    open_registry: Callable[..., ModelRegistry], logistic: LogisticRegression
) -> None:
    registry = open_registry()
    for step in range(3):
        registry.save_checkpoint(logistic, "m", step, keep_last=1)
    registry.save_checkpoint(logistic, "m", 0)
    assert [m.version for m in registry.list_checkpoints("m")] == ["ckpt-0", "ckpt-2"]


def test_importing_a_deleted_versions_number_is_refused_or_renumbered(
    open_registry: Callable[..., ModelRegistry], logistic: LogisticRegression, tmp_path: Path
) -> None:
    source = open_registry("source")
    source.save_model(logistic, "m")
    bundle = export_version(source, "m:1.0.0", tmp_path / "bundle")
    registry = open_registry()
    assert registry.delete_model(registry.save_model(logistic, "m"))
    with pytest.raises(RetiredVersionError):
        import_bundle(registry, bundle)
    assert registry.list_models() == []
    assert list(registry.storage.iter_keys()) == []
    renumbered = import_bundle(registry, bundle, on_conflict="renumber")
    assert (renumbered.metadata.version, renumbered.renumbered) == ("1.0.1", True)


# -- into a stage straight away ----------------------------------------------------------


def test_importing_into_production_is_a_recorded_promotion(
    open_registry: Callable[..., ModelRegistry], logistic: LogisticRegression, tmp_path: Path
) -> None:
    source = open_registry("source")
    source.save_model(logistic, "m", stage="Production")
    bundle = export_version(source, "m:1.0.0", tmp_path / "bundle")
    registry = open_registry()
    imported = import_bundle(registry, bundle).metadata
    assert imported.stage is Stage.PRODUCTION
    [event] = registry.audit_log("m")
    assert (event.action, event.model_id, event.from_value, event.to_value) == (
        IMPORT_ACTION,
        imported.model_id,
        "None",
        "Production",
    )
    assert event.reason == "imported m:1.0.0"
    registry.save_model(logistic, "m")
    registry.transition_stage("m", "1.0.1", "Production")
    assert registry.rollback("m").model_id == imported.model_id
    assert _production(registry) == ["1.0.0"]


def test_import_version_into_production_archives_the_current_one(
    open_registry: Callable[..., ModelRegistry], logistic: LogisticRegression, tmp_path: Path
) -> None:
    source = open_registry("source")
    source.save_model(logistic, "m")
    bundle = export_version(source, "m:1.0.0", tmp_path / "bundle")
    registry = open_registry()
    registry.save_model(logistic, "m", version="2.0.0", stage="Production")
    verified = read_bundle(registry, bundle)
    recorded = registry.import_version(
        verified.metadata, verified.files, version=None, stage=Stage.PRODUCTION
    )
    assert recorded.version == "2.0.1"
    assert _production(registry) == ["2.0.1"]
    assert registry.get_metadata("m:2.0.0").stage is Stage.ARCHIVED
    assert [(e.action, e.version, e.to_value) for e in registry.audit_log("m")] == [
        (STAGE_ACTION, "2.0.0", "Production"),
        (STAGE_ACTION, "2.0.0", "Archived"),
        (IMPORT_ACTION, "2.0.1", "Production"),
    ]


def test_saving_into_production_archives_and_is_audited_like_a_promotion(
    open_registry: Callable[..., ModelRegistry], logistic: LogisticRegression
) -> None:
    registry = open_registry()
    first = registry.save_model(logistic, "m", stage="Production")
    second = registry.save_model(logistic, "m", stage="Production")
    assert _production(registry) == ["1.0.1"]
    assert [(e.action, e.model_id, e.to_value, e.reason) for e in registry.audit_log("m")] == [
        (STAGE_ACTION, first, "Production", "initial stage"),
        (STAGE_ACTION, first, "Archived", "replaced by 1.0.1 in Production"),
        (STAGE_ACTION, second, "Production", "initial stage"),
    ]
    assert registry.rollback("m").model_id == first


# -- the race, in real processes ---------------------------------------------------------


def _run(result_path: str, work: Callable[[], dict[str, Any]]) -> None:
    try:
        result = work()
    except BaseException:
        result = {"error": traceback.format_exc()}
    with open(result_path, "w") as handle:
        json.dump(result, handle)


def _race_once(
    storage: str,
    target: tuple[str, str | None],
    bundle: Path,
    model: Any,
    rng: random.Random,
    results_dir: Path,
) -> list[dict[str, Any]]:
    """One trial: import, promote and save in three processes released at once."""
    store, url = target
    start = _FORK.Event()
    promote_delay, save_delay = rng.uniform(0, 0.05), rng.uniform(0, 0.05)
    promoted = f"m:1.0.{rng.randrange(3)}"

    def importer() -> dict[str, Any]:
        with ModelRegistry(storage, store=store, store_url=url) as registry:
            start.wait(30)
            got = import_bundle(registry, bundle, on_conflict="renumber")
            return {"version": got.metadata.version, "stage": got.metadata.stage.value}

    def promoter() -> dict[str, Any]:
        with ModelRegistry(storage, store=store, store_url=url) as registry:
            start.wait(30)
            time.sleep(promote_delay)
            return {"version": registry.promote(promoted).version}

    def saver() -> dict[str, Any]:
        with ModelRegistry(storage, store=store, store_url=url) as registry:
            start.wait(30)
            time.sleep(save_delay)
            return {"id": registry.save_model(model, "m")}

    running = []
    for name, work in (("import", importer), ("promote", promoter), ("save", saver)):
        path = str(results_dir / f"{name}.json")
        process = _FORK.Process(target=_run, args=(path, work), name=name)
        process.start()
        running.append((process, path))
    start.set()
    results = []
    for process, path in running:
        process.join(120)
        assert process.exitcode == 0, f"{process.name} exited with {process.exitcode}"
        with open(path) as handle:
            results.append(json.load(handle))
    errors = [r["error"] for r in results if "error" in r]
    assert errors == [], errors[0] if errors else ""
    return results


@pytest.mark.slow
@pytest.mark.modelshelf_multiprocess
def test_an_import_racing_promotions_leaves_one_production_version(
    target: tuple[str, str | None],
    open_registry: Callable[..., ModelRegistry],
    logistic: LogisticRegression,
    tmp_path: Path,
) -> None:
    """An import into Production (renumbering), a promotion and a save race,
    each in its own process; every trial ends with exactly one Production
    version and every process succeeds (the import renumbers if the save
    took its version)."""
    source = open_registry("source")
    for _ in range(4):
        source.save_model(logistic, "m")
    source.transition_stage("m", "1.0.3", "Production")
    bundle = export_version(source, "m:1.0.3", tmp_path / "bundle")
    store, base_url = target
    outcomes = []
    for trial in range(RACE_TRIALS):
        url = None if base_url is None else f"{base_url}_trial{trial}"
        storage = str(tmp_path / f"trial{trial}")
        with ModelRegistry(storage, store=store, store_url=url) as registry:
            for _ in range(3):
                registry.save_model(logistic, "m")
        results_dir = tmp_path / f"results{trial}"
        results_dir.mkdir()
        results = _race_once(
            storage, (store, url), bundle, logistic, random.Random(trial), results_dir
        )
        with ModelRegistry(storage, store=store, store_url=url) as registry:
            production = _production(registry)
            assert len(production) == 1, f"trial {trial}: Production versions {production}"
            events = registry.audit_log("m")
            imported = [e.version for e in events if e.action == IMPORT_ACTION]
            # The import enters Production unless it saw one there already.
            entered = results[0]["stage"] == "Production"
            assert imported == ([results[0]["version"]] if entered else [])
            assert len(registry.get_model_versions("m")) == 5
        outcomes.append(production[0])
        if url is not None:
            _drop_schemas(url, [url.rsplit("schema=", 1)[1]])
    print(f"\n[stage race:{store}] trials={RACE_TRIALS} production_after={outcomes}")


# -- the store contract catches stores that get the audit format wrong ---------------------


class _RecordsEveryChangeAsStage(SqliteStore):
    """Keeps every stage event as a plain ``stage`` one, whatever action it was given."""

    def transition(
        self,
        model_name: str,
        plan: Callable[[NameState], Changes],
        *,
        model_ids: Sequence[int] = (),
        aliases: Sequence[str] = (),
    ) -> Changes:
        def as_stage(state: NameState) -> Changes:
            changes = plan(state)
            events = [
                evolve(e, action=STAGE_ACTION) if e.action in STAGE_ACTIONS else e
                for e in changes.events
            ]
            return evolve(changes, events=events)

        return super().transition(model_name, as_stage, model_ids=model_ids, aliases=aliases)


class _LosesModelIds(SqliteStore):
    def audit_log(self, model_name: str | None) -> list[AuditEvent]:
        return [evolve(e, model_id=None) for e in super().audit_log(model_name)]


class _ReusesDeletedVersions(SqliteStore):
    def delete(self, model_id: int) -> ModelMetadata | None:
        removed = super().delete(model_id)
        with self._write() as conn:
            conn.execute("DELETE FROM retired_versions")
        return removed


_EVENTS_TEST = "test_stage_events_record_the_action_asked_for_and_every_versions_id"
_RETIRED_TEST = "test_a_deleted_release_versions_number_is_refused_when_asked_for"


@pytest.mark.parametrize(
    ("store_class", "contract_test"),
    [
        (_RecordsEveryChangeAsStage, _EVENTS_TEST),
        (_LosesModelIds, _EVENTS_TEST),
        (_LosesModelIds, "test_alias_events_name_the_version_by_id"),
        (_LosesModelIds, "test_audit_events_keep_their_ids_after_the_version_is_deleted"),
        (_ReusesDeletedVersions, _RETIRED_TEST),
    ],
)
def test_the_store_contract_fails_a_store_that_gets_the_audit_format_wrong(
    store_class: type[SqliteStore], contract_test: str, tmp_path: Path
) -> None:
    store = store_class(tmp_path / "registry.db")
    contract = MetadataStoreContract()
    test = getattr(contract, contract_test)
    options = {"store_opener": None} if "store_opener" in test.__code__.co_varnames else {}
    try:
        with pytest.raises((AssertionError, pytest.fail.Exception)):
            test(store=store, scheme=ReferenceScheme(), **options)
    finally:
        store.close()
    # The same test passes the real store.
    good = SqliteStore(tmp_path / "good.db")
    try:
        test(store=good, scheme=ReferenceScheme(), **options)
    finally:
        good.close()
