"""Environments → plan: every decision about what nginx must do, made before any text exists.

The environments are first checked by the rules (`nginxgen.generation.rules`); the plan types
live in `plan_types`. Templates only loop over the plan; they decide nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from nginxgen.core.errors import ConfigError, Problem
from nginxgen.core.facts import DOCKER_RESOLVER
from nginxgen.core.versions import (
    ADD_HEADER_INHERIT,
    HTTP2_DIRECTIVE,
    HTTP3,
    PER_SERVER_PROTOCOLS,
    REJECT_HANDSHAKE,
    UPSTREAM_RESOLVE,
    at_least,
    parse_version,
)
from nginxgen.generation.loader import LoadedEnvironment
from nginxgen.generation.models import Environment, Settings, effective_strategy
from nginxgen.generation.naming import (
    auth_header_variable,
    auth_variable,
    cors_variable,
    maintenance_variable,
    rate_limit_zone,
    reached_host,
    upstream_name,
    upstream_variable,
)
from nginxgen.generation.plan_types import (
    AccessLogPlan,
    AccessPlan,
    AuthPlan,
    CompressionPlan,
    CorsPlan,
    EnvironmentPlan,
    ErrorPage,
    Failover,
    Header,
    Listen,
    Location,
    MaintenancePlan,
    Plan,
    Proxy,
    RateLimitPlan,
    Resolver,
    TlsPlan,
    Upstream,
)
from nginxgen.generation.rules import check_environments
from nginxgen.generation.sections import Access, ForwardAuth, Route, Timeouts

CONNECTION_UPGRADE_VARIABLE = "nginxgen_connection_upgrade"
JSON_LOG_FORMAT = "nginxgen_json"
# Compressible types besides text/html, which gzip always covers (listing it is an error).
COMPRESSED_TYPES = (
    "application/atom+xml",
    "application/javascript",
    "application/json",
    "application/ld+json",
    "application/manifest+json",
    "application/rss+xml",
    "application/wasm",
    "application/xml",
    "image/svg+xml",
    "text/css",
    "text/javascript",
    "text/plain",
    "text/xml",
)
MAINTENANCE_LOCATION = "/.nginxgen/maintenance"
ALT_SVC = 'h3=":443"; ma=86400'

AUTH_LOCATION = "/.nginxgen/auth"
# Headers an auth service (Authelia, Authentik, oauth2-proxy) reads to know what was asked.
_AUTH_REQUEST_HEADERS = (
    Header("Content-Length", '""'),
    Header("X-Original-URL", "$scheme://$http_host$request_uri"),
    Header("X-Original-Method", "$request_method"),
    Header("X-Forwarded-Method", "$request_method"),
    Header("X-Forwarded-Proto", "$scheme"),
    Header("X-Forwarded-Host", "$http_host"),
    Header("X-Forwarded-Uri", "$request_uri"),
    Header("X-Forwarded-For", "$proxy_add_x_forwarded_for"),
)

WEBSOCKET_READ_TIMEOUT = "1h"  # nginx's 60 s default closes idle websockets

# Replicas fail over. nginx passes a request on after `http_502`/`http_503` only for idempotent
# methods (no `non_idempotent`); after `error`/`timeout` in connecting, nothing was sent yet.
FAILOVER = Failover(
    conditions=("error", "timeout", "http_502", "http_503"),
    tries=3,
    # Also bounds a retry after a read timeout: a slow GET is not sent to a second replica.
    timeout="10s",
)
# One failed connect takes a replica out at once; it is tried again after FAIL_TIMEOUT, longer
# than a re-resolve cycle (resolver_valid + 1 s), by which time a removed container's address
# has left the upstream.
MAX_FAILS = 1
FAIL_TIMEOUT = "5s"
_TIMEOUT_DIRECTIVES = (
    ("connect", "proxy_connect_timeout"),
    ("send", "proxy_send_timeout"),
    ("read", "proxy_read_timeout"),
)

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
    Header("Host", "$host"),
    Header("X-Real-IP", "$remote_addr"),
    Header("X-Forwarded-For", "$proxy_add_x_forwarded_for"),
    Header("X-Forwarded-Proto", "$scheme"),
)
_SECURITY_HEADERS = (
    ("x_content_type_options", "X-Content-Type-Options"),
    ("referrer_policy", "Referrer-Policy"),
    ("x_frame_options", "X-Frame-Options"),
    ("content_security_policy", "Content-Security-Policy"),
)


def source_name(environment: LoadedEnvironment) -> str:
    return environment.source.file.replace("\\", "/").rsplit("/", 1)[-1]


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
        Header(name, value, literal=True)
        for field, name in _SECURITY_HEADERS
        if (value := getattr(model.security_headers, field)) is not None
    ]
    hsts = model.tls.hsts
    if model.tls.enabled and hsts.enabled:
        value = f"max-age={hsts.max_age}"
        value += "; includeSubDomains" if hsts.include_subdomains else ""
        value += "; preload" if hsts.preload else ""
        headers.append(Header("Strict-Transport-Security", value, literal=True))
    if model.http3 and model.tls.enabled:
        headers.append(Header("Alt-Svc", ALT_SVC, literal=True))
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


def _route_auth(model: Environment, route: Route) -> ForwardAuth | None:
    """The forward auth a route is under: its own, else the environment's (unless `auth: false`)."""
    if route.auth is not None:
        return route.auth if route.auth.enabled else None
    return model.auth


def _feature_headers(model: Environment, route: Route) -> tuple[Header, ...]:
    """Headers the features add to the request: the auth service's answers, the request id."""
    auth = _route_auth(model, route)
    copied = tuple(
        Header(name, f"${auth_header_variable(name)}") for name in (auth.headers if auth else ())
    )
    log = model.log
    request_id = (Header("X-Request-ID", "$request_id"),) if log and log.enabled else ()
    return copied + request_id


def _proxy(environment: LoadedEnvironment, route: Route, strategy: str) -> Proxy:
    assert route.service is not None
    service = environment.model.services[route.service]
    variable = upstream_variable(environment.name, route.service)
    pooled = strategy == "upstream-resolve"
    if pooled:
        address = upstream_name(environment.name, route.service)
    else:
        address = f"http://{service.addresses[0]}:{service.port}"
    connection = f"${CONNECTION_UPGRADE_VARIABLE}" if route.websocket else ("" if pooled else None)
    extra = _literal(route.request_headers)
    overridden = {header.name.lower() for header in extra}
    features = tuple(
        header
        for header in _feature_headers(environment.model, route)
        if header.name.lower() not in overridden
    )
    overridden |= {header.name.lower() for header in features}
    headers = tuple(header for header in _PROXY_HEADERS if header.name.lower() not in overridden)
    if route.websocket:
        headers += (Header("Upgrade", "$http_upgrade"),)
    timeouts = route.timeouts or Timeouts()
    if route.websocket and not timeouts.read:
        timeouts = timeouts.model_copy(update={"read": WEBSOCKET_READ_TIMEOUT})
    return Proxy(
        variable=variable,
        address=address,
        pooled=pooled,
        websocket=route.websocket,
        http11=pooled or route.websocket,
        connection=connection,
        headers=headers + features + extra,
        strip_prefix=_strip_prefix(route),
        timeouts=_timeout_directives(timeouts),
        buffering=route.buffering,
    )


def _timeout_directives(
    timeouts: Timeouts, fallback: Timeouts | None = None
) -> tuple[tuple[str, str], ...]:
    """(directive, duration) for each timeout `timeouts` sets, else `fallback` sets."""
    chosen = (
        (directive, getattr(timeouts, key) or (getattr(fallback, key) if fallback else None))
        for key, directive in _TIMEOUT_DIRECTIVES
    )
    return tuple((directive, value) for directive, value in chosen if value)


def _resolver(model: Environment, settings: Settings) -> Resolver:
    return Resolver(
        address=DOCKER_RESOLVER,
        valid=model.resolver_valid or settings.resolver_valid,
        timeout=model.resolver_timeout or settings.resolver_timeout,
    )


def _location(
    environment: LoadedEnvironment, route: Route, index: int, strategy: str, merge: bool = False
) -> Location:
    """`merge`: the target nginx merges the server's add_headers in (add_header_inherit)."""
    model = environment.model
    modifier = {"prefix": "", "exact": "=", "regex": "~"}[route.match]
    static = route.static
    limit = route.rate_limit
    cors = _cors(environment.name, route, index)
    own_headers = _cors_headers(cors) + _literal(route.response_headers)
    return Location(
        modifier=modifier,
        path=route.path,
        regex=route.match == "regex",
        proxy=_proxy(environment, route, strategy) if route.service else None,
        static_root=static.root if static else None,
        try_files=_try_files(route),
        client_max_body_size=route.client_max_body_size,
        rate_limit=(
            RateLimitPlan(
                zone=rate_limit_zone(environment.name, index),
                rate=limit.rate,
                burst=limit.burst,
                nodelay=limit.nodelay,
            )
            if limit
            else None
        ),
        access=_access(route.access, model.access),
        # add_header in a location hides every add_header of the server: repeat them here,
        # unless `add_header_inherit merge` adds them.
        response_headers=(
            own_headers if merge or not own_headers else _server_headers(model) + own_headers
        ),
        raw=tuple(route.raw),
        cors=cors,
        auth=_auth(environment.name, f"route{index}", route.auth) if route.auth else None,
        auth_off=bool(route.auth and not route.auth.enabled and model.auth),
    )


def _cors(environment: str, route: Route, index: int) -> CorsPlan | None:
    cors = route.cors
    if cors is None:
        return None
    variable = None if cors.origins == ["*"] else cors_variable(environment, index)
    return CorsPlan(
        variable=variable,
        origins=tuple(cors.origins),
        allow_origin=f"${variable}" if variable else '"*"',
        methods=", ".join(cors.methods),
        headers=", ".join(cors.headers),
        credentials=cors.credentials,
        max_age=cors.max_age,
    )


def _cors_headers(cors: CorsPlan | None) -> tuple[Header, ...]:
    """On every answer of a CORS route; an origin not listed maps to "", which nginx omits."""
    if cors is None:
        return ()
    headers = [Header("Access-Control-Allow-Origin", cors.allow_origin)]
    if cors.credentials:
        headers.append(Header("Access-Control-Allow-Credentials", "true"))
    if cors.variable:
        headers.append(Header("Vary", "Origin"))
    return tuple(headers)


def _auth(environment: str, scope: str, auth: ForwardAuth) -> AuthPlan | None:
    if not auth.enabled or auth.url is None:
        return None
    signin = None
    if auth.signin:
        separator = "&" if "?" in auth.signin else "?"
        signin = f"{auth.signin}{separator}rd=$scheme://$http_host$request_uri"
    return AuthPlan(
        location=f"{AUTH_LOCATION}/{scope}",
        variable=auth_variable(environment, scope),
        url=auth.url,
        signin=signin,
        copied=tuple(
            (auth_header_variable(name), "upstream_http_" + name.lower().replace("-", "_"))
            for name in auth.headers
        ),
        request_headers=_AUTH_REQUEST_HEADERS,
    )


def _compression(model: Environment) -> CompressionPlan | None:
    compression = model.compression
    if not compression.enabled:
        return None
    return CompressionPlan(compression.level, compression.min_length, COMPRESSED_TYPES)


def _access_log(model: Environment) -> AccessLogPlan | None:
    log = model.log
    if log is None:
        return None
    if not log.enabled:
        return AccessLogPlan(None, "")
    return AccessLogPlan(log.path, JSON_LOG_FORMAT if log.format == "json" else "combined")


def _maintenance(environment: LoadedEnvironment, merge: bool) -> MaintenancePlan | None:
    model = environment.model
    maintenance = model.maintenance
    if maintenance is None or not maintenance.enabled:
        return None
    page = _page(503, model.unavailable.format, maintenance.message)
    return MaintenancePlan(
        variable=maintenance_variable(environment.name) if maintenance.allow else None,
        allow=tuple(maintenance.allow),
        location=MAINTENANCE_LOCATION,
        page=page,
        headers=(() if merge else _server_headers(model))
        + (Header("Retry-After", str(maintenance.retry_after), literal=True),),
    )


def _try_files(route: Route) -> str | None:
    """Files first; an SPA falls back to the index.html of its own prefix (nginx `root`)."""
    if route.static is None:
        return None
    if not route.static.spa:
        return "$uri $uri/ =404"
    prefix = route.path if route.match == "prefix" and route.path.endswith("/") else "/"
    return f"$uri $uri/ {prefix}index.html"


def _literal(headers: dict[str, str]) -> tuple[Header, ...]:
    return tuple(Header(name, value, literal=True) for name, value in headers.items())


def _error_page(model: Environment) -> ErrorPage:
    page = model.unavailable
    return _page(page.status, page.format, page.message)


def _page(status: int, page_format: str, message: str) -> ErrorPage:
    if page_format == "json":
        body = json.dumps(
            {"status": status, "error": message},
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return ErrorPage(status, "application/json", body)
    title = f"{status} {message}"
    body = f"<!doctype html><title>{title}</title><h1>{message}</h1>"
    return ErrorPage(status, "text/html", body)


def _upstreams(
    environment: LoadedEnvironment, strategy: str, settings: Settings, resolver: Resolver
) -> tuple[Upstream, ...]:
    """On swarm the servers are `tasks.<service>`: every task's address, re-resolved while nginx
    runs, so nginx balances over the tasks itself and its pooled connections never sit behind
    the service's virtual IP (one task per connection, dropped by IPVS after 900 s idle)."""
    if strategy != "upstream-resolve":
        return ()
    services = environment.model.services
    used = sorted({route.service for route in environment.model.routes if route.service})
    return tuple(
        Upstream(
            name=upstream_name(environment.name, name),
            servers=tuple(
                f"{reached_host(host, settings.platform, strategy)}:{services[name].port}"
                for host in services[name].addresses
            ),
            keepalive=settings.keepalive,
            resolver=resolver,
            max_fails=MAX_FAILS,
            fail_timeout=FAIL_TIMEOUT,
        )
        for name in used
    )


def _route_order(route: Route) -> tuple[int, str]:
    """Exact and prefix routes sorted by path (nginx picks among them by path alone); regex
    routes keep the order of the file, since nginx tries them in the order they are written."""
    kind = {"exact": 0, "prefix": 1, "regex": 2}[route.match]
    return (kind, route.path if kind < 2 else "")


def _plan_environment(
    environment: LoadedEnvironment, settings: Settings, quic: str | None = None
) -> EnvironmentPlan:
    model = environment.model
    strategy = effective_strategy(model, settings)
    routes = sorted(model.routes, key=_route_order)
    canonical = (model.primary_domain,) if model.redirect_to_primary else tuple(model.domains)
    aliases = tuple(model.domains[1:]) if model.redirect_to_primary else ()
    redirect_names = aliases + tuple(model.redirect_domains)
    scheme = "https" if model.tls.enabled else "http"
    proxied = any(route.service for route in routes)
    resolver = _resolver(model, settings)
    merge = at_least(settings.nginx_version, ADD_HEADER_INHERIT)
    locations = tuple(
        _location(environment, route, index, strategy, merge) for index, route in enumerate(routes)
    )
    auth = _auth(environment.name, "server", model.auth) if model.auth else None
    route_auths = tuple(location.auth for location in locations if location.auth)
    return EnvironmentPlan(
        name=environment.name,
        source=source_name(environment),
        strategy=strategy,
        domains=canonical,
        redirect_names=redirect_names,
        redirect_target=f"{scheme}://{model.primary_domain}",
        tls=_tls(model),
        acme_webroot=model.tls.acme_webroot if model.tls.enabled else None,
        response_headers=_server_headers(model),
        access=_access(model.access, None),
        client_max_body_size=model.client_max_body_size,
        resolver=resolver,
        timeouts=(
            _timeout_directives(model.timeouts or Timeouts(), settings.timeouts) if proxied else ()
        ),
        failover=FAILOVER if proxied else None,
        error_page=_error_page(model) if proxied else None,
        upstreams=_upstreams(environment, strategy, settings, resolver),
        locations=locations,
        raw=tuple(model.raw),
        compression=_compression(model),
        access_log=_access_log(model),
        maintenance=_maintenance(environment, merge),
        auth=auth,
        auth_locations=((auth,) if auth else ()) + route_auths,
        quic=quic,
        merge_headers=merge,
    )


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
    if any(env.quic is not None for env in plan_environments):
        needs.append(HTTP3)
    return max(needs, key=parse_version)


def _https_protocols(planned: Sequence[EnvironmentPlan]) -> str:
    """The TLS versions of every profile in use, for the default HTTPS server.

    Before nginx 1.29.2 OpenSSL picks the TLS version with the default server's settings, before
    SNI selects the environment's server: without this list nginx's own default (TLSv1 up to
    TLSv1.3 before 1.23.4) would be in force, whatever the profiles say.
    """
    versions = {version for env in planned if env.tls for version in env.tls.protocols.split()}
    return " ".join(sorted(versions))


def _https_ciphers(environments: Sequence[LoadedEnvironment]) -> str | None:
    """The default HTTPS server refuses every handshake, but scanners still grade its cipher
    list: give it the intermediate ciphers whenever some environment allows TLSv1.2."""
    profiles = {env.model.tls.profile for env in environments if env.model.tls.enabled}
    return INTERMEDIATE_CIPHERS if "intermediate" in profiles else None


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
    default_quic = settings.default_server and any(env.model.http3 for env in ordered)
    planned = tuple(
        _plan_environment(environment, settings, quic)
        for environment, quic in zip(ordered, _quic_parameters(ordered, default_quic), strict=True)
    )
    locations = [location for env in planned for location in env.locations]
    websocket = any(location.proxy and location.proxy.websocket for location in locations)
    http2_directive = at_least(settings.nginx_version, HTTP2_DIRECTIVE)
    listen = Listen(http2_directive, "ssl" if http2_directive else "ssl http2", settings.ipv6)
    https = any(env.tls for env in planned)
    return Plan(
        sources=tuple(env.source for env in planned),
        nginx_version=settings.nginx_version,
        swarm=settings.platform == "swarm",
        required_version=_required_version(planned, listen, https and settings.default_server),
        resolver=Resolver(
            address=DOCKER_RESOLVER,
            valid=settings.resolver_valid,
            timeout=settings.resolver_timeout,
        ),
        listen=listen,
        default_http=settings.default_server,
        default_https=settings.default_server and https,
        https_protocols=_https_protocols(planned),
        https_ciphers=_https_ciphers(ordered),
        connection_upgrade_variable=CONNECTION_UPGRADE_VARIABLE if websocket else None,
        rate_limits=tuple(location.rate_limit for location in locations if location.rate_limit),
        environments=planned,
        warnings=tuple(_profile_warnings(ordered, settings)) + tuple(_host_warnings(ordered)),
        json_log_format=(
            JSON_LOG_FORMAT
            if any(env.access_log and env.access_log.format == JSON_LOG_FORMAT for env in planned)
            else None
        ),
        maintenance_geos=tuple(
            env.maintenance for env in planned if env.maintenance and env.maintenance.variable
        ),
        cors_maps=tuple(
            location.cors for location in locations if location.cors and location.cors.variable
        ),
        default_quic=default_quic,
    )


def _quic_parameters(
    environments: Sequence[LoadedEnvironment], default_quic: bool
) -> list[str | None]:
    """`reuseport` may appear once per address and port: on the default server if there is
    one, else on the first environment with HTTP/3."""
    parameters: list[str | None] = []
    reuseport_given = default_quic
    for environment in environments:
        if not environment.model.http3:
            parameters.append(None)
            continue
        parameters.append("" if reuseport_given else "reuseport")
        reuseport_given = True
    return parameters


# Names Docker Desktop (or `extra_hosts: host-gateway`) puts in /etc/hosts, which nginx's
# resolver never reads: through Docker's DNS they resolve on Docker Desktop at best.
_HOSTS_FILE_NAMES = re.compile(r"localhost|(.+\.)?docker\.internal")


def _host_warnings(environments: Sequence[LoadedEnvironment]) -> list[Problem]:
    return [
        environment.source.problem(
            ("services", name, "host" if service.host else "hosts"),
            f"warning: {host!r} looks like a name from /etc/hosts (extra_hosts, Docker Desktop), "
            "which nginx's resolver does not read: it asks Docker's DNS on every request; give "
            "the service an IP address instead (address: 172.17.0.1, the host on Docker's "
            "default bridge)",
        )
        for environment in environments
        for name, service in environment.model.services.items()
        if service.address is None
        for host in service.addresses
        if _HOSTS_FILE_NAMES.fullmatch(host)
    ]
