"""``load_model(mmap_mode=...)``: arrays mapped from a verified private copy of the file."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest

from modelshelf import IntegrityError, IntegrityWarning, InvalidInputError, ModelRegistry


def _saved(tmp_path: Path, serializer: str = "joblib") -> tuple[ModelRegistry, int, Path]:
    registry = ModelRegistry(tmp_path / "registry", serializer=serializer)
    model = {"weights": np.arange(300_000, dtype=np.float64), "bias": 0.5}
    model_id = registry.save_model(model, "big")
    path = registry.storage.local_path(registry.get_metadata(model_id).artifact.key)
    assert path is not None
    return registry, model_id, path


def test_arrays_are_mapped_from_a_private_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    registry, model_id, stored = _saved(tmp_path)
    loaded = registry.load_model(model_id, mmap_mode="r")
    weights = loaded["weights"]
    assert isinstance(weights, np.memmap)
    assert np.array_equal(weights, np.arange(300_000, dtype=np.float64))
    assert loaded["bias"] == 0.5
    assert weights.filename is not None
    mapped = Path(weights.filename)
    assert mapped.parent.parent == scratch  # the copy, not the stored file
    assert mapped != stored
    assert not mapped.parent.exists()  # removed; the mapping outlives the name
    with pytest.raises(ValueError, match="read-only"):
        weights[0] = 1.0
    copied = registry.load_model(model_id, mmap_mode="c")
    copied["weights"][0] = 7.0  # copy-on-write: private pages only
    assert registry.load_model(model_id)["weights"][0] == 0.0


def test_a_changed_file_is_refused_before_it_is_mapped(tmp_path: Path) -> None:
    registry, model_id, stored = _saved(tmp_path)
    data = bytearray(stored.read_bytes())
    data[-20] ^= 0xFF
    stored.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="checksum mismatch"):
        registry.load_model(model_id, strict=True, mmap_mode="r")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert registry.load_model(model_id, mmap_mode="r") is None
    assert any(issubclass(w.category, IntegrityWarning) for w in caught)


def test_an_unknown_mode_is_refused(tmp_path: Path) -> None:
    registry, model_id, _ = _saved(tmp_path)
    with pytest.raises(InvalidInputError, match="mmap_mode must be one of 'r', 'c'"):
        registry.load_model(model_id, mmap_mode="w+")


def test_a_serializer_that_cannot_map_says_so(tmp_path: Path) -> None:
    registry, model_id, _ = _saved(tmp_path, serializer="cloudpickle")
    with pytest.raises(InvalidInputError, match="cloudpickle serializer cannot memory-map"):
        registry.load_model(model_id, mmap_mode="r")
