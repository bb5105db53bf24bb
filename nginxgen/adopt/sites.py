"""The servers of a parsed config, grouped into sites.

A site is one content server (what proxies or serves files) with the servers that only redirect
to it folded in: the port-80 servers sending everything to `https://$host$request_uri` become
nginxgen's HTTP→HTTPS redirect (and their ACME webroot location its `acme_webroot`); the servers
sending one name to another (`www.` → apex) become `redirect_to_primary` or `redirect_domains`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from nginxgen.nginx.config import Directive, ParsedConfig, children, flatten

ACME_PATH = "/.well-known/acme-challenge/"
REDIRECT_CODES = frozenset({"301", "302", "307", "308"})
# `return 301 https://$host$request_uri` and its spellings: the same name over HTTPS.
SAME_HOST_HTTPS = re.compile(r"https://\$(?:host|server_name|http_host)\$request_uri")
OTHER_HOST = re.compile(r"(?P<scheme>https?)://(?P<host>[A-Za-z0-9.-]+)\$request_uri")


@dataclass(frozen=True)
class Finding:
    """Something of the input that did not become environment data as it was, and why.

    `kind`: `not converted` (left out: the files still change behaviour there), `raw` (kept as a
    raw directive), `note` (converted, with a difference worth knowing), `main config` (belongs to
    nginx.conf, which nginxgen's output is included from, not to a site).
    """

    file: str
    line: int
    text: str
    kind: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.text}: {self.reason}"


def directive_text(directive: Directive) -> str:
    args = " ".join(_quoted(arg) for arg in directive.args)
    text = f"{directive.name} {args}".strip()
    return text + (" { … }" if directive.block is not None and directive.name != "include" else "")


def _quoted(arg: str) -> str:
    if arg == "" or re.search(r"[\s;{}#'\"]", arg):
        return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return arg


def block_of(directive: Directive) -> list[Directive]:
    """A block's directives, includes replaced by what they pulled in (a missing one stays,
    so that it is listed as not converted)."""
    return list(children(directive, keep_missing=True))


@dataclass(frozen=True)
class Server:
    """One `server` block: where it listens, its names, its other directives and locations."""

    directive: Directive
    names: tuple[str, ...]
    ports: frozenset[int]
    ssl_ports: frozenset[int]
    default: bool
    body: tuple[Directive, ...]  # everything but listen/server_name/location
    locations: tuple[Directive, ...]
    listen_findings: tuple[Finding, ...] = ()

    def first(self, name: str) -> Directive | None:
        return next((d for d in self.body if d.name == name), None)

    @property
    def certificate(self) -> tuple[str, str] | None:
        certificate, key = self.first("ssl_certificate"), self.first("ssl_certificate_key")
        if certificate is None or key is None or not certificate.args or not key.args:
            return None
        return certificate.args[0], key.args[0]


def read_server(directive: Directive) -> Server:
    names: list[str] = []
    ports: set[int] = set()
    ssl_ports: set[int] = set()
    default = False
    body: list[Directive] = []
    locations: list[Directive] = []
    findings: list[Finding] = []
    http2_directive_ssl = False
    for child in block_of(directive):
        if child.name == "server_name":
            names.extend(name.lower() for name in child.args)
        elif child.name == "listen":
            listen = _listen(child)
            if listen is None:
                findings.append(
                    Finding(
                        child.file,
                        child.line,
                        directive_text(child),
                        "not converted",
                        "nginxgen listens on TCP ports only (80, 443)",
                    )
                )
                continue
            port, ssl, is_default = listen
            ports.add(port)
            if ssl:
                ssl_ports.add(port)
            default = default or is_default
        elif child.name == "location":
            locations.append(child)
        elif child.name == "ssl" and child.args == ("on",):
            http2_directive_ssl = True
        else:
            body.append(child)
    listened, tls = _ports(ports, ssl_ports, http2_directive_ssl)
    return Server(
        directive,
        tuple(dict.fromkeys(names)),
        listened,
        tls,
        default,
        tuple(body),
        tuple(locations),
        tuple(findings),
    )


def _ports(
    ports: set[int], ssl_ports: set[int], ssl_on: bool
) -> tuple[frozenset[int], frozenset[int]]:
    """The ports a server listens on, and those with TLS: `ssl on` makes every one but 80 TLS;
    without `listen`, nginx listens on 80 (for root; 8000 otherwise)."""
    tls = ssl_ports | (ports - {80}) if ssl_on else ssl_ports
    return frozenset(ports or {80}), frozenset(tls)


def _listen(listen: Directive) -> tuple[int, bool, bool] | None:
    """A `listen`'s TCP port, whether it is TLS, whether the default server; None: not TCP."""
    port = _listen_port(listen.args[0]) if listen.args else None
    if port is None:
        return None
    parameters = listen.args[1:]
    return port, "ssl" in parameters, "default_server" in parameters or "default" in parameters


def _listen_port(address: str) -> int | None:
    if address.startswith("unix:"):
        return None
    tail = address.rsplit("]:", 1)[-1] if address.startswith("[") else address.rsplit(":", 1)[-1]
    if address.startswith("[") and "]:" not in address:
        return 80
    if tail.isdigit():
        return int(tail)
    return 80 if ":" not in address and not address.isdigit() else None


def redirect_of(directives: Iterable[Directive]) -> tuple[str, str] | None:
    """(code, URL) when these directives are one `return` redirect, else None."""
    returns = [d for d in directives if d.name == "return"]
    if len(returns) != 1:
        return None
    args = returns[0].args
    if len(args) == 2 and args[0] in REDIRECT_CODES:
        return args[0], args[1]
    return None


def acme_root(location: Directive) -> str | None:
    """The webroot of a certbot challenge location, else None."""
    if location.args[-1:] != (ACME_PATH,) and location.args[-1:] != (ACME_PATH.rstrip("/"),):
        return None
    roots = [d for d in block_of(location) if d.name == "root" and d.args]
    return roots[0].args[0] if roots else None


@dataclass
class Redirector:
    """A server that only redirects: where to, and the ACME webroot it serves on the way."""

    server: Server
    code: str
    url: str
    acme: str | None
    acme_location: Directive | None


# Redirect-only servers often carry TLS settings, HTTP/2 and logging: none changes the redirect.
_INERT_IN_REDIRECTS = frozenset(
    {"server_tokens", "access_log", "error_log", "http2", "ssl_certificate", "ssl_certificate_key"}
)


def _inert(directive: Directive) -> bool:
    """A directive that does not change what a redirect-only server answers: TLS settings, and
    an include that could not be read (certbot's `options-ssl-nginx.conf` on another machine):
    `return` answers before anything an include could add to the server takes effect."""
    return (
        directive.name in _INERT_IN_REDIRECTS
        or directive.name.startswith("ssl_")
        or (
            directive.name == "include" and (directive.include_missing or directive.include_outside)
        )
    )


def as_redirector(server: Server) -> Redirector | None:
    """`server` when all it does is redirect (plus, optionally, serve ACME challenges)."""
    acme: str | None = None
    acme_location: Directive | None = None
    others: list[Directive] = []
    for location in server.locations:
        root = acme_root(location)
        if root is not None and acme is None:
            acme, acme_location = root, location
        else:
            others.append(location)
    redirect = _only_redirect([d for d in server.body if not _inert(d)], others)
    if redirect is None:
        return None
    return Redirector(server, *redirect, acme, acme_location)


def _only_redirect(body: list[Directive], others: list[Directive]) -> tuple[str, str] | None:
    """The redirect when it is all the server does besides ACME: a `return` alone in the
    server, or alone in its one other location, `location /`."""
    if redirect := redirect_of(body):
        return None if others or len(body) != 1 else redirect
    if body or len(others) != 1 or others[0].args != ("/",):
        return None
    inner = block_of(others[0])
    redirect = redirect_of(inner)
    return None if redirect is None or len(inner) != 1 else redirect


@dataclass
class Site:
    """A content server with the redirect servers folded into it."""

    server: Server
    aliases: list[str] = field(default_factory=list)  # names that redirect to the primary
    alias_servers: list[Redirector] = field(default_factory=list)
    https_redirects: list[Redirector] = field(default_factory=list)
    primary: str = ""
    # The default server of its ports: it answers every name no other server serves.
    catch_all: bool = False

    @property
    def tls(self) -> bool:
        return bool(self.server.ssl_ports)

    @property
    def served_names(self) -> list[str]:
        names = list(self.server.names)
        if self.primary in names:
            names.remove(self.primary)
            names.insert(0, self.primary)
        return names


@dataclass
class Grouping:
    sites: list[Site] = field(default_factory=list)
    # Default servers that refuse unknown names (444, rejected handshake): nginxgen's own.
    default_servers: list[Server] = field(default_factory=list)
    leftover: list[tuple[Server, str]] = field(default_factory=list)  # not folded, and why
    # Port-80 default servers redirecting every other name to HTTPS (and serving ACME).
    shared_redirects: list[Redirector] = field(default_factory=list)


def servers_of(config: ParsedConfig) -> tuple[list[Directive], list[Directive]]:
    """(http-level directives, main-level directives) of a config, includes expanded."""
    top = list(flatten(config.directives, keep_missing=True))
    if config.context == "http":
        return top, []
    http: list[Directive] = []
    main: list[Directive] = []
    for directive in top:
        if directive.name == "http":
            http.extend(block_of(directive))
        else:
            main.append(directive)
    return http, main


# Names a server answering "whatever it is asked" gives itself; `localhost` is the compose
# samples' habit.
PLACEHOLDER_NAMES = frozenset({"", "_", "localhost"})


def real_names(server: Server) -> list[str]:
    """The names that say which site a server is: no placeholder, no trailing wildcard
    (`nextcloud.*`, which nginxgen cannot name)."""
    return [n for n in server.names if n not in PLACEHOLDER_NAMES and not n.endswith(".*")]


def is_catch_all(server: Server) -> bool:
    return not real_names(server)


def refuses(server: Server) -> bool:
    """A default server whose whole answer is 444 or a refused handshake."""
    return any(
        (d.name == "return" and d.args[:1] == ("444",))
        or (d.name == "ssl_reject_handshake" and d.args == ("on",))
        for d in server.body
    ) or any(
        d.name == "return" and d.args[:1] == ("444",)
        for location in server.locations
        for d in block_of(location)
    )


def port_defaults(servers: list[Server]) -> dict[int, Server]:
    """The server answering a port's unknown names: its `default_server`, else the first
    server listening there (nginx's rule)."""
    defaults: dict[int, Server] = {}
    for server in servers:
        for port in server.ports:
            current = defaults.get(port)
            if current is None or (server.default and not current.default):
                defaults[port] = server
    return defaults


def group(servers: list[Server]) -> Grouping:
    """Sites from servers: content servers first, then the redirects folded into them."""
    grouping = Grouping()
    defaults = {id(server) for server in port_defaults(servers).values()}
    redirectors: list[Redirector] = []
    for server in servers:
        _place(server, id(server) in defaults, grouping, redirectors)
    # Name-to-name redirects first: the HTTPS redirects may cover their names too.
    redirectors.sort(key=lambda redirector: SAME_HOST_HTTPS.fullmatch(redirector.url) is not None)
    for redirector in redirectors:
        _fold(redirector, grouping)
    return grouping


def _place(
    server: Server, default: bool, grouping: Grouping, redirectors: list[Redirector]
) -> None:
    """A server becomes a site, a redirect to fold, nginxgen's default server, or is left."""
    catch_all = is_catch_all(server)
    redirector = as_redirector(server)
    if default and refuses(server):
        grouping.default_servers.append(server)
    elif redirector is not None:
        redirectors.append(redirector)
    elif catch_all and not default:
        grouping.leftover.append(
            (server, "no name of its own, and another server is the default of its ports")
        )
    else:
        names = real_names(server)
        primary = names[0] if names else ""
        grouping.sites.append(Site(server, primary=primary, catch_all=default and catch_all))


def _fold(redirector: Redirector, grouping: Grouping) -> None:
    by_name = {name: site for site in grouping.sites for name in real_names(site.server)}
    target = OTHER_HOST.fullmatch(redirector.url)
    if SAME_HOST_HTTPS.fullmatch(redirector.url) and redirector.server.ports == {80}:
        _fold_https(redirector, grouping)
    elif target is not None and target["host"].lower() in by_name:
        primary = target["host"].lower()
        _fold_alias(redirector, primary, by_name, grouping)
    else:
        grouping.leftover.append(
            (redirector.server, f"redirects to {redirector.url}, which no site here serves")
        )


def _fold_https(redirector: Redirector, grouping: Grouping) -> None:
    """`return 301 https://$host$request_uri` on port 80: the HTTP→HTTPS redirect of every TLS
    site it names (its ACME webroot theirs), of all of them when it names none."""
    names = real_names(redirector.server)
    if not names:
        _fold_shared(redirector, grouping)
        return
    owners = [site for site in grouping.sites if site.tls and _names_any(site, names)]
    for site in owners:
        site.https_redirects.append(redirector)
    served = {n for site in owners for n in (*real_names(site.server), *site.aliases)}
    unserved = [name for name in names if name not in served]
    if unserved:
        why = f"redirects {', '.join(unserved)} to HTTPS, which no TLS site serves"
        grouping.leftover.append((redirector.server, why))


def _names_any(site: Site, names: list[str]) -> bool:
    return any(name in real_names(site.server) or name in site.aliases for name in names)


def _fold_alias(
    redirector: Redirector, primary: str, by_name: dict[str, Site], grouping: Grouping
) -> None:
    """A redirect to one site's name: its other names become the site's aliases."""
    site = by_name[primary]
    names = real_names(redirector.server)
    if _http_redirect_with_aliases(redirector, site, names):
        site.https_redirects.append(redirector)
        names = [name for name in names if name not in real_names(site.server)]
    if any(name in by_name for name in names):
        grouping.leftover.append((redirector.server, "redirects names that a site also serves"))
        return
    site.primary = primary
    site.alias_servers.append(redirector)
    site.aliases.extend(name for name in names if name not in site.aliases)


def _http_redirect_with_aliases(redirector: Redirector, site: Site, names: list[str]) -> bool:
    """A port-80 server sending the site's names and its aliases to `https://<primary>`: the
    site's HTTP→HTTPS redirect, the other names aliases (`listen 80; server_name example.dev
    www.example.dev; return 301 https://example.dev$request_uri`)."""
    return (
        site.tls
        and redirector.server.ports == {80}
        and redirector.url.startswith("https://")
        and any(name in real_names(site.server) for name in names)
    )


def _fold_shared(redirector: Redirector, grouping: Grouping) -> None:
    """A port-80 server for every name, redirecting to HTTPS: the HTTPS catch-all's own, or
    (without one) the port-80 server of every TLS site, its ACME webroot theirs too."""
    tls_sites = [site for site in grouping.sites if site.tls]
    catch_all = [site for site in tls_sites if site.catch_all]
    for site in catch_all or tls_sites:
        site.https_redirects.append(redirector)
    if not catch_all:
        grouping.shared_redirects.append(redirector)
