"""The original config and the generated one, compared by meaning rather than by text.

Both are read into the same view: for each server name and port, the TLS files, a server-wide
redirect, and the locations (match and path) with what each does: the target (host:port) and
the path the upstream sees, a redirect, files served, auth, allow-list and rate limit.
Variables are followed through `set`, upstreams through their servers, and nginxgen's prefix
strip (`strip_prefix_rewrite`, read back by `stripped_prefix`) reads as the
`proxy_pass http://host/` it replaces. The names no server has answer at the default server of
their port: a catch-all with content is viewed under `*`, as `ANY_NAME:port`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields

from nginxgen.adopt.handlers import parameters
from nginxgen.adopt.services import PROXY_URL
from nginxgen.adopt.sites import (
    PLACEHOLDER_NAMES,
    Server,
    block_of,
    is_catch_all,
    port_defaults,
    read_server,
    refuses,
    servers_of,
)
from nginxgen.generation.plan_locations import stripped_prefix
from nginxgen.nginx.config import Directive, ParsedConfig

HOST_VARIABLES = re.compile(r"\$(?:host|server_name|http_host)\b")
# The view's name for "every name no server has": the default server of the port.
ANY_NAME = "*"
_MATCHES = {"": "prefix", "^~": "prefix", "=": "exact"}


@dataclass(frozen=True)
class Does:
    """What a location does: `proxy` (to `addresses`, host:port, over `scheme`; `url` when it
    names no host nginxgen can read), `redirect` (`code`, `url`), `files` (`root`), `other`."""

    kind: str
    scheme: str = ""
    addresses: tuple[str, ...] = ()
    url: str = ""
    code: str = ""
    root: str = ""

    def __str__(self) -> str:
        if self.kind == "proxy":
            return (
                f"proxy {self.url}"
                if self.url
                else f"proxy {self.scheme}://" + ",".join(self.addresses)
            )
        if self.kind == "redirect":
            return f"redirect {self.code} {self.url}".rstrip()
        if self.kind == "files":
            return f"files {self.root}"
        return "other"


OTHER = Does("other")


@dataclass(frozen=True)
class LocationView:
    does: Does
    upstream_path: str = ""
    auth: str = ""
    allow: str = ""
    limit: str = ""


@dataclass
class ServerView:
    tls: str = ""
    redirect: Does | None = None
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


@dataclass(frozen=True)
class _HttpLevel:
    """What locations refer to at http level: upstream servers, rate-limit zones."""

    upstreams: dict[str, list[str]]
    zones: dict[str, str]


def _http_level(http: list[Directive]) -> _HttpLevel:
    upstreams = {d.args[0]: _upstream_servers(d) for d in http if d.name == "upstream" and d.args}
    zones = dict(_zone(d) for d in http if d.name == "limit_req_zone")
    return _HttpLevel(upstreams, zones)


def _upstream_servers(upstream: Directive) -> list[str]:
    """An upstream's servers as host:port (nginx's default port 80), sorted."""
    return sorted(
        s.args[0] if ":" in s.args[0] else f"{s.args[0]}:80"
        for s in block_of(upstream)
        if s.name == "server" and s.args
    )


def _zone(limit_req_zone: Directive) -> tuple[str, str]:
    """A `limit_req_zone`'s name and rate."""
    args = limit_req_zone.args
    name = next((a[5:].split(":")[0] for a in args if a.startswith("zone=")), "")
    return name, next((a[5:] for a in args if a.startswith("rate=")), "")


def view(config: ParsedConfig) -> dict[str, ServerView]:
    http, _ = servers_of(config)
    level = _http_level(http)
    servers = [read_server(d) for d in http if d.name == "server"]
    views: dict[str, ServerView] = {}
    for server, name, port in _keys(servers):
        key = f"{name}:{port}"
        if key not in views:
            views[key] = _server_view(server, name, port, level)
    return views


def _keys(servers: list[Server]) -> Iterator[tuple[Server, str, int]]:
    """(server, name, port) for every name a server answers; `ANY_NAME` for the default
    server of a port when it is a catch-all with content."""
    for port, server in sorted(port_defaults(servers).items()):
        if is_catch_all(server) and not refuses(server):
            yield server, ANY_NAME, port
    for server in servers:
        for name in server.names:
            if name in PLACEHOLDER_NAMES or name.startswith("~") or name.endswith(".*"):
                continue
            for port in sorted(server.ports):
                yield server, name, port


def _server_view(server: Server, name: str, port: int, level: _HttpLevel) -> ServerView:
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
        matched = _location_match(location.args)
        if matched is None:
            continue
        match, path = matched
        if match == "regex":
            result.regex_order.append(path)
        inner = block_of(location)
        scope = {**sets, **_sets(inner)}
        result.locations[f"{match} {path}"] = LocationView(
            does=_does(inner, body, name, scope, level),
            upstream_path=_upstream_path(inner, match, path, scope),
            auth=_auth(inner) or _auth(body),
            allow=_allow(inner) or _allow(body),
            limit=_limit(inner, level.zones) or _limit(body, level.zones),
        )
    return result


def _location_match(args: Sequence[str]) -> tuple[str, str] | None:
    """A location's match kind and path (a case-insensitive regex marked `(?i)`); None for a
    named location, which no request reaches directly."""
    modifier, path = (args[0], args[1]) if len(args) == 2 else ("", args[0])
    if modifier == "@" or path.startswith("@"):
        return None
    match = _MATCHES.get(modifier, "regex")
    return match, f"(?i){path}" if modifier == "~*" else path


def _sets(directives: list[Directive]) -> dict[str, str]:
    return {d.args[0]: d.args[1] for d in directives if d.name == "set" and len(d.args) == 2}


def _substitute(text: str, sets: dict[str, str]) -> str:
    for variable, value in sorted(sets.items(), key=lambda item: -len(item[0])):
        text = text.replace(variable, value)
    return text


def _redirect(directive: Directive, name: str) -> Does:
    args = list(directive.args)
    if len(args) == 2:
        return Does("redirect", code=args[0], url=HOST_VARIABLES.sub(name, args[1]))
    return Does("redirect", code=" ".join(args))


def _proxy(url: str, level: _HttpLevel) -> Does:
    match = PROXY_URL.fullmatch(url)
    if match is None:
        return Does("proxy", url=url)
    host = match["host"]
    if host in level.upstreams and match["port"] is None:
        addresses = tuple(level.upstreams[host])
    else:
        addresses = (f"{host.lower()}:{match['port'] or 80}",)
    return Does("proxy", scheme=match["scheme"], addresses=addresses)


def _does(
    inner: list[Directive],
    server_body: list[Directive],
    name: str,
    sets: dict[str, str],
    level: _HttpLevel,
) -> Does:
    proxy = next((d for d in inner if d.name == "proxy_pass" and d.args), None)
    if proxy is not None:
        return _proxy(_substitute(proxy.args[0], sets), level)
    returns = [d for d in inner if d.name == "return"]
    if returns:
        return _redirect(returns[0], name)
    root = next((d for d in [*inner, *server_body] if d.name == "root" and d.args), None)
    return Does("files", root=root.args[0]) if root is not None else OTHER


def _upstream_path(inner: list[Directive], match: str, path: str, sets: dict[str, str]) -> str:
    proxy = next((d for d in inner if d.name == "proxy_pass" and d.args), None)
    if proxy is None:
        return ""
    rewritten = _rewritten(inner)
    if rewritten is not None:
        return rewritten
    url = PROXY_URL.fullmatch(_substitute(proxy.args[0], sets))
    uri = url["uri"] if url else None
    if not uri or (match != "regex" and uri == path):
        return "as requested"
    return f"{path}… → {uri}…"


def _rewritten(inner: list[Directive]) -> str | None:
    """What a location's `rewrite` does to the path (a stripped prefix, or the rule itself)."""
    rewrite = next((d for d in inner if d.name == "rewrite" and len(d.args) >= 2), None)
    if rewrite is None:
        return None
    prefix = stripped_prefix(rewrite.args[0], rewrite.args[1])
    return f"{prefix}… → /…" if prefix else f"rewritten: {' '.join(rewrite.args)}"


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
        found = _key_differences(key, before, after)
        if found:
            differences.extend((key, difference) for difference in found)
        else:
            same.append(key)
    return Comparison(tuple(same), tuple(differences))


def _key_differences(
    key: str, before: dict[str, ServerView], after: dict[str, ServerView]
) -> list[str]:
    if key not in after:
        return ["not served by the generated config"]
    if key not in before:
        return ["added by nginxgen" + _summary(after[key])]
    return _differences(before[key], after[key], before, after)


def _order(key: str) -> tuple[str, int]:
    name, _, port = key.rpartition(":")
    return name, int(port)


def _summary(server: ServerView) -> str:
    if server.redirect:
        return f" ({server.redirect})"
    redirects = {str(loc.does) for loc in server.locations.values() if loc.does.kind == "redirect"}
    return f" ({', '.join(sorted(redirects))})" if redirects else ""


def _differences(
    before: ServerView,
    after: ServerView,
    before_all: dict[str, ServerView],
    after_all: dict[str, ServerView],
) -> list[str]:
    found = []
    if before.tls != after.tls:
        found.append(f"TLS files: {before.tls or 'none'} → {after.tls or 'none'}")
    if before.redirect or after.redirect:
        was = _final(before.redirect or _slash_redirect(before), before_all)
        now = _final(after.redirect or _slash_redirect(after), after_all)
        if was != now:
            found.append(f"redirect: {was or 'none'} → {now or 'none'}")
        return found
    for key in sorted(set(before.locations) | set(after.locations)):
        found += _location_differences(
            key, before.locations.get(key), after.locations.get(key), before_all, after_all
        )
    return found + _regex_order_difference(before.regex_order, after.regex_order)


def _regex_order_difference(before: list[str], after: list[str]) -> list[str]:
    """The same regex locations in another order: nginx tries them in file order."""
    if before != after and set(before) == set(after):
        return ["regex locations in another order: " + ", ".join(after)]
    return []


def _location_differences(
    key: str,
    old: LocationView | None,
    new: LocationView | None,
    before_all: dict[str, ServerView],
    after_all: dict[str, ServerView],
) -> list[str]:
    if old is None:
        return [f"location {key}: added ({new.does if new else ''})"]
    if new is None:
        return [f"location {key}: missing (was {old.does})"]
    found = []
    for attribute in (f.name for f in fields(LocationView)):
        was, now = getattr(old, attribute), getattr(new, attribute)
        if attribute == "does":
            was, now = _final(was, before_all), _final(now, after_all)
        if was != now:
            label = attribute.replace("_", " ")
            found.append(f"location {key}: {label}: {was or 'none'} → {now or 'none'}")
    return found


def _slash_redirect(server: ServerView) -> Does | None:
    slash = server.locations.get("prefix /")
    return slash.does if slash and slash.does.kind == "redirect" else None


_SAME_PATH = re.compile(r"(?P<scheme>https?)://(?P<host>[A-Za-z0-9.-]+)\$request_uri")


def _final(does: Does | None, views: dict[str, ServerView]) -> str:
    """A redirect as where it ends: a redirect to a name that itself redirects the whole
    server elsewhere (http://www → https://www → https://apex) counts as its last hop."""
    if does is None:
        return ""
    seen: set[str] = set()
    while does.kind == "redirect" and (match := _SAME_PATH.fullmatch(does.url)):
        key = f"{match['host'].lower()}:{443 if match['scheme'] == 'https' else 80}"
        target = views.get(key)
        hop = target.redirect or _slash_redirect(target) if target else None
        if hop is None or key in seen:
            break
        seen.add(key)
        does = hop
    return str(does)
