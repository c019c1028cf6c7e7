"""Names can never address anything but themselves.

DESIGN.md invariant 4: a model name can never escape the storage
directory (checked on the resolved path too, symlinks included), and no
query is built by pasting user text into SQL. Every public method that
takes a model name or a reference is found by introspection and fed
traversal attempts, so a method added later is covered without editing
this file. SQL-looking text that the rules allow (tag values, model
types, descriptions, metric names with dots and slashes) must be stored
and found back literally.
"""

from __future__ import annotations

import inspect
import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from modelshelf import IntegrityWarning, InvalidInputError, ModelRegistry, ModelShelfError

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression

TRAVERSALS = [
    "../escape",
    "..",
    "../../escape",
    "ok/../../escape",
    "/tmp/escape",
    "..\\escape",
    "escape/..",
    "./escape",
    "escape\x00.joblib",
    "%2e%2e%2fescape",
    "~/escape",
    "escape/",
]

#: Values for the other required parameters when a method is called with a
#: hostile name. A new public method with a parameter missing here fails the
#: coverage test below until someone decides what to pass.
ARGUMENTS: dict[str, Any] = {
    "model": None,  # replaced by a real model
    "version": "1.0.0",
    "stage": "Production",
    "alias": "champion",
    "step": 1,
}


def _name_taking_methods() -> list[tuple[str, str]]:
    found = []
    for name, function in inspect.getmembers(ModelRegistry, inspect.isfunction):
        if name.startswith("_"):
            continue
        parameters = inspect.signature(function).parameters
        for target in ("model_name", "reference"):
            if target in parameters:
                found.append((name, target))
    return found


NAME_METHODS = _name_taking_methods()


def _files_outside(root: Path, storage: Path) -> list[Path]:
    """Anything but the directories leading to ``storage`` that is not inside it."""
    return [
        p for p in root.rglob("*") if not p.is_relative_to(storage) and p not in storage.parents
    ]


def test_introspection_finds_the_known_entry_points() -> None:
    names = {method for method, _ in NAME_METHODS}
    assert {
        "save_model",
        "load_model",
        "get_metadata",
        "get_model_versions",
        "get_production_model",
        "transition_stage",
        "promote",
        "set_alias",
        "delete_alias",
        "rollback",
        "resolve",
        "load",
    } <= names


@pytest.mark.parametrize(("method", "parameter"), NAME_METHODS, ids=lambda v: str(v))
@pytest.mark.parametrize("store", ["sqlite", "json"])
def test_every_name_taking_method_refuses_traversal(
    method: str, parameter: str, store: str, tmp_path: Path, logistic: LogisticRegression
) -> None:
    storage = tmp_path / "root" / "registry"
    with ModelRegistry(storage, store=store) as registry:
        registry.save_model(logistic, "victim", metrics={"f1": 0.5})
        before = registry.list_models()
        function = getattr(registry, method)
        parameters = inspect.signature(function).parameters
        for hostile in TRAVERSALS:
            kwargs: dict[str, Any] = {}
            for name, spec in parameters.items():
                if name == parameter:
                    kwargs[name] = hostile
                elif spec.default is inspect.Parameter.empty and spec.kind not in (
                    inspect.Parameter.VAR_KEYWORD,
                    inspect.Parameter.VAR_POSITIONAL,
                ):
                    assert name in ARGUMENTS, f"{method}: add a value for {name!r} to ARGUMENTS"
                    kwargs[name] = logistic if name == "model" else ARGUMENTS[name]
            with pytest.raises(InvalidInputError) as caught:
                function(**kwargs)
            assert isinstance(caught.value, ValueError)
            assert isinstance(caught.value, ModelShelfError)
        assert registry.list_models() == before
        assert _files_outside(tmp_path, storage) == []
        assert registry.verify().findings == ()


@pytest.mark.parametrize(
    "key",
    ["../x.joblib", "a/../../x.joblib", "/etc/passwd", "a\\..\\x", "a/./b", "a//b", "", "a\x00"],
)
def test_artifact_storage_refuses_unsafe_keys(key: str, tmp_path: Path) -> None:
    with ModelRegistry(tmp_path / "registry") as registry:
        with pytest.raises(InvalidInputError, match="not a safe relative path"):
            registry.storage.put(key, lambda stream: None)
        with pytest.raises(InvalidInputError):
            registry.storage.open(key)
        with pytest.raises(InvalidInputError):
            registry.storage.delete(key)
    assert [p.name for p in tmp_path.iterdir()] == ["registry"]


class Marker:
    """Unpickling this writes a file: proof that bytes were executed."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.write_text, (Path(self.path), "executed"))


@pytest.mark.parametrize("store", ["sqlite", "json"])
def test_symlinked_model_directory_pointing_outside(
    store: str, tmp_path: Path, logistic: LogisticRegression
) -> None:
    """A model directory swapped for a symlink to elsewhere is neither written
    through nor read from, and gc never deletes outside the root."""
    outside = tmp_path / "outside"
    outside.mkdir()
    marker = tmp_path / "outside-marker"
    storage = tmp_path / "registry"
    with ModelRegistry(storage, store=store) as registry:
        # Writing: a new version of a name whose directory is a symlink.
        (storage / "models" / "evil").symlink_to(outside, target_is_directory=True)
        with pytest.raises(InvalidInputError, match="outside the storage directory"):
            registry.save_model(logistic, "evil")
        assert list(outside.iterdir()) == []
        assert registry.list_models() == []

        # Reading: a recorded version whose directory is later swapped for a
        # symlink to a directory holding a hostile file under the same name.
        model_id = registry.save_model(logistic, "good")
        key = registry.get_metadata(model_id).artifact.key
        good_dir = storage / "models" / "good"
        hostile = outside / Path(key).name
        hostile.write_bytes(pickle.dumps(Marker(str(marker))))
        for stored in good_dir.iterdir():
            stored.unlink()
        good_dir.rmdir()
        good_dir.symlink_to(outside, target_is_directory=True)
        with pytest.warns(IntegrityWarning, match="outside the storage directory"):
            assert registry.load_model(model_id) is None
        with pytest.raises(ModelShelfError, match="outside the storage directory"):
            registry.load(model_id)
        assert not marker.exists(), "bytes from outside the storage root were unpickled"

        # Cleaning up: verify flags the escaping record as unsafe, and gc
        # leaves a symlink it cannot address safely alone, target included.
        target = outside / "precious.txt"
        target.write_text("keep me")
        (storage / "models" / "link.joblib").symlink_to(target)
        report = registry.verify()
        assert any(f.model_id == model_id and f.kind == "unsafe" for f in report.findings)
        assert not report.ok
        registry.gc(dry_run=False, min_age_seconds=0)
        assert target.read_text() == "keep me"
        assert hostile.exists()


@pytest.mark.parametrize("store", ["sqlite", "json"])
def test_symlinked_storage_root_is_allowed(
    store: str, tmp_path: Path, logistic: LogisticRegression
) -> None:
    """The refusal is about escaping the root, not about symlinks as such."""
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    with ModelRegistry(link, store=store) as registry:
        model_id = registry.save_model(logistic, "fine")
        assert registry.load(model_id).model is not None
    assert any(p.is_file() for p in (real / "models").rglob("*"))


SQL_TEXT = [
    "'; DROP TABLE models; --",
    "x' OR '1'='1",
    '" OR ""="',
    "1; DELETE FROM metrics",
    "$.metrics.f1",
    "%_%",
    "\\' UNION SELECT * FROM sqlite_master --",
]


@pytest.mark.parametrize("store", ["sqlite", "json"])
def test_sql_looking_text_is_stored_and_matched_literally(
    store: str, tmp_path: Path, logistic: LogisticRegression
) -> None:
    with ModelRegistry(tmp_path / "registry", store=store) as registry:
        ids = {
            text: registry.save_model(
                logistic,
                "sqlish",
                model_type=text,
                description=text,
                tags={"note": text},
                metrics={"f1": 0.5},
            )
            for text in SQL_TEXT
        }
        plain = registry.save_model(logistic, "sqlish", model_type="plain", tags={"note": "x"})
        for text, model_id in ids.items():
            metadata = registry.get_metadata(model_id)
            assert (metadata.model_type, metadata.description, metadata.tags["note"]) == (
                text,
                text,
                text,
            )
            assert [m.model_id for m in registry.list_models(model_type=text)] == [model_id]
            assert [m.model_id for m in registry.list_models(tags={"note": text})] == [model_id]
            assert registry.update_model(model_id, description=text + text).description == (
                text + text
            )
        assert registry.count_models() == len(SQL_TEXT) + 1
        assert registry.get_metadata(plain).model_type == "plain"


#: Names the rules allow that look like SQL, JSON paths or nested keys.
SQLISH_NAMES = ["select", "DROP.TABLE", "models", "sqlite_master", "x--", "1-1", "a.b", "a..."]
SQLISH_METRICS = ["f1", "f1.macro", "f1/macro", "f1-macro", "select", "_", "a.b.c", "x--"]


@pytest.mark.parametrize("store", ["sqlite", "json"])
def test_sql_looking_names_and_metric_names_round_trip(
    store: str, tmp_path: Path, logistic: LogisticRegression
) -> None:
    with ModelRegistry(tmp_path / "registry", store=store) as registry:
        allowed = [n for n in SQLISH_NAMES if ".." not in n]
        for position, name in enumerate(allowed):
            metrics = {m: (position + 1) / 100 + k / 1000 for k, m in enumerate(SQLISH_METRICS)}
            registry.save_model(logistic, name, metrics=metrics)
        assert sorted(registry.list_model_names()) == sorted(allowed)
        for name in allowed:
            (only,) = registry.get_model_versions(name)
            assert only.model_name == name
            assert registry.get_metadata(name).model_id == only.model_id
        # Each dotted or slashed metric is its own metric, never a path into another.
        last = registry.get_model_versions(allowed[-1])[0]
        for k, metric in enumerate(SQLISH_METRICS):
            assert last.metrics[metric] == pytest.approx(len(allowed) / 100 + k / 1000)
            best = registry.get_best_model(metric)
            assert best is not None
            assert best.model_id == last.model_id
            threshold = {metric: len(allowed) / 100 + k / 1000 - 1e-9}
            assert [m.model_id for m in registry.list_models(min_metrics=threshold)] == [
                last.model_id
            ]
            ordered = registry.list_models(order_by=metric, descending=True)
            assert ordered[0].model_id == last.model_id
        registry.save_model(logistic, "nested", metrics={"f1": 0.01})
        assert registry.list_models(min_metrics={"f1.macro": 0.0}, model_name="nested") == []
