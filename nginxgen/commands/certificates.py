"""What deploy, `certs` and status share about certificates: the sites each environment's HTTPS
server loads, the certificates ACME keeps for them, and certbot's settings with their files
read (not a command; no command of its own)."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Literal

from nginxgen.core.errors import UsageError
from nginxgen.docker.acme import AcmeClient
from nginxgen.generation.models import AcmeSettings, Settings
from nginxgen.generation.plan_types import Plan
from nginxgen.nginx.certificates import CertificateSite, Order, acme_orders, issued


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


def certificate_state(
    order: Order, read: Callable[[str], bytes], now: datetime.datetime
) -> tuple[Literal["ok", "warning"], str] | None:
    """One line about a certificate ACME keeps, as the proxy sees it: issuer, names, days left
    and whether certbot has its renewal configuration (without it nothing renews it); None
    when it is not there (the certificate check reports that)."""
    try:
        served = issued(read(order.certificate))
    except (OSError, ValueError):
        return None
    try:
        read(order.renewal_config)
        renewal = f"renewal configuration {order.renewal_config} present"
        severity: Literal["ok", "warning"] = "ok"
    except OSError:
        renewal = f"no renewal configuration ({order.renewal_config}): certbot will not renew it"
        severity = "warning"
    return severity, (
        f"issuer {served.issuer}, names {', '.join(served.names)}, "
        f"{served.days_left(now)} day(s) left, {renewal}"
    )


def acme_states(
    plan: Plan, settings: Settings, read: Callable[[str], bytes], now: datetime.datetime
) -> Iterable[tuple[str, Literal["ok", "warning"], str]]:
    """(environment, severity, line) for each certificate ACME keeps that the proxy has."""
    for order in orders(plan, settings):
        state = certificate_state(order, read, now)
        if state is not None:
            yield order.environment, *state
