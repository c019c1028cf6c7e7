"""Plugin loading, provider lookup and the typed façade over ``pm.hook``.

Each registry gets its own :class:`PluginHost`; there is no global manager.
Loading order is hookspecs, then the ``modelshelf`` entry points (bundled and
installed plugins alike), then plugin objects passed in code, then
``check_pending`` so a misspelt hook name fails at start-up.

Every call into plugin code goes through this module, so a plugin that
raises or returns nonsense surfaces as a :class:`PluginError` naming it,
never as a bare traceback from inside pluggy.
"""

from __future__ import annotations

import functools
import os
import sys
import warnings
from contextvars import ContextVar
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any, TypeVar

import pluggy
from attrs import frozen

from modelshelf import hookspecs
from modelshelf.errors import ModelShelfError, PluginError, PluginLoadError, UnknownPluginError
from modelshelf.protocols import (
    ArtifactStore,
    LegacyMetadataStore,
    MetadataStore,
    Provider,
    ScoringPolicy,
    Serializer,
    VersioningScheme,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from modelshelf.metadata import ModelDraft, ModelMetadata, Stage
    from modelshelf.protocols import RegistryView

T = TypeVar("T")

#: The entry-point group plugins register in, bundled ones included.
ENTRY_POINT_GROUP = "modelshelf"
#: The distribution that ships the bundled plugins; never switched off.
BUNDLED_DISTRIBUTION = "modelshelf"

hookimpl = pluggy.HookimplMarker("modelshelf")


@frozen
class PluginKind:
    """One kind of providable thing: its hook, its Protocol, its label."""

    label: str
    hook: str
    protocol: type


SERIALIZER = PluginKind("serializer", "modelshelf_serializers", Serializer)
METADATA_STORE = PluginKind("metadata store", "modelshelf_metadata_stores", MetadataStore)
ARTIFACT_STORE = PluginKind("artifact store", "modelshelf_artifact_stores", ArtifactStore)
VERSIONING = PluginKind("versioning scheme", "modelshelf_versioning_schemes", VersioningScheme)
SCORING = PluginKind("scoring policy", "modelshelf_scoring_policies", ScoringPolicy)
KINDS = (SERIALIZER, METADATA_STORE, ARTIFACT_STORE, VERSIONING, SCORING)


@frozen(kw_only=True)
class PluginInfo:
    """What ``list_plugins`` reports about one registered plugin."""

    name: str
    distribution: str | None
    version: str | None
    origin: str
    hooks: tuple[str, ...]
    provides: dict[str, tuple[str, ...]]


@frozen(kw_only=True)
class _Origin:
    distribution: str | None
    version: str | None
    origin: str


#: While a provider hook runs, each implementation's result lands here with its
#: plugin's name, so results can be attributed after pluggy merged them.
_OFFERED: ContextVar[list[tuple[str, Any]] | None] = ContextVar("_OFFERED", default=None)


class _Attributed:
    """A plugin as pluggy sees it: each plain hook implementation wrapped so
    that an error, or a provider it returns, names the plugin it came from.

    Hooks are called through ``pm.hook``, so pluggy's ordering (tryfirst,
    last registered first, trylast), wrappers and tracing all apply; pluggy
    reads the wrapped functions' markers and signatures through
    ``functools.wraps``. Wrappers are passed through untouched: they see the
    attributed errors of the implementations they wrap.
    """

    def __init__(self, plugin: object, plugin_name: str) -> None:
        self.plugin = plugin
        for attr in dir(plugin):
            if attr.startswith("__"):
                continue
            function = getattr(plugin, attr, None)
            opts = getattr(function, "modelshelf_impl", None)
            if not callable(function) or not isinstance(opts, dict):
                continue
            if not (opts.get("wrapper") or opts.get("hookwrapper")):
                hook_name = opts.get("specname") or attr
                function = _attributed(function, plugin_name, hook_name)
            setattr(self, attr, function)

    def __repr__(self) -> str:
        return repr(self.plugin)


def _attributed(function: Callable[..., Any], plugin_name: str, hook_name: str) -> Any:
    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            value = function(*args, **kwargs)
        except ModelShelfError:
            raise
        except Exception as exc:
            raise PluginError(
                plugin_name, f"hook {hook_name} raised {type(exc).__name__}: {exc}"
            ) from exc
        offered = _OFFERED.get()
        if offered is not None and value is not None:
            offered.append((plugin_name, value))
        return value

    return call


@functools.lru_cache(maxsize=8)
def _discover(
    search_path: tuple[str, ...],
) -> tuple[tuple[EntryPoint, str | None, str | None], ...]:
    """The ``modelshelf`` entry points with their distribution's name and version.

    Read once per process and search path: scanning every installed
    distribution's metadata is the slow part of opening a registry, and a
    process that has dropped its privileges (a service's worker) may no
    longer be able to read the environment it was started from.
    ``dist.name`` and ``dist.version`` each parse METADATA again, so read it
    once per distribution.
    """
    described: dict[int, tuple[str | None, str | None]] = {}
    found = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        dist: str | None = None
        version: str | None = None
        if ep.dist is not None:
            if id(ep.dist) not in described:
                meta = ep.dist.metadata
                described[id(ep.dist)] = (meta["Name"], meta["Version"])
            dist, version = described[id(ep.dist)]
        found.append((ep, dist, version))
    return tuple(found)


def _env_list(name: str) -> set[str]:
    return {item.strip() for item in os.environ.get(name, "").split(",") if item.strip()}


class PluginHost:
    """Owns one pluggy manager and is the only code that calls ``pm.hook``."""

    def __init__(self, plugins: Sequence[object] = (), *, load_entrypoints: bool = True) -> None:
        self.pm = pluggy.PluginManager("modelshelf")
        self.pm.add_hookspecs(hookspecs)
        self._origins: dict[str, _Origin] = {}
        self._provider_cache: dict[str, dict[str, tuple[Provider[Any], str]]] = {}
        for blocked in _env_list("MODELSHELF_DISABLE_PLUGINS"):
            self.pm.set_blocked(blocked)
        self._load_entrypoints(third_party=load_entrypoints)
        for plugin in plugins:
            self.register(plugin)
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise PluginLoadError(self._name_of(exc.plugin), str(exc)) from exc
        if os.environ.get("MODELSHELF_TRACE_PLUGINS"):
            self.pm.trace.root.setwriter(sys.stderr.write)
            self.pm.enable_tracing()

    # -- loading ----------------------------------------------------------

    def _load_entrypoints(self, *, third_party: bool) -> None:
        for ep, dist, version in _discover(tuple(sys.path)):
            if not third_party and dist != BUNDLED_DISTRIBUTION:
                continue
            if self.pm.is_blocked(ep.name) or self.pm.has_plugin(ep.name):
                continue
            where = f"entry point {ep.name!r} ({ep.value}) of {dist or '?'} {version or ''}".strip()
            try:
                self.pm.register(_Attributed(ep.load(), ep.name), name=ep.name)
            except Exception as exc:
                raise PluginLoadError(ep.name, f"could not load {where}: {exc}") from exc
            self._origins[ep.name] = _Origin(
                distribution=dist, version=version, origin=f"entry point {ep.value}"
            )

    def register(self, plugin: object, name: str | None = None) -> str:
        """Register a plugin object given in code; returns its name."""
        label = name or getattr(plugin, "__name__", None) or type(plugin).__qualname__
        unique, n = label, 1
        while self.pm.has_plugin(unique):
            n += 1
            unique = f"{label}#{n}"
        try:
            registered = self.pm.register(_Attributed(plugin, unique), name=unique)
        except ValueError as exc:
            raise PluginLoadError(label, f"could not register: {exc}") from exc
        except pluggy.PluginValidationError as exc:
            raise PluginLoadError(label, f"invalid plugin: {exc}") from exc
        if registered is None:
            raise PluginLoadError(label, "is blocked (MODELSHELF_DISABLE_PLUGINS)")
        self._origins[registered] = _Origin(distribution=None, version=None, origin="code")
        self._provider_cache.clear()
        return registered

    def _name_of(self, plugin: object) -> str:
        return self.pm.get_name(plugin) or repr(plugin)

    # -- calling ------------------------------------------------------------

    def _call(self, hook_name: str, **kwargs: Any) -> list[Any]:
        """Call a hook through pluggy; errors outside any plugin's own code
        (a wrapper's, a bad call) are named too."""
        try:
            results: list[Any] = getattr(self.pm.hook, hook_name)(**kwargs)
        except (ModelShelfError, pluggy.HookCallError):
            raise
        except Exception as exc:
            raise PluginError(
                "a hook wrapper", f"hook {hook_name} raised {type(exc).__name__}: {exc}"
            ) from exc
        return results

    def _call_each(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call a hook through pluggy and pair each result with its plugin."""
        offered: list[tuple[str, Any]] = []
        token = _OFFERED.set(offered)
        try:
            results = self._call(hook_name, **kwargs)
        finally:
            _OFFERED.reset(token)
        plugin_of = {id(value): name for name, value in offered}
        return [(plugin_of.get(id(value), "a hook wrapper"), value) for value in results]

    def providers(self, kind: PluginKind) -> dict[str, tuple[Provider[Any], str]]:
        """Every provider of ``kind`` by name, with the plugin that offers it."""
        cached = self._provider_cache.get(kind.hook)
        if cached is not None:
            return cached
        found: dict[str, tuple[Provider[Any], str]] = {}
        for plugin_name, offered in self._call_each(kind.hook):
            if not isinstance(offered, (list, tuple)):
                raise PluginError(
                    plugin_name, f"{kind.hook} must return a list of Provider, got {offered!r}"
                )
            for provider in offered:
                if not isinstance(provider, Provider) or not callable(provider.factory):
                    raise PluginError(
                        plugin_name, f"{kind.hook} returned {provider!r}, not a Provider"
                    )
                if provider.name in found:
                    other = found[provider.name][1]
                    first, second = sorted((plugin_name, other))
                    raise PluginError(
                        plugin_name,
                        f"plugins {first!r} and {second!r} both offer a {kind.label} named "
                        f"{provider.name!r}; disable one (MODELSHELF_DISABLE_PLUGINS)",
                    )
                found[provider.name] = (provider, plugin_name)
        self._provider_cache[kind.hook] = found
        return found

    def create(self, kind: PluginKind, name: str, **options: Any) -> Any:
        """Build the ``kind`` named ``name`` and check it fits its Protocol."""
        available = self.providers(kind)
        if name not in available:
            raise UnknownPluginError(kind.label, name, available)
        provider, plugin_name = available[name]
        try:
            obj = provider.factory(**options)
        except ModelShelfError:
            raise
        except Exception as exc:
            raise PluginError(
                plugin_name, f"could not create {kind.label} {name!r}: {type(exc).__name__}: {exc}"
            ) from exc
        return check_provided(kind, obj, plugin_name)

    # -- typed lifecycle façade ---------------------------------------------

    def before_save(self, *, registry: RegistryView, draft: ModelDraft) -> None:
        self._call("modelshelf_before_save", registry=registry, draft=draft)

    def after_save(self, *, registry: RegistryView, metadata: ModelMetadata) -> None:
        self._call("modelshelf_after_save", registry=registry, metadata=metadata)

    def before_stage_transition(
        self,
        *,
        registry: RegistryView,
        metadata: ModelMetadata,
        from_stage: Stage,
        to_stage: Stage,
    ) -> None:
        self._call(
            "modelshelf_before_stage_transition",
            registry=registry,
            metadata=metadata,
            from_stage=from_stage,
            to_stage=to_stage,
        )

    def after_stage_transition(
        self,
        *,
        registry: RegistryView,
        metadata: ModelMetadata,
        from_stage: Stage,
        to_stage: Stage,
    ) -> None:
        self._call(
            "modelshelf_after_stage_transition",
            registry=registry,
            metadata=metadata,
            from_stage=from_stage,
            to_stage=to_stage,
        )

    def before_delete(self, *, registry: RegistryView, metadata: ModelMetadata) -> None:
        self._call("modelshelf_before_delete", registry=registry, metadata=metadata)

    def after_delete(self, *, registry: RegistryView, metadata: ModelMetadata) -> None:
        self._call("modelshelf_after_delete", registry=registry, metadata=metadata)

    # -- listing --------------------------------------------------------------

    def list_plugins(self) -> list[PluginInfo]:
        provided: dict[str, dict[str, list[str]]] = {}
        for kind in KINDS:
            for name, (_, plugin_name) in self.providers(kind).items():
                provided.setdefault(plugin_name, {}).setdefault(kind.label, []).append(name)
        infos = []
        for plugin_name, plugin in self.pm.list_name_plugin():
            if plugin is None:
                continue
            origin = self._origins.get(
                plugin_name, _Origin(distribution=None, version=None, origin="code")
            )
            hooks = tuple(sorted(caller.name for caller in self.pm.get_hookcallers(plugin) or ()))
            infos.append(
                PluginInfo(
                    name=plugin_name,
                    distribution=origin.distribution,
                    version=origin.version,
                    origin=origin.origin,
                    hooks=hooks,
                    provides={
                        k: tuple(sorted(v)) for k, v in provided.get(plugin_name, {}).items()
                    },
                )
            )
        return sorted(infos, key=lambda info: info.name)


def check_provided(kind: PluginKind, obj: object, plugin_name: str) -> Any:
    """Check an object against its kind's Protocol; the error names the plugin."""
    if kind.protocol is MetadataStore and _legacy_store(obj):
        warnings.warn(
            f"{plugin_name}: {type(obj).__name__} implements set_stage/set_alias, not "
            "transition; modelshelf now decides the stage and alias rules itself and will stop "
            "calling set_stage/set_alias in a future release (see docs/plugins.md, "
            "'A metadata store')",
            DeprecationWarning,
            stacklevel=2,
        )
        return obj
    if not isinstance(obj, kind.protocol):
        missing = [attr for attr in _protocol_members(kind.protocol) if not hasattr(obj, attr)]
        raise PluginError(
            plugin_name,
            f"returned {type(obj).__name__} as a {kind.label}, which lacks "
            f"{', '.join(missing) or 'required members'}",
        )
    return obj


def _legacy_store(obj: object) -> bool:
    """A metadata store written before ``transition``: every other member, and
    ``set_stage``/``set_alias`` instead."""
    if hasattr(obj, "transition") or not isinstance(obj, LegacyMetadataStore):
        return False
    return all(hasattr(obj, m) for m in _protocol_members(MetadataStore) if m != "transition")


def _protocol_members(protocol: type) -> Iterable[str]:
    members = getattr(protocol, "__protocol_attrs__", None)
    if members is None:  # Python < 3.12
        from typing import _get_protocol_attrs  # type: ignore[attr-defined]

        members = _get_protocol_attrs(protocol)
    return sorted(members)


def list_plugins(
    plugins: Sequence[object] = (), *, load_entrypoints: bool = True
) -> list[PluginInfo]:
    """List installed plugins: name, distribution, version, origin, hooks, provided names."""
    return PluginHost(plugins, load_entrypoints=load_entrypoints).list_plugins()
