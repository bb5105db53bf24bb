"""The rules an environment must follow that no single field can check, as a table of small
named functions (like the lint rules): each takes one loaded environment and the settings and
yields located problems. Rules across environments (distinct variables, unique domains) follow.

`check_environments` runs them all; the plan is only built from environments that pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence

from nginxgen.core.errors import Problem
from nginxgen.core.facts import SWARM_TASKS_PREFIX
from nginxgen.core.versions import HTTP3, UPSTREAM_RESOLVE, at_least
from nginxgen.generation.fields import NAME_PATTERN
from nginxgen.generation.loader import LoadedEnvironment
from nginxgen.generation.models import Settings, effective_strategy, strategy_problem
from nginxgen.generation.naming import variable_part

EnvironmentRule = Callable[[LoadedEnvironment, Settings], Iterator[Problem]]


def environment_name(environment: LoadedEnvironment, settings: Settings) -> Iterator[Problem]:
    """The file name becomes the environment's name and part of nginx variable names."""
    if not re.fullmatch(NAME_PATTERN, environment.name):
        yield environment.source.problem(
            (),
            f"environment name {environment.name!r} (the file name) may only contain "
            "letters, digits, '-' and '_', starting with a letter or digit",
        )


def strategy_fits_version(environment: LoadedEnvironment, settings: Settings) -> Iterator[Problem]:
    strategy = environment.model.strategy
    problem = strategy_problem(strategy, settings.nginx_version) if strategy else None
    if problem:
        yield environment.source.problem(("strategy",), f"{problem} (nginxgen.yaml)")


def service_variables_distinct(
    environment: LoadedEnvironment, settings: Settings
) -> Iterator[Problem]:
    seen: dict[str, str] = {}
    for name in environment.model.services:
        key = variable_part(name)
        if key in seen:
            yield environment.source.problem(
                ("services", name),
                f"service {name!r} maps to the same nginx variable as {seen[key]!r}",
            )
        seen.setdefault(key, name)


def replicas_need_upstream_resolve(
    environment: LoadedEnvironment, settings: Settings
) -> Iterator[Problem]:
    if (
        effective_strategy(environment.model, settings) != "variable"
        or settings.platform == "swarm"
    ):
        return  # on swarm, `swarm_services_are_service_names` says why, in Swarm's terms
    for name, service in environment.model.services.items():
        if len(service.addresses) > 1:
            yield environment.source.problem(
                ("services", name, "hosts"),
                "several hosts need the upstream-resolve strategy (nginx >= "
                f"{UPSTREAM_RESOLVE}); with the variable strategy give one host "
                "(a name with several addresses is balanced too)",
            )


def swarm_services_are_service_names(
    environment: LoadedEnvironment, settings: Settings
) -> Iterator[Problem]:
    """On swarm a host is a service name: nginx reaches `tasks.<host>` (upstream-resolve) or the
    service's virtual IP (variable), so what cannot name a service is refused."""
    if settings.platform != "swarm":
        return
    strategy = effective_strategy(environment.model, settings)
    for name, service in environment.model.services.items():
        field = "host" if service.host is not None else "hosts"
        if strategy == "variable" and len(service.addresses) > 1:
            yield environment.source.problem(
                ("services", name, field),
                "on swarm the variable strategy reaches a service through its virtual IP, one "
                "address per service, and Swarm balances its tasks: give one host (the service), "
                f"or use the upstream-resolve strategy (nginx >= {UPSTREAM_RESOLVE})",
            )
        for index, host in enumerate(service.addresses):
            where = (
                ("services", name, field) if field == "host" else ("services", name, field, index)
            )
            if host.startswith(SWARM_TASKS_PREFIX):
                yield environment.source.problem(
                    where,
                    f"{host!r}: on swarm nginxgen addresses {SWARM_TASKS_PREFIX}<service> itself; "
                    f"give the service name {host.removeprefix(SWARM_TASKS_PREFIX)!r}",
                )
            elif strategy == "upstream-resolve" and "." in host:
                yield environment.source.problem(
                    where,
                    f"{host!r} cannot be a Swarm service (service names have no dots), so "
                    f"{SWARM_TASKS_PREFIX}{host} would never resolve: give the service name "
                    "or network alias",
                )


def redirects_need_a_plain_primary(
    environment: LoadedEnvironment, settings: Settings
) -> Iterator[Problem]:
    model = environment.model
    if model.primary_domain.startswith("*.") and (
        model.redirect_to_primary or model.redirect_domains
    ):
        yield environment.source.problem(
            ("domains", 0),
            f"redirects need a primary domain to send clients to, not the wildcard "
            f"{model.primary_domain!r}: put a plain name first",
        )


def domains_unique(environment: LoadedEnvironment, settings: Settings) -> Iterator[Problem]:
    seen: set[str] = set()
    for path, domain in all_domains(environment):
        if domain in seen:
            yield environment.source.problem(path, f"domain {domain!r} is repeated")
        seen.add(domain)


def routes_name_defined_services(
    environment: LoadedEnvironment, settings: Settings
) -> Iterator[Problem]:
    services = environment.model.services
    for index, route in enumerate(environment.model.routes):
        if route.service is not None and route.service not in services:
            defined = ", ".join(sorted(services))
            yield environment.source.problem(
                ("routes", index, "service"),
                f"service {route.service!r} is not defined (defined: {defined})",
            )


def route_paths_unique(environment: LoadedEnvironment, settings: Settings) -> Iterator[Problem]:
    seen: dict[tuple[str, str], int] = {}
    for index, route in enumerate(environment.model.routes):
        key = (route.match, route.path)
        if key in seen:
            yield environment.source.problem(
                ("routes", index, "path"),
                f"path {route.path!r} is already routed by routes[{seen[key]}]",
            )
        seen.setdefault(key, index)


def forward_auth_not_beside_basic_auth(
    environment: LoadedEnvironment, settings: Settings
) -> Iterator[Problem]:
    """Both answer 401: the sign-in redirect would swallow the password prompt."""
    model = environment.model
    basic = model.access.basic_auth if model.access else None
    if model.auth and model.auth.enabled and basic:
        yield environment.source.problem(
            ("auth",), "forward auth and access.basic_auth cannot protect the same routes"
        )
        return
    for index, route in enumerate(model.routes):
        auth = route.auth if route.auth is not None else model.auth
        route_basic = route.access.basic_auth if route.access else basic
        if auth and auth.enabled and route_basic:
            yield environment.source.problem(
                ("routes", index, "auth" if route.auth else "access"),
                "forward auth and basic_auth cannot protect the same route",
            )


def http3_needs_tls_and_nginx_1_25(
    environment: LoadedEnvironment, settings: Settings
) -> Iterator[Problem]:
    model = environment.model
    if not model.http3:
        return
    if not model.tls.enabled:
        yield environment.source.problem(("http3",), "HTTP/3 needs TLS (tls is false)")
    if not at_least(settings.nginx_version, HTTP3):
        yield environment.source.problem(
            ("http3",),
            f"HTTP/3 needs nginx >= {HTTP3} built with the http_v3 module, but nginx_version "
            f"is {settings.nginx_version} (nginxgen.yaml)",
        )


def wildcards_need_dns_01(environment: LoadedEnvironment, settings: Settings) -> Iterator[Problem]:
    """An ACME server proves a wildcard name only through DNS-01: HTTP-01 cannot issue it."""
    acme = settings.acme
    tls = environment.model.tls
    if acme is None or not acme.issues or acme.challenge != "http-01":
        return
    if not tls.enabled or tls.certificate is not None:
        return
    for path, domain in all_domains(environment):
        if domain.startswith("*."):
            yield environment.source.problem(
                path,
                f"{domain!r} is a wildcard: ACME issues wildcards through DNS-01 only, and "
                "acme.challenge is http-01 (nginxgen.yaml); set challenge: dns-01 with dns: "
                "{plugin, credentials}, or give tls.certificate",
            )


ENVIRONMENT_RULES: tuple[EnvironmentRule, ...] = (
    environment_name,
    strategy_fits_version,
    service_variables_distinct,
    replicas_need_upstream_resolve,
    swarm_services_are_service_names,
    redirects_need_a_plain_primary,
    domains_unique,
    routes_name_defined_services,
    route_paths_unique,
    forward_auth_not_beside_basic_auth,
    http3_needs_tls_and_nginx_1_25,
    wildcards_need_dns_01,
)


def all_domains(environment: LoadedEnvironment) -> list[tuple[tuple[str, int], str]]:
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
        for path, domain in all_domains(environment):
            places.setdefault(domain, []).append((environment, path))
    for domain, found in places.items():
        for environment, path in found:
            other = next(((o, p) for o, p in found if o is not environment), None)
            if other is None:
                continue
            line, _ = other[0].source.locate(other[1])
            problems.append(
                environment.source.problem(
                    path,
                    f"domain {domain!r} is also served by environment {other[0].name!r} "
                    f"({other[0].source.file}:{line})",
                )
            )
    return problems


def check_environments(
    environments: Sequence[LoadedEnvironment], settings: Settings
) -> list[Problem]:
    problems = [
        problem
        for environment in environments
        for rule in ENVIRONMENT_RULES
        for problem in rule(environment, settings)
    ]
    return problems + _cross_environment_problems(environments)
