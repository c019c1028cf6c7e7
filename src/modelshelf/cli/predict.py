"""``load`` and ``predict``: a version's model out of the registry, verified,
into a file or onto a table of inputs for a quick check."""

from __future__ import annotations

import csv
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import click

from modelshelf.cli._core import Env, cli, shelf_command
from modelshelf.cli._helpers import _meta, _out, _reference, _say
from modelshelf.cli.files import write_model_file
from modelshelf.errors import InvalidInputError


@shelf_command(cli)
@click.argument("reference")
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the verified model, as a joblib file.",
)
def load(env: Env, reference: str, output: Path) -> None:
    """Verify a version's bytes, load it, and write the model to a joblib file.

    Example: modelshelf load churn@champion --output champion.joblib
    """
    loaded = env.open().load(_reference(reference))
    written = write_model_file(loaded.model, output)
    data = {**_meta(loaded.metadata), "path": str(written)}
    _out(env, data, lambda: _say(f"wrote {loaded.metadata.reference} to {written}"))


def read_table(path: Path, feature_names: list[str] | None) -> Any:
    """The rows of a CSV or Parquet file, as the model expects them.

    With pandas installed, a DataFrame (column names and types kept, as a
    model fitted on a DataFrame wants). Without it, CSV is read into a float
    array; its header, when it has one, must name the model's features.
    """
    suffix = path.suffix.lower()
    try:
        import pandas as pd
    except ImportError:
        if suffix == ".parquet":
            raise InvalidInputError(
                f"{path}: reading Parquet needs pandas and pyarrow (pip install pandas pyarrow)"
            ) from None
        return _csv_array(path, feature_names)
    if suffix == ".parquet":
        frame = pd.read_parquet(path)
    elif suffix == ".csv":
        frame = pd.read_csv(path)
    else:
        raise InvalidInputError(f"{path}: give a .csv or .parquet file")
    if feature_names is None and all(str(c).isdigit() for c in frame.columns):
        return frame.to_numpy()
    if feature_names is not None:
        _check_columns(path, [str(c) for c in frame.columns], feature_names)
        return frame[feature_names]
    return frame


def _check_columns(path: Path, columns: list[str], feature_names: list[str]) -> None:
    missing = [name for name in feature_names if name not in columns]
    if missing:
        raise InvalidInputError(
            f"{path} lacks the column(s) the model was trained on: {', '.join(missing)}"
        )


def _csv_array(path: Path, feature_names: list[str] | None) -> Any:
    import numpy as np

    if path.suffix.lower() != ".csv":
        raise InvalidInputError(f"{path}: give a .csv or .parquet file")
    with open(path, newline="") as stream:
        rows = [row for row in csv.reader(stream) if row]
    if not rows:
        raise InvalidInputError(f"{path} has no rows")
    header: list[str] | None = None
    try:
        [float(cell) for cell in rows[0]]
    except ValueError:
        header, rows = rows[0], rows[1:]
    try:
        values = np.array([[float(cell) for cell in row] for row in rows], dtype=float)
    except ValueError as exc:
        raise InvalidInputError(
            f"{path}: without pandas only numeric CSV is read ({exc}); pip install pandas"
        ) from None
    if header is not None and feature_names is not None:
        _check_columns(path, header, feature_names)
        values = values[:, [header.index(name) for name in feature_names]]
    return values


def _jsonable(values: Any) -> list[Any]:
    import numpy as np

    return np.asarray(values).tolist()  # type: ignore[no-any-return]


@shelf_command(cli)
@click.argument("reference")
@click.argument("input_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--proba", is_flag=True, help="Class probabilities (predict_proba) instead.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the predictions as CSV here instead of printing them.",
)
def predict(env: Env, reference: str, input_file: Path, proba: bool, output: Path | None) -> None:
    """Predict with a version on the rows of a CSV or Parquet file, for a quick check.

    The version's bytes are verified before it is loaded. The rows are
    checked against the version's signature and go through its
    preprocessing steps, as LoadedModel.predict does. Parquet, and CSV
    with non-numeric columns, need pandas.

    Example: modelshelf predict churn@champion customers.csv
    """
    loaded = env.open().load(_reference(reference))
    model = loaded.model
    features = list(loaded.metadata.feature_names) or None
    rows = read_table(input_file, features)
    with warnings.catch_warnings():
        # Columns were checked against the model's feature names above.
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        found = loaded.predict_proba(rows) if proba else loaded.predict(rows)
    predictions = _jsonable(found)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        with open(output, "w", newline="") as stream:
            writer = csv.writer(stream)
            if proba:
                classes = _jsonable(getattr(model, "classes_", range(len(predictions[0]))))
                writer.writerow([f"proba_{c}" for c in classes])
                writer.writerows(predictions)
            else:
                writer.writerow(["prediction"])
                writer.writerows([p] for p in predictions)
    data = {
        "reference": loaded.metadata.reference,
        "model_id": loaded.metadata.model_id,
        "predictions": predictions,
    }

    def human() -> None:
        if output is not None:
            _say(f"{len(predictions)} prediction(s) from {loaded.metadata.reference} in {output}")
            return
        for value in predictions:
            sys.stdout.write(json.dumps(value) + "\n")

    _out(env, data, human)
