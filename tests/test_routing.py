"""routetest/routing.py: which route and environment nginx picks for a request."""

from __future__ import annotations

from pathlib import Path

import pytest
from routetest_fixtures import BASE, enter_route_case

from nginxgen.generation.loader import load_environments
from nginxgen.generation.route_tests import parse_request
from nginxgen.routetest.routing import destination, route_for


@pytest.fixture
def route_tests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return enter_route_case(tmp_path, monkeypatch)


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
