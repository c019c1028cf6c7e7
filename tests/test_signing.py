"""Signed artifacts: refused before any unpickling when anything is off.

Unpickling is code execution, so every refusal here must happen before the
serializer sees a byte. The proof is a payload whose unpickling writes a
marker file: after each refused load the marker must not exist, and one
control load (correct key, untouched file) shows that the payload really
does write it when it is deserialized.

The attacker can write the artifact files and, in the forged cases, the
metadata too (recomputing checksums), but does not hold the signing key.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from modelshelf import IntegrityError, IntegrityWarning, ModelRegistry

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression

KEY = "correct horse battery staple"


class Payload:
    """Deserializing this writes ``path``: the marker of executed bytes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.write_text, (self.path, "code ran"))


@pytest.fixture(params=["sqlite", "json"])
def store(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["joblib", "cloudpickle"])
def serializer(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "marker"


def file_of(registry: ModelRegistry, model_id: int, name: str | None = None) -> Path:
    metadata = registry.get_metadata(model_id)
    ref = metadata.artifact if name is None else metadata.artifacts[name]
    return registry.storage_path / "models" / ref.key


def forge_record(registry: ModelRegistry, model_id: int, data: bytes) -> None:
    """Rewrite a row's checksum and size to match ``data``, as someone with
    write access to the metadata (but not the key) could."""
    digest, size = hashlib.sha256(data).hexdigest(), len(data)
    metadata = registry.get_metadata(model_id)
    if (registry.storage_path / "registry.db").exists():
        with sqlite3.connect(registry.storage_path / "registry.db") as conn:
            conn.execute(
                "UPDATE models SET data = json_set(data, '$.artifact.sha256', ?, "
                "'$.artifact.size', ?) WHERE id = ?",
                (digest, size, model_id),
            )
        conn.close()
    else:
        artifact = {
            "key": metadata.artifact.key,
            "serializer": metadata.artifact.serializer,
            "sha256": digest,
            "size": size,
            "signature": metadata.artifact.signature,
        }
        entry = {"op": "set", "id": model_id, "fields": {"artifact": artifact}}
        with open(registry.storage_path / "index.journal", "a") as journal:
            journal.write(json.dumps(entry) + "\n")
    forged = registry.get_metadata(model_id).artifact
    assert (forged.sha256, forged.size) == (digest, size), "the forgery did not take"


def assert_refused(registry: ModelRegistry, model_id: int, marker: Path, reason: str) -> None:
    with pytest.warns(IntegrityWarning, match=reason):
        assert registry.load_model(model_id) is None
    with pytest.raises(IntegrityError, match=reason) as caught:
        registry.load(model_id)
    assert registry.get_metadata(model_id).artifact.key in str(caught.value)
    with pytest.raises(IntegrityError, match=reason):
        registry.load(model_id)
    if reason == "checksum mismatch":
        assert not registry.verify().ok, "verify() should report the changed bytes too"
    assert not marker.exists(), "the payload was unpickled before the refusal"


def test_the_payload_really_runs_when_trusted(tmp_path: Path, marker: Path) -> None:
    """Control: without this, a missing marker would prove nothing."""
    with ModelRegistry(tmp_path / "registry", signing_key=KEY) as registry:
        model_id = registry.save_model(Payload(marker), "payload")
        assert not marker.exists()
        registry.load(model_id)
    assert marker.read_text() == "code ran"


def test_tampered_bytes(
    store: str, serializer: str, tmp_path: Path, marker: Path, logistic: LogisticRegression
) -> None:
    with ModelRegistry(
        tmp_path / "registry", store=store, serializer=serializer, signing_key=KEY
    ) as registry:
        model_id = registry.save_model(logistic, "victim")
        evil = registry.save_model(Payload(marker), "evil")
        payload = file_of(registry, evil).read_bytes()
        registry.delete_model(evil)
        file_of(registry, model_id).write_bytes(payload)
        assert_refused(registry, model_id, marker, "checksum mismatch")
        # Now the metadata is forged too: only the signature stands in the way.
        forge_record(registry, model_id, payload)
        assert_refused(registry, model_id, marker, "signature does not match")


def test_one_flipped_byte(
    store: str, tmp_path: Path, marker: Path, logistic: LogisticRegression
) -> None:
    with ModelRegistry(tmp_path / "registry", store=store, signing_key=KEY) as registry:
        model_id = registry.save_model(logistic, "victim")
        path = file_of(registry, model_id)
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
        assert_refused(registry, model_id, marker, "checksum mismatch")


def test_swapped_file_from_another_version(
    store: str, serializer: str, tmp_path: Path, marker: Path, logistic: LogisticRegression
) -> None:
    """Both files are genuine and signed, just not for this record."""
    with ModelRegistry(
        tmp_path / "registry", store=store, serializer=serializer, signing_key=KEY
    ) as registry:
        victim = registry.save_model(logistic, "model")
        other = registry.save_model(Payload(marker), "model")
        shutil.copyfile(file_of(registry, other), file_of(registry, victim))
        assert_refused(registry, victim, marker, "checksum mismatch")
        # Copy the other version's checksum into the record as well: the
        # signature binds the checksum to this file's key, so it still fails.
        forge_record(registry, victim, file_of(registry, other).read_bytes())
        assert_refused(registry, victim, marker, "signature does not match")


def test_swapped_auxiliary_artifact(
    store: str, tmp_path: Path, marker: Path, logistic: LogisticRegression
) -> None:
    with ModelRegistry(tmp_path / "registry", store=store, signing_key=KEY) as registry:
        model_id = registry.save_model(logistic, "model", artifacts={"scaler": {"mean": 1.0}})
        other = registry.save_model(Payload(marker), "model")
        shutil.copyfile(file_of(registry, other), file_of(registry, model_id, "scaler"))
        with pytest.raises(IntegrityError, match="checksum mismatch"):
            registry.load(model_id)
        assert not marker.exists()


def test_missing_signature(
    store: str, serializer: str, tmp_path: Path, marker: Path, logistic: LogisticRegression
) -> None:
    """Saved while signing was off: a registry that requires signatures refuses it."""
    storage = tmp_path / "registry"
    with ModelRegistry(storage, store=store, serializer=serializer) as unsigned:
        model_id = unsigned.save_model(Payload(marker), "unsigned")
        assert unsigned.get_metadata(model_id).artifact.signature is None
    with ModelRegistry(storage, store=store, signing_key=KEY) as registry:
        assert_refused(registry, model_id, marker, "not signed")


def test_wrong_key(
    store: str, serializer: str, tmp_path: Path, marker: Path, logistic: LogisticRegression
) -> None:
    storage = tmp_path / "registry"
    with ModelRegistry(storage, store=store, serializer=serializer, signing_key=KEY) as signer:
        model_id = signer.save_model(Payload(marker), "signed")
        assert signer.get_metadata(model_id).artifact.signature is not None
    with ModelRegistry(storage, store=store, signing_key=b"another key") as registry:
        assert_refused(registry, model_id, marker, "signature does not match")


def test_key_from_environment(
    store: str, tmp_path: Path, marker: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = tmp_path / "registry"
    monkeypatch.setenv("MODELSHELF_SIGNING_KEY", KEY)
    with ModelRegistry(storage, store=store) as signer:
        model_id = signer.save_model(Payload(marker), "signed")
        expected = signer.get_metadata(model_id).artifact.signature
        assert expected is not None
    with ModelRegistry(storage, store=store, signing_key=KEY) as same:
        assert same.get_metadata(model_id).artifact.signature == expected
    monkeypatch.setenv("MODELSHELF_SIGNING_KEY", "not the key")
    with ModelRegistry(storage, store=store) as registry:
        assert_refused(registry, model_id, marker, "signature does not match")


def test_signed_versions_still_load(
    store: str, serializer: str, tmp_path: Path, logistic: LogisticRegression
) -> None:
    with ModelRegistry(
        tmp_path / "registry", store=store, serializer=serializer, signing_key=KEY
    ) as registry:
        model_id = registry.save_model(logistic, "fine", artifacts={"extra": [1, 2, 3]})
        loaded = registry.load(model_id)
        assert loaded.artifacts == {"extra": [1, 2, 3]}
        assert (loaded.model.coef_ == logistic.coef_).all()
        assert registry.verify().findings == ()


def test_a_refusal_is_logged_with_its_reason(
    tmp_path: Path, marker: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``load_model`` returns None, and the log and a warning say which file and why."""
    storage = tmp_path / "registry"
    with ModelRegistry(storage, signing_key=KEY) as signer:
        model_id = signer.save_model(Payload(marker), "signed")
        key = signer.get_metadata(model_id).artifact.key
    with (
        ModelRegistry(storage, signing_key="wrong") as registry,
        caplog.at_level("WARNING"),
        pytest.warns(IntegrityWarning, match="signature does not match") as warned,
    ):
        assert registry.load_model(model_id) is None
    assert key in str(warned[0].message)
    (record,) = [r for r in caplog.records if r.name == "modelshelf"]
    assert key in record.getMessage()
    assert "signature does not match" in record.getMessage()
    assert not marker.exists()
