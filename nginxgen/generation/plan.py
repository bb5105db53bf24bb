"""Environments → plan: every decision about what nginx must do, made before any text exists.

The rules that span more than one field live here: routes must name defined services, paths and
domains must be unique, names must map to distinct nginx variables, the strategy must suit the
target nginx. Templates only loop over the plan; they decide nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from nginxgen.core.errors import ConfigError, Problem
from nginxgen.core.facts import DOCKER_RESOLVER
from nginxgen.core.versions import (
    HTTP2_DIRECTIVE,
    PER_SERVER_PROTOCOLS,
    REJECT_HANDSHAKE,
    UPSTREAM_RESOLVE,
    at_least,
    parse_version,
)
from nginxgen.generation.loader import LoadedEnvironment
from nginxgen.generation.models import (
    Access,
    Environment,
    Route,
    Settings,
    Timeouts,
    supports_upstream_resolve,
)

CONNECTION_UPGRADE_VARIABLE = "nginxgen_connection_upgrade"
ENVIRONMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")

WEBSOCKET_READ_TIMEOUT = "1h"  # nginx's 60 s default closes idle websockets

# Mozilla's server-side TLS recommendations (guidelines 5.7): intermediate and modern.
INTERMEDIATE_CIPHERS = ":".join(
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
    )
)
_PROFILES = {
    "intermediate": (("TLSv1.2", "TLSv1.3"), INTERMEDIATE_CIPHERS),
    "modern": (("TLSv1.3",), None),
}

_PROXY_HEADERS = (
    ("Host", "$host"),
    ("X-Real-IP", "$remote_addr"),
    ("X-Forwarded-For", "$proxy_add_x_forwarded_for"),
    ("X-Forwarded-Proto", "$scheme"),
)
_SECURITY_HEADERS = (
    ("x_content_type_options", "X-Content-Type-Options"),
    ("referrer_policy", "Referrer-Policy"),
    ("x_frame_options", "X-Frame-Options"),
    ("content_security_policy", "Content-Security-Policy"),
)

Header = tuple[str, str]


@dataclass(frozen=True)
class Upstream:
    """An `upstream` whose servers nginx re-resolves while running (`resolve`, nginx ≥ 1.27.3)."""

    name: str
    servers: tuple[str, ...]
    keepalive: int


@dataclass(frozen=True)
class Proxy:
    """How a location reaches its service: always through a variable."""

    variable: str
    value: str
    target: str
    http11: bool
    connection: str | None
    headers: tuple[Header, ...]
    strip_prefix: str | None
    timeouts: tuple[Header, ...]
    buffering: bool


@dataclass(frozen=True)
class AccessPlan:
    """Access rules of a server or location; `allow_all`/`auth_off` undo inherited ones."""

    allow: tuple[str, ...]
    allow_all: bool
    realm: str | None
    htpasswd: str | None
    auth_off: bool


@dataclass(frozen=True)
class RateLimitPlan:
    zone: str
    rate: str
    burst: int
    nodelay: bool


@dataclass(frozen=True)
class Location:
    modifier: str
    path: str
    proxy: Proxy | None
    static_root: str | None
    try_files: str | None
    client_max_body_size: str | None
    rate_limit: RateLimitPlan | None
    access: AccessPlan | None
    response_headers: tuple[Header, ...]
    raw: tuple[str, ...]


@dataclass(frozen=True)
class TlsPlan:
    certificate: str
    certificate_key: str
    protocols: str
    ciphers: str | None
    stapling: bool
    trusted_certificate: str | None


@dataclass(frozen=True)
class ErrorPage:
    status: int
    content_type: str
    body: str


@dataclass(frozen=True)
class EnvironmentPlan:
    """The servers of one environment: HTTPS with an HTTP redirect, or plain HTTP."""

    name: str
    source: str
    strategy: str
    domains: tuple[str, ...]
    redirect_names: tuple[str, ...]
    redirect_target: str
    tls: TlsPlan | None
    acme_webroot: str | None
    response_headers: tuple[Header, ...]
    access: AccessPlan | None
    client_max_body_size: str | None
    error_page: ErrorPage | None
    upstreams: tuple[Upstream, ...]
    locations: tuple[Location, ...]
    raw: tuple[str, ...]


@dataclass(frozen=True)
class Resolver:
    address: str
    valid: str


@dataclass(frozen=True)
class Listen:
    """How HTTPS servers turn HTTP/2 on for the target nginx: a directive or a listen flag."""

    http2_directive: bool
    https_parameters: str


@dataclass(frozen=True)
class Plan:
    sources: tuple[str, ...]
    nginx_version: str
    required_version: str
    resolver: Resolver
    listen: Listen
    default_http: bool
    default_https: bool
    # Every TLS version some environment's profile allows, for the default HTTPS server.
    https_protocols: str
    connection_upgrade_variable: str | None
    rate_limits: tuple[RateLimitPlan, ...]
    environments: tuple[EnvironmentPlan, ...]
    # What the output cannot do as the files ask, on the target nginx; rendered all the same.
    warnings: tuple[Problem, ...] = ()


def variable_part(name: str) -> str:
    """The part of an nginx variable name a YAML name becomes (variables ignore case)."""
    return name.replace("-", "_").lower()


def upstream_variable(environment: str, service: str) -> str:
    return f"upstream_{variable_part(environment)}_{variable_part(service)}"


def upstream_name(environment: str, service: str) -> str:
    return f"nginxgen_{variable_part(environment)}_{variable_part(service)}"


def source_name(environment: LoadedEnvironment) -> str:
    return environment.source.file.replace("\\", "/").rsplit("/", 1)[-1]


def effective_strategy(model: Environment, settings: Settings) -> str:
    strategy = model.strategy or settings.strategy
    if strategy == "auto":
        return (
            "upstream-resolve" if supports_upstream_resolve(settings.nginx_version) else "variable"
        )
    return strategy


def _tls(model: Environment) -> TlsPlan | None:
    tls = model.tls
    if not tls.enabled:
        return None
    live = f"/etc/letsencrypt/live/{model.primary_domain.removeprefix('*.')}"
    protocols, ciphers = _PROFILES[tls.profile]
    trusted = tls.trusted_certificate or f"{live}/chain.pem"
    return TlsPlan(
        certificate=tls.certificate or f"{live}/fullchain.pem",
        certificate_key=tls.certificate_key or f"{live}/privkey.pem",
        protocols=" ".join(protocols),
        ciphers=ciphers,
        stapling=tls.ocsp_stapling,
        trusted_certificate=trusted if tls.ocsp_stapling else None,
    )


def _server_headers(model: Environment) -> tuple[Header, ...]:
    headers = [
        (name, value)
        for field, name in _SECURITY_HEADERS
        if (value := getattr(model.security_headers, field)) is not None
    ]
    hsts = model.tls.hsts
    if model.tls.enabled and hsts.enabled:
        value = f"max-age={hsts.max_age}"
        value += "; includeSubDomains" if hsts.include_subdomains else ""
        value += "; preload" if hsts.preload else ""
        headers.append(("Strict-Transport-Security", value))
    return tuple(headers)


def _access(access: Access | None, inherited: Access | None) -> AccessPlan | None:
    """Directives for `access`, undoing whatever of `inherited` it does not repeat."""
    if access is None:
        return None
    basic = access.basic_auth
    return AccessPlan(
        allow=tuple(str(network) for network in access.allow),
        allow_all=not access.allow and bool(inherited and inherited.allow),
        realm=basic.realm if basic else None,
        htpasswd=basic.htpasswd if basic else None,
        auth_off=basic is None and bool(inherited and inherited.basic_auth),
    )


def _strip_prefix(route: Route) -> str | None:
    if not route.strip_prefix:
        return None
    prefix = re.escape(route.path.rstrip("/"))
    return f"^{prefix}/?(.*)$"


def _proxy(environment: LoadedEnvironment, route: Route, strategy: str) -> Proxy:
    assert route.service is not None
    service = environment.model.services[route.service]
    variable = upstream_variable(environment.name, route.service)
    pooled = strategy == "upstream-resolve"
    if pooled:
        value, target = upstream_name(environment.name, route.service), f"http://${variable}"
    else:
        value, target = f"http://{service.addresses[0]}:{service.port}", f"${variable}"
    connection = (
        f"${CONNECTION_UPGRADE_VARIABLE}" if route.websocket else ('""' if pooled else None)
    )
    extra = _quoted(tuple(route.request_headers.items()))
    overridden = {name.lower() for name, _ in extra}
    headers = tuple(header for header in _PROXY_HEADERS if header[0].lower() not in overridden)
    if route.websocket:
        headers += (("Upgrade", "$http_upgrade"),)
    timeouts = route.timeouts or Timeouts()
    read = timeouts.read or (WEBSOCKET_READ_TIMEOUT if route.websocket else None)
    candidates = (
        ("proxy_connect_timeout", timeouts.connect),
        ("proxy_send_timeout", timeouts.send),
        ("proxy_read_timeout", read),
    )
    return Proxy(
        variable=variable,
        value=value,
        target=target,
        http11=pooled or route.websocket,
        connection=connection,
        headers=headers + extra,
        strip_prefix=_strip_prefix(route),
        timeouts=tuple((name, duration) for name, duration in candidates if duration),
        buffering=route.buffering,
    )


def _location(environment: LoadedEnvironment, route: Route, index: int, strategy: str) -> Location:
    model = environment.model
    modifier = {"prefix": "", "exact": "=", "regex": "~"}[route.match]
    static = route.static
    limit = route.rate_limit
    own_headers = _quoted(tuple(route.response_headers.items()))
    return Location(
        modifier=modifier,
        path=f'"{route.path}"' if route.match == "regex" else route.path,
        proxy=_proxy(environment, route, strategy) if route.service else None,
        static_root=static.root if static else None,
        try_files=_try_files(route),
        client_max_body_size=route.client_max_body_size,
        rate_limit=(
            RateLimitPlan(
                zone=f"nginxgen_{variable_part(environment.name)}_{index}",
                rate=limit.rate,
                burst=limit.burst,
                nodelay=limit.nodelay,
            )
            if limit
            else None
        ),
        access=_access(route.access, model.access),
        # add_header in a location hides every add_header of the server: repeat them here.
        response_headers=(_quoted(_server_headers(model)) + own_headers) if own_headers else (),
        raw=tuple(route.raw),
    )


def _try_files(route: Route) -> str | None:
    """Files first; an SPA falls back to the index.html of its own prefix (nginx `root`)."""
    if route.static is None:
        return None
    if not route.static.spa:
        return "$uri $uri/ =404"
    prefix = route.path if route.match == "prefix" and route.path.endswith("/") else "/"
    return f"$uri $uri/ {prefix}index.html"


def _quoted(headers: tuple[Header, ...]) -> tuple[Header, ...]:
    return tuple((name, f'"{value}"') for name, value in headers)


def _error_page(model: Environment) -> ErrorPage:
    page = model.unavailable
    if page.format == "json":
        body = json.dumps({"status": page.status, "error": page.message}, separators=(",", ":"))
        return ErrorPage(page.status, "application/json", body)
    title = f"{page.status} {page.message}"
    body = f"<!doctype html><title>{title}</title><h1>{page.message}</h1>"
    return ErrorPage(page.status, "text/html", body)


def _upstreams(
    environment: LoadedEnvironment, strategy: str, keepalive: int
) -> tuple[Upstream, ...]:
    if strategy != "upstream-resolve":
        return ()
    services = environment.model.services
    used = sorted({route.service for route in environment.model.routes if route.service})
    return tuple(
        Upstream(
            name=upstream_name(environment.name, name),
            servers=tuple(f"{host}:{services[name].port}" for host in services[name].addresses),
            keepalive=keepalive,
        )
        for name in used
    )


def _route_order(route: Route) -> tuple[int, str]:
    return ({"exact": 0, "prefix": 1, "regex": 2}[route.match], route.path)


def _plan_environment(environment: LoadedEnvironment, settings: Settings) -> EnvironmentPlan:
    model = environment.model
    strategy = effective_strategy(model, settings)
    routes = sorted(model.routes, key=_route_order)
    canonical = (model.primary_domain,) if model.redirect_to_primary else tuple(model.domains)
    aliases = tuple(model.domains[1:]) if model.redirect_to_primary else ()
    redirect_names = aliases + tuple(model.redirect_domains)
    scheme = "https" if model.tls.enabled else "http"
    proxied = any(route.service for route in routes)
    return EnvironmentPlan(
        name=environment.name,
        source=source_name(environment),
        strategy=strategy,
        domains=canonical,
        redirect_names=redirect_names,
        redirect_target=f"{scheme}://{model.primary_domain}",
        tls=_tls(model),
        acme_webroot=model.tls.acme_webroot if model.tls.enabled else None,
        response_headers=_quoted(_server_headers(model)),
        access=_access(model.access, None),
        client_max_body_size=model.client_max_body_size,
        error_page=_error_page(model) if proxied else None,
        upstreams=_upstreams(environment, strategy, settings.keepalive),
        locations=tuple(
            _location(environment, route, index, strategy) for index, route in enumerate(routes)
        ),
        raw=tuple(model.raw),
    )


def _environment_problems(environment: LoadedEnvironment, settings: Settings) -> list[Problem]:
    """Rules inside one environment that no single field can check."""
    model, source = environment.model, environment.source
    problems = []
    if not ENVIRONMENT_NAME.match(environment.name):
        problems.append(
            source.problem(
                (),
                f"environment name {environment.name!r} (the file name) may only contain "
                "letters, digits, '-' and '_', starting with a letter or digit",
            )
        )
    if model.strategy == "upstream-resolve" and not supports_upstream_resolve(
        settings.nginx_version
    ):
        problems.append(
            source.problem(
                ("strategy",),
                f"upstream-resolve needs nginx >= {UPSTREAM_RESOLVE}, but nginx_version "
                f"in nginxgen.yaml is {settings.nginx_version}",
            )
        )
    strategy = effective_strategy(model, settings)
    seen_services: dict[str, str] = {}
    for name, service in model.services.items():
        key = variable_part(name)
        if key in seen_services:
            problems.append(
                source.problem(
                    ("services", name),
                    f"service {name!r} maps to the same nginx variable as {seen_services[key]!r}",
                )
            )
        seen_services.setdefault(key, name)
        if strategy == "variable" and len(service.addresses) > 1:
            problems.append(
                source.problem(
                    ("services", name, "hosts"),
                    "several hosts need the upstream-resolve strategy (nginx >= "
                    f"{UPSTREAM_RESOLVE}); with the variable strategy give one host "
                    "(a name with several addresses is balanced too)",
                )
            )
    if model.primary_domain.startswith("*.") and (
        model.redirect_to_primary or model.redirect_domains
    ):
        problems.append(
            source.problem(
                ("domains", 0),
                f"redirects need a primary domain to send clients to, not the wildcard "
                f"{model.primary_domain!r}: put a plain name first",
            )
        )
    seen_domains: set[str] = set()
    for field in ("domains", "redirect_domains"):
        for index, domain in enumerate(getattr(model, field)):
            if domain in seen_domains:
                problems.append(source.problem((field, index), f"domain {domain!r} is repeated"))
            seen_domains.add(domain)
    seen_paths: dict[tuple[str, str], int] = {}
    for index, route in enumerate(model.routes):
        if route.service is not None and route.service not in model.services:
            defined = ", ".join(sorted(model.services))
            problems.append(
                source.problem(
                    ("routes", index, "service"),
                    f"service {route.service!r} is not defined (defined: {defined})",
                )
            )
        route_key = (route.match, route.path)
        if route_key in seen_paths:
            problems.append(
                source.problem(
                    ("routes", index, "path"),
                    f"path {route.path!r} is already routed by routes[{seen_paths[route_key]}]",
                )
            )
        seen_paths.setdefault(route_key, index)
    return problems


def _all_domains(environment: LoadedEnvironment) -> list[tuple[tuple[str, int], str]]:
    model = environment.model
    return [(("domains", index), domain) for index, domain in enumerate(model.domains)] + [
        (("redirect_domains", index), domain) for index, domain in enumerate(model.redirect_domains)
    ]


def _cross_environment_problems(environments: Sequence[LoadedEnvironment]) -> list[Problem]:
    """Rules across environments: names must stay distinct as variables, domains unique.

    A domain served by two environments is reported in both files, so the report does not
    depend on which file came first.
    """
    problems = []
    names: dict[str, LoadedEnvironment] = {}
    places: dict[str, list[tuple[LoadedEnvironment, tuple[str, int]]]] = {}
    for environment in environments:
        key = variable_part(environment.name)
        if key in names:
            problems.append(
                environment.source.problem(
                    (),
                    f"environment {environment.name!r} maps to the same nginx variables as "
                    f"{names[key].source.file}",
                )
            )
        names.setdefault(key, environment)
        for path, domain in _all_domains(environment):
            places.setdefault(domain, []).append((environment, path))
    for domain, found in places.items():
        for environment, path in found:
            other, other_path = next(
                ((o, p) for o, p in found if o is not environment), (None, path)
            )
            if other is None:
                continue
            line, _ = other.source.locate(other_path)
            problems.append(
                environment.source.problem(
                    path,
                    f"domain {domain!r} is also served by environment {other.name!r} "
                    f"({other.source.file}:{line})",
                )
            )
    return problems


def check_environments(
    environments: Sequence[LoadedEnvironment], settings: Settings
) -> list[Problem]:
    problems = [
        problem
        for environment in environments
        for problem in _environment_problems(environment, settings)
    ]
    return problems + _cross_environment_problems(environments)


def _required_version(
    plan_environments: Sequence[EnvironmentPlan], listen: Listen, https: bool
) -> str:
    needs = ["1.0"]
    if https:
        needs.append(REJECT_HANDSHAKE)
    if listen.http2_directive:
        needs.append(HTTP2_DIRECTIVE)
    if any(env.strategy == "upstream-resolve" for env in plan_environments):
        needs.append(UPSTREAM_RESOLVE)
    return max(needs, key=parse_version)


def _https_protocols(planned: Sequence[EnvironmentPlan]) -> str:
    """The TLS versions of every profile in use, for the default HTTPS server.

    Before nginx 1.29.2 OpenSSL picks the TLS version with the default server's settings, before
    SNI selects the environment's server: without this list nginx's own default (TLSv1 up to
    TLSv1.3 before 1.23.4) would be in force, whatever the profiles say.
    """
    versions = {version for env in planned if env.tls for version in env.tls.protocols.split()}
    return " ".join(sorted(versions))


def _profile_warnings(
    environments: Sequence[LoadedEnvironment], settings: Settings
) -> list[Problem]:
    """A modern environment beside an intermediate one still accepts TLSv1.2 before 1.29.2."""
    if at_least(settings.nginx_version, PER_SERVER_PROTOCOLS):
        return []
    tls = [environment for environment in environments if environment.model.tls.enabled]
    if len({environment.model.tls.profile for environment in tls}) < 2:
        return []
    return [
        environment.source.problem(
            ("tls", "profile"),
            f"warning: nginx {settings.nginx_version} picks the TLS version before it knows the "
            "server name, so beside the intermediate environments this one accepts TLSv1.2 too; "
            f"target nginx >= {PER_SERVER_PROTOCOLS} or give every environment one "
            "profile",
        )
        for environment in tls
        if environment.model.tls.profile == "modern"
    ]


def build_plan(
    environments: Sequence[LoadedEnvironment],
    settings: Settings,
    loading_problems: Sequence[Problem] = (),
) -> Plan:
    """The plan for all environments, or ConfigError listing every rule they break.

    `loading_problems` are those of files that did not load: reported together with what the
    rules find in the files that did, so one run shows every problem it can.
    """
    # Sorted first, so that which of two environments a conflict is blamed on never depends on
    # the order they were given in.
    ordered = sorted(environments, key=lambda environment: environment.name)
    problems = [*loading_problems, *check_environments(ordered, settings)]
    if problems:
        raise ConfigError(problems)
    planned = tuple(_plan_environment(environment, settings) for environment in ordered)
    locations = [location for env in planned for location in env.locations]
    websocket = any(
        location.proxy and location.proxy.connection == f"${CONNECTION_UPGRADE_VARIABLE}"
        for location in locations
    )
    http2_directive = at_least(settings.nginx_version, HTTP2_DIRECTIVE)
    listen = Listen(http2_directive, "ssl" if http2_directive else "ssl http2")
    https = any(env.tls for env in planned)
    return Plan(
        sources=tuple(env.source for env in planned),
        nginx_version=settings.nginx_version,
        required_version=_required_version(planned, listen, https and settings.default_server),
        resolver=Resolver(address=DOCKER_RESOLVER, valid=settings.resolver_valid),
        listen=listen,
        default_http=settings.default_server,
        default_https=settings.default_server and https,
        https_protocols=_https_protocols(planned),
        connection_upgrade_variable=CONNECTION_UPGRADE_VARIABLE if websocket else None,
        rate_limits=tuple(location.rate_limit for location in locations if location.rate_limit),
        environments=planned,
        warnings=tuple(_profile_warnings(ordered, settings)),
    )
