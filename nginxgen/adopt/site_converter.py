"""One site → the data of one environment file: its domains, TLS section, services (from
`proxy_pass` and upstream blocks, `services`) and routes (from locations). The handlers of
`handlers` read the directives into a `SiteDraft`; this module assembles the environment from
it, and never the other way round. What has no counterpart is kept raw or listed.
"""

from __future__ import annotations

from typing import Any

from nginxgen.adopt.conversion_state import Collector, HttpLevel, RouteDraft, is_valid
from nginxgen.adopt.handlers import (
    SECURITY_HEADERS,
    SiteDraft,
    location_handler,
    server_handler,
)
from nginxgen.adopt.services import Services
from nginxgen.adopt.sites import PLACEHOLDER_NAMES, Site, acme_root, block_of
from nginxgen.core.facts import ACME_WEBROOT
from nginxgen.generation.fields import Domain
from nginxgen.nginx.config import Directive


class SiteConverter:
    def __init__(self, site: Site, http: HttpLevel, collector: Collector, version: str) -> None:
        self.site = site
        self.http = http
        self.collector = collector
        self.version = version
        self.services = Services(http, collector, version)
        self.server = RouteDraft(site.server.directive)
        # What the handlers read the site's directives into; assembled by `environment`.
        self.draft = SiteDraft(collector, http, self.services, self.server)

    @property
    def static_names(self) -> dict[str, str]:
        return self.services.static_names

    # --- the environment -------------------------------------------------------------------

    def environment(self) -> dict[str, Any] | None:
        site, server = self.site, self.site.server
        for finding in server.listen_findings:
            self.collector.findings.append(finding)
        if not server.ports <= {80, 443}:
            self.collector.left(server.directive, "nginxgen serves sites on ports 80 and 443 only")
            return None
        domains = [
            name for name in self._names(site.served_names) if self._domain(name, server.directive)
        ]
        aliases = [name for name in site.aliases if self._domain(name, server.directive)]
        if not domains and not site.catch_all:
            self.collector.left(server.directive, "no server name nginxgen can serve")
            return None
        for directive in server.body:
            server_handler(directive.name)(self.draft, directive, self.server)
        routes = self._routes()
        if not routes:
            self.collector.left(server.directive, "no location nginxgen can route")
            return None
        if not self.services.services:
            self.collector.left(server.directive, "no proxied location: nginxgen needs a service")
            return None
        return {
            **self._names_section(domains, aliases),
            "tls": self._tls(),
            "services": self.services.services,
            "routes": routes,
            "security_headers": self._security_headers(),
            **self.draft.env,
            **({"raw": self.server.raw} if self.server.raw else {}),
            **_own_compression(self.server.raw),
        }

    def _names_section(self, domains: list[str], aliases: list[str]) -> dict[str, Any]:
        """`catch_all`, `domains` and the names redirecting to the primary one."""
        section: dict[str, Any] = {"catch_all": True} if self.site.catch_all else {}
        if domains:
            section["domains"] = domains
        if aliases and len(domains) == 1:
            section["domains"] = domains + aliases
            section["redirect_to_primary"] = True
        elif aliases:
            section["redirect_domains"] = aliases
        return section

    def _security_headers(self) -> dict[str, Any]:
        """Every security header nginxgen sets, as the original set it (false: not at all);
        CSP only when the original had one."""
        headers: dict[str, Any] = {
            key: self.draft.security.get(key, False) for key in SECURITY_HEADERS.values()
        }
        if not headers["content_security_policy"]:
            headers.pop("content_security_policy")
        return headers

    def _names(self, names: list[str]) -> list[str]:
        """The names to list as domains: a catch-all answers placeholders and trailing
        wildcards (`nextcloud.*`) anyway."""
        if not self.site.catch_all:
            return names
        kept = []
        for name in names:
            if name.endswith(".*"):
                self.collector.note(
                    self.site.server.directive,
                    f"{name}: nginxgen has no trailing wildcards; the catch_all environment "
                    "answers it with every other name",
                )
            elif name not in PLACEHOLDER_NAMES:
                kept.append(name)
        return kept

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
        tls.update(self.draft.tls)
        tls["hsts"] = self.draft.hsts if self.draft.hsts is not None else False
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
            location_handler(directive.name)(self.draft, directive, route)
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
        self._proxy_uri(route, data)
        timeouts = {**server.timeouts, **route.timeouts}
        if timeouts:
            data["timeouts"] = timeouts
        buffering = route.buffering if route.buffering is not None else server.buffering
        if buffering is False:
            data["buffering"] = False
        self._request_headers(route, data)

    def _proxy_uri(self, route: RouteDraft, data: dict[str, Any]) -> None:
        """The URI of `proxy_pass`: none (or the location's own path) passes the path on, `/`
        on a prefix ending in `/` strips it; nginxgen has no other rewrite."""
        if route.proxy_uri in (None, data["path"]):
            return
        if route.proxy_uri == "/" and data.get("match") is None and data["path"].endswith("/"):
            data["strip_prefix"] = True
            return
        self.collector.left(
            route.directive,
            f"proxy_pass replaces the path with {route.proxy_uri!r}; nginxgen can only "
            "pass it on or strip a prefix (`strip_prefix`)",
        )

    def _request_headers(self, route: RouteDraft, data: dict[str, Any]) -> None:
        """The headers sent to the service: the location's own `proxy_set_header`s, if it has
        any, else the server's (nginx inherits them only into a location without)."""
        sent = route if route.own_request_headers else self.server
        if sent.host_header is None:
            self.collector.note(
                route.directive,
                "the service now receives the client's Host ($host); without "
                "proxy_set_header Host the original sent the proxy_pass host",
            )
        if sent.request_headers:
            data["request_headers"] = sent.request_headers

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
        env_access = self.draft.env.get("access")
        if access == (env_access or {}):
            return None
        return access


def _own_compression(raw: list[str]) -> dict[str, Any]:
    """A server that sets its own gzip directives keeps them (raw), so nginxgen's default
    compression, which would repeat them in the same block, is turned off."""
    return {"compression": False} if any(text.split()[0].startswith("gzip") for text in raw) else {}
