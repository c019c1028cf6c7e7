"""Semantic versions per model name: 1.0.0, then patch bumps.

An explicit ``2.0.0`` is taken as given and the next automatic one is
``2.0.1``. Pre-releases (``1.1.0-rc.1``) sort before their release, in
SemVer 2.0.0's precedence (section 11).

Each numeric component is at most :data:`MAX_COMPONENT` (ten digits, the
width of the sort key). An automatic bump past it carries into the next
component (``1.0.9999999999`` is followed by ``1.1.0``), so no explicit
version can leave a name without a next one short of the very last.
"""

from __future__ import annotations

import re

from modelshelf import hookimpl
from modelshelf.errors import InvalidVersionError
from modelshelf.protocols import Provider, VersioningScheme

_SEMVER = re.compile(
    r"(0|[1-9]\d{0,9})\.(0|[1-9]\d{0,9})\.(0|[1-9]\d{0,9})"
    r"(?:-((?:0|[1-9]\d{0,9}|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d{0,9}|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
)
_RULE = "MAJOR.MINOR.PATCH with optional -prerelease, e.g. 1.0.2 or 2.0.0-rc.1"
#: The largest major, minor, patch or numeric pre-release identifier.
MAX_COMPONENT = 9_999_999_999


class SemverScheme:
    name = "semver"

    def _parse(self, version: str) -> re.Match[str]:
        match = _SEMVER.fullmatch(version) if isinstance(version, str) else None
        if match is None:
            raise InvalidVersionError(version, self.name, _RULE)
        return match

    def validate(self, version: str) -> str:
        self._parse(version)
        return version

    def sort_key(self, version: str) -> str:
        """A key whose string order is SemVer 2.0.0 precedence (section 11).

        Pre-release identifiers compare one by one: numeric ones by value
        (fixed width) and below alphanumeric ones (prefix ``0`` vs ``1``),
        alphanumeric ones in ASCII order, and a shorter list of equal
        identifiers first. Inside an identifier ``-`` becomes ``/``: both sort
        below digits and letters, but ``/`` sorts above the ``.`` that
        separates identifiers, so ``a`` < ``a.b`` < ``a-b`` as section 11
        says. Keys of versions without such hyphens are unchanged.
        """
        major, minor, patch, pre = self._parse(version).groups()
        key = f"{int(major):010d}.{int(minor):010d}.{int(patch):010d}"
        if pre is None:
            return key + "~"  # a release sorts after each of its pre-releases
        parts = [
            f"0{int(part):010d}" if part.isdigit() else "1" + part.replace("-", "/")
            for part in pre.split(".")
        ]
        return key + "-" + ".".join(parts)

    def first(self) -> str:
        return "1.0.0"

    def next_after(self, highest: str) -> str:
        major, minor, patch, pre = self._parse(highest).groups()
        if pre is not None:
            return f"{major}.{minor}.{patch}"
        if int(patch) < MAX_COMPONENT:
            return f"{major}.{minor}.{int(patch) + 1}"
        if int(minor) < MAX_COMPONENT:
            return f"{major}.{int(minor) + 1}.0"
        if int(major) < MAX_COMPONENT:
            return f"{int(major) + 1}.0.0"
        raise InvalidVersionError(highest, self.name, "it is the highest; no version follows it")


#: The largest integer version: eighteen digits, the width of its sort key.
MAX_INTEGER = 10**18 - 1


class IntegerScheme:
    name = "integer"

    def validate(self, version: str) -> str:
        if not isinstance(version, str) or not re.fullmatch(r"[1-9]\d{0,17}", version):
            raise InvalidVersionError(version, self.name, "a positive integer such as 1, 2, 3")
        return version

    def sort_key(self, version: str) -> str:
        return f"{int(self.validate(version)):018d}"

    def first(self) -> str:
        return "1"

    def next_after(self, highest: str) -> str:
        number = int(self.validate(highest))
        if number >= MAX_INTEGER:
            raise InvalidVersionError(
                highest, self.name, "it is the highest; no version follows it"
            )
        return str(number + 1)


@hookimpl
def modelshelf_versioning_schemes() -> list[Provider[VersioningScheme]]:
    return [Provider(name="semver", factory=SemverScheme, description="1.0.0, 1.0.1, ... per name")]
