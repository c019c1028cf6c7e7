"""One string to name a version anywhere: ``xgb``, ``xgb:1.0.2``, ``xgb@champion``.

The forms follow MLflow's model URIs (``models:/name/version``,
``models:/name@alias``, ``models:/name/Production``) and BentoML's tags
(``name:version``, ``name:latest``), without the scheme prefix:

=====================  ==========================================
``xgb``                the latest (highest) version of ``xgb``
``xgb:latest``         the same, spelled out
``xgb:1.0.2``          that exact version
``xgb@champion``       the version the alias ``champion`` points at
``xgb/Production``     the version in that stage (Staging, Production...)
=====================  ==========================================

An optional ``models:/`` prefix is accepted, so MLflow URIs paste as they are.
"""

from __future__ import annotations

from attrs import frozen

from modelshelf.errors import InvalidMetadataError, InvalidReferenceError, UnknownStageError
from modelshelf.metadata import NAME_PATTERN, Stage, check_alias, check_name


@frozen(kw_only=True)
class Reference:
    """A parsed reference: a name plus at most one selector."""

    model_name: str
    version: str | None = None
    alias: str | None = None
    stage: Stage | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.model_name}:{self.version}"
        if self.alias is not None:
            return f"{self.model_name}@{self.alias}"
        if self.stage is not None:
            return f"{self.model_name}/{self.stage.value}"
        return self.model_name


def parse_reference(text: object) -> Reference:
    """Parse a reference string, or say what is wrong with it and what is accepted."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidReferenceError(text, "a reference is a non-empty string")
    body = text.strip().removeprefix("models:/")
    selectors = [sep for sep in (":", "@", "/") if sep in body]
    if len(selectors) > 1 or any(body.count(sep) > 1 for sep in selectors):
        raise InvalidReferenceError(text, "use at most one of ':', '@' or '/' after the name")
    try:
        if not selectors:
            return Reference(model_name=check_name("model_name", body))
        sep = selectors[0]
        name, _, selector = body.partition(sep)
        check_name("model_name", name)
        if not selector:
            raise InvalidReferenceError(text, f"nothing follows {sep!r}")
        if sep == ":":
            if selector == "latest":
                return Reference(model_name=name)
            if not NAME_PATTERN.fullmatch(selector):
                raise InvalidReferenceError(text, f"{selector!r} is not a version")
            return Reference(model_name=name, version=selector)
        if sep == "@":
            return Reference(model_name=name, alias=check_alias(selector))
        return Reference(model_name=name, stage=Stage.parse(selector))
    except (InvalidMetadataError, UnknownStageError) as exc:
        raise InvalidReferenceError(text, str(exc)) from exc
