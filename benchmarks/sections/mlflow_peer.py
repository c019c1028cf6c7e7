"""MLflow, the peer: the same workload through MLflow's registry, in its own venv."""

from __future__ import annotations

import json
import subprocess
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

from harness import (
    HERE,
    SMALL_METRICS,
    SMALL_PARAMS,
    Figure,
    median,
    ms,
    skipped,
    small_model,
    timed,
)

# -- MLflow, the peer --------------------------------------------------------------------

#: What each side does for one save, so the ratio is read for what it is.
PER_SAVE = (
    "modelshelf: joblib.dump of the model + sha256 while writing, fsync, rename, one "
    "SQLite transaction (synchronous=FULL) for the version row, metrics and tags; "
    "MLflow: a run (create + end), log_params, log_metrics, log_model (a model "
    "directory: MLmodel, pickle, requirements and conda/python env files, copied to "
    "the artifact store) and a registered model version, over its SQLite backend "
    "(requirements given, so no inference subprocess)"
)


def bench_mlflow(work: Path, quick: bool, mlflow_python: str | None) -> list[Figure]:
    from modelshelf import ModelRegistry

    names = (
        "save small model",
        "list one model's versions",
        "list versions with f1 >= 0.75",
        "best by f1",
        "load small model",
    )
    keys = ("save", "list", "filtered", "best", "load")
    if not mlflow_python:
        reason = "no MLflow interpreter (--mlflow-python or MODELSHELF_BENCH_MLFLOW_PYTHON)"
        return [skipped("mlflow", f"vs MLflow: {n}", reason) for n in names]
    versions = 10 if quick else 40
    repeat = 5 if quick else 30
    peer_args = (str(work / "mlflow"), str(versions), str(repeat))
    done = subprocess.run(
        [mlflow_python, str(HERE / "bench_mlflow.py"), *peer_args],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        reason = f"MLflow run failed: {done.stderr.strip()[-300:]}"
        return [skipped("mlflow", f"vs MLflow: {n}", reason) for n in names]
    theirs = json.loads(done.stdout.strip().splitlines()[-1])

    model = small_model()
    registry = ModelRegistry(work / "peer")
    saves = []
    for i in range(versions):
        metrics = {**SMALL_METRICS, "f1": 0.5 + i / (2 * versions)}
        start = time.perf_counter()
        registry.save_model(model, "bench", metrics=metrics, hyperparameters=SMALL_PARAMS)
        saves.append(time.perf_counter() - start)
    best = timed(lambda: registry.get_best_model("f1"), repeat)
    load = timed(lambda: registry.load("bench:1.0.0").model, repeat)
    listed = timed(lambda: registry.get_model_versions("bench"), repeat)
    filtered = timed(lambda: registry.list_models(min_f1=0.75), repeat)
    assert len(registry.get_model_versions("bench")) == versions
    registry.close()
    ours = {
        "save": median(saves),
        "list": median(listed),
        "filtered": median(filtered),
        "best": median(best),
        "load": median(load),
    }
    figures = []
    for key, name in zip(keys, names, strict=True):
        figures.append(
            Figure(
                "mlflow",
                f"vs MLflow {theirs['version']}: {name}",
                "ms",
                ms(ours[key]),
                ms(theirs[key]),
                "MLflow (SQLite backend)",
                # ratio = ours / MLflow, so "20x ahead" is a ratio <= 0.05
                target="ratio <= 0.05" if key in ("save", "best") else "",
                samples=versions if key == "save" else repeat,
                note=f"MLflow is {theirs[key] / ours[key]:.0f}x slower"
                + (f"; per save: {PER_SAVE}" if key == "save" else ""),
            )
        )
    return figures
