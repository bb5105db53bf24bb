"""The test cases: the environment files' `tests:`, and the implicit ones every setup gets.

Implicit: every prefix or exact route's own path reaches its service or static root; every
HTTPS environment sends HSTS, on an error answer too; unknown names are refused. `--chaos`
turns the route cases into what must happen with services down.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass

from nginxgen.core.errors import ConfigError, Problem
from nginxgen.generation.loader import SETTINGS_FILE, LoadedEnvironment
from nginxgen.generation.models import Environment
from nginxgen.generation.route_tests import RequestLine, RouteTest, parse_request
from nginxgen.generation.sections import Route
from nginxgen.routetest.routing import route_for

UNKNOWN_HOST = "unknown-host.nginxgen.invalid"
WILDCARD_STAND_IN = "nginxgen-test"
DEFAULT_BODY_LIMIT = "1m"
ACCESS_STATUSES = (401, 403)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


@dataclass(frozen=True)
class ServiceRef:
    """A service of an environment, as the echo backend sees it: addresses and a port."""

    environment: str
    name: str
    addresses: tuple[str, ...]
    port: int

    def __str__(self) -> str:
        return f"{self.name} ({self.addresses[0]}:{self.port})"


@dataclass(frozen=True)
class Expectation:
    service: ServiceRef | None = None
    static: str | None = None
    path: str | None = None
    received_headers: tuple[tuple[str, str], ...] = ()
    status: int | None = None
    location: str | None = None
    headers_include: tuple[tuple[str, str], ...] = ()
    refused: bool = False
    # Answers that pass whatever else is expected: a route behind access rules may refuse.
    accepted_statuses: tuple[int, ...] = ()


@dataclass(frozen=True)
class Case:
    """One request to send and what must come of it, traced to where it was written."""

    file: str
    line: int
    column: int
    # `tests[2]`, or what an implicit case checks, e.g. `routes[1] reaches its service`.
    label: str
    request: RequestLine
    expect: Expectation
    headers: tuple[tuple[str, str], ...] = ()
    auth: str | None = None
    body_size: int = 0
    # (certificate file, key file) presented in the TLS handshake.
    client_certificate: tuple[str, str] | None = None
    # "test" (the file's own), or an implicit kind: "route", "hsts", "default_server".
    kind: str = "test"
    # The service behind the route the case checks (implicit route cases), for --chaos.
    route_service: ServiceRef | None = None
    # What the route answers while its service is down: the `unavailable` page, with the
    # security headers (HSTS included) an error answer keeps.
    unavailable: Expectation | None = None

    @property
    def implicit(self) -> bool:
        return self.kind != "test"

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


def size_in_bytes(size: str) -> int:
    """`20m` → 20971520, as nginx reads sizes."""
    match = re.fullmatch(r"([0-9]+)([kKmMgG]?)", size)
    if match is None:
        raise ValueError(size)
    return int(match[1]) * _UNITS[match[2].lower()]


def service_ref(environment: LoadedEnvironment, name: str) -> ServiceRef:
    service = environment.model.services[name]
    return ServiceRef(environment.name, name, service.addresses, service.port)


def user_cases(environment: LoadedEnvironment) -> list[Case]:
    """The environment file's own `tests:`; a test naming no service of the file is an error."""
    cases, problems = [], []
    for index, test in enumerate(environment.model.tests):
        if test.service is not None and test.service not in environment.model.services:
            problems.append(
                environment.source.problem(
                    ("tests", index, "service"),
                    f"{test.service!r} is not a service of this environment "
                    f"(services: {', '.join(sorted(environment.model.services))})",
                )
            )
            continue
        cases.append(_user_case(environment, index, test))
    if problems:
        raise ConfigError(problems)
    return cases


def _user_case(environment: LoadedEnvironment, index: int, test: RouteTest) -> Case:
    line, column = environment.source.locate(("tests", index))
    expect = Expectation(
        service=service_ref(environment, test.service) if test.service else None,
        static=test.static,
        path=test.path,
        received_headers=tuple(test.received_headers.items()),
        status=test.status,
        location=test.location,
        headers_include=tuple(test.headers_include.items()),
        refused=test.refused,
    )
    return Case(
        file=environment.source.file,
        line=line,
        column=column,
        label=f"tests[{index}]",
        request=test.parsed,
        expect=expect,
        headers=tuple(test.headers.items()),
        auth=test.auth,
        body_size=size_in_bytes(test.body_size) if test.body_size else 0,
        client_certificate=(
            (test.client_certificate.cert, test.client_certificate.key)
            if test.client_certificate
            else None
        ),
    )


def _host(model: Environment) -> str:
    primary = model.primary_domain
    return primary.replace("*", WILDCARD_STAND_IN, 1) if primary.startswith("*.") else primary


def _hsts(model: Environment) -> str | None:
    hsts = model.tls.hsts
    if not (model.tls.enabled and hsts.enabled):
        return None
    value = f"max-age={hsts.max_age}"
    value += "; includeSubDomains" if hsts.include_subdomains else ""
    value += "; preload" if hsts.preload else ""
    return value


def _request(model: Environment, target: str, method: str = "GET") -> RequestLine:
    scheme = "https" if model.tls.enabled else "http"
    return parse_request(f"{method} {scheme}://{_host(model)}{target}")


def route_cases(environment: LoadedEnvironment) -> list[Case]:
    """Every prefix or exact route's own path reaches its service or static root (a regex
    has no path of its own to send). Routes behind access rules may refuse instead."""
    model = environment.model
    cases = []
    for index, route in enumerate(model.routes):
        if route.match == "regex":
            continue
        target = route.path
        if route_for(model, target) != index:
            # Another route takes the route's own path (a regex, say): that is for the user's
            # tests to state; the implicit case would only restate nginx's rules.
            continue
        line, column = environment.source.locate(("routes", index))
        access = route.access or model.access
        service = service_ref(environment, route.service) if route.service else None
        headers: tuple[tuple[str, str], ...] = ()
        received: tuple[tuple[str, str], ...] = ()
        if route.websocket:
            headers = (("Upgrade", "websocket"), ("Connection", "Upgrade"))
            received = (("Upgrade", "websocket"), ("Connection", "upgrade"))
        expect = Expectation(
            service=service,
            static=route.static.root if route.static else None,
            path=_sent_path(route) if service else None,
            received_headers=received,
            accepted_statuses=ACCESS_STATUSES if access else (),
        )
        what = "its service" if service else "its static root"
        if access:
            what += " or its access rules refuse"
        case = Case(
            file=environment.source.file,
            line=line,
            column=column,
            label=f"routes[{index}] {route.path} reaches {what}",
            request=_request(model, target),
            expect=expect,
            headers=headers,
            kind="route",
            route_service=service,
            unavailable=_unavailable(model, expect.accepted_statuses),
        )
        cases.append(_without_client_certificate(model, case))
    return cases


def _without_client_certificate(model: Environment, case: Case) -> Case:
    """An implicit route case presents no certificate: under `verify: required` nginx answers
    400 before the route is reached, whatever its service does."""
    if not requires_client_certificate(model):
        return case
    label = f"{case.label.split(' reaches ')[0]} answers 400 without a client certificate"
    return dataclasses.replace(
        case, label=label, expect=Expectation(status=400), route_service=None, unavailable=None
    )


def requires_client_certificate(model: Environment) -> bool:
    """Mutual TLS with `verify: required`: a request without a certificate answers 400, so the
    implicit cases (which present none) expect that."""
    clients = model.tls.client_certificates
    return model.tls.enabled and clients is not None and clients.verify == "required"


def _sent_path(route: Route) -> str:
    return "/" if route.strip_prefix else route.path


def hsts_cases(environment: LoadedEnvironment) -> list[Case]:
    """HSTS on an HTTPS answer and on an error answer (a body over the limit: 413)."""
    model = environment.model
    value = _hsts(model)
    if value is None:
        return []
    line, column = environment.source.locate(("tls",) if "tls" in _keys(environment) else ())
    header = (("Strict-Transport-Security", value),)
    common = {"file": environment.source.file, "line": line, "column": column, "kind": "hsts"}
    cases = [
        Case(
            label="HSTS on an HTTPS answer",
            request=_request(model, "/"),
            expect=Expectation(headers_include=header),
            **common,  # type: ignore[arg-type]
        )
    ]
    index = route_for(model, "/")
    route_limit = model.routes[index].client_max_body_size if index is not None else None
    limit = size_in_bytes(route_limit or model.client_max_body_size or DEFAULT_BODY_LIMIT)
    # Without a client certificate, `verify: required` answers 400 before any body limit.
    if limit and not requires_client_certificate(model):
        cases.append(
            Case(
                label="HSTS on an error answer (413)",
                request=_request(model, "/", "POST"),
                expect=Expectation(status=413, headers_include=header),
                body_size=limit + 1,
                **common,  # type: ignore[arg-type]
            )
        )
    return cases


def _keys(environment: LoadedEnvironment) -> set[str]:
    return {str(path[0]) for path in environment.source.positions if len(path) == 1}


def default_server_cases(default_http: bool, default_https: bool) -> list[Case]:
    """Names no environment serves are refused: no answer on HTTP, no handshake on HTTPS."""
    cases = []
    for enabled, scheme in ((default_http, "http"), (default_https, "https")):
        if enabled:
            cases.append(
                Case(
                    file=SETTINGS_FILE,
                    line=1,
                    column=1,
                    label=f"unknown names refused on {scheme.upper()} (default_server)",
                    request=parse_request(f"GET {scheme}://{UNKNOWN_HOST}/"),
                    expect=Expectation(refused=True),
                    kind="default_server",
                )
            )
    return cases


def all_cases(
    environments: Sequence[LoadedEnvironment], default_http: bool, default_https: bool
) -> list[Case]:
    """The user's tests first, then the implicit ones; invalid references raise ConfigError."""
    cases: list[Case] = []
    problems: list[Problem] = []
    for environment in environments:
        try:
            cases += user_cases(environment)
        except ConfigError as error:
            problems += error.problems
    if problems:
        raise ConfigError(problems)
    for environment in environments:
        cases += route_cases(environment) + hsts_cases(environment)
    return cases + default_server_cases(default_http, default_https)


def _unavailable(model: Environment, accepted: tuple[int, ...]) -> Expectation:
    page = model.unavailable
    content_type = "application/json" if page.format == "json" else "text/html"
    headers = [("Content-Type", content_type)]
    hsts = _hsts(model)
    if hsts is not None:
        headers.append(("Strict-Transport-Security", hsts))
    return Expectation(
        status=page.status, headers_include=tuple(headers), accepted_statuses=accepted
    )


def with_hosts_down(cases: Sequence[Case], down: frozenset[str]) -> list[Case]:
    """The implicit route cases with the service hosts in `down` stopped: a route whose
    service has no host left answers its `unavailable` page (with HSTS); every other route
    still reaches its service or static root."""
    changed = []
    for case in cases:
        if case.kind != "route":
            continue
        service = case.route_service
        if service is not None and case.unavailable and set(service.addresses) <= down:
            label = f"{case.label.split(' reaches ')[0]} answers its unavailable page"
            case = dataclasses.replace(case, expect=case.unavailable, label=label)
        changed.append(case)
    return changed
