from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from modelshelf import ModelRegistry

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    import numpy as np

STORES = ["sqlite", "json"]
SERIALIZERS = ["joblib", "cloudpickle"]


@pytest.fixture(scope="session")
def iris() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_iris(return_X_y=True)
    return X, y


@pytest.fixture(scope="session")
def logistic(iris: tuple[np.ndarray, np.ndarray]) -> LogisticRegression:
    X, y = iris
    return LogisticRegression(max_iter=1000).fit(X, y)


@pytest.fixture(scope="session")
def logistics(iris: tuple[np.ndarray, np.ndarray]) -> list[LogisticRegression]:
    """24 real models told apart by their ``C`` (and so by their coefficients).

    For tests that save several versions and must check that a load gave back
    the right one, not just a model.
    """
    X, y = iris
    return [LogisticRegression(C=10 ** (k / 4 - 3), max_iter=1000).fit(X, y) for k in range(24)]


@pytest.fixture(scope="session")
def forest(iris: tuple[np.ndarray, np.ndarray]) -> RandomForestClassifier:
    X, y = iris
    return RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)


@pytest.fixture
def make_registry(tmp_path: Path) -> Iterator[Callable[..., ModelRegistry]]:
    opened: list[ModelRegistry] = []

    def make(**options: Any) -> ModelRegistry:
        options.setdefault("storage_path", tmp_path / "registry")
        registry = ModelRegistry(**options)
        opened.append(registry)
        return registry

    yield make
    for registry in opened:
        registry.close()


@pytest.fixture(
    params=[(s, z) for s in STORES for z in SERIALIZERS], ids=lambda p: f"{p[0]}-{p[1]}"
)
def registry(
    request: pytest.FixtureRequest, make_registry: Callable[..., ModelRegistry]
) -> ModelRegistry:
    """A registry on each bundled store with each bundled serializer."""
    store, serializer = request.param
    return make_registry(store=store, serializer=serializer)


@pytest.fixture(params=STORES)
def store_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 API (moto's server mode, its own process) on a free loopback port.

    Credentials and the endpoint go into the environment, where s3fs (and any
    child process) finds them, just as a team's machines would configure it.
    """
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto's S3 server did not start on {endpoint}")
                time.sleep(0.1)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("AWS_ACCESS_KEY_ID", "modelshelf-test")
            patch.setenv("AWS_SECRET_ACCESS_KEY", "modelshelf-test-secret")
            patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
            patch.setenv("AWS_ENDPOINT_URL", endpoint)
            yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    """A new, empty bucket on the loopback S3 server; its ``s3://`` URL."""
    import uuid

    import boto3

    name = f"modelshelf-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=name)
    return f"s3://{name}"
