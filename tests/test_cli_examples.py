"""Every command's example, as docs/cli.md shows it, runs.

Each example runs for real, through the installed console script, in a fresh
copy of one prepared workspace: a registry at the default path holding three
versions of ``churn`` (1.0.1 in Production after 1.0.0, and the ``champion``
alias), two checkpoints, a model file, a CSV of inputs, an exported bundle
and an MLflow registry (``mlflow.db``, made by MLflow), so the examples read
as a user would type them, without ``--registry``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import joblib
import numpy as np
import pytest

from modelshelf import ModelRegistry, bundle
from modelshelf.cli import cli
from modelshelf.cli.reference import _commands, examples

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression

SCRIPT = Path(sys.executable).with_name("modelshelf")
#: Commands that serve until stopped: their examples are parsed, not run.
SERVERS = {"modelshelf ui", "modelshelf serve"}
COMMANDS = [(path, command) for path, command in _commands(cli, "modelshelf")]
EXAMPLES = [(path, line) for path, command in COMMANDS for line in examples(command)]


def test_every_command_has_an_example() -> None:
    lacking = [
        path
        for path, command in COMMANDS
        if not getattr(command, "commands", None) and not examples(command)
    ]
    assert lacking == [], "add an 'Example: modelshelf ...' line to their help"


@pytest.fixture(scope="module")
def workspace(
    tmp_path_factory: pytest.TempPathFactory,
    logistic: LogisticRegression,
    iris: tuple[np.ndarray, np.ndarray],
) -> Path:
    root = tmp_path_factory.mktemp("examples")
    X, _ = iris
    joblib.dump(logistic, root / "model.joblib")
    np.savetxt(root / "customers.csv", X[:5], delimiter=",", header="a,b,c,d", comments="")
    with ModelRegistry(root / "data" / "models" / "registry") as registry:
        for f1 in (0.8, 0.85, 0.9):
            registry.save_model(logistic, "churn", metrics={"f1": f1, "accuracy": f1 + 0.02})
        registry.transition_stage("churn", "1.0.0", "Production")
        registry.transition_stage("churn", "1.0.1", "Production")
        registry.set_alias("churn:1.0.1", "champion")
        for step in (50, 100):
            registry.save_checkpoint(logistic, "churn", step, {"loss": 1 / step})
        bundle.export_version(registry, "churn:1.0.2", root / "churn-1.0.2.tar.gz")
    _mlflow_store(root, logistic)
    return root


def _mlflow_store(root: Path, model: LogisticRegression) -> None:
    """``mlflow.db``: an MLflow registry with one version of ``churn``, made by MLflow."""
    import warnings

    import mlflow
    import mlflow.sklearn

    uri = f"sqlite:///{root / 'mlflow.db'}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLflow's own deprecation notices
        client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
        experiment = client.create_experiment("churn", (root / "mlruns").as_uri())
        mlflow.sklearn.save_model(model, root / "mlflow-model", pip_requirements=[])
        run_id = client.create_run(experiment).info.run_id
        client.log_metric(run_id, "f1", 0.9)
        client.log_artifacts(run_id, str(root / "mlflow-model"), "model")
        client.create_registered_model("churn")
        client.create_model_version("churn", f"runs:/{run_id}/model", run_id)


@pytest.mark.parametrize(("path", "line"), EXAMPLES, ids=[line for _, line in EXAMPLES])
def test_example_runs(
    path: str, line: str, workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    words = shlex.split(line)
    assert " ".join(words[: len(path.split())]) == path, f"{path}'s example runs another command"
    if path in SERVERS:
        command = dict(COMMANDS)[path]
        command.make_context(path, words[len(path.split()) :])  # options and arguments parse
        return
    here = tmp_path / "here"
    shutil.copytree(workspace, here)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELSHELF_")}
    done = subprocess.run(
        [str(SCRIPT), *words[1:]], cwd=here, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
