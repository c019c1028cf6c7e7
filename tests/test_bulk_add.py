"""``add_many``: the bulk path of the SQLite and JSON stores decides versions as ``add`` does."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from modelshelf import DuplicateVersionError, ModelRegistry
from modelshelf.metadata import ArtifactRef, ModelDraft

if TYPE_CHECKING:
    from pathlib import Path


def _draft(name: str, i: int, **extra: Any) -> ModelDraft:
    return ModelDraft(
        model_name=name,
        model_type="LogisticRegression",
        metrics={"f1": i / 100},
        tags={"team": "risk"},
        artifact=ArtifactRef(
            key=f"{name}/{i}.joblib", serializer="joblib", sha256="0" * 64, size=1
        ),
        **extra,
    )


@pytest.mark.parametrize("store", ["sqlite", "json"])
def test_add_many_records_versions_as_add_does(tmp_path: Path, store: str) -> None:
    with ModelRegistry(tmp_path, store=store) as registry:
        first = registry.store.add(_draft("a", 0), registry.versioning)
        drafts = [_draft("a", 1), _draft("b", 2), _draft("a", 3, requested_version="2.0.0")]
        drafts += [_draft("a", 4), _draft("b", 5)]
        ids = registry.store.add_many(drafts, registry.versioning)  # type: ignore[attr-defined]
        assert ids == list(range(first.model_id + 1, first.model_id + 6))
    with ModelRegistry(tmp_path, store=store) as registry:  # durable: read back after reopening
        assert [m.version for m in registry.get_model_versions("a")] == [
            "1.0.0",
            "1.0.1",
            "2.0.0",
            "2.0.1",
        ]
        assert [m.version for m in registry.get_model_versions("b")] == ["1.0.0", "1.0.1"]
        assert registry.get_metadata(ids[1]).metrics == {"f1": 0.02}
        assert registry.get_metadata(ids[1]).tags == {"team": "risk"}


@pytest.mark.parametrize("store", ["sqlite", "json"])
def test_add_many_refuses_a_duplicate_version(tmp_path: Path, store: str) -> None:
    with ModelRegistry(tmp_path, store=store) as registry:
        drafts = [
            _draft("a", 0, requested_version="1.0.0"),
            _draft("a", 1, requested_version="1.0.0"),
        ]
        with pytest.raises(DuplicateVersionError):
            registry.store.add_many(drafts, registry.versioning)  # type: ignore[attr-defined]
        # Both stores write the batch whole or not at all (SQLite in one transaction).
        assert registry.get_model_versions("a") == []
        registry.store.add(_draft("a", 2), registry.versioning)
        assert [m.version for m in registry.get_model_versions("a")] == ["1.0.0"]
