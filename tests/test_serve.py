"""``modelshelf serve``: MLflow's scoring protocol over real HTTP, verification, hot swaps.

Every server here is ``modelshelf serve`` started as a user starts it (a
subprocess on a free port, uvicorn underneath), called over real HTTP with
urllib and with MLflow's own scoring client, on SQLite registries holding
scikit-learn models trained here. The body parser and the swap logic also get
direct tests, since they are plain functions and a plain class.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from modelshelf import ModelRegistry
from modelshelf.serving import create_app
from modelshelf.serving.inputs import (
    InvalidRequestError,
    UnsupportedMediaTypeError,
    parse_body,
    to_jsonable,
)
from modelshelf.serving.swap import ModelSlot

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

KEY = "serving signing key"
X, Y = load_iris(return_X_y=True, as_frame=True)
COLUMNS = list(X.columns)
ROWS = X.iloc[[0, 50, 100, 120, 149]]


# -- a real registry ---------------------------------------------------------------------


def _constant(label: int) -> DummyClassifier:
    """A classifier that answers ``label`` for every row: which version answered is plain."""
    return DummyClassifier(strategy="constant", constant=label).fit(X, Y)


@pytest.fixture(scope="module")
def iris_model() -> LogisticRegression:
    return LogisticRegression(max_iter=1000).fit(X, Y)


@pytest.fixture(scope="module")
def shelf_template(
    tmp_path_factory: pytest.TempPathFactory, iris_model: LogisticRegression
) -> Path:
    """iris@champion (fitted on named columns), reg (on a bare array), const 1.0.0-1.0.2."""
    path = tmp_path_factory.mktemp("serve") / "registry"
    with ModelRegistry(path) as registry:
        registry.save_model(iris_model, "iris", metrics={"f1": 0.97})
        registry.set_alias("iris:1.0.0", "champion")
        registry.save_model(
            LinearRegression().fit(X.to_numpy()[:, :3], X.to_numpy()[:, 3]),
            "reg",
            metrics={"rmse": 0.19},
        )
        for label in (0, 2, 1):
            registry.save_model(_constant(label), "const", metrics={"f1": 0.33})
        registry.set_alias("const:1.0.0", "champion")
        registry.transition_stage("const", "1.0.0", "Production")
    return path


@pytest.fixture
def shelf(shelf_template: Path, tmp_path: Path) -> Path:
    """A copy of the template this test may change."""
    return Path(shutil.copytree(shelf_template, tmp_path / "registry"))


def tamper(path: Path, reference: str) -> None:
    with ModelRegistry(path) as registry:
        key = registry.get_metadata(reference).artifact.key
    stored = path / "models" / key
    stored.write_bytes(stored.read_bytes() + b"tampered")


# -- the server, as a user starts it ---------------------------------------------------------


class Server:
    """``modelshelf serve REF`` in a subprocess on a free port; its log goes to a file."""

    def __init__(self, registry: Path, reference: str, *args: str) -> None:
        self.log = registry.parent / f"serve-{time.monotonic_ns()}.log"
        command = [sys.executable, "-m", "modelshelf.cli", "serve", reference]
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                [*command, "--registry", str(registry), "--port", "0", *args],
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        assert self.process.stdout is not None
        lines = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("press Ctrl-C"):
                break
        self.banner = "".join(lines)
        found = re.search(r"at (http://127\.0\.0\.1:\d+/)", self.banner)
        if not found:
            self.stop()
            raise AssertionError(f"no URL printed: {self.banner!r}\n{self.log.read_text()}")
        self.url = found.group(1)
        self.port = int(self.url.rsplit(":", 1)[1].strip("/"))

    def logged(self) -> str:
        return self.log.read_text()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        assert self.process.stdout is not None
        self.process.stdout.close()


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def start(registry: Path, reference: str, *args: str) -> Server:
        server = Server(registry, reference, *args)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def iris_server(shelf_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the read-only tests: iris@champion on a copy of the template."""
    path = Path(shutil.copytree(shelf_template, tmp_path_factory.mktemp("iris") / "registry"))
    server = Server(path, "iris@champion")
    yield server
    server.stop()


class Answer:
    def __init__(self, status: int, headers: Any, body: bytes) -> None:
        self.status = status
        self.headers = headers
        is_json = headers.get("Content-Type") == "application/json"
        self.json: Any = json.loads(body) if is_json else body.decode()

    @property
    def version(self) -> str:
        return str(self.headers["X-Modelshelf-Version"])


def call(
    server: Server,
    path: str,
    body: bytes | str | dict[str, Any] | None = None,
    content_type: str | None = "application/json",
    timeout: float = 30,
) -> Answer:
    """One real HTTP request, headers exactly as given: a GET without a body, else a POST."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    data = data.encode() if isinstance(data, str) else data
    headers = {} if data is None or content_type is None else {"Content-Type": content_type}
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        connection.request("GET" if data is None else "POST", path, body=data, headers=headers)
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        connection.close()


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting until {what}")


# -- every input format ---------------------------------------------------------------------


def _bodies() -> list[tuple[str, Any, str]]:
    split = json.loads(ROWS.to_json(orient="split"))
    records = json.loads(ROWS.to_json(orient="records"))
    rows = ROWS.to_numpy().tolist()
    columns = {name: ROWS[name].tolist() for name in COLUMNS}
    shuffled = {name: columns[name] for name in reversed(COLUMNS)}
    return [
        ("dataframe_split with index", {"dataframe_split": split}, "application/json"),
        (
            "dataframe_split without index",
            {"dataframe_split": {"columns": COLUMNS, "data": rows}},
            "application/json",
        ),
        ("dataframe_split, rows only", {"dataframe_split": {"data": rows}}, "application/json"),
        ("dataframe_records", {"dataframe_records": records}, "application/json"),
        ("instances as rows", {"instances": rows}, "application/json"),
        ("instances as records", {"instances": records}, "application/json"),
        ("inputs as rows", {"inputs": rows}, "application/json"),
        ("inputs as columns", {"inputs": columns}, "application/json"),
        ("inputs as columns, any order", {"inputs": shuffled}, "application/json"),
        ("inputs with params", {"inputs": rows, "params": {"x": 1}}, "application/json"),
        ("charset", {"inputs": rows}, "application/json; charset=utf-8"),
        ("csv", ROWS.to_csv(index=False), "text/csv"),
        ("csv, columns in any order", ROWS[COLUMNS[::-1]].to_csv(index=False), "text/csv"),
    ]


@pytest.mark.parametrize(
    ("body", "content_type"), [b[1:] for b in _bodies()], ids=[b[0] for b in _bodies()]
)
def test_every_input_format_gets_the_models_predictions(
    iris_server: Server, iris_model: LogisticRegression, body: Any, content_type: str
) -> None:
    expected = iris_model.predict(ROWS).tolist()
    assert len(set(expected)) == 3  # the rows are not all one class: a mix-up would show
    for path in ("/predict", "/invocations"):
        answer = call(iris_server, path, body, content_type)
        assert answer.status == 200, answer.json
        assert answer.json == {"predictions": expected}
        assert answer.headers["Content-Type"] == "application/json"
        assert answer.headers["X-Modelshelf-Model-Id"] == "1"
        assert answer.version == "1.0.0"


def test_probabilities_on_request(iris_server: Server, iris_model: LogisticRegression) -> None:
    expected = iris_model.predict_proba(ROWS)
    by_query = call(iris_server, "/predict?proba=1", {"dataframe_records": ROWS.to_dict("records")})
    by_params = call(
        iris_server, "/predict", {"inputs": ROWS.to_numpy().tolist(), "params": {"proba": True}}
    )
    for answer in (by_query, by_params):
        assert answer.status == 200, answer.json
        assert np.allclose(answer.json["predictions"], expected)
        assert answer.json["classes"] == [0, 1, 2]
    assert call(iris_server, "/predict?proba=0", {"inputs": [ROWS.iloc[0].tolist()]}).json == {
        "predictions": [0]
    }


def test_mlflows_own_scoring_client_works_unchanged(
    iris_server: Server, iris_model: LogisticRegression
) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLflow's own deprecation notices
        from mlflow.pyfunc.scoring_server.client import ScoringServerClient

        client = ScoringServerClient("127.0.0.1", iris_server.port)  # type: ignore[no-untyped-call]
        client.wait_server_ready(timeout=30)  # type: ignore[no-untyped-call]
        from_frame = client.invoke(ROWS)  # posts dataframe_split to /invocations
        from_array = client.invoke(ROWS.to_numpy())  # posts inputs
    expected = iris_model.predict(ROWS).tolist()
    assert from_frame["predictions"] == expected
    assert from_array.get_predictions(predictions_format="ndarray").tolist() == expected


# -- malformed input -------------------------------------------------------------------------


BAD = [
    ("not json", b"{'inputs': [[1, 2, 3, 4]]}", "application/json", 400, "not valid JSON"),
    ("not utf-8", b'{"inputs": [["\xff"]]}', "application/json", 400, "not valid UTF-8"),
    ("a list", b"[[1, 2, 3, 4]]", "application/json", 400, "received a list"),
    ("no field", {"rows": [[1, 2, 3, 4]]}, "application/json", 400, "received the fields ['rows']"),
    (
        "two fields",
        {"inputs": [[1, 2, 3, 4]], "instances": [[1, 2, 3, 4]]},
        "application/json",
        400,
        "exactly one of the fields",
    ),
    (
        "split without data",
        {"dataframe_split": {"columns": COLUMNS}},
        "application/json",
        400,
        "must have a 'data' field",
    ),
    (
        "split with an extra key",
        {"dataframe_split": {"data": [[1, 2, 3, 4]], "dtypes": {}}},
        "application/json",
        400,
        "received the fields ['data', 'dtypes']",
    ),
    (
        "split of a list",
        {"dataframe_split": [[1, 2, 3, 4]]},
        "application/json",
        400,
        "dataframe_split must be an object",
    ),
    (
        "split columns do not fit the rows",
        {"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2, 3]]}},
        "application/json",
        400,
        "dataframe_split is not a valid table",
    ),
    (
        "records of an object",
        {"dataframe_records": {"a": 1}},
        "application/json",
        400,
        "must be a list of records; received an object",
    ),
    ("ragged rows", {"instances": [[1, 2, 3, 4], [1, 2]]}, "application/json", 400, "same length"),
    (
        "one flat row",
        {"instances": [1, 2, 3, 4]},
        "application/json",
        400,
        "send one row as [[...]]",
    ),
    ("no rows", {"inputs": []}, "application/json", 400, "holds no rows"),
    ("a scalar", {"inputs": 3}, "application/json", 400, "received a number"),
    (
        "columns of unequal length",
        {"inputs": {"a": [1, 2], "b": [1]}},
        "application/json",
        400,
        "different lengths",
    ),
    ("a scalar column", {"inputs": {"a": 1}}, "application/json", 400, "must be a list of values"),
    ("params not an object", {"inputs": [[1]], "params": [1]}, "application/json", 400, "params"),
    (
        "a missing feature",
        {"dataframe_records": [dict.fromkeys(COLUMNS[:3], 1.0)]},
        "application/json",
        400,
        "missing:\n- petal width (cm)",
    ),
    (
        "rows too narrow",
        {"instances": [[1.0, 2.0]]},
        "application/json",
        400,
        "expecting 4 features",
    ),
    ("empty csv", b"", "text/csv", 400, "the CSV body is empty"),
    ("csv without rows", ",".join(COLUMNS) + "\n", "text/csv", 400, "holds no rows"),
    ("no content type", {"inputs": [[1, 2, 3, 4]]}, None, 415, "give a Content-Type"),
    ("form", b"inputs=1", "application/x-www-form-urlencoded", 415, "is not supported"),
    ("latin-1", {"inputs": [[1, 2, 3, 4]]}, "application/json; charset=latin-1", 415, "UTF-8"),
    ("other parameter", {"inputs": [[1, 2, 3, 4]]}, "text/csv; header=present", 415, "header"),
]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_malformed_bodies_get_mlflows_error_shape(
    iris_server: Server, body: Any, content_type: str | None, status: int, message: str
) -> None:
    answer = call(iris_server, "/predict", body, content_type)
    assert answer.status == status
    assert answer.json["error_code"] == "BAD_REQUEST"
    assert message in answer.json["message"]
    assert set(answer.json) == {"error_code", "message"}


def test_a_bad_query_is_refused(iris_server: Server) -> None:
    answer = call(iris_server, "/predict?proba=maybe", {"inputs": [[1, 2, 3, 4]]})
    assert answer.status == 400 and "proba='maybe'" in answer.json["message"]


def test_a_body_over_the_limit_is_refused_unread(shelf: Path) -> None:
    from starlette.testclient import TestClient

    with ModelRegistry(shelf) as registry:
        app = create_app(registry, "iris@champion", watch=False, max_body_bytes=1000)
        with TestClient(app) as client:
            small = client.post("/predict", json={"instances": [[5.1, 3.5, 1.4, 0.2]]})
            assert small.status_code == 200 and small.json() == {"predictions": [0]}
            big = client.post("/predict", json={"instances": [[5.1, 3.5, 1.4, 0.2]] * 100})
            assert big.status_code == 413
            assert big.json()["message"] == "the body is larger than 1000 bytes"

            def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
                yield b'{"instances": ['
                for _ in range(100):
                    yield b"[5.1, 3.5, 1.4, 0.2],"
                yield b"[5.1, 3.5, 1.4, 0.2]]}"

            streamed = client.post(
                "/predict", content=chunks(), headers={"Content-Type": "application/json"}
            )
            assert streamed.status_code == 413


def test_a_model_fitted_on_an_array_gets_an_array(
    shelf: Path, serve: Callable[..., Server]
) -> None:
    server = serve(shelf, "reg")
    model = LinearRegression().fit(X.to_numpy()[:, :3], X.to_numpy()[:, 3])
    rows = ROWS[COLUMNS[:3]]
    named = call(server, "/predict", {"dataframe_split": json.loads(rows.to_json(orient="split"))})
    bare = call(server, "/predict", {"instances": rows.to_numpy().tolist()})
    assert named.status == bare.status == 200, (named.json, bare.json)
    assert np.allclose(named.json["predictions"], model.predict(rows.to_numpy()))
    assert np.allclose(bare.json["predictions"], model.predict(rows.to_numpy()))
    no_proba = call(server, "/predict?proba=1", {"instances": rows.to_numpy().tolist()})
    assert no_proba.status == 400
    assert no_proba.json["message"].startswith(
        "reg:1.0.0: the model (LinearRegression) has no predict_proba"
    )
    # The model refusing the rows is the request's fault: a 400 that says why.
    wrong_width = call(server, "/predict", {"instances": [[1.0, 2.0]]})
    assert wrong_width.status == 400 and wrong_width.json["error_code"] == "BAD_REQUEST"
    assert "ValueError" in wrong_width.json["message"]


# -- health and metadata ---------------------------------------------------------------------


def test_health_and_metadata(iris_server: Server, shelf_template: Path) -> None:
    for path in ("/health", "/ping"):
        health = call(iris_server, path)
        assert health.status == 200
        assert health.json == {"status": "ok", "model_id": 1, "version": "1.0.0"}
    meta = call(iris_server, "/metadata")
    assert meta.status == 200
    with ModelRegistry(shelf_template) as registry:
        recorded = registry.get_metadata("iris@champion")
    body = meta.json
    assert body["reference"] == "iris@champion"
    assert (body["model_id"], body["name"], body["version"]) == (1, "iris", "1.0.0")
    assert body["aliases"] == ["champion"] and body["stage"] == "None"
    assert body["sha256"] == recorded.artifact.sha256
    assert body["metrics"] == {"f1": 0.97}
    assert body["feature_names"] == COLUMNS
    assert body["signed"] is False and body["switches"] == []
    assert body["loaded_at"] > body["created_at"]
    assert body["watch"]["poll_interval"] == 2.0 and body["watch"]["last_error"] is None
    assert call(iris_server, "/predict", b"", None).status == 415  # no body, no type
    assert call(iris_server, "/predict").status == 405  # a GET
    assert call(iris_server, "/nowhere").status == 404


# -- verified versions only --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "setup", "code", "message"),
    [
        ("const:1.0.1", "tamper", 3, "checksum mismatch"),
        ("const@champion", "unsigned", 3, "not signed and signing is required"),
        ("const@nobody", None, 1, "no model version matches 'const@nobody'"),
        ("ghost", None, 1, "no model version matches 'ghost'"),
        ("const@@x", None, 2, "const@@x"),
    ],
    ids=["tampered", "unsigned", "no such alias", "no such model", "bad reference"],
)
def test_refuses_to_start_without_a_verified_version(
    shelf: Path, reference: str, setup: str | None, code: int, message: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELSHELF_")}
    if setup == "tamper":
        tamper(shelf, reference)
    elif setup == "unsigned":
        env["MODELSHELF_SIGNING_KEY"] = KEY
    command = [sys.executable, "-m", "modelshelf.cli", "serve", reference, "--port", "0"]
    done = subprocess.run(
        [*command, "--registry", str(shelf)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == code, done.stderr
    assert message in done.stderr
    assert done.stdout == ""  # no URL: nothing ever listened


def test_serves_a_signed_version_when_a_key_is_set(tmp_path: Path) -> None:
    path = tmp_path / "signed"
    with ModelRegistry(path, signing_key=KEY) as registry:
        registry.save_model(_constant(2), "const")
    env = {**os.environ, "MODELSHELF_SIGNING_KEY": KEY}
    command = [sys.executable, "-m", "modelshelf.cli", "serve", "const", "--port", "0"]
    process = subprocess.Popen(
        [*command, "--registry", str(path)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert "const:1.0.0" in banner and "verified" in banner
        url = re.search(r"(http://\S+)", banner)
        assert url is not None
        with urllib.request.urlopen(url.group(1) + "metadata", timeout=30) as response:
            assert json.load(response)["signed"] is True
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


# -- hot swap -------------------------------------------------------------------------------


class Load:
    """Client threads calling /predict back to back, each keeping every answer."""

    def __init__(self, server: Server, threads: int = 3) -> None:
        self.server = server
        self.stop = threading.Event()
        self.answers: list[list[tuple[str, list[int]]]] = [[] for _ in range(threads)]
        self.errors: list[str] = []
        self.threads = [
            threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)
        ]
        body = json.loads(ROWS.to_json(orient="split"))
        self.bodies = [
            ({"dataframe_split": body}, "application/json"),
            ({"instances": ROWS.to_numpy().tolist()}, "application/json"),
            (ROWS.to_csv(index=False), "text/csv"),
        ]
        for thread in self.threads:
            thread.start()

    def _run(self, index: int) -> None:
        body, content_type = self.bodies[index % len(self.bodies)]
        while not self.stop.is_set():
            try:
                answer = call(self.server, "/predict", body, content_type)
            except Exception as exc:  # a refused or dropped connection is a failure too
                self.errors.append(repr(exc))
                continue
            if answer.status != 200:
                self.errors.append(f"{answer.status}: {answer.json}")
                continue
            self.answers[index].append((answer.version, answer.json["predictions"]))

    def count(self) -> int:
        return sum(len(a) for a in self.answers)

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(60)


def test_switch_under_load_drops_no_request(shelf: Path, serve: Callable[..., Server]) -> None:
    server = serve(shelf, "const@champion", "--poll-interval", "0.2")
    load = Load(server)
    try:
        wait_for(lambda: load.count() >= 30, "30 answers from the champion")
        with ModelRegistry(shelf) as registry:
            registry.set_alias("const:1.0.1", "champion")
        wait_for(lambda: call(server, "/metadata").json["version"] == "1.0.1", "the switch")
        after = load.count()
        wait_for(lambda: load.count() >= after + 30, "30 answers after the switch")
    finally:
        load.finish()
    assert load.errors == []
    old, new = ("1.0.0", [0] * len(ROWS)), ("1.0.1", [2] * len(ROWS))
    for answers in load.answers:
        assert answers, "every client got answers"
        # Each answer is wholly one version's, and a client never goes back to the old one.
        assert all(answer in (old, new) for answer in answers)
        switched = answers.index(new) if new in answers else len(answers)
        assert answers[:switched] == [old] * switched
        assert answers[switched:] == [new] * (len(answers) - switched)
        assert answers[-1] == new
    assert sum(answers.count(old) for answers in load.answers) >= 30
    meta = call(server, "/metadata").json
    assert (meta["model_id"], meta["version"]) == (4, "1.0.1")
    assert [(s["from"], s["to"]) for s in meta["switches"]] == [
        ({"model_id": 3, "version": "1.0.0"}, {"model_id": 4, "version": "1.0.1"})
    ]
    logged = server.logged()
    assert "const@champion moved: switched from const:1.0.0 (model id 3) to const:1.0.1" in logged


def test_a_version_that_fails_verification_is_never_served(
    shelf: Path, serve: Callable[..., Server]
) -> None:
    server = serve(shelf, "const@champion", "--poll-interval", "0.2")
    tamper(shelf, "const:1.0.2")
    with ModelRegistry(shelf) as registry:
        registry.set_alias("const:1.0.2", "champion")
        wait_for(lambda: call(server, "/metadata").json["watch"]["last_error"], "a failed check")
        answer = call(server, "/predict", {"instances": [ROWS.iloc[0].tolist()]})
        assert (answer.status, answer.version, answer.json) == (200, "1.0.0", {"predictions": [0]})
        meta = call(server, "/metadata").json
        assert "checksum mismatch" in meta["watch"]["last_error"] and meta["switches"] == []
        assert call(server, "/health").status == 200
        assert "ERROR modelshelf.serve: const@champion now names const:1.0.2" in server.logged()
        assert "still serving const:1.0.0" in server.logged()
        # A good version afterwards is taken as usual.
        registry.set_alias("const:1.0.1", "champion")
        wait_for(lambda: call(server, "/metadata").json["version"] == "1.0.1", "the switch")
    answer = call(server, "/predict", {"instances": [ROWS.iloc[0].tolist()]})
    assert answer.json == {"predictions": [2]}
    assert call(server, "/metadata").json["watch"]["last_error"] is None


def test_a_stage_reference_follows_promotions(shelf: Path, serve: Callable[..., Server]) -> None:
    server = serve(shelf, "const/Production", "--poll-interval", "0.2")
    assert call(server, "/metadata").json["stage"] == "Production"
    with ModelRegistry(shelf) as registry:
        registry.transition_stage("const", "1.0.1", "Production")
    wait_for(lambda: call(server, "/metadata").json["version"] == "1.0.1", "the switch")
    assert call(server, "/predict", {"inputs": [ROWS.iloc[0].tolist()]}).json == {
        "predictions": [2]
    }


def test_champion_and_challenger_with_a_scaler(
    tmp_path: Path, serve: Callable[..., Server]
) -> None:
    """The workflow end to end: each version is saved with an input example and its
    scaler as a preprocessing step; the champion serves, a challenger is promoted, and
    the server answers from it. Input that breaks the signature is a 400 naming the
    column."""

    def fit(model: Any) -> tuple[StandardScaler, Any]:
        scaler = StandardScaler().fit(X)
        return scaler, model.fit(scaler.transform(X), Y)

    champion_scaler, champion = fit(LogisticRegression(max_iter=1000))
    challenger_scaler, challenger = fit(DecisionTreeClassifier(max_depth=1))
    expected_champion = champion.predict(champion_scaler.transform(X)).tolist()
    expected_challenger = challenger.predict(challenger_scaler.transform(X)).tolist()
    assert expected_champion != expected_challenger
    # Without its scaler the champion answers differently: the server must apply it.
    assert champion.predict(X.to_numpy()).tolist() != expected_champion
    path = tmp_path / "registry"
    with ModelRegistry(path) as registry:
        registry.save_model(
            champion,
            "iris-clf",
            metrics={"f1": 0.97},
            artifacts={"scaler": champion_scaler},
            preprocessing=["scaler"],
            input_example=X.head(3),
        )
        registry.set_alias("iris-clf:1.0.0", "champion")
    server = serve(path, "iris-clf@champion", "--poll-interval", "0.2")
    body = {"dataframe_split": json.loads(X.to_json(orient="split"))}
    assert call(server, "/predict", body).json["predictions"] == expected_champion
    missing = {
        "dataframe_records": [
            {k: v for k, v in row.items() if k != X.columns[0]}
            for row in X.head(2).to_dict("records")
        ]
    }
    refused = call(server, "/predict", missing)
    assert refused.status == 400 and X.columns[0] in refused.json["message"]
    with ModelRegistry(path) as registry:
        registry.save_model(
            challenger,
            "iris-clf",
            metrics={"f1": 0.6},
            artifacts={"scaler": challenger_scaler},
            preprocessing=["scaler"],
            input_example=X.head(3),
        )
        registry.set_alias("iris-clf:1.0.1", "challenger")
        registry.set_alias("iris-clf:1.0.1", "champion")  # promoted
    wait_for(lambda: call(server, "/predict", body).version == "1.0.1", "the switch")
    answer = call(server, "/predict", body)
    assert answer.json["predictions"] == expected_challenger
    meta = call(server, "/metadata").json
    assert meta["aliases"] == ["challenger", "champion"]


# -- the parts, directly -------------------------------------------------------------------------


def test_parsing_gives_named_tables_and_bare_arrays() -> None:
    split = parse_body(
        b'{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]], "index": [7]}}',
        "application/json",
    )
    assert split.format == "dataframe_split"
    assert list(split.rows.columns) == ["a", "b"] and list(split.rows.index) == [7]
    rows = parse_body(b'{"instances": [[1, 2], [3, 4]], "params": {"k": 1}}', "Application/JSON")
    assert isinstance(rows.rows, np.ndarray) and rows.rows.shape == (2, 2)
    assert rows.params == {"k": 1}
    records = parse_body(b'{"instances": [{"a": 1, "b": 2}, {"b": 4, "a": 3}]}', "application/json")
    assert records.rows.to_dict("list") == {"a": [1, 3], "b": [2, 4]}
    csv = parse_body(b"a,b\n1,x\n", "text/csv; charset=UTF-8")
    assert csv.rows.to_dict("list") == {"a": [1], "b": ["x"]} and csv.format == "csv"
    with pytest.raises(UnsupportedMediaTypeError) as refused:
        parse_body(b"", "text/plain")
    assert refused.value.status == 415
    with pytest.raises(InvalidRequestError, match="received null"):
        parse_body(b"null", "application/json")


def test_predictions_become_json_values() -> None:
    assert to_jsonable(np.array([1, 2])) == [1, 2]
    assert to_jsonable(np.array([0.5, np.nan, np.inf])) == [0.5, None, None]
    assert to_jsonable(pd.Series(["a", "b"])) == ["a", "b"]
    assert to_jsonable(pd.DataFrame({"p": [0.25], "q": [np.float32(0.75)]})) == [
        {"p": 0.25, "q": 0.75}
    ]
    assert to_jsonable([np.int64(3), (np.bool_(True), None)]) == [3, [True, None]]
    assert json.dumps(to_jsonable(np.array([[1.5, 2.5]], dtype=np.float32))) == "[[1.5, 2.5]]"
    with pytest.raises(TypeError, match="object cannot be sent as JSON"):
        to_jsonable(object())


def test_slot_follows_the_reference_and_refreshes_what_it_shows(shelf: Path) -> None:
    with ModelRegistry(shelf) as registry, ModelRegistry(shelf) as other:
        slot = ModelSlot(registry, "const@champion", poll_interval=0.5)
        first = slot.load()
        assert slot.check() is False and slot.current is first
        other.update_model("const:1.0.0", description="the baseline")
        assert slot.check() is False  # same version: no switch, fresher metadata
        assert slot.current.metadata.description == "the baseline"
        assert (
            slot.current.loaded is not first.loaded
            and slot.current.loaded.model is first.loaded.model
        )
        other.set_alias("const:1.0.1", "champion")
        assert slot.check() is True
        assert slot.current.metadata.version == "1.0.1" and len(slot.switches) == 1
        assert first.metadata.version == "1.0.0"  # a request holding the old one keeps it
        other.delete_alias("const", "champion")
        assert slot.check() is False
        assert "no model version matches" in (slot.last_error or "")
        assert slot.current.metadata.version == "1.0.1"


def test_slot_refuses_a_bad_poll_interval(shelf: Path) -> None:
    with ModelRegistry(shelf) as registry:
        for bad in (0, -1, float("nan"), True, "2"):
            with pytest.raises(ValueError, match="poll_interval"):
                ModelSlot(registry, "const", poll_interval=bad)  # type: ignore[arg-type]


def test_importing_the_cli_loads_no_serving_library() -> None:
    code = (
        "import sys, modelshelf, modelshelf.cli\n"
        "heavy = ('starlette', 'uvicorn', 'pandas', 'modelshelf.serving')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_the_listening_socket_says_it_is_tcp() -> None:
    """asyncio turns Nagle's algorithm off only on sockets whose proto is TCP; with it on,
    every response on a keep-alive connection waited ~40 ms for a delayed ACK."""
    import socket

    from modelshelf.serving.server import bind

    listener = bind("127.0.0.1", 0)
    with listener, socket.create_connection(listener.getsockname()[:2]) as client:
        accepted, _ = listener.accept()
        with accepted:
            assert accepted.proto == socket.IPPROTO_TCP
            assert client.getpeername() == accepted.getsockname()


@pytest.mark.parametrize(
    "body",
    [b[1] for b in _bodies() if isinstance(b[1], dict)],
    ids=[b[0] for b in _bodies() if isinstance(b[1], dict)],
)
def test_bodies_parse_to_the_table_mlflow_parses_them_to(body: dict[str, Any]) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLflow's own deprecation notices
        from mlflow.pyfunc.scoring_server import infer_and_parse_data

        theirs = infer_and_parse_data({k: v for k, v in body.items() if k != "params"})
    ours = parse_body(json.dumps(body).encode(), "application/json").rows
    if isinstance(theirs, dict):  # columns as arrays: what a DataFrame is made of
        theirs = pd.DataFrame(theirs)
    if isinstance(theirs, pd.DataFrame):
        pd.testing.assert_frame_equal(ours, theirs)
    else:
        assert isinstance(ours, np.ndarray)
        np.testing.assert_array_equal(ours, theirs)
