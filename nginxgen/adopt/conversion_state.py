"""What a conversion carries while it runs: the findings collector (each directive listed once),
what the http level holds that servers refer to (upstreams, rate-limit zones), the route being
built from a location, and `is_valid`, which asks the environment models whether a value fits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from nginxgen.adopt.sites import Finding, directive_text
from nginxgen.nginx.config import Directive


def is_valid(kind: Any, value: Any) -> bool:
    try:
        TypeAdapter(kind).validate_python(value)
    except ValidationError:
        return False
    return True


@dataclass(frozen=True)
class UpstreamTarget:
    hosts: tuple[str, ...]
    port: int


@dataclass
class HttpLevel:
    """What the http level holds that servers refer to."""

    upstreams: dict[str, Directive] = field(default_factory=dict)
    zones: dict[str, Directive] = field(default_factory=dict)
    resolver_valid: str | None = None
    nginx_version: str | None = None
    # Simple http-level directives kept for `raw` of nginxgen.yaml, and the real-IP ones.
    raw: list[str] = field(default_factory=list)
    real_ip: list[Directive] = field(default_factory=list)


class Collector:
    """The findings of one conversion, each directive listed once."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self._seen: set[tuple[str, int, str, str]] = set()

    def add(self, directive: Directive, kind: str, reason: str) -> None:
        key = (directive.file, directive.line, directive.name, reason)
        if key in self._seen:
            return
        self._seen.add(key)
        self.findings.append(
            Finding(directive.file, directive.line, directive_text(directive), kind, reason)
        )

    def left(self, directive: Directive, reason: str) -> None:
        self.add(directive, "not converted", reason)

    def note(self, directive: Directive, reason: str) -> None:
        self.add(directive, "note", reason)


@dataclass
class RouteDraft:
    """A location being converted: its route data and what it inherits from the server."""

    directive: Directive
    data: dict[str, Any] = field(default_factory=dict)
    request_headers: dict[str, str] = field(default_factory=dict)
    own_request_headers: bool = False
    # The Host header set for the upstream, if any (nginx's default: proxy_pass's host).
    host_header: str | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    own_response_headers: bool = False
    upgrade: bool = False
    connection: bool = False
    proxy_uri: str | None = None
    root: str | None = None
    try_files: Directive | None = None
    allow: list[str] = field(default_factory=list)
    own_allow: bool = False
    auth: dict[str, str] = field(default_factory=dict)
    auth_off: bool = False
    limit: dict[str, Any] | None = None
    timeouts: dict[str, str] = field(default_factory=dict)
    buffering: bool | None = None
    raw: list[str] = field(default_factory=list)
