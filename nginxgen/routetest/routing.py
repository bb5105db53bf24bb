"""Which environment and route nginx picks for a request, by nginx's own rules.

Servers by name (exact, then wildcard); within a server: an exact location wins, else the
regex locations in file order, else the longest prefix. `explain` and the implicit tests use it
to say which route a request should reach; the real nginx then shows which service it did reach.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from nginxgen.generation.loader import LoadedEnvironment
from nginxgen.generation.models import Environment, catch_all_ports
from nginxgen.generation.route_tests import RequestLine
from nginxgen.generation.sections import Route


@dataclass(frozen=True)
class Destination:
    """The environment whose server answers a request, and how."""

    environment: LoadedEnvironment
    # "route": a route of the environment answers; "redirect": the server only redirects.
    kind: str
    route_index: int | None = None

    @property
    def route(self) -> Route | None:
        if self.route_index is None:
            return None
        return self.environment.model.routes[self.route_index]


def _name_matches(pattern: str, host: str) -> bool:
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and host != pattern[2:]
    return pattern == host


def environment_for(
    environments: Sequence[LoadedEnvironment], host: str
) -> tuple[LoadedEnvironment, bool] | None:
    """The environment serving `host`, and whether that name only redirects to its primary."""
    for exact in (True, False):
        for environment in environments:
            model = environment.model
            redirecting = set(model.redirect_domains)
            if model.redirect_to_primary:
                redirecting |= set(model.domains[1:])
            for name in (*model.domains, *model.redirect_domains):
                if name.startswith("*.") == exact:
                    continue
                if _name_matches(name, host):
                    return environment, name in redirecting
    return None


def route_for(model: Environment, target: str) -> int | None:
    """The index of the route nginx picks for `target` (path and query), or None (nginx 404s)."""
    path = _normalized(target.partition("?")[0])
    for index, route in enumerate(model.routes):
        if route.match == "exact" and route.path == path:
            return index
    for index, route in enumerate(model.routes):
        if route.match == "regex" and re.search(route.path, path):
            return index
    best: int | None = None
    for index, route in enumerate(model.routes):
        longer = best is None or len(route.path) > len(model.routes[best].path)
        if route.match == "prefix" and path.startswith(route.path) and longer:
            best = index
    return best


def destination(
    environments: Sequence[LoadedEnvironment], request: RequestLine
) -> Destination | None:
    """Where `request` lands; None when no environment serves its host (the default server)
    and no catch-all environment answers its port."""
    found = environment_for(environments, request.host) or _catch_all(environments, request)
    if found is None:
        return None
    environment, redirecting = found
    https_only = environment.model.tls.enabled and not request.tls
    if redirecting or https_only:
        return Destination(environment, "redirect")
    return Destination(environment, "route", route_for(environment.model, request.target))


def _catch_all(
    environments: Sequence[LoadedEnvironment], request: RequestLine
) -> tuple[LoadedEnvironment, bool] | None:
    """The catch-all environment answering the unknown names of the request's port."""
    port = 443 if request.tls else 80
    for environment in environments:
        if port in catch_all_ports(environment.model):
            return environment, False
    return None


def _normalized(path: str) -> str:
    decoded = unquote(path)
    normalized = posixpath.normpath(decoded) if decoded not in ("", "/") else "/"
    normalized = re.sub("/+", "/", normalized)
    if decoded.endswith("/") and not normalized.endswith("/"):
        normalized += "/"
    return normalized
