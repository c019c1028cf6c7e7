"""The plugin author's kit itself: the pytest plugin, the suites' power, the strategies.

The suites are only worth something if they fail a wrong backend, so this
module runs them (through ``pytester``, as a plugin author would) against
stores with one deliberate bug each and checks that the right tests fail.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from attrs import evolve
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from modelshelf import converter, hookspecs
from modelshelf.errors import InvalidMetadataError, InvalidVersionError
from modelshelf.metadata import ModelDraft, ModelMetadata, Stage, check_name
from modelshelf.metadata import _to_hyperparameters as to_hyperparameters
from modelshelf.testing import strategies as ms
from modelshelf.testing.reference import ReferenceScheme
from modelshelf.testing.stateful import MACHINE_SETTINGS, run_store_machine
from modelshelf_plugins.semver import IntegerScheme, SemverScheme
from modelshelf_plugins.sqlite_store import SqliteStore

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from modelshelf.protocols import Changes, NameState

pytest_plugins = ["pytester"]

DOCS = Path(__file__).parent.parent / "docs"

# -- a broken store must fail the store suite --------------------------------------

BROKEN_STORES = """
from __future__ import annotations

import functools

import pytest
from attrs import evolve

from modelshelf.testing.contracts import MetadataStoreContract
from modelshelf_plugins.sqlite_store import SqliteStore


class IgnoresTagFilter(SqliteStore):
    def find(self, query):
        return super().find(evolve(query, tags={}))


class OrdersVersionsAsText(SqliteStore):
    def find(self, query):
        rows = super().find(query)
        if query.order_by == "version":
            rows.sort(key=lambda m: (m.version, m.model_id), reverse=query.descending)
        return rows


class NeverArchives(SqliteStore):
    # Hands the plan only the versions asked for, not the name's Production ones.
    def transition(self, model_name, plan, *, model_ids=(), aliases=()):
        def blind(state):
            asked = {*model_ids, *state.aliases.values()}
            seen = {i: v for i, v in state.versions.items() if i in asked}
            return plan(evolve(state, versions=seen))

        return super().transition(model_name, blind, model_ids=model_ids, aliases=aliases)


class OldestWinsTies(SqliteStore):
    def best(self, ranking, query):
        winner = super().best(ranking, query)
        if winner is None:
            return None
        score = ranking.score(winner)
        tied = [m for m in self.find(query) if ranking.score(m) == score]
        return min(tied, key=lambda m: m.model_id)


class CountsCheckpoints(SqliteStore):
    def count(self, query):
        return super().count(evolve(query, checkpoints=False)) + super().count(
            evolve(query, checkpoints=True)
        )


def _suite_for(store_class):
    class Suite(MetadataStoreContract):
        @pytest.fixture
        def store(self, tmp_path):
            store = store_class(tmp_path / "registry.db")
            yield store
            store.close()

        @pytest.fixture
        def store_opener(self, tmp_path):
            return functools.partial(store_class, tmp_path / "registry.db")

    return Suite


TestIgnoresTagFilter = _suite_for(IgnoresTagFilter)
TestOrdersVersionsAsText = _suite_for(OrdersVersionsAsText)
TestNeverArchives = _suite_for(NeverArchives)
TestOldestWinsTies = _suite_for(OldestWinsTies)
TestCountsCheckpoints = _suite_for(CountsCheckpoints)
"""

#: Tests that must fail for each broken store (it may fail others too).
EXPECTED_FAILURES = {
    "TestIgnoresTagFilter": {
        "test_find_matches_the_reference",
        "test_update_replaces_description_and_tags_separately",
    },
    "TestOrdersVersionsAsText": {"test_find_matches_the_reference"},
    "TestNeverArchives": {
        "test_promoting_archives_the_previous_production_version",
        "test_stage_changes_are_audited",
    },
    "TestOldestWinsTies": {
        "test_best_matches_the_reference",
        "test_best_breaks_ties_by_newest_model_id",
    },
    "TestCountsCheckpoints": {
        "test_count_agrees_with_the_reference",
        "test_checkpoints_are_separate_from_releases",
    },
}


class _NeverArchives(SqliteStore):
    """Hands the plan only the versions asked for, not the name's Production ones."""

    def transition(
        self,
        model_name: str,
        plan: Callable[[NameState], Changes],
        *,
        model_ids: Sequence[int] = (),
        aliases: Sequence[str] = (),
    ) -> Changes:
        def blind(state: NameState) -> Changes:
            asked = {*model_ids, *state.aliases.values()}
            seen = {i: v for i, v in state.versions.items() if i in asked}
            return plan(evolve(state, versions=seen))

        return super().transition(model_name, blind, model_ids=model_ids, aliases=aliases)


class _ForgetsAliasesOnUpdate(SqliteStore):
    def update(
        self, model_id: int, *, description: str | None, tags: dict[str, str] | None
    ) -> ModelMetadata | None:
        with self._write() as conn:
            conn.execute("DELETE FROM aliases WHERE model_id = ?", (model_id,))
        return super().update(model_id, description=description, tags=tags)


@pytest.mark.parametrize("store_class", [_NeverArchives, _ForgetsAliasesOnUpdate])
def test_the_state_machine_catches_broken_stores(
    store_class: type[SqliteStore], tmp_path: Path
) -> None:
    store = store_class(tmp_path / "registry.db")
    quick = settings(
        MACHINE_SETTINGS,
        max_examples=100,
        phases=[Phase.generate],
        database=None,
        derandomize=True,
    )
    try:
        with pytest.raises(AssertionError):
            run_store_machine(store, machine_settings=quick)
    finally:
        store.close()


def test_the_state_machine_passes_a_correct_store(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "registry.db")
    try:
        run_store_machine(store)
    finally:
        store.close()


def test_the_store_suite_fails_broken_stores(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_broken=BROKEN_STORES)
    # The multiprocess and thread tests cannot catch these bugs, and a failing
    # state machine spends its time shrinking (it has its own test below).
    result = pytester.inline_run(
        "-p", "no:cacheprovider", "-k", "not processes and not threads and not state_machine"
    )
    failed: dict[str, set[str]] = defaultdict(set)
    passed: dict[str, set[str]] = defaultdict(set)
    for report in result.getreports("pytest_runtest_logreport"):
        if report.when != "call" and not report.failed:
            continue
        _, cls, test = report.nodeid.split("::")
        (failed if report.failed else passed)[cls].add(test)
    for cls, expected in EXPECTED_FAILURES.items():
        assert expected <= failed[cls], (cls, expected - failed[cls])
        # The suite is not failing everything: most of it still passes.
        assert "test_empty_store_answers_empty" in passed[cls], cls
        assert len(passed[cls]) > len(failed[cls]), (cls, failed[cls])


def test_a_failure_names_the_query_that_went_wrong(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_broken=BROKEN_STORES)
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "-k", "TestIgnoresTagFilter and test_find_matches"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*find() disagrees with the reference*", "*two-tags: Query(*"])


# -- the store guarantees: races, exact text and time, errors across processes ----------

GUARANTEE_BREAKERS = """
from __future__ import annotations

import functools

import pytest
from attrs import evolve

from modelshelf.errors import DuplicateVersionError
from modelshelf.metadata import Stage
from modelshelf.query import Query
from modelshelf.testing.contracts import MetadataStoreContract
from modelshelf_plugins.sqlite_store import SqliteStore, where_clause
import time


class PromotesWithoutNameLock(SqliteStore):
    \"\"\"Reads the name's state in one transaction and writes in another, as a
    transaction alone does at REPEATABLE READ / READ COMMITTED without a name lock.\"\"\"

    def transition(self, model_name, plan, *, model_ids=(), aliases=()):
        with self._write() as conn:
            state = self._name_state(conn, model_name, model_ids, aliases)
        changes = plan(state)
        # The gap between that read and the write below, widened so that the race
        # shows on every run, however busy the machine is.
        time.sleep(0.05)
        with self._write() as conn:
            self._apply(conn, model_name, changes)
        return changes


def _loosely(where):
    # What a case-insensitive, space-padding collation (MySQL/MariaDB's default) does.
    for column in ("models.model_name", "models.model_type", "t.value",
                   "json_extract(models.data, '$.training_info.dataset')"):
        where = where.replace(f"{column} = ?", f"rtrim(lower({column})) = rtrim(lower(?))")
    return where


class FoldsText(SqliteStore):
    def find_sql(self, query):
        sql, params = super().find_sql(query)
        return _loosely(sql), params

    def count(self, query):
        where, params = where_clause(query)
        return self._read(f"SELECT count(*) FROM models WHERE {_loosely(where)}", params)[0][0]


class TruncatesCreatedAt(SqliteStore):
    \"\"\"Keeps created_at to the second, like a DATETIME column without (6).\"\"\"

    def add(self, draft, scheme):
        second = draft.created_at.replace(microsecond=0)
        return super().add(evolve(draft, created_at=second), scheme)


class VersionTaken(DuplicateVersionError):
    \"\"\"Pickles the way a plain Exception does: unpickling calls __init__ with the
    message alone, which this __init__ refuses.\"\"\"

    __reduce__ = BaseException.__reduce__


class RacesAndRaisesUnpicklableErrors(SqliteStore):
    \"\"\"Picks the next version before its write transaction; a duplicate raises
    VersionTaken, which a worker process cannot send back to its parent.\"\"\"

    def add(self, draft, scheme):
        if draft.requested_version is None and not draft.checkpoint:
            latest = self.find(Query(model_name=draft.model_name, order_by="version",
                                     descending=True, limit=1))
            version = scheme.next_after(latest[0].version) if latest else scheme.first()
            draft = evolve(draft, requested_version=version)
        try:
            return super().add(draft, scheme)
        except DuplicateVersionError:
            raise VersionTaken(draft.model_name, draft.requested_version) from None


class LocksExclusively(SqliteStore):
    \"\"\"Holds the database lock for its whole life: a second process never opens it.\"\"\"

    def __init__(self, path):
        super().__init__(path)
        self._conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        with self._write():
            pass


def _suite_for(store_class, opener=True, timeout=60.0):
    class Suite(MetadataStoreContract):
        multiprocess_timeout = timeout

        @pytest.fixture
        def store(self, tmp_path):
            store = store_class(tmp_path / "registry.db")
            yield store
            store.close()

        if opener:
            @pytest.fixture
            def store_opener(self, tmp_path):
                return functools.partial(store_class, tmp_path / "registry.db")

    return Suite


TestPromotesWithoutNameLock = _suite_for(PromotesWithoutNameLock)
TestFoldsText = _suite_for(FoldsText)
TestTruncatesCreatedAt = _suite_for(TruncatesCreatedAt)
TestRacesAndRaisesUnpicklableErrors = _suite_for(RacesAndRaisesUnpicklableErrors)
TestLocksExclusively = _suite_for(LocksExclusively, timeout=3.0)
TestNoOpener = _suite_for(SqliteStore, opener=False)
"""

_PROCESSES = "test_processes_adding_to_one_name_get_distinct_versions"
_PROMOTIONS = "test_concurrent_promotions_leave_one_production_version"

#: Per broken store: the tests that must fail, with a text their report must
#: hold, and tests that must still pass (the bug is not everywhere).
GUARANTEE_FAILURES: dict[str, tuple[dict[str, str], set[str]]] = {
    "TestPromotesWithoutNameLock": (
        {_PROMOTIONS: "Production"},
        {"test_promoting_archives_the_previous_production_version"},
    ),
    "TestFoldsText": (
        {
            "test_types_tags_and_datasets_compare_exactly": "must compare exactly",
            "test_names_and_aliases_are_case_sensitive": "must compare exactly",
        },
        {"test_find_matches_the_reference", "test_populated_rows_are_as_written"},
    ),
    "TestTruncatesCreatedAt": (
        {
            "test_created_at_round_trips_to_the_microsecond": "keep microseconds",
            "test_time_filters_hold_at_sub_second_boundaries": "to the microsecond",
        },
        {"test_find_matches_the_reference", "test_populated_rows_are_as_written"},
    ),
    "TestRacesAndRaisesUnpicklableErrors": (
        {
            _PROCESSES: "worker process",
            "test_every_error_survives_pickling": "test_broken.VersionTaken",
        },
        {"test_duplicate_requested_version_is_rejected_and_nothing_is_written"},
    ),
    "TestLocksExclusively": (
        {_PROMOTIONS: "did not all open the store"},
        {"test_empty_store_answers_empty"},
    ),
    "TestNoOpener": (
        {
            _PROCESSES: "no store_opener",
            _PROMOTIONS: "no store_opener",
            "test_reopened_store_sees_every_write": "no store_opener",
        },
        {"test_empty_store_answers_empty"},
    ),
}


def test_the_store_guarantees_catch_races_inexact_text_and_stale_errors(
    pytester: pytest.Pytester,
) -> None:
    """Each store with one bug the functional tests miss fails the right tests, and
    fails them with a message: a hanging worker or an error that cannot be
    unpickled ends the run at its deadline instead of never."""
    pytester.makepyfile(test_broken=GUARANTEE_BREAKERS)
    node_ids = [
        f"test_broken.py::{cls}::{test}"
        for cls, (failing, passing) in GUARANTEE_FAILURES.items()
        for test in [*failing, *passing]
    ]
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-rA", "--durations=8", *node_ids, timeout=180
    )
    output = result.stdout.str()
    outcomes = {
        m.group(2): (m.group(1), m.group(3))
        for m in re.finditer(
            r"^(PASSED|FAILED|ERROR) test_broken\.py::(\w+::\w+)(?: - (.*))?$", output, re.MULTILINE
        )
    }
    headers = list(re.finditer(r"^_+ (\S+) _+$", output, re.MULTILINE))
    reports = {
        header.group(1): output[header.end() : end.start() if end else len(output)]
        for header, end in zip(headers, [*headers[1:], None], strict=True)
    }
    for cls, (failing, passing) in GUARANTEE_FAILURES.items():
        for test, message in failing.items():
            outcome, _ = outcomes.get(f"{cls}::{test}", ("missing", ""))
            assert outcome == "FAILED", (cls, test, outcome, output[-3000:])
            assert message in reports[f"{cls}.{test}"], (cls, test, message)
        for test in passing:
            assert outcomes.get(f"{cls}::{test}", ("missing",))[0] == "PASSED", (cls, test)


# -- the guide's examples pass their suites -------------------------------------------

GUIDE_BLOCK = re.compile(
    r"^(?:<!--\s*skip:[^\n]*-->\n)?```python\n(.*?)^```$", flags=re.DOTALL | re.MULTILINE
)


def test_the_plugin_guide_examples_pass_their_conformance_suites(
    pytester: pytest.Pytester,
) -> None:
    """Following docs/plugins.md gets a plugin author to a passing conformance run."""
    text = (DOCS / "plugins.md").read_text(encoding="utf-8")
    blocks = [m.group(1) for m in GUIDE_BLOCK.finditer(text) if not m.group(0).startswith("<!--")]
    # The page defines everything it uses (its set-up block trains the model).
    pytester.makepyfile(test_guide="\n".join(blocks))
    result = pytester.runpytest("-p", "no:cacheprovider", "-W", "error", "-ra")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0, result.stdout.str()
    assert outcomes.get("errors", 0) == 0, result.stdout.str()
    assert outcomes["passed"] >= 30
    result.stdout.no_fnmatch_line("*FAILED*")


# -- the pytest plugin ------------------------------------------------------------


def test_contracts_are_not_collected_where_imported(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_imports="from modelshelf.testing.contracts import *  # noqa: F403\n"
        "from modelshelf.testing.contracts import MetadataStoreContract\n"
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_a_contract_without_its_fixture_says_what_to_override(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_forgot="""
        from modelshelf.testing.contracts import SerializerContract

        class TestForgot(SerializerContract):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-k", "test_is_a_serializer")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*SerializerContract needs the 'serializer' fixture*"])


def test_plugin_fixtures_build_registries_with_chosen_plugins(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_fixtures="""
        import pytest
        from modelshelf import Provider, hookimpl
        from modelshelf.query import Ranking

        class Newest:
            name = "newest"

            def ranking(self):
                return Ranking.by_metric("step")

        class NewestPlugin:
            @hookimpl
            def modelshelf_scoring_policies(self):
                return [Provider(name="newest", factory=Newest)]

        def test_default(modelshelf_registry, modelshelf_storage_path):
            assert (modelshelf_storage_path / "registry.db").is_file()
            assert modelshelf_registry.list_models() == []

        def test_factory(modelshelf_registry_factory, modelshelf_logistic_regression,
                         modelshelf_iris):
            registry = modelshelf_registry_factory(
                store="json", serializer="cloudpickle", versioning="integer",
                scoring="composite",
            )
            model_id = registry.save_model(
                modelshelf_logistic_regression, model_name="iris", metrics={"accuracy": 0.9}
            )
            X, y = modelshelf_iris
            loaded = registry.load(model_id).model
            assert (loaded.predict(X) == modelshelf_logistic_regression.predict(X)).all()
            assert registry.get_metadata(model_id).version == "1"
            assert registry.serializer.name == "cloudpickle"

        def test_inline_plugin(modelshelf_registry_factory, modelshelf_random_forest,
                               tmp_path):
            registry = modelshelf_registry_factory(
                plugins=[NewestPlugin()], scoring="newest", storage_path=tmp_path / "other"
            )
            for step in (3, 1, 2):
                registry.save_model(
                    modelshelf_random_forest, model_name="rf", metrics={"step": step}
                )
            assert registry.get_best_model().metrics["step"] == 3

        def test_models(modelshelf_example_models):
            assert {"logistic_regression", "random_forest", "ndarray", "dict"} <= set(
                modelshelf_example_models
            )

        @pytest.mark.modelshelf_multiprocess
        def test_marker_is_registered():
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--strict-markers", "-W", "error")
    result.assert_outcomes(passed=5)


def test_the_state_machine_turns_on_with_one_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_machine="""
        from modelshelf.testing.stateful import store_machine
        from modelshelf_plugins.json_store import JsonStore

        TestJsonMachine = store_machine(JsonStore).TestCase
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


# -- strategies ---------------------------------------------------------------------

STRATEGY_SETTINGS = settings(max_examples=25, deadline=None)


@STRATEGY_SETTINGS
@given(ms.model_names())
def test_model_names_are_accepted(name: str) -> None:
    assert check_name("model_name", name) == name


@STRATEGY_SETTINGS
@given(ms.invalid_model_names())
def test_invalid_model_names_are_rejected(value: object) -> None:
    with pytest.raises(InvalidMetadataError, match="model_name"):
        check_name("model_name", value)


@STRATEGY_SETTINGS
@given(ms.hyperparameters(), ms.metrics(min_size=1, min_value=-5, max_value=5))
def test_hyperparameters_and_metrics_are_kept_as_given(
    hyperparameters: dict[str, Any], metrics: dict[str, float]
) -> None:
    assert to_hyperparameters(hyperparameters) == hyperparameters
    assert metrics
    assert all(-5 <= v <= 5 for v in metrics.values())


@STRATEGY_SETTINGS
@given(st.data())
def test_versions_are_valid_for_their_scheme(data: st.DataObject) -> None:
    semver = data.draw(ms.versions(scheme="semver"))
    assert SemverScheme().validate(semver) == semver
    integer = data.draw(ms.versions(scheme="integer"))
    assert IntegerScheme().validate(integer) == integer
    walked = data.draw(ms.versions(scheme=ReferenceScheme(), max_steps=5))
    assert 1 <= int(walked) <= 6


def test_versions_refuse_an_unknown_scheme_name() -> None:
    with pytest.raises(ValueError, match="calver"):
        ms.versions(scheme="calver")


def test_invalid_versions_are_rejected_by_each_scheme() -> None:
    with pytest.raises(InvalidVersionError):
        SemverScheme().validate("1.0")


@STRATEGY_SETTINGS
@given(ms.model_metadata())
def test_metadata_round_trips_through_the_converter(metadata: ModelMetadata) -> None:
    assert converter.loads(converter.dumps(metadata)) == metadata


@STRATEGY_SETTINGS
@given(ms.model_metadata(stage="Production", model_name="iris", metrics=ms.metrics(min_size=2)))
def test_metadata_overrides_fix_fields(metadata: ModelMetadata) -> None:
    assert metadata.stage is Stage.PRODUCTION
    assert metadata.model_name == "iris"
    assert len(metadata.metrics) >= 2
    assert metadata.artifact.key.startswith("iris/")


def test_metadata_refuses_unknown_overrides() -> None:
    with pytest.raises(TypeError, match="colour"):
        ms.model_metadata(colour="blue")
    with pytest.raises(TypeError, match="model_id"):
        ms.model_drafts(model_id=3)


@STRATEGY_SETTINGS
@given(st.from_type(ModelMetadata), st.from_type(ModelDraft))
def test_from_type_uses_the_registered_strategies(
    metadata: ModelMetadata, draft: ModelDraft
) -> None:
    """The ``hypothesis`` entry point registered them (no import of strategies needed)."""
    assert isinstance(metadata, ModelMetadata)
    assert draft.requested_version is None


# -- docs/plugins.md lists exactly the hooks of modelshelf.hookspecs --------------


def test_the_plugin_guide_lists_every_hook() -> None:
    from pluggy import PluginManager

    pm = PluginManager("modelshelf")
    pm.add_hookspecs(hookspecs)
    hooks = sorted(name for name in vars(pm.hook) if name.startswith("modelshelf_"))
    text = (DOCS / "plugins.md").read_text(encoding="utf-8")
    section = text.split("<!-- hook-list:start -->")[1].split("<!-- hook-list:end -->")[0]
    rows = {
        m.group(1): m.group(0)
        for m in re.finditer(r"^\| \[`(modelshelf_\w+)`\].*$", section, re.MULTILINE)
    }
    assert sorted(rows) == hooks, "update the hook list in docs/plugins.md"
    for hook in hooks:
        summary = (getattr(hookspecs, hook).__doc__ or "").strip().splitlines()[0]
        assert summary, f"{hook} has no docstring summary"
        assert f"(reference/hooks.md#{hook})" in rows[hook], hook
        assert summary in rows[hook], f"{hook}: the row should read {summary!r}"


def test_the_plugin_guide_names_every_contract() -> None:
    from modelshelf.testing import contracts

    text = (DOCS / "plugins.md").read_text(encoding="utf-8") + (DOCS / "testing.md").read_text(
        encoding="utf-8"
    )
    for name in contracts.__all__:
        if name.endswith("Contract"):
            assert f"`{name}`" in text, name


def test_the_docs_give_each_contract_its_test_count() -> None:
    """The "(N tests)" after a contract's name in the docs is the number of its tests."""
    from modelshelf.testing import contracts

    counts = {}
    for name in contracts.__all__:
        if name.endswith("Contract"):
            cls = getattr(contracts, name)
            counts[name] = sum(
                1 for attr in dir(cls) if attr.startswith("test_") and callable(getattr(cls, attr))
            )
    mention = re.compile(r"`(\w+Contract)`\)?\s+\((\d+) tests")
    found: dict[str, set[str]] = defaultdict(set)
    wrong = []
    for page in ("testing.md", "plugins.md"):
        for match in mention.finditer((DOCS / page).read_text(encoding="utf-8")):
            name, number = match.group(1), int(match.group(2))
            found[page].add(name)
            if counts.get(name) != number:
                wrong.append(
                    f"docs/{page} says `{name}` ({number} tests); it has {counts.get(name)}"
                )
    assert not wrong, "update the test counts:\n" + "\n".join(wrong)
    assert found["testing.md"] == set(counts), "docs/testing.md gives every contract its count"
    assert "MetadataStoreContract" in found["plugins.md"]


def test_the_store_obligations_name_every_test_of_the_store_suite() -> None:
    """docs/plugins.md's list of what a store must guarantee names each test that checks it."""
    from modelshelf.testing.contracts import MetadataStoreContract

    text = (DOCS / "plugins.md").read_text(encoding="utf-8")
    section = text.split("#### What a store must guarantee", 1)[1].split("\n#### ", 1)[0]
    named = set(re.findall(r"`(test_\w+)`", section))
    tests = {name for name in dir(MetadataStoreContract) if name.startswith("test_")}
    assert tests - named == set(), "say which obligation these tests check in docs/plugins.md"
    assert named - tests == set(), "docs/plugins.md names tests the store suite does not have"
