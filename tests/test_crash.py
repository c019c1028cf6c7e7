"""Crash safety: a process saving in a loop is SIGKILLed at random moments.

DESIGN.md invariant 1: after any crash every metadata row points at a
complete artifact whose checksum matches, and a half-written artifact is
never visible. The child saves (with an auxiliary artifact now and then),
promotes and deletes on a real registry; the parent kills it with SIGKILL
at a random instant, reopens the registry and checks that ``verify()``
finds no row without a matching file, that every listed version loads,
and that no version the child saw committed was lost. Orphans and
temporary files are allowed (a kill between file and row leaves one) and
``gc`` must clear them.

CI runs ``KILLS_PER_STORE`` kills on each bundled store (half as many on the
external PostgreSQL store when a server is up); ``MODELSHELF_STRESS=1``
runs ten times as many.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
import traceback
from typing import TYPE_CHECKING, Any

import joblib
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.preprocessing import StandardScaler

from modelshelf import ModelRegistry

if TYPE_CHECKING:
    from pathlib import Path

    from sklearn.linear_model import LogisticRegression

STRESS = os.environ.get("MODELSHELF_STRESS") == "1"
KILLS_PER_STORE = 400 if STRESS else 40
#: The registry keeps about this many versions, so each check stays cheap.
KEEP_VERSIONS = 12
MODEL_NAME = "crashy"

pytestmark = [pytest.mark.slow, pytest.mark.modelshelf_multiprocess]


def _child(
    storage: Path, store: str, url: str | None, log_path: Path, seed: int, model: Any, aux: Any
) -> None:
    """Save, promote and delete until killed; log each step once it returned."""
    try:
        # Fold the JSON journal often, so kills also land inside compactions.
        from modelshelf_plugins import json_store

        json_store.MIN_COMPACTION_LINES = 8
        rng = random.Random(seed)
        registry = ModelRegistry(storage, store=store, store_url=url)
        with open(log_path, "a", buffering=1) as log:
            while True:
                versions = registry.get_model_versions(MODEL_NAME)
                roll = rng.random()
                if len(versions) > KEEP_VERSIONS:
                    victim = versions[0].model_id
                    log.write(f"deleting {victim}\n")
                    registry.delete_model(victim)
                elif versions and roll < 0.15:
                    target = rng.choice(versions)
                    registry.transition_stage(MODEL_NAME, target.version, "Production")
                else:
                    model_id = registry.save_model(
                        model,
                        MODEL_NAME,
                        metrics={"f1": rng.random()},
                        artifacts={"scaler": aux} if roll > 0.6 else None,
                    )
                    log.write(f"saved {model_id}\n")
    except BaseException:
        with open(log_path, "a") as log:
            log.write("error " + traceback.format_exc().replace("\n", " | ") + "\n")
        os._exit(3)


def _read_log(log_path: Path) -> tuple[set[int], set[int]]:
    saved: set[int] = set()
    deleting: set[int] = set()
    for line in log_path.read_text().splitlines():
        word, _, rest = line.partition(" ")
        if word == "error":
            pytest.fail(f"the saving process failed on its own: {rest}")
        if not line.endswith(tuple("0123456789")):
            continue  # a line torn by the kill
        (saved if word == "saved" else deleting).add(int(rest))
    return saved, deleting


@pytest.fixture(scope="module")
def big_forest() -> RandomForestClassifier:
    """Large enough (a few hundred KB) that kills often land mid-write."""
    X, y = load_iris(return_X_y=True)
    return RandomForestClassifier(n_estimators=40, random_state=0).fit(X, y)


@pytest.mark.parametrize("store", ["sqlite", "json", "postgresql"])
def test_sigkill_while_saving_loses_nothing(
    store: str, tmp_path: Path, big_forest: RandomForestClassifier, request: pytest.FixtureRequest
) -> None:
    url = None
    kills_wanted = KILLS_PER_STORE
    if store == "postgresql":  # the external store, when a server is up
        url = str(request.getfixturevalue("modelshelf_postgresql_url"))
        kills_wanted = KILLS_PER_STORE // 2
    storage = tmp_path / "registry"
    log_path = tmp_path / "child.log"
    log_path.touch()
    aux = StandardScaler().fit(load_iris(return_X_y=True)[0])
    ModelRegistry(storage, store=store, store_url=url).close()
    context = multiprocessing.get_context("fork")
    rng = random.Random(f"crash-{store}")
    kills = leftovers = 0
    loaded = 0
    for round_number in range(kills_wanted):
        child = context.Process(
            target=_child,
            args=(storage, store, url, log_path, rng.getrandbits(32), big_forest, aux),
        )
        child.start()
        time.sleep(rng.uniform(0.02, 0.45))
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        assert child.exitcode == -signal.SIGKILL, _read_log(log_path)
        kills += 1

        saved, deleting = _read_log(log_path)
        with ModelRegistry(storage, store=store, store_url=url) as registry:
            report = registry.verify()
            assert report.ok, [f for f in report.findings if f.kind in ("missing", "mismatch")]
            leftovers += sum(f.kind in ("orphan", "temporary") for f in report.findings)
            for finding in report.findings:
                if finding.kind == "orphan":
                    # Under its final name a file is always complete, even unrecorded.
                    with registry.storage.open(finding.key) as stream:
                        joblib.load(stream)
            listed = registry.get_model_versions(MODEL_NAME)
            present = {m.model_id for m in listed}
            lost = saved - deleting - present
            assert not lost, f"committed versions {sorted(lost)} vanished after kill {kills}"
            assert len({m.version for m in listed}) == len(listed)
            for metadata in listed:
                result = registry.load(metadata.model_id)
                assert type(result.model) is RandomForestClassifier
                assert set(result.artifacts) == set(metadata.artifacts)
                loaded += 1
            assert len(registry.list_models(stage="Production")) <= 1
            if round_number % 10 == 9:
                registry.gc(dry_run=False, min_age_seconds=0)
                after = registry.verify()
                assert after.findings == (), after.findings

    saved, deleting = _read_log(log_path)
    assert len(saved) > kills // 2, "the child hardly got to save; the kills test nothing"
    print(
        f"\n[crash:{store}] kills={kills} committed_saves={len(saved)} "
        f"deletes_started={len(deleting)} leftovers_seen={leftovers} loads_checked={loaded} lost=0"
    )


def _stages(storage: Path, store: str) -> dict[str, str]:
    with ModelRegistry(storage, store=store) as registry:
        return {m.version: m.stage.value for m in registry.get_model_versions(MODEL_NAME)}


def test_torn_journal_write_is_all_or_nothing(tmp_path: Path, logistic: LogisticRegression) -> None:
    """A promotion archives the old Production version and promotes the new one
    in one journal write. Cut that write at every byte (a power cut mid-write):
    a reader sees the state before or the state after, never a mix."""
    storage = tmp_path / "registry"
    with ModelRegistry(storage, store="json") as registry:
        registry.save_model(logistic, MODEL_NAME)
        registry.save_model(logistic, MODEL_NAME)
        registry.transition_stage(MODEL_NAME, "1.0.0", "Production")
    before = _stages(storage, "json")
    journal = storage / "index.journal"
    start = journal.stat().st_size
    with ModelRegistry(storage, store="json") as registry:
        registry.transition_stage(MODEL_NAME, "1.0.1", "Production")
    after = _stages(storage, "json")
    assert before != after
    whole = journal.read_bytes()
    assert len(whole) > start
    seen = set()
    every = range(start, len(whole) + 1)
    cuts = (
        every if STRESS else sorted({*every[:3], *every[-3:], *every[:: max(1, len(every) // 40)]})
    )
    for cut in cuts:
        journal.write_bytes(whole[:cut])
        stages = _stages(storage, "json")
        assert stages in (before, after), f"cut at byte {cut - start}: {stages}"
        seen.add(tuple(sorted(stages.items())))
        # The next writer drops the torn tail and carries on from a whole state.
        with ModelRegistry(storage, store="json") as registry:
            registry.set_alias(f"{MODEL_NAME}:1.0.0", "probe")
            assert registry.get_metadata(f"{MODEL_NAME}@probe").version == "1.0.0"
            assert {m.version: m.stage.value for m in registry.get_model_versions(MODEL_NAME)} in (
                before,
                after,
            )
    assert len(seen) == 2
