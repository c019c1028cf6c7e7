"""The benchmark harness still runs: a quick pass over its cheapest figures.

Timings are not asserted (the machine is shared and noisy); what must hold
is that every figure is measured next to its baseline, gets a ratio and a
verdict, and lands in the JSON results and the printed table.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

RUN = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"


def test_quick_run_measures_each_figure_beside_its_baseline(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--only", "save,load,startup", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())
    assert results["quick"] is True
    figures = {f["name"]: f for f in results["figures"]}
    for name in (
        "save small model (SQLite, durable)",
        "load small model by id (verified)",
        "python -c 'import modelshelf; open registry'",
    ):
        figure = figures[name]
        assert figure["ours"] > 0, figure
        assert figure["baseline"] > 0, figure
        assert figure["ratio"] == figure["ours"] / figure["baseline"]
        assert figure["result"] in ("PASS", "MISS"), figure
        assert figure["samples"] >= 5
        assert name in done.stdout
    imports = figures["heavy modules imported by import + open"]
    assert imports["result"] == "PASS", imports["note"]


def test_unknown_section_is_refused() -> None:
    done = subprocess.run(
        [sys.executable, str(RUN), "--only", "sav"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "unknown sections ['sav']" in done.stderr
