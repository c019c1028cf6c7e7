"""The rules of stages and aliases, decided once for every metadata store.

Which versions change stage (promoting to Production archives the name's
other Production versions when asked), whether an alias moves, and the
audit events each change records are decided here, by pure functions of a
:class:`~modelshelf.protocols.NameState`. A store only locks the name,
reads that state, and applies the :class:`~modelshelf.protocols.Changes`
in the same transaction (:meth:`~modelshelf.protocols.MetadataStore.transition`),
so no store re-derives the rules and none can get ``rollback``'s history
wrong.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import partial
from typing import TYPE_CHECKING, cast

from modelshelf.errors import ModelNotFoundError
from modelshelf.metadata import Stage
from modelshelf.protocols import (
    STAGE_ACTION,
    AliasChange,
    AuditEvent,
    Changes,
    StageChange,
)

if TYPE_CHECKING:
    from modelshelf.protocols import LegacyMetadataStore, MetadataStore, NameState


def _now() -> datetime:
    return datetime.now(timezone.utc)


def plan_stage(
    state: NameState,
    model_id: int,
    stage: Stage,
    *,
    archive_others: bool,
    actor: str,
    reason: str,
    action: str = STAGE_ACTION,
    at: datetime | None = None,
) -> Changes:
    """Put ``model_id`` in ``stage``; with ``archive_others`` and Production, archive
    the name's other Production versions. One event per changed version: the
    archived ones (``stage``, "replaced by ...") first, then the target's (``action``).

    :raises ModelNotFoundError: ``model_id`` is not a version of the name (any more).
    """
    target = state.versions.get(model_id)
    if target is None:
        raise ModelNotFoundError(
            f"version id {model_id} of {state.model_name!r} does not exist (deleted meanwhile?)"
        )
    when = _now() if at is None else at
    stages = [StageChange(model_id=model_id, stage=stage)]
    events = []
    if archive_others and stage is Stage.PRODUCTION:
        for other in sorted(state.versions.values(), key=lambda v: v.model_id):
            if other.model_id == model_id or other.stage is not Stage.PRODUCTION:
                continue
            stages.append(StageChange(model_id=other.model_id, stage=Stage.ARCHIVED))
            events.append(
                AuditEvent(
                    at=when,
                    model_name=state.model_name,
                    version=other.version,
                    action=STAGE_ACTION,
                    from_value=other.stage.value,
                    to_value=Stage.ARCHIVED.value,
                    actor=actor,
                    reason=f"replaced by {target.version} in Production",
                    model_id=other.model_id,
                )
            )
    events.append(
        AuditEvent(
            at=when,
            model_name=state.model_name,
            version=target.version,
            action=action,
            from_value=target.stage.value,
            to_value=stage.value,
            actor=actor,
            reason=reason,
            model_id=model_id,
        )
    )
    return Changes(stages=stages, events=events)


def plan_alias(
    state: NameState,
    alias: str,
    model_id: int | None,
    *,
    actor: str,
    reason: str,
    at: datetime | None = None,
) -> Changes:
    """Point ``alias`` at ``model_id`` (None removes it), recording ``alias:<alias>``.

    Nothing changes and nothing is recorded when the alias already points
    there. The event names the version it now points at, or, for a removal,
    the one it pointed at.

    :raises ModelNotFoundError: ``model_id`` is not a version of the name.
    """
    previous = state.aliases.get(alias)
    if previous == model_id:
        return Changes()
    new_version = None
    if model_id is not None:
        target = state.versions.get(model_id)
        if target is None:
            raise ModelNotFoundError(
                f"version id {model_id} of {state.model_name!r} does not exist"
            )
        new_version = target.version
    old = None if previous is None else state.versions.get(previous)
    old_version = None if old is None else old.version
    event = AuditEvent(
        at=_now() if at is None else at,
        model_name=state.model_name,
        version=new_version or old_version or "",
        action=f"alias:{alias}",
        from_value=old_version,
        to_value=new_version,
        actor=actor,
        reason=reason,
        model_id=previous if model_id is None else model_id,
    )
    return Changes(aliases=[AliasChange(alias=alias, model_id=model_id)], events=[event])


def move_stage(
    store: MetadataStore | LegacyMetadataStore,
    model_name: str,
    model_id: int,
    stage: Stage,
    *,
    archive_others: bool,
    actor: str,
    reason: str,
    action: str = STAGE_ACTION,
) -> Changes:
    """Apply :func:`plan_stage` through the store's one atomic primitive.

    Returns the stage changes made, the target first. A store from before
    ``transition`` (``set_stage``) is still served; its events are its own.
    """
    plan = partial(
        plan_stage,
        model_id=model_id,
        stage=stage,
        archive_others=archive_others,
        actor=actor,
        reason=reason,
        action=action,
    )
    if hasattr(store, "transition"):  # not isinstance: a Protocol check costs every call
        return cast("MetadataStore", store).transition(model_name, plan, model_ids=[model_id])
    changed = store.set_stage(
        model_id, stage, archive_others=archive_others, actor=actor, reason=reason, action=action
    )
    if not changed:
        raise ModelNotFoundError(f"version id {model_id} of {model_name!r} does not exist")
    return Changes(stages=[StageChange(model_id=m.model_id, stage=m.stage) for m in changed])


def move_alias(
    store: MetadataStore | LegacyMetadataStore,
    model_name: str,
    alias: str,
    model_id: int | None,
    *,
    actor: str,
    reason: str,
) -> int | None:
    """Apply :func:`plan_alias` atomically; return the alias's previous target id."""
    if not hasattr(store, "transition"):
        return store.set_alias(model_name, alias, model_id, actor=actor, reason=reason)
    previous: list[int | None] = []

    def plan(state: NameState) -> Changes:
        previous[:] = [state.aliases.get(alias)]
        return plan_alias(state, alias, model_id, actor=actor, reason=reason)

    cast("MetadataStore", store).transition(
        model_name, plan, model_ids=[] if model_id is None else [model_id], aliases=[alias]
    )
    return previous[0]


__all__ = ["move_alias", "move_stage", "plan_alias", "plan_stage"]
