"""Griffe extension: render the Sphinx markup our docstrings use besides fields.

Docstrings use Sphinx fields (``:param x:``), end with ``.. versionadded:: 0.1``
as pytest's hookspecs do, and name objects with roles such as
``:class:`~modelshelf.VetoError```. Griffe's Sphinx parser knows the fields
only: it would glue the directive to the last field's text and print the roles
as they are. This extension turns the directive into "*Added in version 0.1.*"
before the fields, and a role into inline code (the short name with ``~``).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

DIRECTIVE = re.compile(r"^[ \t]*\.\. versionadded::[ \t]*(?P<version>\S+)[ \t]*\n?", re.MULTILINE)
FIELD = re.compile(r"^:\w+", re.MULTILINE)
ROLE = re.compile(
    r":(?:class|func|meth|exc|attr|mod|data|obj|ref):`(?P<tilde>~?)(?P<target>[^`]+)`"
)


def _role(match: re.Match[str]) -> str:
    target = match.group("target")
    return f"`{target.rsplit('.', 1)[-1] if match.group('tilde') else target}`"


def render(text: str) -> str:
    """The docstring with its directive moved and its roles made inline code."""
    text = ROLE.sub(_role, text)
    match = DIRECTIVE.search(text)
    if match is None:
        return text
    text = (text[: match.start()] + text[match.end() :]).rstrip()
    note = f"*Added in version {match.group('version')}.*"
    field = FIELD.search(text)
    if field is None:
        return f"{text}\n\n{note}"
    return f"{text[: field.start()]}{note}\n\n{text[field.start() :]}"


class SphinxMarkup(griffe.Extension):
    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = render(obj.docstring.value)
