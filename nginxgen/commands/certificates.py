"""What deploy, `certs` and status share about certificates: the sites each environment's HTTPS
server loads, the certificates ACME keeps for them, and certbot's settings with their files
read (not a command; no command of its own)."""

from __future__ import annotations

from pathlib import Path

from nginxgen.core.errors import UsageError
from nginxgen.docker.acme import AcmeClient
from nginxgen.generation.models import AcmeSettings, Settings
from nginxgen.generation.plan_types import Plan
from nginxgen.nginx.certificates import CertificateSite, Order, acme_orders


def certificate_sites(plan: Plan) -> list[CertificateSite]:
    """What each environment's HTTPS server loads, and every name it answers for with it."""
    return [
        CertificateSite(
            env.name,
            (env.tls.certificate, env.tls.certificate_key) if env.tls else None,
            env.domains + env.redirect_names,
        )
        for env in plan.environments
    ]


def orders(plan: Plan, settings: Settings) -> list[Order]:
    """The certificates ACME obtains and renews: none unless `acme.email` is set."""
    if settings.acme is None or not settings.acme.issues:
        return []
    webroots = {env.name: env.acme_webroot for env in plan.environments}
    return acme_orders(certificate_sites(plan), webroots)


def acme_client(acme: AcmeSettings) -> AcmeClient:
    """certbot's settings with the CA and credentials files read (a missing one: exit 2)."""
    dns = acme.dns if acme.challenge == "dns-01" else None
    return AcmeClient(
        email=acme.email or "",
        directory=acme.directory,
        image=acme.image,
        challenge=acme.challenge,
        ca_certificate=_read("acme.ca_certificate", acme.ca_certificate),
        dns_plugin=dns.plugin if dns else None,
        dns_credentials=_read("acme.dns.credentials", dns.credentials if dns else None),
        dns_propagation_seconds=dns.propagation_seconds if dns else None,
    )


def _read(key: str, path: str | None) -> bytes | None:
    if path is None:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise UsageError(
            f"nginxgen.yaml: {key}: cannot read {path}: {error.strerror or error}"
        ) from error
