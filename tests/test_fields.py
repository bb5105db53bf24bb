"""generation/fields.py: the checks every model field is built from (the fields inside whole
environments: test_models.py; hostile values: test_properties.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nginxgen.generation.fields import (
    MAX_NAME_LENGTH,
    MAX_PARAMETER_BYTES,
    MAX_URL_PATH_BYTES,
    check_domain,
    check_regex,
    check_text,
    check_url_path,
    environment_name_problem,
    invisible_character,
    off,
    toggle,
)


def test_the_first_invisible_character_is_found_and_the_plain_space_allowed() -> None:
    assert invisible_character("a b") is None
    assert invisible_character("a\u200bb\tc") == "\u200b"
    assert invisible_character("x\u00a0") == "\u00a0"
    assert invisible_character("line\u2028break") == "\u2028"


def test_check_text_names_the_character_and_limits_the_length() -> None:
    assert check_text("plain text") == "plain text"
    with pytest.raises(ValueError, match=r"U\+200B \(ZERO WIDTH SPACE\)"):
        check_text("a\u200bb")
    check_text("x" * MAX_PARAMETER_BYTES)
    with pytest.raises(ValueError, match=f"longer than {MAX_PARAMETER_BYTES} bytes"):
        check_text("é" * (MAX_PARAMETER_BYTES // 2 + 1))


@given(st.text())
def test_text_passes_exactly_when_nothing_invisible_and_short(value: str) -> None:
    fits = len(value.encode("utf-8", "surrogatepass")) <= MAX_PARAMETER_BYTES
    if invisible_character(value) is None and fits:
        assert check_text(value) == value
    else:
        with pytest.raises(ValueError):
            check_text(value)


@pytest.mark.parametrize("domain", ["a.test", "*.shop.test", "x-1.y", "localhost"])
def test_domains_that_nginx_can_serve(domain: str) -> None:
    assert check_domain(domain) == domain


@pytest.mark.parametrize(
    "domain", ["", "-a.test", "a-.test", "a..test", "a.*.test", "A.test", "a.test\n", "a" * 64]
)
def test_domains_that_it_cannot(domain: str) -> None:
    with pytest.raises(ValueError, match="is not a valid domain name"):
        check_domain(domain)


def test_url_paths_start_with_a_slash_and_hold_no_nginx_syntax() -> None:
    assert check_url_path("/api/v1/") == "/api/v1/"
    for bad in ("api", "/a b", "/a;b", "/a{", "/$x", "/a#b", "/a'b", "/a\\b"):
        with pytest.raises(ValueError):
            check_url_path(bad)
    with pytest.raises(ValueError, match=f"longer than {MAX_URL_PATH_BYTES} bytes"):
        check_url_path("/" + "a" * MAX_URL_PATH_BYTES)


def test_a_regex_must_compile_and_carry_no_quote() -> None:
    assert check_regex(r"^/v[0-9]+/") == r"^/v[0-9]+/"
    for bad in ("", '^/"x', "^/a\\", "^/a\n"):
        with pytest.raises(ValueError, match="is not a usable location regex"):
            check_regex(bad)
    with pytest.raises(ValueError, match="is not a valid regular expression"):
        check_regex("^/(unclosed")


def test_environment_names_say_what_is_wrong_and_where_from() -> None:
    assert environment_name_problem("shop-staging_2") is None
    problem = environment_name_problem("../x", " (the file name)")
    assert problem is not None and problem.startswith("environment name '../x' (the file name)")
    long = environment_name_problem("a" * (MAX_NAME_LENGTH + 1))
    assert long is not None and f"longer than {MAX_NAME_LENGTH} characters" in long
    assert environment_name_problem("a" * MAX_NAME_LENGTH) is None


def test_section_shorthands() -> None:
    assert toggle(True) == {} and toggle(None) == {}
    assert toggle(False) == {"enabled": False}
    assert toggle({"port": 1}) == {"port": 1}
    assert off(False) is None and off("x") == "x" and off(0) == 0
