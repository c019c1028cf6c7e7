"""The documentation's examples run as a reader would run them, and the hook reference
documents every hook.

Conventions (written up in docs/contributing.md):

- Every fenced ``python`` block of a page (``docs/**/*.md`` and ``README.md``) runs. The
  blocks of one page run in order in one fresh namespace, in a fresh empty temporary
  directory, with no ``MODELSHELF_*`` environment variables: exactly what pasting them, in
  order, into a new interpreter in an empty directory does. Nothing is injected; a page
  defines every name it uses (a page that needs a trained model starts with a visible
  set-up block that trains one), even one read only inside a function it never calls.
- An HTML comment ``<!-- skip: reason -->`` on the line right before a ``python`` block
  marks it as not run; the reason is required.
- A page whose examples use the local PostgreSQL server (``127.0.0.1:5432``) says so; it
  skips when no server listens there, unless ``CI=true``.
- Hypothesis examples run without deadlines or the too-slow health check: a busy test
  machine is no part of what they claim.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import os
import re
import socket
import symtable
import sys
import textwrap
import traceback
import types
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import pytest
from hypothesis import HealthCheck, settings
from pluggy import PluginManager

from modelshelf import hookspecs

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
PAGES = [*sorted(DOCS.rglob("*.md")), README]
HOOKS_PAGE = DOCS / "reference" / "hooks.md"

#: A fenced block: its indentation, its info string (language) and its code.
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<info>[^\n`]*)\n(?P<code>.*?)^(?P=indent)```[ \t]*$",
    flags=re.DOTALL | re.MULTILINE,
)
SKIP_MARK = re.compile(r"^[ \t]*<!--\s*skip:(?P<reason>.*?)-->[ \t]*$", flags=re.MULTILINE)
#: Labels that look like Python but would not be run: write ``python`` instead.
PYTHON_LOOKALIKES = {"py", "python3", "pycon", "ipython", "py3"}
POSTGRESQL = ("127.0.0.1", 5432)


class Block(NamedTuple):
    number: int  # 1-based, among the page's python blocks, skipped ones included
    line: int  # the page's line of the block's first line of code
    code: str
    skip: str | None  # the skip mark's reason, or None when the block runs


# Property-based examples in the docs show how to use Hypothesis; whether the machine is busy
# is no part of what they claim, so the speed checks are off while they run.
settings.register_profile(
    "modelshelf-docs", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def page_name(page: Path) -> str:
    """The page as a failure message names it: relative to the repository."""
    return str(page.relative_to(ROOT)) if page.is_relative_to(ROOT) else str(page)


def python_blocks(page: Path) -> list[Block]:
    """The page's ``python`` blocks, in order, each with its skip mark if it has one.

    Fences may be indented (inside a list item); the code is dedented to match. A skip mark
    that is not right before a ``python`` fence, or gives no reason, is an error: a mark
    that silently applies to nothing (or to the wrong block) would hide an example.
    """
    text = page.read_text(encoding="utf-8")
    fences = list(FENCE.finditer(text))
    blocks: list[Block] = []
    for fence in fences:
        label = fence.group("info").strip().split(" ")[0].lower()
        line = text.count("\n", 0, fence.start("code")) + 1
        assert label not in PYTHON_LOOKALIKES, (
            f"{page_name(page)}:{line - 1}: label the block ```python (not ```{label}) "
            "so the docs tests run it"
        )
        if label != "python":
            continue
        before = text[: fence.start()].removesuffix("\n").rsplit("\n", 1)[-1]
        mark = SKIP_MARK.fullmatch(before)
        skip = None
        if mark is not None:
            skip = mark.group("reason").strip()
            assert skip, f"{page_name(page)}:{line - 2}: a skip mark must give its reason"
        blocks.append(Block(len(blocks) + 1, line, textwrap.dedent(fence.group("code")), skip))
    fenced = [(f.start(), f.end()) for f in fences]
    for mark in SKIP_MARK.finditer(text):
        following = text[mark.end() + 1 :]
        mark_line = text.count("\n", 0, mark.start()) + 1
        inside = any(start <= mark.start() < end for start, end in fenced)
        assert inside or re.match(r"[ \t]*```python\b", following), (
            f"{page_name(page)}:{mark_line}: a skip mark must be on the line right before "
            "a ```python fence"
        )
    return blocks


class DocsExampleError(AssertionError):
    """A page's example failed; the message names the page, the block and the line."""


def run_page(page: Path) -> int:
    """Run the page's python blocks in order in one fresh namespace; how many ran.

    The caller provides the fresh working directory and environment.
    """
    # What a new interpreter's top level is: an empty __main__ module. Installing it as
    # sys.modules["__main__"] while the page runs lets pickle find classes the page defines,
    # as it does for a reader.
    main = types.ModuleType("__main__")
    namespace: dict[str, Any] = main.__dict__
    ran = 0
    lines = page.read_text(encoding="utf-8").splitlines()
    previous = sys.modules["__main__"]
    sys.modules["__main__"] = main
    try:
        for block in python_blocks(page):
            if block.skip is not None:
                continue
            try:
                exec(compile(block_source(block), str(page), "exec"), namespace)
            except Exception as exc:
                raise DocsExampleError(failure_message(page, block, lines, exc)) from exc
            ran += 1
    finally:
        sys.modules["__main__"] = previous
    run = [block for block in python_blocks(page) if block.skip is None]
    # A name the page binds at top level counts even when it is gone again (an
    # ``except ... as exc`` target is deleted after its handler).
    defined = set(namespace).union(*(top_level_bindings(block) for block in run))
    undefined = [
        (line, block.number, name)
        for block in run
        for line, name in undefined_names(block, defined)
    ]
    if undefined:
        line, number, name = undefined[0]
        raise DocsExampleError(
            f"{page_name(page)}:{line}: python block {number} uses {name!r}, which the page"
            " never defines"
            f"\n    {lines[line - 1].strip()}\n(the docs tests inject nothing: define the name"
            " on the page, e.g. in a set-up block the page starts with)"
        )
    return ran


def block_source(block: Block) -> str:
    # Padded with blank lines so line numbers (in tracebacks too) are the page's.
    return "\n" * (block.line - 1) + block.code


def top_level_bindings(block: Block) -> set[str]:
    table = symtable.symtable(block_source(block), "<page>", "exec")
    return {sym.get_name() for sym in table.get_symbols() if sym.is_assigned() or sym.is_imported()}


def undefined_names(block: Block, defined: set[str]) -> list[tuple[int, str]]:
    """(page line, name) of globals the block reads that the page, once run, never defined.

    Running a block catches a missing name only on the paths it takes; this also finds
    one inside a function or hook the page defines but never calls.
    """
    source = block_source(block)
    wanted: set[str] = set()
    tables = [symtable.symtable(source, "<page>", "exec")]
    while tables:
        table = tables.pop()
        tables.extend(table.get_children())
        wanted |= {
            sym.get_name()
            for sym in table.get_symbols()
            if sym.is_referenced()
            and (table.get_type() == "module" or sym.is_global())
            and sym.get_name() not in defined
            and not hasattr(builtins, sym.get_name())
        }
    return sorted(
        (node.lineno, node.id)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Name) and node.id in wanted
    )


def failure_message(page: Path, block: Block, lines: list[str], exc: Exception) -> str:
    on_page = [
        frame.lineno
        for frame in traceback.extract_tb(exc.__traceback__)
        if frame.filename == str(page) and frame.lineno is not None
    ]
    if isinstance(exc, SyntaxError) and exc.filename == str(page) and exc.lineno:
        on_page.append(exc.lineno)
    line = on_page[-1] if on_page else block.line
    message = (
        f"{page_name(page)}:{line}: python block {block.number} (from line {block.line}) "
        f"raised {type(exc).__name__}: {exc}\n    {lines[line - 1].strip()}"
    )
    if isinstance(exc, NameError):
        message += (
            "\n(the docs tests inject nothing: define the name on the page, e.g. in a"
            " set-up block the page starts with)"
        )
    return message


def postgresql_listens() -> bool:
    try:
        with socket.create_connection(POSTGRESQL, timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def fresh_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty working directory, no MODELSHELF_* variables, the docs' Hypothesis profile."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("MODELSHELF_"):
            monkeypatch.delenv(name)
    # (get_current_profile_name is recent; older Hypothesis only has the default profile)
    previous = getattr(settings, "get_current_profile_name", lambda: "default")()
    settings.load_profile("modelshelf-docs")
    try:
        yield tmp_path
    finally:
        settings.load_profile(previous)


def test_blocks_are_found_with_their_skip_marks() -> None:
    blocks = python_blocks(DOCS / "contributing.md")
    assert any(block.skip for block in blocks), "contributing.md shows a skipped block"
    assert any(block.skip is None for block in blocks)
    assert [block.number for block in blocks] == list(range(1, len(blocks) + 1))


def test_a_failing_example_names_page_block_and_line(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# A page\n\n```python\nx = 1\n```\n\n<!-- skip: a reason -->\n```python\nboom\n```\n\n"
        "```python\nfirst = x\nsecond = model\n```\n"
    )
    with pytest.raises(DocsExampleError) as failed:
        run_page(page)
    text = str(failed.value)
    assert text.startswith(f"{page_name(page)}:14: python block 3 (from line 13) raised NameError")
    assert "second = model" in text and "inject nothing" in text


def test_a_name_only_a_function_body_uses_must_still_be_defined(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```python\nclass Gate:\n    def check(self):\n        return threshold\n```\n\n"
        "```python\ndef later():\n    return Gate, defined_below\n\n\ndefined_below = 1\n```\n"
    )
    with pytest.raises(DocsExampleError, match=r"page\.md:4: python block 1 uses 'threshold'"):
        run_page(page)


def test_a_skip_mark_must_sit_on_a_python_block(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("<!-- skip: not a python block -->\n```bash\nls\n```\n")
    with pytest.raises(AssertionError, match=r"page\.md:1: a skip mark must be on the line"):
        python_blocks(page)


def test_a_page_defined_class_pickles_as_it_would_for_a_reader(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```python\nimport pickle\n\n\nclass Box:\n    pass\n\n\n"
        "assert type(pickle.loads(pickle.dumps(Box()))) is Box\n```\n"
    )
    main = sys.modules["__main__"]
    assert run_page(page) == 1
    assert sys.modules["__main__"] is main


@pytest.mark.parametrize("page", PAGES, ids=page_name)
def test_page_fences_and_skip_marks_are_well_formed(page: Path) -> None:
    python_blocks(page)  # raises, naming the page and line, on a misplaced mark or label


@pytest.mark.parametrize(
    "page", [page for page in PAGES if "```python" in page.read_text("utf-8")], ids=page_name
)
def test_page_examples_run_in_order_in_a_fresh_session(page: Path, fresh_session: Path) -> None:
    code = "\n".join(block.code for block in python_blocks(page) if block.skip is None)
    uses_postgresql = any(host in code for host in ("127.0.0.1:5432", "localhost:5432"))
    if uses_postgresql and not postgresql_listens():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{page_name(page)} needs PostgreSQL on 127.0.0.1:5432")
        pytest.skip(f"{page_name(page)} needs PostgreSQL on 127.0.0.1:5432")
    assert run_page(page), f"every python block of {page_name(page)} is marked skip"
    if page == README:
        # The quickstart uses the embedded default layout the README describes.
        assert (fresh_session / "data" / "models" / "registry" / "registry.db").is_file()


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
