"""Several processes on one registry at once, on each bundled store (and PostgreSQL).

DESIGN.md invariant 2: N processes saving the same model name at once get
N distinct versions and none is lost. While four savers run, a fifth
process promotes and deletes, and a reader lists throughout: it must never
see a row whose file is gone (delete removes the row first), two
Production versions of one name (a promotion archives the previous one in
the same transaction), or the number of saved versions go down.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import traceback
from typing import TYPE_CHECKING, Any

import pytest

from modelshelf import DuplicateVersionError, ModelRegistry, Stage

if TYPE_CHECKING:
    from collections.abc import Callable
    from multiprocessing.synchronize import Event

    from sklearn.linear_model import LogisticRegression

STRESS = os.environ.get("MODELSHELF_STRESS") == "1"
SAVERS = 4
SAVES_PER_PROCESS = 200 if STRESS else 50
SHARED = "shared"
CHURN = "churn"

pytestmark = [pytest.mark.slow, pytest.mark.modelshelf_multiprocess]

_FORK = multiprocessing.get_context("fork")
#: Both bundled stores, and the external PostgreSQL store when a server runs.
STORES = ["sqlite", "json", "postgresql"]


@pytest.fixture(params=STORES)
def target(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    """(store name, store_url) for one test; PostgreSQL gets a fresh schema."""
    store = str(request.param)
    if store != "postgresql":
        return store, None
    return store, str(request.getfixturevalue("modelshelf_postgresql_url"))


def _open(storage: str, target: tuple[str, str | None]) -> ModelRegistry:
    store, url = target
    return ModelRegistry(storage, store=store, store_url=url)


def _run(result_path: str, work: Callable[[], dict[str, Any]]) -> None:
    """Run ``work`` in a child and leave its result (or traceback) as JSON."""
    try:
        result = work()
    except BaseException:
        result = {"error": traceback.format_exc()}
    with open(result_path, "w") as handle:
        json.dump(result, handle)


def _saver(
    storage: str, target: tuple[str, str | None], model: Any, start: Event
) -> dict[str, Any]:
    registry = _open(storage, target)
    start.wait(30)
    saved = []
    for i in range(SAVES_PER_PROCESS):
        model_id = registry.save_model(model, SHARED, metrics={"f1": (i % 10) / 10})
        saved.append([model_id, registry.get_metadata(model_id).version])
    registry.close()
    return {"saved": saved}


def _mutator(
    storage: str, target: tuple[str, str | None], model: Any, start: Event, stop: Event
) -> dict[str, Any]:
    """Promote versions of the shared name; save and delete versions of another."""
    registry = _open(storage, target)
    rng = random.Random(target[0])
    start.wait(30)
    promoted = deleted = 0
    while not stop.is_set() or promoted < 20:
        versions = registry.get_model_versions(SHARED)
        if versions:
            chosen = rng.choice(versions)
            registry.transition_stage(
                SHARED, chosen.version, rng.choice([Stage.PRODUCTION, Stage.STAGING])
            )
            promoted += 1
        doomed = registry.save_model(model, CHURN, metrics={"f1": 0.5})
        assert registry.delete_model(doomed)
        deleted += 1
    registry.close()
    return {"promoted": promoted, "deleted": deleted}


def _reader(
    storage: str, target: tuple[str, str | None], start: Event, stop: Event
) -> dict[str, Any]:
    registry = _open(storage, target)
    start.wait(30)
    problems: list[str] = []
    passes = rows_checked = verifications = 0
    highest_count = 0
    while not stop.is_set() or passes < 5:
        listed = registry.list_models()
        shared = [m for m in listed if m.model_name == SHARED]
        if len(shared) < highest_count:
            problems.append(f"{SHARED} went from {highest_count} to {len(shared)} versions")
        highest_count = max(highest_count, len(shared))
        production = [m.version for m in shared if m.stage is Stage.PRODUCTION]
        if len(production) > 1:
            problems.append(f"two Production versions at once: {production}")
        for metadata in listed:
            rows_checked += 1
            for ref in (metadata.artifact, *metadata.artifacts.values()):
                if registry.storage.exists(ref.key):
                    continue
                # Delete removes the row before the file: a missing file is only
                # a fault if its row is still there after we saw the file gone.
                if registry.store.get(metadata.model_id) is not None:
                    problems.append(f"row {metadata.model_id} has no file {ref.key}")
        if shared:
            registry.load(shared[-1].model_id)
        if passes % 4 == 0:
            # verify() while others write: a "missing" file is only a fault if
            # its row is still there (a delete may land between the two looks).
            verifications += 1
            for finding in registry.verify().findings:
                if finding.kind in ("missing", "mismatch", "unsafe"):
                    assert finding.model_id is not None
                    if registry.store.get(finding.model_id) is not None:
                        problems.append(f"verify: {finding}")
        passes += 1
    registry.close()
    return {
        "problems": problems,
        "passes": passes,
        "rows_checked": rows_checked,
        "verifications": verifications,
    }


def _start(tmp_path: Any, name: str, work: Callable[[], dict[str, Any]]) -> tuple[Any, str]:
    result_path = str(tmp_path / f"{name}.json")
    process = _FORK.Process(target=_run, args=(result_path, work), name=name)
    process.start()
    return process, result_path


def _result(process: Any, path: str) -> dict[str, Any]:
    process.join(240)
    assert process.exitcode == 0, f"{process.name} exited with {process.exitcode}"
    with open(path) as handle:
        result: dict[str, Any] = json.load(handle)
    assert "error" not in result, f"{process.name} failed:\n{result['error']}"
    return result


def test_concurrent_saves_get_distinct_versions_and_readers_see_whole_changes(
    target: tuple[str, str | None], tmp_path: Any, logistic: LogisticRegression
) -> None:
    storage = str(tmp_path / "registry")
    _open(storage, target).close()
    start, stop = _FORK.Event(), _FORK.Event()
    savers = [
        _start(tmp_path, f"saver{i}", lambda: _saver(storage, target, logistic, start))
        for i in range(SAVERS)
    ]
    mutator = _start(tmp_path, "mutator", lambda: _mutator(storage, target, logistic, start, stop))
    reader = _start(tmp_path, "reader", lambda: _reader(storage, target, start, stop))
    start.set()
    saved = [pair for p in savers for pair in _result(*p)["saved"]]
    stop.set()
    mutations = _result(*mutator)
    reading = _result(*reader)

    expected = SAVERS * SAVES_PER_PROCESS
    assert len({model_id for model_id, _ in saved}) == expected
    assert len({version for _, version in saved}) == expected, "two saves got one version"
    assert reading["problems"] == []
    with _open(storage, target) as registry:
        versions = registry.get_model_versions(SHARED)
        assert sorted(m.model_id for m in versions) == sorted(i for i, _ in saved)
        assert {m.version for m in versions} == {v for _, v in saved}
        assert registry.get_model_versions(CHURN) == []
        assert len(registry.list_models(model_name=SHARED, stage="Production")) <= 1
        report = registry.verify()
        assert report.findings == (), report.findings
        assert report.checked == expected
    print(
        f"\n[concurrency:{target[0]}] saves={len(saved)} distinct_versions={expected} "
        f"transitions={mutations['promoted']} save+delete={mutations['deleted']} "
        f"reader_passes={reading['passes']} rows_checked={reading['rows_checked']} "
        f"verify_runs={reading['verifications']} lost=0"
    )


def test_racing_the_same_explicit_version_admits_exactly_one(
    target: tuple[str, str | None], tmp_path: Any, logistic: LogisticRegression
) -> None:
    storage = str(tmp_path / "registry")
    _open(storage, target).close()
    start = _FORK.Event()

    def claim() -> dict[str, Any]:
        registry = _open(storage, target)
        start.wait(30)
        try:
            return {"won": registry.save_model(logistic, SHARED, version="7.0.0")}
        except DuplicateVersionError as exc:
            return {"lost": str(exc)}
        finally:
            registry.close()

    racers = [_start(tmp_path, f"racer{i}", claim) for i in range(SAVERS)]
    start.set()
    results = [_result(*racer) for racer in racers]
    assert sum("won" in r for r in results) == 1, results
    assert all("7.0.0" in r["lost"] for r in results if "lost" in r)
    with _open(storage, target) as registry:
        assert [m.version for m in registry.get_model_versions(SHARED)] == ["7.0.0"]
        report = registry.verify()
        assert report.findings == (), "a losing racer left its file behind"
