"""The ``modelshelf`` command, end to end.

One test drives every command through the installed console script in real
subprocesses (the seed workflow from a shell); the rest use click's runner
in-process for the many error paths, which keeps the suite fast.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import joblib
import pytest
from click.testing import CliRunner
from sklearn.preprocessing import StandardScaler

from modelshelf import ModelRegistry
from modelshelf.cli import EXIT_CODES, cli
from modelshelf.cli.reference import render

if TYPE_CHECKING:
    import numpy as np
    from click.testing import Result
    from sklearn.linear_model import LogisticRegression

ROOT = Path(__file__).parent.parent
SCRIPT = Path(sys.executable).with_name("modelshelf")


@pytest.fixture
def model_file(tmp_path: Path, logistic: LogisticRegression) -> Path:
    path = tmp_path / "model.joblib"
    joblib.dump(logistic, path)
    return path


@attrs.frozen
class Outcome:
    returncode: int
    stdout: str
    stderr: str


class Shell:
    """Runs commands against one registry (named by the env var, as a user would).

    Commands listed in ``real`` run through the installed console script in a
    subprocess; the rest run in-process through click's runner, which checks
    the same behaviour without paying interpreter start-up for each call.
    """

    def __init__(self, registry: Path, cwd: Path, real: set[str]) -> None:
        self.env = {"MODELSHELF_REGISTRY": str(registry), "COLUMNS": "200"}
        self.cwd = cwd
        self.real = real
        self.ran_for_real: set[str] = set()

    def __call__(self, *args: str, code: int = 0) -> Outcome:
        if args[0] in self.real:
            self.ran_for_real.add(args[0])
            done = subprocess.run(
                [str(SCRIPT), *args],
                capture_output=True,
                text=True,
                env={**os.environ, **self.env},
                cwd=self.cwd,
                timeout=120,
            )
            outcome = Outcome(returncode=done.returncode, stdout=done.stdout, stderr=done.stderr)
        else:
            result = CliRunner().invoke(cli, list(args), env=self.env)
            outcome = Outcome(
                returncode=result.exit_code, stdout=result.stdout, stderr=result.stderr
            )
        assert outcome.returncode == code, (args, outcome)
        if code:
            assert len(outcome.stderr.strip().splitlines()) == 1, outcome.stderr
            assert outcome.stderr.startswith("error: ")
            assert "Traceback" not in outcome.stderr
        return outcome

    def json(self, *args: str, code: int = 0) -> Any:
        return json.loads(self(*args, "--json", code=code).stdout)


#: Run as real subprocesses here (recover in test_recovery.py); the README test runs the
#: others for real.
REAL_HERE = {
    "init",
    "transition",
    "verify",
    "gc",
    "stats",
    "plugins",
    "report",
    "delete",
    "recover",
}


def test_every_command_end_to_end(
    tmp_path: Path,
    model_file: Path,
    iris: tuple[np.ndarray, np.ndarray],
    logistic: LogisticRegression,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every command, its --json output and its errors, on one registry."""
    X, _ = iris
    assert SCRIPT.exists(), "the console script is installed with the package"
    monkeypatch.chdir(tmp_path)
    sh = Shell(tmp_path / "reg", tmp_path, REAL_HERE)
    (tmp_path / "metrics.json").write_text('{"f1": 0.91, "roc_auc": 0.97}')
    (tmp_path / "params.yaml").write_text("C: 1.0\nsolver: lbfgs\n")
    joblib.dump(StandardScaler().fit(X), tmp_path / "scaler.joblib")

    assert sh.json("init")["registry"] == str(tmp_path / "reg")
    first = sh.json(
        "save", str(model_file), "--name", "iris", "--metrics", "metrics.json",
        "--params", "params.yaml", "--param", "max_iter=1000", "--tag", "team=vision",
        "--artifact", "scaler=scaler.joblib", "--description", "baseline",
    )  # fmt: skip
    assert first["reference"] == "iris:1.0.0"
    assert first["hyperparameters"] == {"C": 1.0, "solver": "lbfgs", "max_iter": 1000}
    assert first["model_type"] == "LogisticRegression"
    assert set(first["artifacts"]) == {"scaler"}
    assert (
        "saved iris:1.0.1"
        in sh("save", str(model_file), "-n", "iris", "--metric", "f1=0.95").stdout
    )
    sh("save", str(model_file), "-n", "iris", "--metric", "f1=0.80")

    table = sh("ls").stdout
    assert "iris" in table and "1.0.2" in table and "0.95" in table
    assert [m["version"] for m in sh.json("ls", "--min", "f1=0.9")] == ["1.0.0", "1.0.1"]
    assert sh.json("best")["reference"] == "iris:1.0.1"
    assert sh.json("best", "--metric", "roc_auc")["reference"] == "iris:1.0.0"

    sh("promote", "iris:1.0.1")
    assert sh.json("promote", "iris:1.0.0")["stage"] == "Production"
    assert sh.json("rollback", "iris")["reference"] == "iris:1.0.1"
    assert sh.json("transition", "iris", "1.0.2", "Staging")["stage"] == "Staging"
    sh("alias", "set", "iris/Production", "champion")
    shown = sh.json("show", "iris@champion")
    assert (shown["version"], shown["stage"], shown["aliases"]) == (
        "1.0.1",
        "Production",
        ["champion"],
    )
    assert shown["score"] == 0.95
    assert "roc_auc" in sh("show", "1").stdout

    # Export one version and the whole registry, import both elsewhere, load.
    exported = sh.json("export", "iris@champion", "-o", "champion.tar.gz")
    assert exported["versions"] == ["iris:1.0.1"]
    assert sh.json("export", "--all", "-o", "everything")["count"] == 3
    assert sh.json("verify", "--bundle", "champion.tar.gz")["ok"] is True
    elsewhere = str(tmp_path / "elsewhere")
    imported = sh.json("import", "champion.tar.gz", "--registry", elsewhere)
    assert imported[0]["reference"] == "iris:1.0.1"
    assert sh("import", "champion.tar.gz", "--registry", elsewhere, code=5).stderr.count(
        "already exists"
    )
    restored = sh.json("import", "everything", "--registry", str(tmp_path / "copy"))
    assert [r["reference"] for r in restored] == ["iris:1.0.0", "iris:1.0.1", "iris:1.0.2"]
    with ModelRegistry(elsewhere) as registry:
        model = registry.load("iris@champion").model
        assert (model.predict(X) == logistic.predict(X)).all()

    # Housekeeping and overview commands.
    assert sh.json("verify") == {"ok": True, "checked": 4, "findings": []}
    assert sh.json("gc") == {"applied": False, "files": []}
    stats = sh.json("stats")
    assert stats["by_stage"] == {"Production": 1, "Archived": 1, "Staging": 1}
    assert stats["best"]["iris"]["reference"] == "iris:1.0.1"
    assert stats["storage_bytes"] > 0
    names = {p["name"] for p in sh.json("plugins")}
    assert {"modelshelf.sqlite", "modelshelf.joblib"} <= names
    report = sh.json("report", "report.html")
    assert "<table" in Path(report["path"]).read_text()
    assert sh.json("alias", "delete", "iris", "champion")["deleted"] is True
    assert sh.json("delete", "iris:1.0.2", "--yes")["deleted"] is True

    # Errors: one line, no traceback, the documented exit code.
    assert "no model version matches" in sh("show", "iris:9.9.9", code=1).stderr
    error = sh.json("show", "nope", code=1)["error"]
    assert (error["type"], error["exit_code"]) == ("ModelNotFoundError", 1)
    assert (
        "must be a number"
        in sh("save", str(model_file), "-n", "x", "--metric", "f1=high", code=2).stderr
    )
    (tmp_path / "everything" / "versions").iterdir().__next__().joinpath("README.md").write_text("")
    assert (
        "checksum mismatch"
        in sh("import", "everything", "--registry", str(tmp_path / "t"), code=3).stderr
    )
    with ModelRegistry(tmp_path / "t") as untouched:
        assert untouched.list_models() == []
    debug = subprocess.run(
        [str(SCRIPT), "show", "nope", "--debug"],
        capture_output=True,
        text=True,
        env={**os.environ, **sh.env},
    )
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr
    # A healthy registry has nothing to recover, and recover changes nothing.
    healthy = sh.json("recover")
    assert (healthy["recovered"], healthy["ok"]) == ([], True)
    assert healthy["already_recorded"] == len(sh.json("ls"))
    assert sh.ran_for_real == REAL_HERE


def _run(args: list[str], registry: Path, **kwargs: Any) -> Result:
    return CliRunner().invoke(cli, [*args, "--registry", str(registry)], **kwargs)


@pytest.fixture
def saved(tmp_path: Path, model_file: Path) -> Path:
    registry = tmp_path / "reg"
    for f1 in ("0.7", "0.9"):
        result = _run(["save", str(model_file), "-n", "iris", "--metric", f"f1={f1}"], registry)
        assert result.exit_code == 0, result.output
    return registry


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["show", "iris:7.0.0"], 1, "no model version matches 'iris:7.0.0'"),
        (["show", "99"], 1, "no model version has id 99"),
        (["show", "9" * 31], 2, "model_id: an integer of 31 digits is out of range"),
        (["show", str(2**63)], 2, f"model_id: {2**63} is out of range"),
        (["delete", str(2**64), "--yes"], 2, "is out of range"),
        (["promote", "9" * 400], 2, "model_id: an integer of 400 digits"),
        (["alias", "set", str(2**63), "champion"], 2, "is out of range"),
        (["ls", "--limit", "9" * 25], 2, "limit must be at most 9223372036854775807"),
        (["show", "bad name!"], 2, "malformed model reference"),
        (["best", "--name", "nope"], 1, "no version matches and can be ranked"),
        (["promote", "iris", "--stage", "Live"], 2, "Live"),
        (["transition", "iris", "9.9.9", "Staging"], 1, "no model version matches"),
        (["rollback", "iris"], 1, "no Production version"),
        (["alias", "set", "iris", "1bad"], 2, "alias"),
        (["alias", "delete", "iris", "ghost"], 1, "iris@ghost is not set"),
        (["delete", "iris"], 2, "without --yes"),
        (["delete", "iris:5.0.0", "--yes"], 1, "no model version matches"),
        (["ls", "--min", "f1"], 2, "must look like KEY=VALUE"),
        (["ls", "--created-after", "yesterday"], 2, "not an ISO 8601"),
        (["ls", "--limit", "0"], 2, "--limit"),
        (["ls", "--bogus"], 2, "No such option '--bogus'"),
        (["export", "-o", "x"], 2, "give either a REFERENCE or --all"),
        (["export", "iris", "-o", "/etc/hostname/x"], 2, "is not a directory"),
        (["gc", "--min-age", "-1"], 2, "--min-age"),
        (["import", "nowhere"], 2, "does not exist"),
        (["save", "nowhere.joblib", "-n", "x"], 2, "does not exist"),
        (["frobnicate"], 2, "No such command"),
    ],
)
def test_errors_are_one_line_with_the_documented_exit_code(
    saved: Path, args: list[str], code: int, message: str
) -> None:
    result = _run(args, saved)
    assert result.exit_code == code, result.output
    assert code in EXIT_CODES
    assert message in result.stderr
    assert result.stderr.startswith("error: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


def test_json_errors_and_debug_tracebacks(saved: Path) -> None:
    result = _run(["show", "iris:7.0.0", "--json"], saved)
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["type"] == "ModelNotFoundError"
    debug = _run(["show", "iris:7.0.0", "--debug"], saved)
    assert type(debug.exception).__name__ == "ModelNotFoundError"  # not swallowed


def test_missing_registry_is_not_created_by_read_commands(tmp_path: Path) -> None:
    for args in (["ls"], ["stats"], ["verify"], ["best"]):
        result = _run(args, tmp_path / "typo")
        assert result.exit_code == 1
        assert "no registry at" in result.stderr
    assert not (tmp_path / "typo").exists()
    result = _run(["ls"], tmp_path / "x", env={"MODELSHELF_REGISTRY": "s3://bucket/reg"})
    assert result.exit_code == 1  # --registry given explicitly wins over the env var
    result = CliRunner().invoke(cli, ["ls"], env={"MODELSHELF_REGISTRY": "s3://bucket/reg"})
    assert result.exit_code == 2
    assert "--store-url" in result.stderr


def test_init_records_plugin_choices_for_later_commands(tmp_path: Path, model_file: Path) -> None:
    registry = tmp_path / "reg"
    result = _run(["init", "--store", "json", "--versioning", "integer", "--json"], registry)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["versioning"] == "integer"
    record = json.loads((registry / "registry.json").read_text())
    assert (record["store"], record["versioning"]) == ("json", "integer")
    again = _run(["init", "--versioning", "semver"], registry)
    assert again.exit_code == 2
    assert "'integer'" in again.stderr and "'semver'" in again.stderr
    saved = _run(["save", str(model_file), "-n", "iris", "--json"], registry)
    assert json.loads(saved.stdout)["version"] == "1"
    assert (registry / "registry.db").exists() is False  # the json store, not sqlite
    bad = _run(["init", "--scoring", "nonesuch"], tmp_path / "other")
    assert bad.exit_code == 6
    assert "nonesuch" in bad.stderr
    assert not (tmp_path / "other" / "modelshelf.toml").exists()
    assert not (tmp_path / "other" / "registry.json").exists()


def test_save_reads_yaml_json_and_flags(tmp_path: Path, model_file: Path) -> None:
    registry = tmp_path / "reg"
    (tmp_path / "m.yaml").write_text("f1: 0.8\nloss: 0.3\n")
    (tmp_path / "t.json").write_text('{"dataset": "iris", "n_samples": 150}')
    (tmp_path / "list.json").write_text("[1, 2]")
    result = _run(
        ["save", str(model_file), "-n", "iris", "--metrics", str(tmp_path / "m.yaml"),
         "--metric", "f1=0.85", "--param", "layers=[64, 32]", "--param", "name=adam",
         "--training-info", str(tmp_path / "t.json"), "--version", "2.0.0",
         "--stage", "Staging", "--format", "joblib", "--json"],
        registry,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["metrics"] == {"f1": 0.85, "loss": 0.3}
    assert data["hyperparameters"] == {"layers": [64, 32], "name": "adam"}
    assert data["training_info"]["n_samples"] == 150
    assert (data["version"], data["stage"]) == ("2.0.0", "Staging")
    dup = _run(["save", str(model_file), "-n", "iris", "--version", "2.0.0"], registry)
    assert (dup.exit_code, "already" in dup.stderr) == (5, True)
    bad = _run(
        ["save", str(model_file), "-n", "iris", "--metrics", str(tmp_path / "list.json")], registry
    )
    assert (bad.exit_code, "must hold a mapping" in bad.stderr) == (2, True)
    nan = _run(["save", str(model_file), "-n", "iris", "--metric", "f1=nan"], registry)
    assert (nan.exit_code, "finite" in nan.stderr) == (2, True)
    junk = tmp_path / "junk.joblib"
    junk.write_bytes(b"not a model")
    unreadable = _run(["save", str(junk), "-n", "iris"], registry)
    assert (unreadable.exit_code, "could not load the model file" in unreadable.stderr) == (2, True)
    assert len(ModelRegistry(registry).list_models()) == 1  # nothing written by failures


def test_yaml_without_pyyaml_says_so(
    tmp_path: Path, model_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "m.yml").write_text("f1: 0.8\n")
    monkeypatch.setitem(sys.modules, "yaml", None)  # as if PyYAML were not installed
    result = _run(
        ["save", str(model_file), "-n", "x", "--metrics", str(tmp_path / "m.yml")], tmp_path / "r"
    )
    assert result.exit_code == 2
    assert "needs PyYAML" in result.stderr


def test_verify_exits_3_on_damage_and_gc_cleans_orphans(saved: Path) -> None:
    with ModelRegistry(saved) as registry:
        key = registry.get_metadata("iris:1.0.0").artifact.key
        path = registry.storage.local_path(key)
    assert path is not None
    (path.parent / "orphan.joblib").write_bytes(b"x")
    os.utime(path.parent / "orphan.joblib", (0, 0))
    assert _run(["verify"], saved).exit_code == 0
    dry = json.loads(_run(["gc", "--json"], saved).stdout)
    assert dry["files"] == ["iris/orphan.joblib"]
    assert "removed iris/orphan.joblib" in _run(["gc", "--apply"], saved).stdout
    assert not (path.parent / "orphan.joblib").exists()
    path.write_bytes(path.read_bytes() + b"!")
    result = _run(["verify", "--json"], saved)
    assert result.exit_code == 3
    assert json.loads(result.stdout)["findings"][0]["kind"] == "mismatch"
    assert _run(["verify", "--shallow"], saved).exit_code == 3  # the size changed too
    assert _run(["export", "iris:1.0.0", "-o", str(saved.parent / "b")], saved).exit_code == 3


def test_promotion_gate_veto_exits_4(saved: Path) -> None:
    (saved / "modelshelf.toml").write_text("[gates.Production]\nf1 = 0.8\n")
    result = _run(["promote", "iris:1.0.0"], saved)
    assert result.exit_code == 4
    assert "f1" in result.stderr
    assert _run(["promote", "iris:1.0.1"], saved).exit_code == 0


def test_ls_filters_and_ordering(saved: Path, model_file: Path) -> None:
    _run(["save", str(model_file), "-n", "other", "--type", "Forest", "--metric", "f1=0.8",
          "--tag", "team=b"], saved)  # fmt: skip

    def refs(*args: str) -> list[str]:
        result = _run(["ls", *args, "--json"], saved)
        assert result.exit_code == 0, result.output
        return [m["reference"] for m in json.loads(result.stdout)]

    assert refs() == ["iris:1.0.0", "iris:1.0.1", "other:1.0.0"]
    assert refs("--name", "other") == ["other:1.0.0"]
    assert refs("--type", "Forest") == ["other:1.0.0"]
    assert refs("--tag", "team=b") == ["other:1.0.0"]
    assert refs("--min", "f1=0.75", "--max", "f1=0.85") == ["other:1.0.0"]
    assert refs("--order-by", "f1", "--desc", "--limit", "2") == ["iris:1.0.1", "other:1.0.0"]
    assert refs("--offset", "2") == ["other:1.0.0"]
    assert refs("--stage", "Production") == []
    assert refs("--created-after", "2999-01-01") == []
    assert refs("--created-before", "2999-01-01T00:00:00+00:00") != []
    empty = _run(["ls", "--stage", "Production"], saved)
    assert "no model versions match" in empty.stdout


def test_import_without_stage_and_renumbered(saved: Path, tmp_path: Path) -> None:
    _run(["promote", "iris:1.0.1"], saved)
    assert _run(["export", "iris/Production", "-o", str(tmp_path / "b")], saved).exit_code == 0
    result = _run(["import", str(tmp_path / "b"), "--on-conflict", "renumber", "--json"], saved)
    data = json.loads(result.stdout)[0]
    assert (data["reference"], data["renumbered"], data["stage"]) == ("iris:1.0.2", True, "None")
    result = _run(["import", str(tmp_path / "b"), "--no-stage", "--json"], tmp_path / "n")
    assert json.loads(result.stdout)[0]["stage"] == "None"


def test_import_and_help_stay_light() -> None:
    """`import modelshelf` never loads click or rich; --help and ls --json never load rich."""
    code = (
        "import sys, modelshelf\n"
        "assert 'click' not in sys.modules and 'rich' not in sys.modules, 'core loaded the CLI'\n"
        "from modelshelf.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "except SystemExit:\n"
        "    pass\n"
        "sys.stderr.write('rich' if 'rich' in sys.modules else 'light')\n"
    )
    for args in (["--help"], ["ls", "--help"]):
        done = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
        )
        assert done.stderr.endswith("light"), done.stderr
        assert "Usage:" in done.stdout


def test_cli_reference_is_current() -> None:
    """docs/cli.md is generated from the click definitions, never edited by hand."""
    page = (ROOT / "docs" / "cli.md").read_text()
    assert page == render(), (
        "docs/cli.md is stale: run python -m modelshelf.cli.reference docs/cli.md"
    )
    for name in cli.commands:
        assert f"### `modelshelf {name}`" in page
    for code in EXIT_CODES:
        assert f"| {code} |" in page


def test_progress_bar_only_on_a_terminal(saved: Path, tmp_path: Path) -> None:
    result = _run(["export", "--all", "-o", str(tmp_path / "all.tar.gz")], saved)
    assert result.exit_code == 0
    assert result.stderr == ""  # not a terminal: no bar, no noise


def test_readme_command_line_section_runs(
    tmp_path: Path, iris: tuple[np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's shell session works as written, from save to loading elsewhere.

    In an empty directory, the section's Python block writes the files the shell session
    uses; nothing else is provided.
    """
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Command line", 1)[1].split("\n## ", 1)[0]
    (setup,) = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    (script,) = re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)
    monkeypatch.chdir(tmp_path)
    exec(compile(setup, "README.md", "exec"), {"__name__": "__main__"})
    env = {**os.environ, "PATH": f"{SCRIPT.parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("MODELSHELF_REGISTRY", None)
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    in_readme = set(re.findall(r"^modelshelf (\w+)", script, flags=re.MULTILINE))
    # Every command's own example also runs for real: tests/test_cli_examples.py.
    assert in_readme | REAL_HERE <= set(cli.commands)
    assert "iris-clf:1.0.0" in done.stdout  # the rolled-back champion, shown elsewhere
    with ModelRegistry(tmp_path / "elsewhere") as registry:
        champion = registry.load("iris-clf@champion")
    assert champion.metadata.version == "1.0.0"
    assert champion.metadata.stage.value == "Production"
    X, _ = iris
    saved = joblib.load(tmp_path / "model.joblib")
    assert (champion.model.predict(X) == saved.predict(X)).all()


def test_object_storage_registry_with_store_url(tmp_path: Path, model_file: Path) -> None:
    location = f"memory://cli-{tmp_path.name}/registry"
    common = ["--registry", location, "--store-url", str(tmp_path / "meta.db")]
    runner = CliRunner()
    saved = runner.invoke(
        cli, ["save", str(model_file), "--name", "iris", "--metric", "f1=0.9", *common]
    )
    assert saved.exit_code == 0, saved.output
    listed = runner.invoke(cli, ["ls", "--json", *common])
    assert listed.exit_code == 0, listed.output
    assert [row["version"] for row in json.loads(listed.stdout)] == ["1.0.0"]
    assert (tmp_path / "meta.db").is_file()
