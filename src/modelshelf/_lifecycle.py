"""Lifecycle: stages, aliases, rollback, updates, deletion and the audit log.

Every change of who is in which stage runs the promotion gates first and is
recorded with its actor and reason, so rollback can follow the history.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from attrs import evolve

from modelshelf._shared import (
    _check_reason,
)
from modelshelf.errors import (
    ModelNotFoundError,
)
from modelshelf.manifest import (
    remove_sidecar,
)
from modelshelf.metadata import (
    ModelMetadata,
    Stage,
    check_alias,
    check_name,
)
from modelshelf.protocols import ROLLBACK_ACTION, STAGE_ACTION, STAGE_ACTIONS
from modelshelf.selectors import (
    parse_model_id,
    parse_version,
)
from modelshelf.transitions import move_alias, move_stage

if TYPE_CHECKING:
    from collections.abc import Mapping

    from modelshelf.protocols import (
        AuditEvent,
    )
    from modelshelf.registry import ModelRegistry


def transition_stage(
    self: ModelRegistry,
    model_name: str,
    version: str | int,
    stage: str | Stage,
    *,
    archive_existing: bool = True,
    reason: str = "",
) -> ModelMetadata:
    """Move a version to ``stage``. Promoting to Production archives the
    name's previous Production version unless ``archive_existing=False``."""
    model_name = check_name("model_name", model_name)
    version = parse_version(version, self.versioning)
    target_stage = Stage.parse(stage)
    current = self.get_metadata(model_name=model_name, version=version)
    return self._move_stage(
        current,
        target_stage,
        action=STAGE_ACTION,
        reason=reason,
        archive_existing=archive_existing,
    )


def _move_stage(
    self: ModelRegistry,
    current: ModelMetadata,
    target_stage: Stage,
    *,
    action: str,
    reason: str,
    archive_existing: bool = True,
) -> ModelMetadata:
    """The one path every stage change takes: a promotion, a rollback, a
    save or an import straight into a stage. Gates judge it;
    :mod:`modelshelf.transitions` decides what moves (the name's other
    Production version is archived) and the audit events (``action``, with
    the version's id), which the store applies in one locked transaction;
    and the after-hooks hear of every change."""
    _check_reason(reason)
    self.plugins.before_stage_transition(
        registry=self, metadata=current, from_stage=current.stage, to_stage=target_stage
    )
    try:
        moved = move_stage(
            self.store,
            current.model_name,
            current.model_id,
            target_stage,
            archive_others=archive_existing,
            actor=self.user,
            reason=reason,
            action=action,
        )
    except ModelNotFoundError as exc:
        raise ModelNotFoundError(f"{current.reference} was deleted meanwhile") from exc
    rows = [(change, self.store.get(change.model_id)) for change in moved.stages]
    self._sidecars(*(row for _, row in rows))
    # Hooks and the caller hear of the versions as this change left them, even
    # if another writer has moved one since it committed.
    changed = [evolve(row, stage=change.stage) for change, row in rows if row is not None]
    if not changed or changed[0].model_id != current.model_id:
        raise ModelNotFoundError(f"{current.reference} was deleted meanwhile")
    self.plugins.after_stage_transition(
        registry=self, metadata=changed[0], from_stage=current.stage, to_stage=target_stage
    )
    for archived in changed[1:]:
        self.plugins.after_stage_transition(
            registry=self,
            metadata=archived,
            from_stage=Stage.PRODUCTION,
            to_stage=Stage.ARCHIVED,
        )
    return changed[0]


def promote(
    self: ModelRegistry,
    reference: int | str,
    stage: str | Stage = Stage.PRODUCTION,
    *,
    reason: str = "",
) -> ModelMetadata:
    """``transition_stage`` by reference: ``promote("xgb:1.0.2")``."""
    metadata = self.get_metadata(reference)
    return self.transition_stage(metadata.model_name, metadata.version, stage, reason=reason)


def rollback(self: ModelRegistry, model_name: str, *, reason: str = "") -> ModelMetadata:
    """Put the previous Production version back and archive the current one.

    Production history is a stack read from the audit log: each entry
    into Production (promotion, save or import into it) pushes, each
    ``rollback`` event pops. Rolling back twice therefore walks two
    steps back (3 -> 2 -> 1), never toggles. Versions are replayed by
    ``model_id``, never by version string or reason text: a version
    deleted since is skipped, and a model saved later under a deleted
    version's number is never deployed by a rollback.
    """
    current = self.get_production_model(model_name)
    if current is None:
        raise ModelNotFoundError(f"{model_name!r} has no Production version to roll back")
    for model_id in reversed(_production_history(self, model_name, current.model_id)):
        previous = self.store.get(model_id)
        if previous is None or previous.model_name != model_name or previous.checkpoint:
            continue
        note = f"rollback from {current.version}" + (f": {reason}" if reason else "")
        return self._move_stage(previous, Stage.PRODUCTION, action=ROLLBACK_ACTION, reason=note)
    raise ModelNotFoundError(f"{model_name!r} has no earlier Production version to roll back to")


def _production_history(self: ModelRegistry, model_name: str, current_id: int) -> list[int]:
    """Ids of the versions ``model_name`` had in Production, oldest first,
    as rollbacks left the stack, without ``current_id`` on top. Events a
    store kept without an id (recorded before ids were, for a version
    deleted since) still push and pop, but are never returned to."""
    history: list[int | None] = []
    for event in self.store.audit_log(model_name):
        if event.action not in STAGE_ACTIONS or event.to_value != Stage.PRODUCTION.value:
            continue
        if event.action == ROLLBACK_ACTION and history:
            history.pop()
            if not history or history[-1] != event.model_id:
                history.append(event.model_id)
        else:
            history.append(event.model_id)
    while history and history[-1] == current_id:
        history.pop()
    return [i for i in history if i is not None and i != current_id]


def set_alias(
    self: ModelRegistry, reference: int | str, alias: str, *, reason: str = ""
) -> ModelMetadata:
    """Point ``alias`` (e.g. ``champion``) at a version; it moves if set before."""
    check_alias(alias)
    _check_reason(reason)
    metadata = self.get_metadata(reference)
    previous = move_alias(
        self.store, metadata.model_name, alias, metadata.model_id, actor=self.user, reason=reason
    )
    updated = self.get_metadata(metadata.model_id)
    self._sidecars(updated, None if previous is None else self.store.get(previous))
    return updated


def delete_alias(self: ModelRegistry, model_name: str, alias: str, *, reason: str = "") -> bool:
    check_name("model_name", model_name)
    check_alias(alias)
    _check_reason(reason)
    previous = move_alias(self.store, model_name, alias, None, actor=self.user, reason=reason)
    if previous is not None:
        self._sidecars(self.store.get(previous))
    return previous is not None


def update_model(
    self: ModelRegistry,
    reference: int | str,
    *,
    description: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> ModelMetadata:
    """Edit a version's description and/or replace its tags."""
    metadata = self.get_metadata(reference)
    checked = evolve(
        metadata,
        description=metadata.description if description is None else description,
        tags=metadata.tags if tags is None else tags,
    )
    updated = self.store.update(
        metadata.model_id,
        description=None if description is None else checked.description,
        tags=None if tags is None else checked.tags,
    )
    if updated is None:
        raise ModelNotFoundError(f"no model version has id {metadata.model_id}")
    self._sidecars(updated)
    return updated


def audit_log(self: ModelRegistry, model_name: str | None = None) -> list[AuditEvent]:
    """Every stage transition and alias move, oldest first."""
    if model_name is not None:
        check_name("model_name", model_name)
    return self.store.audit_log(model_name)


def delete_model(self: ModelRegistry, model_id: int) -> bool:
    """Delete a version: its record first, then its files. False if it did not exist."""
    model_id = parse_model_id(model_id)
    metadata = self.store.get(model_id)
    if metadata is None:
        return False
    self.plugins.before_delete(registry=self, metadata=metadata)
    # The sidecar goes first: a crash after it leaves a version without one
    # (harmless) rather than unrecorded files that look like lost metadata.
    if not self.remote:
        remove_sidecar(self.storage_path, metadata.artifact.key)
    try:
        removed = self.store.delete(model_id)
    except BaseException:
        self._sidecars(self.store.get(model_id))
        raise
    if removed is None:
        return False
    for ref in [removed.artifact, *removed.artifacts.values()]:
        self._discard(ref.key)
    self.plugins.after_delete(registry=self, metadata=removed)
    return True
