"""The directive handlers of `nginxgen import`: tables of small functions by directive name,
one for server level (TLS among them) and one for location level, sharing the handlers that
apply at both. A directive without a handler is kept raw where nginxgen's raw check accepts it,
and listed as not converted otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nginxgen.adopt.conversion_state import Collector, HttpLevel, RouteDraft, is_valid
from nginxgen.adopt.services import PROXY_URL, Services
from nginxgen.adopt.sites import directive_text
from nginxgen.generation.fields import Duration, FilePath, HeaderName, HeaderValue, Size
from nginxgen.generation.plan_tls import INTERMEDIATE_CIPHERS
from nginxgen.nginx.config import Directive
from nginxgen.nginx.directives import check_raw_directive

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
UNAVAILABLE_CODES = frozenset({"500", "502", "503", "504"})
DHPARAM_NOTE = (
    "nginxgen's Mozilla profiles use ECDHE key exchange only, which needs no DH parameters: "
    "not carried over"
)
# certbot's TLS settings file (`certbot --nginx` and its docs' layout include it everywhere).
CERTBOT_OPTIONS = "options-ssl-nginx.conf"


def include_note(directive: Directive) -> str | None:
    """What an include nginxgen need not read stands for, else None (its content is unknown)."""
    if directive.args and directive.args[0].endswith(CERTBOT_OPTIONS):
        return (
            "certbot's TLS options (protocols, ciphers, session cache): nginxgen's Mozilla "
            "intermediate profile instead (TLSv1.2 and TLSv1.3; profile: modern for 1.3 only)"
        )
    return None


@dataclass
class SiteDraft:
    """What the handlers read a site's directives into: environment keys, the TLS section,
    security headers, HSTS, the server-level route defaults and the services. The site
    converter assembles the environment from it; handlers never see the converter."""

    collector: Collector
    http: HttpLevel
    services: Services
    server: RouteDraft
    env: dict[str, Any] = field(default_factory=dict)
    tls: dict[str, Any] = field(default_factory=dict)
    security: dict[str, str] = field(default_factory=dict)
    hsts: dict[str, Any] | None = None


Handler = Callable[[SiteDraft, Directive, RouteDraft], None]


# --- handlers shared by both levels ------------------------------------------------------------


def _proxy_set_header(draft: SiteDraft, directive: Directive, route: RouteDraft) -> None:
    route.own_request_headers = True
    if len(directive.args) != 2:
        draft.collector.left(directive, "expected a header name and value")
        return
    name, value = directive.args
    lower = name.lower()
    if lower == "host":
        route.host_header = value
    if lower == "upgrade" and value == "$http_upgrade":
        route.upgrade = True
    elif lower == "connection" and (value.lower() == "upgrade" or value.startswith("$")):
        route.connection = True
    elif STANDARD_PROXY_HEADERS.get(lower) == value:
        return  # nginxgen sends it anyway
    elif is_valid(HeaderName, name) and is_valid(HeaderValue, value):
        route.request_headers[name] = value
    else:
        keep_raw(draft, directive, route, "location", "header value with variables or quotes")


def _add_header(draft: SiteDraft, directive: Directive, route: RouteDraft) -> None:
    args = directive.args
    if len(args) not in (2, 3) or (len(args) == 3 and args[2] != "always"):
        draft.collector.left(directive, "expected a header name, value and `always`")
        return
    name, value = args[0], args[1]
    if len(args) == 2:
        draft.collector.note(directive, "nginxgen sends response headers `always`")
    if route is draft.server and _security_header(draft, directive, name.lower(), value):
        return
    route.own_response_headers = True
    if is_valid(HeaderName, name) and is_valid(HeaderValue, value):
        if route is draft.server:
            draft.collector.left(directive, "server-wide custom response header: give it per route")
        else:
            route.response_headers[name] = value
    else:
        keep_raw(draft, directive, route, "location", "header value with variables or quotes")


def _security_header(draft: SiteDraft, directive: Directive, lower: str, value: str) -> bool:
    """A server's HSTS or security header, taken into nginxgen's own keys: whether it was."""
    if lower == "strict-transport-security":
        draft.hsts = _hsts(value)
        if draft.hsts is None:
            draft.collector.left(directive, "HSTS value nginxgen cannot express")
        return True
    if lower in SECURITY_HEADERS and is_valid(HeaderValue, value):
        draft.security[SECURITY_HEADERS[lower]] = value
        return True
    return False


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


def _timeout(draft: SiteDraft, directive: Directive, route: RouteDraft) -> None:
    key = directive.name.removeprefix("proxy_").removesuffix("_timeout")
    value = directive.args[0] if directive.args else ""
    if is_valid(Duration, value):
        route.timeouts[key] = value
    else:
        draft.collector.left(directive, "duration nginxgen cannot express")


def _buffering(draft: SiteDraft, directive: Directive, route: RouteDraft) -> None:
    route.buffering = directive.args != ("off",)


def _body_size(draft: SiteDraft, directive: Directive, route: RouteDraft) -> None:
    value = directive.args[0] if directive.args else ""
    if not is_valid(Size, value):
        draft.collector.left(directive, "size nginxgen cannot express")
    elif route is draft.server:
        draft.env["client_max_body_size"] = value
    else:
        route.data["client_max_body_size"] = value


def _auth_basic(draft: SiteDraft, directive: Directive, route: RouteDraft) -> None:
    realm = directive.args[0] if directive.args else ""
    if realm == "off":
        route.auth_off = True
    elif is_valid(HeaderValue, realm):
        route.auth["realm"] = realm
    else:
        draft.collector.left(directive, "realm nginxgen cannot express")
    _sync_access(draft, route)


def _auth_file(draft: SiteDraft, directive: Directive, route: RouteDraft) -> None:
    path = directive.args[0] if directive.args else ""
    if is_valid(FilePath, path):
        route.auth["htpasswd"] = path
    else:
        draft.collector.left(directive, "htpasswd path nginxgen cannot express")
    _sync_access(draft, route)


def _allow(draft: SiteDraft, directive: Directive, route: RouteDraft) -> None:
    route.own_allow = True
    value = directive.args[0] if directive.args else ""
    if value == "all":
        draft.collector.note(directive, "allow all: no allow-list")
    else:
        route.allow.append(value)
    _sync_access(draft, route)


def _deny(draft: SiteDraft, directive: Directive, route: RouteDraft) -> None:
    route.own_allow = True
    block = route.directive.block or ()
    last_rule = [d for d in block if d.name in ("allow", "deny")][-1:]
    if directive.args != ("all",) or last_rule != [directive]:
        draft.collector.left(directive, "nginxgen's access is an allow-list followed by `deny all`")


def _sync_access(draft: SiteDraft, route: RouteDraft) -> None:
    """Server-level access becomes the environment's `access`."""
    if route is not draft.server:
        return
    access: dict[str, Any] = {}
    if route.auth and not route.auth_off:
        access["basic_auth"] = dict(route.auth)
    if route.allow:
        access["allow"] = list(route.allow)
    if access:
        draft.env["access"] = access


def _limit_req(draft: SiteDraft, directive: Directive, route: RouteDraft) -> None:
    options = parameters(directive.args)
    zone = draft.http.zones.get(options.get("zone", ""))
    if zone is None:
        draft.collector.left(directive, "limit_req zone not defined here")
        return
    key = zone.args[0] if zone.args else ""
    rate = next((a[5:] for a in zone.args if a.startswith("rate=")), "")
    if key not in ("$binary_remote_addr", "$remote_addr"):
        draft.collector.left(directive, f"rate limited by {key}: nginxgen limits per address")
        return
    limit: dict[str, Any] = {"rate": rate}
    if options.get("burst", "0").isdigit() and int(options.get("burst", "0")):
        limit["burst"] = int(options["burst"])
    limit["nodelay"] = "nodelay" in options
    if set(options) - {"zone", "burst", "nodelay"}:
        draft.collector.left(directive, "limit_req parameter nginxgen does not set")
    route.limit = limit
    draft.collector.note(zone, f"zone {options['zone']}: one zone per route in nginxgen")


def parameters(args: tuple[str, ...]) -> dict[str, str]:
    """`zone=one burst=5 nodelay` → {zone: one, burst: 5, nodelay: ""}."""
    options: dict[str, str] = {}
    for arg in args:
        key, _, value = arg.partition("=")
        options[key] = value
    return options


def _limit_req_status(draft: SiteDraft, directive: Directive, route: RouteDraft) -> None:
    if directive.args != ("429",):
        draft.collector.note(directive, "nginxgen answers 429 over the rate limit")


def _silent(draft: SiteDraft, directive: Directive, route: RouteDraft) -> None:
    if directive.name == "server_tokens" and directive.args != ("off",):
        draft.collector.note(directive, "nginxgen sets server_tokens off")


# --- server level ----------------------------------------------------------------------------


def _certificate(draft: SiteDraft, directive: Directive, route: RouteDraft) -> None:
    path = directive.args[0] if directive.args else ""
    if not is_valid(FilePath, path):
        draft.collector.left(directive, "certificate path nginxgen cannot express")


def _protocols(draft: SiteDraft, directive: Directive, route: RouteDraft) -> None:
    protocols = set(directive.args)
    if protocols == {"TLSv1.3"}:
        draft.tls["profile"] = "modern"
        return
    if protocols != {"TLSv1.2", "TLSv1.3"}:
        draft.collector.note(
            directive,
            "closest Mozilla profile: intermediate (TLSv1.2 TLSv1.3); the input allowed "
            + " ".join(directive.args),
        )


def _ciphers(draft: SiteDraft, directive: Directive, route: RouteDraft) -> None:
    if directive.args != (INTERMEDIATE_CIPHERS,):
        draft.collector.note(directive, "ciphers of the Mozilla profile instead")


def _tls_tuning(draft: SiteDraft, directive: Directive, route: RouteDraft) -> None:
    draft.collector.note(directive, "nginxgen sets its own TLS session settings")


def _stapling(draft: SiteDraft, directive: Directive, route: RouteDraft) -> None:
    if directive.name == "ssl_stapling" and directive.args == ("on",):
        draft.tls["ocsp_stapling"] = True
    elif directive.name == "ssl_trusted_certificate" and directive.args:
        draft.tls["trusted_certificate"] = directive.args[0]


def _dhparam(draft: SiteDraft, directive: Directive, route: RouteDraft) -> None:
    draft.collector.note(directive, DHPARAM_NOTE)


def _missing_include(draft: SiteDraft, directive: Directive, route: RouteDraft) -> None:
    note = include_note(directive)
    if note:
        draft.collector.note(directive, note)
    else:
        draft.collector.left(directive, "included file not found: its content is unknown")


def _resolver(draft: SiteDraft, directive: Directive, route: RouteDraft) -> None:
    valid = next((a[6:] for a in directive.args if a.startswith("valid=")), None)
    if valid and is_valid(Duration, valid):
        draft.http.resolver_valid = valid
    draft.collector.note(directive, "nginxgen uses Docker's DNS (127.0.0.11) for every service")


def _error_page(draft: SiteDraft, directive: Directive, route: RouteDraft) -> None:
    codes = {arg for arg in directive.args[:-1] if arg.isdigit()}
    if codes and codes <= UNAVAILABLE_CODES:
        draft.collector.note(
            directive, "a service that is down gets nginxgen's `unavailable` page instead"
        )
        return
    keep_raw(draft, directive, route, "server", "error page nginxgen cannot express")


def _root(draft: SiteDraft, directive: Directive, route: RouteDraft) -> None:
    if directive.args and is_valid(FilePath, directive.args[0]):
        route.root = directive.args[0]
    else:
        draft.collector.left(directive, "root nginxgen cannot express")


def _index(draft: SiteDraft, directive: Directive, route: RouteDraft) -> None:
    if directive.args != ("index.html",):
        context = "server" if route is draft.server else "location"
        keep_raw(draft, directive, route, context, "index nginxgen cannot express")


def _server_other(draft: SiteDraft, directive: Directive, route: RouteDraft) -> None:
    if directive.name == "return":
        draft.collector.left(directive, "a server-wide return beside locations")
        return
    keep_raw(draft, directive, route, "server", "no counterpart in nginxgen")


def _proxy_pass(draft: SiteDraft, directive: Directive, route: RouteDraft) -> None:
    url = directive.args[0] if directive.args else ""
    service = draft.services.service_for(directive, url)
    if service is None:
        return
    route.data["service"] = service
    match = PROXY_URL.fullmatch(url)
    route.proxy_uri = match["uri"] if match else None


def _try_files(draft: SiteDraft, directive: Directive, route: RouteDraft) -> None:
    route.try_files = directive


def _location_other(draft: SiteDraft, directive: Directive, route: RouteDraft) -> None:
    if directive.name in ("return", "rewrite", "if", "alias"):
        draft.collector.left(directive, f"{directive.name} has no counterpart in nginxgen")
        return
    keep_raw(draft, directive, route, "location", "no counterpart in nginxgen")


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


def server_handler(name: str) -> Handler:
    """The handler of a server-level directive; without one, it is kept raw or listed."""
    return SERVER_HANDLERS.get(name, _server_other)


def location_handler(name: str) -> Handler:
    """The handler of a location-level directive; without one, it is kept raw or listed."""
    return LOCATION_HANDLERS.get(name, _location_other)


def keep_raw(
    draft: SiteDraft, directive: Directive, route: RouteDraft, context: str, why: str
) -> None:
    """Keep `directive` as a raw directive of `context` when nginxgen's raw check accepts it,
    else list it with `why`."""
    text = directive_text(directive)
    if directive.block is None and directive.name != "include":
        try:
            check_raw_directive(text, context)
        except ValueError:
            pass
        else:
            route.raw.append(text)
            draft.collector.add(directive, "raw", f"kept as a raw directive of the {context}")
            return
    draft.collector.left(directive, why)
