"""Sites → environment-file data. Every directive ends up converted, kept as `raw`, or listed
as a `Finding` with its file, line and why: nothing is dropped silently.

This module reads the http level (upstreams, rate-limit zones, the resolver), reports how the
servers were grouped, and names the environments; each site is converted by `site_converter`,
whose directives are read by the tables of `handlers`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nginxgen.adopt.conversion_state import Collector, HttpLevel, is_valid
from nginxgen.adopt.handlers import DHPARAM_NOTE, include_note
from nginxgen.adopt.site_converter import SiteConverter
from nginxgen.adopt.sites import (
    Finding,
    Grouping,
    Server,
    block_of,
    directive_text,
    group,
    read_server,
    servers_of,
)
from nginxgen.core.facts import CONF_D
from nginxgen.core.versions import DEFAULT_TARGET
from nginxgen.generation.fields import Duration, HeaderName, Network
from nginxgen.nginx.config import Directive, ParsedConfig
from nginxgen.nginx.directives import check_raw_directive

REAL_IP_DIRECTIVES = frozenset({"set_real_ip_from", "real_ip_header", "real_ip_recursive"})


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
    if http.raw:
        settings["raw"] = http.raw
    real_ip = real_ip_settings(http, collector) if http.real_ip else None
    if real_ip:
        settings["real_ip"] = real_ip
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
    handler = _HTTP_HANDLERS.get(directive.name)
    if handler is not None and handler(directive, http, collector):
        return
    if _in_nginx_conf(directive, config):
        collector.add(directive, "main config", "http level of nginx.conf: stays in force there")
    elif directive.name in REAL_IP_DIRECTIVES:
        http.real_ip.append(directive)
    else:
        _http_raw(directive, http, collector)


# The http-level directives conversion reads itself, wherever they are: each handler says
# whether it took the directive (else it is kept in nginx.conf, real_ip, or raw).
def _upstream(directive: Directive, http: HttpLevel, collector: Collector) -> bool:
    if not directive.args:
        return False
    http.upstreams[directive.args[0]] = directive
    return True


def _limit_req_zone(directive: Directive, http: HttpLevel, collector: Collector) -> bool:
    zone = next((a for a in directive.args if a.startswith("zone=")), "zone=")
    http.zones[zone[5:].split(":")[0]] = directive
    return True


def _resolver(directive: Directive, http: HttpLevel, collector: Collector) -> bool:
    valid = next((a[6:] for a in directive.args if a.startswith("valid=")), None)
    if valid and is_valid(Duration, valid):
        http.resolver_valid = valid
    collector.note(directive, "nginxgen uses Docker's DNS (127.0.0.11) for every service")
    return True


def _map(directive: Directive, http: HttpLevel, collector: Collector) -> bool:
    if not _is_websocket_map(directive):
        return False
    collector.note(directive, "websocket map: nginxgen defines its own for websocket routes")
    return True


_HTTP_HANDLERS: dict[str, Callable[[Directive, HttpLevel, Collector], bool]] = {
    "upstream": _upstream,
    "limit_req_zone": _limit_req_zone,
    "resolver": _resolver,
    "map": _map,
}


def _in_nginx_conf(directive: Directive, config: ParsedConfig) -> bool:
    """In a whole nginx.conf, the http level outside conf.d stays where it is: the generated
    file replaces the conf.d files only."""
    return config.context == "main" and not directive.file.startswith(f"{CONF_D}/")


def _http_raw(directive: Directive, http: HttpLevel, collector: Collector) -> None:
    text = directive_text(directive)
    why = "a block at http level: raw takes simple directives; move it to nginx.conf"
    if directive.block is None and directive.name != "include":
        try:
            check_raw_directive(text, "http")
        except ValueError as error:
            why = f"not a raw directive nginxgen accepts at http level ({error})"
        else:
            http.raw.append(text)
            collector.add(directive, "raw", "kept as a raw directive of nginxgen.yaml")
            return
    collector.left(directive, why)


def real_ip_settings(http: HttpLevel, collector: Collector) -> dict[str, Any] | None:
    """`set_real_ip_from`, `real_ip_header`, `real_ip_recursive` → `real_ip` of nginxgen.yaml."""
    trusted: list[str] = []
    settings: dict[str, Any] = {}
    for directive in http.real_ip:
        value = directive.args[0] if len(directive.args) == 1 else ""
        if directive.name == "set_real_ip_from" and is_valid(Network, value):
            trusted.append(value)
        elif directive.name == "real_ip_header" and is_valid(HeaderName, value):
            settings["header"] = value
        elif directive.name == "real_ip_recursive" and value in ("on", "off"):
            settings["recursive"] = value == "on"
        else:
            collector.left(directive, "a real-IP value nginxgen's real_ip cannot express")
            continue
        collector.note(directive, "became real_ip in nginxgen.yaml")
    if not trusted:
        for directive in http.real_ip:
            collector.left(directive, "real_ip needs the trusted addresses (set_real_ip_from)")
        return None
    return {"from": trusted, **settings}


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
        collector.note(server.directive, "default server: nginxgen generates its own")
    for server, why in grouping.leftover:
        collector.left(server.directive, why)
    for redirector in grouping.shared_redirects:
        collector.note(
            redirector.server.directive,
            "port-80 server for every name: each HTTPS site gets its own, with its ACME "
            "webroot; nginxgen refuses other names (444)",
        )
    for site in grouping.sites:
        for redirector in site.https_redirects + site.alias_servers:
            if redirector not in grouping.shared_redirects:
                collector.add(
                    redirector.server.directive,
                    "note",
                    f"redirect server folded into the site of {site.primary or 'every name'}",
                )
            _report_redirector_settings(redirector.server, collector)


def _report_redirector_settings(server: Server, collector: Collector) -> None:
    """A folded redirect server's TLS settings: nginxgen's profile serves its names."""
    for directive in server.body:
        if directive.name == "ssl_dhparam":
            collector.note(directive, DHPARAM_NOTE)
        elif directive.name == "include" and directive.include_missing:
            collector.note(
                directive,
                include_note(directive) or "included file not found: the server only redirects",
            )
