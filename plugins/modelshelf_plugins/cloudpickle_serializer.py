"""cloudpickle: for models that close over lambdas or locally defined classes."""

from __future__ import annotations

from typing import IO, Any

from modelshelf import hookimpl
from modelshelf.protocols import Provider, Serializer


class CloudpickleSerializer:
    name = "cloudpickle"
    file_extension = ".pkl"

    def dump(self, obj: Any, stream: IO[bytes]) -> None:
        import pickle

        import cloudpickle

        cloudpickle.dump(obj, stream, protocol=pickle.HIGHEST_PROTOCOL)

    def load(self, stream: IO[bytes]) -> Any:
        import pickle

        return pickle.load(stream)


def _create() -> Serializer:
    return CloudpickleSerializer()


@hookimpl
def modelshelf_serializers() -> list[Provider[Serializer]]:
    return [
        Provider(
            name="cloudpickle",
            factory=_create,
            description="cloudpickle: lambdas, local classes, closures",
            capabilities={"pickle", "closures"},
        )
    ]
