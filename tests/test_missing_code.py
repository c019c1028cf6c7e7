"""A model whose code is missing where it is loaded: a distinct error, never tampering."""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner

from modelshelf import DeserializationError, IntegrityError, ModelRegistry
from modelshelf.cli import EXIT_CODES, cli

if TYPE_CHECKING:
    from pathlib import Path

CODE = """
class ThresholdModel:
    def __init__(self, threshold):
        self.threshold = threshold

    def predict(self, rows):
        return [int(row[0] > self.threshold) for row in rows]
"""


@pytest.fixture
def saved_with_its_code_gone(tmp_path: Path) -> Path:
    """A registry holding a model of a module that is importable when saved, then gone."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "team_models.py").write_text(CODE)
    sys.path.insert(0, str(code))
    try:
        module = importlib.import_module("team_models")
        with ModelRegistry(tmp_path / "registry") as registry:
            registry.save_model(module.ThresholdModel(0.5), "thresholds")
            assert registry.load("thresholds").model.predict([[0.7]]) == [1]
    finally:
        sys.path.remove(str(code))
        sys.modules.pop("team_models", None)
    return tmp_path / "registry"


def test_missing_module_is_named_and_is_not_an_integrity_error(
    saved_with_its_code_gone: Path,
) -> None:
    with ModelRegistry(saved_with_its_code_gone) as registry:
        for load in (registry.load, registry.load_model):
            with pytest.raises(DeserializationError, match="'team_models'") as raised:
                load("thresholds")
            assert not isinstance(raised.value, IntegrityError)
        assert registry.verify().ok  # the bytes themselves are intact


def test_cli_exit_code_for_missing_code(saved_with_its_code_gone: Path, tmp_path: Path) -> None:
    registry = str(saved_with_its_code_gone)
    out = str(tmp_path / "out.joblib")
    result = CliRunner().invoke(cli, ["load", "thresholds", "-o", out, "--registry", registry])
    assert result.exit_code == 7, result.output
    assert "code is missing" in EXIT_CODES[7]
    assert "team_models" in result.stderr
