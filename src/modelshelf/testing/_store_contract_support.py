"""What the parts of the metadata-store suite share.

The fixed data set and its fixture, the ``store``/``store_opener``/``scheme``
fixtures a backend overrides, and the capabilities it declares; each part
subclasses :class:`StoreContractBase` so they agree on all of them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import pytest
from attrs import evolve

from modelshelf.metadata import ModelMetadata, Stage, TrainingInfo, metadata_from_draft
from modelshelf.testing._contract_support import _not_overridden
from modelshelf.testing.reference import (
    EPOCH,
    ReferenceScheme,
    change_stage,
    make_draft,
    point_alias,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from modelshelf.protocols import MetadataStore, VersioningScheme


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


class StoreContractBase:
    """The fixtures and capabilities every part of ``MetadataStoreContract`` uses."""

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
