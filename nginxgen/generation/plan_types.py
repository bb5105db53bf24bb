"""What nginx must do, decided: the plan the templates loop over.

Plain values only: names, paths, addresses, flags. Quoting is the templates' (render time), and
no field holds text another stage must parse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from nginxgen.core.errors import Problem
from nginxgen.core.facts import UNKNOWN_NAME


class Header(NamedTuple):
    """A header and its value: `literal` values are the user's text, rendered quoted;
    the others are nginx expressions such as `$host`, rendered as they are."""

    name: str
    value: str
    literal: bool = False


@dataclass(frozen=True)
class Fallback:
    """The backup server of an upstream: a server inside nginx itself, on a loopback address of
    its own, that resolves the service's name per request. nginx passes a request there only
    when no address of the upstream took it (none left after Docker's DNS said the name is gone,
    or every one failed), by its `proxy_next_upstream` rules: a returned container answers at
    once instead of after the upstream's next resolve (`resolver_valid` + 1 s later)."""

    listen: str
    variable: str
    # `host:port`, resolved per request through the environment's resolver.
    target: str


@dataclass(frozen=True)
class Upstream:
    """An `upstream` whose servers nginx re-resolves while running (`resolve`, nginx ≥ 1.27.3)."""

    name: str
    servers: tuple[str, ...]
    keepalive: int
    resolver: Resolver
    # A server that failed `max_fails` times is skipped for `fail_timeout`.
    max_fails: int
    fail_timeout: str
    fallbacks: tuple[Fallback, ...] = ()


class Rewrite(NamedTuple):
    """`rewrite PATTERN REPLACEMENT break;` before proxy_pass."""

    pattern: str
    replacement: str


@dataclass(frozen=True)
class Proxy:
    """How a location reaches its service: always through a variable."""

    variable: str
    # `http://host:port` (variable strategy) or the upstream's name (upstream-resolve).
    address: str
    pooled: bool
    websocket: bool
    http11: bool
    # The Connection header: the websocket map's variable, "" (keepalive to a pool) or None.
    connection: str | None
    headers: tuple[Header, ...]
    strip_prefix: Rewrite | None
    # (directive, duration), e.g. ("proxy_read_timeout", "1h").
    timeouts: tuple[tuple[str, str], ...]
    buffering: bool


@dataclass(frozen=True)
class Failover:
    """When a proxied request moves on to another address of its service (another replica):
    `proxy_next_upstream` conditions, at most `tries` addresses within `timeout`."""

    conditions: tuple[str, ...]
    tries: int
    timeout: str


@dataclass(frozen=True)
class AccessPlan:
    """Access rules of a server or location; `allow_all`/`auth_off` undo inherited ones."""

    allow: tuple[str, ...]
    allow_all: bool
    realm: str | None
    htpasswd: str | None
    auth_off: bool


@dataclass(frozen=True)
class RateLimitPlan:
    zone: str
    rate: str
    burst: int
    nodelay: bool


@dataclass(frozen=True)
class CorsPlan:
    """CORS of one route: `variable` is the origin map's (None: every origin, `*`)."""

    variable: str | None
    origins: tuple[str, ...]
    allow_origin: str
    methods: str
    headers: str
    credentials: bool
    max_age: int


@dataclass(frozen=True)
class AuthPlan:
    """Forward auth: an internal location proxying to `url` through `variable`, asked by
    `auth_request`; `copied` holds (variable, auth response header) pairs; `signin` the
    redirect target of a 401 (with the original URL appended)."""

    location: str
    variable: str
    url: str
    signin: str | None
    copied: tuple[tuple[str, str], ...]
    # What the auth service is told about the request (nginx expressions).
    request_headers: tuple[Header, ...] = ()


@dataclass(frozen=True)
class Location:
    modifier: str
    path: str
    regex: bool
    proxy: Proxy | None
    static_root: str | None
    try_files: str | None
    client_max_body_size: str | None
    rate_limit: RateLimitPlan | None
    access: AccessPlan | None
    response_headers: tuple[Header, ...]
    raw: tuple[str, ...]
    cors: CorsPlan | None = None
    # Forward auth asked here (the route's own), or `auth_off` to undo the environment's.
    auth: AuthPlan | None = None
    auth_off: bool = False


@dataclass(frozen=True)
class TlsPlan:
    certificate: str
    certificate_key: str
    protocols: str
    ciphers: str | None
    stapling: bool
    trusted_certificate: str | None
    # Mutual TLS: the CA file clients' certificates are verified against, and
    # `ssl_verify_client`'s value (on: required, optional).
    client_ca: str | None = None
    client_verify: str | None = None


@dataclass(frozen=True)
class ErrorPage:
    status: int
    content_type: str
    body: str


@dataclass(frozen=True)
class PendingPlan:
    """An environment whose certificate is not issued yet: port 80 only, the ACME webroot and
    this page for everything else (never a redirect to an HTTPS server that cannot answer)."""

    page: ErrorPage
    retry_after: int


@dataclass(frozen=True)
class CompressionPlan:
    level: int
    min_length: int
    types: tuple[str, ...]


@dataclass(frozen=True)
class AccessLogPlan:
    """`access_log PATH FORMAT;`, or `access_log off;` when `path` is None."""

    path: str | None
    format: str


@dataclass(frozen=True)
class MetricsPlan:
    """The metrics server (`stub_status` on `port` for `allow`) and the request log every
    environment also writes, one line per request in its own format, for mtail to read."""

    port: int
    allow: tuple[str, ...]
    log_path: str


@dataclass(frozen=True)
class MaintenancePlan:
    """Every request is rewritten to an internal location answering 503, unless the client's
    address is in `allow` (a `geo` into `variable`)."""

    variable: str | None
    allow: tuple[str, ...]
    location: str
    page: ErrorPage
    headers: tuple[Header, ...]


@dataclass(frozen=True)
class EnvironmentPlan:
    """The servers of one environment: HTTPS with an HTTP redirect, or plain HTTP."""

    name: str
    source: str
    strategy: str
    domains: tuple[str, ...]
    redirect_names: tuple[str, ...]
    redirect_target: str
    tls: TlsPlan | None
    acme_webroot: str | None
    response_headers: tuple[Header, ...]
    access: AccessPlan | None
    client_max_body_size: str | None
    resolver: Resolver
    # Server-wide proxy settings, for environments with proxied routes: (directive, duration).
    timeouts: tuple[tuple[str, str], ...]
    failover: Failover | None
    error_page: ErrorPage | None
    upstreams: tuple[Upstream, ...]
    locations: tuple[Location, ...]
    raw: tuple[str, ...]
    compression: CompressionPlan | None = None
    access_log: AccessLogPlan | None = None
    maintenance: MaintenancePlan | None = None
    auth: AuthPlan | None = None
    # Every forward auth of the environment (its own and its routes'): the internal locations.
    auth_locations: tuple[AuthPlan, ...] = ()
    # HTTP/3: None, or the parameters after `listen 443 quic` ("" or "reuseport": one server
    # per address and port carries reuseport).
    quic: str | None = None
    # nginx >= 1.29.3: `add_header_inherit merge;`, and locations no longer repeat the headers.
    merge_headers: bool = False
    # Answers every name no other environment serves on its ports: its listens are the
    # default servers there.
    catch_all: bool = False
    # The log_format of this environment's lines in the metrics request log (metrics on).
    metrics_log_format: str | None = None
    # Waiting for its certificate (deploy's first step when ACME issues it): only `pending` and
    # the ACME webroot are rendered.
    pending: PendingPlan | None = None

    @property
    def server_names(self) -> tuple[str, ...]:
        """What `server_name` lists: the domains, or `_` (no name) for a catch-all without."""
        return self.domains or ("_",)

    @property
    def probe_host(self) -> str:
        """A Host header this environment answers: its first domain, or (a catch-all without
        domains) a name nobody serves."""
        return self.domains[0] if self.domains else UNKNOWN_NAME


@dataclass(frozen=True)
class RealIpPlan:
    """`set_real_ip_from` for each trusted network, the header, `real_ip_recursive`."""

    trusted: tuple[str, ...]
    header: str
    recursive: bool


@dataclass(frozen=True)
class Resolver:
    address: str
    valid: str
    timeout: str


@dataclass(frozen=True)
class Listen:
    """How HTTPS servers turn HTTP/2 on for the target nginx: a directive or a listen flag."""

    http2_directive: bool
    https_parameters: str
    # Every listen repeated on [::] (`ipv6: true` in nginxgen.yaml).
    ipv6: bool = False


@dataclass(frozen=True)
class Plan:
    sources: tuple[str, ...]
    nginx_version: str
    # Docker Swarm: upstream servers are `tasks.<service>`, variables hold the virtual IP's name.
    swarm: bool
    required_version: str
    resolver: Resolver
    listen: Listen
    default_http: bool
    default_https: bool
    # Every TLS version some environment's profile allows, for the default HTTPS server.
    https_protocols: str
    https_ciphers: str | None
    connection_upgrade_variable: str | None
    rate_limits: tuple[RateLimitPlan, ...]
    environments: tuple[EnvironmentPlan, ...]
    # What the output cannot do as the files ask, on the target nginx; rendered all the same.
    warnings: tuple[Problem, ...] = ()
    # http-level blocks of the features: the JSON log format, maintenance geos, CORS maps.
    json_log_format: str | None = None
    maintenance_geos: tuple[MaintenancePlan, ...] = ()
    cors_maps: tuple[CorsPlan, ...] = ()
    # The default HTTPS server answers QUIC too, and carries reuseport.
    default_quic: bool = False
    # http-level directives of nginxgen.yaml (`raw`, `real_ip`), at the top of the output.
    raw: tuple[str, ...] = ()
    real_ip: RealIpPlan | None = None
    metrics: MetricsPlan | None = None
    # Set when the longest server name does not fit nginx's default bucket (`hash_bucket_size`).
    server_names_hash_bucket_size: int | None = None
