"""The peer workload through MLflow's model registry (local SQLite backend).

Runs in a virtual environment of its own (``nox -s bench`` builds it), so
MLflow's dependencies never meet the project's. It does what
``benchmarks/run.py`` does with modelshelf: save the same small model with
the same metrics ``versions`` times as versions of one registered model,
list that model's versions, list the versions whose f1 passes a bound, ask
for the best version by f1, and load a version back; it prints one JSON
line of medians in seconds.

    python benchmarks/bench_mlflow.py WORKDIR VERSIONS REPEAT
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any


def main(workdir: str, versions: int, repeat: int) -> dict[str, Any]:
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    warnings.filterwarnings("ignore")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.ERROR)

    import mlflow
    import mlflow.sklearn
    from mlflow.tracking import MlflowClient
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    root = Path(workdir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    mlflow.set_registry_uri(f"sqlite:///{root / 'mlflow.db'}")
    experiment = mlflow.create_experiment("bench", artifact_location=(root / "artifacts").as_uri())
    mlflow.set_experiment(experiment_id=experiment)
    client = MlflowClient()

    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=1000).fit(X, y)
    params = {"C": 1.0, "max_iter": 1000, "solver": "lbfgs"}

    saves = []
    for i in range(versions):
        metrics = {"f1": 0.5 + i / (2 * versions), "accuracy": 0.93, "roc_auc": 0.97}
        start = time.perf_counter()
        with mlflow.start_run():
            mlflow.log_params(params)
            mlflow.log_metrics(metrics)
            mlflow.sklearn.log_model(
                model,
                name="model",
                registered_model_name="bench",
                # Given, so MLflow skips inferring requirements in a subprocess
                # (seconds per save): its fastest configuration, not its default.
                pip_requirements=["scikit-learn"],
            )
        saves.append(time.perf_counter() - start)

    def best() -> Any:
        runs = client.search_runs([experiment], order_by=["metrics.f1 DESC"], max_results=1)
        found = client.search_model_versions(f"run_id='{runs[0].info.run_id}'")
        return found[0]

    def load() -> Any:
        return mlflow.sklearn.load_model("models:/bench/1")

    def listed() -> Any:
        return client.search_model_versions("name='bench'")

    def filtered() -> Any:
        # The model registry cannot filter on metrics: runs can, then their versions.
        runs = client.search_runs([experiment], filter_string="metrics.f1 >= 0.75")
        ids = ", ".join(f"'{run.info.run_id}'" for run in runs)
        return client.search_model_versions(f"run_id IN ({ids})")

    def timed(fn: Any) -> list[float]:
        fn()
        out = []
        for _ in range(repeat):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
        return out

    assert str(best().version) == str(versions)
    assert len(listed()) == versions
    return {
        "list": statistics.median(timed(listed)),
        "filtered": statistics.median(timed(filtered)),
        "version": mlflow.__version__,
        "save": statistics.median(saves),
        "best": statistics.median(timed(best)),
        "load": statistics.median(timed(load)),
    }


if __name__ == "__main__":
    result = main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
    print(json.dumps(result))
