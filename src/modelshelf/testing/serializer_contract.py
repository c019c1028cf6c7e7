"""The serializer conformance suite, apart from the store suites so each reads alone."""

from __future__ import annotations

import functools
import io
import threading
from typing import TYPE_CHECKING, Any, ClassVar

import pytest

from modelshelf.protocols import Serializer as SerializerProtocol
from modelshelf.testing._contract_support import _not_overridden

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from modelshelf.protocols import (
        Serializer,
    )


def _must_raise(action: Callable[[], object], what: str) -> Exception:
    """Run ``action`` and return the exception it raised; fail if it raised none."""
    try:
        action()
    except Exception as exc:
        return exc
    pytest.fail(f"{what} succeeded; it must raise an exception")


def _loads(serializer: Serializer, data: bytes) -> Any:
    return serializer.load(io.BytesIO(data))


def _dumps(serializer: Serializer, obj: Any) -> bytes:
    stream = io.BytesIO()
    serializer.dump(obj, stream)
    return stream.getvalue()


class SerializerContract:
    """The behaviour every :class:`~modelshelf.protocols.Serializer` must show.

    Override ``serializer``. A serializer for one framework overrides
    ``example_models`` (label -> object to round-trip) and, if needed,
    ``assert_equivalent``; ``unserializable`` lists objects ``dump`` must
    refuse with an exception (by default a thread lock, and a lambda unless
    ``handles_lambdas``).
    """

    #: ``dump`` accepts lambdas and local functions (cloudpickle does).
    handles_lambdas: ClassVar[bool] = False

    @pytest.fixture
    def serializer(self) -> Serializer:
        """The serializer under test; override in your subclass."""
        raise _not_overridden("serializer", "SerializerContract")

    @pytest.fixture
    def example_models(self) -> dict[str, Any]:
        from modelshelf.testing.models import example_models

        return example_models()

    @pytest.fixture
    def unserializable(self) -> dict[str, Any]:
        objects: dict[str, Any] = {"thread-lock": threading.Lock()}
        if not self.handles_lambdas:
            objects["lambda"] = lambda x: x + 1
        return objects

    def assert_equivalent(self, original: Any, loaded: Any) -> None:
        from modelshelf.testing.models import assert_equivalent

        assert_equivalent(original, loaded)

    def test_is_a_serializer(self, serializer: Serializer) -> None:
        assert isinstance(serializer, SerializerProtocol)
        assert isinstance(serializer.name, str)
        assert serializer.name
        assert serializer.file_extension.startswith(".")
        assert "/" not in serializer.file_extension

    def test_round_trip_through_memory(
        self, serializer: Serializer, example_models: dict[str, Any]
    ) -> None:
        assert example_models, "example_models must not be empty"
        for label, obj in example_models.items():
            data = _dumps(serializer, obj)
            assert data, label
            self.assert_equivalent(obj, serializer.load(io.BytesIO(data)))

    def test_round_trip_through_a_file(
        self, serializer: Serializer, example_models: dict[str, Any], tmp_path: Path
    ) -> None:
        for label, obj in example_models.items():
            path = tmp_path / f"{label}{serializer.file_extension}"
            with open(path, "wb") as stream:
                serializer.dump(obj, stream)
            with open(path, "rb") as stream:
                self.assert_equivalent(obj, serializer.load(stream))

    def test_dump_is_deterministic_enough_to_load_twice(
        self, serializer: Serializer, example_models: dict[str, Any]
    ) -> None:
        for obj in example_models.values():
            data = _dumps(serializer, obj)
            first = serializer.load(io.BytesIO(data))
            second = serializer.load(io.BytesIO(data))
            self.assert_equivalent(first, second)

    def test_unserializable_objects_raise(
        self, serializer: Serializer, unserializable: dict[str, Any]
    ) -> None:
        for label, obj in unserializable.items():
            error = _must_raise(functools.partial(_dumps, serializer, obj), f"dumping {label}")
            assert not isinstance(error, AssertionError), label

    def test_truncated_bytes_raise(
        self, serializer: Serializer, example_models: dict[str, Any]
    ) -> None:
        for label, obj in example_models.items():
            data = _dumps(serializer, obj)
            for cut in sorted({0, 1, len(data) // 2}):
                _must_raise(
                    functools.partial(_loads, serializer, data[:cut]),
                    f"{label}: loading {cut} of {len(data)} bytes",
                )

    def test_corrupted_bytes_raise(
        self, serializer: Serializer, example_models: dict[str, Any]
    ) -> None:
        garbage = bytes((i * 131 + 7) % 256 for i in range(4096))
        _must_raise(functools.partial(_loads, serializer, garbage), "loading 4 KiB of garbage")
        for label, obj in example_models.items():
            data = bytearray(_dumps(serializer, obj))
            data[: min(16, len(data))] = b"\xff" * min(16, len(data))
            _must_raise(
                functools.partial(_loads, serializer, bytes(data)),
                f"{label}: loading bytes with a corrupted header",
            )


__all__ = ["SerializerContract"]
