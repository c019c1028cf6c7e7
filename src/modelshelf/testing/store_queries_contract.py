"""Part of the metadata-store suite: finding, counting and ranking.

``find``, ``count`` and ``best`` against the reference semantics, their
tie-breaks, and the canonical values the registry hands a store; combined
into ``MetadataStoreContract`` in :mod:`modelshelf.testing.contracts`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from attrs import evolve

from modelshelf.errors import InvalidInputError
from modelshelf.metadata import Stage
from modelshelf.query import MetricBound, Query, Ranking, RankTerm
from modelshelf.testing._store_contract_support import Populated, StoreContractBase, _ids, _minutes
from modelshelf.testing.reference import (
    EPOCH,
    ReferenceScheme,
    make_draft,
    reference_best,
    reference_find,
)

if TYPE_CHECKING:
    from pathlib import Path

    from modelshelf.protocols import MetadataStore, VersioningScheme


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


class StoreQueriesContract(StoreContractBase):
    """find, count and best agree with the reference, ties break one way, inputs are canonical."""

    # -- finding, counting, ranking -------------------------------------------------

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
            assert registry.load(f"alpha:{spelled}").model == {"n": 2}
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
