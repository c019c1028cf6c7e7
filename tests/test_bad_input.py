"""A battery of bad inputs through every public entry point.

DESIGN.md invariant 3: bad input is rejected before anything is written,
with an error that says what and why. Each case asserts the error is a
``ModelShelfError`` and a ``ValueError`` of the expected type, that its
message names the field and the rule, and that the registry is exactly
as before: same rows, same audit log, same files, no temporary file.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from modelshelf import (
    DuplicateVersionError,
    InvalidInputError,
    InvalidMetadataError,
    InvalidReferenceError,
    InvalidVersionError,
    ModelRegistry,
    ModelShelfError,
    SerializationError,
    UnknownStageError,
)

if TYPE_CHECKING:
    from pathlib import Path

    from sklearn.linear_model import LogisticRegression

#: Deliberately untyped: the calls pass what the signatures forbid.
Call = Callable[[Any, Any], object]
VOLATILE = ("registry.db", "registry.db-wal", "registry.db-shm", "index.lock")
EXISTING = "existing"


def state(registry: ModelRegistry) -> tuple[Any, ...]:
    """Everything a rejected call must leave alone."""
    files = {
        str(path.relative_to(registry.storage_path)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(registry.storage_path.rglob("*"))
        if path.is_file() and path.name not in VOLATILE
    }
    return (
        registry.list_models(),
        registry.list_models(stage="Production"),
        registry.audit_log(),
        files,
    )


def save(**kwargs: Any) -> Call:
    def call(registry: ModelRegistry, model: Any) -> object:
        kwargs.setdefault("model_name", "fresh")
        return registry.save_model(model, **kwargs)

    return call


def lookup(text: str) -> Call:
    return lambda registry, model: registry.get_metadata(text)


def case(
    call: Call,
    error: type[ModelShelfError],
    match: str,
    *,
    id: str,
    options: dict[str, Any] | None = None,
) -> Any:
    return pytest.param(call, error, match, options or {}, id=id)


NAMES = [
    ("empty", "", "must not be empty"),
    ("too-long", "m" * 256, "256 characters long; the limit is 255"),
    ("slash", "team/model", "must not contain '/'"),
    ("backslash", "team\\model", r"must not contain '\\'"),
    ("dotdot", "..", "must not contain '..'"),
    ("dotdot-inside", "a..b", "must not contain '..'"),
    ("traversal", "../../etc/passwd", "must not contain '/'"),
    ("nul", "model\x00x", "must not contain NUL"),
    ("newline", "model\nx", "must not contain control characters"),
    ("tab", "model\tx", "must not contain control characters"),
    ("escape", "model\x1b[31m", "must not contain control characters"),
    ("delete-char", "model\x7f", "must not contain control characters"),
    ("leading-dash", "-rf", "must start with a letter or digit"),
    ("leading-dot", ".hidden", "must start with a letter or digit"),
    ("space", "my model", "may use only letters"),
    ("quote", "x'; DROP TABLE models; --", "may use only letters"),
    ("non-ascii", "modèle", "may use only letters"),
    ("not-a-string", 42, "must be a string"),
    ("none", None, "must be a string"),
]

SEMVER_BAD = ["1.0", "1.0.0.0", "v1.0.0", "01.0.0", "1.0.0-", "", "latest", "1.0.0+build", "1..0"]
INTEGER_BAD = ["0", "-1", "1.0", "01", "abc", "1e3", "", "1.0.0"]

BAD_METRICS: list[tuple[str, Any, str]] = [
    ("nan", {"f1": float("nan")}, "f1: must be finite"),
    ("inf", {"f1": math.inf}, "f1: must be finite"),
    ("minus-inf", {"loss": -math.inf}, "loss: must be finite"),
    ("numpy-nan", {"f1": np.float64("nan")}, "f1: must be finite"),
    ("string", {"f1": "0.9"}, "f1: must be a real number"),
    ("bool", {"f1": True}, "f1: must be a real number"),
    ("numpy-bool", {"f1": np.bool_(True)}, "f1: must be a real number"),
    ("none", {"f1": None}, "f1: must be a real number"),
    ("list", {"f1": [0.9]}, "f1: must be a real number"),
    ("complex", {"f1": 1j}, "f1: must be a real number"),
    ("empty-name", {"": 0.5}, "metric name '' must match"),
    ("digit-name", {"1f": 0.5}, "metric name '1f' must match"),
    ("sql-name", {"f1; DROP TABLE metrics; --": 0.5}, "must match"),
    ("quote-name", {"f1'": 0.5}, "must match"),
    ("json-path-name", {"$.f1": 0.5}, "must match"),
    ("long-name", {"m" * 129: 0.5}, "at most 128"),
    ("int-name", {1: 0.5}, "metric name 1 must match"),
    ("not-mapping", [("f1", 0.9)], "must be a mapping"),
]

BAD_HYPERPARAMETERS: list[tuple[str, Any, str]] = [
    ("function", {"fn": len}, "hyperparameters.fn: a value of type builtin_function_or_method"),
    ("object", {"x": object()}, "hyperparameters.x: a value of type object"),
    ("nan", {"x": float("nan")}, r"hyperparameters.x: nan cannot be stored as JSON"),
    ("nested-inf", {"d": {"x": [1, {"y": math.inf}]}}, r"hyperparameters.d.x\[1\].y: inf"),
    ("int-key", {1: 2}, "hyperparameters: key 1 must be a string"),
    ("set", {"s": {1, 2}}, "hyperparameters.s: a value of type set"),
    ("bytes", {"b": b"\x00"}, "hyperparameters.b: a value of type bytes"),
    ("array", {"w": np.zeros(3)}, "hyperparameters.w: a value of type ndarray"),
    ("not-mapping", [1, 2], "hyperparameters: must be a mapping"),
]

BAD_REFERENCES = [
    ("empty", "", "non-empty string"),
    ("blank", "   ", "non-empty string"),
    ("two-colons", "a:1:2", "at most one of"),
    ("colon-and-at", "a:1@x", "at most one of"),
    ("nothing-after-colon", "a:", "nothing follows ':'"),
    ("nothing-after-at", "a@", "nothing follows '@'"),
    ("nothing-after-slash", "a/", "nothing follows '/'"),
    ("unknown-stage", "a/Deployed", "unknown stage 'Deployed'"),
    ("bad-alias", "a@not an alias", "alias"),
    ("bad-version", "a:1 0", "is not a version"),
    ("traversal", "../a", "must not contain '..'"),
    ("nested-path", "a/b/c", "at most one of"),
    ("bad-name", "a b", "may use only letters"),
    ("nul", "a\x00:1.0.0", "NUL"),
]


def _circular_dict() -> dict[str, Any]:
    value: dict[str, Any] = {"lr": 0.1}
    value["self"] = value
    return value


def _circular_list() -> list[Any]:
    value: list[Any] = [1]
    value.append(value)
    return value


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"x": value}
    return value


HUGE = 10**400
TOO_BIG_ID = 2**63
SURROGATE = "ok\udcff"
IN_RANGE = "out of range: it must be between"
NOT_UNICODE = re.escape("lone surrogate '\\udcff' at position 2; text must be valid Unicode")

#: Numbers past what any store holds, self-referencing or very deep values,
#: text that is not Unicode, and bools where an id belongs.
LIMITS: list[tuple[str, Call, type[ModelShelfError], str]] = [
    *[
        (
            f"is-ensemble-{label}",
            save(training_info={"is_ensemble": value}),
            InvalidMetadataError,
            "training_info.is_ensemble: must be True or False",
        )
        for label, value in [
            ("no", "no"),
            ("false-text", "False"),
            ("one", 1),
            ("zero", 0),
            ("none", None),
            ("list", []),
        ]
    ],
    ("metric-huge", save(metrics={"f1": HUGE}), InvalidMetadataError, "f1: is too large"),
    ("metric-minus-huge", save(metrics={"loss": -HUGE}), InvalidMetadataError, "too large"),
    ("hyper-huge", save(hyperparameters={"n": HUGE}), InvalidMetadataError, f"n: an .*{IN_RANGE}"),
    ("hyper-2-63", save(hyperparameters={"n": 2**63}), InvalidMetadataError, IN_RANGE),
    ("hyper-minus", save(hyperparameters={"n": -(2**63) - 1}), InvalidMetadataError, IN_RANGE),
    (
        "hyper-nested-huge",
        save(hyperparameters={"grid": [1, {"n": HUGE}]}),
        InvalidMetadataError,
        r"hyperparameters.grid\[1\].n: an integer of 401 digits",
    ),
    (
        "hyper-huge-fraction",
        save(hyperparameters={"x": __import__("fractions").Fraction(HUGE, 3)}),
        InvalidMetadataError,
        "hyperparameters.x: is too large for a float",
    ),
    (
        "hyper-circular-dict",
        save(hyperparameters=_circular_dict()),
        InvalidMetadataError,
        "hyperparameters.self: contains itself",
    ),
    (
        "hyper-circular-list",
        save(hyperparameters={"l": _circular_list()}),
        InvalidMetadataError,
        r"hyperparameters.l\[1\]: contains itself",
    ),
    (
        "hyper-deep",
        save(hyperparameters=_nested(5000)),
        InvalidMetadataError,
        "nested more than 100 levels deep",
    ),
    (
        "extra-huge",
        save(training_info={"extra": {"seed": HUGE}}),
        InvalidMetadataError,
        "training_info.extra.seed: an integer of 401 digits",
    ),
    (
        "extra-deep",
        save(training_info={"extra": _nested(200)}),
        InvalidMetadataError,
        "training_info.extra.* nested more than 100 levels",
    ),
    (
        "n-samples-huge",
        save(training_info={"n_samples": HUGE}),
        InvalidMetadataError,
        f"training_info.n_samples: .*{IN_RANGE} 0 and",
    ),
    (
        "class-count-huge",
        save(training_info={"class_distribution": {"a": HUGE}}),
        InvalidMetadataError,
        "training_info.class_distribution.a: an integer of 401 digits",
    ),
    (
        "class-distribution-list",
        save(training_info={"class_distribution": [1, 2]}),
        InvalidMetadataError,
        "training_info.class_distribution: must be a mapping",
    ),
    (
        "quality-huge",
        save(training_info={"data_quality_score": HUGE}),
        InvalidMetadataError,
        "data_quality_score: is too large",
    ),
    *[
        (
            f"training-info-{type(value).__name__}",
            save(training_info=value),
            InvalidMetadataError,
            f"training_info: must be a mapping or a TrainingInfo, got {type(value).__name__}",
        )
        for value in ([("dataset", "iris")], "iris", 5, ("a",))
    ],
    (
        "training-info-int-key",
        save(training_info={1: "x"}),
        InvalidMetadataError,
        "training_info: key 1 must be a string",
    ),
    ("parent-huge", save(parent_id=TOO_BIG_ID), InvalidMetadataError, f"parent_id: .*{IN_RANGE}"),
    *[
        (f"id-{label}", call, InvalidMetadataError, f"model_id: .*{rule}")
        for label, call, rule in [
            ("get-huge", lambda r, m: r.get_metadata(TOO_BIG_ID), IN_RANGE),
            ("get-kw-huge", lambda r, m: r.get_metadata(model_id=HUGE), IN_RANGE),
            ("get-kw-bool", lambda r, m: r.get_metadata(model_id=True), "got bool True"),
            ("load-huge", lambda r, m: r.load(TOO_BIG_ID).model, IN_RANGE),
            ("load-all-huge", lambda r, m: r.load(TOO_BIG_ID), IN_RANGE),
            ("delete-bool", lambda r, m: r.delete_model(True), "got bool True"),
            ("delete-false", lambda r, m: r.delete_model(False), "got bool False"),
            ("delete-huge", lambda r, m: r.delete_model(TOO_BIG_ID), IN_RANGE),
            ("delete-zero", lambda r, m: r.delete_model(0), "must be a positive integer"),
            ("delete-float", lambda r, m: r.delete_model(1.0), "got float 1.0"),
            ("promote-huge", lambda r, m: r.promote(TOO_BIG_ID), IN_RANGE),
            ("alias-huge", lambda r, m: r.set_alias(TOO_BIG_ID, "champion"), IN_RANGE),
            ("update-huge", lambda r, m: r.update_model(HUGE, description="x"), IN_RANGE),
        ]
    ],
    *[
        (f"window-{label}", call, InvalidInputError, rule)
        for label, call, rule in [
            ("limit", lambda r, m: r.list_models(limit=TOO_BIG_ID), "limit must be at most"),
            ("offset", lambda r, m: r.list_models(offset=HUGE), "offset must be at most"),
            ("retention", lambda r, m: r.apply_retention(keep_last=HUGE), "offset must be at"),
        ]
    ],
    (
        "filter-huge",
        lambda r, m: r.list_models(min_f1=HUGE),
        InvalidMetadataError,
        "bound: is too large",
    ),
    (
        "checkpoint-step-huge",
        lambda r, m: r.save_checkpoint(m, "fresh", HUGE),
        InvalidMetadataError,
        f"step: an integer of 401 digits is {IN_RANGE}",
    ),
    *[
        (
            f"retention-age-{label}",
            lambda r, m, age=age: r.apply_retention(archived_max_age_days=age),
            InvalidInputError,
            "archived_max_age_days must be > 0 and at most 999999999",
        )
        for label, age in [("huge", HUGE), ("nan", math.nan), ("inf", math.inf)]
    ],
    *[
        (f"surrogate-{label}", call, InvalidMetadataError, f"{where}: contains a {NOT_UNICODE}")
        for label, call, where in [
            ("description", save(description=SURROGATE), "description"),
            ("model-type", save(model_type=SURROGATE), "model_type"),
            ("tag-value", save(tags={"team": SURROGATE}), "tags: team"),
            ("hyper-value", save(hyperparameters={"p": SURROGATE}), "hyperparameters.p"),
            ("hyper-key", save(hyperparameters={SURROGATE: 1}), "hyperparameters key"),
            ("hyper-nested", save(hyperparameters={"g": [SURROGATE]}), r"hyperparameters.g\[0\]"),
            ("features", save(feature_names=["a", SURROGATE]), "feature_names"),
            ("dataset", save(training_info={"dataset": SURROGATE}), "training_info.dataset"),
            (
                "class-label",
                save(training_info={"class_distribution": {SURROGATE: 1}}),
                "training_info.class_distribution",
            ),
            ("extra", save(training_info={"extra": {"k": SURROGATE}}), "training_info.extra.k"),
            (
                "update-description",
                lambda r, m: r.update_model(f"{EXISTING}:1.0.0", description=SURROGATE),
                "description",
            ),
            (
                "update-tags",
                lambda r, m: r.update_model(f"{EXISTING}:1.0.0", tags={"k": SURROGATE}),
                "tags: k",
            ),
            (
                "model-info",
                lambda r, m: r.set_model_info(EXISTING, description=SURROGATE),
                "description",
            ),
            (
                "model-info-tags",
                lambda r, m: r.set_model_info(EXISTING, tags={"owner": SURROGATE}),
                "tags: owner",
            ),
            (
                "promote-reason",
                lambda r, m: r.promote(f"{EXISTING}:1.0.0", reason=SURROGATE),
                "reason",
            ),
            (
                "alias-reason",
                lambda r, m: r.set_alias(f"{EXISTING}:1.0.0", "champion", reason=SURROGATE),
                "reason",
            ),
        ]
    ],
]


def _lock_model() -> Any:
    return {"weights": np.ones(1000), "lock": threading.Lock()}


def _generator_model() -> Any:
    return (i for i in range(3))


def _local_class_model() -> Any:
    class Local:
        pass

    return Local()


CASES = [
    *[
        case(save(model_name=name), InvalidMetadataError, f"model_name: .*{rule}", id=f"name-{i}")
        for i, name, rule in NAMES
    ],
    *[
        case(
            save(version=v), InvalidVersionError, "version: .* not a valid semver", id=f"semver-{v}"
        )
        for v in SEMVER_BAD
    ],
    case(save(version=100), InvalidVersionError, "not a valid semver", id="semver-int"),
    *[
        case(
            save(version=v),
            InvalidVersionError,
            "version: .* not a valid integer version",
            id=f"integer-{v}",
            options={"versioning": "integer"},
        )
        for v in INTEGER_BAD
    ],
    case(
        save(model_name=EXISTING, version="1.0.0"),
        DuplicateVersionError,
        "'existing' already has version '1.0.0'",
        id="duplicate-version",
    ),
    *[
        case(save(metrics=value), InvalidMetadataError, f"metrics: .*{rule}", id=f"metric-{i}")
        for i, value, rule in BAD_METRICS
    ],
    *[
        case(save(hyperparameters=value), InvalidMetadataError, rule, id=f"hyper-{i}")
        for i, value, rule in BAD_HYPERPARAMETERS
    ],
    case(save(tags={"team": 1}), InvalidMetadataError, "tags: team: value must be", id="tag-int"),
    case(save(tags={"bad key": "v"}), InvalidMetadataError, "tags: tag key", id="tag-key"),
    case(save(tags="team=x"), InvalidMetadataError, "tags: must be a mapping", id="tag-str"),
    case(save(stage="Prod"), UnknownStageError, "'Prod'.*Staging, Production", id="stage-save"),
    case(save(stage=3), UnknownStageError, "unknown stage 3", id="stage-int"),
    case(
        lambda r, m: r.transition_stage(EXISTING, "1.0.0", "Deployed"),
        UnknownStageError,
        "unknown stage 'Deployed'; valid stages are: None, Staging, Production, Archived",
        id="stage-transition",
    ),
    case(
        lambda r, m: r.promote(f"{EXISTING}:1.0.0", "live"),
        UnknownStageError,
        "unknown stage 'live'",
        id="stage-promote",
    ),
    case(
        lambda r, m: r.list_models(stage="Deployed"),
        UnknownStageError,
        "unknown stage",
        id="stage-filter",
    ),
    *[
        case(
            lookup(text),
            InvalidReferenceError,
            f"malformed model reference .*{rule}",
            id=f"ref-{i}",
        )
        for i, text, rule in BAD_REFERENCES
    ],
    case(lambda r, m: r.load("a:1:2").model, InvalidReferenceError, "at most one", id="ref-load"),
    case(lambda r, m: r.load("a@"), InvalidReferenceError, "nothing follows", id="ref-load-all"),
    case(
        lambda r, m: r.promote("x/Nope"), InvalidReferenceError, "unknown stage", id="ref-promote"
    ),
    case(
        lambda r, m: r.set_alias("a:1:2", "champion"),
        InvalidReferenceError,
        "at most one",
        id="ref-alias",
    ),
    case(
        lambda r, m: r.set_alias(f"{EXISTING}:1.0.0", "not an alias"),
        InvalidMetadataError,
        "alias: 'not an alias' must match",
        id="alias-bad",
    ),
    case(
        lambda r, m: r.set_alias(f"{EXISTING}:1.0.0", "2.0.0"),
        InvalidMetadataError,
        "alias: '2.0.0' must match",
        id="alias-version-like",
    ),
    case(
        lambda r, m: r.get_metadata(True),
        InvalidInputError,
        "model reference must be an int id or a string",
        id="ref-bool",
    ),
    case(
        lambda r, m: r.list_models(min_f1=float("nan")),
        InvalidMetadataError,
        "bound: must be finite",
        id="filter-nan",
    ),
    case(
        lambda r, m: r.list_models(min_f1="high"),
        InvalidMetadataError,
        "must be a real number",
        id="filter-string",
    ),
    case(
        lambda r, m: r.list_models(f1_above=0.5),
        InvalidInputError,
        "unknown filter 'f1_above'; metric thresholds are min_<metric>=",
        id="filter-unknown",
    ),
    case(
        lambda r, m: r.list_models(**{"min_f1 OR 1=1": 0.0}),
        InvalidMetadataError,
        "metric name 'f1 OR 1=1' must match",
        id="filter-sql-metric",
    ),
    case(
        lambda r, m: r.list_models(min_metrics={"f1); DELETE FROM models; --": 0.0}),
        InvalidMetadataError,
        "must match",
        id="filter-sql-metric-dict",
    ),
    case(
        lambda r, m: r.list_models(order_by="f1 DESC; DROP TABLE models"),
        InvalidInputError,
        "order_by=.* is neither a field",
        id="order-sql",
    ),
    case(
        lambda r, m: r.list_models(limit=-1),
        InvalidInputError,
        "limit must be an integer >= 0",
        id="limit-negative",
    ),
    case(
        lambda r, m: r.get_best_model(metric="f1 OR 1=1"),
        InvalidMetadataError,
        "metric name 'f1 OR 1=1' must match",
        id="best-sql-metric",
    ),
    case(
        lambda r, m: r.get_best_model(metric=""),
        InvalidMetadataError,
        "metric name '' must match",
        id="best-empty-metric",
    ),
    case(
        lambda r, m: r.get_best_model(order_by="f1"),
        InvalidInputError,
        "get_best_model does not take order_by=",
        id="best-order",
    ),
    case(
        lambda r, m: r.compare_models(f1_min=0.5),
        InvalidInputError,
        "unknown filter 'f1_min'",
        id="compare-unknown-filter",
    ),
    case(
        lambda r, m: r.count_models(max_loss=math.inf),
        InvalidMetadataError,
        "must be finite",
        id="count-inf",
    ),
    case(
        save(training_info={"rows": 10}),
        InvalidInputError,
        "training_info: .*rows",
        id="training-unknown-key",
    ),
    case(
        save(training_info={"n_samples": -1}),
        InvalidMetadataError,
        "training_info.n_samples: must be an int >= 0",
        id="training-negative",
    ),
    case(
        save(training_info={"data_quality_score": math.nan}),
        InvalidMetadataError,
        "data_quality_score: must be finite",
        id="training-nan",
    ),
    case(
        save(description="a\x00b"),
        InvalidMetadataError,
        "description: must not contain NUL",
        id="description-nul",
    ),
    case(
        save(description="d" * 100_001),
        InvalidMetadataError,
        "description: is longer than 100000",
        id="description-long",
    ),
    case(save(model_type="T" * 300), InvalidMetadataError, "model_type: is longer", id="type-long"),
    case(
        save(feature_names="abc"),
        InvalidMetadataError,
        "feature_names: must be a sequence of strings, not a string",
        id="features-str",
    ),
    case(
        save(feature_names=[1, 2]),
        InvalidMetadataError,
        "feature_names: 1 is not a string",
        id="features-int",
    ),
    case(
        save(artifacts={"../scaler": 1}),
        InvalidMetadataError,
        "artifacts: .*must not contain '/'",
        id="artifact-traversal",
    ),
    case(
        save(artifacts={"": 1}),
        InvalidMetadataError,
        "artifacts: must not be empty",
        id="artifact-empty",
    ),
    case(
        save(parent_id=0),
        InvalidMetadataError,
        "parent_id: must be a positive integer",
        id="parent-zero",
    ),
    case(
        save(parent_id=True),
        InvalidMetadataError,
        "parent_id: must be a positive integer",
        id="parent-bool",
    ),
    case(
        lambda r, m: r.update_model(f"{EXISTING}:1.0.0", tags={"k": 3}),
        InvalidMetadataError,
        "tags: k: value must be a string",
        id="update-tags",
    ),
    case(
        lambda r, m: r.update_model(f"{EXISTING}:1.0.0", description="\x00"),
        InvalidMetadataError,
        "description: must not contain NUL",
        id="update-description",
    ),
    *[case(call, error, match, id=label) for label, call, error, match in LIMITS],
]


@pytest.fixture(params=["sqlite", "json", "postgresql"])
def store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each store; PostgreSQL gets a fresh schema through the environment,
    so every registry the test opens without a URL finds it."""
    if request.param == "postgresql":
        url = request.getfixturevalue("modelshelf_postgresql_url")
        monkeypatch.setenv("MODELSHELF_DATABASE_URL", url)
    return str(request.param)


def _seeded(tmp_path: Path, model: Any, store: str, **options: Any) -> ModelRegistry:
    registry = ModelRegistry(tmp_path / "registry", store=store, **options)
    registry.save_model(model, EXISTING, metrics={"f1": 0.8}, version=None)
    first = registry.list_models()[0]
    registry.transition_stage(EXISTING, first.version, "Production")
    registry.set_alias(first.model_id, "champion")
    return registry


def assert_rejected(
    registry: ModelRegistry, call: Callable[[], object], error: type[Exception], match: str
) -> ModelShelfError:
    before = state(registry)
    with pytest.raises(error, match=match) as caught:
        call()
    assert isinstance(caught.value, ModelShelfError)
    assert isinstance(caught.value, ValueError)
    assert state(registry) == before, "a rejected call changed the registry"
    assert list(registry.storage.iter_temporary()) == []
    return caught.value


@pytest.mark.parametrize(("call", "error", "match", "options"), CASES)
def test_bad_input_is_rejected_and_changes_nothing(
    call: Call,
    error: type[ModelShelfError],
    match: str,
    options: dict[str, Any],
    store: str,
    tmp_path: Path,
    logistic: LogisticRegression,
) -> None:
    registry = _seeded(tmp_path, logistic, store, **options)
    try:
        assert_rejected(registry, lambda: call(registry, logistic), error, match)
    finally:
        registry.close()


UNSERIALIZABLE = [
    pytest.param(serializer, make, id=f"{serializer}-{label}")
    for serializer, make, label in [
        ("joblib", _lock_model, "lock"),
        ("joblib", _generator_model, "generator"),
        ("joblib", _local_class_model, "local-class"),
        ("cloudpickle", _lock_model, "lock"),
        ("cloudpickle", _generator_model, "generator"),
        ("skops", _generator_model, "generator"),
    ]
]


@pytest.mark.parametrize(("serializer", "make_model"), UNSERIALIZABLE)
def test_unserializable_model_is_wrapped_and_leaves_no_file(
    serializer: str,
    make_model: Callable[[], Any],
    store: str,
    tmp_path: Path,
    logistic: LogisticRegression,
) -> None:
    registry = _seeded(tmp_path, logistic, store, serializer=serializer)
    try:
        error = assert_rejected(
            registry,
            lambda: registry.save_model(make_model(), "unpicklable", metrics={"f1": 0.5}),
            SerializationError,
            f"serializer '{serializer}' could not serialize the model: .*(pickle|Pickl)",
        )
        assert error.__cause__ is not None
    finally:
        registry.close()


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"scoring": "composite", "scoring_options": {"weights": {"f1": -1}}}, "must be a number"),
        ({"scoring": "composite", "scoring_options": {"weights": {}}}, "at least one weight"),
        (
            {"scoring": "composite", "scoring_options": {"weights": {"f1 OR 1=1": 1.0}}},
            "metric name 'f1 OR 1=1' must match",
        ),
        ({"serializer_options": {"compress": 12}}, "compress must be an integer 0-9"),
    ],
    ids=["negative-weight", "no-weights", "sql-weight-name", "bad-compress"],
)
def test_bad_plugin_options_are_rejected_before_opening(
    options: dict[str, Any], match: str, store: str, tmp_path: Path, logistic: LogisticRegression
) -> None:
    with _seeded(tmp_path, logistic, store) as registry:
        before = state(registry)
    with pytest.raises(InvalidInputError, match=match):
        ModelRegistry(tmp_path / "registry", store=store, **options)
    with ModelRegistry(tmp_path / "registry", store=store) as registry:
        assert state(registry) == before


def test_the_battery_is_large() -> None:
    """The figure the reliability notes quote: distinct bad inputs tried per store."""
    assert len(CASES) >= 100
