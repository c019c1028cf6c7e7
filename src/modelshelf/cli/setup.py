"""``init`` and ``plugins``: set up a registry and see which plugins it runs on."""

from __future__ import annotations

import json
import os

import click

from modelshelf.cli._core import (
    EXIT_USAGE,
    Env,
    Failure,
    cli,
    shelf_command,
)
from modelshelf.cli._helpers import (
    _out,
    _say,
)

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
