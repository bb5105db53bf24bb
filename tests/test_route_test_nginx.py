"""`nginxgen test` and `nginxgen explain` against a real nginx: the case `tests/cases/route-tests/`
(three environments, every kind of route) and variants of it that must fail.

The command starts and removes its own containers and networks (the Docker SDK, not
testcontainers: it is the product under test); each test checks nothing is left behind.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nginx_fixtures import require_image
from typer.testing import CliRunner, Result

from nginxgen.cli import app
from nginxgen.nginx.sandbox import labelled
from nginxgen.routetest.stack import TestStack

pytestmark = pytest.mark.nginx

CASE = Path(__file__).resolve().parent / "cases" / "route-tests"
IMAGE = "nginxgen-test/nginx:trixie"
NEWER_IMAGE = "nginxgen-test/nginx:sid"


def run(*arguments: str) -> Result:
    return CliRunner().invoke(app, [*arguments[:1], "--image", IMAGE, *arguments[1:]])


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, docker_client: Any) -> Iterator[Path]:
    """A copy of the route-tests case as the working directory; after the test, nothing is
    left of the stacks it started."""
    require_image(docker_client, IMAGE)
    shutil.copytree(CASE, tmp_path / "project")
    monkeypatch.chdir(tmp_path / "project")
    runs: list[str] = []
    enter = TestStack.__enter__

    def recording_enter(stack: TestStack) -> TestStack:
        runs.append(stack.sandbox.run_id)
        return enter(stack)

    monkeypatch.setattr(TestStack, "__enter__", recording_enter)
    yield tmp_path / "project"
    assert runs
    # Other runs may be going on: only what carries these runs' labels counts.
    assert [item for run in runs for item in labelled(docker_client, run)] == []


def results(document: dict[str, Any], phase: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The results of one phase by (file, test label)."""
    (found,) = [item for item in document["phases"] if item["name"] == phase]
    return {(result["file"], result["test"]): result for result in found["results"]}


def test_the_case_passes_every_test_and_implicit_check(project: Path) -> None:
    result = run("test")
    assert result.exit_code == 0, result.stdout + result.stderr
    rows = result.stdout.splitlines()
    assert all(row.startswith("PASS  ") for row in rows[:-1]), result.stdout
    assert "environments/shop.yaml:45:5  tests[14]  GET https://elsewhere.route.test/" in (
        result.stdout
    )
    assert "routes[6] /assets/ reaches its static root (implicit)" in result.stdout
    assert "unknown names refused on HTTPS (default_server) (implicit)" in result.stdout
    assert rows[-1].startswith("34 passed, 0 failed (nginx/1.26")
    assert result.stderr.startswith("timing: networks and containers ")


def test_what_the_services_received(project: Path) -> None:
    result = run("test", "--format", "json")
    assert result.exit_code == 0, result.stdout
    document = json.loads(result.stdout)
    assert document["passed"] is True
    shop = "environments/shop.yaml"
    by_test = results(document, "every service up")
    # strip_prefix: the service sees /v1/users, not /api/v1/users.
    api = by_test[(shop, "tests[0]")]
    assert api["answered_by"] == "shop-api:8080"
    assert api["received"]["uri"] == "/v1/users?x=1"
    assert api["received"]["headers"]["x-trace"] == "abc"
    # Overlapping regexes in file order: v2 reaches api, everything else under /versions/ web.
    assert by_test[(shop, "tests[1]")]["answered_by"] == "shop-api:8080"
    assert by_test[(shop, "tests[2]")]["answered_by"] == "shop-web:3000"
    # Websocket upgrade headers reach the service.
    headers = by_test[(shop, "tests[3]")]["received"]["headers"]
    assert (headers["upgrade"], headers["connection"]) == ("websocket", "upgrade")
    # Body limit: 2k refused by nginx, 512 bytes reach the service.
    assert by_test[(shop, "tests[4]")]["status"] == 413
    assert by_test[(shop, "tests[4]")]["received"] is None
    assert by_test[(shop, "tests[5]")]["received"]["headers"]["content-length"] == "512"
    # Basic auth: refused without or with wrong credentials, through with the right ones.
    assert [by_test[(shop, f"tests[{index}]")]["status"] for index in (7, 8, 9)] == [401, 200, 401]
    # Allow-lists: 127.0.0.1 only (the request comes through Docker's network) vs everyone.
    assert by_test[(shop, "tests[10]")]["status"] == 403
    assert by_test[(shop, "tests[11]")]["answered_by"] == "shop-web:3000"
    assert by_test[("environments/admin.yaml", "tests[1]")]["received"]["uri"] == "/users"


def test_a_wrong_expectation_fails_with_the_difference_and_its_place(project: Path) -> None:
    with (project / "environments" / "shop.yaml").open("a", encoding="utf-8") as file:
        file.write(
            '  - {request: "GET https://shop.route.test/api/x", service: web, path: /api/x}\n'
        )
    result = run("test")
    assert result.exit_code == 1, result.stdout
    assert (
        "FAIL  environments/shop.yaml:46:5  tests[15]  GET https://shop.route.test/api/x"
        " -> shop-api:8080\n"
        "      service: expected web (shop-web:3000), got shop-api:8080\n"
        "      path: expected /api/x, got /x\n"
    ) in result.stdout
    assert result.stdout.splitlines()[-1].startswith("34 passed, 1 failed")


def test_github_format_annotates_the_failing_test(project: Path) -> None:
    with (project / "environments" / "blog.yaml").open("a", encoding="utf-8") as file:
        file.write('  - {request: "GET http://blog.route.test/", status: 404}\n')
    result = run("test", "--format", "github")
    assert result.exit_code == 1
    (annotation,) = [line for line in result.stdout.splitlines() if line.startswith("::")]
    assert annotation.startswith(
        "::error file=environments/blog.yaml,line=12,col=5,title=nginxgen test%3A tests[1]::"
    )
    assert "status: expected 404, got 200 from blog:2368" in annotation


def test_regex_routes_answer_in_file_order(project: Path) -> None:
    """With the broader regex first, /versions/v2/ no longer reaches api, and the test says so."""
    shop = project / "environments" / "shop.yaml"
    text = shop.read_text(encoding="utf-8")
    v2 = "  - {path: '^/versions/v2/', match: regex, service: api}\n"
    broad = "  - {path: '^/versions/', match: regex, service: web}\n"
    assert v2 + broad in text
    shop.write_text(text.replace(v2 + broad, broad + v2), encoding="utf-8")
    result = run("test")
    assert result.exit_code == 1
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert failed == [
        "FAIL  environments/shop.yaml:29:5  tests[1]  GET https://shop.route.test/versions/v2/x"
        " -> shop-web:3000"
    ]


def test_chaos_every_service_down_then_each_in_turn(project: Path) -> None:
    result = run("test", "--chaos", "--format", "json")
    assert result.exit_code == 0, result.stdout
    document = json.loads(result.stdout)
    assert [phase["name"] for phase in document["phases"]] == [
        "every service down",
        "admin-app down",
        "blog down",
        "shop-web down",
        "shop-api down",
        "every service up",
    ]
    down = results(document, "every service down")
    shop, blog = "environments/shop.yaml", "environments/blog.yaml"
    assert down[(shop, "routes[0] / answers its unavailable page")]["status"] == 502
    assert down[(blog, "routes[0] / answers its unavailable page")]["status"] == 502
    # Static files need no service; the admin route asks for credentials before proxying.
    assert down[(shop, "routes[6] /assets/ reaches its static root")]["status"] == 200
    admin = down[("environments/admin.yaml", "routes[0] / answers its unavailable page")]
    assert admin["status"] == 401
    web_down = results(document, "shop-web down")
    assert web_down[(shop, "routes[0] / answers its unavailable page")]["status"] == 502
    assert web_down[(shop, "routes[1] /api/ reaches its service")]["answered_by"] == (
        "shop-api:8080"
    )
    assert web_down[(blog, "routes[0] / reaches its service")]["answered_by"] == "blog:2368"


def test_explain_names_environment_route_and_service(project: Path) -> None:
    result = run("explain", "GET https://shop.route.test/api/v2/x?y=1")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[:4] == [
        "request:      GET https://shop.route.test/api/v2/x?y=1",
        "environment:  shop (environments/shop.yaml)",
        "route:        routes[1] prefix /api/ -> service api (environments/shop.yaml:9:5)",
        "answer:       200 from shop-api:8080 = shop.api",
    ]
    assert "service saw:  GET /v2/x?y=1" in result.stdout


def test_chaos_with_upstream_resolve_on_a_newer_nginx(project: Path, docker_client: Any) -> None:
    """nginx >= 1.27.3 keeps resolved upstream addresses in shared memory: each phase must
    start nginx afresh, or a service taken down would still be tried at its old address."""
    require_image(docker_client, NEWER_IMAGE)
    settings = project / "nginxgen.yaml"
    settings.write_text(
        settings.read_text(encoding="utf-8").replace('"1.26"', '"1.28"'), encoding="utf-8"
    )
    result = CliRunner().invoke(
        app, ["test", "--chaos", "--image", NEWER_IMAGE, "--format", "json"]
    )
    assert result.exit_code == 0, result.stdout
    document = json.loads(result.stdout)
    assert document["nginx_version"].startswith("nginx/1.3")
    web_down = results(document, "shop-web down")
    shop = "environments/shop.yaml"
    assert web_down[(shop, "routes[0] / answers its unavailable page")]["status"] == 502
    assert web_down[(shop, "routes[1] /api/ reaches its service")]["answered_by"] == (
        "shop-api:8080"
    )
