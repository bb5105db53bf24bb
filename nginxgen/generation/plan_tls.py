"""The plan's TLS side: Mozilla's profiles (protocols and ciphers), certificate paths, and the
response headers of every server (security headers, HSTS, Alt-Svc for HTTP/3); also the default
HTTPS server's protocols and ciphers, and the warning when profiles mix on an older nginx.
"""

from __future__ import annotations

from collections.abc import Sequence

from nginxgen.core.errors import Problem
from nginxgen.core.versions import PER_SERVER_PROTOCOLS, at_least
from nginxgen.generation.loader import LoadedEnvironment
from nginxgen.generation.models import Environment, Settings
from nginxgen.generation.plan_types import EnvironmentPlan, Header, TlsPlan

ALT_SVC = 'h3=":443"; ma=86400'
# Mozilla's server-side TLS recommendations (guidelines 5.7): intermediate and modern.
INTERMEDIATE_CIPHERS = ":".join(
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
    )
)
_PROFILES = {
    "intermediate": (("TLSv1.2", "TLSv1.3"), INTERMEDIATE_CIPHERS),
    "modern": (("TLSv1.3",), None),
}
# `verify:` → `ssl_verify_client`: on answers 400 to a request without a valid certificate;
# optional lets one without a certificate through (and still refuses an invalid one).
_VERIFY_CLIENT = {"required": "on", "optional": "optional"}
_SECURITY_HEADERS = (
    ("x_content_type_options", "X-Content-Type-Options"),
    ("referrer_policy", "Referrer-Policy"),
    ("x_frame_options", "X-Frame-Options"),
    ("content_security_policy", "Content-Security-Policy"),
)


def tls_plan(model: Environment) -> TlsPlan | None:
    tls = model.tls
    if not tls.enabled:
        return None
    live = f"/etc/letsencrypt/live/{model.primary_domain.removeprefix('*.')}"
    protocols, ciphers = _PROFILES[tls.profile]
    trusted = tls.trusted_certificate or f"{live}/chain.pem"
    clients = tls.client_certificates
    return TlsPlan(
        certificate=tls.certificate or f"{live}/fullchain.pem",
        certificate_key=tls.certificate_key or f"{live}/privkey.pem",
        protocols=" ".join(protocols),
        ciphers=ciphers,
        stapling=tls.ocsp_stapling,
        trusted_certificate=trusted if tls.ocsp_stapling else None,
        client_ca=clients.ca if clients else None,
        client_verify=_VERIFY_CLIENT[clients.verify] if clients else None,
    )


def client_certificate_headers(model: Environment) -> tuple[Header, ...]:
    """What a service behind mutual TLS is told, set by nginx whatever the client sent."""
    if model.tls.client_certificates is None or not model.tls.enabled:
        return ()
    return (
        Header("X-Client-Verify", "$ssl_client_verify"),
        Header("X-Client-DN", "$ssl_client_s_dn"),
    )


def server_headers(model: Environment) -> tuple[Header, ...]:
    headers = [
        Header(name, value, literal=True)
        for field, name in _SECURITY_HEADERS
        if (value := getattr(model.security_headers, field)) is not None
    ]
    hsts = model.tls.hsts
    if model.tls.enabled and hsts.enabled:
        value = f"max-age={hsts.max_age}"
        value += "; includeSubDomains" if hsts.include_subdomains else ""
        value += "; preload" if hsts.preload else ""
        headers.append(Header("Strict-Transport-Security", value, literal=True))
    if model.http3 and model.tls.enabled:
        headers.append(Header("Alt-Svc", ALT_SVC, literal=True))
    return tuple(headers)


def https_protocols(planned: Sequence[EnvironmentPlan]) -> str:
    """The TLS versions of every profile in use, for the default HTTPS server.

    Before nginx 1.29.2 OpenSSL picks the TLS version with the default server's settings, before
    SNI selects the environment's server: without this list nginx's own default (TLSv1 up to
    TLSv1.3 before 1.23.4) would be in force, whatever the profiles say.
    """
    versions = {version for env in planned if env.tls for version in env.tls.protocols.split()}
    return " ".join(sorted(versions))


def https_ciphers(environments: Sequence[LoadedEnvironment]) -> str | None:
    """The default HTTPS server refuses every handshake, but scanners still grade its cipher
    list: give it the intermediate ciphers whenever some environment allows TLSv1.2."""
    profiles = {env.model.tls.profile for env in environments if env.model.tls.enabled}
    return INTERMEDIATE_CIPHERS if "intermediate" in profiles else None


def profile_warnings(
    environments: Sequence[LoadedEnvironment], settings: Settings
) -> list[Problem]:
    """A modern environment beside an intermediate one still accepts TLSv1.2 before 1.29.2."""
    if at_least(settings.nginx_version, PER_SERVER_PROTOCOLS):
        return []
    tls = [environment for environment in environments if environment.model.tls.enabled]
    if len({environment.model.tls.profile for environment in tls}) < 2:
        return []
    return [
        environment.source.problem(
            ("tls", "profile"),
            f"warning: nginx {settings.nginx_version} picks the TLS version before it knows the "
            "server name, so beside the intermediate environments this one accepts TLSv1.2 too; "
            f"target nginx >= {PER_SERVER_PROTOCOLS} or give every environment one "
            "profile",
        )
        for environment in tls
        if environment.model.tls.profile == "modern"
    ]
