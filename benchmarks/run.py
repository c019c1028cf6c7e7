"""modelshelf benchmarks: every figure beside a floor measured in the same run.

Each figure is the median of repeated runs, printed next to a baseline that
does the unavoidable work by hand on the same machine in the same run (the
two are interleaved, so a noisy neighbour slows both), with the ratio and
PASS/MISS against the target from docs/performance.md.

    python benchmarks/run.py            # the full table (a few minutes)
    python benchmarks/run.py --quick    # a smoke run of every figure (seconds)
    python benchmarks/run.py --only save,load --json out.json

Results go to ``benchmarks/results/latest.json`` unless ``--json`` says
otherwise. ``nox -s bench`` installs what this needs (MLflow in a venv of
its own) and runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

from harness import (
    RESULTS,
    Figure,
    table,
    workspace,
)
from sections.concurrency import bench_concurrency, child_concurrent
from sections.json_growth import bench_json_growth
from sections.large import bench_large, child_large
from sections.mlflow_peer import bench_mlflow
from sections.queries import bench_queries
from sections.save_load import bench_save_load
from sections.startup import bench_startup, child_imports

SECTIONS = (
    "save",
    "load",
    "queries",
    "json-growth",
    "large",
    "concurrency",
    "startup",
    "mlflow",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats, small sizes")
    parser.add_argument("--only", default="", help=f"comma-separated of: {', '.join(SECTIONS)}")
    parser.add_argument("--json", type=Path, default=RESULTS, help="where to write results")
    parser.add_argument(
        "--mlflow-python",
        default=os.environ.get("MODELSHELF_BENCH_MLFLOW_PYTHON"),
        help="interpreter of a venv with mlflow and scikit-learn installed",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args(argv)
    sections = set(args.only.split(",")) if args.only else set(SECTIONS)
    unknown = sections - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {', '.join(SECTIONS)}")

    figures: list[Figure] = []
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    with workspace(args.keep) as work:
        steps: list[tuple[str, Callable[[Path], list[Figure]]]] = [
            ("save", lambda w: bench_save_load(w, args.quick, sections)),
            ("queries", lambda w: bench_queries(w, args.quick)),
            ("json-growth", lambda w: bench_json_growth(w, args.quick)),
            ("large", lambda w: bench_large(w, args.quick)),
            ("concurrency", lambda w: bench_concurrency(w, args.quick)),
            ("startup", lambda w: bench_startup(w, args.quick)),
            ("mlflow", lambda w: bench_mlflow(w, args.quick, args.mlflow_python)),
        ]
        for name, step in steps:
            if name not in sections and not (name == "save" and "load" in sections):
                continue
            print(f"... {name}", file=sys.stderr, flush=True)
            sub = work / name
            sub.mkdir()
            figures += [f.judge() for f in step(sub)]
    print(table(figures))
    summary = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "quick": args.quick,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        },
        "figures": [asdict(f) for f in figures],
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(summary, indent=2) + "\n")
    print(
        f"\n{len(figures)} figures in {summary['seconds']} s on {os.cpu_count()} CPUs "
        f"(1-minute load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after); "
        f"results in {args.json}"
    )
    return 0


def child_main(argv: list[str]) -> int:
    kind, rest = argv[0], argv[1:]
    if kind == "large":
        result = child_large(*rest)
    elif kind == "concurrent":
        result = child_concurrent(*rest)
    elif kind == "imports":
        result = child_imports(*rest)
    else:
        raise SystemExit(f"unknown child {kind!r}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        sys.exit(child_main(sys.argv[2:]))
    sys.exit(main())
