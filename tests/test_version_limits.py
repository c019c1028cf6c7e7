"""Version order and version limits, checked against SemVer 2.0.0 on every store.

The semver scheme's sort key must give section 11's precedence exactly (the
stores order and pick "latest" by that key), and an explicit version at the
limit of a component must never leave a name without a next automatic one.
"""

from __future__ import annotations

import functools
import random
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelshelf import InvalidVersionError, ModelRegistry
from modelshelf_plugins.semver import MAX_COMPONENT, MAX_INTEGER, IntegerScheme, SemverScheme

if TYPE_CHECKING:
    from pathlib import Path

    from sklearn.linear_model import LogisticRegression


def semver_compare(a: str, b: str) -> int:
    """SemVer 2.0.0 section 11, written from the specification's text."""

    def split(version: str) -> tuple[list[int], list[str] | None]:
        core, _, pre = version.partition("-")  # the first hyphen starts the pre-release
        return [int(n) for n in core.split(".")], (pre.split(".") if pre else None)

    (core_a, pre_a), (core_b, pre_b) = split(a), split(b)
    if core_a != core_b:
        return -1 if core_a < core_b else 1
    if pre_a is None or pre_b is None:  # a release ranks above its pre-releases
        return (pre_a is None) - (pre_b is None)
    for x, y in zip(pre_a, pre_b, strict=False):  # the shorter list ends first
        if x == y:
            continue
        if x.isdigit() and y.isdigit():
            return -1 if int(x) < int(y) else 1
        if x.isdigit() != y.isdigit():  # numeric identifiers rank below alphanumeric
            return -1 if x.isdigit() else 1
        return -1 if x < y else 1  # ASCII order
    return (len(pre_a) > len(pre_b)) - (len(pre_a) < len(pre_b))


#: Section 11's own example, then the cases where a hyphen inside an
#: identifier meets the dot between identifiers.
SPEC_ORDER = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
]
HYPHEN_ORDER = [
    "1.0.0-0",
    "1.0.0-9",
    "1.0.0-10",
    "1.0.0--",
    "1.0.0--a",
    "1.0.0-0a",
    "1.0.0-a",
    "1.0.0-a.0",
    "1.0.0-a.b",
    "1.0.0-a.b.c",
    "1.0.0-a-",
    "1.0.0-a-.b",
    "1.0.0-a-b",
    "1.0.0-a-b.c",
    "1.0.0-a0",
    "1.0.0-aa",
    "1.0.0",
    "1.0.1-a",
]

SCHEME = SemverScheme()


@pytest.mark.parametrize("expected", [SPEC_ORDER, HYPHEN_ORDER], ids=["spec", "hyphens"])
def test_sort_key_is_semver_precedence(expected: list[str]) -> None:
    by_spec = sorted(reversed(expected), key=functools.cmp_to_key(semver_compare))
    assert by_spec == expected  # the reference comparator agrees with the lists
    assert sorted(reversed(expected), key=SCHEME.sort_key) == expected


_IDENTIFIER = st.one_of(
    st.integers(min_value=0, max_value=MAX_COMPONENT).map(str),
    st.from_regex(r"[0-9A-Za-z-]*[A-Za-z-][0-9A-Za-z-]*", fullmatch=True).filter(
        lambda s: 0 < len(s) <= 8
    ),
)
_VERSIONS = st.builds(
    lambda core, pre: core + ("-" + ".".join(pre) if pre else ""),
    st.sampled_from(["1.0.0", "1.0.1", "2.0.0"]),
    st.lists(_IDENTIFIER, max_size=4),
)


@given(_VERSIONS, _VERSIONS)
@settings(max_examples=400, deadline=None)
def test_sort_key_order_matches_the_specification(a: str, b: str) -> None:
    expected = semver_compare(a, b)
    ka, kb = SCHEME.sort_key(a), SCHEME.sort_key(b)
    assert ((ka > kb) - (ka < kb)) == expected, (a, b, ka, kb)


def test_bumps_carry_past_the_component_limit() -> None:
    top = str(MAX_COMPONENT)
    assert SCHEME.next_after(f"1.0.{top}") == "1.1.0"
    assert SCHEME.next_after(f"1.{top}.{top}") == "2.0.0"
    assert SCHEME.next_after(f"1.{top}.7") == f"1.{top}.8"
    for highest in (f"1.0.{top}", f"1.{top}.{top}", f"{top}.0.{top}"):
        following = SCHEME.next_after(highest)
        assert SCHEME.validate(following) == following
        assert SCHEME.sort_key(following) > SCHEME.sort_key(highest)
    with pytest.raises(InvalidVersionError, match="no version follows it"):
        SCHEME.next_after(f"{top}.{top}.{top}")
    with pytest.raises(InvalidVersionError):  # eleven digits: past the sort key's width
        SCHEME.validate(f"1.0.{MAX_COMPONENT + 1}")
    integer = IntegerScheme()
    assert integer.next_after(str(MAX_INTEGER - 1)) == str(MAX_INTEGER)
    with pytest.raises(InvalidVersionError, match="no version follows it"):
        integer.next_after(str(MAX_INTEGER))


@pytest.fixture(params=["sqlite", "json", "postgresql"])
def store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "postgresql":
        url = request.getfixturevalue("modelshelf_postgresql_url")
        monkeypatch.setenv("MODELSHELF_DATABASE_URL", url)
    return str(request.param)


def test_stores_order_versions_by_semver_precedence(
    store: str, tmp_path: Path, logistic: LogisticRegression
) -> None:
    shuffled = [*SPEC_ORDER, *HYPHEN_ORDER]
    random.Random(11).shuffle(shuffled)
    expected = sorted(set(shuffled), key=functools.cmp_to_key(semver_compare))
    with ModelRegistry(tmp_path / "registry", store=store) as registry:
        for version in dict.fromkeys(shuffled):
            registry.save_model(logistic, "m", version=version)
        ordered = registry.list_models(model_name="m", order_by="version")
        assert [m.version for m in ordered] == expected
        assert registry.get_metadata(model_name="m").version == "1.0.1-a"  # the latest
        # The highest is a pre-release of 1.0.1, so the next automatic one is its release.
        assert registry.get_metadata(registry.save_model(logistic, "m")).version == "1.0.1"


def test_an_explicit_version_at_the_limit_never_blocks_automatic_saves(
    store: str, tmp_path: Path, logistic: LogisticRegression
) -> None:
    top = str(MAX_COMPONENT)
    with ModelRegistry(tmp_path / "registry", store=store) as registry:
        registry.save_model(logistic, "m", version=f"1.0.{top}")
        assert [registry.get_metadata(registry.save_model(logistic, "m")).version] == ["1.1.0"]
        registry.save_model(logistic, "m", version=f"1.{top}.{top}")
        assert registry.get_metadata(registry.save_model(logistic, "m")).version == "2.0.0"
        assert registry.get_metadata(registry.save_model(logistic, "m")).version == "2.0.1"
        # The one version with no successor: the error is typed and nothing is written.
        registry.save_model(logistic, "last", version=f"{top}.{top}.{top}")
        before = registry.count_models()
        with pytest.raises(InvalidVersionError, match="no version follows it"):
            registry.save_model(logistic, "last")
        assert registry.count_models() == before
        assert list(registry.storage.iter_temporary()) == []


def test_integer_versions_at_the_limit_fail_typed(
    store: str, tmp_path: Path, logistic: LogisticRegression
) -> None:
    path = tmp_path / "registry"
    with ModelRegistry(path, store=store, versioning="integer") as registry:
        registry.save_model(logistic, "m", version=str(MAX_INTEGER - 1))
        assert registry.get_metadata(registry.save_model(logistic, "m")).version == str(MAX_INTEGER)
        with pytest.raises(InvalidVersionError, match="no version follows it"):
            registry.save_model(logistic, "m")
        assert registry.count_models(model_name="m") == 2
