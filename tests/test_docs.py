"""The documentation's examples run, and the hook reference documents every hook.

Conventions (written up in docs/contributing.md):

- Every fenced ``python`` block in ``docs/**/*.md`` runs. The blocks of one page run in
  order in one namespace, in a fresh temporary directory (so relative paths such as
  ``data/models/registry`` land there).
- The namespace starts with small fitted scikit-learn objects a page may use without
  defining them: ``X`` and ``y`` (iris), ``model`` (LogisticRegression), ``forest``
  (RandomForestClassifier) and ``scaler`` (StandardScaler).
- An HTML comment ``<!-- skip: reason -->`` on the line right before a block skips it.
- Hypothesis examples run without deadlines or the too-slow health check.
"""

from __future__ import annotations

import inspect
import re
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, settings
from pluggy import PluginManager
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from modelshelf import hookspecs

if TYPE_CHECKING:
    import numpy as np

DOCS = Path(__file__).parent.parent / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
HOOKS_PAGE = DOCS / "reference" / "hooks.md"

BLOCK = re.compile(
    r"^(?:[ \t]*<!--\s*skip:\s*(?P<skip>.*?)\s*-->[ \t]*\n)?"
    r"(?P<indent>[ \t]*)```python(?:[ \t][^\n]*)?\n(?P<code>.*?)^(?P=indent)```[ \t]*$",
    flags=re.DOTALL | re.MULTILINE,
)


# Property-based examples in the docs show how to use Hypothesis; whether the machine is busy
# is no part of what they claim, so the speed checks are off while they run.
settings.register_profile(
    "modelshelf-docs", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def python_blocks(page: Path) -> list[tuple[int, str, str | None]]:
    """(line number, code, skip reason or None) for each ``python`` block of a page.

    Fences may be indented (inside a list item); the code is dedented to match.
    """
    text = page.read_text(encoding="utf-8")
    return [
        (
            text.count("\n", 0, match.start("code")) + 1,
            textwrap.dedent(match.group("code")),
            match.group("skip"),
        )
        for match in BLOCK.finditer(text)
    ]


@pytest.fixture(scope="module")
def sample_objects(iris: tuple[np.ndarray, np.ndarray]) -> dict[str, Any]:
    X, y = iris
    return {
        "X": X,
        "y": y,
        "model": LogisticRegression(max_iter=1000).fit(X, y),
        "forest": RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y),
        "scaler": StandardScaler().fit(X),
    }


def test_the_block_pattern_finds_blocks_and_skip_marks() -> None:
    sample = DOCS / "contributing.md"
    blocks = python_blocks(sample)
    assert any(reason for _, _, reason in blocks), "contributing.md shows a skipped block"
    assert any(reason is None for _, _, reason in blocks)


@pytest.mark.parametrize(
    "page",
    [p for p in PAGES if python_blocks(p)],
    ids=lambda p: str(p.relative_to(DOCS)),
)
def test_docs_examples_run(
    page: Path,
    sample_objects: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MODELSHELF_SIGNING_KEY", raising=False)
    namespace: dict[str, Any] = {"__name__": f"docs_{page.stem}", **sample_objects}
    # (get_current_profile_name is recent; older Hypothesis only has the default profile)
    previous = getattr(settings, "get_current_profile_name", lambda: "default")()
    settings.load_profile("modelshelf-docs")
    try:
        ran = run_blocks(page, namespace)
    finally:
        settings.load_profile(previous)
    assert ran, f"every python block of {page.name} is skipped"


def run_blocks(page: Path, namespace: dict[str, Any]) -> int:
    ran = 0
    for line, code, skip in python_blocks(page):
        if skip is not None:
            assert skip, f"{page.name}:{line}: a skip mark must give its reason"
            continue
        # Pad with blank lines so a traceback's line numbers are the page's.
        source = "\n" * (line - 1) + code
        exec(compile(source, str(page), "exec"), namespace)
        ran += 1
    return ran


# -- the hook reference ---------------------------------------------------------------


def hook_names() -> list[str]:
    pm = PluginManager("modelshelf")
    pm.add_hookspecs(hookspecs)
    return sorted(name for name in vars(pm.hook) if name.startswith("modelshelf_"))


def signature(name: str) -> str:
    """``name(arg: Type, ...) -> Return`` as the reference page heads each hook."""
    sig = inspect.signature(getattr(hookspecs, name))
    params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    return f"{name}({params}) -> {sig.return_annotation}"


def test_hookspecs_are_found() -> None:
    assert "modelshelf_serializers" in hook_names()
    assert signature("modelshelf_after_save") == (
        "modelshelf_after_save(registry: RegistryView, metadata: ModelMetadata) -> None"
    )


@pytest.mark.parametrize("hook", hook_names())
def test_every_hook_is_documented_with_its_signature(hook: str) -> None:
    text = HOOKS_PAGE.read_text(encoding="utf-8")
    heading = f"### `{signature(hook)}` {{ #{hook} }}"
    assert heading in text.splitlines(), f"docs/reference/hooks.md lacks the line: {heading}"
    assert f"::: modelshelf.hookspecs.{hook}\n" in text, f"{hook}'s docstring is not rendered"


def test_the_hook_reference_documents_no_stale_hooks() -> None:
    documented = re.findall(r"^### `(modelshelf_\w+)\(", HOOKS_PAGE.read_text(), re.MULTILINE)
    assert sorted(documented) == hook_names()


def test_the_api_reference_renders_every_public_name() -> None:
    import modelshelf
    from modelshelf import errors

    text = (DOCS / "reference" / "api.md").read_text(encoding="utf-8")
    assert "::: modelshelf.errors\n" in text
    missing = [
        name
        for name in modelshelf.__all__
        if name not in errors.__all__ and f"::: modelshelf.{name}\n" not in text
    ]
    assert missing == [], f"add these to docs/reference/api.md: {missing}"
