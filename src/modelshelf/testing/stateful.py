"""A Hypothesis state machine that holds a metadata store to a plain-dict model.

Hypothesis runs random sequences of saves, deletes, stage transitions,
alias moves, updates and listings against the store and against a tiny
in-memory model of what the store should hold, and checks after every step
that the two agree. A failing sequence is shrunk to the shortest one that
still fails and printed as code.

Turn it on for a backend with one line in its test module::

    from modelshelf.testing.stateful import store_machine

    TestMyStoreMachine = store_machine(lambda path: MyStore(path)).TestCase

``path`` is a fresh, empty directory for each example. The metadata store
contract also runs the machine on its ``store`` fixture (``run_store_machine``):
there every example works under its own unique model-name prefix, so one
store serves all examples.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from modelshelf.errors import DuplicateVersionError
from modelshelf.metadata import Stage
from modelshelf.query import Query
from modelshelf.testing.reference import ReferenceScheme, change_stage, make_draft, point_alias

if TYPE_CHECKING:
    from collections.abc import Callable

    from modelshelf.protocols import MetadataStore

_STRESS = os.environ.get("MODELSHELF_STRESS") == "1"
#: Example and step counts that keep a contract run to a few seconds
#: (``MODELSHELF_STRESS=1`` runs twenty times as many, longer sequences).
MACHINE_SETTINGS = settings(
    max_examples=300 if _STRESS else 15,
    stateful_step_count=50 if _STRESS else 20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

_SUFFIXES = ("a", "b")
_ALIASES = ("champion", "challenger")
#: Production twice as often: promotions are where stores get archiving wrong.
_STAGES = (Stage.PRODUCTION, Stage.PRODUCTION, Stage.STAGING, Stage.ARCHIVED, Stage.NONE)
_TAGS = st.dictionaries(st.sampled_from(["team", "env"]), st.sampled_from(["x", "y"]), max_size=2)


class _Expected:
    """What the model says one version looks like."""

    def __init__(self, name: str, version: str, tags: dict[str, str]) -> None:
        self.name = name
        self.version = version
        self.stage = Stage.NONE
        self.description = ""
        self.tags = tags


class MetadataStoreMachine(RuleBasedStateMachine):
    """Random operations on a store, checked against a dict after every step."""

    #: Builds the store in a fresh directory (wrapped in a tuple so it does not
    #: become a method); set by :func:`store_machine`.
    store_factory: ClassVar[tuple[Callable[[Path], MetadataStore]] | None] = None
    #: A store shared by every example (used by the contract); set by
    #: :func:`run_store_machine`.
    shared_store: ClassVar[MetadataStore | None] = None

    def __init__(self) -> None:
        super().__init__()
        self.directory: Path | None = None
        if self.shared_store is not None:
            self.store = self.shared_store
        else:
            assert self.store_factory is not None, "use store_machine(make_store)"
            self.directory = Path(tempfile.mkdtemp(prefix="modelshelf-machine-"))
            self.store = self.store_factory[0](self.directory)
        self.prefix = f"m{uuid.uuid4().hex[:8]}-"
        self.scheme = ReferenceScheme()
        self.versions: dict[int, _Expected] = {}
        self.highest: dict[str, int] = {}
        self.aliases: dict[tuple[str, str], int] = {}
        self.deleted: list[int] = []
        #: (name, version) of deleted versions: never recorded again.
        self.retired: set[tuple[str, str]] = set()

    # -- helpers -------------------------------------------------------------------

    def _name(self, suffix: str) -> str:
        return self.prefix + suffix

    def _ids_of(self, name: str) -> list[int]:
        return sorted(i for i, e in self.versions.items() if e.name == name)

    # -- rules ---------------------------------------------------------------------

    @rule(suffix=st.sampled_from(_SUFFIXES), tags=_TAGS)
    def save(self, suffix: str, tags: dict[str, str]) -> None:
        name = self._name(suffix)
        metadata = self.store.add(make_draft(name, tags=tags), self.scheme)
        expected = str(self.highest.get(name, 0) + 1)
        assert metadata.version == expected, (metadata.version, expected)
        assert metadata.model_id not in self.versions
        assert all(metadata.model_id > i for i in self.versions)
        self.versions[metadata.model_id] = _Expected(name, expected, tags)
        self.highest[name] = int(expected)

    @rule(suffix=st.sampled_from(_SUFFIXES), number=st.integers(1, 12))
    def save_explicit(self, suffix: str, number: int) -> None:
        name = self._name(suffix)
        version = str(number)
        taken = any(e.name == name and e.version == version for e in self.versions.values())
        taken = taken or (name, version) in self.retired
        draft = make_draft(name, requested_version=version)
        if taken:
            try:
                self.store.add(draft, self.scheme)
            except DuplicateVersionError:
                return
            raise AssertionError(f"duplicate version {name}:{version} was accepted")
        metadata = self.store.add(draft, self.scheme)
        assert metadata.version == version
        self.versions[metadata.model_id] = _Expected(name, version, {})
        self.highest[name] = max(self.highest.get(name, 0), number)

    @precondition(lambda self: bool(self.versions))
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        model_id = data.draw(st.sampled_from(sorted(self.versions)), label="model_id")
        gone = self.store.delete(model_id)
        assert gone is not None
        assert gone.model_id == model_id
        removed = self.versions.pop(model_id)
        self.retired.add((removed.name, removed.version))
        # ``highest`` stays: a deleted version's number is never handed out again.
        self.aliases = {k: v for k, v in self.aliases.items() if v != model_id}
        self.deleted.append(model_id)

    @precondition(lambda self: bool(self.deleted))
    @rule(data=st.data())
    def touch_deleted(self, data: st.DataObject) -> None:
        model_id = data.draw(st.sampled_from(self.deleted), label="deleted_id")
        assert self.store.get(model_id) is None
        assert self.store.delete(model_id) is None
        assert self.store.update(model_id, description="x", tags=None) is None
        assert (
            change_stage(
                self.store, model_id, Stage.STAGING, archive_others=False, actor="m", reason=""
            )
            == []
        )

    @precondition(lambda self: bool(self.versions))
    @rule(
        data=st.data(),
        stage=st.sampled_from(_STAGES),
        archive_others=st.sampled_from([True, True, False]),
    )
    def transition(self, data: st.DataObject, stage: Stage, archive_others: bool) -> None:
        model_id = data.draw(st.sampled_from(sorted(self.versions)), label="model_id")
        target = self.versions[model_id]
        archived = []
        if archive_others and stage is Stage.PRODUCTION:
            archived = [
                i
                for i in self._ids_of(target.name)
                if i != model_id and self.versions[i].stage is Stage.PRODUCTION
            ]
        changed = change_stage(
            self.store, model_id, stage, archive_others=archive_others, actor="machine", reason=""
        )
        assert changed[0].model_id == model_id
        assert sorted(m.model_id for m in changed[1:]) == archived
        target.stage = stage
        for i in archived:
            self.versions[i].stage = Stage.ARCHIVED

    @precondition(lambda self: bool(self.versions))
    @rule(data=st.data())
    def promote(self, data: st.DataObject) -> None:
        """What the registry's promote does: Production, archiving the previous one."""
        self.transition(data, Stage.PRODUCTION, True)

    @precondition(lambda self: bool(self.versions))
    @rule(data=st.data(), alias=st.sampled_from(_ALIASES), remove=st.booleans())
    def alias(self, data: st.DataObject, alias: str, remove: bool) -> None:
        model_id = data.draw(st.sampled_from(sorted(self.versions)), label="model_id")
        name = self.versions[model_id].name
        previous = point_alias(
            self.store, name, alias, None if remove else model_id, actor="machine", reason=""
        )
        assert previous == self.aliases.get((name, alias))
        if remove:
            self.aliases.pop((name, alias), None)
        else:
            self.aliases[(name, alias)] = model_id

    @precondition(lambda self: bool(self.versions))
    @rule(
        data=st.data(),
        description=st.none() | st.text(max_size=20).filter(lambda s: "\x00" not in s),
        tags=st.none() | _TAGS,
    )
    def update(
        self, data: st.DataObject, description: str | None, tags: dict[str, str] | None
    ) -> None:
        model_id = data.draw(st.sampled_from(sorted(self.versions)), label="model_id")
        updated = self.store.update(model_id, description=description, tags=tags)
        assert updated is not None
        expected = self.versions[model_id]
        if description is not None:
            expected.description = description
        if tags is not None:
            expected.tags = dict(tags)

    @rule(suffix=st.sampled_from(_SUFFIXES), by_version=st.booleans(), descending=st.booleans())
    def list_versions(self, suffix: str, by_version: bool, descending: bool) -> None:
        name = self._name(suffix)
        query = Query(
            model_name=name,
            order_by="version" if by_version else "model_id",
            descending=descending,
        )
        found = self.store.find(query)
        ids = self._ids_of(name)
        if by_version:
            ids.sort(key=lambda i: int(self.versions[i].version))
        assert [m.model_id for m in found] == (ids[::-1] if descending else ids)

    # -- invariants ----------------------------------------------------------------

    @invariant()
    def every_version_is_as_the_model_says(self) -> None:
        for model_id, expected in self.versions.items():
            found = self.store.get(model_id)
            assert found is not None, model_id
            assert (found.model_name, found.version) == (expected.name, expected.version)
            assert found.stage is expected.stage, (model_id, found.stage, expected.stage)
            assert found.description == expected.description
            assert found.tags == expected.tags
            aliases = sorted(a for (n, a), i in self.aliases.items() if i == model_id)
            assert list(found.aliases) == aliases, (model_id, found.aliases, aliases)

    @invariant()
    def counts_and_names_agree(self) -> None:
        names = {e.name for e in self.versions.values()}
        for suffix in _SUFFIXES:
            name = self._name(suffix)
            assert self.store.count(Query(model_name=name)) == len(self._ids_of(name))
        mine = [n for n in self.store.model_names() if n.startswith(self.prefix)]
        assert mine == sorted(names)

    @invariant()
    def versions_are_unique_per_name(self) -> None:
        seen = {(e.name, e.version) for e in self.versions.values()}
        assert len(seen) == len(self.versions)

    def teardown(self) -> None:
        if self.directory is not None:
            self.store.close()
            shutil.rmtree(self.directory, ignore_errors=True)


_counter = itertools.count()


def store_machine(
    make_store: Callable[[Path], MetadataStore],
) -> type[MetadataStoreMachine]:
    """A state machine class for the store ``make_store(directory)`` builds.

    Use its ``TestCase`` attribute as a test class; settings come from
    :data:`MACHINE_SETTINGS` unless the class is decorated with others.
    """

    class Machine(MetadataStoreMachine):
        store_factory = (make_store,)

    Machine.__name__ = Machine.__qualname__ = f"MetadataStoreMachine{next(_counter)}"
    Machine.TestCase.settings = MACHINE_SETTINGS
    return Machine


def run_store_machine(store: MetadataStore, *, machine_settings: settings | None = None) -> None:
    """Run the machine against one existing store (each example under its own prefix)."""

    class SharedStoreMachine(MetadataStoreMachine):
        shared_store = store

    run_state_machine_as_test(SharedStoreMachine, settings=machine_settings or MACHINE_SETTINGS)


__all__ = ["MACHINE_SETTINGS", "MetadataStoreMachine", "run_store_machine", "store_machine"]
