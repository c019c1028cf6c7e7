"""Housekeeping: checkpoints, retention, verify and garbage collection.

These keep a registry healthy over time: they compare what the store
records with what storage holds and delete only what is safely unreferenced.
"""

from __future__ import annotations

import hashlib
import math
import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from attrs import evolve

from modelshelf._shared import (
    _CHECKPOINTS,
    _CHUNK,
    _MAX_AGE_DAYS,
    GC_MAX_ORPHAN_SHARE,
    Finding,
    LoadedModel,
    VerifyReport,
    logger,
)
from modelshelf.errors import (
    DuplicateVersionError,
    GcRefusedError,
    InvalidInputError,
    ModelNotFoundError,
    ModelShelfError,
)
from modelshelf.manifest import (
    iter_sidecars,
    iter_temporary_sidecars,
    read_sidecar,
    remove_sidecar,
)
from modelshelf.metadata import (
    ModelMetadata,
    Stage,
    check_int,
    check_name,
)
from modelshelf.query import Query
from modelshelf.selectors import (
    parse_step,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from modelshelf.registry import ModelRegistry


def save_checkpoint(
    self: ModelRegistry,
    model: Any,
    model_name: str,
    step: int,
    metrics: Mapping[str, float] | None = None,
    *,
    hyperparameters: Mapping[str, Any] | None = None,
    artifacts: Mapping[str, Any] | None = None,
    description: str | None = None,
    keep_last: int | None = None,
) -> int:
    """Save a training checkpoint of ``model_name`` at ``step``.

    Checkpoints are versions named ``ckpt-<step>`` that no listing, best
    or reference returns unless asked (``checkpoints=True``), and that
    never consume a release version. ``keep_last`` drops all but the
    newest K checkpoints of the name once this one is safely stored.
    """
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise InvalidInputError(f"step must be an integer >= 0, got {step!r}")
    check_int("step", step, minimum=0)  # its version's sort key holds 20 digits
    if keep_last is not None and (isinstance(keep_last, bool) or keep_last < 1):
        raise InvalidInputError(f"keep_last must be an integer >= 1, got {keep_last!r}")
    draft = self._draft(
        model,
        model_name=model_name,
        model_type=None,
        metrics=metrics,
        hyperparameters=hyperparameters,
        description=description,
        version=None,
        tags=None,
        stage=Stage.NONE,
        training_info=None,
        feature_names=None,
        artifact_names=list(artifacts or {}),
        parent_id=None,
    )
    version = _CHECKPOINTS.version_of(step)
    if self.store.count(Query(model_name=model_name, version=version, checkpoints=True)):
        raise DuplicateVersionError(model_name, version)
    draft = evolve(draft, checkpoint=True, requested_version=version)
    self.plugins.before_save(registry=self, draft=draft)
    metadata = self._write_and_record(draft, model, artifacts, _CHECKPOINTS)
    if keep_last is not None:
        for old in self.list_checkpoints(model_name)[:-keep_last]:
            self.delete_model(old.model_id)
    return metadata.model_id


def list_checkpoints(self: ModelRegistry, model_name: str) -> list[ModelMetadata]:
    """Checkpoints of ``model_name``, lowest step first."""
    return self.store.find(Query(model_name=model_name, checkpoints=True, order_by="version"))


def load_checkpoint(self: ModelRegistry, model_name: str, step: int | None = None) -> LoadedModel:
    """The checkpoint at ``step``, or the latest one; raises if there is none."""
    step = None if step is None else parse_step(step)
    query = Query(
        model_name=model_name,
        checkpoints=True,
        version=None if step is None else _CHECKPOINTS.version_of(step),
        order_by="version",
        descending=True,
        limit=1,
    )
    found = self.store.find(query)
    if not found:
        which = "any checkpoint" if step is None else f"a checkpoint at step {step}"
        raise ModelNotFoundError(f"{model_name!r} has no {which}")
    return self.load(found[0].model_id)


def promote_checkpoint(
    self: ModelRegistry,
    model_name: str,
    step: int | None = None,
    *,
    version: str | int | None = None,
    **extra: Any,
) -> int:
    """Release a checkpoint as a regular version (its parent_id points back)."""
    loaded = self.load_checkpoint(model_name, step)
    source = loaded.metadata
    return self.save_model(
        loaded.model,
        model_name=model_name,
        model_type=extra.pop("model_type", source.model_type),
        metrics=extra.pop("metrics", source.metrics),
        hyperparameters=extra.pop("hyperparameters", source.hyperparameters),
        description=extra.pop("description", source.description),
        version=version,
        artifacts=loaded.artifacts or None,
        parent_id=source.model_id,
        **extra,
    )


def apply_retention(
    self: ModelRegistry,
    model_name: str | None = None,
    *,
    keep_last: int | None = None,
    archived_max_age_days: float | None = None,
    dry_run: bool = True,
) -> list[ModelMetadata]:
    """Delete versions the retention policy no longer keeps; returns them.

    Keeps at most ``keep_last`` versions per name (highest versions) and
    drops Archived versions older than ``archived_max_age_days``; both
    default to the ``[retention]`` settings. A Production version or one
    an alias points at is never deleted. ``dry_run`` (the default) only
    reports what would go.
    """
    keep_last = keep_last if keep_last is not None else self.settings.retention.keep_last
    max_age = (
        archived_max_age_days
        if archived_max_age_days is not None
        else self.settings.retention.archived_max_age_days
    )
    if keep_last is not None and (isinstance(keep_last, bool) or keep_last < 1):
        raise InvalidInputError(f"keep_last must be an integer >= 1, got {keep_last!r}")
    if max_age is not None and not (
        isinstance(max_age, (int, float)) and 0 < max_age <= _MAX_AGE_DAYS
    ):  # also refuses NaN and ages no timedelta can hold
        raise InvalidInputError(
            f"archived_max_age_days must be > 0 and at most {_MAX_AGE_DAYS}, got {max_age!r}"
        )
    names = [check_name("model_name", model_name)] if model_name else self.store.model_names()
    doomed: dict[int, ModelMetadata] = {}
    for name in names:
        if keep_last is not None:
            beyond = Query(model_name=name, order_by="version", descending=True, offset=keep_last)
            doomed.update((m.model_id, m) for m in self.store.find(beyond))
        if max_age is not None:
            cutoff = datetime.now(timezone.utc) - timedelta(days=max_age)
            old = Query(model_name=name, stage=Stage.ARCHIVED, created_before=cutoff)
            doomed.update((m.model_id, m) for m in self.store.find(old))
    chosen = [
        m for _, m in sorted(doomed.items()) if m.stage is not Stage.PRODUCTION and not m.aliases
    ]
    if not dry_run:
        for metadata in chosen:
            self.delete_model(metadata.model_id)
    return chosen


def _all_versions(self: ModelRegistry) -> Iterator[ModelMetadata]:
    for checkpoints in (False, True):
        yield from self.store.find(Query(checkpoints=checkpoints))


def verify(self: ModelRegistry, *, deep: bool = True) -> VerifyReport:
    """Check every record's files (hash them when ``deep``) and find
    orphan and temporary files. Reads only; see :meth:`gc` to clean up."""
    findings: list[Finding] = []
    referenced: set[str] = set()
    checked = 0
    check_store = getattr(self.store, "check", None)  # optional: a store's own audit
    if deep and callable(check_store):
        findings.extend(
            Finding(kind="metadata", key="", model_id=None, detail=str(problem))
            for problem in check_store()
        )
    for metadata in self._all_versions():
        for ref in [metadata.artifact, *metadata.artifacts.values()]:
            referenced.add(ref.key)
            checked += 1
            try:
                size = self.storage.size(ref.key)
            except InvalidInputError as exc:
                findings.append(
                    Finding(kind="unsafe", key=ref.key, model_id=metadata.model_id, detail=str(exc))
                )
                continue
            if size is None:
                findings.append(
                    Finding(
                        kind="missing",
                        key=ref.key,
                        model_id=metadata.model_id,
                        detail="file recorded but not stored",
                    )
                )
                continue
            if deep:
                digest = hashlib.sha256()
                with self.storage.open(ref.key) as stream:
                    while chunk := stream.read(_CHUNK):
                        digest.update(chunk)
                actual = digest.hexdigest()
            else:
                actual = ref.sha256
            if size != ref.size or actual != ref.sha256:
                findings.append(
                    Finding(
                        kind="mismatch",
                        key=ref.key,
                        model_id=metadata.model_id,
                        detail=f"expected {ref.sha256} ({ref.size} B), found {actual} ({size} B)",
                    )
                )
    unrecorded = _unrecorded_files(self, referenced, findings)
    for key in self.storage.iter_keys():
        if key not in referenced and key not in unrecorded:
            findings.append(
                Finding(
                    kind="orphan",
                    key=key,
                    model_id=None,
                    detail="stored file no record points at",
                )
            )
    for key in self.storage.iter_temporary():
        findings.append(
            Finding(
                kind="temporary",
                key=key,
                model_id=None,
                detail="leftover of an unfinished write",
            )
        )
    return VerifyReport(checked=checked, findings=tuple(findings))


def _unrecorded_files(
    self: ModelRegistry, referenced: set[str], findings: list[Finding]
) -> set[str]:
    """Files of versions whose sidecar survives but whose record does not.

    They are a lost version, not leftovers: reported as ``unrecorded``
    (so ``ok`` is False and ``gc`` keeps them) until ``recover`` records
    them again. A sidecar whose files are gone too is stale (``sidecar``).
    """
    if self.remote:
        return set()
    unrecorded: set[str] = set()
    for key, path in iter_sidecars(self.storage_path):
        if key in referenced:
            continue
        try:
            metadata = read_sidecar(path)
            keys = [ref.key for ref in [metadata.artifact, *metadata.artifacts.values()]]
            present = [k for k in keys if self.storage.size(k) is not None]
        except (ModelShelfError, OSError) as exc:
            findings.append(
                Finding(kind="sidecar", key=key, model_id=None, detail=f"unreadable: {exc}")
            )
            continue
        if not present:
            findings.append(
                Finding(
                    kind="sidecar",
                    key=key,
                    model_id=None,
                    detail="stale sidecar: neither a record nor the files remain",
                )
            )
            continue
        for file_key in present:
            unrecorded.add(file_key)
            findings.append(
                Finding(
                    kind="unrecorded",
                    key=file_key,
                    model_id=None,
                    detail=f"file of {metadata.reference} (id {metadata.model_id}), which "
                    "the metadata store no longer records; its sidecar survives: run "
                    "`modelshelf recover` to record it again",
                )
            )
    return unrecorded


def _modified_at(self: ModelRegistry, key: str) -> float:
    """When ``key`` last changed; +inf (never old enough for gc) if it
    cannot be addressed safely, e.g. a symlink pointing out of the root."""
    try:
        return self.storage.modified_at(key) or 0.0
    except InvalidInputError as exc:
        logger.warning("gc leaves %s alone: %s", key, exc)
        return math.inf


def gc(
    self: ModelRegistry,
    *,
    dry_run: bool = True,
    min_age_seconds: float = 3600.0,
    force: bool = False,
) -> list[str]:
    """Remove orphan and temporary files (only report them when ``dry_run``).

    A save writes its file before it commits its record, so a young
    "orphan" may belong to a save still in flight: only files older than
    ``min_age_seconds`` are touched, and only if no record points at them
    when we look again just before deleting.

    Files that look like lost versions rather than leftovers are never
    deleted without ``force=True``: the files of a version whose sidecar
    survives its record (``unrecorded``), and, in a registry with no
    sidecars to tell (one without a record, or a remote one), orphans
    that are more than ``GC_MAX_ORPHAN_SHARE`` of every stored file:
    what a lost or rolled-back metadata store looks like. Then
    ``GcRefusedError`` is raised and nothing is deleted.
    """
    report = self.verify(deep=False)
    cutoff = time.time() - min_age_seconds
    kinds = ("orphan", "temporary", "unrecorded") if force else ("orphan", "temporary")
    doomed = [f for f in report.findings if f.kind in kinds and _modified_at(self, f.key) <= cutoff]
    stale = [f.key for f in report.findings if f.kind == "sidecar"]
    if dry_run:
        return [f.key for f in doomed]
    if not force:
        _refuse_mass_deletion(self, report, doomed)
    referenced = {
        ref.key for m in self._all_versions() for ref in [m.artifact, *m.artifacts.values()]
    }
    removed = []
    for finding in doomed:
        if finding.key in referenced:
            continue
        if finding.kind == "temporary":
            self.storage.delete_temporary(finding.key)
        else:
            self.storage.delete(finding.key)
        removed.append(finding.key)
    if not self.remote:
        for key in stale:
            remove_sidecar(self.storage_path, key)
        for path in iter_temporary_sidecars(self.storage_path):
            if path.stat().st_mtime <= cutoff:
                path.unlink(missing_ok=True)
    return removed


def _refuse_mass_deletion(self: ModelRegistry, report: VerifyReport, doomed: list[Finding]) -> None:
    orphans = [f.key for f in doomed if f.kind == "orphan"]
    unrecorded = [f.key for f in report.findings if f.kind == "unrecorded"]
    if unrecorded:
        logger.warning(
            "gc keeps %d file(s) of versions the store no longer records "
            "(run `modelshelf recover`)",
            len(unrecorded),
        )
    if self.manifest is not None or len(orphans) <= 1:
        return
    stored = sum(1 for _ in self.storage.iter_keys())
    if len(orphans) > GC_MAX_ORPHAN_SHARE * stored:
        raise GcRefusedError(
            f"gc would delete {len(orphans)} of the {stored} files stored in "
            f"{self.location} as orphans: more than {GC_MAX_ORPHAN_SHARE:.0%}, which is "
            "what a lost or rolled-back metadata store looks like, so nothing was deleted. "
            "Check the metadata (modelshelf verify, modelshelf recover); if the files "
            "really are leftovers, run gc with force=True (--force)",
            orphans,
        )
