"""The pure parts of `nginxgen test`: the `tests:` key, the cases, nginx's routing rules, the
echo backend's protocol, comparing, the formats. Real requests: test_route_test_nginx.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nginxgen.cli import app
from nginxgen.core.errors import ConfigError
from nginxgen.generation.loader import load_environments, validate
from nginxgen.generation.models import Environment, Settings
from nginxgen.generation.pipeline import generate
from nginxgen.generation.route_tests import parse_request
from nginxgen.nginx.echo import echo_config, parse_echo
from nginxgen.routetest.cases import (
    Case,
    Expectation,
    ServiceRef,
    all_cases,
    size_in_bytes,
    with_hosts_down,
)
from nginxgen.routetest.client import Observed, static_marker
from nginxgen.routetest.compare import compare
from nginxgen.routetest.report import Phase, Run, format_github, format_text
from nginxgen.routetest.routing import destination, route_for
from nginxgen.routetest.stack import stack_files

CASE = Path(__file__).resolve().parent / "cases" / "route-tests"
BASE = """\
domains: [shop.test]
services:
  web: {host: web, port: 3000}
routes:
  - {path: /, service: web}
"""


def environment_with(tests: str) -> str:
    return BASE + "tests:\n" + tests


# --- the tests: key ------------------------------------------------------------------------


def test_a_request_line_is_taken_apart() -> None:
    line = parse_request("POST https://Shop.test/api/v1?x=1&y=%20")
    assert (line.method, line.scheme, line.host, line.port, line.target) == (
        "POST",
        "https",
        "shop.test",
        443,
        "/api/v1?x=1&y=%20",
    )
    assert str(parse_request("GET http://shop.test")) == "GET http://shop.test/"


@pytest.mark.parametrize(
    "request_line",
    [
        "GET https://shop.test/ x",
        "GET https://shop.test/\n",
        "get https://shop.test/",
        "GET ftp://shop.test/",
        "GET https://shop.test:8443/",
        "GET https://*.shop.test/",
        "GET https://shop.test/a;b{c}\x00",
        "GET  https://shop.test/",
    ],
)
def test_a_bad_request_line_is_refused(request_line: str) -> None:
    with pytest.raises(ValueError):
        parse_request(request_line)


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


@pytest.fixture
def route_tests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(CASE, tmp_path / "case")
    monkeypatch.chdir(tmp_path / "case")
    return tmp_path / "case"


def test_cases_are_the_files_tests_then_the_implicit_ones(route_tests: Path) -> None:
    environments = load_environments(Path("environments"))
    cases = all_cases(environments, True, True)
    labels = [(case.file, case.label) for case in cases]
    assert labels[:3] == [
        ("environments/admin.yaml", "tests[0]"),
        ("environments/admin.yaml", "tests[1]"),
        ("environments/blog.yaml", "tests[0]"),
    ]
    implicit = [f"{case.file}:{case.line} {case.label}" for case in cases if case.implicit]
    assert "environments/shop.yaml:9 routes[1] /api/ reaches its service" in implicit
    assert "environments/shop.yaml:15 routes[6] /assets/ reaches its static root" in implicit
    assert (
        "environments/shop.yaml:17 routes[7] /private/ reaches its service or its access "
        "rules refuse" in implicit
    )
    # Regex routes have no path of their own; HTTP-only environments no HSTS.
    assert not any("versions" in label for label in implicit)
    assert sum("HSTS" in label for label in implicit) == 4
    assert not any("blog" in label and "HSTS" in label for label in implicit)
    assert implicit[-2:] == [
        "nginxgen.yaml:1 unknown names refused on HTTP (default_server)",
        "nginxgen.yaml:1 unknown names refused on HTTPS (default_server)",
    ]
    strip = next(case for case in cases if case.label.startswith("routes[1] /api/"))
    assert strip.expect.path == "/"
    hsts_error = next(case for case in cases if "error answer" in case.label)
    assert (hsts_error.request.method, hsts_error.body_size) == ("POST", 1024 * 1024 + 1)


def test_with_a_service_down_its_routes_expect_the_unavailable_page(route_tests: Path) -> None:
    environments = load_environments(Path("environments"))
    cases = all_cases(environments, False, False)
    down = {case.label: case for case in with_hosts_down(cases, frozenset({"shop-web"}))}
    page = down["routes[0] / answers its unavailable page"].expect
    assert page.status == 502
    assert dict(page.headers_include) == {
        "Content-Type": "text/html",
        "Strict-Transport-Security": "max-age=31536000",
    }
    assert down["routes[1] /api/ reaches its service"].expect.service is not None
    assert "routes[6] /assets/ reaches its static root" in down
    assert not any(case.kind != "route" for case in down.values())
    admin = with_hosts_down(cases, frozenset({"admin-app"}))
    (admin_page,) = [case for case in admin if case.file.endswith("admin.yaml")]
    assert admin_page.expect.status == 503
    assert admin_page.expect.accepted_statuses == (401, 403)
    assert dict(admin_page.expect.headers_include)["Content-Type"] == "application/json"


def test_stack_files_give_the_tests_users_and_mark_static_roots(route_tests: Path) -> None:
    generated = generate(Path("environments"), Settings(nginx_version="1.26"))
    files = stack_files(generated, Settings())
    assert files["/etc/nginx/htpasswd/shop"] == (b"staff:{PLAIN}s3cret\nstaff:{PLAIN}wrong\n")
    assert files["/etc/nginx/htpasswd/admin"] == b"root:{PLAIN}hunter2\n"
    assert files["/srv/shop/assets/index.html"] == static_marker("/srv/shop")
    assert files["/etc/nginx/conf.d/nginx-ssl.conf"] == generated.text.encode()
    assert "/etc/letsencrypt/live/shop.route.test/privkey.pem" in files


def test_sizes_are_read_as_nginx_reads_them() -> None:
    assert [size_in_bytes(size) for size in ("0", "512", "2k", "20m", "1G")] == [
        0,
        512,
        2048,
        20 * 1024 * 1024,
        1 << 30,
    ]


# --- nginx's routing rules -----------------------------------------------------------------


def test_routes_are_picked_as_nginx_picks_locations(route_tests: Path) -> None:
    (_, _, shop) = load_environments(Path("environments"))
    model = shop.model
    paths: dict[int | None, str] = {index: route.path for index, route in enumerate(model.routes)}
    assert paths[route_for(model, "/versions/v2/x")] == "^/versions/v2/"
    assert paths[route_for(model, "/versions/v1/x")] == "^/versions/"
    assert paths[route_for(model, "/api/v1?x=/versions/")] == "/api/"
    assert paths[route_for(model, "/apix")] == "/"
    assert paths[route_for(model, "/%61pi/x")] == "/api/"


def test_an_exact_route_wins_over_a_regex(tmp_path: Path) -> None:
    (tmp_path / "shop.yaml").write_text(
        BASE
        + "  - {path: /health, match: exact, service: web}\n"
        + "  - {path: 'h', match: regex, service: web}\n"
    )
    (shop,) = load_environments(tmp_path)
    assert route_for(shop.model, "/health") == 1
    assert route_for(shop.model, "/healthz") == 2


def test_a_destination_is_an_environment_and_a_route_or_a_redirect(route_tests: Path) -> None:
    environments = load_environments(Path("environments"))
    found = destination(environments, parse_request("GET https://shop.route.test/api/x"))
    assert found is not None and found.route is not None
    assert (found.environment.name, found.route.path) == ("shop", "/api/")
    www = destination(environments, parse_request("GET https://www.shop.route.test/"))
    http = destination(environments, parse_request("GET http://admin.route.test/"))
    plain = destination(environments, parse_request("GET http://blog.route.test/"))
    assert www is not None and www.kind == "redirect"
    assert http is not None and http.kind == "redirect"
    assert plain is not None and plain.kind == "route"
    assert destination(environments, parse_request("GET https://nobody.test/")) is None


# --- the echo backend ----------------------------------------------------------------------


def test_the_echo_config_reports_the_asked_headers_on_every_port() -> None:
    config = echo_config([3000, 8080, 3000], ["X-Trace"])
    assert config.count("listen 3000 default_server;") == 1
    assert "listen 8080 default_server;" in config
    assert "header.x-trace=$http_x_trace\\n" in config
    assert "header.upgrade=$http_upgrade\\n" in config
    assert "client_max_body_size 0;" in config


def test_the_echo_answer_is_read_back() -> None:
    received = parse_echo(
        "address=172.20.0.3\nport=3000\nmethod=GET\nuri=/a?b=c=d\n"
        "header.host=shop.test\nheader.upgrade=\nheader.x-trace=a=b\n"
    )
    assert (received.address, received.port, received.method, received.uri) == (
        "172.20.0.3",
        3000,
        "GET",
        "/a?b=c=d",
    )
    assert received.headers == {"host": "shop.test", "x-trace": "a=b"}


# --- comparing and reporting ---------------------------------------------------------------

WEB = ServiceRef("shop", "web", ("web",), 3000)


def _case(expect: Expectation) -> Case:
    return Case(
        "environments/shop.yaml", 7, 5, "tests[0]", parse_request("GET https://shop.test/x"), expect
    )


def _echo(address: str, uri: str) -> Observed:
    received = parse_echo(f"address={address}\nport=3000\nmethod=GET\nuri={uri}\n")
    return Observed(200, {"x-nginxgen-echo": "1"}, "", None, received)


def test_a_matching_answer_passes() -> None:
    outcome = compare(
        _case(Expectation(service=WEB, path="/x", status=200)),
        _echo("10.0.0.2", "/x"),
        {"10.0.0.2": "web"},
    )
    assert outcome.passed and outcome.answered_by == "web:3000"


def test_each_difference_is_named_with_expected_and_got() -> None:
    outcome = compare(
        _case(
            Expectation(
                service=WEB,
                path="/x",
                received_headers=(("Upgrade", "websocket"),),
                headers_include=(("Strict-Transport-Security", "max-age=1"),),
            )
        ),
        _echo("10.0.0.3", "/api/x"),
        {"10.0.0.2": "web", "10.0.0.3": "api"},
    )
    assert [(d.field, d.expected, d.got) for d in outcome.differences] == [
        ("service", "web (web:3000)", "api:3000"),
        ("path", "/x", "/api/x"),
        ("received_headers.Upgrade", "websocket", "(absent)"),
        ("headers_include.Strict-Transport-Security", "max-age=1", "(absent)"),
    ]


def test_refusals_errors_and_accepted_statuses() -> None:
    refused = Observed(refused="TLS handshake rejected")
    assert compare(_case(Expectation(refused=True)), refused, {}).passed
    assert not compare(_case(Expectation(status=200)), refused, {}).passed
    answered = compare(_case(Expectation(refused=True)), Observed(status=200), {})
    assert [(d.field, d.got) for d in answered.differences] == [("refused", "200 from nginx (200)")]
    timed_out = Observed(error="no answer: TimeoutError")
    assert not compare(_case(Expectation(refused=True)), timed_out, {}).passed
    behind_auth = _case(Expectation(service=WEB, accepted_statuses=(401, 403)))
    assert compare(behind_auth, Observed(status=401), {}).passed
    assert not compare(behind_auth, Observed(status=404), {}).passed


def test_the_text_table_and_github_annotations_say_where() -> None:
    failed = compare(_case(Expectation(status=404)), Observed(status=200), {})
    passed = compare(_case(Expectation(status=200)), Observed(status=200), {})
    run = Run("nginx/1.26.3", "img", (Phase("every service up", (passed, failed)),))
    assert format_text(run) == (
        "PASS  environments/shop.yaml:7:5  tests[0]  GET https://shop.test/x -> nginx (200)\n"
        "FAIL  environments/shop.yaml:7:5  tests[0]  GET https://shop.test/x -> nginx (200)\n"
        "      status: expected 404, got 200 from nginx (200)\n"
        "1 passed, 1 failed (nginx/1.26.3, Docker image img)\n"
    )
    assert format_github(run).splitlines()[0] == (
        "::error file=environments/shop.yaml,line=7,col=5,title=nginxgen test%3A tests[0]::"
        "every service up: GET https://shop.test/x%0Astatus: expected 404, got 200 from nginx (200)"
    )
