"""Sites → environment-file data. Every directive ends up converted, kept as `raw`, or listed
as a `Finding` with its file, line and why: nothing is dropped silently.

This module reads the http level (upstreams, rate-limit zones, the resolver), reports how the
servers were grouped, and names the environments; each site is converted by `site_converter`,
whose directives are read by the tables of `handlers`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from nginxgen.adopt.conversion_state import Collector, HttpLevel, is_valid
from nginxgen.adopt.site_converter import SiteConverter
from nginxgen.adopt.sites import Finding, Grouping, Server, block_of, group, read_server, servers_of
from nginxgen.core.versions import DEFAULT_TARGET
from nginxgen.generation.fields import Duration
from nginxgen.nginx.config import Directive, ParsedConfig


@dataclass
class Conversion:
    """The result of converting a whole config."""

    environments: list[tuple[str, dict[str, Any]]]
    settings: dict[str, Any]
    findings: list[Finding]
    # The names nginx resolved once at startup in the original, as `host (where)`.
    static_names: list[str]

    @property
    def complete(self) -> bool:
        return not any(finding.kind == "not converted" for finding in self.findings)


def convert(config: ParsedConfig, nginx_version: str | None = None) -> Conversion:
    """Environment data for every site of `config`, with everything else listed."""
    collector = Collector()
    http_directives, main_directives = servers_of(config)
    http = HttpLevel(nginx_version=nginx_version)
    for directive in main_directives:
        collector.add(directive, "main config", "main context: stays in nginx.conf")
    servers: list[Server] = []
    for directive in http_directives:
        if directive.name == "server":
            servers.append(read_server(directive))
        else:
            _http_directive(directive, config, http, collector)
    grouping = group(servers)
    _report_grouping(grouping, collector)
    environments: list[tuple[str, dict[str, Any]]] = []
    used_names: set[str] = set()
    static_names: dict[str, str] = {}
    version = http.nginx_version or DEFAULT_TARGET
    for site in grouping.sites:
        converter = SiteConverter(site, http, collector, version)
        data = converter.environment()
        if data is None:
            continue
        name = environment_name(site.primary, used_names)
        used_names.add(name)
        environments.append((name, data))
        static_names.update(converter.static_names)
    settings: dict[str, Any] = {}
    if http.nginx_version:
        settings["nginx_version"] = http.nginx_version
    if http.resolver_valid:
        settings["resolver_valid"] = http.resolver_valid
    findings = sorted(collector.findings, key=lambda f: (f.file, f.line, f.text, f.reason))
    return Conversion(
        environments,
        settings,
        findings,
        [f"{host} ({where})" for host, where in sorted(static_names.items())],
    )


def environment_name(domain: str, used: set[str]) -> str:
    """`staging.daatan.com` → `staging-daatan-com`: a valid, unused environment name."""
    base = re.sub(r"[^a-z0-9]+", "-", domain.lower().replace("*.", "wildcard.")).strip("-")
    base = (base or "site")[:60]
    name, number = base, 2
    while name in used or name.replace("-", "_") in {u.replace("-", "_") for u in used}:
        name, number = f"{base}-{number}", number + 1
    return name


def _http_directive(
    directive: Directive, config: ParsedConfig, http: HttpLevel, collector: Collector
) -> None:
    name = directive.name
    if name == "upstream" and directive.args:
        http.upstreams[directive.args[0]] = directive
    elif name == "limit_req_zone":
        zone = next((a for a in directive.args if a.startswith("zone=")), "zone=")
        http.zones[zone[5:].split(":")[0]] = directive
    elif name == "resolver":
        valid = next((a[6:] for a in directive.args if a.startswith("valid=")), None)
        if valid and is_valid(Duration, valid):
            http.resolver_valid = valid
        collector.note(directive, "nginxgen uses Docker's DNS (127.0.0.11) for every service")
    elif name == "map" and _is_websocket_map(directive):
        collector.note(directive, "websocket map: nginxgen defines its own for websocket routes")
    elif config.context == "main" and directive.file == config.name:
        collector.add(directive, "main config", "http level of nginx.conf: stays in force there")
    else:
        collector.left(
            directive,
            "http-level directive of a file the generated output replaces; "
            "move it to nginx.conf or into the environments' raw",
        )


def _is_websocket_map(directive: Directive) -> bool:
    if directive.args[:1] != ("$http_upgrade",):
        return False
    values = {tuple(d.args) for d in block_of(directive)}
    return {d.name for d in block_of(directive)} <= {"default", ""} or values <= {
        ("upgrade",),
        ("close",),
    }


def _report_grouping(grouping: Grouping, collector: Collector) -> None:
    for server in grouping.default_servers:
        refuses = any(
            (d.name == "return" and d.args[:1] == ("444",))
            or (d.name == "ssl_reject_handshake" and d.args == ("on",))
            for d in server.body
        ) or any(
            d.name == "return" and d.args[:1] == ("444",)
            for location in server.locations
            for d in block_of(location)
        )
        if refuses:
            collector.note(server.directive, "default server: nginxgen generates its own")
        else:
            collector.left(
                server.directive,
                "catch-all server with content: nginxgen's default servers refuse unknown names",
            )
    for server, why in grouping.leftover:
        collector.left(server.directive, why)
    for site in grouping.sites:
        for redirector in site.https_redirects + site.alias_servers:
            collector.add(
                redirector.server.directive,
                "note",
                f"redirect server folded into the site of {site.primary}",
            )
