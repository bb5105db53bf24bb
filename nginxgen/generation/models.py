"""The environment file and the settings file, as pydantic models.

Validation, not escaping, keeps nginx syntax out of the output: every string that reaches a
template is constrained here to characters that cannot end a directive, open a block, quote,
or expand a variable. No I/O happens in this module.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from nginxgen.core.versions import UPSTREAM_RESOLVE, at_least
from nginxgen.nginx.directives import check_raw_directive

# nginx reads a parameter into a 4096-byte buffer and refuses a longer one ("too long
# parameter"); quotes count, so values stay a little under it.
MAX_PARAMETER_BYTES = 4000
# A URL path is also rendered escaped inside a regex (strip_prefix), up to twice its length.
MAX_URL_PATH_BYTES = 1024
# Invisible or layout characters a reader cannot see and nginx does not take as text: controls,
# format characters (bidirectional marks), line and paragraph separators, non-ASCII spaces,
# private-use, surrogates and unassigned code points.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"})


def invisible_character(value: str) -> str | None:
    """The first character of `value` that must not reach the output (the ASCII space is the one
    space allowed; fields that refuse spaces say so themselves), or None."""
    for character in value:
        if character != " " and unicodedata.category(character) in _INVISIBLE_CATEGORIES:
            return character
    return None


def check_text(value: str) -> str:
    """Every string of every model: no invisible character, no parameter nginx refuses."""
    character = invisible_character(value)
    if character is not None:
        name = unicodedata.name(character, "")
        raise ValueError(
            f"{value!r} contains the invisible or control character U+{ord(character):04X}"
            + (f" ({name})" if name else "")
        )
    if len(value.encode("utf-8", "surrogatepass")) > MAX_PARAMETER_BYTES:
        raise ValueError(f"is longer than {MAX_PARAMETER_BYTES} bytes, more than nginx accepts")
    return value


def _check_strings(value: Any) -> Any:
    """Backstop for any string field, in lists and mappings too, whatever its own type checks."""
    if isinstance(value, str):
        check_text(value)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key)
            _check_strings(item)
    return value


class StrictModel(BaseModel):
    """Base of every model: unknown keys are errors, parsed values never change, and no value
    is coerced (a string field takes a string, a number field a number, a flag true or false).

    The `pattern` of a `StringConstraints` is run by pydantic's Rust regex engine, whose `$` is
    the end of the text (unlike Python's, which also matches before a final newline); the checks
    written in Python use `re.fullmatch`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, regex_engine="rust-regex")

    @field_validator("*", mode="after")
    @classmethod
    def _no_invisible_characters(cls, value: Any) -> Any:
        return _check_strings(value)


_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"(\*\.)?({_LABEL}\.)*{_LABEL}")
# Docker container, service and network-alias names may also carry `_`.
_HOST_LABEL = r"(?![-_])[a-z0-9_-]{1,63}(?<![-_])"
_HOST = re.compile(rf"({_HOST_LABEL}\.)*{_HOST_LABEL}")
_UNSAFE = re.compile(r"[\s;{}'\"$\\#\x00-\x1f\x7f]")


def _check_domain(value: str) -> str:
    if len(value) > 253 or not _DOMAIN.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid domain name (letters, digits and '-' in dot-separated "
            "labels, optionally starting with '*.')"
        )
    return value


def _check_host(value: str) -> str:
    if len(value) > 253 or not _HOST.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid host name (letters, digits, '-' and '_' in "
            "dot-separated labels)"
        )
    return value


def _check_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"{value!r} must start with '/'")
    if _UNSAFE.search(value) or invisible_character(value):
        raise ValueError(
            f"{value!r} contains a character nginx would read as syntax "
            "(whitespace, ';', '{', '}', quotes, '$', '#', '\\' or a control character)"
        )
    return check_text(value)


def _check_url_path(value: str) -> str:
    if len(value.encode("utf-8", "surrogatepass")) > MAX_URL_PATH_BYTES:
        raise ValueError(f"is longer than {MAX_URL_PATH_BYTES} bytes")
    return _check_path(value)


# Linux's NAME_MAX: no file or directory name is longer, so nginx could never open the file.
MAX_FILE_NAME_BYTES = 255


def _check_file_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"{value!r} must be an absolute path")
    _check_path(value)
    if any(len(part.encode("utf-8")) > MAX_FILE_NAME_BYTES for part in value.split("/")):
        raise ValueError(f"has a file or directory name longer than {MAX_FILE_NAME_BYTES} bytes")
    return value


def _lowercase(value: str) -> str:
    # Only ASCII is lowercased: `str.lower` would turn the Kelvin sign into a `k`, silently
    # accepting a name nobody typed.
    if not value.isascii():
        character = next(character for character in value if not character.isascii())
        raise ValueError(f"{value!r} contains the non-ASCII character U+{ord(character):04X}")
    return value.lower()


Domain = Annotated[str, AfterValidator(_lowercase), AfterValidator(_check_domain)]
Host = Annotated[str, AfterValidator(_lowercase), AfterValidator(_check_host)]
Port = Annotated[int, Field(ge=1, le=65535, strict=True)]
FilePath = Annotated[str, AfterValidator(_check_file_path)]
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
DURATION_PATTERN = r"^[1-9][0-9]*(ms|s|m|h|d)?$"
# nginx reads the resolver's `valid=` in whole seconds and refuses `ms`.
SECONDS_PATTERN = r"^[1-9][0-9]*(s|m|h|d)?$"
VERSION_PATTERN = r"^[0-9]+\.[0-9]+(\.[0-9]+)?$"
SIZE_PATTERN = r"^[0-9]+[kKmMgG]?$"
RATE_PATTERN = r"^[1-9][0-9]*r/[sm]$"
HEADER_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9-]*$"
HEADER_VALUE_PATTERN = r"^[^\"\\$\x00-\x1f\x7f]+$"
MESSAGE_PATTERN = r"^[^\"'\\$<>&\x00-\x1f\x7f]+$"
# What a value failing each pattern should have been, for error messages (the loader's).
PATTERN_MEANINGS = {
    NAME_PATTERN: "a name of letters, digits, '-' and '_', starting with a letter or digit",
    DURATION_PATTERN: "a duration such as 500ms, 10s, 5m, 1h or 1d",
    SECONDS_PATTERN: "a duration of whole seconds such as 2s, 30s or 5m",
    VERSION_PATTERN: 'an nginx version such as "1.26" or "1.27.3" (quoted in YAML)',
    SIZE_PATTERN: "a size such as 512k, 10m or 1g (0: no limit)",
    RATE_PATTERN: "a rate such as 10r/s or 60r/m",
    HEADER_NAME_PATTERN: "a header name of letters, digits and '-'",
    HEADER_VALUE_PATTERN: "a header value without quotes, '\\', '$' or control characters",
    MESSAGE_PATTERN: "a message without quotes, '\\', '$', '<', '>', '&' or control characters",
}

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN, max_length=64)]
Duration = Annotated[str, StringConstraints(pattern=DURATION_PATTERN)]
Seconds = Annotated[str, StringConstraints(pattern=SECONDS_PATTERN)]
NginxVersion = Annotated[str, StringConstraints(pattern=VERSION_PATTERN)]
Size = Annotated[str, StringConstraints(pattern=SIZE_PATTERN)]
Rate = Annotated[str, StringConstraints(pattern=RATE_PATTERN)]
HeaderName = Annotated[str, StringConstraints(pattern=HEADER_NAME_PATTERN, max_length=64)]
# Rendered inside double quotes: nothing may close the quote, escape, or expand a variable.
HeaderValue = Annotated[
    str,
    StringConstraints(pattern=HEADER_VALUE_PATTERN, max_length=MAX_PARAMETER_BYTES),
    AfterValidator(check_text),
]
# Rendered inside single quotes in a `return` body, HTML or JSON: no markup, no quotes.
Message = Annotated[
    str, StringConstraints(pattern=MESSAGE_PATTERN, max_length=500), AfterValidator(check_text)
]
Strategy = Literal["auto", "variable", "upstream-resolve"]
Platform = Literal["compose", "swarm"]
# Labels as in DNS (no empty label, no '-' at either end): Rust's regex has no look-around.
_ORIGIN_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
ORIGIN_PATTERN = rf"^(\*|https?://({_ORIGIN_LABEL}\.)*{_ORIGIN_LABEL}(:[0-9]{{1,5}})?)$"
METHOD_PATTERN = r"^[A-Z]{1,20}$"
# Service URLs (forward auth): plain characters only, nothing nginx reads as syntax.
URL_PATTERN = r"^https?://[A-Za-z0-9._-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/%+:@!,=-]*)?$"
# Sign-in page: a query string too (`?`, `&`); nginxgen appends the `rd` parameter.
SIGNIN_PATTERN = r"^https?://[A-Za-z0-9._-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/%+:@!,=?&-]*)?$"
PATTERN_MEANINGS.update(
    {
        ORIGIN_PATTERN: "an origin such as https://app.example.com (lowercase, no path) or *",
        METHOD_PATTERN: "an HTTP method in capitals, such as GET",
        URL_PATTERN: "a URL such as http://authelia:9091/api/verify",
        SIGNIN_PATTERN: "a URL such as https://auth.example.com/",
    }
)
Origin = Annotated[str, StringConstraints(pattern=ORIGIN_PATTERN, max_length=300)]
Method = Annotated[str, StringConstraints(pattern=METHOD_PATTERN)]
ServiceUrl = Annotated[str, StringConstraints(pattern=URL_PATTERN, max_length=2000)]
SigninUrl = Annotated[str, StringConstraints(pattern=SIGNIN_PATTERN, max_length=2000)]


def _check_network(value: str) -> str:
    # ipaddress rather than pydantic's network types: those import pydantic.networks, a third
    # of the models' import time, which every command pays.
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address or CIDR range") from None


Network = Annotated[str, AfterValidator(_check_network)]


def _check_ip_address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address such as 172.17.0.1 or fd00::1") from None


IpAddress = Annotated[str, AfterValidator(_check_ip_address)]


def _check_regex(value: str) -> str:
    if (
        not value
        or re.search(r"[\"\x00-\x1f\x7f]", value)
        or invisible_character(value)
        or value.endswith("\\")
    ):
        raise ValueError(
            f"{value!r} is not a usable location regex (no quotes or control characters)"
        )
    check_text(value)
    try:
        re.compile(value)
    except re.error as error:
        raise ValueError(f"{value!r} is not a valid regular expression: {error}") from None
    return value


def _toggle(value: Any) -> Any:
    """`key: false` / `key: true` for a section: `{enabled: false}` / its defaults."""
    if value is True or value is None:
        return {}
    if value is False:
        return {"enabled": False}
    return value


def _off(value: Any) -> Any:
    """`key: false` for an optional value: no value at all."""
    return None if value is False else value


def _raw_for(context: str) -> Any:
    def check(values: list[str]) -> list[str]:
        return [check_raw_directive(value, context) for value in values]

    return AfterValidator(check)


class Service(StrictModel):
    """A container nginx proxies to, found through Docker's DNS on every request."""

    host: Host | None = Field(
        default=None, description="DNS name of the container (service name or network alias)"
    )
    hosts: list[Host] | None = Field(
        default=None,
        min_length=1,
        description="several replicas, load-balanced (needs the upstream-resolve strategy)",
    )
    address: IpAddress | None = Field(
        default=None,
        description="an IP address (no DNS): a service on the host or outside Docker",
    )
    port: Port = Field(description="TCP port the service listens on")

    @model_validator(mode="after")
    def _one_kind_of_host(self) -> Service:
        given = [self.host, self.hosts, self.address]
        if sum(value is not None for value in given) != 1:
            raise ValueError("give one of host, hosts or address")
        return self

    @property
    def addresses(self) -> tuple[str, ...]:
        if self.address is not None:
            # An IPv6 literal takes brackets before its port.
            return (f"[{self.address}]" if ":" in self.address else self.address,)
        return tuple(self.hosts) if self.hosts is not None else (str(self.host),)


class BasicAuth(StrictModel):
    realm: HeaderValue = Field(default="Restricted", description="shown in the login prompt")
    htpasswd: FilePath = Field(description="htpasswd file inside the nginx container")


class Access(StrictModel):
    """Who may reach an environment or a route: basic auth and/or an IP allow-list."""

    basic_auth: BasicAuth | None = None
    allow: list[Network] = Field(
        default_factory=list, description="addresses or CIDR ranges; everything else is denied"
    )


class RateLimit(StrictModel):
    rate: Rate = Field(description="per client address, e.g. 10r/s or 60r/m")
    burst: int = Field(default=0, ge=0, le=100_000, description="requests queued above the rate")
    nodelay: bool = Field(default=True, description="serve the burst at once instead of pacing")


class Timeouts(StrictModel):
    """proxy_connect_timeout, proxy_read_timeout, proxy_send_timeout; unset: the level above."""

    connect: Duration | None = None
    read: Duration | None = None
    send: Duration | None = None


# Connecting to a container on the same host takes milliseconds; a connect to an address whose
# container is gone hangs (nginx's default would wait 60 s). 2 s still covers one lost SYN
# (retransmitted after 1 s) to a backend whose accept queue is full.
DEFAULT_CONNECT_TIMEOUT = "2s"


class DefaultTimeouts(Timeouts):
    """The timeouts of every route, unless its environment or the route says otherwise."""

    connect: Duration | None = DEFAULT_CONNECT_TIMEOUT


class Static(StrictModel):
    """Files served by nginx itself, e.g. a built front end."""

    root: FilePath = Field(
        description="nginx root inside the container: /app/x is served from <root>/app/x"
    )
    spa: bool = Field(
        default=False, description="unknown paths serve the index.html of the route's prefix"
    )


class Cors(StrictModel):
    """Cross-origin requests to a route: nginx answers the preflight and echoes listed origins."""

    origins: list[Origin] = Field(
        min_length=1, description="origins allowed, e.g. https://app.example.com; or ['*']"
    )
    methods: list[Method] = Field(
        default_factory=lambda: ["GET", "POST", "PUT", "PATCH", "DELETE"],
        min_length=1,
        description="Access-Control-Allow-Methods",
    )
    headers: list[HeaderName] = Field(
        default_factory=lambda: ["Authorization", "Content-Type"],
        description="Access-Control-Allow-Headers",
    )
    credentials: bool = Field(default=False, description="Access-Control-Allow-Credentials")
    max_age: int = Field(default=600, ge=0, le=86400, description="seconds a preflight is cached")

    @model_validator(mode="after")
    def _wildcard_rules(self) -> Cors:
        if "*" in self.origins and len(self.origins) > 1:
            raise ValueError("'*' allows every origin: give it alone")
        if "*" in self.origins and self.credentials:
            raise ValueError("browsers refuse '*' with credentials: list the origins instead")
        return self


class ForwardAuth(StrictModel):
    """Forward auth (Authelia, Authentik, oauth2-proxy): nginx asks `url` about every request."""

    enabled: bool = Field(default=True, description="false: this route is not asked about")
    url: ServiceUrl | None = Field(
        default=None, description="the auth service's verify endpoint, resolved per request"
    )
    headers: list[HeaderName] = Field(
        default_factory=list,
        description="response headers of the auth service passed on to the service",
    )
    signin: SigninUrl | None = Field(
        default=None, description="where a 401 is redirected (with ?rd=<original URL>)"
    )

    @model_validator(mode="after")
    def _needs_url(self) -> ForwardAuth:
        if self.enabled and self.url is None:
            raise ValueError("give the url of the auth service (or auth: false)")
        return self


class Route(StrictModel):
    """A URL prefix (or exact path, or regex) sent to one service or served from files."""

    # `match` comes first: the check of `path` depends on it.
    match: Literal["prefix", "exact", "regex"] = Field(
        default="prefix", description="prefix: longest prefix wins, as in nginx"
    )
    path: str = Field(description="URL prefix starting with '/', or a regex with match: regex")
    service: Name | None = Field(default=None, description="key of a service of this environment")
    static: Static | None = Field(default=None, description="serve files instead of proxying")
    websocket: bool = Field(
        default=False, description="pass the Upgrade/Connection headers for websockets"
    )
    strip_prefix: bool = Field(
        default=False, description="send /api/x as /x to the service (prefix routes)"
    )
    client_max_body_size: Size | None = Field(default=None, description="e.g. 50m; 0: no limit")
    timeouts: Timeouts | None = None
    buffering: bool = Field(default=True, description="false for streaming and server-sent events")
    request_headers: dict[HeaderName, HeaderValue] = Field(
        default_factory=dict, description="extra headers sent to the service"
    )
    response_headers: dict[HeaderName, HeaderValue] = Field(
        default_factory=dict, description="extra headers sent to the client"
    )
    rate_limit: RateLimit | None = None
    access: Access | None = Field(default=None, description="replaces the environment's access")
    raw: Annotated[list[str], _raw_for("location")] = Field(
        default_factory=list, description="extra directives for this location, e.g. 'gzip on'"
    )
    cors: Cors | None = Field(default=None, description="cross-origin requests to this route")
    auth: Annotated[ForwardAuth | None, BeforeValidator(_toggle)] = Field(
        default=None, description="forward auth for this route; false: none here"
    )

    @field_validator("path")
    @classmethod
    def _path_form(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("match") == "regex":
            return _check_regex(value)
        return _check_url_path(value)

    @model_validator(mode="after")
    def _one_target(self) -> Route:
        if (self.service is None) == (self.static is None):
            raise ValueError("give either service or static")
        if self.static is not None and (self.websocket or self.strip_prefix):
            raise ValueError("websocket and strip_prefix apply to service routes only")
        if self.strip_prefix and self.match != "prefix":
            raise ValueError("strip_prefix applies to prefix routes only")
        return self


class Hsts(StrictModel):
    enabled: bool = True
    max_age: int = Field(default=31536000, ge=0, description="seconds")
    include_subdomains: bool = False
    preload: bool = False

    @model_validator(mode="after")
    def _preload_rules(self) -> Hsts:
        if self.preload and not (self.include_subdomains and self.max_age >= 31536000):
            raise ValueError("preload needs include_subdomains and max_age of at least 31536000")
        return self


class Tls(StrictModel):
    """Certificate files and TLS policy of the HTTPS server."""

    enabled: bool = Field(default=True, description="false: HTTP only (same as `tls: false`)")
    certificate: FilePath | None = Field(
        default=None,
        description="default /etc/letsencrypt/live/<primary domain>/fullchain.pem",
    )
    certificate_key: FilePath | None = Field(
        default=None,
        description="default /etc/letsencrypt/live/<primary domain>/privkey.pem",
    )
    profile: Literal["intermediate", "modern"] = Field(
        default="intermediate", description="Mozilla's profile: modern is TLSv1.3 only"
    )
    hsts: Annotated[Hsts, BeforeValidator(_toggle)] = Field(default_factory=Hsts)
    ocsp_stapling: bool = Field(default=False, description="Let's Encrypt no longer serves OCSP")
    trusted_certificate: FilePath | None = Field(
        default=None, description="chain for OCSP verification [default: chain.pem beside it]"
    )
    acme_webroot: Annotated[FilePath | None, BeforeValidator(_off)] = Field(
        default="/var/www/certbot",
        description="serve /.well-known/acme-challenge/ from here on port 80; false: off",
    )

    @model_validator(mode="after")
    def _pair(self) -> Tls:
        if (self.certificate is None) != (self.certificate_key is None):
            raise ValueError("give both certificate and certificate_key, or neither")
        return self


class SecurityHeaders(StrictModel):
    """Response headers on every route (`false` drops one); CSP is opt-in."""

    x_content_type_options: Annotated[HeaderValue | None, BeforeValidator(_off)] = "nosniff"
    referrer_policy: Annotated[HeaderValue | None, BeforeValidator(_off)] = (
        "strict-origin-when-cross-origin"
    )
    x_frame_options: Annotated[HeaderValue | None, BeforeValidator(_off)] = "SAMEORIGIN"
    content_security_policy: Annotated[HeaderValue | None, BeforeValidator(_off)] = None


class Unavailable(StrictModel):
    """The page nginx answers with when a service is down (instead of its default 502 page)."""

    status: Literal[502, 503] = 502
    format: Literal["html", "json"] = "html"
    message: Message = "Service temporarily unavailable"


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# `METHOD http(s)://host[:port][/path][?query]`: what `nginxgen test` sends, written as one line.
_REQUEST = re.compile(
    rf"(?P<method>{'|'.join(METHODS)}) (?P<scheme>https?)://(?P<host>[A-Za-z0-9.-]+)"
    r"(?::(?P<port>[0-9]{1,5}))?(?P<target>/[\x21-\x7e]*)?"
)


class RequestLine(NamedTuple):
    """A test's `request:` line, taken apart."""

    method: str
    scheme: str
    host: str
    port: int
    target: str

    @property
    def tls(self) -> bool:
        return self.scheme == "https"

    def __str__(self) -> str:
        default = 443 if self.tls else 80
        port = "" if self.port == default else f":{self.port}"
        return f"{self.method} {self.scheme}://{self.host}{port}{self.target}"


def parse_request(value: str) -> RequestLine:
    """`GET https://daatan.com/api?x=1` → its parts; ValueError saying what it should be."""
    match = _REQUEST.fullmatch(value)
    if match is None:
        raise ValueError(
            f"{value!r} is not a request such as 'GET https://daatan.com/api/v1/users?x=1' "
            f"(a method of {', '.join(METHODS)}, one space, an http or https URL)"
        )
    host = _check_domain(match["host"].lower())
    if "*" in host:
        raise ValueError(f"{value!r}: a request goes to one name, not a wildcard")
    port = int(match["port"]) if match["port"] else (443 if match["scheme"] == "https" else 80)
    if port not in (80, 443):
        raise ValueError(f"{value!r}: nginxgen's servers listen on ports 80 and 443 only")
    return RequestLine(match["method"], match["scheme"], host, port, match["target"] or "/")


def _check_request(value: str) -> str:
    parse_request(value)
    return value


def _check_credentials(value: str) -> str:
    user, colon, password = value.partition(":")
    if not colon or not re.fullmatch(r"[A-Za-z0-9._@-]{1,64}", user):
        raise ValueError("give credentials as user:password (user of letters, digits and '._@-')")
    if not re.fullmatch(r"[\x21-\x7e]{1,128}", password):
        raise ValueError("the password must be 1-128 visible ASCII characters")
    return value


def _check_target(value: str) -> str:
    if not re.fullmatch(r"/[\x21-\x7e]*", value):
        raise ValueError(f"{value!r} is not a path (and query) starting with '/'")
    return value


Target = Annotated[str, AfterValidator(_check_target)]


class RouteTest(StrictModel):
    """One request `nginxgen test` sends to the real nginx, and what must come of it."""

    request: Annotated[str, AfterValidator(_check_request)] = Field(
        description="method and URL, e.g. 'GET https://daatan.com/api/v1/users?x=1'"
    )
    headers: dict[HeaderName, HeaderValue] = Field(
        default_factory=dict, description="request headers to send"
    )
    auth: Annotated[str, AfterValidator(_check_credentials)] | None = Field(
        default=None,
        description="user:password to send (the test nginx accepts exactly the tests' users)",
    )
    body_size: Size | None = Field(default=None, description="send a body of this size, e.g. 20m")
    service: Name | None = Field(
        default=None, description="the service of this environment that must receive it"
    )
    static: FilePath | None = Field(
        default=None, description="the static root that must serve it (nginx itself answers)"
    )
    path: Target | None = Field(
        default=None, description="path and query the service must receive, e.g. /v1/users?x=1"
    )
    received_headers: dict[HeaderName, HeaderValue] = Field(
        default_factory=dict, description="headers the service must receive, with these values"
    )
    status: int | None = Field(default=None, ge=100, le=599, description="the response status")
    location: HeaderValue | None = Field(default=None, description="the redirect's Location")
    headers_include: dict[HeaderName, HeaderValue] = Field(
        default_factory=dict, description="response headers that must have these values"
    )
    refused: bool = Field(
        default=False, description="nginx must refuse it: no HTTP answer or TLS handshake"
    )

    @model_validator(mode="after")
    def _expects_something(self) -> RouteTest:
        expectations = (
            self.service,
            self.static,
            self.path,
            self.received_headers,
            self.status,
            self.location,
            self.headers_include,
            self.refused,
        )
        if not any(value not in (None, {}, False) for value in expectations):
            raise ValueError(
                "say what must happen: service, static, path, received_headers, status, "
                "location, headers_include or refused"
            )
        if self.service is not None and self.static is not None:
            raise ValueError("give service or static, not both")
        if (self.path is not None or self.received_headers) and self.static is not None:
            raise ValueError("path and received_headers are what a service receives")
        if self.refused and any(value not in (None, {}) for value in expectations[:-1]):
            raise ValueError("a refused request has nothing else to expect")
        return self

    @property
    def parsed(self) -> RequestLine:
        return parse_request(self.request)


class Compression(StrictModel):
    """gzip for text responses (Debian's nginx has no brotli module: none is generated)."""

    enabled: bool = True
    level: int = Field(default=5, ge=1, le=9, description="gzip_comp_level")
    min_length: int = Field(default=256, ge=0, description="smaller responses go uncompressed")


class Log(StrictModel):
    """The environment's access log; JSON carries the upstream, its timing and a request id."""

    enabled: bool = Field(default=True, description="false: no access log (access_log off)")
    format: Literal["combined", "json"] = "combined"
    path: FilePath = Field(
        default="/var/log/nginx/access.log", description="file inside the nginx container"
    )


class Maintenance(StrictModel):
    """503 with Retry-After for everyone but `allow`; the services are not touched."""

    enabled: bool = True
    message: Message = "Down for maintenance"
    retry_after: int = Field(default=120, ge=0, le=604800, description="seconds")
    allow: list[Network] = Field(
        default_factory=list, description="addresses that still reach the services"
    )


class Environment(StrictModel):
    """One environment file: `environments/<name>.yaml`."""

    domains: list[Domain] = Field(
        min_length=1, description="server_name values; the first is the primary domain"
    )
    redirect_to_primary: bool = Field(
        default=False, description="other domains (e.g. www) redirect to the primary one"
    )
    redirect_domains: list[Domain] = Field(
        default_factory=list, description="domains that only redirect to the primary one"
    )
    tls: Annotated[Tls, BeforeValidator(_toggle)] = Field(
        default_factory=Tls,
        description="certificate files and TLS policy, or false for an HTTP-only environment",
    )
    strategy: Strategy | None = Field(
        default=None, description="override of the strategy in nginxgen.yaml"
    )
    services: dict[Name, Service] = Field(min_length=1)
    routes: list[Route] = Field(min_length=1)
    security_headers: SecurityHeaders = Field(default_factory=SecurityHeaders)
    access: Access | None = Field(default=None, description="basic auth and/or IP allow-list")
    unavailable: Unavailable = Field(default_factory=Unavailable)
    client_max_body_size: Size | None = Field(default=None, description="for every route")
    timeouts: Timeouts | None = Field(
        default=None, description="for every route; a route's own timeouts take precedence"
    )
    resolver_valid: Seconds | None = Field(
        default=None, description="override of resolver_valid in nginxgen.yaml"
    )
    resolver_timeout: Duration | None = Field(
        default=None, description="override of resolver_timeout in nginxgen.yaml"
    )
    raw: Annotated[list[str], _raw_for("server")] = Field(
        default_factory=list, description="extra directives for the HTTPS server"
    )
    compression: Annotated[Compression, BeforeValidator(_toggle)] = Field(
        default_factory=Compression, description="gzip for text types; false: off"
    )
    log: Annotated[Log | None, BeforeValidator(_toggle)] = Field(
        default=None, description="access log of this environment [default: nginx.conf's]"
    )
    maintenance: Annotated[Maintenance | None, BeforeValidator(_toggle)] = Field(
        default=None, description="answer 503 to everyone but maintenance.allow"
    )
    auth: ForwardAuth | None = Field(default=None, description="forward auth for every route")
    http3: bool = Field(
        default=False,
        description="HTTP/3 (QUIC) on UDP 443 beside HTTPS, announced by Alt-Svc "
        "(nginx >= 1.25 with the http_v3 module)",
    )
    tests: list[RouteTest] = Field(
        default_factory=list,
        description="requests `nginxgen test` sends, and what must come of them",
    )

    @property
    def primary_domain(self) -> str:
        return self.domains[0]


class CheckSettings(StrictModel):
    """The `check:` section of `nginxgen.yaml`: how `nginxgen check` runs nginx."""

    image: str | None = Field(
        default=None,
        min_length=1,
        description="nginx image for `nginxgen check` [default: nginx:stable]",
    )


class Settings(StrictModel):
    """`nginxgen.yaml`: settings shared by every environment; every key has a default."""

    output: str = Field(
        default="out/nginx-ssl.conf", min_length=1, description="file `render` writes"
    )
    environments: str = Field(
        default="environments", min_length=1, description="directory of YAML files"
    )
    resolver_valid: Seconds = Field(
        default="2s",
        description="how long nginx uses an answer of Docker's DNS: how long a removed "
        "container's address is still tried",
    )
    resolver_timeout: Duration = Field(
        default="2s", description="how long nginx waits for Docker's DNS to answer"
    )
    timeouts: DefaultTimeouts = Field(
        default_factory=DefaultTimeouts,
        description="proxy timeouts of every route {connect, read, send} [connect: 2s]",
    )
    nginx_version: NginxVersion = Field(
        default="1.26", description="the nginx the output targets, e.g. '1.26'"
    )
    strategy: Strategy = Field(
        default="auto",
        description="how services are reached: auto picks upstream-resolve on nginx >= 1.27.3",
    )
    platform: Platform = Field(
        default="compose",
        description="where the services run: compose (containers) or swarm (services, "
        "reached through tasks.<service> with upstream-resolve)",
    )
    keepalive: int = Field(
        default=16, ge=1, le=1024, description="idle connections kept per upstream-resolve upstream"
    )
    default_server: bool = Field(
        default=True,
        description="refuse unknown Host names: 444 on HTTP, handshake rejected on HTTPS",
    )
    check: CheckSettings = Field(
        default_factory=CheckSettings, description="how `nginxgen check` runs nginx"
    )
    ipv6: bool = Field(
        default=False,
        description="listen on [::] beside every IPv4 listen (nginx fails to start on a kernel "
        "without IPv6)",
    )

    @field_validator("nginx_version", mode="before")
    @classmethod
    def _version_is_quoted(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError(
                f'quote the version, e.g. nginx_version: "1.30": YAML reads an unquoted '
                f"version as a number (here {value!r}), and 1.30 as 1.3"
            )
        return value

    @field_validator("strategy")
    @classmethod
    def _strategy_fits_version(cls, value: str, info: ValidationInfo) -> str:
        version = info.data.get("nginx_version")
        problem = strategy_problem(value, version) if version else None
        if problem:
            raise ValueError(problem)
        return value


def supports_upstream_resolve(version: str) -> bool:
    return at_least(version, UPSTREAM_RESOLVE)


def strategy_problem(strategy: str, nginx_version: str) -> str | None:
    """Why `strategy` cannot be generated for `nginx_version`, or None."""
    if strategy == "upstream-resolve" and not supports_upstream_resolve(nginx_version):
        return (
            f"upstream-resolve needs nginx >= {UPSTREAM_RESOLVE}, "
            f"but nginx_version is {nginx_version}"
        )
    return None


def effective_strategy(model: Environment, settings: Settings) -> str:
    """The environment's strategy, with `auto` decided by the target nginx."""
    strategy = model.strategy or settings.strategy
    if strategy == "auto":
        return (
            "upstream-resolve" if supports_upstream_resolve(settings.nginx_version) else "variable"
        )
    return strategy
