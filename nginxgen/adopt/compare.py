"""The original config and the generated one, compared by meaning rather than by text.

Both are read into the same view: for each server name and port, the TLS files, a server-wide
redirect, and the locations (match and path) with what each does: the target (host:port) and
the path the upstream sees, a redirect, files served, auth, allow-list and rate limit.
Variables are followed through `set`, upstreams through their servers, and nginxgen's prefix
strip (`rewrite ^/api/?(.*)$ /$1 break`) reads as the `proxy_pass http://host/` it replaces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from nginxgen.adopt.handlers import PROXY_URL, parameters
from nginxgen.adopt.sites import Server, block_of, read_server, servers_of
from nginxgen.nginx.config import Directive, ParsedConfig

STRIP_REWRITE = re.compile(r"\^(?P<prefix>.*)/\?\(\.\*\)\$")
HOST_VARIABLES = re.compile(r"\$(?:host|server_name|http_host)\b")


@dataclass(frozen=True)
class LocationView:
    does: str  # `proxy app:3000`, `files /var/www`, `redirect 301 URL`, `other`
    upstream_path: str = ""
    auth: str = ""
    allow: str = ""
    limit: str = ""


@dataclass
class ServerView:
    tls: str = ""
    redirect: str = ""
    locations: dict[str, LocationView] = field(default_factory=dict)
    regex_order: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Comparison:
    """`same` and `different` are `name:port` keys; `differences` say what differs."""

    same: tuple[str, ...]
    differences: tuple[tuple[str, str], ...]

    @property
    def identical(self) -> bool:
        return not self.differences


def view(config: ParsedConfig) -> dict[str, ServerView]:
    http, _ = servers_of(config)
    upstreams = {
        d.args[0]: sorted(
            s.args[0] if ":" in s.args[0] else f"{s.args[0]}:80"
            for s in block_of(d)
            if s.name == "server" and s.args
        )
        for d in http
        if d.name == "upstream" and d.args
    }
    zones = {
        next((a[5:].split(":")[0] for a in d.args if a.startswith("zone=")), ""): next(
            (a[5:] for a in d.args if a.startswith("rate=")), ""
        )
        for d in http
        if d.name == "limit_req_zone"
    }
    views: dict[str, ServerView] = {}
    for directive in http:
        if directive.name != "server":
            continue
        server = read_server(directive)
        for name in server.names:
            if name in ("_", "") or name.startswith("~"):
                continue
            for port in sorted(server.ports):
                key = f"{name}:{port}"
                if key not in views:
                    views[key] = _server_view(server, name, port, upstreams, zones)
    return views


def _server_view(
    server: Server, name: str, port: int, upstreams: dict[str, list[str]], zones: dict[str, str]
) -> ServerView:
    result = ServerView()
    if port in server.ssl_ports and server.certificate:
        result.tls = " ".join(server.certificate)
    body = list(server.body)
    returns = [d for d in body if d.name == "return"]
    if returns:
        result.redirect = _redirect(returns[0], name)
        return result
    sets = _sets(body)
    for location in server.locations:
        args = location.args
        modifier, path = (args[0], args[1]) if len(args) == 2 else ("", args[0])
        if modifier == "@" or path.startswith("@"):
            continue
        match = {"": "prefix", "^~": "prefix", "=": "exact"}.get(modifier, "regex")
        if modifier == "~*":
            path = f"(?i){path}"
        key = f"{match} {path}"
        if match == "regex":
            result.regex_order.append(path)
        inner = block_of(location)
        result.locations[key] = LocationView(
            does=_does(inner, body, name, {**sets, **_sets(inner)}, upstreams),
            upstream_path=_upstream_path(inner, match, path, {**sets, **_sets(inner)}),
            auth=_auth(inner) or _auth(body),
            allow=_allow(inner) or _allow(body),
            limit=_limit(inner, zones) or _limit(body, zones),
        )
    return result


def _sets(directives: list[Directive]) -> dict[str, str]:
    return {d.args[0]: d.args[1] for d in directives if d.name == "set" and len(d.args) == 2}


def _substitute(text: str, sets: dict[str, str]) -> str:
    for variable, value in sorted(sets.items(), key=lambda item: -len(item[0])):
        text = text.replace(variable, value)
    return text


def _redirect(directive: Directive, name: str) -> str:
    args = list(directive.args)
    if len(args) == 2:
        args[1] = HOST_VARIABLES.sub(name, args[1])
    return "redirect " + " ".join(args)


def _does(
    inner: list[Directive],
    server_body: list[Directive],
    name: str,
    sets: dict[str, str],
    upstreams: dict[str, list[str]],
) -> str:
    proxy = next((d for d in inner if d.name == "proxy_pass" and d.args), None)
    if proxy is not None:
        url = _substitute(proxy.args[0], sets)
        match = PROXY_URL.fullmatch(url)
        if match is None:
            return f"proxy {url}"
        host = match["host"]
        if host in upstreams and match["port"] is None:
            addresses = upstreams[host]
        else:
            addresses = [f"{host.lower()}:{match['port'] or 80}"]
        return f"proxy {match['scheme']}://{','.join(addresses)}"
    returns = [d for d in inner if d.name == "return"]
    if returns:
        return _redirect(returns[0], name)
    root = next((d for d in inner if d.name == "root"), None) or next(
        (d for d in server_body if d.name == "root"), None
    )
    if root is not None and root.args:
        return f"files {root.args[0]}"
    return "other"


def _upstream_path(inner: list[Directive], match: str, path: str, sets: dict[str, str]) -> str:
    proxy = next((d for d in inner if d.name == "proxy_pass" and d.args), None)
    if proxy is None:
        return ""
    rewrite = next((d for d in inner if d.name == "rewrite" and len(d.args) >= 2), None)
    if rewrite is not None:
        strip = STRIP_REWRITE.fullmatch(rewrite.args[0])
        if strip and rewrite.args[1] == "/$1":
            prefix = re.sub(r"\\(.)", r"\1", strip["prefix"]) + "/"
            return f"{prefix}… → /…"
        return f"rewritten: {' '.join(rewrite.args)}"
    url = PROXY_URL.fullmatch(_substitute(proxy.args[0], sets))
    uri = url["uri"] if url else None
    if not uri or (match != "regex" and uri == path):
        return "as requested"
    return f"{path}… → {uri}…"


def _auth(directives: list[Directive]) -> str:
    realm = next((d.args[0] for d in directives if d.name == "auth_basic" and d.args), "")
    if not realm or realm == "off":
        return realm
    users = next((d.args[0] for d in directives if d.name == "auth_basic_user_file" and d.args), "")
    return f"basic {users}"


def _allow(directives: list[Directive]) -> str:
    rules = [f"{d.name} {' '.join(d.args)}" for d in directives if d.name in ("allow", "deny")]
    return ", ".join(rules)


def _limit(directives: list[Directive], zones: dict[str, str]) -> str:
    limit = next((d for d in directives if d.name == "limit_req"), None)
    if limit is None:
        return ""
    options = parameters(limit.args)
    text = zones.get(options.get("zone", ""), "?")
    if options.get("burst", "0") != "0":
        text += f" burst={options['burst']}"
    if "nodelay" in options:
        text += " nodelay"
    return text


def compare(original: ParsedConfig, generated: ParsedConfig) -> Comparison:
    before, after = view(original), view(generated)
    same: list[str] = []
    differences: list[tuple[str, str]] = []
    for key in sorted(set(before) | set(after), key=_order):
        if key not in after:
            differences.append((key, "not served by the generated config"))
            continue
        if key not in before:
            differences.append((key, "added by nginxgen" + _summary(after[key])))
            continue
        found = _differences(before[key], after[key])
        if found:
            differences.extend((key, difference) for difference in found)
        else:
            same.append(key)
    return Comparison(tuple(same), tuple(differences))


def _order(key: str) -> tuple[str, int]:
    name, _, port = key.rpartition(":")
    return name, int(port)


def _summary(server: ServerView) -> str:
    if server.redirect:
        return f" ({server.redirect})"
    redirects = {loc.does for loc in server.locations.values() if loc.does.startswith("redirect")}
    return f" ({', '.join(sorted(redirects))})" if redirects else ""


def _differences(before: ServerView, after: ServerView) -> list[str]:
    found = []
    if before.tls != after.tls:
        found.append(f"TLS files: {before.tls or 'none'} → {after.tls or 'none'}")
    if before.redirect or after.redirect:
        before_redirect = before.redirect or _slash_redirect(before)
        after_redirect = after.redirect or _slash_redirect(after)
        if before_redirect != after_redirect:
            found.append(f"redirect: {before_redirect or 'none'} → {after_redirect or 'none'}")
        return found
    for key in sorted(set(before.locations) | set(after.locations)):
        old, new = before.locations.get(key), after.locations.get(key)
        if old is None:
            found.append(f"location {key}: added ({new.does if new else ''})")
        elif new is None:
            found.append(f"location {key}: missing (was {old.does})")
        elif old != new:
            for attribute in ("does", "upstream_path", "auth", "allow", "limit"):
                was, now = getattr(old, attribute), getattr(new, attribute)
                if was != now:
                    label = attribute.replace("_", " ")
                    found.append(f"location {key}: {label}: {was or 'none'} → {now or 'none'}")
    if before.regex_order != after.regex_order and set(before.regex_order) == set(
        after.regex_order
    ):
        found.append("regex locations in another order: " + ", ".join(after.regex_order))
    return found


def _slash_redirect(server: ServerView) -> str:
    slash = server.locations.get("prefix /")
    return slash.does if slash and slash.does.startswith("redirect") else ""
