"""The environment file and the settings file, as pydantic models: `Environment` (its sections
are in `sections` and `route_tests`, its field types in `fields`), `Settings` for
`nginxgen.yaml`, and the strategy an environment ends up with. No I/O happens in this module.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from nginxgen.core.versions import UPSTREAM_RESOLVE, at_least
from nginxgen.generation.fields import (
    EMAIL_PATTERN,
    IMAGE_PATTERN,
    PLUGIN_PATTERN,
    URL_PATTERN,
    Domain,
    Duration,
    Name,
    NginxVersion,
    Platform,
    Seconds,
    Size,
    Strategy,
    StrictModel,
    raw_for,
    toggle,
)
from nginxgen.generation.metrics import MetricsSettings
from nginxgen.generation.route_tests import RouteTest
from nginxgen.generation.sections import (
    Access,
    Compression,
    DefaultTimeouts,
    ForwardAuth,
    Log,
    Maintenance,
    Route,
    SecurityHeaders,
    Service,
    Timeouts,
    Tls,
    Unavailable,
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
    tls: Annotated[Tls, BeforeValidator(toggle)] = Field(
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
    raw: Annotated[list[str], raw_for("server")] = Field(
        default_factory=list, description="extra directives for the HTTPS server"
    )
    compression: Annotated[Compression, BeforeValidator(toggle)] = Field(
        default_factory=Compression, description="gzip for text types; false: off"
    )
    log: Annotated[Log | None, BeforeValidator(toggle)] = Field(
        default=None, description="access log of this environment [default: nginx.conf's]"
    )
    maintenance: Annotated[Maintenance | None, BeforeValidator(toggle)] = Field(
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


LETSENCRYPT_DIRECTORY = "https://acme-v02.api.letsencrypt.org/directory"
LETSENCRYPT_STAGING_DIRECTORY = "https://acme-staging-v02.api.letsencrypt.org/directory"
DEFAULT_CERTBOT_IMAGE = "certbot/certbot"


def _directory_shorthand(value: Any) -> Any:
    return LETSENCRYPT_STAGING_DIRECTORY if value == "staging" else value


class DnsChallenge(StrictModel):
    """How certbot answers DNS-01: one of its DNS plugins and the plugin's credentials file."""

    plugin: Annotated[str, StringConstraints(pattern=PLUGIN_PATTERN, max_length=40)] = Field(
        description="certbot's DNS plugin, e.g. rfc2136 or cloudflare (dns-<plugin>)"
    )
    credentials: Annotated[str, StringConstraints(min_length=1, max_length=1024)] = Field(
        description="the plugin's credentials file on the machine running nginxgen"
    )
    propagation_seconds: int | None = Field(
        default=None,
        ge=0,
        le=3600,
        description="how long certbot waits for the record to propagate [default: the plugin's]",
    )


class AcmeSettings(StrictModel):
    """The `acme:` section of `nginxgen.yaml`: how deploy obtains and `certs renew` renews the
    certificates the environments need (docs/certificates.md)."""

    email: Annotated[str | None, StringConstraints(pattern=EMAIL_PATTERN, max_length=254)] = Field(
        default=None,
        description="the ACME account's contact; setting it turns issuance on",
    )
    directory: Annotated[
        str,
        BeforeValidator(_directory_shorthand),
        StringConstraints(pattern=URL_PATTERN, max_length=512),
    ] = Field(
        default=LETSENCRYPT_DIRECTORY,
        description="the ACME server's directory URL [default: Let's Encrypt; staging: "
        "Let's Encrypt's staging]",
    )
    ca_certificate: Annotated[str | None, StringConstraints(min_length=1, max_length=1024)] = Field(
        default=None,
        description="PEM file (on the machine running nginxgen) that certbot trusts for "
        "the ACME server's TLS: private or test ACME servers",
    )
    image: Annotated[str, StringConstraints(pattern=IMAGE_PATTERN)] = Field(
        default=DEFAULT_CERTBOT_IMAGE, description="the certbot image"
    )
    challenge: Literal["http-01", "dns-01"] = Field(
        default="http-01",
        description="http-01: the ACME webroot on port 80; dns-01: a DNS plugin (wildcards)",
    )
    dns: DnsChallenge | None = Field(default=None, description="{plugin, credentials} for dns-01")
    renew_before: int = Field(
        default=30, ge=1, le=365, description="renew a certificate this many days before it expires"
    )

    @property
    def issues(self) -> bool:
        return self.email is not None

    @model_validator(mode="after")
    def _dns_for_dns_01(self) -> AcmeSettings:
        if self.challenge == "dns-01" and self.dns is None:
            raise ValueError("challenge dns-01 needs dns: {plugin, credentials}")
        return self


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
    metrics: Annotated[MetricsSettings | None, BeforeValidator(toggle)] = Field(
        default=None,
        description="stub_status and per-environment request metrics for Prometheus "
        "{port, allow} (docs/metrics.md); true: the defaults",
    )
    acme: AcmeSettings | None = Field(
        default=None,
        description="obtain and renew certificates with certbot (docs/certificates.md)",
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
