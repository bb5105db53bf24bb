"""One site → the data of one environment file: its domains, TLS section, services (from
`proxy_pass` and upstream blocks) and routes (from locations). The directives themselves are
read by the handlers in `handlers`; what has no counterpart is kept raw or listed.
"""

from __future__ import annotations

import re
from typing import Any

from nginxgen.adopt.conversion_state import (
    Collector,
    HttpLevel,
    RouteDraft,
    UpstreamTarget,
    is_valid,
)
from nginxgen.adopt.handlers import PROXY_URL, SECURITY_HEADERS, location_handler, server_handler
from nginxgen.adopt.sites import Site, acme_root, block_of, directive_text
from nginxgen.core.facts import ACME_WEBROOT
from nginxgen.core.versions import UPSTREAM_RESOLVE, at_least
from nginxgen.generation.fields import Domain, Host, Name
from nginxgen.nginx.config import Directive
from nginxgen.nginx.directives import check_raw_directive


class SiteConverter:
    def __init__(self, site: Site, http: HttpLevel, collector: Collector, version: str) -> None:
        self.site = site
        self.http = http
        self.collector = collector
        self.version = version
        self.services: dict[str, dict[str, Any]] = {}
        self.service_keys: dict[UpstreamTarget, str] = {}
        self.static_names: dict[str, str] = {}
        self.server = RouteDraft(site.server.directive)
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
            server_handler(directive.name)(self, directive, self.server)
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
        if is_valid(Domain, name):
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
            if webroot != ACME_WEBROOT:
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
        route = RouteDraft(location)
        for directive in block_of(location):
            if directive.name == "location":
                self.collector.left(directive, "nested locations have no counterpart in nginxgen")
                continue
            location_handler(directive.name)(self, directive, route)
        return self._finish(route, data)

    def _finish(self, route: RouteDraft, data: dict[str, Any]) -> dict[str, Any] | None:
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

    def _proxied(self, route: RouteDraft, data: dict[str, Any]) -> None:
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

    def _static(self, route: RouteDraft, data: dict[str, Any]) -> bool:
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

    def _access(self, route: RouteDraft) -> dict[str, Any] | None:
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
            if not is_valid(Host, host):
                self.collector.left(directive, f"{host!r} is not a host name nginxgen accepts")
                return None
            target = UpstreamTarget((host,), port)
            name = host
            self.static_names.setdefault(host, "proxy_pass")
        if target in self.service_keys:
            return self.service_keys[target]
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
        self.service_keys[target] = key
        return key

    def _upstream_target(self, upstream: Directive) -> UpstreamTarget | None:
        hosts: list[str] = []
        ports: set[int] = set()
        for directive in block_of(upstream):
            if directive.name == "server" and directive.args:
                address, *parameters = directive.args
                host, _, port = address.rpartition(":") if ":" in address else (address, "", "80")
                if address.startswith("unix:") or not port.isdigit() or not is_valid(Host, host):
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

    def keep_raw(self, directive: Directive, route: RouteDraft, context: str, why: str) -> None:
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
