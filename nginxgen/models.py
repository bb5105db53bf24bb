"""The environment file and the settings file, as pydantic models.

Validation, not escaping, keeps nginx syntax out of the output: every string that reaches a
template is constrained here to characters that cannot end a directive, open a block, quote,
or expand a variable. No I/O happens in this module.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)


class StrictModel(BaseModel):
    """Base of every model: unknown keys are errors, parsed values never change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"^(\*\.)?({_LABEL}\.)*{_LABEL}$")
# Docker container, service and network-alias names may also carry `_`.
_HOST_LABEL = r"(?![-_])[a-z0-9_-]{1,63}(?<![-_])"
_HOST = re.compile(rf"^({_HOST_LABEL}\.)*{_HOST_LABEL}$")
_UNSAFE = re.compile(r"[\s;{}'\"$\\#\x00-\x1f\x7f]")


def _check_domain(value: str) -> str:
    if len(value) > 253 or not _DOMAIN.match(value):
        raise ValueError(
            f"{value!r} is not a valid domain name (letters, digits and '-' in dot-separated "
            "labels, optionally starting with '*.')"
        )
    return value


def _check_host(value: str) -> str:
    if len(value) > 253 or not _HOST.match(value):
        raise ValueError(
            f"{value!r} is not a valid host name (letters, digits, '-' and '_' in "
            "dot-separated labels)"
        )
    return value


def _check_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"{value!r} must start with '/'")
    if _UNSAFE.search(value):
        raise ValueError(
            f"{value!r} contains a character nginx would read as syntax "
            "(whitespace, ';', '{', '}', quotes, '$', '#', '\\' or a control character)"
        )
    return value


def _check_file_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"{value!r} must be an absolute path")
    return _check_path(value)


def _lowercase(value: str) -> str:
    return value.lower()


Domain = Annotated[str, AfterValidator(_lowercase), AfterValidator(_check_domain)]
Host = Annotated[str, AfterValidator(_lowercase), AfterValidator(_check_host)]
Port = Annotated[int, Field(ge=1, le=65535, strict=True)]
UrlPath = Annotated[str, AfterValidator(_check_path)]
FilePath = Annotated[str, AfterValidator(_check_file_path)]
Name = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$", max_length=64),
]
Duration = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]*(ms|s|m|h)?$")]
NginxVersion = Annotated[str, StringConstraints(pattern=r"^[0-9]+\.[0-9]+(\.[0-9]+)?$")]


class Service(StrictModel):
    """A container nginx proxies to, found through Docker's DNS on every request."""

    host: Host = Field(description="DNS name of the container (service name or network alias)")
    port: Port = Field(description="TCP port the service listens on")


class Route(StrictModel):
    """A URL prefix sent to one service; the longest matching prefix wins, as in nginx."""

    path: UrlPath = Field(description="URL prefix, starting with '/'")
    service: Name = Field(description="key of a service of this environment")
    websocket: bool = Field(
        default=False, description="pass the Upgrade/Connection headers for websockets"
    )


class Tls(StrictModel):
    """Certificate files for the HTTPS server; defaults are Let's Encrypt's paths."""

    enabled: bool = Field(default=True, description="false: HTTP only (same as `tls: false`)")
    certificate: FilePath | None = Field(
        default=None,
        description="default /etc/letsencrypt/live/<primary domain>/fullchain.pem",
    )
    certificate_key: FilePath | None = Field(
        default=None,
        description="default /etc/letsencrypt/live/<primary domain>/privkey.pem",
    )

    # On Tls, not Environment, so the error's location is `tls` and names its line.
    @model_validator(mode="after")
    def _pair(self) -> Tls:
        if (self.certificate is None) != (self.certificate_key is None):
            raise ValueError("give both certificate and certificate_key, or neither")
        return self


class Environment(StrictModel):
    """One environment file: `environments/<name>.yaml`."""

    domains: list[Domain] = Field(
        min_length=1, description="server_name values; the first is the primary domain"
    )
    tls: Tls = Field(
        default_factory=Tls,
        description="certificate files, or false for an HTTP-only environment",
    )
    services: dict[Name, Service] = Field(min_length=1)
    routes: list[Route] = Field(min_length=1)

    @field_validator("tls", mode="before")
    @classmethod
    def _tls_shorthand(cls, value: Any) -> Any:
        # `tls: true` (and an empty `tls:`) mean the defaults; `tls: false` means HTTP only.
        if value is True or value is None:
            return {}
        if value is False:
            return {"enabled": False}
        return value

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

    output: str = Field(default="out/nginx-ssl.conf", description="file `render` writes")
    environments: str = Field(default="environments", description="directory of YAML files")
    resolver_valid: Duration = Field(
        default="10s", description="how long nginx caches an answer of Docker's DNS"
    )
    nginx_version: NginxVersion = Field(
        default="1.26", description="the nginx the output targets, e.g. '1.26'"
    )
    check: CheckSettings = Field(
        default_factory=CheckSettings, description="how `nginxgen check` runs nginx"
    )
