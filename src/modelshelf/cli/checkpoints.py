"""``modelshelf checkpoint``: training checkpoints from the shell.

Checkpoints are versions named ``ckpt-<step>`` that listings, ``best`` and
references leave out unless asked (see ``ModelRegistry.save_checkpoint``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from modelshelf.cli._core import Env, ShelfGroup, cli, shelf_command
from modelshelf.cli._helpers import _load_model_file, _meta, _numbers, _out, _say
from modelshelf.cli.files import write_model_file

if TYPE_CHECKING:
    from modelshelf.metadata import ModelMetadata


@cli.group(cls=ShelfGroup)
def checkpoint() -> None:
    """Save, list, load and release training checkpoints."""


@shelf_command(checkpoint, "save")
@click.argument("model_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", "-n", "model_name", required=True, help="Model name.")
@click.option("--step", type=click.IntRange(min=0), required=True, help="Training step.")
@click.option("--metric", "metric_flags", multiple=True, metavar="KEY=VALUE", help="A metric.")
@click.option("--description", "-d", help="Free text.")
@click.option(
    "--keep-last",
    type=click.IntRange(min=1),
    help="Then delete all but the newest K checkpoints of the name.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "joblib", "pickle", "cloudpickle"]),
    default="auto",
    show_default=True,
    help="How MODEL_FILE was written.",
)
def checkpoint_save(
    env: Env,
    model_file: Path,
    model_name: str,
    step: int,
    metric_flags: tuple[str, ...],
    description: str | None,
    keep_last: int | None,
    fmt: str,
) -> None:
    """Save MODEL_FILE as the checkpoint of MODEL_NAME at STEP.

    Example: modelshelf checkpoint save model.joblib --name churn --step 200 --metric loss=0.3
    """
    registry = env.open(create=True)
    model_id = registry.save_checkpoint(
        _load_model_file(model_file, fmt),
        model_name,
        step,
        _numbers("--metric", metric_flags),
        description=description,
        keep_last=keep_last,
    )
    metadata = registry.get_metadata(model_id)
    _out(env, _meta(metadata), lambda: _say(f"saved {metadata.reference} (id {model_id})"))


@shelf_command(checkpoint, "ls")
@click.argument("model_name")
def checkpoint_ls(env: Env, model_name: str) -> None:
    """List MODEL_NAME's checkpoints, lowest step first.

    Example: modelshelf checkpoint ls churn
    """
    rows = env.open().list_checkpoints(model_name)

    def human() -> None:
        from modelshelf.cli import _output

        if rows:
            _output.versions_table(rows)
        else:
            _say(f"{model_name!r} has no checkpoints")

    _out(env, [_meta(m) for m in rows], human)


def _step(metadata: ModelMetadata) -> int:
    return int(metadata.version.removeprefix("ckpt-"))


@shelf_command(checkpoint, "load")
@click.argument("model_name")
@click.option("--step", type=click.IntRange(min=0), help="This step; default: the latest.")
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the verified model, as a joblib file.",
)
def checkpoint_load(env: Env, model_name: str, step: int | None, output: Path) -> None:
    """Verify and write out MODEL_NAME's latest checkpoint (or the one at --step).

    Example: modelshelf checkpoint load churn --output resume.joblib
    """
    loaded = env.open().load_checkpoint(model_name, step)
    written = write_model_file(loaded.model, output)
    data = {**_meta(loaded.metadata), "step": _step(loaded.metadata), "path": str(written)}
    _out(env, data, lambda: _say(f"wrote {loaded.metadata.reference} to {written}"))


@shelf_command(checkpoint, "promote")
@click.argument("model_name")
@click.option("--step", type=click.IntRange(min=0), help="This step; default: the latest.")
@click.option("--version", help="Version to release it as; default: the scheme's next one.")
def checkpoint_promote(env: Env, model_name: str, step: int | None, version: str | None) -> None:
    """Release a checkpoint of MODEL_NAME as a regular version (its parent is the checkpoint).

    Example: modelshelf checkpoint promote churn --step 100
    """
    registry = env.open()
    model_id = registry.promote_checkpoint(model_name, step, version=version)
    metadata = registry.get_metadata(model_id)
    _out(env, _meta(metadata), lambda: _say(f"released {metadata.reference} (id {model_id})"))
