"""generation/naming.py: the nginx names (variables, upstreams, zones) derived from
environment and service names."""

from __future__ import annotations

import pytest

from nginxgen.generation.naming import upstream_variable, variable_part


@pytest.mark.parametrize(
    ("name", "part"),
    [
        ("app", "app"),
        ("web-app", "web_app"),
        ("Web_App", "web_app"),
        ("shop-staging", "shop_staging"),
    ],
)
def test_variable_part(name: str, part: str) -> None:
    assert variable_part(name) == part


def test_upstream_variables_combine_environment_and_service() -> None:
    assert upstream_variable("shop-staging", "web-app") == "upstream_shop_staging_web_app"
