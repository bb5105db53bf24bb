"""The CA files of mutual TLS (`tls.client_certificates.ca`), checked as nginx will load them, and
the expiry dates `nginxgen status --format openmetrics` exports. nginx refuses to start without
a readable CA file; an expired or non-CA certificate in it makes every client certificate fail.
Returns findings and dates; prints nothing.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path

from cryptography import x509

from nginxgen.nginx.certificates import DEFAULT_WARN_DAYS, CertFinding, CertSeverity, FileReader

_DAY = datetime.timedelta(days=1)


def _read_local(path: str) -> bytes:
    return Path(path).read_bytes()


def load_certificates(path: str, read: FileReader) -> list[x509.Certificate]:
    """The PEM certificates of `path`; OSError when unreadable, ValueError when none parse."""
    return x509.load_pem_x509_certificates(read(path))


def first_expiry(path: str, read: FileReader) -> datetime.datetime | None:
    """When the first certificate of `path` (a server's own, or a CA file's) expires; None when
    the file cannot be read or holds no certificate."""
    try:
        return load_certificates(path, read)[0].not_valid_after_utc
    except (OSError, ValueError):
        return None


def inspect_client_ca(
    environment: str,
    path: str,
    now: datetime.datetime,
    warn_days: int = DEFAULT_WARN_DAYS,
    read: FileReader = _read_local,
) -> list[CertFinding]:
    findings: list[CertFinding] = []

    def add(severity: CertSeverity, check: str, message: str, days: int | None = None) -> None:
        findings.append(CertFinding(environment, path, severity, check, message, days))

    try:
        authorities = load_certificates(path, read)
    except FileNotFoundError:
        add("error", "missing", "client CA file not found; nginx refuses to start")
        return findings
    except OSError as error:
        add("error", "unreadable", f"client CA file cannot be read: {error.strerror or error}")
        return findings
    except ValueError as error:
        add("error", "unparsable", f"is not a PEM file of CA certificates: {error}")
        return findings
    for index, authority in enumerate(authorities):
        which = f"client CA {index + 1} ({authority.subject.rfc4514_string() or 'no subject'})"
        _check_authority(authority, which, now, warn_days, add)
    return findings


def _check_authority(
    authority: x509.Certificate,
    which: str,
    now: datetime.datetime,
    warn_days: int,
    add: Callable[..., None],
) -> None:
    if not _is_ca(authority):
        add(
            "error",
            "not-a-ca",
            f"{which} is not a CA certificate (no basicConstraints CA:TRUE): client "
            "certificates signed by it fail verification",
        )
    not_after = authority.not_valid_after_utc
    days_left = (not_after - now) // _DAY
    expiry = not_after.strftime("%Y-%m-%d %H:%M UTC")
    if now > not_after:
        add(
            "error",
            "expired",
            f"{which} expired on {expiry}: every client certificate it signed fails (400)",
            days_left,
        )
    elif days_left < warn_days:
        add("warning", "expiring", f"{which} expires on {expiry}, in {days_left} day(s)", days_left)
    else:
        add("info", "expiry", f"{which} expires on {expiry}, in {days_left} day(s)", days_left)


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    return constraints.value.ca
