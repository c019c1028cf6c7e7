"""Hypothesis strategies for modelshelf values.

Every strategy here produces values the core accepts (or, for the
``invalid_*`` ones, values it must reject with a typed error), so a plugin
author can property-test a backend without learning our validation rules::

    from hypothesis import given
    from modelshelf.testing import strategies as ms

    @given(ms.model_metadata(stage="Production"))
    def test_round_trip(metadata): ...

Knobs are keyword-only. Text is kept free of NUL and lone surrogates, which
no JSON column (SQLite's JSON1, PostgreSQL's jsonb) can hold.

With modelshelf installed, ``st.from_type(ModelMetadata)`` (and ModelDraft,
TrainingInfo, ArtifactRef) works too: ``_hypothesis_setup_hook`` registers
these strategies through the ``hypothesis`` entry point.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import attrs
from hypothesis import strategies as st

from modelshelf.metadata import (
    MAX_NAME_LENGTH,
    ArtifactRef,
    ModelDraft,
    ModelMetadata,
    Stage,
    TrainingInfo,
)
from modelshelf.signatures import DTYPES, ColumnSpec, Schema, Signature, TensorSpec

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

    from modelshelf.metadata import JSONValue
    from modelshelf.protocols import VersioningScheme

_NAME_START = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_NAME_REST = _NAME_START + "._-"
_METRIC_START = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
_METRIC_REST = _METRIC_START + "0123456789.-/"
_ALIAS_REST = _METRIC_START + "0123456789-"

#: Characters for free text: anything but NUL, other C0 controls and surrogates.
_TEXT = st.characters(exclude_categories=("Cs", "Cc"))


def _text(*, max_size: int = 20, min_size: int = 0) -> SearchStrategy[str]:
    return st.text(_TEXT, min_size=min_size, max_size=max_size)


def model_names(*, max_size: int = 40) -> SearchStrategy[str]:
    """Valid model names: a letter or digit, then letters, digits, '.', '_', '-'.

    Never contains ``..``, so a name can never address a parent directory.
    """
    if not 1 <= max_size <= MAX_NAME_LENGTH:
        raise ValueError(f"max_size must be between 1 and {MAX_NAME_LENGTH}, got {max_size}")
    return st.builds(
        lambda first, rest: first + rest,
        st.sampled_from(_NAME_START),
        st.text(_NAME_REST, max_size=max_size - 1),
    ).filter(lambda name: ".." not in name)


def invalid_model_names() -> SearchStrategy[object]:
    """Values the core must refuse as a model name, each for a different rule."""
    valid = model_names(max_size=10)
    return st.one_of(
        st.just(""),
        st.integers() | st.none() | st.binary(max_size=5) | st.lists(valid, max_size=2),
        st.text(_NAME_REST, min_size=MAX_NAME_LENGTH + 1, max_size=MAX_NAME_LENGTH + 20).map(
            lambda s: "a" + s
        ),
        st.tuples(
            valid, st.sampled_from(["/", "\\", "..", "\x00", "\n", "\x7f", " ", "*"]), valid
        ).map(lambda parts: "".join(parts)),
        st.tuples(st.sampled_from([".", "-", "_", "/", " "]), valid).map(lambda p: "".join(p)),
        st.sampled_from(["..", "../etc/passwd", "a/../../b", "C:\\models", "name;DROP TABLE"]),
    )


def metric_names() -> SearchStrategy[str]:
    """Valid metric (and tag key) names: ``[A-Za-z_][A-Za-z0-9_.\\-/]{0,127}``."""
    return st.builds(
        lambda first, rest: first + rest,
        st.sampled_from(_METRIC_START),
        st.text(_METRIC_REST, max_size=15),
    )


def metrics(
    *,
    names: SearchStrategy[str] | None = None,
    min_size: int = 0,
    max_size: int = 6,
    min_value: float = 0.0,
    max_value: float = 1.0,
) -> SearchStrategy[dict[str, float]]:
    """Metric dicts: finite floats in ``[min_value, max_value]`` by metric name."""
    return st.dictionaries(
        names if names is not None else metric_names(),
        st.floats(min_value=min_value, max_value=max_value, allow_nan=False, allow_infinity=False),
        min_size=min_size,
        max_size=max_size,
    )


def json_values(*, max_leaves: int = 10) -> SearchStrategy[JSONValue]:
    """JSON-safe values: None, bools, 53-bit ints, finite floats, text, lists, dicts."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**53), max_value=2**53),
        st.floats(allow_nan=False, allow_infinity=False),
        _text(),
    )
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(_text(min_size=1), children, max_size=4)
        ),
        max_leaves=max_leaves,
    )


def hyperparameters(*, max_size: int = 6, max_leaves: int = 10) -> SearchStrategy[dict[str, Any]]:
    """Hyperparameter dicts: string keys to JSON-safe values (nested allowed)."""
    return st.dictionaries(_text(min_size=1), json_values(max_leaves=max_leaves), max_size=max_size)


def tags(*, max_size: int = 4) -> SearchStrategy[dict[str, str]]:
    """Tag dicts: metric-name-shaped keys to free text values."""
    return st.dictionaries(metric_names(), _text(), max_size=max_size)


def aliases(*, max_size: int = 3) -> SearchStrategy[tuple[str, ...]]:
    """Distinct alias names, sorted as stores return them."""
    alias = st.builds(
        lambda first, rest: first + rest,
        st.sampled_from(_METRIC_START),
        st.text(_ALIAS_REST, max_size=12),
    )
    return st.lists(alias, unique=True, max_size=max_size).map(lambda a: tuple(sorted(a)))


def _semver(draw: st.DrawFn) -> str:
    number = st.integers(min_value=0, max_value=999)
    core = f"{draw(number)}.{draw(number)}.{draw(number)}"
    if draw(st.booleans()):
        return core
    identifier = st.one_of(
        st.integers(min_value=0, max_value=99).map(str),
        st.sampled_from(["alpha", "beta", "rc", "dev", "x-1"]),
    )
    return core + "-" + ".".join(draw(st.lists(identifier, min_size=1, max_size=3)))


@st.composite
def _versions(draw: st.DrawFn, *, scheme: str | VersioningScheme, max_steps: int) -> str:
    if scheme == "semver":
        return _semver(draw)
    if scheme == "integer":
        return str(draw(st.integers(min_value=1, max_value=10**9)))
    assert not isinstance(scheme, str)
    version = scheme.first()
    for _ in range(draw(st.integers(min_value=0, max_value=max_steps))):
        version = scheme.next_after(version)
    return version


def versions(
    *, scheme: str | VersioningScheme = "semver", max_steps: int = 20
) -> SearchStrategy[str]:
    """Valid versions of a scheme.

    ``"semver"`` and ``"integer"`` name the bundled schemes' grammars; any
    other :class:`~modelshelf.protocols.VersioningScheme` object is walked
    from ``first()`` through up to ``max_steps`` calls of ``next_after``.
    """
    if isinstance(scheme, str) and scheme not in ("semver", "integer"):
        raise ValueError(
            f"versions(scheme={scheme!r}): pass 'semver', 'integer' or a VersioningScheme"
        )
    return _versions(scheme=scheme, max_steps=max_steps)


def stages() -> SearchStrategy[Stage]:
    return st.sampled_from(Stage)


def created_at() -> SearchStrategy[datetime]:
    """UTC datetimes, microsecond precision, 2000-2099."""
    return st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2099, 12, 31),
        timezones=st.just(timezone.utc),
    )


def artifact_refs(*, model_name: str | None = None) -> SearchStrategy[ArtifactRef]:
    """References to stored files: a key under the model's name, a sha256, a size."""
    name = st.just(model_name) if model_name is not None else model_names(max_size=20)
    return st.builds(
        lambda name, stem, sha, size: ArtifactRef(
            key=f"{name}/{stem}.bin", serializer="joblib", sha256=sha, size=size
        ),
        name,
        st.text("0123456789abcdef", min_size=8, max_size=8),
        st.text("0123456789abcdef", min_size=64, max_size=64),
        st.integers(min_value=0, max_value=2**40),
    )


def training_info() -> SearchStrategy[TrainingInfo]:
    return st.builds(
        TrainingInfo,
        dataset=_text(),
        n_samples=st.none() | st.integers(min_value=0, max_value=10**9),
        class_distribution=st.dictionaries(
            _text(min_size=1, max_size=5), st.integers(min_value=0, max_value=10**6), max_size=3
        ),
        data_quality_score=st.none() | st.floats(min_value=0, max_value=1),
        is_ensemble=st.booleans(),
        extra=hyperparameters(max_size=3, max_leaves=4),
    )


def schemas() -> SearchStrategy[Schema]:
    """A table of uniquely named, typed columns, or an array with a free batch dimension."""
    columns = st.lists(
        st.builds(ColumnSpec, name=_text(min_size=1), dtype=st.sampled_from(DTYPES)),
        min_size=1,
        max_size=5,
        unique_by=lambda column: column.name,
    ).map(lambda found: Schema(columns=found))
    tensors = st.builds(
        lambda dtype, dims: Schema(tensor=TensorSpec(dtype=dtype, shape=(None, *dims))),
        st.sampled_from(DTYPES),
        st.lists(st.integers(min_value=0, max_value=4096), max_size=3),
    )
    return columns | tensors


def signatures() -> SearchStrategy[Signature]:
    """Signatures: inputs always, outputs sometimes."""
    return st.builds(Signature, inputs=schemas(), outputs=st.none() | schemas())


def input_examples() -> SearchStrategy[list[JSONValue] | None]:
    """Stored input examples: None, a few records, or a few rows."""
    scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _text(max_size=8)
    records = st.lists(st.dictionaries(_text(min_size=1, max_size=8), scalars, max_size=4))
    rows = st.lists(st.lists(scalars | st.floats(allow_nan=False, allow_infinity=False)))
    return st.none() | records.filter(bool) | rows.filter(bool)


_METADATA_FIELDS = frozenset(attrs.fields_dict(ModelMetadata))
_DRAFT_FIELDS = frozenset(attrs.fields_dict(ModelDraft))


def _check_fields(strategy: str, overrides: dict[str, Any], known: frozenset[str]) -> None:
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise TypeError(
            f"{strategy}() got unknown fields: {', '.join(unknown)} "
            f"(fields are: {', '.join(sorted(known))})"
        )


def _draw_fields(draw: st.DrawFn, overrides: dict[str, Any]) -> dict[str, Any]:
    """Draw every shared version field; an override is a value or a strategy."""

    def pick(key: str, default: SearchStrategy[Any]) -> Any:
        value = overrides.pop(key, default)
        return draw(value) if isinstance(value, st.SearchStrategy) else value

    name = pick("model_name", model_names(max_size=30))
    fields = {
        "model_name": name,
        "model_type": pick("model_type", st.sampled_from(["LogisticRegression", "RF", "", "xgb"])),
        "metrics": pick("metrics", metrics()),
        "hyperparameters": pick("hyperparameters", hyperparameters(max_size=4, max_leaves=6)),
        "description": pick("description", _text(max_size=40)),
        "tags": pick("tags", tags()),
        "stage": pick("stage", stages()),
        "created_at": pick("created_at", created_at()),
        "training_info": pick("training_info", training_info()),
        "feature_names": pick("feature_names", st.lists(_text(min_size=1), max_size=4)),
        "artifact": pick("artifact", artifact_refs(model_name=name)),
        "artifacts": pick(
            "artifacts",
            st.dictionaries(model_names(max_size=20), artifact_refs(model_name=name), max_size=2),
        ),
        "parent_id": pick("parent_id", st.none() | st.integers(min_value=1, max_value=2**31)),
        "checkpoint": pick("checkpoint", st.just(False)),
        "signature": pick("signature", st.none() | signatures()),
        "input_example": pick("input_example", input_examples()),
    }
    # Steps name the version's own artifacts, in an order of their own.
    names = sorted(fields["artifacts"])
    steps = st.lists(st.sampled_from(names), unique=True) if names else st.just([])
    fields["preprocessing"] = pick("preprocessing", steps)
    return fields


@st.composite
def _model_metadata(draw: st.DrawFn, overrides: dict[str, Any]) -> ModelMetadata:
    overrides = dict(overrides)
    fields = _draw_fields(draw, overrides)

    def pick(key: str, default: SearchStrategy[Any]) -> Any:
        value = overrides.pop(key, default)
        return draw(value) if isinstance(value, st.SearchStrategy) else value

    fields["model_id"] = pick("model_id", st.integers(min_value=1, max_value=2**31))
    fields["version"] = pick("version", versions())
    fields["aliases"] = pick("aliases", aliases())
    return ModelMetadata(**fields)


def model_metadata(**overrides: Any) -> SearchStrategy[ModelMetadata]:
    """Whole, valid :class:`ModelMetadata` values.

    Each keyword fixes a field, either to a value (``stage="Production"``)
    or to a strategy (``metrics=ms.metrics(min_size=1)``); an unknown field
    name is a TypeError.
    """
    _check_fields("model_metadata", overrides, _METADATA_FIELDS)
    return _model_metadata(overrides)


@st.composite
def _model_drafts(draw: st.DrawFn, overrides: dict[str, Any]) -> ModelDraft:
    overrides = dict(overrides)
    fields = _draw_fields(draw, overrides)
    requested = overrides.pop("requested_version", None)
    fields["requested_version"] = (
        draw(requested) if isinstance(requested, st.SearchStrategy) else requested
    )
    return ModelDraft(**fields)


def model_drafts(**overrides: Any) -> SearchStrategy[ModelDraft]:
    """Valid :class:`ModelDraft` values (what a store's ``add`` receives).

    ``requested_version`` defaults to None (the scheme picks the version).
    """
    _check_fields("model_drafts", overrides, _DRAFT_FIELDS)
    return _model_drafts(overrides)


def _hypothesis_setup_hook() -> None:
    """Let ``st.from_type`` build modelshelf's value types (hypothesis entry point)."""
    st.register_type_strategy(ModelMetadata, model_metadata())
    st.register_type_strategy(ModelDraft, model_drafts())
    st.register_type_strategy(TrainingInfo, training_info())
    st.register_type_strategy(ArtifactRef, artifact_refs())
    st.register_type_strategy(Signature, signatures())


__all__ = [
    "aliases",
    "artifact_refs",
    "created_at",
    "hyperparameters",
    "input_examples",
    "invalid_model_names",
    "json_values",
    "metric_names",
    "metrics",
    "model_drafts",
    "model_metadata",
    "model_names",
    "schemas",
    "signatures",
    "stages",
    "tags",
    "training_info",
    "versions",
]
