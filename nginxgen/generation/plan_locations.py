"""The plan of routes: one `Location` per route in nginx's order, with its proxying (address,
headers, timeouts, websocket, strip_prefix) or static files, its rate limit, access and
response headers; and the upstreams of the upstream-resolve strategy, with their failover.
"""

from __future__ import annotations

import re

from nginxgen.generation.loader import LoadedEnvironment
from nginxgen.generation.models import Environment, Settings
from nginxgen.generation.naming import (
    auth_header_variable,
    rate_limit_zone,
    reached_host,
    upstream_name,
    upstream_variable,
)
from nginxgen.generation.plan_features import access_plan, auth_plan, cors_headers, cors_plan
from nginxgen.generation.plan_tls import client_certificate_headers, server_headers
from nginxgen.generation.plan_types import (
    Failover,
    Header,
    Location,
    Proxy,
    RateLimitPlan,
    Resolver,
    Upstream,
)
from nginxgen.generation.sections import ForwardAuth, Route, Timeouts

CONNECTION_UPGRADE_VARIABLE = "nginxgen_connection_upgrade"
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
_PROXY_HEADERS = (
    Header("Host", "$host"),
    Header("X-Real-IP", "$remote_addr"),
    Header("X-Forwarded-For", "$proxy_add_x_forwarded_for"),
    Header("X-Forwarded-Proto", "$scheme"),
)


def route_order(route: Route) -> tuple[int, str]:
    """Exact and prefix routes sorted by path (nginx picks among them by path alone); regex
    routes keep the order of the file, since nginx tries them in the order they are written."""
    kind = {"exact": 0, "prefix": 1, "regex": 2}[route.match]
    return (kind, route.path if kind < 2 else "")


def location_plan(
    environment: LoadedEnvironment, route: Route, index: int, strategy: str, merge: bool = False
) -> Location:
    """`merge`: the target nginx merges the server's add_headers in (add_header_inherit)."""
    model = environment.model
    modifier = {"prefix": "", "exact": "=", "regex": "~"}[route.match]
    static = route.static
    limit = route.rate_limit
    cors = cors_plan(environment.name, route, index)
    own_headers = cors_headers(cors) + _literal(route.response_headers)
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
        access=access_plan(route.access, model.access),
        # add_header in a location hides every add_header of the server: repeat them here,
        # unless `add_header_inherit merge` adds them.
        response_headers=(
            own_headers if merge or not own_headers else server_headers(model) + own_headers
        ),
        raw=tuple(route.raw),
        cors=cors,
        auth=auth_plan(environment.name, f"route{index}", route.auth) if route.auth else None,
        auth_off=bool(route.auth and not route.auth.enabled and model.auth),
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
    # The client certificate's verdict is nginx's: neither the client nor request_headers set it.
    client = client_certificate_headers(environment.model)
    fixed = {header.name.lower() for header in client}
    extra = (
        tuple(
            header for header in _literal(route.request_headers) if header.name.lower() not in fixed
        )
        + client
    )
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
        timeouts=timeout_directives(timeouts),
        buffering=route.buffering,
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


def timeout_directives(
    timeouts: Timeouts, fallback: Timeouts | None = None
) -> tuple[tuple[str, str], ...]:
    """(directive, duration) for each timeout `timeouts` sets, else `fallback` sets."""
    chosen = (
        (directive, getattr(timeouts, key) or (getattr(fallback, key) if fallback else None))
        for key, directive in _TIMEOUT_DIRECTIVES
    )
    return tuple((directive, value) for directive, value in chosen if value)


def upstreams(
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
