"""The bundled serializers against the serializer conformance suite."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from modelshelf.testing.contracts import SerializerContract
from modelshelf_plugins.cloudpickle_serializer import CloudpickleSerializer
from modelshelf_plugins.joblib_serializer import JoblibSerializer

if TYPE_CHECKING:
    from modelshelf.protocols import Serializer


class TestJoblibSerializer(SerializerContract):
    @pytest.fixture
    def serializer(self) -> Serializer:
        return JoblibSerializer()


class TestJoblibCompressedSerializer(SerializerContract):
    @pytest.fixture
    def serializer(self) -> Serializer:
        return JoblibSerializer(compress=3)


class TestCloudpickleSerializer(SerializerContract):
    handles_lambdas = True

    @pytest.fixture
    def serializer(self) -> Serializer:
        return CloudpickleSerializer()

    def test_lambdas_round_trip(self, serializer: Serializer) -> None:
        import io

        stream = io.BytesIO()
        serializer.dump(lambda x: x * 3, stream)
        stream.seek(0)
        assert serializer.load(stream)(4) == 12


class TestSkopsSerializer(SerializerContract):
    """skops refuses to load types nobody trusted; the forest needs its Tree trusted."""

    @pytest.fixture
    def serializer(self) -> Serializer:
        pytest.importorskip("skops")
        from modelshelf_plugins.skops_serializer import SkopsSerializer

        return SkopsSerializer(trusted=["sklearn.tree._tree.Tree"])
