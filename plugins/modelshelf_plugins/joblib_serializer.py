"""joblib: the default serializer, fast for models holding large numpy arrays."""

from __future__ import annotations

from typing import IO, Any

from modelshelf import hookimpl
from modelshelf.errors import InvalidInputError
from modelshelf.protocols import Provider, Serializer


class JoblibSerializer:
    name = "joblib"
    file_extension = ".joblib"

    def __init__(self, compress: int = 0) -> None:
        if isinstance(compress, bool) or not isinstance(compress, int) or not 0 <= compress <= 9:
            raise InvalidInputError(f"joblib compress must be an integer 0-9, got {compress!r}")
        self.compress = compress

    def dump(self, obj: Any, stream: IO[bytes]) -> None:
        import joblib

        joblib.dump(obj, stream, compress=self.compress)

    def load(self, stream: IO[bytes]) -> Any:
        import joblib

        return joblib.load(stream)

    def load_mapped(self, path: str, mmap_mode: str) -> Any:
        """Load from a file the registry verified and owns, arrays memory-mapped.

        Only ever given a private, already checked copy (see
        ``ModelRegistry.load_model(mmap_mode=...)``), never the stored file.
        """
        import joblib

        return joblib.load(path, mmap_mode=mmap_mode)


def _create(compress: int = 0) -> Serializer:
    return JoblibSerializer(compress=compress)


@hookimpl
def modelshelf_serializers() -> list[Provider[Serializer]]:
    return [
        Provider(
            name="joblib",
            factory=_create,
            description="joblib pickles; options: compress=0-9",
            capabilities={"pickle", "numpy"},
        )
    ]
