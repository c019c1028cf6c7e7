"""The bundled versioning schemes against the versioning conformance suite."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from modelshelf.testing.contracts import VersioningSchemeContract
from modelshelf.testing.reference import ReferenceScheme
from modelshelf_plugins.semver import IntegerScheme, SemverScheme

if TYPE_CHECKING:
    from modelshelf.protocols import VersioningScheme


class TestSemverScheme(VersioningSchemeContract):
    ordered_versions = (
        "0.0.1",
        "0.9.0",
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.0.10",
        "1.2.0",
        "1.10.0",
        "2.0.0",
        "10.0.0",
    )
    invalid_versions = ("1", "1.0", "01.0.0", "1.0.0-", "v1.0.0", "1.0.0.0", "1.0.0-rc..1")
    bumps = (("1.0.0", "1.0.1"), ("2.0.0", "2.0.1"), ("1.0.9", "1.0.10"), ("1.1.0-rc.1", "1.1.0"))

    @pytest.fixture
    def scheme(self) -> VersioningScheme:
        return SemverScheme()

    def test_first_is_one_zero_zero(self, scheme: VersioningScheme) -> None:
        assert scheme.first() == "1.0.0"


class TestIntegerScheme(VersioningSchemeContract):
    ordered_versions = ("1", "2", "9", "10", "11", "99", "100", "123456789")
    invalid_versions = ("0", "-1", "01", "1.0", "abc", "1e3", "+1")
    bumps = (("1", "2"), ("9", "10"), ("99", "100"))

    @pytest.fixture
    def scheme(self) -> VersioningScheme:
        return IntegerScheme()


class TestReferenceScheme(VersioningSchemeContract):
    """The scheme the store suite uses must itself be a conforming scheme."""

    ordered_versions = ("1", "2", "10", "12")
    invalid_versions = ("0", "01", "x")
    bumps = (("9", "10"),)

    @pytest.fixture
    def scheme(self) -> VersioningScheme:
        return ReferenceScheme()
