"""The skops serializer: scikit-learn models in, no code execution out."""

from __future__ import annotations

import hashlib
import pickle
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from modelshelf import (
    IntegrityError,
    IntegrityWarning,
    InvalidInputError,
    ModelRegistry,
    SerializationError,
)

pytest.importorskip("skops", reason="the skops extra is not installed")

if TYPE_CHECKING:
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

TREE = "sklearn.tree._tree.Tree"


class SetsStateLoudly:
    """Rebuilding this (``__setstate__``) writes a marker: code from the file ran."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        Path(state["path"]).write_text("code ran")
        self.path = state["path"]


class PicklePayload:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.write_text, (self.path, "code ran"))


@pytest.mark.parametrize("store", ["sqlite", "json"])
def test_round_trip_of_sklearn_models(
    store: str,
    tmp_path: Path,
    logistic: LogisticRegression,
    iris: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = iris
    pipeline = make_pipeline(StandardScaler(), type(logistic)(max_iter=500)).fit(X, y)
    with ModelRegistry(tmp_path / "registry", store=store, serializer="skops") as registry:
        ids = [registry.save_model(m, "safe") for m in (logistic, pipeline)]
        for model_id, original in zip(ids, (logistic, pipeline), strict=True):
            metadata = registry.get_metadata(model_id)
            assert metadata.artifact.serializer == "skops"
            assert metadata.artifact.key.endswith(".skops")
            loaded = registry.load(model_id).model
            assert (loaded.predict(X) == original.predict(X)).all()
        assert registry.verify().findings == ()


def test_types_outside_the_defaults_are_refused_until_trusted(
    tmp_path: Path, forest: RandomForestClassifier, iris: tuple[np.ndarray, np.ndarray]
) -> None:
    """What a registry could not load back, it does not save either."""
    storage = tmp_path / "registry"
    with ModelRegistry(storage, serializer="skops") as registry:
        with pytest.raises(SerializationError, match=f"types skops would refuse to load: {TREE}"):
            registry.save_model(forest, "trees")
        assert registry.list_models() == []
        assert list(registry.storage.iter_keys()) == []
    options = {"trusted": [TREE]}
    with ModelRegistry(storage, serializer="skops", serializer_options=options) as trusting:
        model_id = trusting.save_model(forest, "trees")
        loaded = trusting.load(model_id).model
        assert (loaded.predict(iris[0]) == forest.predict(iris[0])).all()
    with ModelRegistry(storage, serializer="skops") as registry:
        with pytest.warns(IntegrityWarning, match="untrusted types"):
            assert registry.load_model(model_id) is None
        with pytest.raises(IntegrityError, match=f"untrusted types: {TREE}"):
            registry.load(model_id)


def test_an_untrusted_class_is_never_rebuilt(tmp_path: Path) -> None:
    """A file written by someone who trusted a type is refused by a reader who does not."""
    marker = tmp_path / "marker"
    storage = tmp_path / "registry"
    hostile = f"{SetsStateLoudly.__module__}.{SetsStateLoudly.__qualname__}"
    writer_options = {"trusted": [hostile]}
    with ModelRegistry(storage, serializer="skops", serializer_options=writer_options) as writer:
        model_id = writer.save_model(SetsStateLoudly(str(marker)), "hostile")
    assert not marker.exists()
    with ModelRegistry(storage, serializer="skops") as registry:
        with pytest.raises(IntegrityError, match="SetsStateLoudly") as caught:
            registry.load(model_id)
        assert "refusing to load untrusted types" in str(caught.value)
    assert not marker.exists()


def test_a_pickle_swapped_in_is_not_unpickled(tmp_path: Path, logistic: LogisticRegression) -> None:
    """Even with the record forged to match, skops never hands bytes to pickle."""
    marker = tmp_path / "marker"
    storage = tmp_path / "registry"
    with ModelRegistry(storage, serializer="skops") as registry:
        model_id = registry.save_model(logistic, "victim")
        ref = registry.get_metadata(model_id).artifact
    payload = pickle.dumps(PicklePayload(marker))
    (storage / "models" / ref.key).write_bytes(payload)
    with sqlite3.connect(storage / "registry.db") as conn:
        conn.execute(
            "UPDATE models SET data = json_set(data, '$.artifact.sha256', ?, "
            "'$.artifact.size', ?) WHERE id = ?",
            (hashlib.sha256(payload).hexdigest(), len(payload), model_id),
        )
    conn.close()
    with (
        ModelRegistry(storage, serializer="skops") as registry,
        pytest.raises(IntegrityError, match="failed to deserialize with skops"),
    ):
        registry.load(model_id)
    assert not marker.exists()


def test_what_skops_cannot_store_is_a_serialization_error(tmp_path: Path) -> None:
    with ModelRegistry(tmp_path / "registry", serializer="skops") as registry:
        with pytest.raises(SerializationError, match="serializer 'skops' could not serialize"):
            registry.save_model((i for i in range(3)), "generator")
        assert registry.list_models() == []
        assert list(registry.storage.iter_keys()) == []
        assert list(registry.storage.iter_temporary()) == []


@pytest.mark.parametrize(
    "trusted", ["sklearn.tree._tree.Tree", ["os.system; rm"], [1], ["nodots"]], ids=repr
)
def test_bad_trusted_option(trusted: Any, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="skops trusted"):
        ModelRegistry(
            tmp_path / "registry", serializer="skops", serializer_options={"trusted": trusted}
        )
