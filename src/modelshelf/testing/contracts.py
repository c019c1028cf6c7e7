"""Conformance suites: the tests every plugin of a kind must pass.

A backend subclasses one contract in a test module and overrides one
fixture that builds its object; everything else comes from here::

    from modelshelf.testing.contracts import MetadataStoreContract

    class TestMyStore(MetadataStoreContract):
        @pytest.fixture
        def store(self, tmp_path):
            store = MyStore(tmp_path / "db")
            yield store
            store.close()

The contracts are named ``...Contract`` so pytest does not collect them
where they are defined, only in a ``Test...`` subclass. Capabilities are
class attributes with safe defaults; a test that needs a capability the
backend lacks skips and says why. A backend can override any single test
by redefining the method (e.g. to mark it ``xfail`` with a reason).

The expected answers come from :mod:`modelshelf.testing.reference`, which
derives them from :mod:`modelshelf.query` (the reference semantics), so the
suite and the in-memory reference can never disagree.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import pytest
from attrs import evolve

from modelshelf import protocols
from modelshelf.errors import (
    DuplicateVersionError,
    InvalidInputError,
    ModelNotFoundError,
    ModelShelfError,
    RetiredVersionError,
)
from modelshelf.metadata import (
    ArtifactRef,
    ModelInfo,
    ModelMetadata,
    Stage,
    TrainingInfo,
    metadata_from_draft,
)
from modelshelf.query import MetricBound, Query, Ranking, RankTerm
from modelshelf.signatures import ColumnSpec, Signature, TensorSpec
from modelshelf.testing._contract_support import SUITE_SETTINGS, _not_overridden
from modelshelf.testing.artifact_contract import ArtifactStoreContract
from modelshelf.testing.guarantees import StoreGuarantees, require_opener
from modelshelf.testing.reference import (
    EPOCH,
    ReferenceScheme,
    add_versions,
    change_stage,
    make_draft,
    point_alias,
    reference_best,
    reference_find,
)
from modelshelf.testing.scoring_contract import ScoringPolicyContract
from modelshelf.testing.serializer_contract import SerializerContract
from modelshelf.testing.versioning_contract import UNSAFE_VERSIONS, VersioningSchemeContract
from modelshelf.testing.workers import add_versions_and_a_duplicate, run_workers
from modelshelf.transitions import move_stage

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from modelshelf.protocols import (
        MetadataStore,
        VersioningScheme,
    )


def _ids(rows: list[ModelMetadata]) -> list[int]:
    return [m.model_id for m in rows]


# ---------------------------------------------------------------------------
# Metadata stores
# ---------------------------------------------------------------------------


def _minutes(n: float) -> datetime:
    return EPOCH + timedelta(minutes=n)


class Populated(NamedTuple):
    """A store holding the suite's fixed data set, and its rows by label."""

    store: MetadataStore
    ids: dict[str, int]
    rows: list[ModelMetadata]


#: The fixed data set: label, model_name, requested version, fields.
#: Metric values are multiples of 1/4 and weights below are 1/2 and 1/4, so
#: every score is exact in binary floating point and ties are real ties.
_DATASET: list[tuple[str, str, str | None, dict[str, Any]]] = [
    (
        "a1",
        "alpha",
        None,
        {
            "metrics": {"f1": 0.5, "accuracy": 0.75, "loss": 0.5},
            "tags": {"team": "a", "env": "dev"},
            "training_info": TrainingInfo(dataset="iris"),
            "created_at": _minutes(0),
        },
    ),
    (
        "a2",
        "alpha",
        None,
        {
            "metrics": {"f1": 0.75, "accuracy": 0.5},
            "tags": {"team": "a"},
            "training_info": TrainingInfo(dataset="iris"),
            "created_at": _minutes(0),
        },
    ),
    (
        "a3",
        "alpha",
        None,
        {
            "model_type": "RandomForestClassifier",
            "metrics": {"f1": 0.75, "loss": 0.25},
            "tags": {"team": "b"},
            "training_info": TrainingInfo(dataset="wine", is_ensemble=True),
            "created_at": _minutes(1),
        },
    ),
    (
        "b1",
        "beta",
        None,
        {
            "metrics": {"f1": 0.25},
            "training_info": TrainingInfo(dataset="wine"),
            "created_at": _minutes(2),
        },
    ),
    (
        "b2",
        "beta",
        None,
        {
            "model_type": "RandomForestClassifier",
            "metrics": {"accuracy": 1.0, "roc_auc": 0.5},
            "tags": {"env": "prod"},
            "training_info": TrainingInfo(dataset="iris", is_ensemble=True),
            "created_at": _minutes(2),
        },
    ),
    (
        "b3",
        "beta",
        None,
        {
            "model_type": "RandomForestClassifier",
            "metrics": {"f1": 0.75, "accuracy": 0.75, "roc_auc": 0.75},
            "tags": {"team": "b", "env": "prod"},
            "created_at": _minutes(3),
        },
    ),
    ("g1", "gamma", None, {"created_at": _minutes(4)}),
    (
        "g10",
        "gamma",
        "10",
        {
            "metrics": {"f1": 1.0, "loss": 1.0},
            "tags": {"team": "a"},
            "training_info": TrainingInfo(dataset="iris"),
            "created_at": _minutes(5),
        },
    ),
    ("g11", "gamma", None, {"metrics": {"f1": 0.5}, "created_at": _minutes(6)}),
    (
        "a12",
        "alpha",
        "12",
        {"metrics": {"f1": 0.25, "accuracy": 0.25}, "created_at": _minutes(7)},
    ),
    (
        "ackpt",
        "alpha",
        "7",
        {"metrics": {"f1": 1.0}, "checkpoint": True, "created_at": _minutes(8)},
    ),
    ("a13", "alpha", None, {"metrics": {"f1": 0.5}, "created_at": _minutes(9)}),
]

#: Versions the data set must end up with (checkpoints never count).
_EXPECTED_VERSIONS = {
    "a1": "1",
    "a2": "2",
    "a3": "3",
    "b1": "1",
    "b2": "2",
    "b3": "3",
    "g1": "1",
    "g10": "10",
    "g11": "11",
    "a12": "12",
    "ackpt": "7",
    "a13": "13",
}

_STAGES = {
    "a2": Stage.PRODUCTION,
    "b2": Stage.STAGING,
    "b3": Stage.PRODUCTION,
    "a3": Stage.ARCHIVED,
}
_ALIASES = {("alpha", "champion"): "a2", ("beta", "champion"): "b3", ("alpha", "challenger"): "a3"}

_QUERIES: list[tuple[str, Query]] = [
    ("all", Query()),
    ("name", Query(model_name="alpha")),
    ("unknown-name", Query(model_name="delta")),
    ("type", Query(model_type="RandomForestClassifier")),
    ("version", Query(version="2")),
    ("version-10", Query(version="10")),
    ("stage-production", Query(stage="Production")),
    ("stage-none", Query(stage=Stage.NONE)),
    ("alias", Query(alias="champion")),
    ("alias-other", Query(alias="challenger")),
    ("tag", Query(tags={"team": "a"})),
    ("two-tags", Query(tags={"team": "b", "env": "prod"})),
    ("tag-absent-value", Query(tags={"team": "c"})),
    ("min", Query(bounds=[MetricBound(name="f1", minimum=0.75)])),
    ("max", Query(bounds=[MetricBound(name="f1", maximum=0.5)])),
    ("range", Query(bounds=[MetricBound(name="f1", minimum=0.5, maximum=0.75)])),
    ("lower-better-max", Query(bounds=[MetricBound(name="loss", maximum=0.5)])),
    (
        "two-bounds",
        Query(
            bounds=[MetricBound(name="accuracy", minimum=0.75), MetricBound(name="f1", minimum=0.5)]
        ),
    ),
    ("bound-missing-metric", Query(bounds=[MetricBound(name="nothing")])),
    ("created-after", Query(created_after=_minutes(2))),
    ("created-before", Query(created_before=_minutes(2))),
    ("created-window", Query(created_after=_minutes(1), created_before=_minutes(4))),
    ("dataset", Query(dataset="iris")),
    ("dataset-empty", Query(dataset="")),
    ("ensemble", Query(is_ensemble=True)),
    ("not-ensemble", Query(is_ensemble=False)),
    ("checkpoints", Query(checkpoints=True)),
    ("checkpoints-of-name", Query(model_name="alpha", checkpoints=True)),
    ("combined", Query(model_name="alpha", stage=Stage.NONE, tags={"team": "a"})),
    ("by-id-desc", Query(descending=True)),
    ("by-name", Query(order_by="model_name")),
    ("by-name-desc", Query(order_by="model_name", descending=True)),
    ("by-type", Query(order_by="model_type")),
    ("by-version", Query(order_by="version")),
    ("by-version-desc", Query(order_by="version", descending=True)),
    ("by-version-of-name", Query(model_name="alpha", order_by="version")),
    ("by-created", Query(order_by="created_at")),
    ("by-created-desc", Query(order_by="created_at", descending=True)),
    ("by-stage", Query(order_by="stage")),
    ("by-stage-desc", Query(order_by="stage", descending=True)),
    ("by-metric", Query(order_by="f1")),
    ("by-metric-desc", Query(order_by="f1", descending=True)),
    ("by-lower-better-metric", Query(order_by="loss")),
    ("by-absent-metric", Query(order_by="nothing", descending=True)),
    ("limit", Query(limit=3)),
    ("limit-zero", Query(limit=0)),
    ("offset", Query(offset=4)),
    ("window", Query(order_by="f1", descending=True, limit=3, offset=2)),
    ("window-past-end", Query(limit=5, offset=100)),
    ("filtered-window", Query(model_name="alpha", order_by="version", descending=True, limit=2)),
]

_RANKINGS: list[tuple[str, Ranking]] = [
    ("f1", Ranking.by_metric("f1")),
    ("loss-lower-better", Ranking.by_metric("loss")),
    ("roc_auc", Ranking.by_metric("roc_auc")),
    ("absent-metric", Ranking.by_metric("nothing")),
    (
        "composite",
        Ranking(
            terms=[RankTerm(metric="accuracy", weight=0.5), RankTerm(metric="f1", weight=0.25)],
            ensemble_multiplier=1.5,
        ),
    ),
    (
        "composite-required",
        Ranking(
            terms=[RankTerm(metric="accuracy", weight=0.5), RankTerm(metric="loss", weight=-1.0)],
            required=["loss"],
        ),
    ),
    ("negative-weights", Ranking(terms=[RankTerm(metric="f1", weight=-0.25)])),
]

_RANKING_FILTERS: list[tuple[str, Query]] = [
    ("all", Query()),
    ("name", Query(model_name="alpha")),
    ("other-name", Query(model_name="beta")),
    ("stage", Query(stage=Stage.PRODUCTION)),
    ("checkpoints", Query(checkpoints=True)),
    ("nothing", Query(model_name="delta")),
]


class MetadataStoreContract(StoreGuarantees):
    """The behaviour every :class:`~modelshelf.protocols.MetadataStore` must show.

    Override ``store`` to yield a fresh, empty store (and close it after).
    Override ``store_opener`` to return a picklable zero-argument callable
    that opens the *same* store again (another connection, another process);
    without it the reopen and multiprocess tests fail, unless the store
    declares ``supports_multiprocess = False`` (then they skip).
    The races, exactness and pickling tests come from
    :class:`~modelshelf.testing.guarantees.StoreGuarantees`.
    """

    #: Several processes may write to one store at once, each save getting its own version.
    supports_multiprocess: ClassVar[bool] = True
    #: One store object may be used from several threads at once.
    supports_threads: ClassVar[bool] = True
    #: Processes and versions per process in the multiprocess test.
    multiprocess_workers: ClassVar[int] = 3
    multiprocess_versions: ClassVar[int] = 4
    #: Seconds each multiprocess (and thread) step may take before it fails
    #: with a message instead of hanging the run.
    multiprocess_timeout: ClassVar[float] = 60.0

    @pytest.fixture
    def store(self) -> Iterator[MetadataStore]:
        """A fresh, empty store; override in your subclass."""
        raise _not_overridden("store", "MetadataStoreContract")

    @pytest.fixture
    def store_opener(self) -> Callable[[], MetadataStore] | None:
        """A picklable callable opening the same store as ``store``, or None."""
        return None

    @pytest.fixture
    def scheme(self) -> VersioningScheme:
        return ReferenceScheme()

    @pytest.fixture
    def populated(self, store: MetadataStore, scheme: VersioningScheme) -> Populated:
        ids: dict[str, int] = {}
        written = []
        for label, name, requested, fields in _DATASET:
            draft = make_draft(name, requested_version=requested, **fields)
            metadata = store.add(draft, scheme)
            ids[label] = metadata.model_id
            written.append((label, draft, metadata))
        for label, stage in _STAGES.items():
            change_stage(store, ids[label], stage, archive_others=False, actor="suite", reason="")
        for (name, alias), label in _ALIASES.items():
            point_alias(store, name, alias, ids[label], actor="suite", reason="")
        # The reference rows are what was written, not what the store reads
        # back: a store that loses something both ways must still disagree.
        rows = []
        for label, draft, recorded in written:
            aliases = sorted(alias for (_, alias), target in _ALIASES.items() if target == label)
            recorded_draft = metadata_from_draft(
                draft, model_id=recorded.model_id, version=recorded.version
            )
            rows.append(
                evolve(recorded_draft, stage=_STAGES.get(label, Stage.NONE), aliases=aliases)
            )
        return Populated(store=store, ids=ids, rows=rows)

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

    def test_find_matches_the_reference(
        self, populated: Populated, scheme: VersioningScheme
    ) -> None:
        """Every query of the fixed set; all mismatches are reported at once."""
        mismatches = []
        for label, query in _QUERIES:
            expected = reference_find(populated.rows, query, scheme.sort_key)
            found = populated.store.find(query)
            if found != expected:
                mismatches.append(f"{label}: {query}\n  expected ids {_ids(expected)}")
                mismatches.append(f"  store returned {_ids(found)}")
        assert not mismatches, "find() disagrees with the reference:\n" + "\n".join(mismatches)

    def test_count_agrees_with_the_reference(
        self, populated: Populated, scheme: VersioningScheme
    ) -> None:
        mismatches = []
        for label, query in _QUERIES:
            unwindowed = evolve(query, limit=None, offset=0)
            expected = len(reference_find(populated.rows, unwindowed, scheme.sort_key))
            counted = populated.store.count(query)
            if counted != expected:
                mismatches.append(f"{label}: {query}: expected {expected}, store said {counted}")
        assert not mismatches, "count() disagrees with the reference:\n" + "\n".join(mismatches)

    def test_best_matches_the_reference(self, populated: Populated) -> None:
        mismatches = []
        for label, ranking in _RANKINGS:
            for filter_label, query in _RANKING_FILTERS:
                expected = reference_best(populated.rows, ranking, query)
                found = populated.store.best(ranking, query)
                if found != expected:
                    mismatches.append(
                        f"{label} within {filter_label}: expected "
                        f"{expected and expected.model_id}, store chose {found and found.model_id}"
                    )
        assert not mismatches, "best() disagrees with the reference:\n" + "\n".join(mismatches)

    def test_best_breaks_ties_by_newest_model_id(
        self, store: MetadataStore, scheme: VersioningScheme
    ) -> None:
        older = store.add(make_draft("alpha", metrics={"f1": 0.5, "loss": 0.5}), scheme)
        newer = store.add(make_draft("alpha", metrics={"f1": 0.5, "loss": 0.5}), scheme)
        assert older.model_id < newer.model_id
        for ranking in (Ranking.by_metric("f1"), Ranking.by_metric("loss")):
            best = store.best(ranking, Query())
            assert best is not None
            assert best.model_id == newer.model_id

    def test_find_breaks_ties_by_model_id_in_query_direction(
        self, store: MetadataStore, scheme: VersioningScheme
    ) -> None:
        ids = [
            store.add(make_draft("alpha", metrics={"f1": 0.5}, created_at=EPOCH), scheme).model_id
            for _ in range(3)
        ]
        for order_by in ("f1", "created_at", "model_name", "stage", "model_type"):
            assert _ids(store.find(Query(order_by=order_by))) == ids, order_by
            assert _ids(store.find(Query(order_by=order_by, descending=True))) == ids[::-1]

    # -- deleting ----------------------------------------------------------------

    def test_delete_removes_the_version_and_its_aliases(self, populated: Populated) -> None:
        store, ids, _ = populated
        before = store.get(ids["a2"])
        gone = store.delete(ids["a2"])
        assert gone == before
        assert store.get(ids["a2"]) is None
        assert ids["a2"] not in _ids(store.find(Query()))
        assert store.count(Query(model_name="alpha")) == 4
        assert store.find(Query(alias="champion")) == [store.get(ids["b3"])]
        assert store.delete(ids["a2"]) is None
        # The alias went with the version: pointing it anew has no previous target.
        assert point_alias(store, "alpha", "champion", ids["a1"], actor="t", reason="") is None

    def test_deleting_every_version_forgets_the_name(
        self, store: MetadataStore, scheme: VersioningScheme
    ) -> None:
        ids = [store.add(make_draft("alpha"), scheme).model_id for _ in range(2)]
        store.add(make_draft("beta"), scheme)
        for model_id in ids:
            assert store.delete(model_id) is not None
        assert store.model_names() == ["beta"]
        assert store.find(Query(model_name="alpha")) == []

    # -- stages ------------------------------------------------------------------

    def test_promoting_archives_the_previous_production_version(
        self, store: MetadataStore, scheme: VersioningScheme
    ) -> None:
        v1, v2, v3 = (store.add(make_draft("alpha"), scheme) for _ in range(3))
        other = store.add(make_draft("beta"), scheme)
        change_stage(
            store, other.model_id, Stage.PRODUCTION, archive_others=True, actor="u", reason=""
        )
        first = change_stage(
            store, v1.model_id, Stage.PRODUCTION, archive_others=True, actor="u", reason="go"
        )
        assert [(m.model_id, m.stage) for m in first] == [(v1.model_id, Stage.PRODUCTION)]
        changed = change_stage(
            store, v2.model_id, Stage.PRODUCTION, archive_others=True, actor="u", reason="better"
        )
        assert [(m.model_id, m.stage) for m in changed] == [
            (v2.model_id, Stage.PRODUCTION),
            (v1.model_id, Stage.ARCHIVED),
        ]
        assert changed[0] == store.get(v2.model_id)
        assert changed[1] == store.get(v1.model_id)
        staging = store.get(v3.model_id)
        assert staging is not None
        assert staging.stage is Stage.NONE
        # Another name's Production version is untouched.
        beta = store.get(other.model_id)
        assert beta is not None
        assert beta.stage is Stage.PRODUCTION
        assert _ids(store.find(Query(stage=Stage.PRODUCTION))) == [v2.model_id, other.model_id]

    def test_stage_changes_without_archiving_leave_others_alone(
        self, store: MetadataStore, scheme: VersioningScheme
    ) -> None:
        v1, v2 = (store.add(make_draft("alpha"), scheme) for _ in range(2))
        change_stage(
            store, v1.model_id, Stage.PRODUCTION, archive_others=False, actor="u", reason=""
        )
        changed = change_stage(
            store, v2.model_id, Stage.PRODUCTION, archive_others=False, actor="u", reason=""
        )
        assert _ids(changed) == [v2.model_id]
        assert store.count(Query(stage=Stage.PRODUCTION)) == 2
        # archive_others only concerns Production.
        changed = change_stage(
            store, v1.model_id, Stage.STAGING, archive_others=True, actor="u", reason=""
        )
        assert [(m.model_id, m.stage) for m in changed] == [(v1.model_id, Stage.STAGING)]
        assert store.count(Query(stage=Stage.PRODUCTION)) == 1

    def test_stage_changes_are_audited(
        self, store: MetadataStore, scheme: VersioningScheme
    ) -> None:
        v1, v2 = (store.add(make_draft("alpha"), scheme) for _ in range(2))
        store.add(make_draft("beta"), scheme)
        change_stage(
            store, v1.model_id, Stage.PRODUCTION, archive_others=True, actor="ann", reason="r1"
        )
        change_stage(
            store, v2.model_id, Stage.PRODUCTION, archive_others=True, actor="bob", reason="r2"
        )
        events = store.audit_log("alpha")
        stage_events = [(e.version, e.from_value, e.to_value) for e in events]
        assert ("1", "None", "Production") in stage_events
        assert ("2", "None", "Production") in stage_events
        assert ("1", "Production", "Archived") in stage_events
        assert all(e.action == "stage" and e.model_name == "alpha" for e in events)
        mine = next(e for e in events if e.version == "2")
        assert (mine.actor, mine.reason) == ("bob", "r2")
        assert all(e.at.utcoffset() == timedelta(0) for e in events)
        assert events == sorted(events, key=lambda e: e.at)
        assert store.audit_log("beta") == []
        assert store.audit_log(None) == events

    # -- aliases -----------------------------------------------------------------

    def test_aliases_move_and_report_their_previous_target(
        self, store: MetadataStore, scheme: VersioningScheme
    ) -> None:
        v1, v2 = (store.add(make_draft("alpha"), scheme) for _ in range(2))
        assert point_alias(store, "alpha", "champion", v1.model_id, actor="u", reason="") is None
        first = store.get(v1.model_id)
        assert first is not None
        assert first.aliases == ("champion",)
        assert (
            point_alias(store, "alpha", "champion", v2.model_id, actor="u", reason="")
            == v1.model_id
        )
        moved_from, moved_to = store.get(v1.model_id), store.get(v2.model_id)
        assert moved_from is not None
        assert moved_to is not None
        assert (moved_from.aliases, moved_to.aliases) == ((), ("champion",))
        assert _ids(store.find(Query(alias="champion"))) == [v2.model_id]
        assert point_alias(store, "alpha", "champion", None, actor="u", reason="") == v2.model_id
        assert store.find(Query(alias="champion")) == []
        events = [e for e in store.audit_log("alpha") if e.action == "alias:champion"]
        assert [(e.from_value, e.to_value) for e in events] == [
            (None, "1"),
            ("1", "2"),
            ("2", None),
        ]

    def test_aliases_belong_to_one_model_name(
        self, store: MetadataStore, scheme: VersioningScheme
    ) -> None:
        alpha = store.add(make_draft("alpha"), scheme)
        beta = store.add(make_draft("beta"), scheme)
        point_alias(store, "alpha", "champion", alpha.model_id, actor="u", reason="")
        assert point_alias(store, "beta", "champion", beta.model_id, actor="u", reason="") is None
        assert _ids(store.find(Query(alias="champion"))) == [alpha.model_id, beta.model_id]
        assert _ids(store.find(Query(model_name="beta", alias="champion"))) == [beta.model_id]

    def test_alias_to_another_names_version_is_refused(
        self, store: MetadataStore, scheme: VersioningScheme
    ) -> None:
        store.add(make_draft("alpha"), scheme)
        beta = store.add(make_draft("beta"), scheme)
        with pytest.raises(ModelShelfError):
            point_alias(store, "alpha", "champion", beta.model_id, actor="u", reason="")
        with pytest.raises(ModelShelfError):
            point_alias(store, "alpha", "champion", 999, actor="u", reason="")
        assert store.find(Query(alias="champion")) == []

    def test_several_aliases_on_one_version_are_sorted(
        self, store: MetadataStore, scheme: VersioningScheme
    ) -> None:
        v1 = store.add(make_draft("alpha"), scheme)
        for alias in ("stable", "champion", "blue"):
            point_alias(store, "alpha", alias, v1.model_id, actor="u", reason="")
        found = store.get(v1.model_id)
        assert found is not None
        assert found.aliases == ("blue", "champion", "stable")
        assert store.find(Query(alias="champion")) == [found]

    # -- the transition primitive ---------------------------------------------------
    # The core decides every stage and alias change (modelshelf.transitions); the
    # store reads the name's state, runs the core's plan and applies its answer, all
    # under its per-name lock in one transaction.

    def test_transition_hands_the_plan_the_names_state(
        self, store: MetadataStore, scheme: VersioningScheme
    ) -> None:
        v1, v2, v3, v4, v5 = (store.add(make_draft("alpha"), scheme) for _ in range(5))
        other = store.add(make_draft("beta"), scheme)
        for version, stage in ((v1, Stage.PRODUCTION), (v2, Stage.PRODUCTION), (v3, Stage.STAGING)):
            change_stage(store, version.model_id, stage, archive_others=False, actor="s", reason="")
        change_stage(
            store, other.model_id, Stage.PRODUCTION, archive_others=True, actor="s", reason=""
        )
        point_alias(store, "alpha", "champion", v3.model_id, actor="s", reason="")
        point_alias(store, "beta", "challenger", other.model_id, actor="s", reason="")
        before = store.audit_log(None)
        seen: list[protocols.NameState] = []

        def look(state: protocols.NameState) -> protocols.Changes:
            seen.append(state)
            return protocols.Changes()

        ids = [v4.model_id, other.model_id, 999]
        aliases = ["champion", "challenger"]
        done = store.transition("alpha", look, model_ids=ids, aliases=aliases)
        assert done == protocols.Changes()

        def state_of(*versions: tuple[ModelMetadata, Stage]) -> dict[int, protocols.VersionState]:
            return {
                m.model_id: protocols.VersionState(
                    model_id=m.model_id, version=m.version, stage=stage
                )
                for m, stage in versions
            }

        # Asked-for ids of the name, its Production versions and the alias targets;
        # never another name's version or alias, nor an id that does not exist.
        assert seen == [
            protocols.NameState(
                model_name="alpha",
                versions=state_of(
                    (v1, Stage.PRODUCTION),
                    (v2, Stage.PRODUCTION),
                    (v3, Stage.STAGING),
                    (v4, Stage.NONE),
                ),
                aliases={"champion": v3.model_id},
            )
        ], "transition read the wrong state for the plan"
        assert v5.model_id not in seen[0].versions
        assert store.audit_log(None) == before
        seen.clear()
        store.transition("gamma", look, model_ids=[v1.model_id], aliases=["champion"])
        assert seen == [protocols.NameState(model_name="gamma")]

    def test_transition_applies_the_changes_as_given(
        self, store: MetadataStore, scheme: VersioningScheme
    ) -> None:
        v1, v2, v3 = (store.add(make_draft("alpha"), scheme) for _ in range(3))
        change_stage(
            store, v2.model_id, Stage.PRODUCTION, archive_others=True, actor="s", reason=""
        )
        point_alias(store, "alpha", "old", v2.model_id, actor="s", reason="")
        point_alias(store, "alpha", "champion", v2.model_id, actor="s", reason="")
        at = EPOCH + timedelta(days=3, microseconds=123_457)
        events = [
            protocols.AuditEvent(
                at=at + timedelta(microseconds=n),
                model_name="alpha",
                version=version,
                action=action,
                from_value=old,
                to_value=new,
                actor="ann ✓",
                reason=f"because {n}",
                model_id=model_id,
            )
            for n, (version, action, old, new, model_id) in enumerate(
                [
                    ("2", protocols.STAGE_ACTION, "Production", "Archived", v2.model_id),
                    ("1", protocols.ROLLBACK_ACTION, "None", "Production", v1.model_id),
                    ("1", "alias:champion", "2", "1", v1.model_id),
                    ("2", "alias:old", "2", None, v2.model_id),
                ]
            )
        ]
        changes = protocols.Changes(
            stages=[
                protocols.StageChange(model_id=v1.model_id, stage=Stage.PRODUCTION),
                protocols.StageChange(model_id=v2.model_id, stage=Stage.ARCHIVED),
            ],
            aliases=[
                protocols.AliasChange(alias="champion", model_id=v1.model_id),
                protocols.AliasChange(alias="old", model_id=None),
                protocols.AliasChange(alias="next", model_id=v3.model_id),
            ],
            events=events,
        )
        before = store.audit_log("alpha")
        assert store.transition("alpha", lambda state: changes, model_ids=[v1.model_id]) == changes
        now = {m.model_id: (m.stage, m.aliases) for m in store.find(Query(model_name="alpha"))}
        assert now == {
            v1.model_id: (Stage.PRODUCTION, ("champion",)),
            v2.model_id: (Stage.ARCHIVED, ()),
            v3.model_id: (Stage.NONE, ("next",)),
        }
        # Events are appended verbatim, in order: the times the core gave, not the store's.
        assert store.audit_log("alpha") == [*before, *events]

    def test_a_plan_that_raises_writes_nothing_and_releases_the_name(
        self, store: MetadataStore, scheme: VersioningScheme
    ) -> None:
        v1, v2 = (store.add(make_draft("alpha"), scheme) for _ in range(2))
        change_stage(
            store, v1.model_id, Stage.PRODUCTION, archive_others=True, actor="s", reason=""
        )
        rows, log = store.find(Query()), store.audit_log(None)

        class Refused(Exception):
            pass

        refusal = Refused("the plan said no")

        def refuse(state: protocols.NameState) -> protocols.Changes:
            raise refusal

        with pytest.raises(Refused) as info:
            store.transition("alpha", refuse, model_ids=[v2.model_id], aliases=["champion"])
        assert info.value is refusal, "the plan's exception must reach the caller unchanged"
        assert (store.find(Query()), store.audit_log(None)) == (rows, log)
        # The lock and the transaction ended with the refusal: the name moves on.
        changed = change_stage(
            store, v2.model_id, Stage.PRODUCTION, archive_others=True, actor="s", reason=""
        )
        assert [(m.model_id, m.stage) for m in changed] == [
            (v2.model_id, Stage.PRODUCTION),
            (v1.model_id, Stage.ARCHIVED),
        ]

    # -- updates -----------------------------------------------------------------

    def test_update_replaces_description_and_tags_separately(
        self, store: MetadataStore, scheme: VersioningScheme
    ) -> None:
        v1 = store.add(make_draft("alpha", description="old", tags={"a": "1", "b": "2"}), scheme)
        updated = store.update(v1.model_id, description="new", tags=None)
        assert updated is not None
        assert (updated.description, updated.tags) == ("new", {"a": "1", "b": "2"})
        updated = store.update(v1.model_id, description=None, tags={"c": "3"})
        assert updated is not None
        assert (updated.description, updated.tags) == ("new", {"c": "3"})
        assert updated == store.get(v1.model_id)
        assert _ids(store.find(Query(tags={"c": "3"}))) == [v1.model_id]
        assert store.find(Query(tags={"a": "1"})) == []
        cleared = store.update(v1.model_id, description="", tags={})
        assert cleared is not None
        assert (cleared.description, cleared.tags) == ("", {})
        assert cleared.metrics == v1.metrics
        assert cleared.version == v1.version

    def test_model_info_is_kept_per_name(self, store: MetadataStore) -> None:
        info = ModelInfo(model_name="alpha", description="the alpha model", tags={"team": "a"})
        store.set_model_info(info)
        assert store.get_model_info("alpha") == info
        assert store.get_model_info("beta") is None
        replaced = ModelInfo(model_name="alpha", description="", tags={})
        store.set_model_info(replaced)
        assert store.get_model_info("alpha") == replaced

    # -- concurrency and persistence ---------------------------------------------

    def test_threads_adding_to_one_name_get_distinct_versions(self, store: MetadataStore) -> None:
        if not self.supports_threads:
            pytest.skip("store declares supports_threads = False")
        results: list[list[str]] = []
        errors: list[BaseException] = []

        def work() -> None:
            try:
                results.append(add_versions(store, "shared", 5))
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, daemon=True) for _ in range(4)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + self.multiprocess_timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        hung = sum(thread.is_alive() for thread in threads)
        assert not hung, f"{hung} of 4 threads did not finish within {self.multiprocess_timeout} s"
        assert errors == []
        versions = [v for batch in results for v in batch]
        assert sorted(versions, key=int) == [str(n) for n in range(1, 21)]
        assert store.count(Query(model_name="shared")) == 20

    def test_reopened_store_sees_every_write(
        self,
        populated: Populated,
        store_opener: Callable[[], MetadataStore] | None,
        scheme: VersioningScheme,
    ) -> None:
        opener = require_opener(
            store_opener,
            multiprocess=self.supports_multiprocess,
            test="test_reopened_store_sees_every_write",
        )
        other = opener()
        try:
            assert other.find(Query()) == populated.store.find(Query())
            assert other.audit_log(None) == populated.store.audit_log(None)
            added = other.add(make_draft("alpha"), scheme)
            assert added.version == "14"
        finally:
            other.close()
        assert populated.store.get(added.model_id) == added

    @pytest.mark.modelshelf_multiprocess
    def test_processes_adding_to_one_name_get_distinct_versions(
        self, store: MetadataStore, store_opener: Callable[[], MetadataStore] | None
    ) -> None:
        if not self.supports_multiprocess:
            pytest.skip("store declares supports_multiprocess = False")
        opener = require_opener(
            store_opener,
            multiprocess=True,
            test="test_processes_adding_to_one_name_get_distinct_versions",
        )
        workers, each = self.multiprocess_workers, self.multiprocess_versions
        outcomes = run_workers(
            opener,
            add_versions_and_a_duplicate,
            [("shared", each)] * workers,
            timeout=self.multiprocess_timeout,
        )
        batches = [batch for batch, _ in outcomes]
        for batch, error in outcomes:
            # The duplicate each worker asked for came back as the error, whole.
            assert isinstance(error, DuplicateVersionError), (batch, error)
            assert (error.model_name, error.version) == ("shared", batch[0])
        versions = [v for batch in batches for v in batch]
        assert sorted(versions, key=int) == [str(n) for n in range(1, workers * each + 1)]
        found = store.find(Query(model_name="shared", order_by="version"))
        assert [m.version for m in found] == [str(n) for n in range(1, workers * each + 1)]

    # -- state machine -----------------------------------------------------------

    def test_state_machine(self, store: MetadataStore) -> None:
        """Random sequences of operations agree with a plain-dict model."""
        from modelshelf.testing.stateful import run_store_machine

        run_store_machine(store)

    # -- audit event format and retired versions ----------------------------------
    # History is replayed from structured events (``action`` and ``model_id``),
    # never from reason text or version strings, and a version string never
    # names two models: see docs/plugins.md, "A metadata store".

    def test_stage_events_record_the_action_asked_for_and_every_versions_id(
        self, store: MetadataStore, scheme: VersioningScheme
    ) -> None:
        v1, v2 = (store.add(make_draft("alpha"), scheme) for _ in range(2))
        safe = "rollback-safe release"  # a reason is only text, whatever it says
        steps = [
            (v1.model_id, protocols.STAGE_ACTION, "r1"),
            (v2.model_id, protocols.IMPORT_ACTION, "r2"),
            (v1.model_id, protocols.ROLLBACK_ACTION, safe),
        ]
        seen = 0
        recorded = []
        for model_id, action, reason in steps:
            change_stage(
                store,
                model_id,
                Stage.PRODUCTION,
                archive_others=True,
                actor="ann",
                reason=reason,
                action=action,
            )
            events = store.audit_log("alpha")
            recorded.append(
                sorted(
                    (e.action, e.model_id, e.version, e.to_value, e.reason) for e in events[seen:]
                )
            )
            seen = len(events)
        replaced_1 = "replaced by 2 in Production"
        replaced_2 = "replaced by 1 in Production"
        assert recorded == [
            [(protocols.STAGE_ACTION, v1.model_id, "1", "Production", "r1")],
            [
                (protocols.IMPORT_ACTION, v2.model_id, "2", "Production", "r2"),
                (protocols.STAGE_ACTION, v1.model_id, "1", "Archived", replaced_1),
            ],
            [
                (protocols.ROLLBACK_ACTION, v1.model_id, "1", "Production", safe),
                (protocols.STAGE_ACTION, v2.model_id, "2", "Archived", replaced_2),
            ],
        ]
        # Without ``action`` a stage change is recorded as a plain one.
        change_stage(store, v2.model_id, Stage.STAGING, archive_others=False, actor="a", reason="")
        last = store.audit_log("alpha")[-1]
        assert (last.action, last.model_id, last.to_value) == (
            protocols.STAGE_ACTION,
            v2.model_id,
            "Staging",
        )

    def test_alias_events_name_the_version_by_id(
        self, store: MetadataStore, scheme: VersioningScheme
    ) -> None:
        v1, v2 = (store.add(make_draft("alpha"), scheme) for _ in range(2))
        point_alias(store, "alpha", "champion", v1.model_id, actor="u", reason="")
        point_alias(store, "alpha", "champion", v2.model_id, actor="u", reason="")
        point_alias(store, "alpha", "champion", None, actor="u", reason="")
        events = store.audit_log("alpha")
        assert [(e.model_id, e.from_value, e.to_value) for e in events] == [
            (v1.model_id, None, "1"),
            (v2.model_id, "1", "2"),
            (v2.model_id, "2", None),
        ]

    def test_audit_events_keep_their_ids_after_the_version_is_deleted(
        self,
        store: MetadataStore,
        scheme: VersioningScheme,
        store_opener: Callable[[], MetadataStore] | None,
    ) -> None:
        v1 = store.add(make_draft("alpha"), scheme)
        change_stage(
            store, v1.model_id, Stage.PRODUCTION, archive_others=True, actor="a", reason=""
        )
        assert store.delete(v1.model_id) is not None
        [event] = store.audit_log("alpha")
        assert (event.model_id, event.version) == (v1.model_id, "1")
        if store_opener is not None:
            other = store_opener()
            try:
                assert other.audit_log("alpha") == [event]
            finally:
                other.close()

    def test_a_deleted_release_versions_number_is_refused_when_asked_for(
        self, store: MetadataStore, scheme: VersioningScheme
    ) -> None:
        first = store.add(make_draft("alpha", requested_version="3"), scheme)
        assert store.delete(first.model_id) is not None
        with pytest.raises(RetiredVersionError) as info:
            store.add(make_draft("alpha", requested_version="3", description="reuse"), scheme)
        assert isinstance(info.value, DuplicateVersionError)
        assert isinstance(info.value, ValueError)
        assert (info.value.model_name, info.value.version) == ("alpha", "3")
        assert store.find(Query(model_name="alpha")) == []
        # Another name may have it; unused numbers stay free; numbering goes on.
        assert store.add(make_draft("beta", requested_version="3"), scheme).version == "3"
        assert store.add(make_draft("alpha", requested_version="2"), scheme).version == "2"
        assert store.add(make_draft("alpha"), scheme).version == "4"

    def test_a_deleted_checkpoints_version_can_be_recorded_again(
        self, store: MetadataStore, scheme: VersioningScheme
    ) -> None:
        draft = make_draft("alpha", requested_version="40", checkpoint=True)
        first = store.add(draft, scheme)
        assert store.delete(first.model_id) is not None
        again = store.add(draft, scheme)
        assert (again.version, again.checkpoint) == ("40", True)
        assert again.model_id != first.model_id

    # -- canonical inputs ----------------------------------------------------------
    # However a caller spells an id or a version, the registry hands the store one
    # form (an int id, a str version), so every store gives every spelling one answer.

    def test_the_registry_hands_the_store_canonical_values_only(
        self, store: MetadataStore, tmp_path: Path
    ) -> None:
        from modelshelf.registry import ModelRegistry
        from modelshelf.testing.canonical import CanonicalInputsOnly

        registry = ModelRegistry(
            tmp_path / "canonical-inputs",
            store=CanonicalInputsOnly(store),
            versioning=ReferenceScheme(),
        )
        ids = [registry.save_model({"n": n}, "alpha", metrics={"f1": n / 10}) for n in (1, 2, 3)]
        for spelled in (2, "2"):
            assert registry.get_metadata(model_name="alpha", version=spelled).model_id == ids[1]
            assert registry.get_metadata(version=spelled).model_id == ids[1]
            assert registry.load_model(model_name="alpha", version=spelled) == {"n": 2}
        assert registry.transition_stage("alpha", 2, "Production").model_id == ids[1]
        assert registry.get_metadata("alpha/Production", version=2).model_id == ids[1]
        assert registry.set_alias("alpha:3", "next").model_id == ids[2]
        assert registry.get_metadata(registry.save_model({}, "alpha", version=10)).version == "10"
        for wrong in ("1", True):
            with pytest.raises(InvalidInputError):
                registry.get_metadata(model_id=wrong)  # type: ignore[arg-type]
            with pytest.raises(InvalidInputError):
                registry.delete_model(wrong)  # type: ignore[arg-type]
        assert registry.delete_model(ids[0]) is True
        assert [m.version for m in registry.get_model_versions("alpha")] == ["2", "3", "10"]


__all__ = [
    "SUITE_SETTINGS",
    "UNSAFE_VERSIONS",
    "ArtifactStoreContract",
    "MetadataStoreContract",
    "Populated",
    "ScoringPolicyContract",
    "SerializerContract",
    "VersioningSchemeContract",
]
