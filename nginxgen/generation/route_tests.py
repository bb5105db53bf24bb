"""The `tests:` section of an environment file: a request line (`GET https://host/path`) taken
apart, and `RouteTest`, one request with what must come of it. `nginxgen.routetest` runs them.
No I/O happens in this module.
"""

from __future__ import annotations

import re
from typing import Annotated, NamedTuple

from pydantic import AfterValidator, Field, model_validator

from nginxgen.generation.fields import (
    FilePath,
    HeaderName,
    HeaderValue,
    Name,
    Size,
    StrictModel,
    check_domain,
)

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
    host = check_domain(match["host"].lower())
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


def _check_local_file(value: str) -> str:
    if not re.fullmatch(r"[\x21-\x7e]{1,4096}", value) or any(c in value for c in "\\;'\""):
        raise ValueError(f"{value!r} is not a file path (visible ASCII, no quotes or backslashes)")
    return value


LocalFile = Annotated[str, AfterValidator(_check_local_file)]


class ClientCertificate(StrictModel):
    """A certificate `nginxgen test` presents (mutual TLS): PEM files on the machine running the
    tests, relative to the directory it runs in."""

    cert: LocalFile = Field(description="the client certificate (PEM)")
    key: LocalFile = Field(description="its private key (PEM, unencrypted)")


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
    client_certificate: ClientCertificate | None = Field(
        default=None, description="present this client certificate {cert, key} (mutual TLS)"
    )
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
