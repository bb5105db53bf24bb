"""`nginxgen status --format openmetrics`: the facts status gathers about the live proxy, as
OpenMetrics text for node_exporter's textfile collector (docs/metrics.md). A pure function of
plain facts: the status command gathers them, this module only writes them down.

Every family is a gauge (the textfile collector takes no timestamps and no `info`/`stateset`
types), timestamps are seconds since the epoch in families whose names end in `_seconds`, and a
fact status could not establish (an unreadable certificate, no kept deploy) is left out rather
than given a made-up value, except where a 0 says it (a service that does not resolve).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class CertificateFact:
    """A certificate file an environment's server loads: its own (`kind` "server") or a client
    CA (`kind` "client_ca"); `expires` None when it cannot be read."""

    environment: str
    file: str
    names: tuple[str, ...]
    expires: datetime.datetime | None
    kind: str = "server"


@dataclass(frozen=True)
class ServiceFact:
    """A service address as the proxy resolves and reaches it."""

    environment: str
    service: str
    host: str
    port: int
    addresses: int
    answering: int


@dataclass(frozen=True)
class DeployFact:
    """The last deploy: when it ended and whether the candidate became live."""

    time: datetime.datetime
    succeeded: bool


@dataclass(frozen=True)
class StatusFacts:
    """What `status` knows about one proxy container."""

    proxy: str
    certificates: Sequence[CertificateFact] = ()
    services: Sequence[ServiceFact] = ()
    # None: nothing to compare (no live config, or no output file here).
    drift: bool | None = None
    last_deploy: DeployFact | None = None


@dataclass(frozen=True)
class _Family:
    name: str
    help: str
    unit: str | None = None


_CERTIFICATE_EXPIRY = _Family(
    "nginxgen_certificate_expiry_timestamp_seconds",
    "When the certificate expires (its first certificate), as the proxy reads the file.",
    "seconds",
)
_CERTIFICATE_READABLE = _Family(
    "nginxgen_certificate_readable", "1 if the proxy reads the certificate file, else 0."
)
_SERVICE_RESOLVES = _Family(
    "nginxgen_service_resolves", "1 if the service's name resolves inside the proxy, else 0."
)
_SERVICE_ADDRESSES = _Family(
    "nginxgen_service_addresses", "Addresses the service's name resolves to inside the proxy."
)
_SERVICE_ANSWERING = _Family(
    "nginxgen_service_answering_addresses",
    "Addresses of the service that accept connections from inside the proxy.",
)
_SERVICE_UP = _Family(
    "nginxgen_service_up", "1 if at least one address of the service answers the proxy, else 0."
)
_DRIFT = _Family("nginxgen_config_drift", "1 if the live config differs from the output, else 0.")
_DEPLOY_TIME = _Family(
    "nginxgen_last_deploy_timestamp_seconds", "When the last deploy ended.", "seconds"
)
_DEPLOY_SUCCESS = _Family(
    "nginxgen_last_deploy_success", "1 if the last deploy made its candidate live, else 0."
)


def openmetrics_text(reports: Iterable[StatusFacts]) -> str:
    """The OpenMetrics exposition of every proxy's facts, ending in `# EOF`."""
    samples: dict[_Family, list[str]] = {}
    for facts in reports:
        for family, labels, value in _samples(facts):
            samples.setdefault(family, []).append(f"{family.name}{_labels(labels)} {value}")
    lines: list[str] = []
    for family, family_samples in samples.items():
        lines.append(f"# TYPE {family.name} gauge")
        if family.unit:
            lines.append(f"# UNIT {family.name} {family.unit}")
        lines.append(f"# HELP {family.name} {family.help}")
        lines += family_samples
    return "\n".join([*lines, "# EOF"]) + "\n"


_Sample = tuple[_Family, dict[str, str], str]


def _samples(facts: StatusFacts) -> list[_Sample]:
    proxy = {"proxy": facts.proxy}
    samples: list[_Sample] = []
    for certificate in facts.certificates:
        labels = {
            **proxy,
            "environment": certificate.environment,
            "kind": certificate.kind,
            "file": certificate.file,
            "names": ",".join(certificate.names),
        }
        samples.append((_CERTIFICATE_READABLE, labels, _flag(certificate.expires is not None)))
        if certificate.expires is not None:
            samples.append((_CERTIFICATE_EXPIRY, labels, _seconds(certificate.expires)))
    for service in facts.services:
        labels = {
            **proxy,
            "environment": service.environment,
            "service": service.service,
            "host": service.host,
            "port": str(service.port),
        }
        samples += [
            (_SERVICE_RESOLVES, labels, _flag(service.addresses > 0)),
            (_SERVICE_ADDRESSES, labels, str(service.addresses)),
            (_SERVICE_ANSWERING, labels, str(service.answering)),
            (_SERVICE_UP, labels, _flag(service.answering > 0)),
        ]
    if facts.drift is not None:
        samples.append((_DRIFT, proxy, _flag(facts.drift)))
    if facts.last_deploy is not None:
        samples.append((_DEPLOY_TIME, proxy, _seconds(facts.last_deploy.time)))
        samples.append((_DEPLOY_SUCCESS, proxy, _flag(facts.last_deploy.succeeded)))
    return samples


def _flag(value: bool) -> str:
    return "1" if value else "0"


def _seconds(moment: datetime.datetime) -> str:
    return f"{moment.timestamp():.3f}".rstrip("0").rstrip(".")


def _labels(labels: dict[str, str]) -> str:
    return "{" + ",".join(f'{name}="{_escape(value)}"' for name, value in labels.items()) + "}"


def _escape(value: str) -> str:
    """A label value as OpenMetrics writes it: backslash, double quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
