"""What a migration from MLflow records and reports.

The lineage tags it writes, the limits it works within, the errors that stop
it before it starts and the report of what one run did: shared by the part
that reads MLflow, the part that copies, and :mod:`modelshelf.migrate`.
"""

from __future__ import annotations

from typing import Any

from attrs import field, frozen

from modelshelf.errors import (
    InvalidInputError,
    ModelShelfError,
)

#: Version tag holding the MLflow run the version was registered from (its lineage).
RUN_ID_TAG = "mlflow.run_id"
#: Version tag holding MLflow's source URI of the model (``runs:/...``, ``models:/m-...``).
SOURCE_TAG = "mlflow.source"
#: The versioning scheme that keeps MLflow's numbers as they are.
VERSIONING = "integer"
#: The audit reason of stages and aliases set by a migration.
REASON = "migrated from MLflow"
#: Serializer of MLflow model directories stored whole (plugins/modelshelf_plugins/mlflow_model.py).
MLFLOW_SERIALIZER = "mlflow"
#: sklearn flavour formats and the modelshelf serializer that reads each file as MLflow wrote it.
SKLEARN_FORMATS = {"pickle": "cloudpickle", "cloudpickle": "cloudpickle", "skops": "skops"}
#: Downloaded model directories kept at once: versions registered from the same
#: source are downloaded once, without holding a whole registry in temporary space.
DOWNLOAD_CACHE = 8
_CHUNK = 1024 * 1024


class MigrationError(InvalidInputError):
    """The migration cannot start: the destination cannot hold MLflow's versions as they are."""

    __module__ = "modelshelf.migrate"


class MlflowMissingError(ModelShelfError):
    """MLflow is not installed where the migration runs."""

    __module__ = "modelshelf.migrate"

    def __init__(
        self,
        message: str = "migrating from MLflow needs MLflow's client: "
        "pip install 'modelshelf[mlflow]'",
    ) -> None:
        super().__init__(message)


@frozen(kw_only=True)
class Problem:
    """Something a migration could not bring (a failure) or brought only in part (a note)."""

    #: The MLflow version concerned, ``name:version`` (or just the name).
    reference: str
    #: conflict | download | invalid | not-ready | veto | integrity | error | partial
    kind: str
    reason: str


@frozen(kw_only=True)
class MigrationReport:
    """What one run of :func:`from_mlflow` did; a second run copies nothing."""

    #: Versions MLflow holds that this run looked at.
    total: int
    copied: int
    skipped: int
    failed: tuple[Problem, ...] = ()
    #: Versions brought with something left out (a tag key modelshelf cannot hold...).
    notes: tuple[Problem, ...] = ()
    stages_set: int = 0
    aliases_set: int = 0
    model_info_set: int = 0
    #: Artifacts read back from the destination with a matching SHA-256.
    verified: int = 0
    seconds: float = 0.0
    #: The destination's references of the versions copied by this run.
    references: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when every version MLflow holds is in the destination."""
        return not self.failed

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for ``--json`` and for scripts."""
        return {
            "ok": self.ok,
            "total": self.total,
            "copied": self.copied,
            "skipped": self.skipped,
            "failed": [_problem_dict(p) for p in self.failed],
            "notes": [_problem_dict(p) for p in self.notes],
            "stages_set": self.stages_set,
            "aliases_set": self.aliases_set,
            "model_info_set": self.model_info_set,
            "verified": self.verified,
            "seconds": round(self.seconds, 3),
            "references": list(self.references),
        }


def _problem_dict(problem: Problem) -> dict[str, str]:
    return {"reference": problem.reference, "kind": problem.kind, "reason": problem.reason}
