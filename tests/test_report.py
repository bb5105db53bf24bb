"""routetest/report.py: the text table and GitHub annotations of a run."""

from __future__ import annotations

from routetest_fixtures import case_with

from nginxgen.routetest.cases import (
    Expectation,
)
from nginxgen.routetest.client import Observed
from nginxgen.routetest.compare import compare
from nginxgen.routetest.report import Phase, Run, format_github, format_text


def test_the_text_table_and_github_annotations_say_where() -> None:
    failed = compare(case_with(Expectation(status=404)), Observed(status=200), {})
    passed = compare(case_with(Expectation(status=200)), Observed(status=200), {})
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
