"""The HTML report: its content, its refusals, and how it renders in a real browser."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any

import pytest

from modelshelf import InvalidInputError, ModelNotFoundError, ModelRegistry
from modelshelf.report import write_report

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from sklearn.linear_model import LogisticRegression

IRIS_RUNS = [  # f1, roc_auc, log_loss
    (0.81, 0.88, 0.52),
    (0.86, 0.90, 0.41),
    (0.84, 0.93, 0.44),
    (0.90, 0.95, 0.30),
    (0.88, 0.94, 0.33),
]
HOSTILE = '<script>alert("x")</script> & "quotes"'


@pytest.fixture
def shelf(
    make_registry: Callable[..., ModelRegistry], logistic: LogisticRegression
) -> ModelRegistry:
    """Two model names, several stages, an alias and hostile free text."""
    registry = make_registry()
    for f1, auc, loss in IRIS_RUNS:
        registry.save_model(
            logistic,
            model_name="iris-clf",
            model_type="LogisticRegression",
            metrics={"f1": f1, "roc_auc": auc, "log_loss": loss},
            description=HOSTILE,
            tags={"note": HOSTILE},
        )
    for f1 in (0.70, 0.78):
        registry.save_model(
            logistic, model_name="churn", model_type=HOSTILE, metrics={"f1": f1, "roc_auc": 0.8}
        )
    registry.transition_stage("iris-clf", "1.0.1", "Production")
    registry.transition_stage("iris-clf", "1.0.3", "Production")  # archives 1.0.1
    registry.transition_stage("iris-clf", "1.0.4", "Staging")
    registry.set_alias("iris-clf:1.0.3", "champion")
    return registry


class _Page(HTMLParser):
    """The parts of the page the tests look at: table rows, SVGs, resource references."""

    def __init__(self) -> None:
        super().__init__()
        self.headers: list[str] = []
        self.rows: list[list[str]] = []
        self.best_cells: list[str] = []
        self.svgs = 0
        self.points = 0
        self.scripts_with_src = 0
        self.tags: set[str] = set()
        self.urls: list[str] = []
        self._cell: list[str] | None = None
        self._cell_is_best = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.tags.add(tag)
        for name in ("src", "href", "xlink:href", "action", "data"):
            if values.get(name):
                self.urls.append(str(values[name]))
        if tag == "svg":
            self.svgs += 1
        if tag == "circle" and "point" in (values.get("class") or ""):
            self.points += 1
        if tag == "script" and "src" in values:
            self.scripts_with_src += 1
        if tag == "tr" and "data-model-id" in values:
            self.rows.append([])
        if tag in ("td", "th"):
            self._cell = []
            self._cell_is_best = "best" in (values.get("class") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            text = "".join(self._cell).strip()
            if tag == "th":
                self.headers.append(text)
            else:
                self.rows[-1].append(text)
                if self._cell_is_best:
                    self.best_cells.append(text)
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def test_report_tables_every_version_and_charts_each_metric(
    shelf: ModelRegistry, tmp_path: Path
) -> None:
    written = write_report(shelf, tmp_path / "out" / "report.html")

    assert written == tmp_path / "out" / "report.html"
    page = parse(written)
    assert len(page.rows) == 7
    assert page.headers[:4] == ["ID", "Name", "Version", "Stage"]
    assert page.headers[7:] == ["f1", "log_loss ↓", "roc_auc", "Score (f1)"]
    by_version = {(row[1], row[2]): row for row in page.rows}
    assert by_version[("iris-clf", "1.0.3")][3] == "Production"
    assert by_version[("iris-clf", "1.0.3")][4] == "champion"
    assert by_version[("iris-clf", "1.0.1")][3] == "Archived"
    assert by_version[("churn", "1.0.0")][8] == "—"  # churn has no log_loss
    # The best of each metric, in the metric's direction (log_loss: lowest).
    assert sorted(page.best_cells) == ["0.3", "0.9", "0.95"]
    # Versions of one name are listed in version order.
    assert [row[2] for row in page.rows if row[1] == "iris-clf"] == [f"1.0.{i}" for i in range(5)]
    # Across versions: churn has 2 metrics, iris-clf 3; by stage: one chart per metric.
    assert page.svgs == 2 + 3 + 3
    iris_points = 5 * 3
    churn_points = 2 * 2
    assert page.points == 2 * (iris_points + churn_points)


def test_report_is_self_contained_and_escapes_user_text(
    shelf: ModelRegistry, tmp_path: Path
) -> None:
    text = write_report(shelf, tmp_path / "report.html").read_text(encoding="utf-8")
    page = parse(tmp_path / "report.html")

    assert page.urls == []
    assert page.scripts_with_src == 0
    assert not page.tags & {"link", "img", "iframe", "object", "embed", "base"}
    assert "://" not in text
    assert "@import" not in text
    assert "url(" not in text
    assert '<script>alert("x")</script>' not in text
    assert html.escape(HOSTILE, quote=True) in text  # shown, as text


def test_report_for_one_name_with_chosen_metrics_and_title(
    shelf: ModelRegistry, tmp_path: Path
) -> None:
    written = write_report(
        shelf, tmp_path, model_name="iris-clf", metrics=["roc_auc", "f1"], title="Iris <review>"
    )

    assert written == tmp_path / "report.html"
    text = written.read_text(encoding="utf-8")
    assert "<title>Iris &lt;review&gt;</title>" in text
    page = parse(written)
    assert {row[1] for row in page.rows} == {"iris-clf"}
    assert page.headers[7:] == ["roc_auc", "f1", "Score (f1)"]
    assert page.svgs == 2 + 2
    assert "churn" not in text


def test_report_default_title_names_the_model(shelf: ModelRegistry, tmp_path: Path) -> None:
    text = write_report(shelf, tmp_path / "r.html", model_name="churn").read_text()
    assert "<title>modelshelf report: churn</title>" in text


def test_report_replaces_the_file_without_leftovers(shelf: ModelRegistry, tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("old")
    write_report(shelf, target)
    write_report(shelf, target)

    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["registry", "report.html"]


def test_report_of_an_empty_registry_says_so(
    make_registry: Callable[..., ModelRegistry], tmp_path: Path
) -> None:
    text = write_report(make_registry(), tmp_path / "empty.html").read_text(encoding="utf-8")
    assert "No versions recorded yet." in text
    assert "<table" not in text


@pytest.mark.parametrize(
    ("options", "error", "words"),
    [
        ({"model_name": "nope"}, ModelNotFoundError, "'nope'"),
        ({"model_name": "../etc"}, InvalidInputError, "model_name"),
        ({"metrics": ["accuracy"]}, InvalidInputError, "metrics: no reported version has"),
        ({"metrics": "f1"}, InvalidInputError, "metrics: must be a list"),
        ({"metrics": []}, InvalidInputError, "metrics: give at least one"),
        ({"title": 3}, InvalidInputError, "title"),
    ],
)
def test_report_rejects_bad_arguments_and_writes_nothing(
    shelf: ModelRegistry,
    tmp_path: Path,
    options: dict[str, Any],
    error: type[Exception],
    words: str,
) -> None:
    target = tmp_path / "out" / "report.html"
    with pytest.raises(error, match=re.escape(words)):
        write_report(shelf, target, **options)
    assert not (tmp_path / "out").exists()


# -- in a real browser ------------------------------------------------------------------

WINDOW = (1280, 1600)


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "chromium is not installed (.ci/run installs Debian's chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


def run_chromium(page: Path, profile: Path, *args: str) -> str:
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        f"--user-data-dir={profile}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        *args,
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def body_attributes(dom: str) -> dict[str, str]:
    match = re.search(r"<body([^>]*)>", dom)
    assert match, dom[:500]
    return {
        name: html.unescape(value)
        for name, value in re.findall(r'([\w-]+)="([^"]*)"', match.group(1))
    }


def ink(image: Any, box: dict[str, int]) -> tuple[float, float]:
    """Fraction of non-white pixels, and of strongly coloured ones, inside ``box``."""
    region = image.crop((box["x"], box["y"], box["x"] + box["width"], box["y"] + box["height"]))
    raw = region.convert("RGB").tobytes()
    pixels = [tuple(raw[i : i + 3]) for i in range(0, len(raw), 3)]
    dark = sum(1 for r, g, b in pixels if min(r, g, b) < 235)
    coloured = sum(1 for r, g, b in pixels if max(r, g, b) - min(r, g, b) > 60)
    return dark / len(pixels), coloured / len(pixels)


def test_report_renders_its_table_and_charts_in_chromium(
    shelf: ModelRegistry, tmp_path: Path
) -> None:
    from PIL import Image

    report = write_report(shelf, tmp_path / "report.html")

    body = body_attributes(run_chromium(report, tmp_path / "profile", "--dump-dom"))
    assert "data-js-error" not in body, body["data-js-error"]
    assert body.get("data-report-ready") == "yes"
    layout = json.loads(body["data-layout"])
    assert layout["charts"] == 8
    assert layout["points"] == 38
    table, chart = layout["table"], layout["chart"]
    assert table["width"] > 600
    assert table["height"] > 7 * 20  # a header and seven rows
    assert chart["width"] > 250
    assert chart["height"] > 120
    assert chart["y"] + chart["height"] <= WINDOW[1], "first chart is below the screenshot"

    shot = tmp_path / "report.png"
    run_chromium(report, tmp_path / "profile", f"--screenshot={shot}")
    with Image.open(shot) as image:
        assert image.size == WINDOW
        table_ink, _ = ink(image, table)
        chart_ink, chart_colour = ink(image, chart)
        blank = ink(image, {"x": 0, "y": WINDOW[1] - 8, "width": 8, "height": 8})
    assert table_ink > 0.05, f"table region is nearly blank ({table_ink:.3f})"
    assert chart_ink > 0.01, f"chart region is nearly blank ({chart_ink:.3f})"
    assert chart_colour > 0.003, f"chart has no coloured marks ({chart_colour:.4f})"
    assert blank == (0.0, 0.0)  # the page background really is white


def test_report_script_sorts_the_table_and_reports_errors(
    shelf: ModelRegistry, tmp_path: Path
) -> None:
    report = write_report(shelf, tmp_path / "report.html")
    text = report.read_text(encoding="utf-8")
    probe = (
        "<script>var th=document.querySelectorAll('#versions th')[7];th.click();th.click();"
        "document.body.setAttribute('data-order',Array.prototype.map.call("
        "document.querySelectorAll('#versions tbody tr'),function(r){return r.cells[7]"
        ".textContent;}).join(' '));</script></body>"
    )
    sorted_page = tmp_path / "sorted.html"
    sorted_page.write_text(text.replace("</body>", probe), encoding="utf-8")
    broken_page = tmp_path / "broken.html"
    broken_page.write_text(
        text.replace("</body>", "<script>undefinedFunction();</script></body>"), encoding="utf-8"
    )

    body = body_attributes(run_chromium(sorted_page, tmp_path / "profile", "--dump-dom"))
    assert "data-js-error" not in body
    assert body["data-order"] == "0.9 0.88 0.86 0.84 0.81 0.78 0.7"  # f1, descending

    body = body_attributes(run_chromium(broken_page, tmp_path / "profile", "--dump-dom"))
    assert "undefinedFunction" in body["data-js-error"]
