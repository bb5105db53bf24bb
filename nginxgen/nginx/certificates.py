"""The real certificate files of the planned environments, checked as TLS clients will see them.

nginx refuses to start when a certificate or key file is missing or the key does not belong to
the certificate, and clients refuse a chain out of order, a name the certificate does not carry,
or a certificate outside its validity period. This module reads the files a site names
(exactly the paths nginx will load) and returns findings; it prints nothing.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from nginxgen.core.facts import LETSENCRYPT

# A certificate problem's severity (lint findings have their own `Severity` enum in lint/rules.py).
CertSeverity = Literal["error", "warning", "info"]
# How the file readers report a finding: (file, severity, check, message).
_Report = Callable[[str, CertSeverity, str, str], None]
# How a file's bytes are read: the local filesystem by default; `nginxgen status` reads them
# from inside the proxy container. Raises FileNotFoundError, PermissionError, IsADirectoryError.
FileReader = Callable[[str], bytes]
DEFAULT_WARN_DAYS = 21
_DAY = datetime.timedelta(days=1)
# certbot's layout: each certificate ("lineage") has live/<name>/ and renewal/<name>.conf.
LIVE_DIRECTORY = f"{LETSENCRYPT}/live"
RENEWAL_DIRECTORY = f"{LETSENCRYPT}/renewal"


@dataclass(frozen=True)
class CertificateSite:
    """What one environment's HTTPS server loads and answers for; `tls` None: HTTP only."""

    name: str
    tls: tuple[str, str] | None  # (certificate, certificate_key)
    domains: tuple[str, ...]


@dataclass(frozen=True)
class CertFinding:
    """One result about one file of one environment; `check` is a stable code for machines."""

    environment: str
    file: str
    severity: CertSeverity
    check: str
    message: str
    days_left: int | None = None

    def __str__(self) -> str:
        return f"{self.environment}: {self.file}: {self.severity}: {self.message}"


def _read_local(path: str) -> bytes:
    return Path(path).read_bytes()


def inspect_certificates(
    sites: Sequence[CertificateSite],
    now: datetime.datetime,
    warn_days: int = DEFAULT_WARN_DAYS,
    read: FileReader = _read_local,
) -> list[CertFinding]:
    """Findings for every site, in the given order."""
    return [
        finding
        for site in sites
        for finding in inspect_environment_certificates(site, now, warn_days, read)
    ]


def inspect_environment_certificates(
    environment: CertificateSite,
    now: datetime.datetime,
    warn_days: int = DEFAULT_WARN_DAYS,
    read: FileReader = _read_local,
) -> list[CertFinding]:
    """Findings for the certificate and key one environment's HTTPS server loads.

    Every name the server answers to over HTTPS counts, redirect-only names included: their
    server block shares the certificate. An HTTP-only environment yields one `info` finding.
    """
    name = environment.name
    if environment.tls is None:
        return [CertFinding(name, "-", "info", "http-only", "HTTP only; no certificate to check")]
    certificate_path, key_path = environment.tls
    findings: list[CertFinding] = []

    def add(
        file: str, severity: CertSeverity, check: str, message: str, days: int | None = None
    ) -> None:
        findings.append(CertFinding(name, file, severity, check, message, days))

    chain = _load_chain(certificate_path, add, read)
    key = _load_key(key_path, add, read)
    if chain is None:
        return findings
    served = environment.domains
    leaf_index = 0
    owner = _key_owner(chain, key) if key is not None else 0
    if owner is None:
        add(
            key_path,
            "error",
            "key-mismatch",
            f"does not belong to the certificate in {certificate_path} (different public key); "
            "nginx refuses to start",
        )
    elif owner:
        leaf_index = owner
        add(
            certificate_path,
            "error",
            "chain-order",
            f"the key belongs to certificate {owner + 1} ({_subject(chain[owner])}), not the "
            "first: nginx takes the first certificate of the file as the server's (and refuses "
            "to start), so the server certificate must come first, then each issuer",
        )
    for message in _chain_order_problems(chain):
        add(certificate_path, "error", "chain-order", message)
    if len(chain) == 1 and not _self_issued(chain[0]):
        add(
            certificate_path,
            "warning",
            "chain-incomplete",
            f"holds only the server certificate; its issuer ({_issuer(chain[0])}) is missing, "
            "so clients without it cannot verify the chain (use fullchain.pem, not cert.pem)",
        )
    leaf = chain[leaf_index]
    uncovered = uncovered_domains(certificate_names(leaf), served)
    if uncovered:
        names = ", ".join(certificate_names(leaf)) or "none; clients ignore the common name"
        add(
            certificate_path,
            "error",
            "san",
            f"does not cover {', '.join(uncovered)} (subject alternative names: {names})",
        )
    for index, certificate in enumerate(chain):
        severity, check, message, days = _validity(certificate, now, warn_days)
        if index == leaf_index:
            add(certificate_path, severity, check, message, days)
        elif severity != "info":
            which = f"chain certificate {index + 1} ({_subject(certificate)})"
            add(certificate_path, severity, check, f"{which} {message}")
    return findings


def certificate_names(certificate: x509.Certificate) -> list[str]:
    """The DNS names of the subject alternative name extension; clients ignore the CN."""
    try:
        extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return [name.lower() for name in extension.value.get_values_for_type(x509.DNSName)]


def name_covers(certificate_name: str, domain: str) -> bool:
    """Whether a certificate's DNS name matches a served domain, as RFC 6125 (6.4.3) has it.

    A wildcard stands for exactly one whole left-most label, and only above at least two labels:
    `*.example.com` covers `a.example.com`, not `example.com`, `a.b.example.com` or `com`'s
    neighbours. A served wildcard (`server_name *.example.com`) needs that same wildcard.
    """
    pattern, domain = certificate_name.lower().rstrip("."), domain.lower().rstrip(".")
    if pattern == domain:
        return True
    if not pattern.startswith("*.") or domain.startswith("*."):
        return False
    base = pattern[2:]
    label, dot, rest = domain.partition(".")
    return bool(label and dot) and rest == base and "." in base and "*" not in base


def uncovered_domains(certificate_names: Iterable[str], domains: Iterable[str]) -> list[str]:
    """The domains none of `certificate_names` covers, in the order given."""
    names = list(certificate_names)
    return [domain for domain in domains if not any(name_covers(name, domain) for name in names)]


def summary(findings: Sequence[CertFinding]) -> str:
    errors = sum(finding.severity == "error" for finding in findings)
    warnings = sum(finding.severity == "warning" for finding in findings)
    environments = len({finding.environment for finding in findings})
    return f"{errors} error(s), {warnings} warning(s) in {environments} environment(s)"


def has_errors(findings: Iterable[CertFinding]) -> bool:
    return any(finding.severity == "error" for finding in findings)


def as_text(findings: Sequence[CertFinding]) -> str:
    lines = [str(finding) for finding in findings]
    return "\n".join([*lines, summary(findings)]) + "\n"


def as_document(findings: Sequence[CertFinding]) -> dict[str, Any]:
    """The JSON form: `ok` is false exactly when the command exits 1."""
    return {
        "ok": not has_errors(findings),
        "findings": [
            {
                "environment": finding.environment,
                "file": finding.file,
                "severity": finding.severity,
                "check": finding.check,
                "message": finding.message,
                "days_left": finding.days_left,
            }
            for finding in findings
        ],
    }


def _read(path: str, add: _Report, read: FileReader) -> bytes | None:
    try:
        return read(path)
    except FileNotFoundError:
        add(path, "error", "missing", "not found; nginx refuses to start")
    except PermissionError:
        add(
            path,
            "error",
            "unreadable",
            "cannot be read by this user (permission denied); run as the user nginx starts as",
        )
    except IsADirectoryError:
        add(path, "error", "unreadable", "is a directory, not a file")
    except OSError as error:
        add(path, "error", "unreadable", f"cannot be read: {error.strerror or error}")
    return None


def _load_chain(path: str, add: _Report, read: FileReader) -> list[x509.Certificate] | None:
    data = _read(path, add, read)
    if data is None:
        return None
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError as error:
        add(path, "error", "unparsable", f"is not a PEM certificate file: {error}")
        return None


def _load_key(path: str, add: _Report, read: FileReader) -> PrivateKeyTypes | None:
    data = _read(path, add, read)
    if data is None:
        return None
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError:
        add(
            path,
            "error",
            "unparsable",
            "is an encrypted key; nginx would need ssl_password_file to read it",
        )
    except (ValueError, UnsupportedAlgorithm) as error:
        add(path, "error", "unparsable", f"is not a PEM private key: {error}")
    return None


def _public_bytes(key: Any) -> bytes:
    encoded: bytes = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return encoded


def _key_owner(chain: Sequence[x509.Certificate], key: PrivateKeyTypes) -> int | None:
    """The position of the certificate whose public key is `key`'s, if any."""
    public = _public_bytes(key.public_key())
    for index, certificate in enumerate(chain):
        if _public_bytes(certificate.public_key()) == public:
            return index
    return None


def _chain_order_problems(chain: Sequence[x509.Certificate]) -> list[str]:
    """Each certificate must be issued (named and signed) by the one after it."""
    problems = []
    for index, (certificate, issuer) in enumerate(zip(chain, chain[1:], strict=False), start=1):
        if certificate.issuer != issuer.subject:
            problems.append(
                f"certificate {index} ({_subject(certificate)}) is issued by "
                f"{_issuer(certificate)}, but certificate {index + 1} is {_subject(issuer)}: "
                "the chain must go from the server certificate up, each followed by its issuer"
            )
            continue
        try:
            certificate.verify_directly_issued_by(issuer)
        except InvalidSignature:
            problems.append(
                f"certificate {index} ({_subject(certificate)}) names certificate {index + 1} "
                "as its issuer, but that certificate's key did not sign it"
            )
        except (ValueError, TypeError, UnsupportedAlgorithm):
            # An algorithm cryptography cannot verify: the names matched, which is what we can tell.
            pass
    return problems


def _self_issued(certificate: x509.Certificate) -> bool:
    return certificate.issuer == certificate.subject


def _validity(
    certificate: x509.Certificate, now: datetime.datetime, warn_days: int
) -> tuple[CertSeverity, str, str, int]:
    """(severity, check, message, whole days left) of one certificate's validity period at `now`."""
    not_before, not_after = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    days_left = (not_after - now) // _DAY
    expiry = not_after.strftime("%Y-%m-%d %H:%M UTC")
    if now < not_before:
        start = not_before.strftime("%Y-%m-%d %H:%M UTC")
        return ("error", "not-yet-valid", f"is not valid before {start}", days_left)
    if now > not_after:
        return ("error", "expired", f"expired on {expiry}", days_left)
    if days_left < warn_days:
        message = f"expires on {expiry}, in {days_left} day(s) (under {warn_days})"
        return ("warning", "expiring", message, days_left)
    return ("info", "expiry", f"expires on {expiry}, in {days_left} day(s)", days_left)


def _subject(certificate: x509.Certificate) -> str:
    return certificate.subject.rfc4514_string() or "empty subject"


def _issuer(certificate: x509.Certificate) -> str:
    return certificate.issuer.rfc4514_string() or "empty issuer"


@dataclass(frozen=True)
class Order:
    """A certificate certbot keeps for one environment: its lineage `name` (live/<name>/) and
    every name the environment answers to over HTTPS."""

    environment: str
    name: str
    domains: tuple[str, ...]
    certificate: str
    key: str
    # Where the environment's port-80 server serves ACME challenges from (HTTP-01).
    webroot: str | None = None

    @property
    def renewal_config(self) -> str:
        return f"{RENEWAL_DIRECTORY}/{self.name}.conf"


def lineage(certificate_path: str) -> str | None:
    """The certbot lineage a certificate path is the fullchain of, or None (the user's own)."""
    directory, _, file = certificate_path.rpartition("/")
    parent, _, name = directory.rpartition("/")
    if parent == LIVE_DIRECTORY and file == "fullchain.pem" and name not in ("", ".", ".."):
        return name
    return None


def acme_orders(
    sites: Iterable[CertificateSite], webroots: Mapping[str, str | None] | None = None
) -> list[Order]:
    """The certificates ACME keeps: those at certbot's own paths (live/<name>/fullchain.pem and
    privkey.pem); a certificate the user placed elsewhere is theirs to renew. `webroots`:
    each environment's ACME webroot."""
    orders = []
    for site in sites:
        if site.tls is None:
            continue
        certificate, key = site.tls
        name = lineage(certificate)
        if name is not None and key == f"{LIVE_DIRECTORY}/{name}/privkey.pem":
            webroot = (webroots or {}).get(site.name)
            orders.append(Order(site.name, name, site.domains, certificate, key, webroot))
    return orders


@dataclass(frozen=True)
class Issued:
    """What a served certificate says about itself."""

    issuer: str
    names: tuple[str, ...]
    serial: int
    not_after: datetime.datetime

    def days_left(self, now: datetime.datetime) -> int:
        return (self.not_after - now) // _DAY

    def due(self, now: datetime.datetime, renew_before: int) -> bool:
        """Whether it expires within `renew_before` days (certbot's renew_before_expiry)."""
        return self.not_after - now < renew_before * _DAY


def issued(data: bytes) -> Issued:
    """The first certificate of a PEM file (the one nginx serves); `ValueError` if none."""
    leaf = x509.load_pem_x509_certificates(data)[0]
    return Issued(
        _issuer(leaf),
        tuple(certificate_names(leaf)),
        leaf.serial_number,
        leaf.not_valid_after_utc,
    )
