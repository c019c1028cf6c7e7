"""skops: scikit-learn models stored without pickle, loaded without running code.

Pickle-based serializers (joblib, cloudpickle) execute whatever the bytes
say when they load them, so a registry that reads a file someone else could
write is a code-execution channel. skops stores a model as a zip of JSON
and numpy arrays and rebuilds it from an allow-list of types: nothing is
imported or called unless its type is trusted. This serializer inspects a
file's types before loading it and refuses any type outside skops' defaults
and the ``trusted`` list given at configuration, naming the types. It
refuses the same types when saving, so every version it records can be
loaded by a registry configured the same way.

Install with ``pip install modelshelf[skops]`` and choose it with
``ModelRegistry(serializer="skops")``. Some scikit-learn types are not in
skops' default list (trees, for instance: ``sklearn.tree._tree.Tree``);
trust them explicitly, when saving and when loading, with
``serializer_options={"trusted": ["sklearn.tree._tree.Tree"]}``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import IO, Any

from modelshelf import hookimpl
from modelshelf.errors import IntegrityError, InvalidInputError, PluginError
from modelshelf.protocols import Provider, Serializer

#: A dotted Python path such as ``sklearn.tree._tree.Tree``.
_TYPE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+")


class UntrustedTypesError(IntegrityError):
    """A skops file holds types nobody trusted; it was not loaded."""

    def __init__(self, types: Iterable[str]) -> None:
        self.types = tuple(sorted(types))
        super().__init__(
            "skops",
            f"refusing to load untrusted types: {', '.join(self.types)}; if you trust "
            'them, pass serializer_options={"trusted": [...]} naming each one',
        )


def _check_trusted(trusted: object) -> frozenset[str]:
    if isinstance(trusted, str) or not isinstance(trusted, Iterable):
        raise InvalidInputError(f"skops trusted must be a list of type names, got {trusted!r}")
    names = frozenset(trusted)
    for name in names:
        if not isinstance(name, str) or not _TYPE_NAME.fullmatch(name):
            raise InvalidInputError(
                f"skops trusted: {name!r} is not a dotted type name such as "
                "'sklearn.tree._tree.Tree'"
            )
    return names


class SkopsSerializer:
    name = "skops"
    file_extension = ".skops"

    def __init__(self, trusted: Iterable[str] = ()) -> None:
        self.trusted = _check_trusted(trusted)

    def dump(self, obj: Any, stream: IO[bytes]) -> None:
        """Write ``obj``, unless this serializer would refuse to load it back.

        skops writes almost anything (a thread lock, a lambda) and only loading
        refuses what is not trusted; checking here keeps the registry from
        recording a version nobody can load. The error names the types, and
        the registry reports it as a SerializationError with nothing stored.
        """
        import skops.io

        # ``dumps`` builds the zip in memory; our stream is write-only and
        # hashes as it goes, so it gets the finished bytes in one write.
        data = skops.io.dumps(obj)
        refused = self.untrusted_types(data)
        if refused:
            raise TypeError(
                f"it holds types skops would refuse to load: {', '.join(sorted(refused))}; "
                'trust them with serializer_options={"trusted": [...]} if they are safe'
            )
        stream.write(data)

    def untrusted_types(self, data: bytes) -> list[str]:
        """Types in ``data`` beyond skops' defaults that were not trusted here."""
        import skops.io

        return [t for t in skops.io.get_untrusted_types(data=data) if t not in self.trusted]

    def load(self, stream: IO[bytes]) -> Any:
        import skops.io

        data = stream.read()
        refused = self.untrusted_types(data)
        if refused:
            raise UntrustedTypesError(refused)
        allowed = [t for t in skops.io.get_untrusted_types(data=data) if t in self.trusted]
        return skops.io.loads(data, trusted=allowed)


def _create(trusted: Iterable[str] = ()) -> Serializer:
    try:
        import skops.io  # noqa: F401
    except ImportError as exc:
        raise PluginError(
            "modelshelf.skops",
            "the skops serializer needs the skops package: pip install 'modelshelf[skops]'",
        ) from exc
    return SkopsSerializer(trusted=trusted)


@hookimpl
def modelshelf_serializers() -> list[Provider[Serializer]]:
    return [
        Provider(
            name="skops",
            factory=_create,
            description="skops: scikit-learn models without pickle, untrusted types refused; "
            "options: trusted=[type names]",
            capabilities={"safe-load", "sklearn"},
        )
    ]
