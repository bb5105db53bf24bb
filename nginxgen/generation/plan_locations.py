"""The plan of routes: one `Location` per route in nginx's order, with its proxying (address,
headers, timeouts, websocket, strip_prefix) or static files, its rate limit, access and
response headers; and the upstreams of the upstream-resolve strategy, with their failover.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable

from nginxgen.generation.loader import LoadedEnvironment
from nginxgen.generation.models import Environment, Settings
from nginxgen.generation.naming import (
    auth_header_variable,
    fallback_listen,
    fallback_variable,
    rate_limit_zone,
    reached_host,
    upstream_name,
    upstream_variable,
)
from nginxgen.generation.plan_features import access_plan, auth_plan, cors_headers, cors_plan
from nginxgen.generation.plan_tls import client_certificate_headers, server_headers
from nginxgen.generation.plan_types import (
    EnvironmentPlan,
    Failover,
    Fallback,
    Header,
    Location,
    Proxy,
    RateLimitPlan,
    Resolver,
    Rewrite,
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
    pooled = strategy == "upstream-resolve"
    return Proxy(
        variable=upstream_variable(environment.name, route.service),
        address=_proxy_address(environment, route.service, pooled),
        pooled=pooled,
        websocket=route.websocket,
        http11=pooled or route.websocket,
        connection=_connection(route, pooled),
        headers=_proxy_headers(environment.model, route),
        strip_prefix=_strip_prefix(route),
        timeouts=timeout_directives(_route_timeouts(route)),
        buffering=route.buffering,
    )


def _proxy_address(environment: LoadedEnvironment, name: str, pooled: bool) -> str:
    """The upstream's name (upstream-resolve), else the service's first address and port."""
    if pooled:
        return upstream_name(environment.name, name)
    service = environment.model.services[name]
    return f"http://{service.addresses[0]}:{service.port}"


def _connection(route: Route, pooled: bool) -> str | None:
    """The websocket map's variable; "" for keepalive to a pool; None: nginx's `close`."""
    if route.websocket:
        return f"${CONNECTION_UPGRADE_VARIABLE}"
    return "" if pooled else None


def _proxy_headers(model: Environment, route: Route) -> tuple[Header, ...]:
    """The request headers to the service, each name once: the client certificate's beat the
    route's `request_headers`, which beat the features', which beat the standard proxy ones."""
    # The client certificate's verdict is nginx's: neither the client nor request_headers set it.
    client = client_certificate_headers(model)
    fixed = {header.name.lower() for header in client}
    extra = (
        tuple(
            header for header in _literal(route.request_headers) if header.name.lower() not in fixed
        )
        + client
    )
    overridden = {header.name.lower() for header in extra}
    features = tuple(
        header for header in _feature_headers(model, route) if header.name.lower() not in overridden
    )
    overridden |= {header.name.lower() for header in features}
    headers = tuple(header for header in _PROXY_HEADERS if header.name.lower() not in overridden)
    if route.websocket:
        headers += (Header("Upgrade", "$http_upgrade"),)
    return headers + features + extra


def _route_timeouts(route: Route) -> Timeouts:
    """The route's timeouts; a websocket's read timeout is long unless the route sets one."""
    timeouts = route.timeouts or Timeouts()
    if route.websocket and not timeouts.read:
        return timeouts.model_copy(update={"read": WEBSOCKET_READ_TIMEOUT})
    return timeouts


def _strip_prefix(route: Route) -> Rewrite | None:
    return strip_prefix_rewrite(route.path) if route.strip_prefix else None


# `strip_prefix`: `rewrite ^/api/?(.*)$ /$1 break`. Written here and read back by import's
# comparison (`stripped_prefix`), the one definition of its form.
_STRIP_REPLACEMENT = "/$1"
_STRIP_PATTERN = re.compile(r"\^(?P<prefix>.*)/\?\(\.\*\)\$")


def strip_prefix_rewrite(path: str) -> Rewrite:
    """The rewrite that removes the prefix `path` before the request is proxied."""
    return Rewrite(f"^{re.escape(path.rstrip('/'))}/?(.*)$", _STRIP_REPLACEMENT)


def stripped_prefix(pattern: str, replacement: str) -> str | None:
    """The prefix (with its trailing slash) a `strip_prefix_rewrite` removes, else None."""
    match = _STRIP_PATTERN.fullmatch(pattern)
    if match is None or replacement != _STRIP_REPLACEMENT:
        return None
    return re.sub(r"\\(.)", r"\1", match["prefix"]) + "/"


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
        _upstream(
            upstream_name(environment.name, name),
            tuple(
                f"{reached_host(host, settings.platform, strategy)}:{services[name].port}"
                for host in services[name].addresses
            ),
            settings,
            resolver,
        )
        for name in used
    )


def _upstream(
    name: str, servers: tuple[str, ...], settings: Settings, resolver: Resolver
) -> Upstream:
    return Upstream(
        name=name,
        servers=servers,
        keepalive=settings.keepalive,
        resolver=resolver,
        max_fails=MAX_FAILS,
        fail_timeout=FAIL_TIMEOUT,
        fallbacks=tuple(
            Fallback(
                listen=fallback_listen(name, index),
                variable=fallback_variable(name, index),
                target=server,
            )
            for index, server in enumerate(servers)
        ),
    )


def distinct_fallbacks(environments: Iterable[EnvironmentPlan]) -> tuple[EnvironmentPlan, ...]:
    """The environments with every fallback server on an address no other one has: the later
    of two that would share one moves to its next address (see `fallback_listen`)."""
    taken: set[str] = set()

    def place(upstream: Upstream) -> Upstream:
        fallbacks = []
        for index, fallback in enumerate(upstream.fallbacks):
            attempt = 0
            while fallback.listen in taken:
                attempt += 1
                fallback = dataclasses.replace(
                    fallback, listen=fallback_listen(upstream.name, index, attempt)
                )
            taken.add(fallback.listen)
            fallbacks.append(fallback)
        return dataclasses.replace(upstream, fallbacks=tuple(fallbacks))

    return tuple(
        dataclasses.replace(env, upstreams=tuple(place(upstream) for upstream in env.upstreams))
        for env in environments
    )
