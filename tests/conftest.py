"""Shared pytest options and fixtures."""

from __future__ import annotations

import pytest

# Real-nginx fixtures (Docker, test images, containers); `tests/` is on sys.path.
pytest_plugins = ["nginx_fixtures"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        default=False,
        help="rewrite the expected output files of the golden tests instead of comparing",
    )


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))
