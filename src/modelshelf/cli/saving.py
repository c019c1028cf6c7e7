"""``save``: put a trained model on the shelf with its metrics, params and tags."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from modelshelf.cli._core import (
    Env,
    cli,
    shelf_command,
)
from modelshelf.cli._helpers import (
    _json_value,
    _load_model_file,
    _meta,
    _numbers,
    _out,
    _pairs,
    _read_mapping,
    _say,
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
