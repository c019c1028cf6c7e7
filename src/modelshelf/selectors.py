"""What a caller wrote to name a version, in one canonical form.

Every public method of :class:`~modelshelf.registry.ModelRegistry` passes
the ids, versions and references it is given through these functions before
a store or a hook sees them, so the same call gives the same answer on every
store: a store is handed an ``int`` id and a ``str`` version, nothing else.

The rules (see docs/decisions.md):

- A model id is an ``int``. ``True``/``False`` and strings are refused, even
  ``"1"``: a string names a version by reference (``"rf"``, ``"rf:2"``, and a
  model may be called ``"1"``), so reading digits as an id would make
  ``"1"`` mean two things.
- A version is a ``str``. An ``int`` is the same as its decimal string, and
  the versioning scheme decides whether that is a version: ``version=2`` is
  ``"2"`` under the integer scheme; under semver it is refused.
- A reference plus ``model_id=`` / ``model_name=`` / ``version=`` must agree;
  selectors that contradict each other are refused, never silently dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeGuard, TypeVar

from attrs import frozen

from modelshelf.errors import InvalidInputError, InvalidVersionError
from modelshelf.metadata import Stage, check_model_id, check_name
from modelshelf.references import Reference, parse_reference

if TYPE_CHECKING:
    from modelshelf.metadata import ModelMetadata
    from modelshelf.protocols import VersioningScheme

T = TypeVar("T")


def parse_model_id(value: object, field: str = "model_id") -> int:
    """An id as an ``int``, or an :class:`InvalidInputError` that says how to give it."""
    if isinstance(value, str):
        hint = f"; pass int({value!r})" if value.strip().isdigit() else ""
        raise InvalidInputError(
            f"{field} must be an int, got the string {value!r}{hint} "
            "(a string names a version by reference, e.g. 'rf' or 'rf:2')"
        )
    return check_model_id(value, field)  # bools, floats, and ids no store can hold


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_refused(value: object, scheme: VersioningScheme) -> InvalidVersionError:
    return InvalidVersionError(
        value,
        scheme.name,
        "an int names a version only where versions are whole numbers "
        "(versioning='integer'); give the version as a string",
    )


def _int_version(value: int, scheme: VersioningScheme) -> str:
    """An int version as its decimal string, if the scheme takes that string."""
    try:
        return scheme.validate(str(value))
    except InvalidInputError:
        raise _int_refused(value, scheme) from None


def parse_version(value: object, scheme: VersioningScheme, field: str = "version") -> str:
    """A version to look up, as the string the stores hold.

    An int is its decimal string when the scheme accepts that string, else
    an :class:`InvalidVersionError`. A string is looked up as given, so a
    version recorded under another scheme (or imported) is still found.
    """
    if _is_int(value):
        return _int_version(value, scheme)
    if not isinstance(value, str) or not value:
        raise InvalidInputError(
            f"{field} must be a non-empty string (or an int under the integer scheme), "
            f"got {value!r}"
        )
    return value


def parse_requested_version(value: object, scheme: VersioningScheme) -> str:
    """A version to record (``save_model(version=...)``): canonical and valid for the scheme.

    Anything but an int goes to the scheme as given: it alone says what a
    valid version is.
    """
    if _is_int(value):
        return _int_version(value, scheme)
    return scheme.validate(value)  # type: ignore[arg-type]


def parse_step(value: object) -> int:
    """A checkpoint step: an ``int`` >= 0."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError(f"step must be an integer >= 0, got {value!r}")
    return value


def parse_reference_arg(value: object) -> int | Reference:
    """The positional ``reference`` of a lookup: an int id or a reference string."""
    if isinstance(value, Reference):
        return value
    if isinstance(value, str):
        return parse_reference(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(
            f"model reference must be an int id or a string such as 'rf:2', got {value!r}"
        )
    return check_model_id(value)


@frozen(kw_only=True)
class Selector:
    """Everything one lookup was told, merged; fields left None were not given."""

    model_id: int | None = None
    model_name: str | None = None
    version: str | None = None
    alias: str | None = None
    stage: Stage | None = None
    #: How the caller named it, for messages (``"'rf:2' with model_id=3"``).
    given: str = ""

    def reference(self) -> Reference | None:
        """The most specific reference to resolve when there is no id."""
        if self.model_name is None:
            return None
        if self.version is not None:
            return Reference(model_name=self.model_name, version=self.version)
        if self.alias is not None:
            return Reference(model_name=self.model_name, alias=self.alias)
        if self.stage is not None:
            return Reference(model_name=self.model_name, stage=self.stage)
        return Reference(model_name=self.model_name)

    def check(self, found: ModelMetadata) -> ModelMetadata:
        """``found`` if it fits every selector; a lookup uses one, this checks the rest."""
        wrong = [
            what
            for what, fits in (
                (f"model_id={self.model_id}", self.model_id in (None, found.model_id)),
                (f"model {self.model_name!r}", self.model_name in (None, found.model_name)),
                (f"version {self.version!r}", self.version in (None, found.version)),
                (f"alias {self.alias!r}", self.alias is None or self.alias in found.aliases),
                (
                    f"stage {self.stage.value if self.stage else ''}",
                    self.stage in (None, found.stage),
                ),
            )
            if not fits
        ]
        if wrong:
            raise InvalidInputError(
                f"the selectors contradict each other: {self.given} names "
                f"{found.reference} (id {found.model_id}), which does not have "
                f"{' or '.join(wrong)}"
            )
        return found


def _merge(field: str, first: T | None, second: T | None) -> T | None:
    if first is not None and second is not None and first != second:
        raise InvalidInputError(
            f"the selectors contradict each other: {field} is {first!r} in one and "
            f"{second!r} in the other; give one"
        )
    return first if first is not None else second


def parse_selector(
    reference: object,
    *,
    model_id: object,
    model_name: object,
    version: object,
    scheme: VersioningScheme,
) -> Selector:
    """Merge a lookup's positional reference and keyword selectors into one.

    Each input is made canonical first; two that disagree on the same field
    (``"a:1.0.0"`` with ``model_name="b"``) are refused here, before any
    lookup. Ones that constrain different fields are checked against the
    version found (:meth:`Selector.check`).
    """
    parts: list[str] = []
    ref_id: int | None = None
    ref: Reference | None = None
    if reference is not None:
        parsed = parse_reference_arg(reference)
        parts.append(repr(reference))
        if isinstance(parsed, Reference):
            ref = parsed
        else:
            ref_id = parsed
    kw_id = None if model_id is None else parse_model_id(model_id)
    kw_name = None if model_name is None else check_name("model_name", model_name)
    kw_version = None if version is None else parse_version(version, scheme)
    ref_version = None
    if ref is not None and ref.version is not None:
        ref_version = parse_version(ref.version, scheme)
    for label, value in (("model_id", kw_id), ("model_name", kw_name), ("version", kw_version)):
        if value is not None:
            parts.append(f"{label}={value!r}")
    return Selector(
        model_id=_merge("model_id", ref_id, kw_id),
        model_name=_merge("model_name", None if ref is None else ref.model_name, kw_name),
        version=_merge("version", ref_version, kw_version),
        alias=None if ref is None else ref.alias,
        stage=None if ref is None else ref.stage,
        given=" with ".join(parts),
    )
