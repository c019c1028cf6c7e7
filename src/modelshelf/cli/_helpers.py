"""Parsing and output helpers the command modules share.

Options arrive as text (``KEY=VALUE`` pairs, numbers, JSON, timestamps,
references); these turn them into values or a usage error at the boundary,
and ``_out`` prints a result as JSON or for people, importing rich only when
a table is drawn.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import click

from modelshelf.errors import InvalidInputError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from pathlib import Path

    from modelshelf.cli._core import Env
    from modelshelf.metadata import ModelMetadata


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
    """The version filters of ``ls``, ``best``, ``compare``...: one set of options.

    The command receives them as one ``filters`` dict, ready for
    ``list_models`` / ``get_best_model`` / ``compare_models`` (``--name``
    is its ``model_name`` key), so every command filters alike.
    """

    @functools.wraps(func)
    def run(
        *args: Any,
        name: str | None,
        model_type: str | None,
        stage: str | None,
        alias: str | None,
        tags: tuple[str, ...],
        minimum: tuple[str, ...],
        maximum: tuple[str, ...],
        **kwargs: Any,
    ) -> Any:
        filters = _list_filters(
            name=name,
            model_type=model_type,
            stage=stage,
            alias=alias,
            tags=tags,
            minimum=minimum,
            maximum=maximum,
        )
        return func(*args, filters=filters, **kwargs)

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
    decorated: Callable[..., Any] = run
    for option in reversed(options):
        decorated = option(decorated)
    return decorated


def _tag_edit_options(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--description``, ``--tag`` and ``--untag`` for a command that edits ``what``.

    The command receives ``description`` and ``edit_tags``, a function from
    the current tags to the edited ones (None when neither ``--tag`` nor
    ``--untag`` was given), so ``update`` and ``info`` edit tags alike.
    """

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def run(
            *args: Any, tag_flags: tuple[str, ...], untag: tuple[str, ...], **kwargs: Any
        ) -> Any:
            def edit_tags(current: Mapping[str, str]) -> dict[str, str] | None:
                return _edited_tags(current, tag_flags, untag)

            return func(*args, edit_tags=edit_tags, **kwargs)

        decorated: Callable[..., Any] = run
        for option in reversed(
            [
                click.option("--description", "-d", help=f"New description of {what}."),
                click.option(
                    "--tag", "tag_flags", multiple=True, metavar="KEY=VALUE", help="Set a tag."
                ),
                click.option("--untag", multiple=True, metavar="KEY", help="Remove a tag."),
            ]
        ):
            decorated = option(decorated)
        return decorated

    return decorate


def _edited_tags(
    current: Mapping[str, str], set_flags: tuple[str, ...], unset: tuple[str, ...]
) -> dict[str, str] | None:
    """The tags after ``--tag`` and ``--untag``; None when neither was given."""
    if not set_flags and not unset:
        return None
    tags = dict(current)
    tags.update(_pairs("--tag", set_flags))
    for key in unset:
        tags.pop(key, None)
    return tags


# -- commands ----------------------------------------------------------------------------
