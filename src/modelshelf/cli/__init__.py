"""The ``modelshelf`` command: every registry workflow from a shell.

Each command opens the registry named by ``--registry`` (or
``MODELSHELF_REGISTRY``, default ``data/models/registry``), does one thing
through the public Python API, and prints a table for people or, with
``--json``, JSON for programs. Errors are one line on stderr and an exit code
a script can branch on (see :data:`EXIT_CODES`); ``--debug`` shows the
traceback instead.

Only this package imports click and rich; ``import modelshelf`` stays cheap.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
import warnings
from datetime import datetime, timezone
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
    ModelNotFoundError,
    ModelShelfError,
    ModelShelfWarning,
    NotFoundError,
    PluginError,
    UnknownPluginError,
    VetoError,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from modelshelf.metadata import ModelMetadata
    from modelshelf.registry import ModelRegistry

__all__ = ["EXIT_CODES", "cli", "exit_code_for", "main"]

#: What each exit code means; docs/cli.md prints this table.
EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "not found: no such registry, model, version, alias or stage (or nothing to rank)",
    2: "usage error or bad input: unknown option, invalid value, reference or file",
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


# -- parsing helpers ---------------------------------------------------------------------


def _pairs(option: str, values: Iterable[str]) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{value!r} must look like KEY=VALUE", param_hint=option)
        pairs.append((key.strip(), rest))
    return pairs


def _numbers(option: str, values: Iterable[str]) -> dict[str, float]:
    out = {}
    for key, text in _pairs(option, values):
        try:
            out[key] = float(text)
        except ValueError:
            raise click.BadParameter(
                f"{key}={text!r}: the value must be a number", param_hint=option
            ) from None
    return out


def _json_value(text: str) -> Any:
    """A --param value: JSON when it parses (5, 0.1, true, [1,2]), else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _read_mapping(path: Path, option: str) -> dict[str, Any]:
    """A JSON or YAML file holding one mapping."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise click.BadParameter(f"cannot read {path}: {exc.strerror}", param_hint=option) from exc
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise click.BadParameter(
                f"{path} is YAML, and reading YAML needs PyYAML (pip install 'modelshelf[yaml]'); "
                "or give a JSON file",
                param_hint=option,
            ) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise click.BadParameter(f"{path} is not valid YAML: {exc}", param_hint=option) from exc
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise click.BadParameter(f"{path} is not valid JSON: {exc}", param_hint=option) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise click.BadParameter(
            f"{path} must hold a mapping, not {type(data).__name__}", param_hint=option
        )
    return data


def _timestamp(option: str, text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not an ISO 8601 date or time (e.g. 2024-05-01 or 2024-05-01T12:00)",
            param_hint=option,
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _reference(text: str) -> int | str:
    """A numeric model id or a reference string."""
    return int(text) if text.isdigit() else text


def _load_model_file(path: Path, fmt: str) -> Any:
    """Load a model the user serialized themselves (their own file: trusted by them)."""
    try:
        if fmt == "pickle":
            import pickle

            with open(path, "rb") as stream:
                return pickle.load(stream)  # the user's own model file
        if fmt == "cloudpickle":
            import cloudpickle

            with open(path, "rb") as stream:
                return cloudpickle.load(stream)
        import joblib  # reads joblib files and plain pickles alike

        return joblib.load(path)
    except Exception as exc:
        raise InvalidInputError(
            f"could not load the model file {path} as {fmt}: {type(exc).__name__}: {exc}"
        ) from exc


def _out(env: Env, data: Any, human: Callable[[], None]) -> None:
    from modelshelf.cli import _output

    if env.as_json:
        _output.emit_json(data)
    else:
        human()


def _say(message: str) -> None:
    from modelshelf.cli import _output

    _output.plain(message)


def _meta(metadata: ModelMetadata) -> dict[str, Any]:
    from modelshelf.cli._output import metadata_dict

    return metadata_dict(metadata)


def _list_filters(
    *,
    name: str | None,
    model_type: str | None,
    stage: str | None,
    alias: str | None,
    tags: tuple[str, ...],
    minimum: tuple[str, ...],
    maximum: tuple[str, ...],
) -> dict[str, Any]:
    filters: dict[str, Any] = {}
    if name is not None:
        filters["model_name"] = name
    if model_type is not None:
        filters["model_type"] = model_type
    if stage is not None:
        filters["stage"] = stage
    if alias is not None:
        filters["alias"] = alias
    if tags:
        filters["tags"] = dict(_pairs("--tag", tags))
    if minimum:
        filters["min_metrics"] = _numbers("--min", minimum)
    if maximum:
        filters["max_metrics"] = _numbers("--max", maximum)
    return filters


def _filter_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--name", "-n", help="Only this model name."),
        click.option("--type", "model_type", help="Only this model type (e.g. XGBClassifier)."),
        click.option("--stage", help="Only this stage (None, Staging, Production, Archived)."),
        click.option("--alias", help="Only the version this alias points at."),
        click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Tag filter."),
        click.option(
            "--min",
            "minimum",
            multiple=True,
            metavar="METRIC=VALUE",
            help="Lowest accepted metric value, e.g. --min f1=0.7 (repeatable).",
        ),
        click.option(
            "--max",
            "maximum",
            multiple=True,
            metavar="METRIC=VALUE",
            help="Highest accepted metric value, e.g. --max rmse=0.3 (repeatable).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


# -- commands ----------------------------------------------------------------------------

_PLUGIN_OPTIONS = ("store", "serializer", "storage", "versioning", "scoring")


@shelf_command(cli)
@click.option("--serializer", metavar="NAME", help="Default serializer (joblib, cloudpickle).")
@click.option("--storage", metavar="NAME", help="Artifact storage plugin (local, ...).")
@click.option("--versioning", metavar="NAME", help="Versioning scheme (semver, integer).")
@click.option("--scoring", metavar="NAME", help="Scoring policy (f1, composite).")
@click.option("--force", is_flag=True, help="Overwrite an existing modelshelf.toml.")
def init(env: Env, force: bool, **choices: str | None) -> None:
    """Create a registry, recording its plugins in registry.json.

    The store, versioning scheme, default serializer and storage are
    recorded once (choices not given fall back to sqlite, semver, joblib,
    local); every later command and ModelRegistry(path) uses them, and a
    contradicting option is refused. An existing registry with no record is
    recorded as it is. --scoring, a preference, goes to modelshelf.toml.

    Example: modelshelf init --registry data/models/team --versioning integer
    """
    chosen = {k: v for k, v in choices.items() if v}
    if env.store:
        chosen["store"] = env.store
    config = env.path / "modelshelf.toml"
    scoring = chosen.pop("scoring", None)
    if scoring and config.exists() and not force:
        raise Failure(
            f"{config} already exists; edit it, or pass --force to replace it", EXIT_USAGE
        )
    registry = env.open(
        create=True,
        scoring=scoring,
        **{k: v for k, v in chosen.items() if k != "store"},
    )
    manifest = None if registry.remote else registry.adopt()
    if scoring:
        lines = ["# modelshelf registry settings, written by `modelshelf init`.\n"]
        lines.append(f"scoring = {json.dumps(scoring)}\n")
        temp = config.with_name(f".{config.name}.tmp")
        temp.write_text("".join(lines))
        os.replace(temp, config)
    recorded = {
        key: getattr(manifest, key)
        for key in ("store", "versioning", "serializer", "storage")
        if manifest is not None and getattr(manifest, key)
    }
    summary = {
        "registry": str(registry.storage_path),
        "record": None if manifest is None else str(registry.storage_path / "registry.json"),
        "config": str(config) if config.exists() else None,
        "serializer": registry.serializer.name,
        "versioning": registry.versioning.name,
        **recorded,
        **({"scoring": scoring} if scoring else {}),
    }
    _out(
        env,
        summary,
        lambda: _say(
            f"registry ready at {registry.storage_path}"
            + (f" ({', '.join(f'{k} {v}' for k, v in recorded.items())})" if recorded else "")
        ),
    )


@shelf_command(cli)
@click.argument("model_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", "-n", "model_name", required=True, help="Model name.")
@click.option("--type", "model_type", help="Model type; default: the loaded object's class.")
@click.option("--version", help="Explicit version; default: the scheme's next one.")
@click.option("--description", "-d", help="Free text.")
@click.option(
    "--metrics",
    "metrics_file",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="JSON or YAML file of metric: number.",
)
@click.option(
    "--params",
    "params_file",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="JSON or YAML file of hyperparameters.",
)
@click.option(
    "--metric",
    "metric_flags",
    multiple=True,
    metavar="NAME=NUMBER",
    help="One metric (repeatable; wins over --metrics).",
)
@click.option(
    "--param",
    "param_flags",
    multiple=True,
    metavar="NAME=VALUE",
    help="One hyperparameter; the value is read as JSON when it parses (repeatable).",
)
@click.option("--tag", "tag_flags", multiple=True, metavar="KEY=VALUE", help="A tag (repeatable).")
@click.option("--stage", help="Stage to record it in (default: none).")
@click.option(
    "--training-info",
    "training_file",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="JSON or YAML file: dataset, n_samples, class_distribution, ...",
)
@click.option(
    "--artifact",
    "artifact_flags",
    multiple=True,
    metavar="NAME=FILE",
    help="An auxiliary artifact (e.g. a fitted scaler) saved with it (repeatable).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "joblib", "pickle", "cloudpickle"]),
    default="auto",
    show_default=True,
    help="How MODEL_FILE was written; auto reads joblib files and plain pickles.",
)
@click.option("--serializer", metavar="NAME", help="Serializer to store it with.")
def save(
    env: Env,
    model_file: Path,
    model_name: str,
    model_type: str | None,
    version: str | None,
    description: str | None,
    metrics_file: Path | None,
    params_file: Path | None,
    metric_flags: tuple[str, ...],
    param_flags: tuple[str, ...],
    tag_flags: tuple[str, ...],
    stage: str | None,
    training_file: Path | None,
    artifact_flags: tuple[str, ...],
    fmt: str,
    serializer: str | None,
) -> None:
    """Register MODEL_FILE (a joblib or pickle file you wrote) as a new version.

    Loading a pickle runs code: only save files you trust. YAML files need
    PyYAML installed.

    Example: modelshelf save model.joblib --name churn --metric f1=0.91 --tag team=growth
    """
    metrics: dict[str, Any] = _read_mapping(metrics_file, "--metrics") if metrics_file else {}
    metrics.update(_numbers("--metric", metric_flags))
    params = _read_mapping(params_file, "--params") if params_file else {}
    params.update({k: _json_value(v) for k, v in _pairs("--param", param_flags)})
    training = _read_mapping(training_file, "--training-info") if training_file else None
    artifacts = {}
    for name, text in _pairs("--artifact", artifact_flags):
        path = Path(text)
        if not path.is_file():
            raise click.BadParameter(f"{name}={text}: no such file", param_hint="--artifact")
        artifacts[name] = path
    registry = env.open(create=True, **({"serializer": serializer} if serializer else {}))
    model = _load_model_file(model_file, fmt)
    loaded = {name: _load_model_file(path, fmt) for name, path in artifacts.items()}
    model_id = registry.save_model(
        model,
        model_name=model_name,
        model_type=model_type,
        metrics=metrics,
        hyperparameters=params,
        description=description,
        version=version,
        tags=dict(_pairs("--tag", tag_flags)),
        stage=stage,
        training_info=training,
        artifacts=loaded,
    )
    metadata = registry.get_metadata(model_id)
    _out(env, _meta(metadata), lambda: _say(f"saved {metadata.reference} (id {model_id})"))


@shelf_command(cli, "ls")
@_filter_options
@click.option("--created-after", metavar="WHEN", help="ISO 8601 date/time (UTC if no zone).")
@click.option("--created-before", metavar="WHEN", help="ISO 8601 date/time (UTC if no zone).")
@click.option(
    "--order-by",
    default="model_id",
    show_default=True,
    help="A field (model_id, version, created_at, ...) or a metric name.",
)
@click.option("--desc", "descending", is_flag=True, help="Largest first.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many rows.")
@click.option("--offset", type=click.IntRange(min=0), default=0, help="Skip this many rows.")
def ls(
    env: Env,
    name: str | None,
    model_type: str | None,
    stage: str | None,
    alias: str | None,
    tags: tuple[str, ...],
    minimum: tuple[str, ...],
    maximum: tuple[str, ...],
    created_after: str | None,
    created_before: str | None,
    order_by: str,
    descending: bool,
    limit: int | None,
    offset: int,
) -> None:
    """List versions as a table, with the same filters as list_models().

    On a terminal the table fits its width: ids, names, versions and stages
    are never cut, and the columns that do not fit (the rarer metrics, type,
    creation time) are named under it. Piped output has every column.

    Example: modelshelf ls --name churn --min f1=0.8 --order-by f1 --desc
    """
    filters = _list_filters(
        name=name,
        model_type=model_type,
        stage=stage,
        alias=alias,
        tags=tags,
        minimum=minimum,
        maximum=maximum,
    )
    after = _timestamp("--created-after", created_after)
    before = _timestamp("--created-before", created_before)
    rows = env.open().list_models(
        created_after=after,
        created_before=before,
        order_by=order_by,
        descending=descending,
        limit=limit,
        offset=offset,
        **filters,
    )

    def human() -> None:
        from modelshelf.cli import _output

        if rows:
            _output.versions_table(rows)
        else:
            _output.plain("no model versions match")

    _out(env, [_meta(m) for m in rows], human)


@shelf_command(cli)
@click.argument("reference")
def show(env: Env, reference: str) -> None:
    """Show everything about one version: metrics, parameters, training, files.

    Example: modelshelf show churn@champion
    """
    registry = env.open()
    metadata = registry.get_metadata(_reference(reference))
    score = registry.score(metadata)
    parent = None
    if metadata.parent_id is not None:
        try:
            parent = (
                f"{registry.get_metadata(metadata.parent_id).reference} (id {metadata.parent_id})"
            )
        except ModelNotFoundError:
            parent = f"id {metadata.parent_id} (deleted)"

    def human() -> None:
        from modelshelf.cli import _output

        _output.show_version(metadata, score=score, parent=parent)

    _out(env, {**_meta(metadata), "score": score}, human)


@shelf_command(cli)
@click.option("--metric", "-m", help="Rank by this metric; default: the scoring policy.")
@_filter_options
def best(
    env: Env,
    metric: str | None,
    name: str | None,
    model_type: str | None,
    stage: str | None,
    alias: str | None,
    tags: tuple[str, ...],
    minimum: tuple[str, ...],
    maximum: tuple[str, ...],
) -> None:
    """Show the best version by a metric or by the registry's scoring policy.

    Example: modelshelf best --name churn --metric f1
    """
    filters = _list_filters(
        name=name,
        model_type=model_type,
        stage=stage,
        alias=alias,
        tags=tags,
        minimum=minimum,
        maximum=maximum,
    )
    registry = env.open()
    found = registry.get_best_model(metric, **filters)
    if found is None:
        by = f"metric {metric!r}" if metric else "the scoring policy"
        raise Failure(f"no version matches and can be ranked by {by}", EXIT_NOT_FOUND, "NoBest")
    metadata = found
    score = metadata.metrics.get(metric) if metric else registry.score(metadata)

    def human() -> None:
        label = metric or "score"
        value = "-" if score is None else f"{score:.4g}"
        _say(f"best: {metadata.reference} (id {metadata.model_id}, {label} {value})")

    _out(env, {**_meta(metadata), "score": score}, human)


@shelf_command(cli)
@click.argument("reference")
@click.option("--stage", "-s", default="Production", show_default=True, help="Stage to move it to.")
@click.option("--reason", default="", help="Recorded in the audit log.")
def promote(env: Env, reference: str, stage: str, reason: str) -> None:
    """Move a version to a stage (Production archives the previous one).

    Example: modelshelf promote churn:1.0.2 --reason "better f1"
    """
    metadata = env.open().promote(_reference(reference), stage, reason=reason)
    _out(env, _meta(metadata), lambda: _say(f"{metadata.reference} is now {metadata.stage.value}"))


@shelf_command(cli)
@click.argument("model_name")
@click.argument("version")
@click.argument("stage")
@click.option(
    "--keep-existing", is_flag=True, help="Do not archive the current Production version."
)
@click.option("--reason", default="", help="Recorded in the audit log.")
def transition(
    env: Env, model_name: str, version: str, stage: str, keep_existing: bool, reason: str
) -> None:
    """Move MODEL_NAME VERSION to STAGE (None, Staging, Production, Archived).

    Example: modelshelf transition churn 1.0.0 Archived
    """
    metadata = env.open().transition_stage(
        model_name, version, stage, archive_existing=not keep_existing, reason=reason
    )
    _out(env, _meta(metadata), lambda: _say(f"{metadata.reference} is now {metadata.stage.value}"))


@cli.group(cls=ShelfGroup)
def alias() -> None:
    """Point a named alias (e.g. champion) at a version, move it, or delete it."""


@shelf_command(alias, "set")
@click.argument("reference")
@click.argument("alias_name", metavar="ALIAS")
@click.option("--reason", default="", help="Recorded in the audit log.")
def alias_set(env: Env, reference: str, alias_name: str, reason: str) -> None:
    """Point ALIAS at the version REFERENCE names (moving it if it is set).

    Example: modelshelf alias set churn:1.0.2 champion
    """
    metadata = env.open().set_alias(_reference(reference), alias_name, reason=reason)
    _out(
        env,
        _meta(metadata),
        lambda: _say(f"{metadata.model_name}@{alias_name} -> {metadata.reference}"),
    )


@shelf_command(alias, "delete")
@click.argument("model_name")
@click.argument("alias_name", metavar="ALIAS")
@click.option("--reason", default="", help="Recorded in the audit log.")
def alias_delete(env: Env, model_name: str, alias_name: str, reason: str) -> None:
    """Remove ALIAS from MODEL_NAME.

    Example: modelshelf alias delete churn champion
    """
    removed = env.open().delete_alias(model_name, alias_name, reason=reason)
    if not removed:
        raise Failure(f"{model_name}@{alias_name} is not set", EXIT_NOT_FOUND, "AliasNotFound")
    _out(
        env,
        {"model_name": model_name, "alias": alias_name, "deleted": True},
        lambda: _say(f"deleted {model_name}@{alias_name}"),
    )


@shelf_command(cli)
@click.argument("model_name")
@click.option("--reason", default="", help="Recorded in the audit log beside the rollback.")
def rollback(env: Env, model_name: str, reason: str) -> None:
    """Put MODEL_NAME's previous Production version back in Production.

    Example: modelshelf rollback churn
    """
    metadata = env.open().rollback(model_name, reason=reason)
    _out(env, _meta(metadata), lambda: _say(f"{metadata.reference} is Production again"))


@shelf_command(cli)
@click.argument("reference")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def delete(env: Env, reference: str, yes: bool) -> None:
    """Delete one version: its record, then its files.

    Example: modelshelf delete churn:1.0.0 --yes
    """
    registry = env.open()
    metadata = registry.get_metadata(_reference(reference))
    if not yes:
        if not sys.stdin.isatty():
            raise Failure(
                f"refusing to delete {metadata.reference} without --yes (not a terminal)",
                EXIT_USAGE,
            )
        click.confirm(f"delete {metadata.reference} (id {metadata.model_id})?", abort=True)
    if not registry.delete_model(metadata.model_id):
        raise Failure(f"{metadata.reference} was deleted meanwhile", EXIT_NOT_FOUND)
    _out(
        env,
        {**_meta(metadata), "deleted": True},
        lambda: _say(f"deleted {metadata.reference} (id {metadata.model_id})"),
    )


@shelf_command(cli, "export")
@click.argument("reference", required=False)
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(path_type=Path),
    help="Bundle to write: a directory, or an archive if it ends .tar.gz.",
)
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Export the whole registry (or every version of --name).",
)
@click.option("--name", "-n", help="With --all: only this model name.")
def export_cmd(
    env: Env, reference: str | None, output: Path, everything: bool, name: str | None
) -> None:
    """Write a version (REFERENCE) or the registry (--all) as a verifiable bundle.

    Example: modelshelf export churn@champion --output bundles/churn.tar.gz
    """
    from modelshelf import bundle
    from modelshelf.cli import _output

    if everything == (reference is not None):
        raise click.UsageError("give either a REFERENCE or --all")
    if name and not everything:
        raise click.UsageError("--name goes with --all")
    registry = env.open()
    if reference is not None:
        metadata = registry.get_metadata(_reference(reference))
        path = bundle.export_version(registry, metadata.model_id, output)
        data: dict[str, Any] = {
            "path": str(path.resolve()),
            "count": 1,
            "versions": [metadata.reference],
        }
    else:
        with _output.progress_bar(True) as bar:
            exported = bundle.export_registry(
                registry,
                output,
                model_name=name,
                progress=_output.progress_callback(bar, "exporting"),
            )
        path = exported.path
        data = {
            "path": str(path.resolve()),
            "count": len(exported.references),
            "versions": list(exported.references),
        }
    _out(env, data, lambda: _say(f"exported {data['count']} version(s) to {path}"))


@shelf_command(cli, "import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--on-conflict",
    type=click.Choice(["refuse", "renumber"]),
    default="refuse",
    show_default=True,
    help="When a version already exists: refuse the import, or give it the next version.",
)
@click.option("--no-stage", is_flag=True, help="Import with no stage instead of the exported one.")
def import_cmd(env: Env, path: Path, on_conflict: str, no_stage: bool) -> None:
    """Verify a bundle completely, then record its version(s) in the registry.

    Example: modelshelf import churn-1.0.2.tar.gz --on-conflict renumber
    """
    from modelshelf import bundle
    from modelshelf.cli import _output

    registry = env.open(create=True)
    with _output.progress_bar(True) as bar:
        imported = bundle.import_path(
            registry,
            path,
            on_conflict=on_conflict,  # type: ignore[arg-type]
            keep_stage=not no_stage,
            progress=_output.progress_callback(bar, "importing"),
        )

    def human() -> None:
        for item in imported:
            note = "  (" + "; ".join(item.notes) + ")" if item.notes else ""
            _say(
                f"imported {item.source_reference} as {item.metadata.reference} "
                f"(id {item.metadata.model_id}){note}"
            )

    _out(env, [item.as_dict() for item in imported], human)


@shelf_command(cli)
@click.option(
    "--bundle",
    "bundle_path",
    type=click.Path(exists=True, path_type=Path),
    help="Check this bundle instead of the registry (nothing is imported).",
)
@click.option("--shallow", is_flag=True, help="Check sizes only; do not hash every file.")
def verify(env: Env, bundle_path: Path | None, shallow: bool) -> None:
    """Check stored files against their checksums; exit 3 if any is missing or damaged.

    Example: modelshelf verify
    """
    if bundle_path is not None:
        from modelshelf import bundle

        checked = bundle.verify_path(env.open(), bundle_path)
        data = {
            "ok": True,
            "bundle": str(bundle_path),
            "versions": [b.metadata.reference for b in checked],
            "signature_checked": all(b.signature_checked for b in checked),
        }
        _out(
            env,
            data,
            lambda: _say(
                f"bundle ok: {len(checked)} version(s)"
                + (", signature checked" if data["signature_checked"] else "")
            ),
        )
        return
    try:
        report = env.open().verify(deep=not shallow)
    except MetadataMissingError as exc:
        lost = {"kind": "metadata", "key": None, "model_id": None, "detail": str(exc)}
        _out(
            env,
            {"ok": False, "checked": 0, "findings": [lost]},
            lambda: _say(f"metadata  {lost['detail']}"),
        )
        raise click.exceptions.Exit(EXIT_INTEGRITY) from exc
    findings = [
        {"kind": f.kind, "key": f.key, "model_id": f.model_id, "detail": f.detail}
        for f in report.findings
    ]

    def human() -> None:
        for f in report.findings:
            _say(f"{f.kind:9} {f.key}  {f.detail}")
        from modelshelf.registry import PROBLEM_KINDS

        problems = sum(1 for f in report.findings if f.kind in PROBLEM_KINDS)
        _say(
            f"checked {report.checked} file(s): "
            + ("ok" if report.ok else f"{problems} problem(s)")
            + (
                f", {len(report.findings) - problems} to clean up (modelshelf gc)"
                if len(report.findings) > problems
                else ""
            )
        )

    _out(env, {"ok": report.ok, "checked": report.checked, "findings": findings}, human)
    if not report.ok:
        raise click.exceptions.Exit(EXIT_INTEGRITY)


@shelf_command(cli)
@click.option("--apply", "apply_", is_flag=True, help="Delete; without it, only list.")
@click.option(
    "--min-age",
    type=click.FloatRange(min=0),
    default=3600.0,
    show_default=True,
    help="Leave files younger than this many seconds (a save may be in flight).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Also delete what looks like lost versions (unrecorded files, or most of the "
    "registry); run `modelshelf recover` first.",
)
def gc(env: Env, apply_: bool, min_age: float, force: bool) -> None:
    """Find (and with --apply remove) orphan and leftover temporary files.

    Files of versions the metadata store no longer records are kept unless
    --force: they are lost metadata, not leftovers.

    Example: modelshelf gc
    """
    keys = env.open().gc(dry_run=not apply_, min_age_seconds=min_age, force=force)

    def human() -> None:
        for key in keys:
            _say(("removed " if apply_ else "would remove ") + key)
        _say(f"{len(keys)} file(s) " + ("removed" if apply_ else "to remove (use --apply)"))

    _out(env, {"applied": apply_, "files": keys}, human)


@shelf_command(cli)
@click.option(
    "--versioning", metavar="NAME", help="Versioning scheme, if the registry has no record."
)
def recover(env: Env, versioning: str | None) -> None:
    """Rebuild lost or damaged metadata from the sidecars beside the model files.

    A damaged metadata file is moved aside (never deleted); every version
    whose sidecar survives and whose files match their checksums is recorded
    again. Exit 3 if something could not be recovered or verified.

    Example: modelshelf recover --registry data/models/registry
    """
    from modelshelf.recovery import recover as rebuild

    path = env.path
    if not path.is_dir():
        raise Failure(f"no registry at {path}", EXIT_NOT_FOUND, "RegistryNotFound")
    options: dict[str, Any] = {}
    if env.store:
        options["store"] = env.store
    if env.store_url:
        options["store_url"] = env.store_url
    if versioning:
        options["versioning"] = versioning
    report = rebuild(path, **options)

    def human() -> None:
        for moved in report.set_aside:
            _say(f"set aside {moved}")
        for reference in report.recovered:
            _say(f"recovered {reference}")
        for reason in report.skipped:
            _say(f"skipped   {reason}")
        for key in report.unrecoverable:
            _say(f"no sidecar {key} (left in place; `modelshelf gc` removes leftovers)")
        _say(
            f"{len(report.recovered)} version(s) recovered, {report.already_recorded} already "
            f"recorded, {len(report.skipped)} skipped; verify "
            + ("ok" if report.verify.ok else "found problems (run `modelshelf verify`)")
        )

    _out(env, {**report.as_dict(), "ok": report.ok}, human)
    if not report.ok:
        raise click.exceptions.Exit(EXIT_INTEGRITY)


@shelf_command(cli)
def stats(env: Env) -> None:
    """Counts by name, type and stage, storage used, and the best version of each name.

    Example: modelshelf stats
    """
    registry = env.open()
    summary = registry.summary()
    by_name: dict[str, int] = summary["by_name"]
    by_type: dict[str, int] = summary["by_type"]
    by_stage = {stage: n for stage, n in summary["by_stage"].items() if n}
    size: int = summary["storage_bytes"]
    best_of: dict[str, Any] = {}
    for name, reference in summary["best"].items():
        top = None if reference is None else registry.get_metadata(reference)
        best_of[name] = (
            None
            if top is None
            else {
                "reference": top.reference,
                "model_id": top.model_id,
                "score": registry.score(top),
            }
        )
    data = {
        "versions": summary["versions"],
        "names": len(by_name),
        "storage_bytes": size,
        "by_name": by_name,
        "by_type": by_type,
        "by_stage": by_stage,
        "best": best_of,
    }

    def human() -> None:
        from rich.table import Table

        from modelshelf.cli._output import console, key_values

        out = console()
        out.print(
            f"{summary['versions']} version(s) of {len(by_name)} model(s), {size:,} bytes stored"
        )
        out.print(key_values("by stage", sorted(by_stage.items())))
        out.print(key_values("by type", sorted(by_type.items())))
        table = Table(title="by name", title_justify="left", header_style="bold")
        for column in ("name", "versions", "best", "score"):
            table.add_column(column)
        for name, count in sorted(by_name.items()):
            top = best_of[name]
            score = "-" if not top or top["score"] is None else f"{top['score']:.4g}"
            table.add_row(name, str(count), top["reference"] if top else "-", score)
        out.print(table)

    _out(env, data, human)


@shelf_command(cli)
def plugins(env: Env) -> None:
    """List installed plugins: what each provides and which hooks it implements.

    Example: modelshelf plugins
    """
    from modelshelf.plugins import list_plugins

    infos = list_plugins()
    data = [
        {
            "name": p.name,
            "distribution": p.distribution,
            "version": p.version,
            "origin": p.origin,
            "hooks": list(p.hooks),
            "provides": {k: list(v) for k, v in p.provides.items()},
        }
        for p in infos
    ]

    def human() -> None:
        from rich.table import Table

        from modelshelf.cli._output import console

        table = Table(header_style="bold", show_edge=False)
        for column in ("plugin", "distribution", "provides", "hooks"):
            table.add_column(column)
        for p in infos:
            dist = f"{p.distribution} {p.version}" if p.distribution else p.origin
            provides = "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(p.provides.items()))
            hooks = ", ".join(h.removeprefix("modelshelf_") for h in p.hooks)
            table.add_row(p.name, dist, provides, hooks)
        console().print(table)

    _out(env, data, human)


@shelf_command(cli)
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--name", "-n", help="Report only this model name.")
@click.option(
    "--metric",
    "-m",
    "metrics",
    multiple=True,
    help="Metrics to show, in order (repeatable); default: all.",
)
@click.option("--title", help="Page title.")
def report(
    env: Env, path: Path, name: str | None, metrics: tuple[str, ...], title: str | None
) -> None:
    """Write a self-contained HTML report comparing versions (works offline).

    Example: modelshelf report report.html --name churn
    """
    from modelshelf.report import write_report

    written = write_report(
        env.open(), path, model_name=name, metrics=list(metrics) or None, title=title
    )
    _out(env, {"path": str(written.resolve())}, lambda: _say(f"report written to {written}"))


# Commands in modules of their own register themselves on import.
from modelshelf.cli import browse, checkpoints, governance, migrate, predict, web  # noqa: E402, F401
