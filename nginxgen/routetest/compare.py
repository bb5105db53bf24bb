"""What came back against what was expected: a list of differences, empty when it passed."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from nginxgen.routetest.cases import Case, Expectation
from nginxgen.routetest.client import Observed


@dataclass(frozen=True)
class Difference:
    field: str
    expected: str
    got: str


@dataclass(frozen=True)
class Outcome:
    case: Case
    observed: Observed
    # The received request's host and port named as a service host (from the stack's addresses).
    answered_by: str
    differences: tuple[Difference, ...]

    @property
    def passed(self) -> bool:
        return not self.differences


def answered_by(observed: Observed, hosts_by_address: Mapping[str, str]) -> str:
    """Who answered, in words: `app:3000`, `static root /srv/www`, `nginx (502)`, `refused`."""
    if observed.error:
        return observed.error
    if observed.refused:
        return "refused"
    if observed.received is not None:
        received = observed.received
        host = hosts_by_address.get(received.address, received.address)
        return f"{host}:{received.port}"
    if observed.static_root is not None:
        return f"static root {observed.static_root}"
    return f"nginx ({observed.status})"


def compare(case: Case, observed: Observed, hosts_by_address: Mapping[str, str]) -> Outcome:
    who = answered_by(observed, hosts_by_address)
    return Outcome(case, observed, who, tuple(_differences(case.expect, observed, who)))


def _differences(expect: Expectation, observed: Observed, who: str) -> list[Difference]:
    if observed.error:
        return [Difference("answer", "an answer", observed.error)]
    if expect.refused:
        if observed.refused:
            return []
        return [Difference("refused", "no answer (refused)", f"{observed.status} from {who}")]
    if observed.refused:
        return [Difference("answer", "an HTTP answer", observed.refused)]
    if observed.status in expect.accepted_statuses:
        return []
    return [difference for check in CHECKS for difference in check(expect, observed, who)]


def _status(expect: Expectation, observed: Observed, who: str) -> list[Difference]:
    if expect.status is None or observed.status == expect.status:
        return []
    return [Difference("status", str(expect.status), f"{observed.status} from {who}")]


def _service(expect: Expectation, observed: Observed, who: str) -> list[Difference]:
    if expect.service is None:
        return []
    wanted = {f"{address}:{expect.service.port}" for address in expect.service.addresses}
    if observed.received is not None and who in wanted:
        return []
    return [Difference("service", str(expect.service), who)]


def _static(expect: Expectation, observed: Observed, who: str) -> list[Difference]:
    if expect.static is None or observed.static_root == expect.static:
        return []
    return [Difference("static", f"static root {expect.static}", who)]


def _path(expect: Expectation, observed: Observed, who: str) -> list[Difference]:
    if expect.path is None:
        return []
    received = observed.received
    got = received.uri if received else f"(no service received it: {who})"
    return [] if got == expect.path else [Difference("path", expect.path, got)]


def _received_headers(expect: Expectation, observed: Observed, who: str) -> list[Difference]:
    found = []
    for name, value in expect.received_headers:
        received = observed.received
        got = (
            received.headers.get(name.lower(), "(absent)")
            if received
            else f"(no service received it: {who})"
        )
        if got != value:
            found.append(Difference(f"received_headers.{name}", value, got))
    return found


def _location(expect: Expectation, observed: Observed, who: str) -> list[Difference]:
    if expect.location is None:
        return []
    got = observed.headers.get("location", "(absent)")
    return [] if got == expect.location else [Difference("location", expect.location, got)]


def _response_headers(expect: Expectation, observed: Observed, who: str) -> list[Difference]:
    found = []
    for name, value in expect.headers_include:
        got = observed.headers.get(name.lower(), "(absent)")
        if got != value:
            found.append(Difference(f"headers_include.{name}", value, got))
    return found


# Each expectation of an answer, in the order differences are reported.
CHECKS: tuple[Callable[[Expectation, Observed, str], list[Difference]], ...] = (
    _status,
    _service,
    _static,
    _path,
    _received_headers,
    _location,
    _response_headers,
)
