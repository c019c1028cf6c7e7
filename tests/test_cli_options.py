"""Options every command takes work before the command name as well as after it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner

from modelshelf import ModelRegistry
from modelshelf.cli import cli

if TYPE_CHECKING:
    from pathlib import Path

    from sklearn.linear_model import LogisticRegression


@pytest.fixture
def two_registries(tmp_path: Path, logistic: LogisticRegression) -> tuple[Path, Path]:
    first, second = tmp_path / "first", tmp_path / "second"
    for path, name in ((first, "alpha"), (second, "beta")):
        with ModelRegistry(path, store="json") as registry:
            registry.save_model(logistic, name, metrics={"f1": 0.9})
    return first, second


def _names(output: str) -> list[str]:
    return [row["model_name"] for row in json.loads(output)]


@pytest.mark.parametrize(
    "args",
    [
        ["--registry", "{first}", "--store", "json", "--json", "ls"],
        ["ls", "--registry", "{first}", "--store", "json", "--json"],
        ["--json", "ls", "--registry", "{first}", "--store", "json"],
        ["--registry", "{first}", "ls", "--store", "json", "--json"],
    ],
)
def test_shared_options_before_or_after_the_command(
    two_registries: tuple[Path, Path], args: list[str]
) -> None:
    first, _ = two_registries
    argv = [arg.format(first=first) for arg in args]
    result = CliRunner().invoke(cli, argv, env={"MODELSHELF_REGISTRY": None})
    assert result.exit_code == 0, result.output
    assert _names(result.stdout) == ["alpha"]


def test_the_command_s_own_option_wins_and_beats_the_environment(
    two_registries: tuple[Path, Path],
) -> None:
    first, second = two_registries
    runner = CliRunner()
    both = ["--registry", str(first), "ls", "--registry", str(second), "--store", "json"]
    assert _names(runner.invoke(cli, [*both, "--json"]).stdout) == ["beta"]
    # Given before the command, it still beats MODELSHELF_REGISTRY.
    before = ["--registry", str(second), "--store", "json", "ls", "--json"]
    result = runner.invoke(cli, before, env={"MODELSHELF_REGISTRY": str(first)})
    assert _names(result.stdout) == ["beta"]


def test_debug_and_json_errors_before_the_command(two_registries: tuple[Path, Path]) -> None:
    first, _ = two_registries
    runner = CliRunner()
    result = runner.invoke(
        cli, ["--json", "--registry", str(first), "--store", "json", "show", "99"]
    )
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["type"] == "ModelNotFoundError"
    debug = ["--debug", "--registry", str(first), "--store", "json", "show", "99"]
    raised = runner.invoke(cli, debug)
    assert type(raised.exception).__name__ == "ModelNotFoundError"
