"""Part of the metadata-store suite: adding versions and reading them back.

Version numbers, ids, duplicates and checkpoints, and rows that read back as
they were written; combined into ``MetadataStoreContract`` in
:mod:`modelshelf.testing.contracts`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from modelshelf.errors import DuplicateVersionError, ModelNotFoundError
from modelshelf.metadata import ArtifactRef, Stage, TrainingInfo, metadata_from_draft
from modelshelf.query import Query, Ranking
from modelshelf.signatures import ColumnSpec, Signature, TensorSpec
from modelshelf.testing._store_contract_support import (
    _ALIASES,
    _EXPECTED_VERSIONS,
    _STAGES,
    Populated,
    StoreContractBase,
    _ids,
)
from modelshelf.testing.reference import EPOCH, add_versions, make_draft
from modelshelf.transitions import move_stage

if TYPE_CHECKING:
    from modelshelf.protocols import MetadataStore, VersioningScheme


class StoreWritesContract(StoreContractBase):
    """Adding: versions, ids, duplicates, checkpoints, and rows read back as written."""

    # -- empty store -------------------------------------------------------------

    def test_empty_store_answers_empty(self, store: MetadataStore) -> None:
        assert store.find(Query()) == []
        assert store.find(Query(checkpoints=True)) == []
        assert store.count(Query()) == 0
        assert store.model_names() == []
        assert store.get(1) is None
        assert store.best(Ranking.by_metric("f1"), Query()) is None
        assert store.audit_log(None) == []
        assert store.get_model_info("alpha") is None

    def test_operations_on_missing_ids_report_absence(self, store: MetadataStore) -> None:
        assert store.delete(99) is None
        with pytest.raises(ModelNotFoundError):
            move_stage(
                store, "alpha", 99, Stage.PRODUCTION, archive_others=True, actor="a", reason=""
            )
        assert store.update(99, description="x", tags={"k": "v"}) is None
        assert store.audit_log(None) == []

    # -- adding ------------------------------------------------------------------

    def test_add_returns_the_recorded_version(
        self, store: MetadataStore, scheme: VersioningScheme
    ) -> None:
        draft = make_draft(
            "alpha",
            model_type="RandomForestClassifier",
            metrics={"f1": 0.8125, "val_loss": 0.125},
            hyperparameters={"max_depth": 5, "nested": {"a": [1, 2.5, None, True]}},
            description="first one, with unicode: café ✓",
            tags={"team": "vision", "git.sha": "abc123"},
            stage=Stage.STAGING,
            created_at=EPOCH.replace(microsecond=123456),
            training_info=TrainingInfo(
                dataset="iris",
                n_samples=150,
                class_distribution={"0": 50, "1": 100},
                data_quality_score=0.5,
                is_ensemble=True,
                extra={"split": "70/30"},
            ),
            feature_names=["sepal length (cm)", "petal width (cm)"],
            artifacts={
                "scaler": ArtifactRef(
                    key="alpha/scaler.bin", serializer="joblib", sha256="a" * 64, size=7
                )
            },
            parent_id=None,
            signature=Signature(
                inputs=[
                    ColumnSpec(name="sepal length (cm)", dtype="float64"),
                    ColumnSpec(name="petal width (cm)", dtype="int32"),
                    ColumnSpec(name="city ✓", dtype="string"),
                ],
                outputs=TensorSpec(dtype="int64", shape=(None,)),
            ),
            input_example=[{"sepal length (cm)": 5.1, "petal width (cm)": 2, "city ✓": None}],
            preprocessing=["scaler"],
        )
        recorded = store.add(draft, scheme)
        assert recorded.model_id >= 1
        assert recorded.version == scheme.first()
        assert recorded == metadata_from_draft(
            draft, model_id=recorded.model_id, version=recorded.version
        )
        assert store.get(recorded.model_id) == recorded
        assert store.find(Query()) == [recorded]
        assert store.count(Query()) == 1
        assert store.model_names() == ["alpha"]

    def test_automatic_versions_follow_the_scheme_order_not_text_order(
        self, store: MetadataStore, scheme: VersioningScheme
    ) -> None:
        versions = add_versions(store, "alpha", 12)
        assert versions == [str(n) for n in range(1, 13)]

    def test_versions_are_per_model_name(
        self, store: MetadataStore, scheme: VersioningScheme
    ) -> None:
        assert store.add(make_draft("alpha"), scheme).version == "1"
        assert store.add(make_draft("beta"), scheme).version == "1"
        assert store.add(make_draft("alpha"), scheme).version == "2"
        assert store.model_names() == ["alpha", "beta"]

    def test_requested_version_is_taken_and_the_next_follows_it(
        self, store: MetadataStore, scheme: VersioningScheme
    ) -> None:
        assert store.add(make_draft("alpha", requested_version="5"), scheme).version == "5"
        assert store.add(make_draft("alpha"), scheme).version == "6"
        # An explicit lower version is recorded but does not move the counter back.
        assert store.add(make_draft("alpha", requested_version="2"), scheme).version == "2"
        assert store.add(make_draft("alpha"), scheme).version == "7"

    def test_duplicate_requested_version_is_rejected_and_nothing_is_written(
        self, store: MetadataStore, scheme: VersioningScheme
    ) -> None:
        first = store.add(make_draft("alpha", requested_version="3"), scheme)
        with pytest.raises(DuplicateVersionError) as info:
            store.add(make_draft("alpha", requested_version="3", description="dup"), scheme)
        assert isinstance(info.value, ValueError)
        assert "alpha" in str(info.value)
        assert "3" in str(info.value)
        assert store.find(Query()) == [first]
        # The same version under another name is no duplicate.
        assert store.add(make_draft("beta", requested_version="3"), scheme).version == "3"

    def test_checkpoints_are_separate_from_releases(
        self, store: MetadataStore, scheme: VersioningScheme
    ) -> None:
        release = store.add(make_draft("alpha"), scheme)
        checkpoint = store.add(make_draft("alpha", requested_version="40", checkpoint=True), scheme)
        assert checkpoint.checkpoint is True
        assert store.add(make_draft("alpha"), scheme).version == "2"
        assert release.model_id not in _ids(store.find(Query(checkpoints=True)))
        assert _ids(store.find(Query(checkpoints=True))) == [checkpoint.model_id]
        assert checkpoint.model_id not in _ids(store.find(Query()))
        assert store.count(Query(checkpoints=True)) == 1
        assert store.best(Ranking.by_metric("f1"), Query()) is None

    def test_ids_are_unique_increasing_and_never_reused(
        self, store: MetadataStore, scheme: VersioningScheme
    ) -> None:
        ids = [store.add(make_draft(name), scheme).model_id for name in ("a", "b", "a", "c")]
        assert ids == sorted(set(ids))
        assert store.delete(ids[-1]) is not None
        again = store.add(make_draft("c"), scheme)
        assert again.model_id > ids[-1]

    def test_deleted_version_numbers_are_never_reassigned(
        self, store: MetadataStore, scheme: VersioningScheme
    ) -> None:
        first, second = (store.add(make_draft("a"), scheme) for _ in range(2))
        assert store.delete(second.model_id) is not None
        third = store.add(make_draft("a"), scheme)
        assert scheme.sort_key(third.version) > scheme.sort_key(second.version), (
            "a deleted version's number was handed out again"
        )
        assert store.delete(first.model_id) is not None
        assert store.delete(third.model_id) is not None
        fourth = store.add(make_draft("a"), scheme)
        assert scheme.sort_key(fourth.version) > scheme.sort_key(third.version)

    # -- reading -----------------------------------------------------------------

    def test_populated_rows_are_as_written(self, populated: Populated) -> None:
        store, ids, rows = populated
        for row in rows:
            assert store.get(row.model_id) == row, "a version reads back unlike it was written"
        by_id = {m.model_id: m for m in rows}
        for label, version in _EXPECTED_VERSIONS.items():
            assert by_id[ids[label]].version == version, label
        for label, stage in _STAGES.items():
            assert by_id[ids[label]].stage is stage, label
        for (name, alias), label in _ALIASES.items():
            assert alias in by_id[ids[label]].aliases
            assert by_id[ids[label]].model_name == name
        assert by_id[ids["a1"]].aliases == ()
        assert by_id[ids["a1"]].tags == {"team": "a", "env": "dev"}
        assert store.model_names() == ["alpha", "beta", "gamma"]
