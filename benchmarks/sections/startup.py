"""Start-up: importing modelshelf and opening a registry, in a fresh process."""

from __future__ import annotations

import compileall
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

from harness import (
    ROOT,
    Figure,
    interleaved,
    median,
    ms,
    run_child,
    skipped,
)
from population import populate, synthetic_rows

HEAVY = ("joblib", "cloudpickle", "numpy", "sklearn", "fsspec", "psycopg", "click", "rich")


def child_imports(path: str) -> dict[str, Any]:
    import modelshelf

    modelshelf.ModelRegistry(path).close()
    return {"imported": sorted(m for m in HEAVY if m in sys.modules)}


def cli_available() -> str | None:
    script = Path(sys.executable).with_name("modelshelf")
    if not script.exists():
        return "no modelshelf console script next to this interpreter"
    try:
        from modelshelf.cli import main  # noqa: F401
    except ImportError as exc:
        return f"the modelshelf command is not importable yet ({exc})"
    return None


def bench_startup(work: Path, quick: bool) -> list[Figure]:
    from modelshelf import ModelRegistry

    repeat = 5 if quick else 20
    path = work / "startup"
    ModelRegistry(path).close()
    ours_cmd = [
        sys.executable,
        "-c",
        f"import modelshelf; modelshelf.ModelRegistry({str(path)!r}).close()",
    ]
    floor_cmd = [sys.executable, "-c", "pass"]

    cpu: dict[str, list[float]] = {}

    # An installed wheel ships compiled bytecode; an editable checkout under
    # PYTHONDONTWRITEBYTECODE=1 would recompile src/ on every start instead.
    # Compile once and let the children use it, as a user's install does.
    compileall.compile_dir(str(ROOT / "src"), quiet=1)
    compileall.compile_dir(str(ROOT / "plugins"), quiet=1)
    child_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def run(cmd: list[str]) -> Callable[[], object]:
        """Run ``cmd``; also note its CPU time, which a busy machine disturbs less."""

        def once() -> None:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run(cmd, check=True, capture_output=True, env=child_env)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            used = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
            cpu.setdefault(cmd[-1], []).append(used)

        return once

    def cpu_note(cmd: list[str]) -> str:
        return f"CPU {ms(median(cpu[cmd[-1]])):.0f} ms vs {ms(median(cpu['pass'])):.0f} ms"

    mine, floor = interleaved(run(ours_cmd), run(floor_cmd), repeat, warmup=1)
    imported = run_child("imports", str(path))["imported"]
    figures = [
        Figure(
            "startup",
            "python -c 'import modelshelf; open registry'",
            "ms",
            ms(median(mine)),
            ms(median(floor)),
            "python -c pass",
            target="ours <= 150",
            samples=repeat,
            note=cpu_note(ours_cmd),
        ),
        Figure(
            "startup",
            "heavy modules imported by import + open",
            "modules",
            float(len(imported)),
            None,
            "",
            target="ours <= 0",
            note=", ".join(imported) or "none of " + " ".join(HEAVY),
        ),
    ]
    reason = cli_available()
    if reason is not None:
        figures.append(skipped("startup", "modelshelf ls on 1,000 versions", reason))
        return figures
    listed = work / "cli-1000"
    registry = ModelRegistry(listed)
    populate(registry, synthetic_rows(1_000))
    registry.close()
    script = str(Path(sys.executable).with_name("modelshelf"))
    cli_cmd = [script, "ls", "--registry", str(listed)]
    probe = subprocess.run(cli_cmd, capture_output=True, text=True, check=False)
    if probe.returncode:
        figures.append(
            skipped("startup", "modelshelf ls on 1,000 versions", probe.stderr.strip()[-200:])
        )
        return figures
    mine, floor = interleaved(run(cli_cmd), run(floor_cmd), repeat, warmup=1)
    figures.append(
        Figure(
            "startup",
            "modelshelf ls on 1,000 versions",
            "ms",
            ms(median(mine)),
            ms(median(floor)),
            "python -c pass",
            samples=repeat,
            note=cpu_note(cli_cmd),
        )
    )
    return figures
