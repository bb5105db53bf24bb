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
            port = _listen_port(child.args[0]) if child.args else None
            if port is None:
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
            ports.add(port)
            if "ssl" in child.args[1:]:
                ssl_ports.add(port)
            default = default or "default_server" in child.args[1:] or "default" in child.args[1:]
        elif child.name == "location":
            locations.append(child)
        elif child.name == "ssl" and child.args == ("on",):
            http2_directive_ssl = True
        else:
            body.append(child)
    if http2_directive_ssl:
        ssl_ports |= ports - {80}
    if not ports:
        ports.add(80)  # nginx's default: listen *:80 (for root, 8000 otherwise)
    return Server(
        directive,
        tuple(dict.fromkeys(names)),
        frozenset(ports),
        frozenset(ssl_ports),
        default,
        tuple(body),
        tuple(locations),
        tuple(findings),
    )


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
    inert = {"server_tokens", "access_log", "error_log", "ssl_certificate", "ssl_certificate_key"}
    body = [d for d in server.body if d.name not in inert and not d.name.startswith("ssl_")]
    if redirect := redirect_of(body):
        if others or len(body) != 1:
            return None
        return Redirector(server, *redirect, acme, acme_location)
    if body or len(others) != 1 or others[0].args != ("/",):
        return None
    redirect = redirect_of(block_of(others[0]))
    if redirect is None or len(block_of(others[0])) != 1:
        return None
    return Redirector(server, *redirect, acme, acme_location)


@dataclass
class Site:
    """A content server with the redirect servers folded into it."""

    server: Server
    aliases: list[str] = field(default_factory=list)  # names that redirect to the primary
    alias_servers: list[Redirector] = field(default_factory=list)
    https_redirects: list[Redirector] = field(default_factory=list)
    primary: str = ""

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
    sites: list[Site]
    default_servers: list[Server]
    leftover: list[tuple[Server, str]]  # servers not folded anywhere, and why


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


def is_catch_all(server: Server) -> bool:
    return not server.names or all(name in ("_", "") for name in server.names)


def group(servers: list[Server]) -> Grouping:
    """Sites from servers: content servers first, then the redirects folded into them."""
    sites: list[Site] = []
    defaults: list[Server] = []
    leftover: list[tuple[Server, str]] = []
    redirectors: list[Redirector] = []
    for server in servers:
        redirector = as_redirector(server)
        if is_catch_all(server):
            defaults.append(server)
        elif redirector is not None:
            redirectors.append(redirector)
        else:
            sites.append(Site(server, primary=server.names[0]))
    by_name = {name: site for site in sites for name in site.server.names}
    # Name-to-name redirects first: the HTTPS redirects may cover their names too.
    redirectors.sort(key=lambda redirector: SAME_HOST_HTTPS.fullmatch(redirector.url) is not None)
    for redirector in redirectors:
        target = OTHER_HOST.fullmatch(redirector.url)
        names = redirector.server.names
        if SAME_HOST_HTTPS.fullmatch(redirector.url) and redirector.server.ports == {80}:
            owners = {id(by_name[name]) for name in names if name in by_name}
            site = next((s for s in sites if id(s) in owners), None)
            if (
                site is not None
                and site.tls
                and all(name in by_name or _alias_of(name, sites) for name in names)
            ):
                site.https_redirects.append(redirector)
                continue
            leftover.append((redirector.server, "redirects to HTTPS names no TLS site serves"))
        elif target is not None and target["host"].lower() in by_name:
            site = by_name[target["host"].lower()]
            if any(name in by_name for name in names):
                leftover.append((redirector.server, "redirects names that a site also serves"))
                continue
            site.primary = target["host"].lower()
            site.alias_servers.append(redirector)
            site.aliases.extend(name for name in names if name not in site.aliases)
        else:
            leftover.append(
                (redirector.server, f"redirects to {redirector.url}, which no site here serves")
            )
    return Grouping(sites, defaults, leftover)


def _alias_of(name: str, sites: list[Site]) -> bool:
    return any(name in site.aliases for site in sites) or any(
        name in redirector.server.names for site in sites for redirector in site.alias_servers
    )
