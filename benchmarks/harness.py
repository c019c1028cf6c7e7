"""What every benchmark section shares: figures and their verdicts, timing
interleaved with a floor, small models, durable-write helpers, child processes."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "latest.json"
#: The driver; child processes run it with ``_child KIND ...``.
RUN = HERE / "run.py"
MIB = 1024 * 1024


# -- figures ---------------------------------------------------------------------------


@dataclass
class Figure:
    """One line of the table: our median, the baseline's, and the verdict."""

    section: str
    name: str
    unit: str
    ours: float | None
    baseline: float | None
    baseline_label: str
    #: "ours/baseline <= x", "ours/baseline >= x", "ours <= x" (absolute), or ""
    target: str = ""
    result: str = ""
    ratio: float | None = None
    note: str = ""
    samples: int = 0

    def judge(self) -> Figure:
        if self.ours is not None and self.baseline:
            self.ratio = self.ours / self.baseline
        if not self.target or self.ours is None:
            self.result = self.result or ("SKIP" if self.ours is None else "")
            return self
        subject, op, bound = self.target.split()
        value = self.ratio if subject == "ratio" else self.ours
        if value is None:
            self.result = "SKIP"
            return self
        limit = float(bound)
        ok = value <= limit if op == "<=" else value >= limit
        self.result = "PASS" if ok else "MISS"
        return self


def skipped(section: str, name: str, reason: str) -> Figure:
    return Figure(section, name, "", None, None, "", result="SKIP", note=reason)


def median(values: list[float]) -> float:
    return statistics.median(values)


def interleaved(
    ours: Callable[[], object], floor: Callable[[], object], repeat: int, warmup: int = 3
) -> tuple[list[float], list[float]]:
    """Time ``ours`` and ``floor`` alternately so drifting load hits both alike."""
    for _ in range(warmup):
        ours()
        floor()
    mine: list[float] = []
    theirs: list[float] = []
    for i in range(repeat):
        pair = [(ours, mine), (floor, theirs)]
        if i % 2:
            pair.reverse()
        for fn, sink in pair:
            start = time.perf_counter()
            fn()
            sink.append(time.perf_counter() - start)
    return mine, theirs


def timed(fn: Callable[[], object], repeat: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def ms(seconds: float) -> float:
    return seconds * 1e3


# -- shared fixtures -------------------------------------------------------------------


def small_model() -> Any:
    """A fitted scikit-learn model of a few KB: the everyday save."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    return LogisticRegression(max_iter=1000).fit(X, y)


def forest_model() -> Any:
    """A typical mid-sized model: a random forest of 100 trees (a few hundred KiB)."""
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier

    X, y = load_iris(return_X_y=True)
    return RandomForestClassifier(n_estimators=100, random_state=0).fit(X, y)


SMALL_METRICS = {"f1": 0.91, "accuracy": 0.93, "roc_auc": 0.97}
SMALL_PARAMS = {"C": 1.0, "max_iter": 1000, "solver": "lbfgs"}


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def durable_sqlite(path: Path) -> sqlite3.Connection:
    """The floor's database, with the durability our store promises."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS models (id INTEGER PRIMARY KEY, name TEXT, "
        "version TEXT, data TEXT)"
    )
    return conn


# -- child processes (large model, concurrency, start-up) ------------------------------


def run_child(*args: str, stdin: str | None = None) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(RUN), "_child", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"child {args[0]} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def peak_rss_bytes() -> int:
    """This process's peak resident set (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


# -- the table -------------------------------------------------------------------------


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}" if value < 1 else f"{value:.2f}"


def table(figures: list[Figure]) -> str:
    header = ("figure", "unit", "ours", "baseline", "baseline is", "ratio", "target", "result")
    lines = [header]
    for f in figures:
        lines.append(
            (
                f.name,
                f.unit,
                fmt(f.ours),
                fmt(f.baseline),
                f.baseline_label,
                "-" if f.ratio is None else f"{f.ratio:.2f}x",
                f.target.replace("ratio", "r").replace("ours", "v"),
                f.result + (f" ({f.note})" if f.note else ""),
            )
        )
    widths = [max(len(str(line[i])) for line in lines[:]) for i in range(len(header) - 1)]
    out = []
    for n, line in enumerate(lines):
        cells = [str(c).ljust(w) for c, w in zip(line[:-1], widths, strict=True)]
        out.append("| " + " | ".join([*cells, line[-1]]) + " |")
        if n == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|---|")
    return "\n".join(out)


@contextlib.contextmanager
def workspace(keep: bool) -> Iterator[Path]:
    """Scratch space on the same disk as the repository (not a tmpfs /tmp)."""
    base = HERE / "results"
    base.mkdir(exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="work-", dir=base))
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)
