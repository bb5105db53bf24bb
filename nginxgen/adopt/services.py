"""The services of one site: every `proxy_pass` target (a host:port, or an upstream block's
servers) named once, and the names the original resolved once at startup.
"""

from __future__ import annotations

import re
from typing import Any

from nginxgen.adopt.conversion_state import Collector, HttpLevel, UpstreamTarget, is_valid
from nginxgen.adopt.sites import block_of
from nginxgen.core.versions import UPSTREAM_RESOLVE, at_least
from nginxgen.generation.fields import Host, Name
from nginxgen.nginx.config import Directive

PROXY_URL = re.compile(
    r"(?P<scheme>[a-z]+)://(?P<host>[^/:$\s]+)(?::(?P<port>[0-9]+))?(?P<uri>/[^\s]*)?"
)


class Services:
    """The `services:` of one environment, filled as its locations are read."""

    def __init__(self, http: HttpLevel, collector: Collector, version: str) -> None:
        self.http = http
        self.collector = collector
        self.version = version
        self.services: dict[str, dict[str, Any]] = {}
        self.keys: dict[UpstreamTarget, str] = {}
        # The names nginx resolved once at startup in the original: host → where.
        self.static_names: dict[str, str] = {}

    def service_for(self, directive: Directive, url: str) -> str | None:
        match = PROXY_URL.fullmatch(url)
        if match is None or "$" in url:
            self.collector.left(directive, "proxy_pass with variables or no host")
            return None
        if match["scheme"] != "http":
            self.collector.left(directive, f"nginxgen proxies over http://, not {match['scheme']}")
            return None
        found = self._target(directive, match)
        if found is None:
            return None
        target, name = found
        if target not in self.keys:
            self.keys[target] = self._add(target, name)
        return self.keys[target]

    def _target(
        self, directive: Directive, match: re.Match[str]
    ) -> tuple[UpstreamTarget, str] | None:
        """What `proxy_pass` reaches, and the name its service key is made of: an upstream
        block's servers (a URL without port naming one), else the URL's host and port."""
        host = match["host"].lower()
        upstream = self.http.upstreams.get(match["host"])
        if upstream is not None and match["port"] is None:
            target = self._upstream_target(upstream)
            if target is None:
                return None
            for one in target.hosts:
                self.static_names.setdefault(one, f"upstream {match['host']}")
            return target, match["host"]
        if not is_valid(Host, host):
            self.collector.left(directive, f"{host!r} is not a host name nginxgen accepts")
            return None
        self.static_names.setdefault(host, "proxy_pass")
        return UpstreamTarget((host,), int(match["port"] or 80)), host

    def _add(self, target: UpstreamTarget, name: str) -> str:
        """A new service for `target`, under a key made of `name` that no other service has."""
        key = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-_")[:60] or "app"
        if not is_valid(Name, key):
            key = f"service-{key}"
        base, number = key, 2
        while key in self.services:
            key, number = f"{base}-{number}", number + 1
        service: dict[str, Any] = (
            {"host": target.hosts[0]} if len(target.hosts) == 1 else {"hosts": list(target.hosts)}
        )
        service["port"] = target.port
        self.services[key] = service
        return key

    def _upstream_target(self, upstream: Directive) -> UpstreamTarget | None:
        hosts: list[str] = []
        ports: set[int] = set()
        for directive in block_of(upstream):
            if directive.name == "server" and directive.args:
                address = self._upstream_server(directive)
                if address is not None:
                    hosts.append(address[0])
                    ports.add(address[1])
            elif directive.name in ("keepalive", "zone", "resolver", "keepalive_timeout"):
                self.collector.note(
                    directive,
                    "nginxgen sets its own (keepalive in nginxgen.yaml, upstream-resolve)",
                )
            else:
                self.collector.left(directive, "load-balancing method nginxgen does not set")
        if not hosts:
            self.collector.left(upstream, "no server nginxgen can resolve")
            return None
        if len(ports) > 1:
            self.collector.left(upstream, "servers on different ports: nginxgen uses one port")
        hosts = list(dict.fromkeys(hosts))
        if len(hosts) > 1 and not at_least(self.version, UPSTREAM_RESOLVE):
            self.collector.left(
                upstream,
                f"several servers need the upstream-resolve strategy (nginx >= "
                f"{UPSTREAM_RESOLVE}); only {hosts[0]} was kept: set nginx_version in "
                "nginxgen.yaml and list them under `hosts`",
            )
            hosts = hosts[:1]
        return UpstreamTarget(tuple(hosts), sorted(ports)[0])

    def _upstream_server(self, directive: Directive) -> tuple[str, int] | None:
        """(host, port) of an upstream's `server`, its parameters listed; None if unusable."""
        address, *parameters = directive.args
        host, _, port = address.rpartition(":") if ":" in address else (address, "", "80")
        if address.startswith("unix:") or not port.isdigit() or not is_valid(Host, host):
            self.collector.left(directive, "not a host:port nginxgen can resolve")
            return None
        for parameter in parameters:
            if parameter in ("backup", "down"):
                self.collector.left(directive, f"server parameter {parameter!r}")
            elif parameter != "resolve":
                self.collector.note(
                    directive, f"server parameter {parameter!r}: nginx's default applies"
                )
        return host.lower(), int(port)
