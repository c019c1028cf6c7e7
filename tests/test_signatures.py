"""Signatures, input examples, preprocessing steps and ``LoadedModel.predict``.

Real scikit-learn models trained here (a LogisticRegression on iris behind a
StandardScaler saved as a step), real registries on SQLite, JSON and
PostgreSQL, real bundles and real command-line runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.datasets import load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.preprocessing import StandardScaler

from modelshelf import (
    ColumnSpec,
    InvalidInputError,
    InvalidMetadataError,
    ModelRegistry,
    PredictionError,
    Schema,
    SchemaError,
    Signature,
    TensorSpec,
    infer_signature,
)
from modelshelf.bundle import export_version, import_bundle
from modelshelf.cli import cli
from modelshelf.report import write_report
from modelshelf.signatures import MAX_EXAMPLE_ROWS, can_widen
from modelshelf.transfer import transfer

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

COLUMNS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_iris(return_X_y=True, as_frame=True)
    return X, y


@pytest.fixture(scope="module")
def scaler(data: tuple[pd.DataFrame, pd.Series]) -> StandardScaler:
    return StandardScaler().fit(data[0])


@pytest.fixture(scope="module")
def scaled_model(data: tuple[pd.DataFrame, pd.Series], scaler: StandardScaler) -> Any:
    """Trained on the scaler's output (an array), as a pipeline step would feed it."""
    X, y = data
    return LogisticRegression(max_iter=1000).fit(scaler.transform(X), y)


@pytest.fixture
def shelf(tmp_path: Path) -> Iterator[ModelRegistry]:
    with ModelRegistry(tmp_path / "registry") as registry:
        yield registry


@pytest.fixture
def saved(
    shelf: ModelRegistry,
    data: tuple[pd.DataFrame, pd.Series],
    scaler: StandardScaler,
    scaled_model: Any,
) -> ModelRegistry:
    shelf.save_model(
        scaled_model,
        "iris",
        artifacts={"scaler": scaler},
        preprocessing=["scaler"],
        input_example=data[0],
    )
    return shelf


# -- what is recorded --------------------------------------------------------------------


def test_a_dataframe_example_records_columns_dtypes_outputs_and_a_few_rows(
    saved: ModelRegistry, data: tuple[pd.DataFrame, pd.Series]
) -> None:
    m = saved.get_metadata("iris:1.0.0")
    assert m.signature is not None
    assert m.signature.inputs.columns == tuple(
        ColumnSpec(name=name, dtype="float64") for name in COLUMNS
    )
    assert m.signature.inputs.tensor is None
    assert m.signature.outputs == Schema(tensor=TensorSpec(dtype="int64", shape=(None,)))
    assert m.preprocessing == ("scaler",)
    assert m.feature_names == tuple(COLUMNS)
    assert m.input_example is not None and len(m.input_example) == MAX_EXAMPLE_ROWS
    assert m.input_example[0] == dict(zip(COLUMNS, data[0].iloc[0].tolist(), strict=True))


def test_an_array_example_records_dtype_and_shape_with_a_free_batch(shelf: ModelRegistry) -> None:
    X = np.arange(40, dtype=np.float32).reshape(10, 4)
    y = np.arange(10) % 2
    shelf.save_model(LogisticRegression().fit(X, y), "arr", input_example=X)
    m = shelf.get_metadata("arr")
    assert m.signature == Signature(
        inputs=TensorSpec(dtype="float32", shape=(None, 4)),
        outputs=TensorSpec(dtype="int64", shape=(None,)),
    )
    assert m.input_example == X[:MAX_EXAMPLE_ROWS].tolist()


def test_records_are_a_table_and_the_stored_example_predicts(
    saved: ModelRegistry, data: tuple[pd.DataFrame, pd.Series]
) -> None:
    records = data[0].head(3).to_dict(orient="records")
    assert infer_signature(records).inputs.names == tuple(COLUMNS)
    loaded = saved.load("iris")
    assert loaded.metadata.input_example is not None
    expected = loaded.predict(data[0].head(MAX_EXAMPLE_ROWS))
    assert (loaded.predict(loaded.metadata.input_example) == expected).all()
    assert (loaded.predict(records) == expected[:3]).all()


def test_infer_signature_takes_the_output_from_y(data: tuple[pd.DataFrame, pd.Series]) -> None:
    signature = infer_signature(data[0], data[1])
    assert signature.inputs.names == tuple(COLUMNS)
    assert signature.outputs == Schema(tensor=TensorSpec(dtype="int64", shape=(None,)))
    mixed = pd.DataFrame(
        {
            "age": [31, 40],
            "city": ["Lyon", None],
            "joined": pd.to_datetime(["2024-01-02", "2025-03-04"]),
            "vip": [True, False],
            "spend": [1.5, np.nan],
        }
    )
    assert infer_signature(mixed).inputs.describe() == (
        "age: int64, city: string, joined: datetime, vip: bool, spend: float64"
    )


def test_a_signature_can_be_given_and_the_example_must_fit_it(
    shelf: ModelRegistry, data: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = data
    model = LogisticRegression(max_iter=1000).fit(X, y)
    by_hand = Signature(inputs=[ColumnSpec(name=c, dtype="float64") for c in COLUMNS])
    shelf.save_model(model, "given", signature=by_hand, input_example=X.head(2))
    m = shelf.get_metadata("given")
    assert m.signature == by_hand  # given, so no outputs were added
    assert m.input_example is not None and len(m.input_example) == 2
    narrow = Signature(inputs=[ColumnSpec(name=c, dtype="float32") for c in COLUMNS])
    with pytest.raises(SchemaError, match="float64 does not fit in float32") as caught:
        shelf.save_model(model, "given", signature=narrow, input_example=X.head(2))
    assert caught.value.column == COLUMNS[0]
    assert shelf.count_models(model_name="given") == 1


# -- predicting ----------------------------------------------------------------------------


def test_predict_applies_the_scaler_before_the_model(
    saved: ModelRegistry,
    data: tuple[pd.DataFrame, pd.Series],
    scaler: StandardScaler,
    scaled_model: Any,
) -> None:
    X = data[0]
    loaded = saved.load("iris")
    predictions = loaded.predict(X)
    assert (predictions == scaled_model.predict(scaler.transform(X))).all()
    unscaled = scaled_model.predict(X.to_numpy())
    assert (predictions != unscaled).sum() > 10  # the step matters: skipping it is wrong
    assert (predictions == data[1].to_numpy()).mean() > 0.9
    proba = loaded.predict_proba(X)
    assert np.allclose(proba, scaled_model.predict_proba(scaler.transform(X)))
    assert proba.shape == (150, 3)


def test_load_best_model_predicts_through_the_same_path(
    shelf: ModelRegistry,
    data: tuple[pd.DataFrame, pd.Series],
    scaler: StandardScaler,
    scaled_model: Any,
) -> None:
    X = data[0]
    shelf.save_model(
        scaled_model,
        "iris",
        metrics={"f1": 0.96},
        artifacts={"scaler": scaler},
        preprocessing=["scaler"],
        input_example=X,
    )
    best = shelf.load_best_model("f1")
    assert best is not None
    model, artifacts, metadata = best  # still unpacks as before
    assert metadata.preprocessing == ("scaler",)
    assert artifacts["scaler"].mean_.tolist() == scaler.mean_.tolist()
    assert (best.predict(X) == model.predict(scaler.transform(X))).all()


def test_columns_are_put_in_the_signatures_order(
    saved: ModelRegistry, data: tuple[pd.DataFrame, pd.Series]
) -> None:
    X = data[0]
    loaded = saved.load("iris")
    assert (loaded.predict(X[COLUMNS[::-1]]) == loaded.predict(X)).all()


def test_arrays_and_rows_are_taken_for_a_table_in_column_order(
    saved: ModelRegistry, data: tuple[pd.DataFrame, pd.Series]
) -> None:
    X = data[0]
    loaded = saved.load("iris")
    expected = loaded.predict(X)
    assert (loaded.predict(X.to_numpy()) == expected).all()
    assert (loaded.predict(X.to_numpy().tolist()) == expected).all()


def test_safe_widening_is_accepted(shelf: ModelRegistry) -> None:
    """Whole numbers where floats were recorded predict the same as the floats."""
    frame = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    model = LogisticRegression().fit(frame, [0, 0, 1, 1])
    shelf.save_model(model, "wide", input_example=frame)
    loaded = shelf.load("wide")
    ints = frame.astype("int32")
    assert (loaded.predict(ints) == loaded.predict(frame)).all()
    assert (loaded.predict([[0, 1], [3, 0]]) == model.predict(frame.iloc[[0, 3]])).all()


def test_an_array_signature_checks_dtype_and_shape(shelf: ModelRegistry) -> None:
    X = np.random.default_rng(0).normal(size=(30, 4))
    y = (X[:, 0] > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    shelf.save_model(model, "arr", input_example=X)
    loaded = shelf.load("arr")
    assert (loaded.predict(X) == model.predict(X)).all()
    assert (loaded.predict(X.astype(np.int16)) == model.predict(X.astype(np.int16))).all()
    with pytest.raises(SchemaError, match="expected 4 features per row") as caught:
        loaded.predict(X[:, :3])
    assert caught.value.problem == "shape"
    with pytest.raises(SchemaError, match=r"reshape\(1, -1\)"):
        loaded.predict(X[0])
    with pytest.raises(SchemaError, match="string values cannot be used as float64"):
        loaded.predict(X.astype(str))
    with pytest.raises(SchemaError, match="records"):
        loaded.predict([{"a": 1.0}])


@pytest.mark.parametrize(
    ("change", "problem", "column", "words"),
    [
        (lambda X: X.drop(columns=[COLUMNS[2]]), "missing", COLUMNS[2], "missing column"),
        (lambda X: X.assign(colour="red"), "extra", "colour", "unexpected column"),
        (
            lambda X: X.assign(**{COLUMNS[1]: X[COLUMNS[1]].astype(str)}),
            "dtype",
            COLUMNS[1],
            "expected float64, got string",
        ),
        (lambda X: X.to_numpy()[:, :3], "shape", COLUMNS[3], "expected 4 features per row"),
        (
            lambda X: X.assign(**{COLUMNS[0]: [1.5, "x"] * 75}),
            "dtype",
            COLUMNS[0],
            "mixed or unsupported",
        ),
    ],
    ids=["missing", "extra", "string-into-float", "too-few-features", "mixed-values"],
)
def test_schema_errors_name_the_column(
    saved: ModelRegistry,
    data: tuple[pd.DataFrame, pd.Series],
    change: Callable[[pd.DataFrame], Any],
    problem: str,
    column: str,
    words: str,
) -> None:
    loaded = saved.load("iris")
    with pytest.raises(SchemaError, match=words) as caught:
        loaded.predict(change(data[0].copy()))
    error = caught.value
    assert isinstance(error, InvalidInputError) and isinstance(error, ValueError)
    assert (error.problem, error.column) == (problem, column)
    assert repr(column) in str(error)


def test_floats_are_refused_where_integers_were_recorded(shelf: ModelRegistry) -> None:
    frame = pd.DataFrame({"rooms": [1, 2, 3, 4], "area": [30.0, 55.0, 70.0, 90.0]})
    shelf.save_model(
        LinearRegression().fit(frame, [1.0, 2.0, 3.0, 4.0]), "flat", input_example=frame
    )
    loaded = shelf.load("flat")
    assert loaded.metadata.signature is not None
    assert loaded.metadata.signature.inputs.describe() == "rooms: int64, area: float64"
    with pytest.raises(SchemaError, match="float64 does not fit in int64") as caught:
        loaded.predict(frame.astype(float))
    assert caught.value.column == "rooms"
    with pytest.raises(PredictionError, match="has no predict_proba") as missing:
        loaded.predict_proba(frame)
    assert (missing.value.step, missing.value.method) == ("model", "predict_proba")
    assert isinstance(missing.value, InvalidInputError)


def test_a_version_without_a_signature_predicts_as_its_model_does(
    shelf: ModelRegistry, data: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = data
    model = LogisticRegression(max_iter=1000).fit(X.to_numpy(), y)
    shelf.save_model(model, "plain")
    loaded = shelf.load("plain")
    assert loaded.metadata.signature is None and loaded.metadata.input_example is None
    assert (loaded.predict(X.to_numpy()) == model.predict(X.to_numpy())).all()
    with pytest.raises(PredictionError, match="refused the input") as caught:
        loaded.predict(X.to_numpy()[:, :2])
    assert isinstance(caught.value.__cause__, ValueError)


def test_widening_follows_safe_casting() -> None:
    assert can_widen("int64", "float64") and can_widen("int32", "int64")
    assert can_widen("float32", "float64") and can_widen("uint8", "int16")
    assert can_widen("bool", "float64") and can_widen("int16", "float32")
    assert not can_widen("float64", "float32") and not can_widen("float64", "int64")
    assert not can_widen("string", "float64") and not can_widen("int32", "float32")
    assert not can_widen("int8", "uint64") and not can_widen("datetime", "string")


# -- bad input at save time ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "field", "words"),
    [
        ({"input_example": {"a": 1}}, "input_example", "a dict cannot be an input example"),
        ({"input_example": "rows"}, "input_example", "a str cannot be an input example"),
        ({"input_example": []}, "input_example", "empty"),
        (
            {"input_example": pd.DataFrame({"a": [np.nan, np.nan], "b": [1.0, 2.0]})},
            "input_example",
            "column 'a' has only missing values",
        ),
        ({"input_example": np.full((3, 2), np.nan)}, "input_example", "only missing values"),
        (
            {"input_example": pd.DataFrame({"a": [1, "x"]})},
            "input_example",
            "column 'a' holds object values of mixed",
        ),
        ({"signature": {"inputs": []}}, "signature", "must be a modelshelf.Signature"),
        ({"preprocessing": ["scaler"]}, "preprocessing", "not one of the artifacts"),
        (
            {"preprocessing": ["notes"], "artifacts": {"notes": {"a": 1}}},
            "preprocessing",
            "has no transform method",
        ),
        ({"preprocessing": "scaler"}, "preprocessing", "list of artifact names"),
    ],
    ids=[
        "dict",
        "str",
        "empty",
        "nan-column",
        "nan-array",
        "mixed",
        "not-a-signature",
        "unknown-step",
        "no-transform",
        "steps-as-text",
    ],
)
def test_bad_input_is_refused_before_anything_is_written(
    shelf: ModelRegistry, options: dict[str, Any], field: str, words: str
) -> None:
    model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    with pytest.raises(InvalidMetadataError, match=words) as caught:
        shelf.save_model(model, "bad", **options)
    assert caught.value.field == field
    assert shelf.count_models() == 0
    assert not list((shelf.storage_path).rglob("*.joblib"))


def test_hand_built_signatures_are_checked() -> None:
    with pytest.raises(InvalidMetadataError, match="unknown dtype 'float'"):
        ColumnSpec(name="a", dtype="float")
    with pytest.raises(InvalidMetadataError, match="batch and must be free"):
        TensorSpec(dtype="float64", shape=(10, 4))
    with pytest.raises(InvalidMetadataError, match="appears twice"):
        Signature(inputs=[ColumnSpec(name="a", dtype="int64")] * 2)
    with pytest.raises(InvalidMetadataError, match="exactly one"):
        Schema()
    assert TensorSpec(dtype="float64", shape=[-1, 4]).shape == (None, 4)


# -- carried everywhere ---------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "json", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    store = str(request.param)
    options: dict[str, Any] = {"storage_path": tmp_path / store, "store": store}
    if store == "postgresql":
        options["store_url"] = str(request.getfixturevalue("modelshelf_postgresql_url"))
    return options


def test_every_store_reads_the_signature_back_as_written(
    target: dict[str, Any],
    data: tuple[pd.DataFrame, pd.Series],
    scaler: StandardScaler,
    scaled_model: Any,
) -> None:
    X = data[0]
    with ModelRegistry(**target) as registry:
        registry.save_model(
            scaled_model,
            "iris",
            artifacts={"scaler": scaler},
            preprocessing=["scaler"],
            input_example=X,
        )
        written = registry.get_metadata("iris")
    with ModelRegistry(**target) as reopened:
        read = reopened.get_metadata("iris")
        assert read == written
        assert read.signature is not None and read.signature.inputs.names == tuple(COLUMNS)
        assert read.preprocessing == ("scaler",)
        loaded = reopened.load("iris:1.0.0")
        assert (loaded.predict(X) == scaled_model.predict(scaler.transform(X))).all()


def test_bundles_and_transfers_carry_the_signature(
    saved: ModelRegistry,
    tmp_path: Path,
    data: tuple[pd.DataFrame, pd.Series],
    scaler: StandardScaler,
    scaled_model: Any,
) -> None:
    X = data[0]
    original = saved.get_metadata("iris")
    bundle = export_version(saved, "iris", tmp_path / "iris.tar.gz")
    with ModelRegistry(tmp_path / "elsewhere", store="json") as elsewhere:
        imported = import_bundle(elsewhere, bundle).metadata
        for field in ("signature", "input_example", "preprocessing", "feature_names"):
            assert getattr(imported, field) == getattr(original, field), field
        assert (
            elsewhere.load("iris").predict(X) == scaled_model.predict(scaler.transform(X))
        ).all()
    with ModelRegistry(tmp_path / "copy") as copy:
        transfer(saved, copy)
        assert copy.get_metadata("iris").signature == original.signature
        assert copy.get_metadata("iris").preprocessing == ("scaler",)
    folder = export_version(saved, "iris", tmp_path / "card")
    text = "\n".join(p.read_text() for p in folder.glob("*.md"))
    assert "## Signature" in text and f"| {COLUMNS[0]} | float64 |" in text
    assert "`scaler`" in text


# -- shown to people --------------------------------------------------------------------------


def test_show_and_predict_on_the_command_line(saved: ModelRegistry, tmp_path: Path) -> None:
    env = {"MODELSHELF_REGISTRY": str(saved.storage_path), "COLUMNS": "80"}
    shown = CliRunner().invoke(cli, ["show", "iris"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "signature" in shown.stdout and "4 columns" in shown.stdout
    assert f"{COLUMNS[0]}: float64" in shown.stdout
    assert "scaler -> model" in shown.stdout
    as_json = json.loads(CliRunner().invoke(cli, ["--json", "show", "iris"], env=env).stdout)
    assert as_json["signature"]["inputs"]["columns"][0] == {"name": COLUMNS[0], "dtype": "float64"}
    assert as_json["preprocessing"] == ["scaler"]

    X = load_iris(as_frame=True).data.head(4)
    X.to_csv(tmp_path / "good.csv", index=False)
    X.assign(**{COLUMNS[2]: "tall"}).to_csv(tmp_path / "bad.csv", index=False)
    good = CliRunner().invoke(
        cli, ["--json", "predict", "iris", str(tmp_path / "good.csv")], env=env
    )
    assert good.exit_code == 0, good.output
    expected = saved.load("iris").predict(X).tolist()
    assert json.loads(good.stdout)["predictions"] == expected
    bad = CliRunner().invoke(cli, ["predict", "iris", str(tmp_path / "bad.csv")], env=env)
    assert bad.exit_code == 2
    assert f"column {COLUMNS[2]!r}: expected float64, got string" in bad.stderr


def test_the_report_and_the_web_ui_show_the_signature(saved: ModelRegistry, tmp_path: Path) -> None:
    page = write_report(saved, tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<h2>Signatures</h2>" in page
    assert f"<code>{COLUMNS[0]}</code> float64" in page
    assert "takes 4 columns" in page and "steps: scaler → model" in page

    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from modelshelf.ui import create_app

    with TestClient(create_app(saved), base_url="http://127.0.0.1:8008") as client:
        html = client.get("/models/iris/versions/1.0.0").text
    assert '<table id="signature-inputs">' in html
    assert f"<td><code>{COLUMNS[3]}</code></td><td>float64</td>" in html
    assert "Preprocessing, in order: <code>scaler</code> → model." in html
    assert "Input example (5 rows)" in html


# -- pandas stays optional ---------------------------------------------------------------------


def test_the_core_saves_and_predicts_without_pandas(tmp_path: Path) -> None:
    """With pandas unimportable, arrays and records still work end to end."""
    script = """
import sys


class NoPandas:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "pandas":
            raise ImportError("pandas is not installed here")


sys.meta_path.insert(0, NoPandas())
import numpy as np
from sklearn.linear_model import LogisticRegression
from modelshelf import ModelRegistry, SchemaError

X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
y = [0, 0, 1, 1]
model = LogisticRegression().fit(X, y)
registry = ModelRegistry(sys.argv[1])
registry.save_model(model, "arr", input_example=X)
records = [{"a": 0.0, "b": 1}, {"a": 3.0, "b": 0}]
registry.save_model(model, "rec", input_example=records)
loaded = registry.load("arr")
assert (loaded.predict(X) == model.predict(X)).all()
assert registry.get_metadata("rec").signature.inputs.describe() == "a: float64, b: int64"
table = registry.load("rec")
assert (table.predict([{"b": 1, "a": 0.0}]) == model.predict(X[:1])).all()
try:
    table.predict([{"a": "x", "b": 1}])
except SchemaError as exc:
    assert exc.column == "a", exc
else:
    raise AssertionError("a string was taken for a float")
assert "pandas" not in sys.modules
print("ok")
"""
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "registry")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_records_from_json_get_the_recorded_types_back() -> None:
    """What a web request carries (ISO text, null) becomes the recorded dtypes again."""
    from modelshelf.signatures import example_rows, prepare_input

    frame = pd.DataFrame(
        {
            "joined": pd.to_datetime(["2024-01-02", "2025-03-04"]),
            "city": pd.Categorical(["Lyon", "Oslo"]),
            "visits": [3, 5],
            "spend": [1.5, 2.5],
        }
    )
    schema = infer_signature(frame).inputs
    assert schema.describe() == "joined: datetime, city: string, visits: int64, spend: float64"
    rows = example_rows(frame)
    assert rows is not None and rows[0]["joined"] == "2024-01-02T00:00:00"
    back = prepare_input(schema, json.loads(json.dumps(rows)))
    assert back["joined"].dtype.kind == "M" and back["visits"].dtype == "int64"
    assert (back["joined"] == frame["joined"]).all()
    missing = prepare_input(schema, [{"joined": None, "city": None, "visits": 1, "spend": None}])
    assert missing["spend"].isna().all() and missing["joined"].dtype.kind == "M"
    with pytest.raises(SchemaError, match="not a date-time") as caught:
        prepare_input(schema, [{"joined": "soon", "city": "Lyon", "visits": 1, "spend": 1.0}])
    assert caught.value.column == "joined"
    with pytest.raises(SchemaError, match="only missing values") as nothing:
        prepare_input(schema, [{"joined": None, "city": "Lyon", "visits": None, "spend": 1.0}])
    assert nothing.value.column == "visits"
