"""Shared inputs of the route-test unit tests: the case folder, a small environment, a case."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nginxgen.generation.route_tests import parse_request
from nginxgen.nginx.echo import parse_echo
from nginxgen.routetest.cases import (
    Case,
    Expectation,
    ServiceRef,
)
from nginxgen.routetest.client import Observed

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


def enter_route_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of tests/cases/route-tests, made the working directory (the `route_tests` fixture)."""
    shutil.copytree(CASE, tmp_path / "case")
    monkeypatch.chdir(tmp_path / "case")
    return tmp_path / "case"


WEB = ServiceRef("shop", "web", ("web",), 3000)


def case_with(expect: Expectation) -> Case:
    return Case(
        "environments/shop.yaml", 7, 5, "tests[0]", parse_request("GET https://shop.test/x"), expect
    )


def echo_from(address: str, uri: str) -> Observed:
    received = parse_echo(f"address={address}\nport=3000\nmethod=GET\nuri={uri}\n")
    return Observed(200, {"x-nginxgen-echo": "1"}, "", None, received)
