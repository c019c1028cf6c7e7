"""Part of the metadata-store suite: what happens to a version after it is added.

Deleting, stages, aliases, the transition primitive, updates, model info and
the audit log; combined into ``MetadataStoreContract`` in
:mod:`modelshelf.testing.contracts`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from modelshelf import protocols
from modelshelf.errors import DuplicateVersionError, ModelShelfError, RetiredVersionError
from modelshelf.metadata import ModelInfo, ModelMetadata, Stage
from modelshelf.query import Query
from modelshelf.testing._store_contract_support import Populated, StoreContractBase, _ids
from modelshelf.testing.reference import EPOCH, change_stage, make_draft, point_alias

if TYPE_CHECKING:
    from collections.abc import Callable

    from modelshelf.protocols import MetadataStore, VersioningScheme


class StoreLifecycleContract(StoreContractBase):
    """Deleting, stages, aliases, transitions, updates, model info and audit events."""

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
