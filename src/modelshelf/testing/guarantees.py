"""The store guarantees a plain functional run cannot see: races, exactness, pickling.

A store can answer every query of the fixed data set right and still be
wrong where it matters in production: two promotions at once leaving two
Production versions (a transaction without a per-name lock, at the default
isolation of MySQL, MariaDB or PostgreSQL), a collation that ignores case
or trailing spaces (``model_type="XGB"`` also finding ``"XGB "``), a
timestamp column that keeps whole seconds, an error that cannot cross a
process boundary. These tests look for exactly those.

:class:`StoreGuarantees` is mixed into
:class:`~modelshelf.testing.contracts.MetadataStoreContract`; a backend
never uses it on its own. Expected answers are computed from what the test
*wrote* (the drafts), never only from what the store reads back, so a
store that loses precision on the way in and out is still caught.
"""

from __future__ import annotations

import importlib
import inspect
import pickle
import pkgutil
import re
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pytest

import modelshelf
from modelshelf.errors import ModelShelfError
from modelshelf.metadata import ModelInfo, ModelMetadata, Stage, TrainingInfo, metadata_from_draft
from modelshelf.query import Query
from modelshelf.testing.reference import (
    EPOCH,
    change_stage,
    make_draft,
    point_alias,
    reference_find,
)
from modelshelf.testing.workers import promote_in_turn, run_workers

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from modelshelf.metadata import ModelDraft
    from modelshelf.protocols import MetadataStore, VersioningScheme


def require_opener(
    store_opener: Callable[[], MetadataStore] | None, *, multiprocess: bool, test: str
) -> Callable[[], MetadataStore]:
    """The opener, or skip (single-process store) or fail (it claims several processes)."""
    if store_opener is not None:
        return store_opener
    if multiprocess:
        pytest.fail(
            f"{test}: the store declares supports_multiprocess = True but the suite has no "
            "store_opener fixture; override store_opener to return a picklable callable "
            "opening the same store (or declare supports_multiprocess = False)",
            pytrace=False,
        )
    pytest.skip("no store_opener fixture and supports_multiprocess = False")


def _add_written(
    store: MetadataStore, scheme: VersioningScheme, drafts: Iterable[ModelDraft]
) -> list[ModelMetadata]:
    """Add each draft; return what was *written* (the draft with its id and version)."""
    written = []
    for draft in drafts:
        recorded = store.add(draft, scheme)
        written.append(
            metadata_from_draft(draft, model_id=recorded.model_id, version=recorded.version)
        )
    return written


def _compare(
    store: MetadataStore,
    written: list[ModelMetadata],
    queries: Iterable[tuple[str, Query]],
    scheme: VersioningScheme,
) -> list[str]:
    """Every query whose answer differs from the reference answer over ``written``."""
    mismatches = []
    for label, query in queries:
        expected = reference_find(written, query, scheme.sort_key)
        found = store.find(query)
        if found != expected:
            mismatches.append(
                f"{label}: expected ids {[m.model_id for m in expected]}, "
                f"store returned {[m.model_id for m in found]}"
            )
            for want, got in zip(expected, found, strict=False):
                if want != got:
                    mismatches.append(f"  wrote {_brief(want)}\n  read  {_brief(got)}")
                    break
        counted = store.count(query)
        if counted != len(expected):
            mismatches.append(f"{label}: count() said {counted}, expected {len(expected)}")
    return mismatches


def _brief(m: ModelMetadata) -> str:
    return (
        f"id={m.model_id} name={m.model_name!r} type={m.model_type!r} tags={m.tags!r} "
        f"dataset={m.training_info.dataset!r} created_at={m.created_at.isoformat()}"
    )


# -- errors: every class, an example built from its signature ---------------------------


def _import_modelshelf() -> None:
    """Import every modelshelf module, so every error class it defines is known."""
    for info in pkgutil.walk_packages(modelshelf.__path__, "modelshelf."):
        if info.name.endswith("__main__"):
            continue
        importlib.import_module(info.name)


def _resolves(cls: type) -> type | None:
    """What pickle finds under the class's module and qualified name."""
    found: Any = sys.modules.get(cls.__module__)
    for part in cls.__qualname__.split("."):
        found = getattr(found, part, None)
    return found if isinstance(found, type) else None


def error_classes(store_type: type) -> list[type[ModelShelfError]]:
    """Every ModelShelfError subclass of modelshelf, its plugins and the store's modules."""
    _import_modelshelf()
    own = {klass.__module__ for klass in store_type.__mro__}
    classes = []
    pending = list(ModelShelfError.__subclasses__())
    seen: set[type] = {ModelShelfError}
    classes.append(ModelShelfError)
    while pending:
        cls = pending.pop()
        if cls in seen:
            continue
        seen.add(cls)
        pending.extend(cls.__subclasses__())
        module = cls.__module__
        if module in own or module.split(".")[0] in ("modelshelf", "modelshelf_plugins"):
            resolved = _resolves(cls)
            if module not in sys.modules or (resolved is not None and resolved is not cls):
                continue  # a stale copy: its module was unloaded or imported again since
            classes.append(cls)
    return sorted(classes, key=lambda c: (c.__module__, c.__qualname__))


_CONTAINER = re.compile(r"\b(Iterable|Sequence|Collection|list|tuple|set|frozenset)\b")


def _example_value(parameter: inspect.Parameter) -> object:
    annotation = str(parameter.annotation)
    if _CONTAINER.search(annotation):
        return ["first", "second"]
    if re.search(r"\b(dict|Mapping)\b", annotation):
        return {"key": "value"}
    if re.search(r"\bbool\b", annotation):
        return True
    if re.search(r"\bint\b", annotation):
        return 7
    if re.search(r"\bfloat\b", annotation):
        return 0.5
    if re.search(r"\bPath\b", annotation):
        return Path("models") / parameter.name
    return f"{parameter.name}-example"


def example_error(cls: type[ModelShelfError]) -> ModelShelfError:
    """An instance of ``cls`` built from its ``__init__`` signature with example values."""
    try:
        signature = inspect.signature(cls)
    except ValueError:  # no __init__ of its own: Exception's (*args)
        return cls(f"{cls.__name__} example message")
    parameters = [
        p for p in signature.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if not parameters:
        return cls(f"{cls.__name__} example message")
    positional = [
        _example_value(p)
        for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    keywords = {p.name: _example_value(p) for p in parameters if p.kind is p.KEYWORD_ONLY}
    return cls(*positional, **keywords)


def pickling_problem(error: BaseException) -> str | None:
    """Why ``error`` does not survive a pickle round trip whole, or None."""
    name = f"{type(error).__module__}.{type(error).__qualname__}"
    try:
        copy = pickle.loads(pickle.dumps(error))
    except Exception as exc:
        return (
            f"{name}: {exc.__class__.__name__}: {exc} (pickling calls cls(*args) unless the "
            "class defines __reduce__; inherit ModelShelfError's)"
        )
    if type(copy) is not type(error):
        return f"{name}: came back as {type(copy).__qualname__}"
    if copy.args != error.args or str(copy) != str(error):
        return f"{name}: message {str(copy)!r} came back instead of {str(error)!r}"
    if vars(copy) != vars(error):
        return f"{name}: attributes {vars(copy)!r} came back instead of {vars(error)!r}"
    return None


# -- the tests --------------------------------------------------------------------------


class StoreGuarantees:
    """Races, exactness and pickling; part of ``MetadataStoreContract``."""

    supports_multiprocess: ClassVar[bool]
    multiprocess_workers: ClassVar[int]
    multiprocess_timeout: ClassVar[float]
    #: Rounds of promotions each worker makes in the promotion race.
    promotion_rounds: ClassVar[int] = 3

    # -- one Production version per name, whatever runs at once ----------------------

    @pytest.mark.modelshelf_multiprocess
    def test_concurrent_promotions_leave_one_production_version(
        self,
        store: MetadataStore,
        store_opener: Callable[[], MetadataStore] | None,
        scheme: VersioningScheme,
    ) -> None:
        """Processes promoting versions of one name at once, while the parent reads.

        A promotion reads the name's Production versions and archives them;
        without a per-name lock two promotions read the same state and both
        leave their target in Production.
        """
        if not self.supports_multiprocess:
            pytest.skip("store declares supports_multiprocess = False")
        opener = require_opener(
            store_opener,
            multiprocess=True,
            test="test_concurrent_promotions_leave_one_production_version",
        )
        workers = self.multiprocess_workers
        ids = [store.add(make_draft("shared"), scheme).model_id for _ in range(workers + 2)]
        bystander = store.add(make_draft("other"), scheme)
        change_stage(
            store, bystander.model_id, Stage.PRODUCTION, archive_others=True, actor="t", reason=""
        )
        shared_production = Query(model_name="shared", stage=Stage.PRODUCTION)
        seen: list[list[int]] = []

        def look() -> None:
            production = [m.model_id for m in store.find(shared_production)]
            if len(production) > 1 or (seen and seen[-1] and not production):
                pytest.fail(
                    f"a reader saw Production versions {production} of one name while "
                    "promotions ran (exactly one once any promotion committed): "
                    "promote and archive in one transaction under a per-name lock",
                    pytrace=False,
                )
            seen.append(production)

        calls = [
            (ids[index:] + ids[:index], self.promotion_rounds, f"worker-{index}")
            for index in range(workers)
        ]
        done = run_workers(
            opener, promote_in_turn, calls, timeout=self.multiprocess_timeout, watch=look
        )
        assert done == [len(ids) * self.promotion_rounds] * workers
        final = {m.model_id: m.stage for m in store.find(Query(model_name="shared"))}
        in_production = [i for i, stage in final.items() if stage is Stage.PRODUCTION]
        assert len(in_production) == 1, (
            f"after concurrent promotions, versions {in_production} are all in Production: "
            "each promotion must read and archive the name's Production versions under a "
            "per-name lock (SELECT ... FOR UPDATE on a lock row, pg_advisory_xact_lock, "
            "GET_LOCK); a transaction alone is not enough"
        )
        assert all(
            stage is Stage.ARCHIVED for i, stage in final.items() if i != in_production[0]
        ), final
        assert store.count(shared_production) == 1
        still = store.get(bystander.model_id)
        assert still is not None
        assert still.stage is Stage.PRODUCTION, "another name's Production version moved"
        assert len(seen) > 1, "the reader never looked while the workers ran"

    # -- exact text: no collation that ignores case or trailing spaces ----------------

    def test_names_and_aliases_are_case_sensitive(
        self, store: MetadataStore, scheme: VersioningScheme
    ) -> None:
        names = ["alpha", "Alpha", "ALPHA"]
        written = _add_written(store, scheme, [make_draft(name) for name in names])
        assert [m.version for m in written] == [scheme.first()] * 3, (
            "names differing only in case are different models, each with its own versions"
        )
        written += _add_written(store, scheme, [make_draft("Alpha"), make_draft("alpha")])
        assert [m.version for m in written[3:]] == [scheme.next_after(scheme.first())] * 2
        assert store.model_names() == sorted(names), "model names sort by code point"
        queries = [(f"name={name!r}", Query(model_name=name)) for name in names]
        queries.append(("by-name", Query(order_by="model_name")))
        queries.append(("by-name-desc", Query(order_by="model_name", descending=True)))
        mismatches = _compare(store, written, queries, scheme)
        assert not mismatches, "model names must compare exactly:\n" + "\n".join(mismatches)

        lower, upper = written[0], written[4]  # alpha 1 and alpha 2
        point_alias(store, "alpha", "champion", lower.model_id, actor="t", reason="")
        point_alias(store, "alpha", "Champion", upper.model_id, actor="t", reason="")
        assert [m.model_id for m in store.find(Query(alias="champion"))] == [lower.model_id]
        assert [m.model_id for m in store.find(Query(alias="Champion"))] == [upper.model_id]
        assert store.find(Query(alias="CHAMPION")) == []
        lower_now, upper_now = store.get(lower.model_id), store.get(upper.model_id)
        assert lower_now is not None
        assert upper_now is not None
        assert (lower_now.aliases, upper_now.aliases) == (("champion",), ("Champion",))
        assert {e.model_name for e in store.audit_log("alpha")} == {"alpha"}
        assert store.audit_log("Alpha") == []

        store.set_model_info(ModelInfo(model_name="Alpha", description="upper", tags={}))
        assert store.get_model_info("alpha") is None
        info = store.get_model_info("Alpha")
        assert info is not None
        assert info.description == "upper"

    def test_types_tags_and_datasets_compare_exactly(
        self, store: MetadataStore, scheme: VersioningScheme
    ) -> None:
        # "XGB " is written first: a collation that pads spaces makes it equal to
        # "XGB", and the tie then goes to the lower id, out of code-point order.
        values = ["XGB ", "XGB", "xgb", " XGB", "XGB\t"]
        drafts = [
            make_draft(
                "alpha",
                model_type=value,
                tags={"team": value, "Team": "x" if value == "XGB" else value.strip()},
                training_info=TrainingInfo(dataset=value),
                description=f"  {value}  \n",
            )
            for value in values
        ]
        written = _add_written(store, scheme, drafts)
        for want in written:
            got = store.get(want.model_id)
            assert got == want, f"read back differs from what was written:\n{want}\n{got}"
        queries: list[tuple[str, Query]] = []
        for value in [*values, "XGB  ", "Xgb"]:
            queries += [
                (f"model_type={value!r}", Query(model_type=value)),
                (f"tag team={value!r}", Query(tags={"team": value})),
                (f"dataset={value!r}", Query(dataset=value)),
            ]
        queries += [
            ("tag key case", Query(tags={"Team": "x"})),
            ("tag key TEAM", Query(tags={"TEAM": "XGB"})),
            ("by-type", Query(order_by="model_type")),
            ("by-type-desc", Query(order_by="model_type", descending=True)),
        ]
        mismatches = _compare(store, written, queries, scheme)
        assert not mismatches, (
            "text must compare exactly (no case folding, no trimmed or padded spaces; "
            'e.g. a binary collation, or COLLATE "C"):\n' + "\n".join(mismatches)
        )

    # -- time to the microsecond ---------------------------------------------------------

    def test_created_at_round_trips_to_the_microsecond(
        self, store: MetadataStore, scheme: VersioningScheme
    ) -> None:
        moments = [
            datetime(2000, 1, 1, 0, 0, 0, 1, tzinfo=timezone.utc),
            datetime(2099, 12, 31, 23, 59, 59, 999_999, tzinfo=timezone.utc),
            EPOCH + timedelta(microseconds=123_456),
            EPOCH.astimezone(timezone(timedelta(hours=2))) + timedelta(microseconds=654_321),
        ]
        written = _add_written(
            store, scheme, [make_draft("alpha", created_at=moment) for moment in moments]
        )
        for moment, want in zip(moments, written, strict=True):
            got = store.get(want.model_id)
            assert got is not None
            assert got.created_at == moment, (
                f"created_at {moment.isoformat()} came back as {got.created_at.isoformat()}: "
                "keep microseconds (e.g. DATETIME(6) / TIMESTAMPTZ, or integer microseconds)"
            )
            assert got.created_at.utcoffset() == timedelta(0), "created_at must come back in UTC"
            assert got == want

    def test_time_filters_hold_at_sub_second_boundaries(
        self, store: MetadataStore, scheme: VersioningScheme
    ) -> None:
        base = EPOCH + timedelta(seconds=10)
        offsets = [999_999, 0, 1_000_001, 500_000, 1, 2_500_000, 1_000_000, 499_999]
        written = _add_written(
            store,
            scheme,
            [
                make_draft("alpha", created_at=base + timedelta(microseconds=offset))
                for offset in offsets
            ],
        )
        step = timedelta(microseconds=1)
        queries: list[tuple[str, Query]] = [
            ("by-created", Query(order_by="created_at")),
            ("by-created-desc", Query(order_by="created_at", descending=True)),
        ]
        for offset in offsets:
            moment = base + timedelta(microseconds=offset)
            queries += [
                (f"after {offset}us", Query(created_after=moment)),
                (f"after {offset}+1us", Query(created_after=moment + step)),
                (f"before {offset}us", Query(created_before=moment)),
                (f"before {offset}+1us", Query(created_before=moment + step)),
                (f"exactly {offset}us", Query(created_after=moment, created_before=moment + step)),
            ]
        mismatches = _compare(store, written, queries, scheme)
        assert not mismatches, (
            "created_after (inclusive) and created_before (exclusive) must hold to the "
            "microsecond:\n" + "\n".join(mismatches)
        )

    # -- errors cross process boundaries ---------------------------------------------------

    def test_every_error_survives_pickling(self, store: MetadataStore) -> None:
        """Every ModelShelfError subclass (modelshelf's and the store's) pickles whole.

        A worker process's error reaches its parent pickled; one that cannot
        be unpickled kills a pool's result thread and the parent waits forever.
        """
        classes = error_classes(type(store))
        assert len(classes) > 10, classes
        problems = []
        for cls in classes:
            try:
                error = example_error(cls)
            except Exception as exc:
                problems.append(
                    f"{cls.__module__}.{cls.__qualname__}: cannot build an example from "
                    f"its signature: {exc!r}"
                )
                continue
            problem = pickling_problem(error)
            if problem is not None:
                problems.append(problem)
        assert not problems, "errors that do not survive pickling:\n" + "\n".join(problems)


__all__ = [
    "StoreGuarantees",
    "error_classes",
    "example_error",
    "pickling_problem",
    "require_opener",
]
