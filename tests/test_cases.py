"""routetest/cases.py: the cases of `nginxgen test`, explicit and implicit, and what they expect."""

from __future__ import annotations

from pathlib import Path

import pytest
from routetest_fixtures import enter_route_case

from nginxgen.generation.loader import load_environments
from nginxgen.routetest.cases import (
    all_cases,
    size_in_bytes,
    with_hosts_down,
)


@pytest.fixture
def route_tests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return enter_route_case(tmp_path, monkeypatch)


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


def test_sizes_are_read_as_nginx_reads_them() -> None:
    assert [size_in_bytes(size) for size in ("0", "512", "2k", "20m", "1G")] == [
        0,
        512,
        2048,
        20 * 1024 * 1024,
        1 << 30,
    ]
