"""Loading, choosing and listing plugins, and plugins that misbehave."""

from __future__ import annotations

from importlib.metadata import distribution
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

import pytest

from modelshelf import (
    PluginError,
    PluginLoadError,
    Provider,
    UnknownPluginError,
    VetoError,
    hookimpl,
    list_plugins,
)

if TYPE_CHECKING:
    from modelshelf.protocols import Serializer

ROOT = Path(__file__).parent.parent


class ReversingSerializer:
    """A serializer of our own: pickles, then reverses the bytes."""

    name = "reversed"
    file_extension = ".rev"

    def dump(self, obj: Any, stream: IO[bytes]) -> None:
        import pickle

        stream.write(pickle.dumps(obj)[::-1])

    def load(self, stream: IO[bytes]) -> Any:
        import pickle

        return pickle.loads(stream.read()[::-1])


class ReversingPlugin:
    @hookimpl
    def modelshelf_serializers(self) -> list[Provider[Serializer]]:
        return [Provider(name="reversed", factory=ReversingSerializer)]


def test_every_bundled_entry_point_is_listed() -> None:
    declared = [
        ep.name for ep in distribution("modelshelf").entry_points.select(group="modelshelf")
    ]
    assert len(declared) >= 9
    listed = {info.name: info for info in list_plugins()}
    for name in declared:
        assert name in listed, f"entry point {name} is declared but not loaded"
        assert listed[name].distribution == "modelshelf"
        assert listed[name].version
    provided = {
        kind: sorted(
            n
            for info in listed.values()
            if info.distribution == "modelshelf"
            for n in info.provides.get(kind, ())
        )
        for kind in ("serializer", "metadata store", "versioning scheme", "scoring policy")
    }
    expected = {
        "serializer": {"cloudpickle", "joblib"},
        "metadata store": {"json", "sqlite"},
        "versioning scheme": {"integer", "semver"},
        "scoring policy": {"composite", "f1"},
    }
    for kind, names in expected.items():
        assert names <= set(provided[kind]), kind


def test_plugin_object_passed_in_code(make_registry: Any, logistic: Any, iris: Any) -> None:
    registry = make_registry(serializer="reversed", plugins=[ReversingPlugin()])
    model_id = registry.save_model(logistic, model_name="m")
    assert registry.get_metadata(model_id).artifact.key.endswith(".rev")
    assert (registry.load(model_id).model.predict(iris[0]) == logistic.predict(iris[0])).all()
    names = {info.name: info for info in list_plugins([ReversingPlugin()])}
    assert any(
        info.origin == "code" and "reversed" in info.provides.get("serializer", ())
        for info in names.values()
    )


def test_plugin_chosen_by_object(make_registry: Any, logistic: Any) -> None:
    registry = make_registry(serializer=ReversingSerializer())
    model_id = registry.save_model(logistic, model_name="m")
    assert registry.get_metadata(model_id).artifact.serializer == "reversed"
    # loading needs the serializer by name again: offer it through a plugin
    other = make_registry(plugins=[ReversingPlugin()])
    assert other.load(model_id).model is not None


def test_unknown_plugin_name_lists_available(make_registry: Any) -> None:
    with pytest.raises(
        UnknownPluginError, match="available: cloudpickle, joblib, mlflow, skops"
    ) as info:
        make_registry(serializer="pickle5")
    assert isinstance(info.value, LookupError)
    assert info.value.valid_choices == ("cloudpickle", "joblib", "mlflow", "skops")
    with pytest.raises(UnknownPluginError, match="no metadata store named 'mongo'"):
        make_registry(store="mongo")


def test_object_that_is_not_a_serializer(make_registry: Any) -> None:
    with pytest.raises(PluginError, match="lacks"):
        make_registry(serializer=object())


class RaisingPlugin:
    @hookimpl
    def modelshelf_serializers(self) -> list[Provider[Serializer]]:
        raise RuntimeError("boom")


class NonsensePlugin:
    @hookimpl
    def modelshelf_serializers(self) -> Any:
        return "joblib"


class DuplicatePlugin:
    @hookimpl
    def modelshelf_serializers(self) -> list[Provider[Serializer]]:
        return [Provider(name="joblib", factory=ReversingSerializer)]


class BadFactoryPlugin:
    @hookimpl
    def modelshelf_serializers(self) -> list[Provider[Serializer]]:
        return [Provider(name="bad", factory=lambda: cast("Serializer", object()))]


@pytest.mark.parametrize(
    ("plugin", "serializer", "message"),
    [
        (RaisingPlugin(), "joblib", "raised RuntimeError: boom"),
        (NonsensePlugin(), "joblib", "must return a list of Provider"),
        (
            DuplicatePlugin(),
            "joblib",
            "plugins 'DuplicatePlugin' and 'modelshelf.joblib' both offer a serializer",
        ),
        (BadFactoryPlugin(), "bad", "lacks"),
    ],
)
def test_misbehaving_plugin_is_named(
    make_registry: Any, plugin: object, serializer: str, message: str
) -> None:
    with pytest.raises(PluginError, match=message) as info:
        make_registry(serializer=serializer, plugins=[plugin])
    assert info.value.plugin  # the error names the plugin


class MisspeltPlugin:
    @hookimpl
    def modelshelf_serialisers(self) -> list[Provider[Serializer]]:
        return []


def test_misspelt_hook_fails_at_startup(make_registry: Any) -> None:
    with pytest.raises(PluginLoadError, match="modelshelf_serialisers"):
        make_registry(plugins=[MisspeltPlugin()])


class RefuseEverything:
    def __init__(self) -> None:
        self.calls: list[str] = []

    @hookimpl
    def modelshelf_before_save(self, draft: Any) -> None:
        self.calls.append(draft.model_name)
        if draft.model_name == "forbidden":
            raise VetoError("no models named forbidden")

    @hookimpl
    def modelshelf_after_save(self, metadata: Any) -> None:
        self.calls.append(f"saved {metadata.version}")


def test_lifecycle_hooks_see_saves_and_veto(make_registry: Any, logistic: Any) -> None:
    plugin = RefuseEverything()
    registry = make_registry(plugins=[plugin])
    registry.save_model(logistic, model_name="ok")
    with pytest.raises(VetoError, match="forbidden"):
        registry.save_model(logistic, model_name="forbidden")
    assert plugin.calls == ["ok", "saved 1.0.0", "forbidden"]
    assert list(registry.storage.iter_keys()) == [registry.get_metadata("ok").artifact.key]


def test_disable_plugins_from_environment(
    monkeypatch: pytest.MonkeyPatch, make_registry: Any
) -> None:
    monkeypatch.setenv("MODELSHELF_DISABLE_PLUGINS", "modelshelf.cloudpickle")
    with pytest.raises(UnknownPluginError):
        make_registry(serializer="cloudpickle")


def test_load_entrypoints_false_keeps_bundled(make_registry: Any, logistic: Any) -> None:
    registry = make_registry(load_entrypoints=False)
    assert registry.save_model(logistic, model_name="m") == 1


def test_composite_scoring_options(make_registry: Any, logistic: Any) -> None:
    registry = make_registry(
        scoring="composite", scoring_options={"weights": {"accuracy": 1.0, "rmse": 1.0}}
    )
    registry.save_model(logistic, model_name="a", metrics={"accuracy": 0.9, "rmse": 0.5})
    registry.save_model(logistic, model_name="b", metrics={"accuracy": 0.85, "rmse": 0.1})
    assert registry.get_best_model().model_name == "b"  # 0.75 beats 0.4


class Timeline:
    """Hook implementations of every flavour pluggy offers, recording their order."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    @hookimpl(wrapper=True)
    def modelshelf_before_save(self, draft: Any) -> Any:
        self.calls.append(f"wrapper enters {draft.model_name}")
        try:
            return (yield)
        finally:
            self.calls.append("wrapper leaves")

    @hookimpl(hookwrapper=True)
    def modelshelf_after_save(self, metadata: Any) -> Any:
        self.calls.append("old-style wrapper enters")
        yield
        self.calls.append(f"old-style wrapper leaves {metadata.version}")


class FirstInLine:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    @hookimpl(tryfirst=True)
    def modelshelf_before_save(self, draft: Any) -> None:
        self.calls.append("tryfirst")


class LastInLine:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    @hookimpl(trylast=True)
    def modelshelf_before_save(self, draft: Any) -> None:
        self.calls.append("trylast")
        if draft.model_name == "vetoed":
            raise RuntimeError("not this one")


def test_wrappers_and_call_order_follow_pluggy(make_registry: Any, logistic: Any) -> None:
    timeline = Timeline()
    # Registered last-in-line first: pluggy's order, not registration order, decides.
    plugins = [LastInLine(timeline.calls), timeline, FirstInLine(timeline.calls)]
    registry = make_registry(plugins=plugins)
    registry.save_model(logistic, model_name="wrapped")
    assert timeline.calls == [
        "wrapper enters wrapped",
        "tryfirst",
        "trylast",
        "wrapper leaves",
        "old-style wrapper enters",
        "old-style wrapper leaves 1.0.0",
    ]
    timeline.calls.clear()
    # A plain implementation's error reaches the wrapper already naming its plugin.
    with pytest.raises(PluginError, match="raised RuntimeError: not this one") as info:
        registry.save_model(logistic, model_name="vetoed")
    assert info.value.plugin == "LastInLine"
    assert timeline.calls == ["wrapper enters vetoed", "tryfirst", "trylast", "wrapper leaves"]
    assert registry.count_models(model_name="vetoed") == 0


def test_tracing_prints_each_hook_call(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    make_registry: Any,
    logistic: Any,
) -> None:
    monkeypatch.setenv("MODELSHELF_TRACE_PLUGINS", "1")
    registry = make_registry()
    registry.save_model(logistic, model_name="traced")
    trace = capsys.readouterr().err
    for hook in ("modelshelf_serializers", "modelshelf_before_save", "modelshelf_after_save"):
        assert hook in trace, f"{hook} was not traced:\n{trace}"
