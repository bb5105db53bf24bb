"""core/markers.py: the environment a line of generated output belongs to."""

from __future__ import annotations

from generated_sample import (
    GENERATED,
    line_of,
)

from nginxgen.core.markers import EnvironmentMarker, environment_at


def test_environment_is_the_nearest_marker_before_the_line() -> None:
    production_line = line_of(GENERATED, "server_name daatan.com")
    staging_line = line_of(GENERATED, "server_name staging.daatan.com")
    assert environment_at(GENERATED, production_line) == EnvironmentMarker(
        "production", "production.yaml"
    )
    assert environment_at(GENERATED, staging_line) == EnvironmentMarker("staging", "staging.yaml")


def test_marker_line_itself_belongs_to_its_environment() -> None:
    marker_line = line_of(GENERATED, "# environment: staging")
    assert environment_at(GENERATED, marker_line) == EnvironmentMarker("staging", "staging.yaml")
    assert environment_at(GENERATED, marker_line - 1) == EnvironmentMarker(
        "production", "production.yaml"
    )


def test_lines_before_any_marker_belong_to_no_environment() -> None:
    assert environment_at(GENERATED, line_of(GENERATED, "map $http_upgrade")) is None
    assert environment_at("server {}\n", 1) is None
