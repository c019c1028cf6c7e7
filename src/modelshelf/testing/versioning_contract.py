"""The versioning-scheme conformance suite, apart from the store suites so each reads alone."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import pytest
from hypothesis import given

from modelshelf.errors import (
    InvalidVersionError,
)
from modelshelf.metadata import (
    metadata_from_draft,
)
from modelshelf.protocols import VersioningScheme as VersioningSchemeProtocol
from modelshelf.testing._contract_support import SUITE_SETTINGS, _not_overridden
from modelshelf.testing.reference import (
    make_draft,
)
from modelshelf.testing.strategies import versions

if TYPE_CHECKING:
    from collections.abc import Sequence

    from modelshelf.protocols import (
        VersioningScheme,
    )


#: Strings no scheme may accept: they could not be part of a path or reference.
UNSAFE_VERSIONS: tuple[object, ...] = (
    "",
    " ",
    "../1",
    "1/2",
    "1\\2",
    "1\x00",
    "\n1",
    None,
    1,
    1.0,
)


class VersioningSchemeContract:
    """The behaviour every :class:`~modelshelf.protocols.VersioningScheme` must show.

    Override ``scheme``. Declare what you know about your grammar as class
    attributes: ``ordered_versions`` (ascending), ``invalid_versions`` and
    ``bumps`` (``(highest, next)`` pairs); each test without data skips.
    """

    ordered_versions: ClassVar[Sequence[str]] = ()
    invalid_versions: ClassVar[Sequence[object]] = ()
    bumps: ClassVar[Sequence[tuple[str, str]]] = ()
    #: How far the property tests walk from ``first()``.
    walk_steps: ClassVar[int] = 30

    @pytest.fixture
    def scheme(self) -> VersioningScheme:
        """The scheme under test; override in your subclass."""
        raise _not_overridden("scheme", "VersioningSchemeContract")

    def test_is_a_versioning_scheme(self, scheme: VersioningScheme) -> None:
        assert isinstance(scheme, VersioningSchemeProtocol)
        assert isinstance(scheme.name, str)
        assert scheme.name

    def test_first_is_valid_and_canonical(self, scheme: VersioningScheme) -> None:
        first = scheme.first()
        assert scheme.validate(first) == first
        assert isinstance(scheme.sort_key(first), str)

    def test_next_after_walks_upwards(self, scheme: VersioningScheme) -> None:
        walk = [scheme.first()]
        for _ in range(self.walk_steps):
            walk.append(scheme.next_after(walk[-1]))
        keys = [scheme.sort_key(v) for v in walk]
        assert keys == sorted(keys)
        assert len(set(keys)) == len(keys), "next_after must always move forward"
        for version in walk:
            assert scheme.validate(version) == version
            # Every version the scheme hands out fits in a ModelMetadata.
            recorded = metadata_from_draft(make_draft("alpha"), model_id=1, version=version)
            assert recorded.version == version

    def test_validate_is_idempotent(self, scheme: VersioningScheme) -> None:
        for version in [scheme.first(), *self.ordered_versions]:
            canonical = scheme.validate(version)
            assert scheme.validate(canonical) == canonical
            assert scheme.sort_key(canonical) == scheme.sort_key(version)

    def test_sort_key_orders_declared_versions(self, scheme: VersioningScheme) -> None:
        if not self.ordered_versions:
            pytest.skip("declare ordered_versions to check the scheme's order")
        keys = [scheme.sort_key(v) for v in self.ordered_versions]
        assert keys == sorted(keys), "ordered_versions are not ascending by sort_key"
        assert len(set(keys)) == len(keys)
        shuffled = list(reversed(self.ordered_versions))
        assert sorted(shuffled, key=scheme.sort_key) == list(self.ordered_versions)

    def test_next_after_declared_bumps(self, scheme: VersioningScheme) -> None:
        if not self.bumps:
            pytest.skip("declare bumps to check next_after")
        for highest, expected in self.bumps:
            assert scheme.next_after(highest) == expected, highest
            assert scheme.sort_key(expected) > scheme.sort_key(highest)

    def test_invalid_versions_raise(self, scheme: VersioningScheme) -> None:
        for version in (*UNSAFE_VERSIONS, *self.invalid_versions):
            for method in (scheme.validate, scheme.sort_key, scheme.next_after):
                with pytest.raises(InvalidVersionError) as info:
                    method(version)  # type: ignore[arg-type]
                assert isinstance(info.value, ValueError)
                assert "version" in str(info.value)

    def test_sort_key_orders_walked_versions(self, scheme: VersioningScheme) -> None:
        """Property: keys are equal only for equal versions, and next_after goes past both."""

        @given(
            versions(scheme=scheme, max_steps=self.walk_steps),
            versions(scheme=scheme, max_steps=self.walk_steps),
        )
        @SUITE_SETTINGS
        def check(a: str, b: str) -> None:
            ka, kb = scheme.sort_key(a), scheme.sort_key(b)
            assert (ka == kb) == (a == b)
            assert scheme.sort_key(scheme.next_after(max(a, b, key=scheme.sort_key))) > max(ka, kb)

        check()


__all__ = ["UNSAFE_VERSIONS", "VersioningSchemeContract"]
