"""Developer sessions: ``nox -s tests lint typecheck``; ``nox -s bench docs`` on demand."""

from __future__ import annotations

import sys
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["tests", "lint", "typecheck"]

PYPROJECT = nox.project.load_toml("pyproject.toml")


def _group(name: str) -> list[str]:
    return list(PYPROJECT["dependency-groups"][name])


def tests_impl(session: nox.Session, *default_args: str) -> None:
    """Install what CI installs (the project editable, so entry points exist, and the
    plugins that live here as their own distributions) and run pytest."""
    session.install("-r", "requirements-dev.txt")
    session.run("python", "-m", "pytest", *(session.posargs or default_args))


@nox.session
def tests(session: nox.Session) -> None:
    tests_impl(session)


@nox.session
def postgresql(session: nox.Session) -> None:
    """The PostgreSQL plugin's own suite (the store conformance contract included);
    its fixtures skip with the reason when no server can be reached."""
    tests_impl(session, "plugins/modelshelf-postgresql/tests")


@nox.session
def stress(session: nox.Session) -> None:
    """The reliability tests with more iterations (crash loops, many processes)."""
    session.env["MODELSHELF_STRESS"] = "1"
    tests_impl(session, "-m", "slow", "tests")


@nox.session
def lint(session: nox.Session) -> None:
    session.install(*_group("lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("-r", "requirements-dev.txt", *_group("typecheck"))
    session.run("mypy")  # pyproject.toml lists the files: src, plugins, tests, benchmarks...


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """The performance table (docs/performance.md); ``-- --quick`` for a smoke run.

    MLflow, the peer we compare against, gets a virtual environment of its own
    next to this session's, so its dependencies never meet ours.
    """
    session.install("-e", ".", *_group("tests"))
    for plugin in ("plugins/modelshelf-postgresql",):
        if Path(plugin, "pyproject.toml").exists():
            session.install("-e", plugin)
    peer = Path(session.virtualenv.location).with_name("bench-mlflow")
    peer_python = peer / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    if not peer_python.exists():
        session.run("python", "-m", "venv", str(peer))
    session.run(
        str(peer_python), "-m", "pip", "install", "-q", "mlflow", "scikit-learn", external=True
    )
    session.run(
        "python", "benchmarks/run.py", "--mlflow-python", str(peer_python), *session.posargs
    )


@nox.session(default=False)
def docs(session: nox.Session) -> None:
    """Build the site with warnings as errors (a broken link or reference fails)."""
    session.install(*_group("docs"))
    session.env["NO_MKDOCS_2_WARNING"] = "1"
    session.run("mkdocs", "build", "--strict", "--site-dir", *(session.posargs or ["site"]))
