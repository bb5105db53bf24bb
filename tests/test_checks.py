"""lint/checks.py: the rule functions. Each rule fires, and stays quiet, on the corpus in
tests/cases/lint/ (test_lint.py); here: the time syntax the keepalive check reads."""

from __future__ import annotations

import pytest

from nginxgen.lint.checks import nginx_seconds


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("75", 75),
        ("75s", 75),
        ("500ms", 0.5),
        ("15m", 900),
        ("1h30m", 5400),
        ("1d", 86400),
        ("1w", 604800),
        ("1M", 2592000),
        ("1y", 31536000),
    ],
)
def test_nginx_time_syntax_in_seconds(value: str, seconds: float) -> None:
    assert nginx_seconds(value) == seconds


@pytest.mark.parametrize("value", ["", "s", "1x", "1.5s", "-1", "1h 30m", "10sx"])
def test_malformed_times_are_none(value: str) -> None:
    assert nginx_seconds(value) is None
