"""Environments → plan: every decision about what nginx must do, made before any text exists.

This module puts each environment's plan together and decides what concerns them all (the
required nginx version, the default servers, HTTP/3's `reuseport`, warnings). The environments
are first checked by the rules (`nginxgen.generation.rules`); routes and upstreams are planned
in `plan_locations`, TLS and server headers in `plan_tls`, the optional features in
`plan_features`; the plan types live in `plan_types`. Templates only loop over the plan; they
decide nothing.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Sequence

from nginxgen.core.errors import ConfigError, Problem
from nginxgen.core.facts import DOCKER_RESOLVER, hash_bucket_size
from nginxgen.core.versions import (
    ADD_HEADER_INHERIT,
    HTTP2_DIRECTIVE,
    HTTP3,
    REJECT_HANDSHAKE,
    UPSTREAM_RESOLVE,
    at_least,
    parse_version,
)
from nginxgen.generation.loader import LoadedEnvironment
from nginxgen.generation.models import (
    Environment,
    Settings,
    catch_all_ports,
    effective_strategy,
)
from nginxgen.generation.plan_features import (
    JSON_LOG_FORMAT,
    access_log_plan,
    access_plan,
    auth_plan,
    compression_plan,
    error_page,
    maintenance_plan,
)
from nginxgen.generation.plan_locations import (
    CONNECTION_UPGRADE_VARIABLE,
    FAILOVER,
    distinct_fallbacks,
    location_plan,
    route_order,
    timeout_directives,
    upstreams,
)
from nginxgen.generation.plan_metrics import (
    access_log_beside_metrics,
    metrics_log_format,
    metrics_plan,
)
from nginxgen.generation.plan_tls import (
    https_ciphers,
    https_protocols,
    profile_warnings,
    server_headers,
    tls_plan,
)
from nginxgen.generation.plan_types import (
    AuthPlan,
    CorsPlan,
    EnvironmentPlan,
    ErrorPage,
    Listen,
    Location,
    MaintenancePlan,
    PendingPlan,
    Plan,
    RateLimitPlan,
    RealIpPlan,
    Resolver,
)
from nginxgen.generation.rules import check_environments
from nginxgen.generation.sections import Timeouts
from nginxgen.nginx.directives import raw_name


def source_name(environment: LoadedEnvironment) -> str:
    return environment.source.file.replace("\\", "/").rsplit("/", 1)[-1]


def _resolver(model: Environment, settings: Settings) -> Resolver:
    return Resolver(
        address=DOCKER_RESOLVER,
        valid=model.resolver_valid or settings.resolver_valid,
        timeout=model.resolver_timeout or settings.resolver_timeout,
    )


def _plan_environment(
    environment: LoadedEnvironment, settings: Settings, quic: str | None = None
) -> EnvironmentPlan:
    model = environment.model
    strategy = effective_strategy(model, settings)
    routes = sorted(model.routes, key=route_order)
    canonical, redirect_names = _server_names(model)
    proxied = any(route.service for route in routes)
    resolver = _resolver(model, settings)
    merge = at_least(settings.nginx_version, ADD_HEADER_INHERIT)
    locations = tuple(
        location_plan(environment, route, index, strategy, merge)
        for index, route in enumerate(routes)
    )
    auth = auth_plan(environment.name, "server", model.auth) if model.auth else None
    metrics = settings.metrics is not None and settings.metrics.enabled
    access_log = access_log_plan(model)
    return EnvironmentPlan(
        name=environment.name,
        source=source_name(environment),
        strategy=strategy,
        domains=canonical,
        redirect_names=redirect_names,
        redirect_target=_primary_url(model),
        tls=tls_plan(model),
        acme_webroot=model.tls.acme_webroot if model.tls.enabled else None,
        response_headers=server_headers(model),
        access=access_plan(model.access, None),
        client_max_body_size=model.client_max_body_size,
        resolver=resolver,
        timeouts=_timeouts(model, settings) if proxied else (),
        failover=FAILOVER if proxied else None,
        error_page=error_page(model) if proxied else None,
        upstreams=upstreams(environment, strategy, settings, resolver),
        locations=locations,
        raw=tuple(model.raw),
        compression=compression_plan(model),
        access_log=access_log_beside_metrics(access_log) if metrics else access_log,
        maintenance=maintenance_plan(environment, merge),
        auth=auth,
        auth_locations=_auth_locations(auth, locations),
        quic=quic,
        merge_headers=merge,
        catch_all=model.catch_all,
        metrics_log_format=metrics_log_format(environment.name) if metrics else None,
    )


def _server_names(model: Environment) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The names the environment's server answers, and those that only redirect to the primary
    domain: with `redirect_to_primary` the other domains too."""
    if model.redirect_to_primary:
        return (model.primary_domain,), (*model.domains[1:], *model.redirect_domains)
    return tuple(model.domains), tuple(model.redirect_domains)


def _primary_url(model: Environment) -> str:
    return f"{'https' if model.tls.enabled else 'http'}://{model.primary_domain}"


def _timeouts(model: Environment, settings: Settings) -> tuple[tuple[str, str], ...]:
    """Each proxy timeout from the environment, else from the settings."""
    return timeout_directives(model.timeouts or Timeouts(), settings.timeouts)


def _auth_locations(auth: AuthPlan | None, locations: Sequence[Location]) -> tuple[AuthPlan, ...]:
    """Every auth the environment's server needs a location for: its own, then its routes'."""
    return ((auth,) if auth else ()) + tuple(
        location.auth for location in locations if location.auth
    )


PENDING = PendingPlan(
    ErrorPage(
        503,
        "text/plain",
        "certificate pending: the certificate of this site is being issued, try again shortly",
    ),
    retry_after=30,
)


def _pending(planned: EnvironmentPlan) -> EnvironmentPlan:
    """The environment while its certificate is issued: port 80, the ACME webroot, a 503."""
    return dataclasses.replace(
        planned,
        tls=None,
        redirect_target=f"http://{planned.domains[0]}",
        access=None,
        timeouts=(),
        failover=None,
        error_page=None,
        upstreams=(),
        locations=(),
        raw=(),
        compression=None,
        maintenance=None,
        auth=None,
        auth_locations=(),
        quic=None,
        pending=PENDING,
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


def build_plan(
    environments: Sequence[LoadedEnvironment],
    settings: Settings,
    loading_problems: Sequence[Problem] = (),
    pending: Collection[str] = (),
) -> Plan:
    """The plan for all environments, or ConfigError listing every rule they break.

    `loading_problems` are those of files that did not load: reported together with what the
    rules find in the files that did, so one run shows every problem it can. The environments
    named in `pending` wait for their certificate (`_pending`).
    """
    # Sorted first, so that which of two environments a conflict is blamed on never depends on
    # the order they were given in.
    ordered = sorted(environments, key=lambda environment: environment.name)
    problems = [*loading_problems, *check_environments(ordered, settings)]
    if problems:
        raise ConfigError(problems)
    default_http, default_https = _default_servers(ordered, settings, pending)
    default_quic = default_https and any(env.model.http3 for env in ordered)
    planned = _planned_environments(ordered, settings, pending, default_quic)
    locations = [location for env in planned for location in env.locations]
    listen = _listen(settings)
    return Plan(
        sources=tuple(env.source for env in planned),
        nginx_version=settings.nginx_version,
        swarm=settings.platform == "swarm",
        required_version=_required_version(planned, listen, default_https),
        resolver=Resolver(
            address=DOCKER_RESOLVER,
            valid=settings.resolver_valid,
            timeout=settings.resolver_timeout,
        ),
        listen=listen,
        default_http=default_http,
        default_https=default_https,
        https_protocols=https_protocols(planned),
        https_ciphers=https_ciphers(ordered),
        connection_upgrade_variable=_connection_upgrade_variable(locations),
        rate_limits=_rate_limits(locations),
        environments=planned,
        warnings=tuple(profile_warnings(ordered, settings)) + tuple(_host_warnings(ordered)),
        json_log_format=_json_log_format(planned),
        maintenance_geos=_maintenance_geos(planned),
        cors_maps=_cors_maps(locations),
        default_quic=default_quic,
        raw=tuple(settings.raw),
        real_ip=_real_ip(settings),
        metrics=metrics_plan(settings.metrics),
        server_names_hash_bucket_size=_server_names_bucket(planned, settings),
    )


def _planned_environments(
    ordered: Sequence[LoadedEnvironment],
    settings: Settings,
    pending: Collection[str],
    default_quic: bool,
) -> tuple[EnvironmentPlan, ...]:
    """Each environment's plan, in the given order; those in `pending` wait for their
    certificate."""
    return distinct_fallbacks(
        _pending(planned) if environment.name in pending else planned
        for environment, quic in zip(ordered, _quic_parameters(ordered, default_quic), strict=True)
        for planned in (_plan_environment(environment, settings, quic),)
    )


def _listen(settings: Settings) -> Listen:
    """From nginx 1.25.1 HTTP/2 is its own directive; before, a parameter of `listen`."""
    http2_directive = at_least(settings.nginx_version, HTTP2_DIRECTIVE)
    return Listen(http2_directive, "ssl" if http2_directive else "ssl http2", settings.ipv6)


def _connection_upgrade_variable(locations: Sequence[Location]) -> str | None:
    """The http-level map of `Connection` is needed once some route proxies WebSockets."""
    websocket = any(location.proxy and location.proxy.websocket for location in locations)
    return CONNECTION_UPGRADE_VARIABLE if websocket else None


def _rate_limits(locations: Sequence[Location]) -> tuple[RateLimitPlan, ...]:
    """The http-level `limit_req_zone` of every route with a rate limit."""
    return tuple(location.rate_limit for location in locations if location.rate_limit)


def _maintenance_geos(planned: Sequence[EnvironmentPlan]) -> tuple[MaintenancePlan, ...]:
    """The http-level `geo` of every maintenance with an allow-list (one with a variable)."""
    return tuple(env.maintenance for env in planned if env.maintenance and env.maintenance.variable)


def _cors_maps(locations: Sequence[Location]) -> tuple[CorsPlan, ...]:
    """The http-level `map` of every CORS route that echoes listed origins."""
    return tuple(
        location.cors for location in locations if location.cors and location.cors.variable
    )


def _json_log_format(planned: Sequence[EnvironmentPlan]) -> str | None:
    """The http-level JSON `log_format`, once some environment logs in it."""
    used = any(env.access_log and env.access_log.format == JSON_LOG_FORMAT for env in planned)
    return JSON_LOG_FORMAT if used else None


def _default_servers(
    environments: Sequence[LoadedEnvironment], settings: Settings, pending: Collection[str] = ()
) -> tuple[bool, bool]:
    """Whether nginxgen's refusing default server is needed on HTTP and on HTTPS: not on a port
    a catch-all environment answers, and not on HTTPS while every HTTPS environment waits for
    its certificate (`pending`: nothing would be served there, and no profile sets its TLS
    versions)."""
    taken = {port for env in environments for port in catch_all_ports(env.model)}
    https = any(env.model.tls.enabled and env.name not in pending for env in environments)
    return (
        settings.default_server and 80 not in taken,
        settings.default_server and https and 443 not in taken,
    )


def _server_names_bucket(environments: Sequence[EnvironmentPlan], settings: Settings) -> int | None:
    """The bucket size the longest `server_name` the output declares needs (wildcards counted
    as written: nginx stores them shorter); none when nginxgen.yaml's `raw` sets its own."""
    if any(raw_name(text) == "server_names_hash_bucket_size" for text in settings.raw):
        return None
    names = [name for env in environments for name in (*env.domains, *env.redirect_names)]
    return hash_bucket_size(max((len(name.encode()) for name in names), default=0))


def _real_ip(settings: Settings) -> RealIpPlan | None:
    real_ip = settings.real_ip
    if real_ip is None:
        return None
    return RealIpPlan(tuple(real_ip.from_), real_ip.header, real_ip.recursive)


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
