"""The ``modelshelf`` group and what every command shares.

One place for the exit codes and how errors map to them, the options every
command takes (``--registry``, ``--store``, ``--json``, ``--debug``), the
:class:`Env` that opens the registry once per command, and
:func:`shelf_command`, which command modules use to register on :data:`cli`.
Only this package imports click and rich; ``import modelshelf`` stays cheap.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

import click

from modelshelf.errors import (
    CorruptMetadataError,
    DeserializationError,
    DuplicateVersionError,
    GcRefusedError,
    IntegrityError,
    InvalidInputError,
    MetadataMissingError,
    ModelShelfError,
    ModelShelfWarning,
    NotFoundError,
    PluginError,
    UnknownPluginError,
    VetoError,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from modelshelf.registry import ModelRegistry

#: What each exit code means; docs/cli.md prints this table.
EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "not found: no such registry, model, version, alias or stage (or nothing to rank)",
    2: "usage error or bad input: unknown option, invalid value, reference or file, "
    "or input that does not fit the model's signature (SchemaError)",
    3: "integrity failure: checksum or signature mismatch, tampered or unsafe bundle, "
    "verify found missing or damaged files, the registry's metadata is lost "
    "(see `modelshelf recover`), or gc refused to delete what looks like lost versions",
    4: "vetoed: a plugin's lifecycle hook refused the operation",
    5: "conflict: the version already exists",
    6: "store, storage or plugin failure (I/O, database, a plugin that will not load)",
    7: "the model's code is missing: a module or class it needs cannot be imported here "
    "(its bytes are intact)",
    130: "interrupted (Ctrl-C)",
}
EXIT_NOT_FOUND = 1
EXIT_USAGE = 2
EXIT_INTEGRITY = 3
EXIT_VETO = 4
EXIT_CONFLICT = 5
EXIT_BACKEND = 6
EXIT_MISSING_CODE = 7
EXIT_INTERRUPTED = 130

DEFAULT_REGISTRY = "data/models/registry"
_DEBUG_KEY = "modelshelf.debug"
_JSON_KEY = "modelshelf.json"


def exit_code_for(exc: BaseException) -> int:
    """The exit code for an error raised by the registry."""
    from modelshelf.bundle import ImportConflictError

    if isinstance(
        exc, (IntegrityError, CorruptMetadataError, MetadataMissingError, GcRefusedError)
    ):
        return EXIT_INTEGRITY
    if isinstance(exc, DeserializationError):
        return EXIT_MISSING_CODE
    if isinstance(exc, VetoError):
        return EXIT_VETO
    if isinstance(exc, (DuplicateVersionError, ImportConflictError)):
        return EXIT_CONFLICT
    if isinstance(exc, (PluginError, UnknownPluginError)):
        return EXIT_BACKEND
    if isinstance(exc, NotFoundError):
        return EXIT_NOT_FOUND
    if isinstance(exc, InvalidInputError):
        return EXIT_USAGE
    return EXIT_BACKEND


class Failure(click.ClickException):
    """An error shown as one line (``error: ...``) with a chosen exit code."""

    def __init__(self, message: str, exit_code: int, kind: str = "Error") -> None:
        super().__init__(" ".join(message.split()))
        self.exit_code = exit_code  # type: ignore[misc]  # click types it as a ClassVar
        self.kind = kind
        #: Set when the command ran with --json: the error is echoed as JSON on stdout too.
        self.as_json = False

    def show(self, file: Any = None) -> None:
        if self.as_json:
            error = {"type": self.kind, "message": self.message, "exit_code": self.exit_code}
            click.echo(json.dumps({"error": error}), file=sys.stdout)
        click.echo(f"error: {self.message}", err=True)


@contextlib.contextmanager
def _warnings_on_stderr() -> Iterator[None]:
    """Print each modelshelf warning as one ``warning: ...`` line on stderr, every
    time, whatever the warning filters say: a command's answer may hinge on it
    (a scoring weight that matches no metric, a refused load)."""
    shown = warnings.showwarning

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        if issubclass(category, ModelShelfWarning):
            click.echo(f"warning: {' '.join(str(message).split())}", err=True)
        else:
            shown(message, category, filename, lineno, file, line)

    with warnings.catch_warnings():
        warnings.simplefilter("always", ModelShelfWarning)
        warnings.showwarning = show
        yield


class ShelfGroup(click.Group):
    """Turns registry errors into one-line messages and exit codes (unless --debug)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with _warnings_on_stderr():
                return self._invoke(ctx)
        except Failure as exc:
            exc.as_json = bool(ctx.meta.get(_JSON_KEY))
            raise

    def _invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Failure:
            raise
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else ctx.command_path
            raise Failure(
                f"{exc.format_message()} (see `{where} --help`)", EXIT_USAGE, "UsageError"
            ) from exc
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except ModelShelfError as exc:
            if ctx.meta.get(_DEBUG_KEY):
                raise
            raise Failure(str(exc), exit_code_for(exc), type(exc).__name__) from exc
        except OSError as exc:
            if ctx.meta.get(_DEBUG_KEY):
                raise
            raise Failure(str(exc), EXIT_BACKEND, type(exc).__name__) from exc


# -- shared options ----------------------------------------------------------------------


def _set_flag(key: str) -> Callable[[click.Context, click.Parameter, bool], bool]:
    def callback(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
        if value:
            ctx.meta[key] = True
        return value

    return callback


class Env:
    """What every command needs: where the registry is and how to print."""

    def __init__(
        self, registry: str, store: str | None, store_url: str | None, as_json: bool
    ) -> None:
        self.location = registry
        self.store = store
        self.store_url = store_url
        self.as_json = as_json
        self._registry: ModelRegistry | None = None

    @property
    def path(self) -> Path:
        location = self.location
        if location.startswith("file://"):
            return Path(location.removeprefix("file://"))
        if "://" in location:
            raise click.BadParameter(
                f"{location!r}: give the registry's directory (or a file:// URL); "
                "point at a database with --store-url",
                param_hint="--registry",
            )
        return Path(location)

    def open(self, *, create: bool = False, **options: Any) -> ModelRegistry:
        """Open the registry; it must exist unless ``create`` (init, save, import)."""
        if self._registry is not None:
            return self._registry
        location: str | Path
        if "://" in self.location and not self.location.startswith("file://"):
            # Object storage (s3://, gs://, memory://...): artifacts live there and
            # --store-url says where the metadata is.
            if not self.store_url:
                raise click.BadParameter(
                    f"{self.location!r} holds artifacts only: say where the metadata lives "
                    "with --store-url (e.g. postgresql://host/db)",
                    param_hint="--registry",
                )
            location = self.location
        else:
            location = path = self.path
            if not create and not path.is_dir():
                raise Failure(
                    f"no registry at {path} (create one with `modelshelf init --registry "
                    f"{path}` or set MODELSHELF_REGISTRY)",
                    EXIT_NOT_FOUND,
                    "RegistryNotFound",
                )
        from modelshelf.registry import ModelRegistry

        if self.store:
            options["store"] = self.store
        if self.store_url:
            options["store_url"] = self.store_url
        self._registry = ModelRegistry(location, **options)
        return self._registry

    def close(self) -> None:
        if self._registry is not None:
            self._registry.close()
            self._registry = None


_COMMON = [
    click.option(
        "--registry",
        "registry",
        envvar="MODELSHELF_REGISTRY",
        default=DEFAULT_REGISTRY,
        show_default=True,
        metavar="PATH_OR_URL",
        help="Registry directory, or an fsspec URL for the artifacts (s3://bucket/prefix) "
        "with --store-url for the metadata (env MODELSHELF_REGISTRY).",
    ),
    click.option(
        "--store",
        envvar="MODELSHELF_STORE",
        default=None,
        metavar="NAME",
        help="Metadata store plugin (sqlite, json, ...); default: the registry's "
        "modelshelf.toml, else sqlite (env MODELSHELF_STORE).",
    ),
    click.option(
        "--store-url",
        envvar="MODELSHELF_STORE_URL",
        default=None,
        metavar="URL",
        help="Database URL for a server-backed store (env MODELSHELF_STORE_URL).",
    ),
    click.option(
        "--json",
        "as_json",
        is_flag=True,
        callback=_set_flag(_JSON_KEY),
        help="Print machine-readable JSON on stdout.",
    ),
    click.option(
        "--debug",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_set_flag(_DEBUG_KEY),
        help="Show the full traceback on errors.",
    ),
]
_COMMON_NAMES = {"registry", "store", "store_url", "as_json", "debug"}
_BEFORE_KEY = "modelshelf.before-command"


def _remember(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and param.name:
        ctx.meta.setdefault(_BEFORE_KEY, {})[param.name] = value
    return value


#: The shared options once more, for the group itself: ``modelshelf --registry R ls``
#: means ``modelshelf ls --registry R``. Given on both sides, the command's own wins.
_COMMON_BEFORE = [
    click.option(
        "--registry",
        metavar="PATH_OR_URL",
        callback=_remember,
        expose_value=False,
        help="The registry, for any command (see each command's --registry).",
    ),
    click.option(
        "--store", metavar="NAME", callback=_remember, expose_value=False, help="As --store."
    ),
    click.option(
        "--store-url", metavar="URL", callback=_remember, expose_value=False, help="As --store-url."
    ),
    click.option(
        "--json",
        is_flag=True,
        expose_value=False,
        callback=_set_flag(_JSON_KEY),
        help="Print machine-readable JSON on stdout, for any command.",
    ),
    _COMMON[-1],  # --debug
]


def _given_before(ctx: click.Context, name: str, value: Any) -> Any:
    """``value``, unless it is only a default or from the environment and the
    option was given before the command name."""
    before = ctx.meta.get(_BEFORE_KEY, {})
    source = ctx.get_parameter_source(name)
    if name in before and source is not click.core.ParameterSource.COMMANDLINE:
        return before[name]
    return value


def shelf_command(
    group: click.Group, name: str | None = None, **settings: Any
) -> Callable[[Callable[..., Any]], click.Command]:
    """Register ``func(env, **options)`` as a command with the shared options last."""

    def decorate(func: Callable[..., Any]) -> click.Command:
        @functools.wraps(func)
        def run(
            registry: str, store: str | None, store_url: str | None, as_json: bool, **kwargs: Any
        ) -> Any:
            ctx = click.get_current_context()
            env = Env(
                _given_before(ctx, "registry", registry),
                _given_before(ctx, "store", store),
                _given_before(ctx, "store_url", store_url),
                as_json or bool(ctx.meta.get(_JSON_KEY)),
            )
            ctx.call_on_close(env.close)
            return func(env, **kwargs)

        for option in reversed(_COMMON):
            run = option(run)
        command = group.command(name, **settings)(run)
        command.params = [p for p in command.params if p.name not in _COMMON_NAMES] + [
            p for p in command.params if p.name in _COMMON_NAMES
        ]
        return command

    return decorate


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("modelshelf")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


def _common_before(group: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_COMMON_BEFORE):
        group = option(group)
    return group


@click.group(cls=ShelfGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="modelshelf", message="modelshelf %(version)s")
@_common_before
def cli() -> None:
    """modelshelf: save, find, promote, export and load model versions.

    References name a version: NAME (latest), NAME:VERSION, NAME@ALIAS,
    NAME/STAGE, or a numeric model id.
    """


def main(argv: list[str] | None = None) -> NoReturn:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="modelshelf")
    raise SystemExit(0)  # pragma: no cover - cli.main always exits
