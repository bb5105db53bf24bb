"""Environments → plan: every decision about what nginx must do, made before any text exists.

The rules that span more than one field live here: routes must name defined services, paths and
domains must be unique, environment and service names must map to distinct nginx variables.
Templates only loop over the plan; they decide nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from nginxgen.errors import ConfigError, Problem
from nginxgen.loader import LoadedEnvironment
from nginxgen.models import Settings

DOCKER_RESOLVER = "127.0.0.11"
CONNECTION_UPGRADE_VARIABLE = "nginxgen_connection_upgrade"

ENVIRONMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")

_PROXY_HEADERS = (
    ("Host", "$host"),
    ("X-Real-IP", "$remote_addr"),
    ("X-Forwarded-For", "$proxy_add_x_forwarded_for"),
    ("X-Forwarded-Proto", "$scheme"),
)
_WEBSOCKET_HEADERS = (
    ("Upgrade", "$http_upgrade"),
    ("Connection", f"${CONNECTION_UPGRADE_VARIABLE}"),
)


@dataclass(frozen=True)
class Location:
    """A `location` block proxying one URL prefix to one service through a variable."""

    path: str
    variable: str
    target: str
    websocket: bool
    headers: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class TlsFiles:
    certificate: str
    certificate_key: str


@dataclass(frozen=True)
class EnvironmentPlan:
    """The servers of one environment: HTTPS with an HTTP redirect, or plain HTTP."""

    name: str
    source: str
    domains: tuple[str, ...]
    tls: TlsFiles | None
    locations: tuple[Location, ...]


@dataclass(frozen=True)
class Resolver:
    address: str
    valid: str


@dataclass(frozen=True)
class Plan:
    sources: tuple[str, ...]
    resolver: Resolver
    environments: tuple[EnvironmentPlan, ...]
    connection_upgrade_variable: str | None


def variable_part(name: str) -> str:
    """The part of an nginx variable name a YAML name becomes (variables ignore case)."""
    return name.replace("-", "_").lower()


def upstream_variable(environment: str, service: str) -> str:
    return f"upstream_{variable_part(environment)}_{variable_part(service)}"


def source_name(environment: LoadedEnvironment) -> str:
    return environment.source.file.replace("\\", "/").rsplit("/", 1)[-1]


def _tls_files(environment: LoadedEnvironment) -> TlsFiles | None:
    tls = environment.model.tls
    if not tls.enabled:
        return None
    live = f"/etc/letsencrypt/live/{environment.model.primary_domain.removeprefix('*.')}"
    return TlsFiles(
        certificate=tls.certificate or f"{live}/fullchain.pem",
        certificate_key=tls.certificate_key or f"{live}/privkey.pem",
    )


def _plan_environment(environment: LoadedEnvironment) -> EnvironmentPlan:
    model = environment.model
    locations = []
    for route in sorted(model.routes, key=lambda route: route.path):
        service = model.services[route.service]
        locations.append(
            Location(
                path=route.path,
                variable=upstream_variable(environment.name, route.service),
                target=f"http://{service.host}:{service.port}",
                websocket=route.websocket,
                headers=_PROXY_HEADERS + (_WEBSOCKET_HEADERS if route.websocket else ()),
            )
        )
    return EnvironmentPlan(
        name=environment.name,
        source=source_name(environment),
        domains=tuple(model.domains),
        tls=_tls_files(environment),
        locations=tuple(locations),
    )


def _environment_problems(environment: LoadedEnvironment) -> list[Problem]:
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
    seen_services: dict[str, str] = {}
    for name in model.services:
        key = variable_part(name)
        if key in seen_services:
            problems.append(
                source.problem(
                    ("services", name),
                    f"service {name!r} maps to the same nginx variable as {seen_services[key]!r}",
                )
            )
        seen_services.setdefault(key, name)
    seen_domains: set[str] = set()
    for index, domain in enumerate(model.domains):
        if domain in seen_domains:
            problems.append(source.problem(("domains", index), f"domain {domain!r} is repeated"))
        seen_domains.add(domain)
    seen_paths: dict[str, int] = {}
    for index, route in enumerate(model.routes):
        if route.service not in model.services:
            defined = ", ".join(sorted(model.services))
            problems.append(
                source.problem(
                    ("routes", index, "service"),
                    f"service {route.service!r} is not defined (defined: {defined})",
                )
            )
        if route.path in seen_paths:
            problems.append(
                source.problem(
                    ("routes", index, "path"),
                    f"path {route.path!r} is already routed by routes[{seen_paths[route.path]}]",
                )
            )
        seen_paths.setdefault(route.path, index)
    return problems


def _cross_environment_problems(environments: Sequence[LoadedEnvironment]) -> list[Problem]:
    """Rules across environments: names must stay distinct as variables, domains unique."""
    problems = []
    names: dict[str, LoadedEnvironment] = {}
    domains: dict[str, tuple[LoadedEnvironment, int]] = {}
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
        for index, domain in enumerate(environment.model.domains):
            other, other_index = domains.setdefault(domain, (environment, index))
            if other is not environment:
                line, _ = other.source.locate(("domains", other_index))
                problems.append(
                    environment.source.problem(
                        ("domains", index),
                        f"domain {domain!r} is already served by environment {other.name!r} "
                        f"({other.source.file}:{line})",
                    )
                )
    return problems


def check_environments(environments: Sequence[LoadedEnvironment]) -> list[Problem]:
    problems = [p for environment in environments for p in _environment_problems(environment)]
    return problems + _cross_environment_problems(environments)


def build_plan(environments: Sequence[LoadedEnvironment], settings: Settings) -> Plan:
    """The plan for all environments, or ConfigError listing every rule they break."""
    problems = check_environments(environments)
    if problems:
        raise ConfigError(problems)
    ordered = sorted(environments, key=lambda environment: environment.name)
    planned = tuple(_plan_environment(environment) for environment in ordered)
    websocket = any(location.websocket for env in planned for location in env.locations)
    return Plan(
        sources=tuple(env.source for env in planned),
        resolver=Resolver(address=DOCKER_RESOLVER, valid=settings.resolver_valid),
        environments=planned,
        connection_upgrade_variable=CONNECTION_UPGRADE_VARIABLE if websocket else None,
    )
