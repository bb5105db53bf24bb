"""The sections of an environment file, as pydantic models: services, routes (static files,
CORS, forward auth, rate limits, timeouts, access), TLS and HSTS, security headers, the
unavailable page, compression, the access log and maintenance. `Environment` (in `models`)
puts them together. No I/O happens in this module.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from nginxgen.generation.fields import (
    Duration,
    FilePath,
    HeaderName,
    HeaderValue,
    Host,
    IpAddress,
    Message,
    Method,
    Name,
    Network,
    Origin,
    Port,
    Rate,
    ServiceUrl,
    SigninUrl,
    Size,
    StrictModel,
    check_regex,
    check_url_path,
    off,
    raw_for,
    toggle,
)


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
    raw: Annotated[list[str], raw_for("location")] = Field(
        default_factory=list, description="extra directives for this location, e.g. 'gzip on'"
    )
    cors: Cors | None = Field(default=None, description="cross-origin requests to this route")
    auth: Annotated[ForwardAuth | None, BeforeValidator(toggle)] = Field(
        default=None, description="forward auth for this route; false: none here"
    )

    @field_validator("path")
    @classmethod
    def _path_form(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("match") == "regex":
            return check_regex(value)
        return check_url_path(value)

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


class ClientCertificates(StrictModel):
    """Mutual TLS: clients present a certificate signed by `ca`; the service is told the result
    (`X-Client-Verify`: SUCCESS, NONE or FAILED:reason) and the subject (`X-Client-DN`)."""

    ca: FilePath = Field(
        description="PEM file of the CA certificate(s) clients' certificates must be signed by, "
        "inside the nginx container"
    )
    verify: Literal["required", "optional"] = Field(
        default="required",
        description="required: a request without a certificate answers 400; optional: it "
        "reaches the service with X-Client-Verify: NONE",
    )


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
    hsts: Annotated[Hsts, BeforeValidator(toggle)] = Field(default_factory=Hsts)
    ocsp_stapling: bool = Field(default=False, description="Let's Encrypt no longer serves OCSP")
    trusted_certificate: FilePath | None = Field(
        default=None, description="chain for OCSP verification [default: chain.pem beside it]"
    )
    acme_webroot: Annotated[FilePath | None, BeforeValidator(off)] = Field(
        default="/var/www/certbot",
        description="serve /.well-known/acme-challenge/ from here on port 80; false: off",
    )
    client_certificates: ClientCertificates | None = Field(
        default=None, description="mutual TLS: certificates clients must present {ca, verify}"
    )

    @model_validator(mode="after")
    def _pair(self) -> Tls:
        if (self.certificate is None) != (self.certificate_key is None):
            raise ValueError("give both certificate and certificate_key, or neither")
        if self.client_certificates is not None and not self.enabled:
            raise ValueError("client_certificates need TLS: remove them or enable tls")
        return self


class SecurityHeaders(StrictModel):
    """Response headers on every route (`false` drops one); CSP is opt-in."""

    x_content_type_options: Annotated[HeaderValue | None, BeforeValidator(off)] = "nosniff"
    referrer_policy: Annotated[HeaderValue | None, BeforeValidator(off)] = (
        "strict-origin-when-cross-origin"
    )
    x_frame_options: Annotated[HeaderValue | None, BeforeValidator(off)] = "SAMEORIGIN"
    content_security_policy: Annotated[HeaderValue | None, BeforeValidator(off)] = None


class Unavailable(StrictModel):
    """The page nginx answers with when a service is down (instead of its default 502 page)."""

    status: Literal[502, 503] = 502
    format: Literal["html", "json"] = "html"
    message: Message = "Service temporarily unavailable"


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
