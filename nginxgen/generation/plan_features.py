"""The plan of the optional features: access (basic auth and allow-lists), CORS, forward auth,
compression, the access log, maintenance mode and the page nginx answers with when a service is
down. Each function turns one section of the models into the plain values its template needs.
"""

from __future__ import annotations

import json

from nginxgen.generation.loader import LoadedEnvironment
from nginxgen.generation.models import Environment
from nginxgen.generation.naming import (
    auth_header_variable,
    auth_variable,
    cors_variable,
    maintenance_variable,
)
from nginxgen.generation.plan_tls import server_headers
from nginxgen.generation.plan_types import (
    AccessLogPlan,
    AccessPlan,
    AuthPlan,
    CompressionPlan,
    CorsPlan,
    ErrorPage,
    Header,
    MaintenancePlan,
)
from nginxgen.generation.sections import Access, ForwardAuth, Route

JSON_LOG_FORMAT = "nginxgen_json"
# Compressible types besides text/html, which gzip always covers (listing it is an error).
COMPRESSED_TYPES = (
    "application/atom+xml",
    "application/javascript",
    "application/json",
    "application/ld+json",
    "application/manifest+json",
    "application/rss+xml",
    "application/wasm",
    "application/xml",
    "image/svg+xml",
    "text/css",
    "text/javascript",
    "text/plain",
    "text/xml",
)
MAINTENANCE_LOCATION = "/.nginxgen/maintenance"
AUTH_LOCATION = "/.nginxgen/auth"
# Headers an auth service (Authelia, Authentik, oauth2-proxy) reads to know what was asked.
_AUTH_REQUEST_HEADERS = (
    Header("Content-Length", '""'),
    Header("X-Original-URL", "$scheme://$http_host$request_uri"),
    Header("X-Original-Method", "$request_method"),
    Header("X-Forwarded-Method", "$request_method"),
    Header("X-Forwarded-Proto", "$scheme"),
    Header("X-Forwarded-Host", "$http_host"),
    Header("X-Forwarded-Uri", "$request_uri"),
    Header("X-Forwarded-For", "$proxy_add_x_forwarded_for"),
)


def access_plan(access: Access | None, inherited: Access | None) -> AccessPlan | None:
    """Directives for `access`, undoing whatever of `inherited` it does not repeat."""
    if access is None:
        return None
    basic = access.basic_auth
    return AccessPlan(
        allow=tuple(str(network) for network in access.allow),
        allow_all=not access.allow and bool(inherited and inherited.allow),
        realm=basic.realm if basic else None,
        htpasswd=basic.htpasswd if basic else None,
        auth_off=basic is None and bool(inherited and inherited.basic_auth),
    )


def cors_plan(environment: str, route: Route, index: int) -> CorsPlan | None:
    cors = route.cors
    if cors is None:
        return None
    variable = None if cors.origins == ["*"] else cors_variable(environment, index)
    return CorsPlan(
        variable=variable,
        origins=tuple(cors.origins),
        allow_origin=f"${variable}" if variable else '"*"',
        methods=", ".join(cors.methods),
        headers=", ".join(cors.headers),
        credentials=cors.credentials,
        max_age=cors.max_age,
    )


def cors_headers(cors: CorsPlan | None) -> tuple[Header, ...]:
    """On every answer of a CORS route; an origin not listed maps to "", which nginx omits."""
    if cors is None:
        return ()
    headers = [Header("Access-Control-Allow-Origin", cors.allow_origin)]
    if cors.credentials:
        headers.append(Header("Access-Control-Allow-Credentials", "true"))
    if cors.variable:
        headers.append(Header("Vary", "Origin"))
    return tuple(headers)


def auth_plan(environment: str, scope: str, auth: ForwardAuth) -> AuthPlan | None:
    if not auth.enabled or auth.url is None:
        return None
    signin = None
    if auth.signin:
        separator = "&" if "?" in auth.signin else "?"
        signin = f"{auth.signin}{separator}rd=$scheme://$http_host$request_uri"
    return AuthPlan(
        location=f"{AUTH_LOCATION}/{scope}",
        variable=auth_variable(environment, scope),
        url=auth.url,
        signin=signin,
        copied=tuple(
            (auth_header_variable(name), "upstream_http_" + name.lower().replace("-", "_"))
            for name in auth.headers
        ),
        request_headers=_AUTH_REQUEST_HEADERS,
    )


def compression_plan(model: Environment) -> CompressionPlan | None:
    compression = model.compression
    if not compression.enabled:
        return None
    return CompressionPlan(compression.level, compression.min_length, COMPRESSED_TYPES)


def access_log_plan(model: Environment) -> AccessLogPlan | None:
    log = model.log
    if log is None:
        return None
    if not log.enabled:
        return AccessLogPlan(None, "")
    return AccessLogPlan(log.path, JSON_LOG_FORMAT if log.format == "json" else "combined")


def maintenance_plan(environment: LoadedEnvironment, merge: bool) -> MaintenancePlan | None:
    model = environment.model
    maintenance = model.maintenance
    if maintenance is None or not maintenance.enabled:
        return None
    page = _page(503, model.unavailable.format, maintenance.message)
    return MaintenancePlan(
        variable=maintenance_variable(environment.name) if maintenance.allow else None,
        allow=tuple(maintenance.allow),
        location=MAINTENANCE_LOCATION,
        page=page,
        headers=(() if merge else server_headers(model))
        + (Header("Retry-After", str(maintenance.retry_after), literal=True),),
    )


def error_page(model: Environment) -> ErrorPage:
    page = model.unavailable
    return _page(page.status, page.format, page.message)


def _page(status: int, page_format: str, message: str) -> ErrorPage:
    if page_format == "json":
        body = json.dumps(
            {"status": status, "error": message},
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return ErrorPage(status, "application/json", body)
    title = f"{status} {message}"
    body = f"<!doctype html><title>{title}</title><h1>{message}</h1>"
    return ErrorPage(status, "text/html", body)
