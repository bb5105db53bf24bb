"""core/versions.py: nginx's version parsed once, compared, and read from its version line."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nginxgen.core.versions import (
    DEFAULT_TARGET,
    UPSTREAM_RESOLVE,
    at_least,
    parse_version,
    reported_version,
)

parts = st.integers(min_value=0, max_value=10_000)


def test_short_forms_and_builds_parse_to_three_numbers() -> None:
    assert parse_version("1.26") == (1, 26, 0)
    assert parse_version("1") == (1, 0, 0)
    assert parse_version("nginx/1.27.3") == (1, 27, 3)
    assert parse_version(" 1.22.1 ") == (1, 22, 1)


@pytest.mark.parametrize("text", ["", "1.", "1.2.3.4", "v1.26", "1.26\n1", "1.x", "nginx/"])
def test_anything_else_is_refused_naming_the_text(text: str) -> None:
    with pytest.raises(ValueError, match="is not an nginx version"):
        parse_version(text)


@given(parts, parts, parts)
def test_a_version_parses_back_to_its_parts(major: int, minor: int, patch: int) -> None:
    assert parse_version(f"{major}.{minor}.{patch}") == (major, minor, patch)
    assert parse_version(f"nginx/{major}.{minor}") == (major, minor, 0)


@given(st.tuples(parts, parts, parts), st.tuples(parts, parts, parts))
def test_at_least_orders_versions_as_numbers_not_text(
    version: tuple[int, int, int], minimum: tuple[int, int, int]
) -> None:
    text = ".".join(map(str, version))
    assert at_least(text, ".".join(map(str, minimum))) == (version >= minimum)
    assert at_least(version, ".".join(map(str, minimum))) == (version >= minimum)


def test_the_default_target_predates_upstream_resolve() -> None:
    assert at_least("1.27.10", UPSTREAM_RESOLVE)
    assert not at_least("1.27.2", UPSTREAM_RESOLVE)
    assert not at_least(DEFAULT_TARGET, UPSTREAM_RESOLVE)


def test_the_version_line_is_found_anywhere_in_the_output() -> None:
    output = "nginx: [warn] x\nnginx version: nginx/1.26.3 (Ubuntu)\nbuilt with OpenSSL\n"
    assert reported_version(output) == ("nginx/1.26.3", "1.26.3")
    assert reported_version("nginx version: openresty/1.25.3.1\n") == (
        "openresty/1.25.3",
        "1.25.3",
    )
    assert reported_version("nginx: configuration file test is successful\n") is None
    assert reported_version("see nginx version: nginx/1.26.3") is None
