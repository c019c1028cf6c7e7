"""``modelshelf ui``: every route and security rule over HTTP, then the real thing in chromium.

The HTTP tests drive the Starlette app in-process (TestClient); the browser
tests start ``modelshelf ui`` as a subprocess on a free port and click through
it with Playwright in the system chromium. Both run against real registries
holding real scikit-learn models trained here.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sklearn.datasets import load_iris, load_wine
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, log_loss
from sklearn.model_selection import train_test_split

from modelshelf import ModelRegistry

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser, Page
    from starlette.testclient import TestClient

TOKEN = "test-token-0123456789abcdef"
BASE = "http://127.0.0.1:8008"
GATE = "[gates.Production]\nf1 = 0.8\n"
#: Set to a directory (docs/images) to save the browser tests' screenshots there.
SCREENSHOTS = os.environ.get("MODELSHELF_UI_SCREENSHOTS")


# -- a real registry ---------------------------------------------------------------------


def _save(
    registry: ModelRegistry, name: str, model: Any, data: Any, **options: Any
) -> tuple[int, dict[str, float]]:
    X, y = data
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=0, stratify=y
    )
    model.fit(X_train, y_train)
    predicted = model.predict(X_test)
    metrics = {
        "f1": float(f1_score(y_test, predicted, average="macro")),
        "accuracy": float(accuracy_score(y_test, predicted)),
        "log_loss": float(log_loss(y_test, model.predict_proba(X_test))),
    }
    params = {k: v for k, v in model.get_params().items() if k in ("C", "n_estimators", "strategy")}
    model_id = registry.save_model(
        model,
        name,
        type(model).__name__,
        metrics=metrics,
        hyperparameters=params,
        training_info={"dataset": name, "n_samples": len(X_train)},
        **options,
    )
    return model_id, metrics


def fill(registry: ModelRegistry) -> dict[str, Any]:
    """iris: a useless baseline, two logistic regressions, a forest; wine: two versions."""
    iris, wine = load_iris(return_X_y=True), load_wine(return_X_y=True)
    baseline, weak = _save(
        registry, "iris", DummyClassifier(strategy="most_frequent"), iris, description="baseline"
    )
    small, small_metrics = _save(
        registry, "iris", LogisticRegression(C=0.05, max_iter=2000), iris, parent_id=baseline
    )
    tuned, _ = _save(
        registry, "iris", LogisticRegression(C=1.0, max_iter=2000), iris, parent_id=small
    )
    forest, _ = _save(
        registry,
        "iris",
        RandomForestClassifier(n_estimators=10, random_state=0),
        iris,
        parent_id=tuned,
        tags={"team": "vision"},
    )
    _save(registry, "wine", LogisticRegression(C=0.5, max_iter=5000), wine)
    _save(registry, "wine", RandomForestClassifier(n_estimators=10, random_state=0), wine)
    registry.set_model_info("iris", description="Iris species <classifier>", tags={"team": "ml"})
    return {"ids": [baseline, small, tuned, forest], "weak": weak, "small": small_metrics}


def open_registry(path: Path, **options: Any) -> ModelRegistry:
    path.mkdir(parents=True, exist_ok=True)
    (path / "modelshelf.toml").write_text(GATE)
    return ModelRegistry(path, **options)


@pytest.fixture(scope="module")
def shelf_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One trained registry per module, copied for each test that writes."""
    path = tmp_path_factory.mktemp("ui") / "registry"
    with open_registry(path) as registry:
        fill(registry)
    return path


@pytest.fixture
def shelf(shelf_template: Path, tmp_path: Path) -> Iterator[ModelRegistry]:
    path = tmp_path / "registry"
    shutil.copytree(shelf_template, path)
    with ModelRegistry(path, user="alice") as registry:
        yield registry


def make_client(registry: ModelRegistry, **options: Any) -> TestClient:
    from starlette.testclient import TestClient

    from modelshelf.ui import create_app

    options.setdefault("allow_writes", True)
    options.setdefault("token", TOKEN)
    return TestClient(create_app(registry, **options), base_url=BASE)


@pytest.fixture
def client(shelf: ModelRegistry) -> Iterator[TestClient]:
    with make_client(shelf) as test_client:
        yield test_client


def rows(html: str) -> list[str]:
    """The versions shown in a versions table, in order."""
    return re.findall(r'<tr data-version="([^"]+)"', html)


# -- browsing ----------------------------------------------------------------------------


def test_home_lists_names_with_description_tags_and_links(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert re.findall(r'data-name="([^"]+)"', page.text) == ["iris", "wine"]
    assert "Iris species &lt;classifier&gt;" in page.text  # escaped, not markup
    assert 'href="http://127.0.0.1:8008/models/iris"' in page.text
    assert "team=ml" in page.text
    only = client.get("/", params={"tag": "team=ml"})
    assert re.findall(r'data-name="([^"]+)"', only.text) == ["iris"]
    assert re.findall(r'data-name="([^"]+)"', client.get("/?q=win").text) == ["wine"]


def test_versions_table_sorts_filters_and_pages(client: TestClient, shelf: ModelRegistry) -> None:
    page = client.get("/models/iris")
    assert rows(page.text) == ["1.0.3", "1.0.2", "1.0.1", "1.0.0"]  # newest first
    by_f1 = [m.version for m in shelf.list_models(model_name="iris", order_by="f1")]
    assert rows(client.get("/models/iris?sort=f1&desc=0").text) == by_f1
    assert rows(client.get("/models/iris?sort=f1&desc=1").text) == by_f1[::-1]
    sorted_page = client.get("/models/iris?sort=log_loss&desc=0").text
    assert re.search(r'data-sort-key="log_loss"[^>]*aria-sort="ascending"', sorted_page)
    good = client.get("/models/iris", params={"metrics": "f1>=0.8"}).text
    assert "1.0.0" not in rows(good) and len(rows(good)) == 3
    assert rows(client.get("/models/iris?metrics=f1<=0.5").text) == ["1.0.0"]
    assert rows(client.get("/models/iris?tag=team=vision").text) == ["1.0.3"]
    assert rows(client.get("/models/iris?type=DummyClassifier").text) == ["1.0.0"]
    assert rows(client.get("/models/iris?stage=Production").text) == []
    assert rows(client.get("/models/iris?after=2000-01-01&before=2999-01-01").text) == rows(
        page.text
    )
    assert rows(client.get("/models/iris?after=2999-01-01").text) == []
    second = client.get("/models/iris?per_page=2&page=2").text
    assert rows(second) == ["1.0.1", "1.0.0"]
    assert "Versions 3\u20134 of 4" in second and 'rel="prev"' in second


@pytest.mark.parametrize(
    "order_by", ["version", "created_at", "model_type", "stage", "f1", "log_loss"]
)
@pytest.mark.parametrize("descending", [False, True])
def test_every_page_holds_the_store_s_slice(
    client: TestClient,
    shelf: ModelRegistry,
    logistic: LogisticRegression,
    order_by: str,
    descending: bool,
) -> None:
    """Deep pages are read from the far end and turned around; the rows are the same."""
    shelf.promote("iris:1.0.2", "Staging")
    shelf.save_model(logistic, "iris", "LogisticRegression", metrics={"f1": 0.9})  # no log_loss
    for bounded in ("", "&metrics=f1%3E%3D0"):  # a threshold lets a metric order reverse too
        query = f"sort={order_by}&desc={int(descending)}&per_page=1{bounded}"
        for page in range(1, 8):
            expected = shelf.list_models(
                model_name="iris",
                order_by=order_by,
                descending=descending,
                limit=1,
                offset=page - 1,
                min_f1=0.0 if bounded else None,
            )
            shown = rows(client.get(f"/models/iris?{query}&page={page}").text)
            assert shown == [m.version for m in expected], (page, bounded)


def test_a_bad_filter_is_explained_on_the_page(client: TestClient) -> None:
    for query, words in [
        ("metrics=f1>>1", "must look like 'f1>=0.8'"),
        ("stage=Live", "unknown stage 'Live'"),
        ("after=yesterday", "is not a date"),
        ("tag=team", "KEY=VALUE"),
        ("page=zero", "not a whole number"),
    ]:
        page = client.get(f"/models/iris?{query}")
        assert page.status_code == 200, query
        assert words in html.unescape(page.text), query
        assert 'class="notice error"' in page.text


def test_version_page_shows_everything_recorded(client: TestClient, shelf: ModelRegistry) -> None:
    m = shelf.get_metadata("iris:1.0.2")
    page = client.get("/models/iris/versions/1.0.2").text
    assert f"{m.metrics['f1']:.4g}" in page
    assert "<th>C</th>" in page and "<code>1.0</code>" in page
    assert f"<td>{m.training_info.n_samples}</td>" in page
    assert m.artifact.sha256 in page and f'title="{m.artifact.size} bytes"' in page
    assert 'href="http://127.0.0.1:8008/models/iris/versions/1.0.1">iris:1.0.1</a>' in page
    assert "iris:1.0.0</a>" in page  # the lineage goes all the way up
    assert client.get("/models/iris/versions/9.9.9").status_code == 404
    assert client.get("/models/nothing").status_code == 404


def test_compare_puts_metrics_side_by_side_and_keeps_names_apart(
    client: TestClient, shelf: ModelRegistry
) -> None:
    iris = [m.model_id for m in shelf.list_models(model_name="iris")]
    page = client.get("/compare", params={"v": [str(iris[1]), str(iris[3]), "wine:1.0.1"]}).text
    heads = re.findall(r'<th scope="col" data-model-id="\d+"><a [^>]+>([^<]+)</a>', page)
    assert heads == ["iris:1.0.1", "iris:1.0.3", "wine:1.0.1"]
    assert 'data-metric="f1"' in page and "differs" in page  # C / n_estimators differ
    # One chart group per name; no chart mixes names.
    assert re.findall(r'<figure class="chart-card" data-model-name="(\w+)"', page) == (
        ["iris"] * 3 + ["wine"] * 3
    )
    labels = re.findall(r'aria-label="([^"]+)"', page)
    assert labels and all(
        label.endswith(("of iris", "of wine")) or "(lower" in label for label in labels
    )
    assert "2 different models" in page
    assert client.get("/compare?v=nothing:1.0.0").status_code == 404
    assert "Pick versions to compare" in client.get("/compare").text


def test_assets_are_served_from_the_package(client: TestClient) -> None:
    from modelshelf import ui

    root = Path(ui.__file__).parent
    assert (root / "static" / "ui.js").is_file() and (root / "templates" / "base.html").is_file()
    script = client.get("/static/ui.js")
    assert script.status_code == 200 and "X-Modelshelf-Poll" in script.text
    assert client.get("/report.css").headers["content-type"].startswith("text/css")
    for url in ("/", "/models/iris", "/models/iris/versions/1.0.3", "/compare?v=1&v=2"):
        page = client.get(url).text
        links = re.findall(r'(?:href|src|action)="([^"]*)"', page)
        foreign = [link for link in links if "://" in link and not link.startswith(BASE)]
        assert links and foreign == [], url  # nothing is fetched from anywhere else


def test_the_app_mounts_under_a_prefix(shelf: ModelRegistry) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount
    from starlette.testclient import TestClient

    from modelshelf.ui import create_app

    outer = Starlette(routes=[Mount("/registry", create_app(shelf))])
    with TestClient(outer, base_url=BASE) as test_client:
        page = test_client.get("/registry/models/iris")
    assert page.status_code == 200
    assert 'href="http://127.0.0.1:8008/registry/models/iris/versions/1.0.3"' in page.text


def test_json_store_registry_is_browsable(tmp_path: Path) -> None:
    with open_registry(tmp_path / "json", store="json") as registry:
        fill(registry)
        with make_client(registry) as test_client:
            assert rows(test_client.get("/models/wine").text) == ["1.0.1", "1.0.0"]
            assert test_client.get("/models/iris?sort=f1").status_code == 200


def test_postgresql_and_s3_registry_is_browsable_and_steerable(
    s3_bucket: str, modelshelf_postgresql_url: str
) -> None:
    with ModelRegistry(
        f"{s3_bucket}/team", store="postgresql", store_url=modelshelf_postgresql_url, user="bob"
    ) as registry:
        fill(registry)
        with make_client(registry) as test_client:
            stored = registry.get_metadata("iris:1.0.3").artifact
            page = test_client.get("/models/iris/versions/1.0.3").text
            assert stored.sha256 in page and stored.key in page and s3_bucket in page
            assert rows(test_client.get("/models/iris?sort=f1&desc=1&per_page=2").text) == [
                m.version
                for m in registry.list_models(
                    model_name="iris", order_by="f1", descending=True, limit=2
                )
            ]
            done = test_client.post(
                "/models/iris/versions/1.0.2/stage", data={"stage": "Production", "token": TOKEN}
            )
            assert done.status_code == 200 and "iris:1.0.2 moved to Production." in done.text
        assert registry.audit_log("iris")[-1].actor == "bob"


# -- steering ----------------------------------------------------------------------------


def test_token_from_the_url_is_kept_and_put_into_forms(client: TestClient) -> None:
    first = client.get(f"/models/iris?token={TOKEN}", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/models/iris"
    cookie = first.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    page = client.get("/models/iris").text
    assert f'name="token" value="{TOKEN}"' in page and "writes on · alice" in page
    assert client.get("/?token=wrong-token-wrong-token").status_code == 403


def test_promote_goes_through_the_registry_and_records_the_user(
    client: TestClient, shelf: ModelRegistry
) -> None:
    answer = client.post(
        "/models/iris/versions/1.0.2/stage",
        data={"stage": "Production", "reason": "best logistic", "token": TOKEN},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert shelf.get_metadata("iris:1.0.2").stage.value == "Production"
    event = shelf.audit_log("iris")[-1]
    assert (event.actor, event.to_value, event.reason) == ("alice", "Production", "best logistic")
    page = client.get(answer.headers["location"]).text
    assert "iris:1.0.2 moved to Production." in page and "best logistic" in page


def test_a_gate_veto_is_shown_and_nothing_changes(client: TestClient, shelf: ModelRegistry) -> None:
    answer = client.post(
        "/models/iris/versions/1.0.0/stage", data={"stage": "Production", "token": TOKEN}
    )
    assert answer.status_code == 409
    assert "gate refused iris:1.0.0 -&gt; Production: f1" in answer.text
    assert shelf.get_metadata("iris:1.0.0").stage.value == "None"
    assert shelf.audit_log("iris") == []


def test_rollback_restores_the_previous_production(
    client: TestClient, shelf: ModelRegistry
) -> None:
    for version in ("1.0.1", "1.0.3"):
        shelf.promote(f"iris:{version}")
    answer = client.post("/models/iris/rollback", data={"token": TOKEN, "reason": "drift"})
    assert answer.status_code == 200 and "Rolled back" in answer.text
    assert shelf.get_metadata("iris:1.0.1").stage.value == "Production"
    assert shelf.audit_log("iris")[-1].actor == "alice"
    again = client.post("/models/iris/rollback", data={"token": TOKEN})
    assert again.status_code == 404 and "no earlier Production version" in again.text


def test_aliases_are_set_moved_and_removed(client: TestClient, shelf: ModelRegistry) -> None:
    client.post("/models/iris/versions/1.0.1/alias", data={"alias": "champion", "token": TOKEN})
    assert shelf.get_metadata("iris@champion").version == "1.0.1"
    client.post("/models/iris/versions/1.0.3/alias", data={"alias": "champion", "token": TOKEN})
    assert shelf.get_metadata("iris@champion").version == "1.0.3"
    bad = client.post("/models/iris/versions/1.0.3/alias", data={"alias": "no way", "token": TOKEN})
    assert bad.status_code == 400 and "alias" in bad.text
    gone = client.post("/models/iris/aliases/champion/delete", data={"token": TOKEN})
    assert gone.status_code == 200 and "Alias champion removed." in gone.text
    assert shelf.get_metadata("iris:1.0.3").aliases == ()
    assert (
        client.post("/models/iris/aliases/champion/delete", data={"token": TOKEN}).status_code
        == 404
    )


def test_descriptions_and_tags_are_edited(client: TestClient, shelf: ModelRegistry) -> None:
    client.post(
        "/models/iris/versions/1.0.2/edit",
        data={"description": "tuned C", "tags": "team=vision\nreviewed=yes\n", "token": TOKEN},
    )
    edited = shelf.get_metadata("iris:1.0.2")
    assert (edited.description, edited.tags) == ("tuned C", {"team": "vision", "reviewed": "yes"})
    client.post("/models/iris/edit", data={"description": "Irises", "tags": "", "token": TOKEN})
    assert shelf.get_model_info("iris").description == "Irises"
    assert shelf.get_model_info("iris").tags == {}
    bad = client.post("/models/iris/edit", data={"tags": "novalue", "token": TOKEN})
    assert bad.status_code == 400 and "KEY=VALUE" in bad.text
    assert client.post("/models/ghost/edit", data={"token": TOKEN}).status_code == 404


def test_a_redirect_stays_on_this_server(client: TestClient) -> None:
    for back in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        answer = client.post(
            "/models/iris/versions/1.0.1/stage",
            data={"stage": "Staging", "token": TOKEN, "back": back},
            follow_redirects=False,
        )
        assert answer.headers["location"].startswith("/models/iris/versions/1.0.1?"), back
    kept = client.post(
        "/models/iris/versions/1.0.1/stage",
        data={"stage": "Staging", "token": TOKEN, "back": "/models/iris?sort=f1"},
        follow_redirects=False,
    )
    assert kept.headers["location"].startswith("/models/iris?sort=f1&done=stage")


# -- security ------------------------------------------------------------------------------

WRITES = [
    ("/models/iris/versions/1.0.2/stage", {"stage": "Production"}),
    ("/models/iris/versions/1.0.2/alias", {"alias": "champion"}),
    ("/models/iris/versions/1.0.2/edit", {"description": "x"}),
    ("/models/iris/rollback", {}),
    ("/models/iris/edit", {"description": "x"}),
    ("/models/iris/aliases/champion/delete", {}),
]


@pytest.mark.parametrize(("path", "form"), WRITES, ids=[p for p, _ in WRITES])
def test_every_write_needs_the_token(
    client: TestClient, shelf: ModelRegistry, path: str, form: dict[str, str]
) -> None:
    before = (shelf.list_models(), shelf.audit_log(), shelf.get_model_info("iris"))
    for given in ({}, {"token": "wrong-token-wrong-token"}):
        answer = client.post(path, data={**form, **given})
        assert answer.status_code == 403, given
        assert "needs the token printed when the server started" in answer.text
    assert (shelf.list_models(), shelf.audit_log(), shelf.get_model_info("iris")) == before
    with_header = client.post(path, data=form, headers={"X-Modelshelf-Token": TOKEN})
    assert with_header.status_code != 403


def test_writes_are_off_unless_allowed(shelf: ModelRegistry) -> None:
    with make_client(shelf, allow_writes=False) as test_client:
        page = test_client.get("/models/iris").text
        assert "read-only" in page and "→ Production" not in page
        answer = test_client.post(
            "/models/iris/versions/1.0.2/stage", data={"stage": "Production", "token": TOKEN}
        )
        assert answer.status_code == 403 and "read-only" in answer.json()["error"]
    assert shelf.get_metadata("iris:1.0.2").stage.value == "None"


def test_writes_from_another_origin_are_refused(client: TestClient, shelf: ModelRegistry) -> None:
    form = {"stage": "Production", "token": TOKEN}
    path = "/models/iris/versions/1.0.2/stage"
    for headers in (
        {"Origin": "http://evil.example"},
        {"Origin": "http://127.0.0.1:9999"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Referer": "http://evil.example/page"},
    ):
        answer = client.post(path, data=form, headers=headers)
        assert answer.status_code == 403, headers
        assert "another" in answer.json()["error"], headers
    assert shelf.audit_log() == []
    same = client.post(path, data=form, headers={"Origin": BASE, "Sec-Fetch-Site": "same-origin"})
    assert same.status_code == 200 and shelf.get_metadata("iris:1.0.2").stage.value == "Production"


def test_requests_for_another_host_name_are_refused(client: TestClient) -> None:
    answer = client.get("/", headers={"Host": "attacker.example:8008"})
    assert answer.status_code == 421
    assert client.get("/", headers={"Host": "localhost:8008"}).status_code == 200
    assert client.get("/", headers={"Host": "[::1]:8008"}).status_code == 200


def test_pages_forbid_framing_and_foreign_scripts(client: TestClient) -> None:
    headers = client.get("/").headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert "<script>" not in client.get("/models/iris").text  # no inline script to allow


def test_a_short_token_is_refused(shelf: ModelRegistry) -> None:
    from modelshelf.errors import InvalidInputError
    from modelshelf.ui import create_app

    with pytest.raises(InvalidInputError, match="16 characters"):
        create_app(shelf, allow_writes=True, token="short")


# -- live ------------------------------------------------------------------------------------


def test_the_poll_fingerprint_follows_changes_made_elsewhere(
    client: TestClient, shelf: ModelRegistry
) -> None:
    poll = {"X-Modelshelf-Poll": "1"}
    urls = ["/", "/models/iris", "/models/iris/versions/1.0.2", "/compare?v=iris:1.0.2"]
    before = {url: client.get(url, headers=poll).json()["fingerprint"] for url in urls}
    assert before == {url: client.get(url, headers=poll).json()["fingerprint"] for url in urls}
    shelf.update_model("iris:1.0.2", description="changed from Python")
    after = {url: client.get(url, headers=poll).json()["fingerprint"] for url in urls}
    assert all(after[url] != before[url] for url in urls[1:]), (before, after)
    shelf.transition_stage("iris", "1.0.2", "Production")
    assert client.get("/", headers=poll).json()["fingerprint"] != after["/"]


def test_ui_command_fails_in_one_line_when_it_cannot_start(
    shelf: ModelRegistry, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from modelshelf.cli import cli

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        busy = CliRunner().invoke(
            cli, ["ui", "--registry", str(shelf.storage_path), "--port", str(port)]
        )
    assert busy.exit_code == 6 and f"cannot listen on 127.0.0.1:{port}" in busy.stderr
    missing = CliRunner().invoke(cli, ["ui", "--registry", str(tmp_path / "none")])
    assert missing.exit_code == 1 and "no registry at" in missing.stderr


# -- packaging -------------------------------------------------------------------------------


def test_importing_modelshelf_and_its_cli_loads_no_web_library() -> None:
    code = (
        "import sys, modelshelf, modelshelf.cli\n"
        "heavy = ('starlette', 'uvicorn', 'jinja2', 'multipart', 'modelshelf.ui')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


# -- in a real browser --------------------------------------------------------------------------


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing (.ci/run installs Debian's chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Server:
    """``modelshelf ui`` running in a subprocess, as a user starts it."""

    def __init__(self, registry: Path, *args: str, env: dict[str, str] | None = None) -> None:
        command = [sys.executable, "-m", "modelshelf.cli", "ui", "--registry", str(registry)]
        self.process = subprocess.Popen(
            [*command, "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **(env or {})},
        )
        assert self.process.stdout is not None
        self.lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.lines.append(line)
            if line.startswith("press Ctrl-C"):
                break
        text = "".join(self.lines)
        found = re.search(r"at (http://127\.0\.0\.1:\d+/)", text)
        assert found, f"no URL printed: {text!r}"
        self.url = found.group(1)
        token = re.search(r"token: (\S+)", text)
        self.token = token.group(1) if token else None

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)
        assert self.process.stdout is not None
        self.process.stdout.close()


@pytest.fixture
def server_for(shelf_template: Path, tmp_path: Path) -> Iterator[Any]:
    started: list[Server] = []

    def start(*args: str, env: dict[str, str] | None = None) -> tuple[Server, Path]:
        path = tmp_path / f"registry-{len(started)}"
        shutil.copytree(shelf_template, path)
        server = Server(path, *args, env=env)
        started.append(server)
        return server, path

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    yield opened
    context.close()
    assert errors == [], f"script errors: {errors}"


def shoot(page: Page, name: str) -> None:
    """Save a screenshot for docs/ui.md when MODELSHELF_UI_SCREENSHOTS names a directory."""
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"))


def test_browser_browse_sort_and_open_a_version(server_for: Any, page: Page) -> None:
    server, _ = server_for()
    assert server.token is None and "read-only" in "".join(server.lines)
    page.goto(server.url)
    page.wait_for_selector("body[data-ui-ready=yes]")
    assert page.locator("#names tbody tr").count() == 2
    shoot(page, "ui-home")
    page.click("text=iris")
    page.wait_for_url("**/models/iris")
    versions = page.locator("#versions tbody tr")
    assert versions.count() == 4
    page.click('th[data-sort-key="f1"] a')
    page.wait_for_url("**sort=f1**")
    assert page.locator('th[data-sort-key="f1"]').get_attribute("aria-sort") == "descending"
    values = [float(v) for v in page.locator('td[data-metric="f1"]').all_inner_texts()]
    assert values == sorted(values, reverse=True)
    page.click('th[data-sort-key="f1"] a')
    values = [float(v) for v in page.locator('td[data-metric="f1"]').all_inner_texts()]
    assert values == sorted(values)
    page.fill('input[name="metrics"]', "f1>=0.8")
    page.click('#filters button[type="submit"]')
    page.wait_for_url("**metrics=**")
    assert versions.count() == 3
    shoot(page, "ui-versions")
    page.click("#versions tbody tr >> nth=0 >> td >> nth=1 >> a")
    page.wait_for_selector("#artifacts")
    assert page.locator("#metrics tr").count() == 3
    assert "iris:1.0.0" in page.inner_text("#lineage")
    assert page.locator("#steer").count() == 0  # read-only: no write forms


def test_browser_compare_shows_charts_per_model(server_for: Any, page: Page) -> None:
    server, _ = server_for()
    page.goto(server.url + "models/iris")
    for row in (1, 2, 3):
        page.check(f"#versions tbody tr >> nth={row} >> input[type=checkbox]")
    page.click("#compare-button")
    page.wait_for_url("**/compare?**")
    assert page.locator("#comparison thead th[data-model-id]").count() == 3
    charts = page.locator("figure.chart-card svg.chart")
    assert charts.count() == 3  # f1, accuracy, log_loss of iris only
    box = charts.first.bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 100
    page.fill('input[name="v"]:not([type=hidden])', "wine:1.0.0")
    page.click("#add-version")
    page.wait_for_selector("text=2 different models")
    names = {f.get_attribute("data-model-name") for f in page.locator("figure.chart-card").all()}
    assert names == {"iris", "wine"}
    shoot(page, "ui-compare")


def test_browser_promote_veto_rollback_and_live_update(server_for: Any, page: Page) -> None:
    server, path = server_for("--allow-writes", env={"MODELSHELF_USER": "carol"})
    assert server.token and "recorded as 'carol'" in "".join(server.lines)
    page.goto(f"{server.url}models/iris?token={server.token}")
    page.wait_for_url("**/models/iris")
    assert "writes on · carol" in page.inner_text("nav")
    # One click promotes from the table.
    page.click('tr[data-version="1.0.1"] button.promote')
    page.wait_for_selector(".notice.done")
    assert "iris:1.0.1 moved to Production." in page.inner_text(".notice.done")
    assert page.inner_text("#production") == "1.0.1"
    # The gate refuses the baseline, and says why.
    page.goto(server.url + "models/iris/versions/1.0.0")
    page.click("#stage-form button[value=Production]")
    page.wait_for_selector(".notice.error")
    assert "gate refused iris:1.0.0 -> Production: f1" in page.inner_text(".notice.error")
    shoot(page, "ui-veto")
    # Promote another, then roll back to 1.0.1.
    page.goto(server.url + "models/iris/versions/1.0.3")
    page.fill("#stage-form input[name=reason]", "forest wins")
    page.click("#stage-form button[value=Production]")
    page.wait_for_selector(".notice.done")
    shoot(page, "ui-version")
    page.goto(server.url + "models/iris")
    page.click("#rollback")
    page.wait_for_selector(".notice.done")
    assert page.inner_text("#production") == "1.0.1"
    with ModelRegistry(path) as registry:
        events = registry.audit_log("iris")
        assert {e.actor for e in events} == {"carol"}
        assert registry.get_metadata("iris:1.0.3").stage.value == "Archived"
        # A change made from Python shows up without reloading by hand.
        page.goto(server.url + "models/iris")
        page.wait_for_selector("body[data-live=on]", timeout=15000)
        registry.set_alias("iris:1.0.2", "challenger")
    page.wait_for_selector("text=@challenger", timeout=15000)


def test_browser_write_without_the_token_is_refused(server_for: Any, page: Page) -> None:
    server, path = server_for("--allow-writes")
    page.goto(server.url + "models/iris")
    assert "writes need the token" in page.inner_text("nav")
    page.click('tr[data-version="1.0.2"] button.promote')
    page.wait_for_selector("#error-message")
    assert "needs the token" in page.inner_text("#error-message")
    with ModelRegistry(path) as registry:
        assert registry.get_metadata("iris:1.0.2").stage.value == "None"


def test_browser_cross_origin_write_is_refused(server_for: Any, page: Page, tmp_path: Path) -> None:
    server, path = server_for("--allow-writes")
    # A page served from another origin posts a form, token and all, to the UI.
    attacker = tmp_path / "attack.html"
    attacker.write_text(
        f'<form method="post" action="{server.url}models/iris/versions/1.0.2/stage">'
        f'<input name="stage" value="Production"><input name="token" value="{server.token}">'
        '<button id="go">go</button></form>'
    )
    page.goto(attacker.as_uri())
    page.click("#go")
    page.wait_for_load_state()
    assert "another" in page.content()
    with ModelRegistry(path) as registry:
        assert registry.get_metadata("iris:1.0.2").stage.value == "None"
        assert registry.audit_log() == []
