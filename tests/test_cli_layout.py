"""What people see at a terminal: ``ls``, ``show``, ``best`` and ``compare`` at 80
and at 200 columns.

The commands run in a real pseudo-terminal of the given size, as a person's
shell would start them, so rich lays the tables out for that width.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from modelshelf import ModelRegistry

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression

SCRIPT = Path(sys.executable).with_name("modelshelf")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
NAME = "customer-churn-classifier"
VERSIONS = ["1.0.12345", "1.1.12345", "1.2.12345"]
LONG_COLUMNS = [
    f"{part}_measured_in_centimetres_by_the_field_team_during_the_1936_survey_of_the_gaspe"
    for part in ("sepal_length", "sepal_width", "petal_length", "petal_width")
]
METRICS = {"f1": 0.9, "accuracy": 0.91, "roc_auc": 0.95, "precision": 0.9, "recall": 0.88}


def at_terminal(columns: int, *args: str) -> list[str]:
    """Run the console script in a pseudo-terminal ``columns`` wide; its screen lines."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "NO_COLOR": "1"}
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    child = subprocess.Popen(
        [str(SCRIPT), *args], stdin=terminal, stdout=terminal, stderr=terminal, env=env
    )
    os.close(terminal)
    output = b""
    while True:
        try:
            chunk = os.read(controller, 1 << 16)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(controller)
    assert child.wait(timeout=60) == 0, output.decode(errors="replace")
    text = ANSI.sub("", output.decode()).replace("\r", "")
    return [line.rstrip() for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def registry_path(tmp_path_factory: pytest.TempPathFactory, logistic: LogisticRegression) -> Path:
    import pandas as pd
    from sklearn.datasets import load_iris

    path = tmp_path_factory.mktemp("layout") / "registry"
    # Long column names, as real tables have: the signature must fold, not widen.
    example = pd.DataFrame(load_iris().data[:5], columns=LONG_COLUMNS)
    with ModelRegistry(path) as registry:
        for n, version in enumerate(VERSIONS):
            registry.save_model(
                logistic,
                NAME,
                metrics={**METRICS, "f1": 0.9 + n / 100, "log_loss": 0.3},
                hyperparameters={"class_weight": {"0": 1, "1": 3}, "solver": "lbfgs"},
                version=version,
                input_example=example,
            )
        registry.promote(f"{NAME}:{VERSIONS[1]}")
        registry.set_alias(f"{NAME}:{VERSIONS[1]}", "champion")
    return path


@pytest.mark.parametrize("columns", [80, 200])
def test_ls_never_cuts_ids_versions_or_stages(registry_path: Path, columns: int) -> None:
    lines = at_terminal(columns, "ls", "--registry", str(registry_path))
    assert max(len(line) for line in lines) <= columns, "\n".join(lines)
    rows = [line.split() for line in lines if NAME in line]
    assert [row[:3] for row in rows] == [[str(n), NAME, v] for n, v in enumerate(VERSIONS, 1)]
    header = lines[0].split()
    stage = header.index("stage")
    assert [row[stage] for row in rows] == ["None", "Production", "None"]
    assert "…" not in "\n".join(lines)
    if columns == 200:
        assert header == ["id", "name", "version", "type", "stage", "aliases", *METRICS, "created"]
        assert lines[-1] == "not shown: 1 more metric (widen the terminal, or --json)"
    else:
        assert header[:4] == ["id", "name", "version", "stage"]
        assert "f1" in header  # the most common metric still fits
        note = " ".join(lines[lines.index(next(x for x in lines if x.startswith("not shown"))) :])
        assert "created" in note
        assert "1 more metric" in note


@pytest.mark.parametrize("columns", [80, 200])
def test_show_keeps_labels_on_one_line(registry_path: Path, columns: int) -> None:
    lines = at_terminal(columns, "show", "--registry", str(registry_path), f"{NAME}@champion")
    assert max(len(line) for line in lines) <= columns, "\n".join(lines)
    assert lines[0] == f"{NAME}:{VERSIONS[1]}  (id 2)"
    assert "hyperparameters" in lines
    assert any(line.split() == ["stage", "Production"] for line in lines)
    checksum = ModelRegistry(registry_path).get_metadata(2).artifact.sha256
    assert checksum in "".join(lines).replace(" ", "")  # whole, even where it folds
    assert "signature" in lines
    assert any(line.split() == ["inputs", "4", "columns"] for line in lines)
    joined = "".join(lines).replace(" ", "")
    assert all(f"{name}:float64" in joined for name in LONG_COLUMNS)  # whole, folded


@pytest.mark.parametrize("columns", [80, 200])
def test_best_and_compare_fit_and_keep_references_whole(registry_path: Path, columns: int) -> None:
    best = at_terminal(columns, "best", "--registry", str(registry_path))
    assert max(len(line) for line in best) <= columns, "\n".join(best)
    assert best[0].startswith(f"best: {NAME}:{VERSIONS[2]} (id 3,")
    lines = at_terminal(columns, "compare", NAME, "--registry", str(registry_path))
    assert max(len(line) for line in lines) <= columns, "\n".join(lines)
    header = lines[0].split()
    assert header[:4] == ["rank", "id", "name", "version"]
    rows = [line.split() for line in lines if NAME in line]
    assert [row[:4] for row in rows] == [
        [str(rank), str(model_id), NAME, VERSIONS[model_id - 1]]
        for rank, model_id in enumerate((3, 2, 1), start=1)
    ]
    assert "…" not in "\n".join(lines)
    if columns == 200:
        assert {"stage", "score", *METRICS} <= set(header)
    else:
        assert "score" in header
        assert any(line.startswith("not shown:") for line in lines)
