"""Hook specifications: everything a modelshelf plugin can implement.

A plugin is a module (or object) with functions decorated by
``modelshelf.hookimpl`` whose names match the specs below. An
implementation may accept any subset of a spec's arguments, and new
arguments are only ever added, never renamed, so old plugins keep working.

Provider hooks return lists of :class:`~modelshelf.protocols.Provider`
descriptors; every plugin's results are collected. Lifecycle hooks return
``None``; a ``before`` hook vetoes by raising :class:`~modelshelf.VetoError`,
and the registry runs every ``before`` hook before it writes anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pluggy import HookspecMarker

if TYPE_CHECKING:
    from modelshelf.metadata import ModelDraft, ModelMetadata, Stage
    from modelshelf.protocols import (
        ArtifactStore,
        MetadataStore,
        Provider,
        RegistryView,
        ScoringPolicy,
        Serializer,
        VersioningScheme,
    )

hookspec = HookspecMarker("modelshelf")

# -------------------------------------------------------------------------
# Providers
# -------------------------------------------------------------------------


@hookspec
def modelshelf_serializers() -> list[Provider[Serializer]]:
    """Offer serializers, the code that turns a model into bytes and back.

    Called once per registry when it resolves its serializer by name.

    The factory is called with the serializer options given to the registry
    (``ModelRegistry(serializer_options={...})``) as keywords.

    :returns: a list of providers; an empty list offers nothing.
    :raises PluginError: (from the registry) when two plugins offer one name.

    .. versionadded:: 0.1
    """


@hookspec
def modelshelf_metadata_stores() -> list[Provider[MetadataStore]]:
    """Offer metadata stores, where versions and their metadata are recorded.

    Called once per registry when it resolves its store by name.

    The factory is called with ``storage_path`` (a :class:`pathlib.Path` the
    registry owns, existing), ``url`` (``str | None``, e.g. a database URL)
    and the store options as keywords.

    :returns: a list of providers.

    .. versionadded:: 0.1
    """


@hookspec
def modelshelf_artifact_stores() -> list[Provider[ArtifactStore]]:
    """Offer artifact stores, where model files are kept.

    Called once per registry. The factory is called with ``root`` (the
    registry's storage location as a string: a path or a URL) as a keyword.

    :returns: a list of providers.

    .. versionadded:: 0.1
    """


@hookspec
def modelshelf_versioning_schemes() -> list[Provider[VersioningScheme]]:
    """Offer versioning schemes, which assign and order versions per model name.

    The factory is called with no arguments.

    :returns: a list of providers.

    .. versionadded:: 0.1
    """


@hookspec
def modelshelf_scoring_policies() -> list[Provider[ScoringPolicy]]:
    """Offer scoring policies, which decide the best version when no metric is named.

    The factory is called with the scoring options given to the registry
    (``ModelRegistry(scoring_options={"weights": {...}})``) as keywords.

    :returns: a list of providers.

    .. versionadded:: 0.1
    """


# -------------------------------------------------------------------------
# Lifecycle events
# -------------------------------------------------------------------------


@hookspec
def modelshelf_before_save(registry: RegistryView, draft: ModelDraft) -> None:
    """Called before a version is written, after its input was validated.

    Called once per save, before the model is serialized. Raise
    :class:`~modelshelf.VetoError` to refuse the save; nothing is written.

    :param registry: the registry saving the version.
    :param draft: the version as it will be recorded, without id and version.
    :raises VetoError: to refuse the save.

    .. versionadded:: 0.1
    """


@hookspec
def modelshelf_after_save(registry: RegistryView, metadata: ModelMetadata) -> None:
    """Called after a version was written and recorded.

    :param registry: the registry that saved it.
    :param metadata: the recorded version, with its id and version.

    .. versionadded:: 0.1
    """


@hookspec
def modelshelf_before_stage_transition(
    registry: RegistryView, metadata: ModelMetadata, from_stage: Stage, to_stage: Stage
) -> None:
    """Called before a version moves to another stage.

    Raise :class:`~modelshelf.VetoError` to refuse; nothing changes. This is
    where promotion gates live ("no Production model with f1 < 0.7").

    :param registry: the registry.
    :param metadata: the version as it is now.
    :param from_stage: its current stage.
    :param to_stage: the stage asked for.
    :raises VetoError: to refuse the transition.

    .. versionadded:: 0.1
    """


@hookspec
def modelshelf_after_stage_transition(
    registry: RegistryView, metadata: ModelMetadata, from_stage: Stage, to_stage: Stage
) -> None:
    """Called after a version moved to another stage.

    Called once for the version asked for, and once for every version the
    move archived in passing.

    :param registry: the registry.
    :param metadata: the version as it is now, in ``to_stage``.
    :param from_stage: the stage it left.
    :param to_stage: the stage it is in.

    .. versionadded:: 0.1
    """


@hookspec
def modelshelf_before_delete(registry: RegistryView, metadata: ModelMetadata) -> None:
    """Called before a version is deleted; raise VetoError to keep it.

    :param registry: the registry.
    :param metadata: the version about to be deleted.
    :raises VetoError: to refuse the deletion.

    .. versionadded:: 0.1
    """


@hookspec
def modelshelf_after_delete(registry: RegistryView, metadata: ModelMetadata) -> None:
    """Called after a version's record and files were deleted.

    :param registry: the registry.
    :param metadata: the version as it was.

    .. versionadded:: 0.1
    """
