"""Migrating from MLflow, against registries MLflow itself made.

The big registry (3 names, 1,000 versions, stages, aliases, three flavours
and formats) is made once per module: one model logged per name with MLflow's
own ``log_model``, a few more training runs per name whose model directory is
logged as run artifacts (MLflow 2's ``runs:/`` sources), and many versions
registered from those runs, as a team that registers every retraining gets.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from modelshelf import ModelRegistry, SerializationError
from modelshelf.cli import cli
from modelshelf.migrate import (
    RUN_ID_TAG,
    SOURCE_TAG,
    MigrationError,
    MigrationReport,
    from_mlflow,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

mlflow = pytest.importorskip("mlflow")
pytest.importorskip("mlflow.sklearn")

#: Versions per registered model in the big registry: 1,000 in all.
SIZES = {"churn": 600, "fraud": 300, "ranker": 100}
#: Training runs per name beyond the one that logged the model.
EXTRA_RUNS = 3
ROOT = Path(__file__).parent.parent


@pytest.fixture(autouse=True)
def _mlflow_warnings() -> Iterator[None]:
    """MLflow and SQLAlchemy warn about their own deprecations (stages, loader
    options) while the fixture drives them; nothing the code under test controls."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", UserWarning)
        yield


class MlflowStore:
    """An MLflow tracking + registry store on SQLite, with file artifacts."""

    def __init__(self, root: Path, uri: str | None = None) -> None:
        self.root = root
        self.uri = uri or f"sqlite:///{root / 'mlflow.db'}"
        self.client = mlflow.MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
        self.experiment = self.client.create_experiment(
            "migration", artifact_location=(root / "artifacts").as_uri()
        )
        self.seconds = 0.0

    def log_model(self, flavour: str, model: Any, **options: Any) -> tuple[str, Any]:
        """Log ``model`` in a new run with MLflow's own ``log_model``; (run id, model info)."""
        with mlflow.start_run(experiment_id=self.experiment, run_name="train") as run:
            mlflow.log_params({"max_iter": 300, "penalty": "l2"})
            mlflow.log_metrics({"f1": 0.91, "accuracy": 0.93, "log_loss": 0.2})
            module = getattr(mlflow, flavour)
            if flavour == "pyfunc":
                options = {**options, "python_model": model}
            else:
                options = {**options, "sk_model": model}
            info = module.log_model(name="model", pip_requirements=[], **options)
        return run.info.run_id, info

    def training_run(self, model_dir: str, index: int) -> str:
        """A run that logged ``model_dir`` as its ``model`` artifact (MLflow 2's layout)."""
        from mlflow.entities import Metric, Param, RunTag

        stamp = 1_700_000_000_000 + index * 60_000
        run = self.client.create_run(self.experiment, start_time=stamp, run_name=f"retrain-{index}")
        run_id = run.info.run_id
        self.client.log_batch(
            run_id,
            metrics=[
                Metric("f1", 0.8 + index / 100, stamp, 0),
                Metric("accuracy", 0.85 + index / 100, stamp, 0),
            ],
            params=[Param("max_iter", str(100 * (index + 1))), Param("penalty", "l2")],
            tags=[RunTag("mlflow.source.git.commit", f"{index:040x}")],
        )
        self.client.log_artifacts(run_id, model_dir, "model")
        self.client.set_terminated(run_id, end_time=stamp + 30_000)
        return str(run_id)


def _local_python_model() -> Any:
    """A pyfunc model whose class cloudpickle stores by value (no module to import)."""

    class Doubler(mlflow.pyfunc.PythonModel):  # type: ignore[misc, name-defined]
        def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
            return np.asarray(model_input, dtype=float) * 2

    return Doubler()


def make_store(
    root: Path, sizes: dict[str, int], extra_runs: int = EXTRA_RUNS, uri: str | None = None
) -> MlflowStore:
    """A registry of ``sizes`` versions per name, stages and aliases set through MLflow.

    MLflow's fluent API, and its registry when a version's source is a logged
    model (``models:/m-...``), use the process's tracking URI: it points at this
    store while it is made.
    """
    previous = mlflow.get_tracking_uri()
    store = MlflowStore(root, uri)
    mlflow.set_tracking_uri(store.uri)
    try:
        return _make_store(store, sizes, extra_runs)
    finally:
        mlflow.set_tracking_uri(previous)


def _make_store(store: MlflowStore, sizes: dict[str, int], extra_runs: int) -> MlflowStore:
    from mlflow.models import infer_signature
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    started = time.perf_counter()
    root = store.root
    client = store.client
    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    logistic = LogisticRegression(max_iter=300).fit(X, y)
    tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X.to_numpy(), y)
    flavours: dict[str, tuple[str, Any, dict[str, Any]]] = {
        "churn": (
            "sklearn",
            logistic,
            {
                "serialization_format": "skops",
                "signature": infer_signature(X, logistic.predict(X)),
            },
        ),
        "fraud": ("sklearn", tree, {"serialization_format": "cloudpickle"}),
        "ranker": ("pyfunc", _local_python_model(), {}),
    }
    for name, count in sizes.items():
        flavour, model, options = flavours[name]
        client.create_registered_model(
            name, tags={"owner": "risk-team"}, description=f"The {name} model."
        )
        first_run, info = store.log_model(flavour, model, **options)
        model_dir = mlflow.artifacts.download_artifacts(
            artifact_uri=client.get_logged_model(info.model_id).artifact_location,
            dst_path=str(root / f"{name}-dir"),
        )
        runs = [first_run] + [store.training_run(model_dir, i) for i in range(extra_runs)]
        for number in range(1, count + 1):
            run_id = runs[(number - 1) % len(runs)]
            source = info.model_uri if run_id == first_run else f"runs:/{run_id}/model"
            tags = {"team": "risk", "batch": str(number // 100)}
            if number == 2:
                tags["reviewed by"] = "MLflow allows it, modelshelf does not"
            client.create_model_version(
                name,
                source,
                run_id,
                tags=tags,
                description=f"{name} retrained, #{number}" if number % 7 == 0 else None,
            )
    for name, count in sizes.items():
        client.transition_model_version_stage(name, str(count), "Production")
        if count > 2:
            client.transition_model_version_stage(name, str(count - 1), "Staging")
        for number in range(1, min(count - 1, 11)):
            client.transition_model_version_stage(name, str(number), "Archived")
        client.set_registered_model_alias(name, "champion", str(count))
        if count > 1:
            client.set_registered_model_alias(name, "challenger", str(count - 1))
    if sizes.get("fraud", 0) > 3:
        # MLflow allows several Production versions of a name; modelshelf keeps one.
        client.transition_model_version_stage("fraud", str(sizes["fraud"] - 2), "Production")
    store.seconds = time.perf_counter() - started
    return store


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> MlflowStore:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        store = make_store(tmp_path_factory.mktemp("mlflow-big"), SIZES)
    print(f"\nMLflow registry of {sum(SIZES.values())} versions made in {store.seconds:.1f} s")
    return store


def _versions(store: MlflowStore) -> list[Any]:
    found: list[Any] = []
    token = None
    while True:
        page = store.client.search_model_versions(max_results=1000, page_token=token)
        found.extend(page)
        token = page.token
        if not token:
            return sorted(found, key=lambda v: (v.name, int(v.version)))


MIGRATE_SCRIPT = """
import sys, warnings
warnings.simplefilter("ignore")
from modelshelf.migrate import from_mlflow

def progress(done, total, reference):
    print(done, reference, flush=True)

from_mlflow(sys.argv[1], sys.argv[2], progress=progress)
"""


@pytest.fixture(scope="module")
def migrated(big: MlflowStore, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Migrate the big registry in a process killed (SIGKILL) half-way, then resume it."""
    destination = tmp_path_factory.mktemp("destination") / "registry"
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", MIGRATE_SCRIPT, str(destination), big.uri],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    seen = 0
    for line in child.stdout:
        seen = int(line.split()[0])
        if seen >= 300:
            break
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)
    killed_after = time.perf_counter() - started
    resumed = from_mlflow(destination, big.uri)
    total = time.perf_counter() - started
    print(
        f"\nkilled after {seen} versions ({killed_after:.1f} s); resumed in "
        f"{resumed.seconds:.1f} s; {total:.1f} s in all"
    )
    return {
        "destination": destination,
        "killed_at": seen,
        "returncode": child.returncode,
        "resumed": resumed,
    }


def test_a_killed_migration_resumes_and_brings_every_version_once(
    big: MlflowStore, migrated: dict[str, Any]
) -> None:
    resumed: MigrationReport = migrated["resumed"]
    assert migrated["returncode"] == -signal.SIGKILL
    assert resumed.total == 1000
    assert resumed.failed == ()
    # What the killed run recorded is skipped, the rest copied: every version once.
    assert resumed.skipped >= migrated["killed_at"] >= 300
    assert resumed.copied + resumed.skipped == 1000
    assert resumed.verified == 1000
    with ModelRegistry(migrated["destination"], versioning="integer") as registry:
        for name, count in SIZES.items():
            versions = [m.version for m in registry.get_model_versions(name)]
            assert sorted(versions, key=int) == [str(n) for n in range(1, count + 1)]
        report = registry.verify()
        # A file written just before the kill may be left unrecorded (an orphan for
        # gc); nothing recorded is missing or damaged.
        assert report.ok, report.findings
        assert {f.kind for f in report.findings} <= {"orphan", "temporary"}


def test_every_field_comes_across(big: MlflowStore, migrated: dict[str, Any]) -> None:
    versions = _versions(big)
    runs = {v.run_id: big.client.get_run(v.run_id) for v in versions}
    aliases: dict[tuple[str, str], list[str]] = {}
    for model in big.client.search_registered_models():
        for alias, number in model.aliases.items():
            aliases.setdefault((model.name, str(number)), []).append(alias)
    assert len(aliases) == 6
    with ModelRegistry(migrated["destination"], versioning="integer") as registry:
        mine = {(m.model_name, m.version): m for m in registry.list_models()}
        assert len(mine) == len(versions) == 1000
        for version in versions:
            there = mine[(version.name, str(version.version))]
            run = runs[version.run_id]
            assert there.description == (version.description or "")
            expected_tags = {k: v for k, v in version.tags.items() if k != "reviewed by"}
            assert there.tags == {
                **expected_tags,
                RUN_ID_TAG: version.run_id,
                SOURCE_TAG: version.source,
            }
            assert there.created_at.timestamp() * 1000 == pytest.approx(
                version.creation_timestamp, abs=1
            )
            assert there.metrics == run.data.metrics
            assert there.hyperparameters == run.data.params
            lineage = there.training_info.extra["mlflow"]
            assert lineage["run_id"] == version.run_id
            assert lineage["source"] == version.source
            assert lineage["run_start_time"].startswith(
                time.strftime("%Y-%m-%dT%H:%M", time.gmtime(run.info.start_time / 1000))
            )
            assert lineage["run_tags"] == run.data.tags
            expected_stage = version.current_stage
            if (version.name, version.version) == ("fraud", 298):
                expected_stage = "Archived"  # one Production per name: the highest keeps it
            assert there.stage.value == expected_stage, version
            assert sorted(there.aliases) == sorted(aliases.get((version.name, there.version), []))
        assert [m.version for m in registry.list_models(stage="Production")] == [
            "600",
            "300",
            "100",
        ]
        churn = registry.get_metadata("churn:600")
        assert churn.artifact.serializer == "skops"
        assert churn.model_type == "LogisticRegression"
        assert churn.feature_names == (
            "sepal_length",
            "sepal_width",
            "petal_length",
            "petal_width",
        )
        assert registry.get_metadata("fraud:1").artifact.serializer == "cloudpickle"
        assert registry.get_metadata("fraud:1").model_type == "DecisionTreeClassifier"
        assert registry.get_metadata("ranker:1").artifact.serializer == "mlflow"
        info = registry.get_model_info("churn")
        assert (info.description, info.tags) == ("The churn model.", {"owner": "risk-team"})
        # Stages and aliases went through the public API: the audit log has them.
        reasons = {e.reason for e in registry.audit_log("churn")}
        assert reasons == {"migrated from MLflow"}
    notes = {(p.reference, p.kind) for p in migrated["resumed"].notes}
    assert ("fraud:298", "partial") in notes


def test_the_bytes_are_mlflows_and_load(big: MlflowStore, migrated: dict[str, Any]) -> None:
    import hashlib

    with ModelRegistry(migrated["destination"], versioning="integer") as registry:
        churn = registry.get_metadata("churn:1")
        skops_file = next((big.root / "churn-dir").rglob("model.skops"))
        assert churn.artifact.sha256 == hashlib.sha256(skops_file.read_bytes()).hexdigest()
        from sklearn.datasets import load_iris

        X, y = load_iris(return_X_y=True)
        fraud = registry.load("fraud:300").model
        assert (fraud.predict(X) == y).mean() > 0.9
        ranker = registry.load("ranker:7").model
        assert ranker is not None
        assert list(ranker.predict(np.array([[1.0, 2.0]]))[0]) == [2.0, 4.0]


def test_a_second_run_copies_nothing(big: MlflowStore, migrated: dict[str, Any]) -> None:
    again = from_mlflow(migrated["destination"], big.uri)
    assert (again.copied, again.skipped, again.failed) == (0, 1000, ())
    assert (again.stages_set, again.aliases_set, again.model_info_set) == (0, 0, 0)
    assert again.verified == 1000
    print(f"\nsecond run over 1,000 versions: {again.seconds:.1f} s")


# -- smaller registries, for what can go wrong ---------------------------------------------


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> MlflowStore:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make_store(tmp_path_factory.mktemp("mlflow-small"), {"churn": 4}, extra_runs=1)


def test_what_cannot_be_brought_is_reported_and_a_rerun_brings_it(tmp_path: Path) -> None:
    # A registry of its own, then one run's artifacts go missing: the versions
    # registered from that run cannot be downloaded.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        store = make_store(tmp_path / "mlflow", {"churn": 4}, extra_runs=1)
    uri = store.uri
    run = store.client.get_run(store.client.get_model_version("churn", "2").run_id)
    lost = Path(run.info.artifact_uri.removeprefix("file://")) / "model"
    moved = tmp_path / "aside"
    shutil.move(str(lost), moved)

    destination = tmp_path / "registry"
    first = from_mlflow(destination, uri)
    assert first.copied == 2
    assert [(p.reference, p.kind) for p in first.failed] == [
        ("churn:2", "download"),
        ("churn:4", "download"),
    ]
    assert "could not download" in first.failed[0].reason
    assert not first.ok

    shutil.move(str(moved), lost)
    second = from_mlflow(destination, uri)
    assert (second.copied, second.skipped, second.failed) == (2, 2, ())
    # churn:4 is Production and champion in MLflow: applied once it arrived.
    with ModelRegistry(destination, versioning="integer") as registry:
        production = registry.get_production_model("churn")
        assert production is not None
        assert production.version == "4"
        assert production.aliases == ("champion",)


def test_a_version_with_another_origin_is_a_conflict_left_alone(
    small: MlflowStore, tmp_path: Path, logistic: Any
) -> None:
    with ModelRegistry(tmp_path / "registry", versioning="integer") as registry:
        mine = registry.save_model(logistic, "churn", metrics={"f1": 0.5})
        report = from_mlflow(registry, small.uri)
        assert [(p.reference, p.kind) for p in report.failed] == [("churn:1", "conflict")]
        assert report.copied == 3
        kept = registry.get_metadata(mine)
        assert kept.metrics == {"f1": 0.5}
        assert RUN_ID_TAG not in kept.tags


def test_lineage_survives_edited_tags(small: MlflowStore, tmp_path: Path) -> None:
    with ModelRegistry(tmp_path / "registry", versioning="integer") as registry:
        assert from_mlflow(registry, small.uri).copied == 4
        registry.update_model("churn:3", tags={"owner": "someone else"})
        again = from_mlflow(registry, small.uri)
        assert (again.copied, again.skipped, again.failed) == (0, 4, ())


def test_a_semver_registry_is_refused_before_anything_is_read(
    small: MlflowStore, tmp_path: Path
) -> None:
    with ModelRegistry(tmp_path / "registry") as registry:
        with pytest.raises(MigrationError, match="--versioning integer"):
            from_mlflow(registry, small.uri)
        assert registry.list_models() == []


def test_names_limits_and_renames(small: MlflowStore, tmp_path: Path) -> None:
    report = from_mlflow(tmp_path / "r", small.uri, names=["churn"], rename={"churn": "attrition"})
    assert report.copied == 4
    with ModelRegistry(tmp_path / "r", versioning="integer") as registry:
        assert registry.list_model_names() == ["attrition"]
    with pytest.raises(MigrationError, match="no registered model named nope"):
        from_mlflow(tmp_path / "r", small.uri, names=["nope"])


def test_a_file_store_migrates_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # MLflow 3 makes file stores only on request; the migration reads one without it.
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        store = make_store(
            tmp_path / "mlflow", {"fraud": 3}, extra_runs=1, uri=(tmp_path / "mlruns").as_uri()
        )
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE")
    previous = mlflow.get_tracking_uri()
    here = tmp_path / "cwd"
    here.mkdir()
    monkeypatch.chdir(here)
    report = from_mlflow(tmp_path / "registry", store.uri)
    # MLflow's file registry opens a default client internally: it must not have
    # created ./mlflow.db, and the process's tracking URI is as it was.
    assert list(here.iterdir()) == []
    assert mlflow.get_tracking_uri() == previous
    assert (report.copied, report.failed, report.verified) == (3, (), 3)
    assert "MLFLOW_ALLOW_FILE_STORE" not in os.environ
    with ModelRegistry(tmp_path / "registry", versioning="integer") as registry:
        production = registry.get_production_model("fraud")
        assert production is not None
        assert (production.version, production.aliases) == ("3", ("champion",))
        assert registry.get_metadata("fraud:2").metrics == {"f1": 0.8, "accuracy": 0.85}


def test_without_mlflow_the_error_says_what_to_install(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "sys.modules['mlflow'] = None  # as if it were not installed\n"
        "from modelshelf.migrate import MlflowMissingError, from_mlflow\n"
        "try:\n"
        f"    from_mlflow({str(tmp_path / 'r')!r}, 'sqlite:///mlflow.db')\n"
        "except MlflowMissingError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'modelshelf[mlflow]'" in done.stdout


def test_cli_migrates_and_reports(small: MlflowStore, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELSHELF_")}
    command = [
        str(Path(sys.executable).with_name("modelshelf")),
        "migrate",
        "mlflow",
        "--tracking-uri",
        small.uri,
        "--registry",
        str(tmp_path / "registry"),
    ]
    done = subprocess.run(
        [*command, "--json"], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["copied"], data["skipped"], data["failed"], data["verified"]) == (4, 0, [], 4)
    assert data["notes"][0]["reference"] == "churn:2"
    again = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert again.returncode == 0, again.stderr
    assert "copied 0, skipped 4 (already here), failed 0 of 4" in again.stdout


def test_cli_exit_code_names_conflicts(small: MlflowStore, tmp_path: Path, logistic: Any) -> None:
    from click.testing import CliRunner

    with ModelRegistry(tmp_path / "registry", versioning="integer") as registry:
        registry.save_model(logistic, "churn")
    result = CliRunner().invoke(
        cli,
        [
            "migrate",
            "mlflow",
            "--tracking-uri",
            small.uri,
            "--registry",
            str(tmp_path / "registry"),
        ],
    )
    assert result.exit_code == 5, result.output
    assert "failed   churn:1  conflict" in result.output


def test_the_mlflow_serializer_saves_a_model_directory(big: MlflowStore, tmp_path: Path) -> None:
    model_dir = next((big.root / "ranker-dir").rglob("MLmodel")).parent
    with ModelRegistry(tmp_path / "r", serializer="mlflow") as registry:
        model_id = registry.save_model(model_dir, "ranker", model_type="pyfunc")
        loaded = registry.load(model_id).model
        assert list(loaded.predict(np.array([[3.0]]))[0]) == [6.0]
        with pytest.raises(SerializationError, match="MLflow model directory"):
            registry.save_model(tmp_path, "ranker")
        assert len(registry.list_models()) == 1
