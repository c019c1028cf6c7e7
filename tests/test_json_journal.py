"""The JSON store's journal stays small on a save-only workload.

Each save appends a line; folding the journal into the snapshot must keep
happening as the registry grows, not only once, so the journal never
outgrows the snapshot (or a fixed size) and opening the store stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelshelf.metadata import ArtifactRef, ModelDraft
from modelshelf.query import Query
from modelshelf_plugins import json_store
from modelshelf_plugins.json_store import JsonStore
from modelshelf_plugins.semver import SemverScheme

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    import pytest

REF = ArtifactRef(key="m/a.joblib", serializer="joblib", sha256="0" * 64, size=1)


def _lines(store: JsonStore) -> int:
    if not store.journal_path.exists():
        return 0
    return len(store.journal_path.read_bytes().splitlines()) - 1  # minus the header


def _save_only(store: JsonStore, count: int, check: Callable[[], None]) -> list[int]:
    scheme = SemverScheme()
    generations = []
    for i in range(count):
        store.add(
            ModelDraft(model_name=f"m{i % 3}", artifact=REF, metrics={"f1": i / count}), scheme
        )
        check()
        generations.append(store._index.generation)
    return generations


def test_journal_is_folded_again_and_again_as_versions_accumulate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(json_store, "MIN_COMPACTION_LINES", 20)
    store = JsonStore(tmp_path)

    def bounded() -> None:
        snapshot_versions = store._snapshot_versions
        assert _lines(store) < max(20, snapshot_versions), "the journal outgrew the snapshot"

    generations = _save_only(store, 700, bounded)
    # Folds at 20, 40, 80, 160, 320 and 640 versions: the cost of each is
    # spread over as many saves as it copies.
    assert sorted(set(generations)) == [0, 1, 2, 3, 4, 5, 6]
    store.close()
    reopened = JsonStore(tmp_path)
    assert reopened.count(Query()) == 700
    versions = [m.version for m in reopened.find(Query(model_name="m0", order_by="version"))]
    assert versions[-1] == f"1.0.{len(versions) - 1}"


def test_journal_is_folded_at_a_fixed_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json_store, "MAX_JOURNAL_BYTES", 64 * 1024)
    store = JsonStore(tmp_path)
    longest = 0

    def bounded() -> None:
        nonlocal longest
        size = store.journal_path.stat().st_size
        longest = max(longest, size)
        assert size < 64 * 1024

    generations = _save_only(store, 400, bounded)
    assert generations[-1] >= 2  # folded by size, long before 1000 lines
    assert longest > 32 * 1024
    assert JsonStore(tmp_path).count(Query()) == 400
