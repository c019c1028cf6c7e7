"""Registry settings from ``modelshelf.toml`` in the storage directory.

A team commits its choices once (plugins, scoring weights, the stage new
versions start in, retention, promotion gates) and every process that opens
the registry gets them. Constructor arguments win over the file, the file
wins over the built-in defaults. An invalid file is an error naming the key.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import cattrs
from attrs import field, frozen

from modelshelf.errors import ConfigError, InvalidInputError
from modelshelf.metadata import Stage, check_metric_name

if TYPE_CHECKING:
    from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

#: The file a registry reads its settings from, inside its storage directory.
CONFIG_FILE = "modelshelf.toml"

__all__ = ["CONFIG_FILE", "ConfigError", "Retention", "Settings", "load_settings", "parse_settings"]


@frozen(kw_only=True)
class Retention:
    """Which versions :meth:`ModelRegistry.apply_retention` may delete.

    ``keep_last``: keep at most this many versions per name (newest first).
    ``archived_max_age_days``: delete Archived versions older than this.
    Production versions and versions with an alias are never deleted.
    """

    keep_last: int | None = None
    archived_max_age_days: float | None = None


@frozen(kw_only=True)
class Settings:
    """Everything a registry can take from its configuration file."""

    store: str | None = None
    store_url: str | None = None
    serializer: str | None = None
    storage: str | None = None
    versioning: str | None = None
    scoring: str | None = None
    serializer_options: dict[str, Any] = field(factory=dict)
    store_options: dict[str, Any] = field(factory=dict)
    scoring_options: dict[str, Any] = field(factory=dict)
    default_stage: Stage = Stage.NONE
    retention: Retention = field(factory=Retention)
    gates: dict[str, dict[str, float]] = field(factory=dict)


def _converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True)
    converter.register_structure_hook(Stage, lambda value, _: Stage.parse(value))
    return converter


def _check(settings: Settings, source: str) -> Settings:
    def fail(key: str, rule: str) -> ConfigError:
        return ConfigError(f"invalid configuration in {source}: {key}: {rule}")

    for key, value in (
        ("retention.keep_last", settings.retention.keep_last),
        ("retention.archived_max_age_days", settings.retention.archived_max_age_days),
    ):
        if value is not None and value <= 0:
            raise fail(key, f"must be > 0, got {value!r}")
    for stage, thresholds in settings.gates.items():
        try:
            Stage.parse(stage)
            for metric in thresholds:
                check_metric_name(metric)
        except InvalidInputError as exc:
            raise fail(f"gates.{stage}", str(exc)) from exc
    return settings


def parse_settings(data: dict[str, Any], source: str) -> Settings:
    """Validate settings data; errors name the offending key and the file."""
    try:
        settings = _converter().structure(data, Settings)
    except cattrs.BaseValidationError as exc:
        problems = "; ".join(cattrs.transform_error(exc, path="config"))
        raise ConfigError(f"invalid configuration in {source}: {problems}") from exc
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"invalid configuration in {source}: {exc}") from exc
    return _check(settings, source)


def load_settings(storage_path: Path) -> Settings:
    """Read ``modelshelf.toml`` from the storage directory; defaults if absent."""
    path = storage_path / CONFIG_FILE
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return Settings()
    try:
        data = tomllib.loads(text.decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    return parse_settings(data, str(path))
