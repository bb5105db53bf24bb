"""nginx/client_ca.py: the CA file of mutual TLS checked as nginx loads it, and its expiry."""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from nginxgen.nginx.certificates import FileReader
from nginxgen.nginx.client_ca import first_expiry, inspect_client_ca

NOW = datetime.datetime(2026, 6, 1, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)
CA_PATH = "/etc/nginx/clients/ca.pem"


def certificate(name: str, not_after: datetime.datetime, *, ca: bool = True) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - 365 * DAY)
        .not_valid_after(not_after)
    )
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def reader(files: dict[str, bytes]) -> FileReader:
    def read(path: str) -> bytes:
        try:
            return files[path]
        except KeyError:
            raise FileNotFoundError(path) from None

    return read


def checks(pem: bytes, warn_days: int = 21) -> list[tuple[str, str, int | None]]:
    findings = inspect_client_ca("secure", CA_PATH, NOW, warn_days, reader({CA_PATH: pem}))
    assert {finding.environment for finding in findings} <= {"secure"}
    return [(finding.severity, finding.check, finding.days_left) for finding in findings]


def test_each_ca_of_the_file_is_graded_by_its_expiry() -> None:
    pem = certificate("Clients A", NOW + 100 * DAY) + certificate("Clients B", NOW + 10 * DAY)
    assert checks(pem) == [("info", "expiry", 100), ("warning", "expiring", 10)]
    assert checks(pem, warn_days=5) == [("info", "expiry", 100), ("info", "expiry", 10)]


def test_an_expired_or_non_ca_certificate_is_an_error() -> None:
    assert checks(certificate("Old", NOW - 2 * DAY)) == [("error", "expired", -2)]
    assert checks(certificate("Leaf", NOW + 100 * DAY, ca=False)) == [
        ("error", "not-a-ca", None),
        ("info", "expiry", 100),
    ]
    (finding,) = inspect_client_ca(
        "secure", CA_PATH, NOW, read=reader({CA_PATH: certificate("Old", NOW - DAY)})
    )
    assert "client CA 1 (CN=Old) expired on" in finding.message


def test_a_missing_unreadable_or_unparsable_file_is_an_error() -> None:
    (missing,) = inspect_client_ca("secure", CA_PATH, NOW, read=reader({}))
    assert (missing.severity, missing.check) == ("error", "missing")

    def unreadable(path: str) -> bytes:
        raise PermissionError(13, "Permission denied", path)

    (denied,) = inspect_client_ca("secure", CA_PATH, NOW, read=unreadable)
    assert (denied.check, denied.message) == (
        "unreadable",
        "client CA file cannot be read: Permission denied",
    )
    assert checks(b"not a certificate\n") == [("error", "unparsable", None)]


def test_first_expiry_is_the_first_certificates_or_none() -> None:
    first = NOW + 30 * DAY
    pem = certificate("A", first) + certificate("B", NOW + 300 * DAY)
    assert first_expiry(CA_PATH, reader({CA_PATH: pem})) == first
    assert first_expiry(CA_PATH, reader({})) is None
    assert first_expiry(CA_PATH, reader({CA_PATH: b"junk"})) is None
