"""`nginxgen test` end to end without Docker: the `tests:` key located in its file, the exit code
before Docker, the stack's files. Each routetest module has its own test_<module>.py; real
requests: test_route_test_nginx.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from routetest_fixtures import BASE, enter_route_case, environment_with
from typer.testing import CliRunner

from nginxgen.cli import app
from nginxgen.core.errors import ConfigError
from nginxgen.generation.loader import load_environments, validate
from nginxgen.generation.models import Environment, Settings
from nginxgen.generation.pipeline import generate
from nginxgen.routetest.cases import (
    all_cases,
)
from nginxgen.routetest.client import static_marker
from nginxgen.routetest.stack import stack_files

CASE = Path(__file__).resolve().parent / "cases" / "route-tests"


# --- the tests: key ------------------------------------------------------------------------


@pytest.fixture
def route_tests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return enter_route_case(tmp_path, monkeypatch)


def test_tests_errors_are_located_like_every_other_key() -> None:
    text = environment_with(
        '  - {request: "GET https://shop.test/"}\n'
        '  - {request: "FETCH https://shop.test/", status: 200}\n'
        '  - {request: "GET https://shop.test/", status: 700, auth: nopassword}\n'
        '  - {request: "GET https://shop.test/", refused: true, status: 200}\n'
    )
    with pytest.raises(ConfigError) as raised:
        validate(Environment, text, "shop.yaml")
    assert [str(problem) for problem in raised.value.problems] == [
        "shop.yaml:7:5: tests[0]: say what must happen: service, static, path, "
        "received_headers, status, location, headers_include or refused",
        "shop.yaml:8:15: tests[1].request: 'FETCH https://shop.test/' is not a request such as "
        "'GET https://daatan.com/api/v1/users?x=1' (a method of GET, HEAD, POST, PUT, PATCH, "
        "DELETE, OPTIONS, one space, an http or https URL)",
        "shop.yaml:9:49: tests[2].status: must be ≤ 599",
        "shop.yaml:9:60: tests[2].auth: give credentials as user:password (user of letters, "
        "digits and '._@-')",
        "shop.yaml:10:5: tests[3]: a refused request has nothing else to expect",
    ]


def test_a_test_naming_an_unknown_service_is_a_located_error(tmp_path: Path) -> None:
    (tmp_path / "shop.yaml").write_text(
        environment_with('  - {request: "GET https://shop.test/", service: api}\n')
    )
    environments = load_environments(tmp_path)
    with pytest.raises(ConfigError) as raised:
        all_cases(environments, True, True)
    (problem,) = raised.value.problems
    assert str(problem).endswith(
        "shop.yaml:7:50: tests[0].service: 'api' is not a service of this environment "
        "(services: web)"
    )


def test_nginxgen_test_exits_2_on_bad_input_before_docker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "shop.yaml").write_text(
        environment_with('  - {request: "GET https://shop.test/", service: api}\n')
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent.sock")
    result = CliRunner().invoke(app, ["test"])
    assert result.exit_code == 2
    assert "environments/shop.yaml:7:50: tests[0].service: 'api' is not a service" in (
        result.stderr
    )


def test_tests_do_not_change_the_output(tmp_path: Path) -> None:
    (tmp_path / "with").mkdir()
    (tmp_path / "without").mkdir()
    (tmp_path / "with" / "shop.yaml").write_text(
        environment_with('  - {request: "GET https://shop.test/", service: web}\n')
    )
    (tmp_path / "without" / "shop.yaml").write_text(BASE)
    settings = Settings()
    assert (
        generate(tmp_path / "with", settings).text == generate(tmp_path / "without", settings).text
    )


# --- cases ---------------------------------------------------------------------------------


def test_stack_files_give_the_tests_users_and_mark_static_roots(route_tests: Path) -> None:
    generated = generate(Path("environments"), Settings(nginx_version="1.26"))
    files = stack_files(generated, Settings())
    assert files["/etc/nginx/htpasswd/shop"] == (b"staff:{PLAIN}s3cret\nstaff:{PLAIN}wrong\n")
    assert files["/etc/nginx/htpasswd/admin"] == b"root:{PLAIN}hunter2\n"
    assert files["/srv/shop/assets/index.html"] == static_marker("/srv/shop")
    assert files["/etc/nginx/conf.d/nginx-ssl.conf"] == generated.text.encode()
    assert "/etc/letsencrypt/live/shop.route.test/privkey.pem" in files


# --- nginx's routing rules -----------------------------------------------------------------


# --- the echo backend ----------------------------------------------------------------------


# --- comparing and reporting ---------------------------------------------------------------
