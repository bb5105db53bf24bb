"""routetest/compare.py: an observed answer against a case's expectation."""

from __future__ import annotations

from routetest_fixtures import WEB, case_with, echo_from

from nginxgen.routetest.cases import (
    Expectation,
)
from nginxgen.routetest.client import Observed
from nginxgen.routetest.compare import compare


def test_a_matching_answer_passes() -> None:
    outcome = compare(
        case_with(Expectation(service=WEB, path="/x", status=200)),
        echo_from("10.0.0.2", "/x"),
        {"10.0.0.2": "web"},
    )
    assert outcome.passed and outcome.answered_by == "web:3000"


def test_each_difference_is_named_with_expected_and_got() -> None:
    outcome = compare(
        case_with(
            Expectation(
                service=WEB,
                path="/x",
                received_headers=(("Upgrade", "websocket"),),
                headers_include=(("Strict-Transport-Security", "max-age=1"),),
            )
        ),
        echo_from("10.0.0.3", "/api/x"),
        {"10.0.0.2": "web", "10.0.0.3": "api"},
    )
    assert [(d.field, d.expected, d.got) for d in outcome.differences] == [
        ("service", "web (web:3000)", "api:3000"),
        ("path", "/x", "/api/x"),
        ("received_headers.Upgrade", "websocket", "(absent)"),
        ("headers_include.Strict-Transport-Security", "max-age=1", "(absent)"),
    ]


def test_refusals_errors_and_accepted_statuses() -> None:
    refused = Observed(refused="TLS handshake rejected")
    assert compare(case_with(Expectation(refused=True)), refused, {}).passed
    assert not compare(case_with(Expectation(status=200)), refused, {}).passed
    answered = compare(case_with(Expectation(refused=True)), Observed(status=200), {})
    assert [(d.field, d.got) for d in answered.differences] == [("refused", "200 from nginx (200)")]
    timed_out = Observed(error="no answer: TimeoutError")
    assert not compare(case_with(Expectation(refused=True)), timed_out, {}).passed
    behind_auth = case_with(Expectation(service=WEB, accepted_statuses=(401, 403)))
    assert compare(behind_auth, Observed(status=401), {}).passed
    assert not compare(behind_auth, Observed(status=404), {}).passed
