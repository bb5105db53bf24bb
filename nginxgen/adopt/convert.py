"""Sites → environment-file data. Every directive ends up converted, kept as `raw`, or listed
as a `Finding` with its file, line and why: nothing is dropped silently.

Handlers are tables of small functions by directive name, one table for server level and one
for location level; a directive without a handler is kept raw where nginxgen's raw check
accepts it, and listed as not converted otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from nginxgen.adopt.sites import (
    Finding,
    Grouping,
    Server,
    Site,
    acme_root,
    block_of,
    directive_text,
    group,
    read_server,
    servers_of,
)
from nginxgen.core.versions import UPSTREAM_RESOLVE, at_least
from nginxgen.generation.fields import (
    Domain,
    Duration,
    FilePath,
    HeaderName,
    HeaderValue,
    Host,
    Name,
    Size,
)
from nginxgen.generation.plan_tls import INTERMEDIATE_CIPHERS
from nginxgen.nginx.config import Directive, ParsedConfig
from nginxgen.nginx.directives import check_raw_directive

DEFAULT_NGINX_VERSION = "1.26"
DEFAULT_ACME_WEBROOT = "/var/www/certbot"
STANDARD_PROXY_HEADERS = {
    "host": "$host",
    "x-real-ip": "$remote_addr",
    "x-forwarded-for": "$proxy_add_x_forwarded_for",
    "x-forwarded-proto": "$scheme",
}
SECURITY_HEADERS = {
    "x-content-type-options": "x_content_type_options",
    "referrer-policy": "referrer_policy",
    "x-frame-options": "x_frame_options",
    "content-security-policy": "content_security_policy",
}
# What nginx.conf of every package sets at http level: not a site's, and still in force.
TLS_TUNING = frozenset(
    {
        "ssl_prefer_server_ciphers",
        "ssl_session_cache",
        "ssl_session_timeout",
        "ssl_session_tickets",
        "ssl_ecdh_curve",
        "ssl_buffer_size",
    }
)
SILENT = frozenset({"server_tokens", "http2", "proxy_http_version", "resolver_timeout"})
PROXY_URL = re.compile(
    r"(?P<scheme>[a-z]+)://(?P<host>[^/:$\s]+)(?::(?P<port>[0-9]+))?(?P<uri>/[^\s]*)?"
)
UNAVAILABLE_CODES = frozenset({"500", "502", "503", "504"})


def _valid(kind: Any, value: Any) -> bool:
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


class _Collector:
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


def convert(config: ParsedConfig, nginx_version: str | None = None) -> Conversion:
    """Environment data for every site of `config`, with everything else listed."""
    collector = _Collector()
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
    version = http.nginx_version or DEFAULT_NGINX_VERSION
    for site in grouping.sites:
        converter = _SiteConverter(site, http, collector, version)
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
    directive: Directive, config: ParsedConfig, http: HttpLevel, collector: _Collector
) -> None:
    name = directive.name
    if name == "upstream" and directive.args:
        http.upstreams[directive.args[0]] = directive
    elif name == "limit_req_zone":
        zone = next((a for a in directive.args if a.startswith("zone=")), "zone=")
        http.zones[zone[5:].split(":")[0]] = directive
    elif name == "resolver":
        valid = next((a[6:] for a in directive.args if a.startswith("valid=")), None)
        if valid and _valid(Duration, valid):
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


def _report_grouping(grouping: Grouping, collector: _Collector) -> None:
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


@dataclass
class _Route:
    """A location being converted: its route data and what it inherits from the server."""

    directive: Directive
    data: dict[str, Any] = field(default_factory=dict)
    request_headers: dict[str, str] = field(default_factory=dict)
    own_request_headers: bool = False
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


Handler = Callable[["_SiteConverter", Directive, _Route], None]


class _SiteConverter:
    def __init__(self, site: Site, http: HttpLevel, collector: _Collector, version: str) -> None:
        self.site = site
        self.http = http
        self.collector = collector
        self.version = version
        self.services: dict[str, dict[str, Any]] = {}
        self.service_keys: dict[UpstreamTarget, str] = {}
        self.static_names: dict[str, str] = {}
        self.server = _Route(site.server.directive)
        self.env: dict[str, Any] = {}
        self.tls: dict[str, Any] = {}
        self.security: dict[str, str] = {}
        self.hsts: dict[str, Any] | None = None

    # --- the environment -------------------------------------------------------------------

    def environment(self) -> dict[str, Any] | None:
        site, server = self.site, self.site.server
        for finding in server.listen_findings:
            self.collector.findings.append(finding)
        if not server.ports <= {80, 443}:
            self.collector.left(server.directive, "nginxgen serves sites on ports 80 and 443 only")
            return None
        domains = [name for name in site.served_names if self._domain(name, server.directive)]
        aliases = [name for name in site.aliases if self._domain(name, server.directive)]
        if not domains:
            self.collector.left(server.directive, "no server name nginxgen can serve")
            return None
        for directive in server.body:
            SERVER_HANDLERS.get(directive.name, _server_other)(self, directive, self.server)
        routes = self._routes()
        if not routes:
            self.collector.left(server.directive, "no location nginxgen can route")
            return None
        env: dict[str, Any] = {"domains": domains}
        if aliases and len(domains) == 1:
            env["domains"] = domains + aliases
            env["redirect_to_primary"] = True
        elif aliases:
            env["redirect_domains"] = aliases
        env["tls"] = self._tls()
        env["services"] = self.services
        env["routes"] = routes
        env["security_headers"] = {
            key: self.security.get(key, False) for key in SECURITY_HEADERS.values()
        }
        if not any(self.security.get(key) for key in ("content_security_policy",)):
            env["security_headers"].pop("content_security_policy")
        env.update(self.env)
        if self.server.raw:
            env["raw"] = self.server.raw
        if not self.services:
            self.collector.left(server.directive, "no proxied location: nginxgen needs a service")
            return None
        return env

    def _domain(self, name: str, directive: Directive) -> bool:
        if _valid(Domain, name):
            return True
        self.collector.left(directive, f"server name {name!r} is not a domain nginxgen accepts")
        return False

    def _tls(self) -> dict[str, Any] | bool:
        site = self.site
        if not site.tls:
            if site.https_redirects:
                self.collector.left(site.server.directive, "redirects to HTTPS without TLS")
            return False
        tls: dict[str, Any] = {}
        pair = site.server.certificate
        if pair is None:
            self.collector.left(site.server.directive, "TLS server without certificate files")
        else:
            tls["certificate"], tls["certificate_key"] = pair
        tls.update(self.tls)
        tls["hsts"] = self.hsts if self.hsts is not None else False
        webroots = {r.acme for r in site.https_redirects if r.acme}
        if not site.https_redirects:
            self.collector.note(
                site.server.directive,
                "no port-80 server for these names: nginxgen adds one that redirects to HTTPS",
            )
        if webroots:
            webroot = sorted(webroots)[0]
            if webroot != DEFAULT_ACME_WEBROOT:
                tls["acme_webroot"] = webroot
        else:
            tls["acme_webroot"] = False
        for redirector in site.https_redirects:
            if redirector.code != "301":
                self.collector.note(
                    redirector.server.directive,
                    f"redirected with {redirector.code}; nginxgen redirects with 301",
                )
        return tls

    # --- locations ---------------------------------------------------------------------------

    def _routes(self) -> list[dict[str, Any]]:
        routes: list[dict[str, Any]] = []
        locations = self.site.server.locations
        has_regex = any(loc.args[:1] in (("~",), ("~*",)) for loc in locations)
        seen: set[tuple[str, str]] = set()
        for location in locations:
            route = self._route(location, has_regex)
            if route is None:
                continue
            key = (route.get("match", "prefix"), route["path"])
            if key in seen:
                self.collector.left(location, "a second location for the same path")
                continue
            seen.add(key)
            routes.append(route)
        return routes

    def _route(self, location: Directive, has_regex: bool) -> dict[str, Any] | None:
        args = location.args
        modifier, path = (args[0], args[1]) if len(args) == 2 else ("", args[0] if args else "")
        data: dict[str, Any] = {}
        if modifier == "@":
            self.collector.left(location, "named locations have no counterpart in nginxgen")
            return None
        if modifier in ("~", "~*"):
            data["match"] = "regex"
            path = f"(?i){path}" if modifier == "~*" else path
        elif modifier == "=":
            data["match"] = "exact"
        elif modifier == "^~" and has_regex and acme_root(location) is None:
            self.collector.note(
                location,
                "^~ became a plain prefix: a regex route may now win for paths under it",
            )
        if path.startswith("@"):
            self.collector.left(location, "named locations have no counterpart in nginxgen")
            return None
        data["path"] = path
        route = _Route(location)
        for directive in block_of(location):
            if directive.name == "location":
                self.collector.left(directive, "nested locations have no counterpart in nginxgen")
                continue
            LOCATION_HANDLERS.get(directive.name, _location_other)(self, directive, route)
        return self._finish(route, data)

    def _finish(self, route: _Route, data: dict[str, Any]) -> dict[str, Any] | None:
        if "service" in route.data:
            self._proxied(route, data)
        elif not self._static(route, data):
            return None
        if "client_max_body_size" in route.data:
            data["client_max_body_size"] = route.data["client_max_body_size"]
        response = route.response_headers if route.own_response_headers else {}
        if response:
            data["response_headers"] = response
        limit = route.limit if route.limit is not None else self.server.limit
        if limit:
            data["rate_limit"] = limit
        access = self._access(route)
        if access is not None:
            data["access"] = access
        if route.raw:
            data["raw"] = route.raw
        return data

    def _proxied(self, route: _Route, data: dict[str, Any]) -> None:
        server, location = self.server, route.directive
        data["service"] = route.data["service"]
        if route.upgrade:
            data["websocket"] = True
        if route.connection and not route.upgrade:
            self.collector.note(location, "Connection header without Upgrade: not kept")
        if route.proxy_uri == "/" and data.get("match") is None and data["path"].endswith("/"):
            data["strip_prefix"] = True
        elif route.proxy_uri not in (None, "/" if data["path"] == "/" else None):
            self.collector.left(
                location,
                f"proxy_pass replaces the path with {route.proxy_uri!r}; nginxgen can only "
                "pass it on or strip a prefix (`strip_prefix`)",
            )
        timeouts = {**server.timeouts, **route.timeouts}
        if timeouts:
            data["timeouts"] = timeouts
        buffering = route.buffering if route.buffering is not None else server.buffering
        if buffering is False:
            data["buffering"] = False
        headers = route.request_headers if route.own_request_headers else server.request_headers
        if headers:
            data["request_headers"] = headers

    def _static(self, route: _Route, data: dict[str, Any]) -> bool:
        """Files served by nginx: False (and listed) when the location has no root either."""
        root = route.root or self.server.root
        if root is None:
            self.collector.left(
                route.directive,
                "neither proxy_pass nor root: nginxgen routes to a service or files",
            )
            return False
        static: dict[str, Any] = {"root": root}
        if route.try_files is not None and self._spa(route.try_files, data):
            static["spa"] = True
        data["static"] = static
        return True

    def _spa(self, try_files: Directive, data: dict[str, Any]) -> bool:
        args = try_files.args
        if args[-1:] == ("=404",) and set(args[:-1]) <= {"$uri", "$uri/"}:
            return False
        path = data["path"]
        prefix = path if data.get("match") is None and path.endswith("/") else "/"
        if args[:-1] and set(args[:-1]) <= {"$uri", "$uri/"} and args[-1].endswith("index.html"):
            if args[-1] != f"{prefix}index.html":
                self.collector.note(
                    try_files, f"the SPA fallback becomes {prefix}index.html (nginxgen's rule)"
                )
            return True
        self.collector.left(try_files, "try_files other than files-then-404 or an SPA fallback")
        return False

    def _access(self, route: _Route) -> dict[str, Any] | None:
        server = self.server
        allow = route.allow if route.own_allow else server.allow
        auth = {} if route.auth_off else (route.auth or server.auth)
        if not route.own_allow and not route.auth and not route.auth_off:
            return None  # the environment's access applies
        access: dict[str, Any] = {}
        if auth:
            access["basic_auth"] = auth
        if allow:
            access["allow"] = allow
        env_access = self.env.get("access")
        if access == (env_access or {}):
            return None
        return access

    # --- services ----------------------------------------------------------------------------

    def service_for(self, directive: Directive, url: str) -> str | None:
        match = PROXY_URL.fullmatch(url)
        if match is None or "$" in url:
            self.collector.left(directive, "proxy_pass with variables or no host")
            return None
        if match["scheme"] != "http":
            self.collector.left(directive, f"nginxgen proxies over http://, not {match['scheme']}")
            return None
        host = match["host"].lower()
        upstream = self.http.upstreams.get(match["host"])
        if upstream is not None and match["port"] is None:
            target = self._upstream_target(upstream)
            if target is None:
                return None
            name = match["host"]
            for one in target.hosts:
                self.static_names.setdefault(one, f"upstream {name}")
        else:
            port = int(match["port"] or 80)
            if not _valid(Host, host):
                self.collector.left(directive, f"{host!r} is not a host name nginxgen accepts")
                return None
            target = UpstreamTarget((host,), port)
            name = host
            self.static_names.setdefault(host, "proxy_pass")
        if target in self.service_keys:
            return self.service_keys[target]
        key = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-_")[:60] or "app"
        if not _valid(Name, key):
            key = f"service-{key}"
        base, number = key, 2
        while key in self.services:
            key, number = f"{base}-{number}", number + 1
        service: dict[str, Any] = (
            {"host": target.hosts[0]} if len(target.hosts) == 1 else {"hosts": list(target.hosts)}
        )
        service["port"] = target.port
        self.services[key] = service
        self.service_keys[target] = key
        return key

    def _upstream_target(self, upstream: Directive) -> UpstreamTarget | None:
        hosts: list[str] = []
        ports: set[int] = set()
        for directive in block_of(upstream):
            if directive.name == "server" and directive.args:
                address, *parameters = directive.args
                host, _, port = address.rpartition(":") if ":" in address else (address, "", "80")
                if address.startswith("unix:") or not port.isdigit() or not _valid(Host, host):
                    self.collector.left(directive, "not a host:port nginxgen can resolve")
                    continue
                for parameter in parameters:
                    if parameter in ("backup", "down"):
                        self.collector.left(directive, f"server parameter {parameter!r}")
                    elif parameter != "resolve":
                        self.collector.note(
                            directive, f"server parameter {parameter!r}: nginx's default applies"
                        )
                hosts.append(host.lower())
                ports.add(int(port))
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

    # --- raw ---------------------------------------------------------------------------------

    def keep_raw(self, directive: Directive, route: _Route, context: str, why: str) -> None:
        text = directive_text(directive)
        if directive.block is None and directive.name != "include":
            try:
                check_raw_directive(text, context)
            except ValueError:
                pass
            else:
                route.raw.append(text)
                self.collector.add(directive, "raw", f"kept as a raw directive of the {context}")
                return
        self.collector.left(directive, why)


# --- handlers shared by both levels ------------------------------------------------------------


def _proxy_set_header(converter: _SiteConverter, directive: Directive, route: _Route) -> None:
    route.own_request_headers = True
    if len(directive.args) != 2:
        converter.collector.left(directive, "expected a header name and value")
        return
    name, value = directive.args
    lower = name.lower()
    if lower == "upgrade" and value == "$http_upgrade":
        route.upgrade = True
    elif lower == "connection" and (value.lower() == "upgrade" or value.startswith("$")):
        route.connection = True
    elif STANDARD_PROXY_HEADERS.get(lower) == value:
        return  # nginxgen sends it anyway
    elif _valid(HeaderName, name) and _valid(HeaderValue, value):
        route.request_headers[name] = value
    else:
        converter.keep_raw(directive, route, "location", "header value with variables or quotes")


def _add_header(converter: _SiteConverter, directive: Directive, route: _Route) -> None:
    args = directive.args
    if len(args) not in (2, 3) or (len(args) == 3 and args[2] != "always"):
        converter.collector.left(directive, "expected a header name, value and `always`")
        return
    name, value = args[0], args[1]
    if len(args) == 2:
        converter.collector.note(directive, "nginxgen sends response headers `always`")
    lower = name.lower()
    if route is converter.server and lower == "strict-transport-security":
        converter.hsts = _hsts(value)
        if converter.hsts is None:
            converter.collector.left(directive, "HSTS value nginxgen cannot express")
        return
    if route is converter.server and lower in SECURITY_HEADERS and _valid(HeaderValue, value):
        converter.security[SECURITY_HEADERS[lower]] = value
        return
    route.own_response_headers = True
    if _valid(HeaderName, name) and _valid(HeaderValue, value):
        if route is converter.server:
            converter.collector.left(
                directive, "server-wide custom response header: give it per route"
            )
        else:
            route.response_headers[name] = value
    else:
        converter.keep_raw(directive, route, "location", "header value with variables or quotes")


def _hsts(value: str) -> dict[str, Any] | None:
    parts = [part.strip().lower() for part in value.split(";") if part.strip()]
    hsts: dict[str, Any] = {}
    for part in parts:
        if part.startswith("max-age=") and part[8:].isdigit():
            hsts["max_age"] = int(part[8:])
        elif part == "includesubdomains":
            hsts["include_subdomains"] = True
        elif part == "preload":
            hsts["preload"] = True
        else:
            return None
    if "max_age" not in hsts:
        return None
    return hsts


def _timeout(converter: _SiteConverter, directive: Directive, route: _Route) -> None:
    key = directive.name.removeprefix("proxy_").removesuffix("_timeout")
    value = directive.args[0] if directive.args else ""
    if _valid(Duration, value):
        route.timeouts[key] = value
    else:
        converter.collector.left(directive, "duration nginxgen cannot express")


def _buffering(converter: _SiteConverter, directive: Directive, route: _Route) -> None:
    route.buffering = directive.args != ("off",)


def _body_size(converter: _SiteConverter, directive: Directive, route: _Route) -> None:
    value = directive.args[0] if directive.args else ""
    if not _valid(Size, value):
        converter.collector.left(directive, "size nginxgen cannot express")
    elif route is converter.server:
        converter.env["client_max_body_size"] = value
    else:
        route.data["client_max_body_size"] = value


def _auth_basic(converter: _SiteConverter, directive: Directive, route: _Route) -> None:
    realm = directive.args[0] if directive.args else ""
    if realm == "off":
        route.auth_off = True
    elif _valid(HeaderValue, realm):
        route.auth["realm"] = realm
    else:
        converter.collector.left(directive, "realm nginxgen cannot express")
    _sync_access(converter, route)


def _auth_file(converter: _SiteConverter, directive: Directive, route: _Route) -> None:
    path = directive.args[0] if directive.args else ""
    if _valid(FilePath, path):
        route.auth["htpasswd"] = path
    else:
        converter.collector.left(directive, "htpasswd path nginxgen cannot express")
    _sync_access(converter, route)


def _allow(converter: _SiteConverter, directive: Directive, route: _Route) -> None:
    route.own_allow = True
    value = directive.args[0] if directive.args else ""
    if value == "all":
        converter.collector.note(directive, "allow all: no allow-list")
    else:
        route.allow.append(value)
    _sync_access(converter, route)


def _deny(converter: _SiteConverter, directive: Directive, route: _Route) -> None:
    route.own_allow = True
    block = route.directive.block or ()
    last_rule = [d for d in block if d.name in ("allow", "deny")][-1:]
    if directive.args != ("all",) or last_rule != [directive]:
        converter.collector.left(
            directive, "nginxgen's access is an allow-list followed by `deny all`"
        )


def _sync_access(converter: _SiteConverter, route: _Route) -> None:
    """Server-level access becomes the environment's `access`."""
    if route is not converter.server:
        return
    access: dict[str, Any] = {}
    if route.auth and not route.auth_off:
        access["basic_auth"] = dict(route.auth)
    if route.allow:
        access["allow"] = list(route.allow)
    if access:
        converter.env["access"] = access


def _limit_req(converter: _SiteConverter, directive: Directive, route: _Route) -> None:
    options = parameters(directive.args)
    zone = converter.http.zones.get(options.get("zone", ""))
    if zone is None:
        converter.collector.left(directive, "limit_req zone not defined here")
        return
    key = zone.args[0] if zone.args else ""
    rate = next((a[5:] for a in zone.args if a.startswith("rate=")), "")
    if key not in ("$binary_remote_addr", "$remote_addr"):
        converter.collector.left(directive, f"rate limited by {key}: nginxgen limits per address")
        return
    limit: dict[str, Any] = {"rate": rate}
    if options.get("burst", "0").isdigit() and int(options.get("burst", "0")):
        limit["burst"] = int(options["burst"])
    limit["nodelay"] = "nodelay" in options
    if set(options) - {"zone", "burst", "nodelay"}:
        converter.collector.left(directive, "limit_req parameter nginxgen does not set")
    route.limit = limit
    converter.collector.note(zone, f"zone {options['zone']}: one zone per route in nginxgen")


def parameters(args: tuple[str, ...]) -> dict[str, str]:
    """`zone=one burst=5 nodelay` → {zone: one, burst: 5, nodelay: ""}."""
    options: dict[str, str] = {}
    for arg in args:
        key, _, value = arg.partition("=")
        options[key] = value
    return options


def _limit_req_status(converter: _SiteConverter, directive: Directive, route: _Route) -> None:
    if directive.args != ("429",):
        converter.collector.note(directive, "nginxgen answers 429 over the rate limit")


def _silent(converter: _SiteConverter, directive: Directive, route: _Route) -> None:
    if directive.name == "server_tokens" and directive.args != ("off",):
        converter.collector.note(directive, "nginxgen sets server_tokens off")


# --- server level ----------------------------------------------------------------------------


def _certificate(converter: _SiteConverter, directive: Directive, route: _Route) -> None:
    path = directive.args[0] if directive.args else ""
    if not _valid(FilePath, path):
        converter.collector.left(directive, "certificate path nginxgen cannot express")


def _protocols(converter: _SiteConverter, directive: Directive, route: _Route) -> None:
    protocols = set(directive.args)
    if protocols == {"TLSv1.3"}:
        converter.tls["profile"] = "modern"
        return
    if protocols != {"TLSv1.2", "TLSv1.3"}:
        converter.collector.note(
            directive,
            "closest Mozilla profile: intermediate (TLSv1.2 TLSv1.3); the input allowed "
            + " ".join(directive.args),
        )


def _ciphers(converter: _SiteConverter, directive: Directive, route: _Route) -> None:
    if directive.args != (INTERMEDIATE_CIPHERS,):
        converter.collector.note(directive, "ciphers of the Mozilla profile instead")


def _tls_tuning(converter: _SiteConverter, directive: Directive, route: _Route) -> None:
    converter.collector.note(directive, "nginxgen sets its own TLS session settings")


def _stapling(converter: _SiteConverter, directive: Directive, route: _Route) -> None:
    if directive.name == "ssl_stapling" and directive.args == ("on",):
        converter.tls["ocsp_stapling"] = True
    elif directive.name == "ssl_trusted_certificate" and directive.args:
        converter.tls["trusted_certificate"] = directive.args[0]


def _dhparam(converter: _SiteConverter, directive: Directive, route: _Route) -> None:
    converter.collector.note(directive, "nginxgen's profiles use no DHE ciphers: not needed")


def _missing_include(converter: _SiteConverter, directive: Directive, route: _Route) -> None:
    if directive.args and "options-ssl-nginx" in directive.args[0]:
        converter.collector.note(directive, "certbot's TLS options: the Mozilla profile instead")
    else:
        converter.collector.left(directive, "included file not found: its content is unknown")


def _resolver(converter: _SiteConverter, directive: Directive, route: _Route) -> None:
    valid = next((a[6:] for a in directive.args if a.startswith("valid=")), None)
    if valid and _valid(Duration, valid):
        converter.http.resolver_valid = valid
    converter.collector.note(directive, "nginxgen uses Docker's DNS (127.0.0.11) for every service")


def _error_page(converter: _SiteConverter, directive: Directive, route: _Route) -> None:
    codes = {arg for arg in directive.args[:-1] if arg.isdigit()}
    if codes and codes <= UNAVAILABLE_CODES:
        converter.collector.note(
            directive, "a service that is down gets nginxgen's `unavailable` page instead"
        )
        return
    converter.keep_raw(directive, route, "server", "error page nginxgen cannot express")


def _root(converter: _SiteConverter, directive: Directive, route: _Route) -> None:
    if directive.args and _valid(FilePath, directive.args[0]):
        route.root = directive.args[0]
    else:
        converter.collector.left(directive, "root nginxgen cannot express")


def _index(converter: _SiteConverter, directive: Directive, route: _Route) -> None:
    if directive.args != ("index.html",):
        context = "server" if route is converter.server else "location"
        converter.keep_raw(directive, route, context, "index nginxgen cannot express")


def _server_other(converter: _SiteConverter, directive: Directive, route: _Route) -> None:
    if directive.name == "return":
        converter.collector.left(directive, "a server-wide return beside locations")
        return
    converter.keep_raw(directive, route, "server", "no counterpart in nginxgen")


def _proxy_pass(converter: _SiteConverter, directive: Directive, route: _Route) -> None:
    url = directive.args[0] if directive.args else ""
    service = converter.service_for(directive, url)
    if service is None:
        return
    route.data["service"] = service
    match = PROXY_URL.fullmatch(url)
    route.proxy_uri = match["uri"] if match else None


def _try_files(converter: _SiteConverter, directive: Directive, route: _Route) -> None:
    route.try_files = directive


def _location_other(converter: _SiteConverter, directive: Directive, route: _Route) -> None:
    if directive.name in ("return", "rewrite", "if", "alias"):
        converter.collector.left(directive, f"{directive.name} has no counterpart in nginxgen")
        return
    converter.keep_raw(directive, route, "location", "no counterpart in nginxgen")


_SHARED: dict[str, Handler] = {
    "proxy_set_header": _proxy_set_header,
    "add_header": _add_header,
    "proxy_connect_timeout": _timeout,
    "proxy_read_timeout": _timeout,
    "proxy_send_timeout": _timeout,
    "proxy_buffering": _buffering,
    "client_max_body_size": _body_size,
    "auth_basic": _auth_basic,
    "auth_basic_user_file": _auth_file,
    "allow": _allow,
    "deny": _deny,
    "limit_req": _limit_req,
    "limit_req_status": _limit_req_status,
    "root": _root,
    "index": _index,
    **dict.fromkeys(SILENT, _silent),
}
SERVER_HANDLERS: dict[str, Handler] = {
    **_SHARED,
    "ssl_certificate": _certificate,
    "ssl_certificate_key": _certificate,
    "ssl_protocols": _protocols,
    "ssl_ciphers": _ciphers,
    **dict.fromkeys(TLS_TUNING, _tls_tuning),
    "ssl_stapling": _stapling,
    "ssl_stapling_verify": _stapling,
    "ssl_trusted_certificate": _stapling,
    "ssl_dhparam": _dhparam,
    "include": _missing_include,
    "error_page": _error_page,
    "resolver": _resolver,
}
LOCATION_HANDLERS: dict[str, Handler] = {
    **_SHARED,
    "proxy_pass": _proxy_pass,
    "try_files": _try_files,
}
