"""What the ACME benchmark and the ACME tests (`tests/acme_fixtures.py`) share: certificates made
here (a CA for Pebble's own HTTPS endpoint, which Debian's pebble lacks; a site's certificate put
in certbot's layout by hand), Pebble's configuration, and an HTTPS load loop that counts failed
requests. No Docker here: the benchmark starts containers through the SDK, the tests through
testcontainers."""

from __future__ import annotations

import datetime
import http.client
import json
import socket
import ssl
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ACME_IMAGE = "nginxgen-test/acme:bookworm"
PEBBLE_DIRECTORY = "https://pebble:14000/dir"
PEBBLE_READY = "Listening on: 0.0.0.0:14000"
PEBBLE_ENTRYPOINT = ["pebble"]
# Every order really validated (no authorization reuse), without Pebble's random sleeps, and no
# nonce rejected on purpose: Pebble rejects 5 % by default to exercise clients' retries, and
# certbot retries once, so a run would fail now and then for nothing it measures.
PEBBLE_ENVIRONMENT = {
    "PEBBLE_VA_NOSLEEP": "1",
    "PEBBLE_AUTHZREUSE": "0",
    "PEBBLE_WFE_NONCEREJECT": "0",
}
LOOPBACK = "127.0.0.1"
Pair = tuple[x509.Certificate, ec.EllipticCurvePrivateKey]


def certificate_pair(
    names: list[str], issuer: Pair | None = None, days: int = 90, ca: bool = False
) -> Pair:
    """A certificate for `names` (the first is its subject), signed by `issuer` or itself."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer[0].subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name) for name in names]), critical=False
        )
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256()), key


def pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def pebble_files() -> tuple[bytes, dict[str, bytes]]:
    """(the CA certificate to trust, Pebble's files by path): its configuration, validating
    HTTP-01 on port 80, and a certificate for its own HTTPS endpoint as `pebble`."""
    ca = certificate_pair(["nginxgen test ACME CA"], ca=True)
    server, server_key = certificate_pair(["pebble"], issuer=ca)
    config = {
        "pebble": {
            "listenAddress": "0.0.0.0:14000",
            "managementListenAddress": "0.0.0.0:15000",
            "certificate": "/pebble/cert.pem",
            "privateKey": "/pebble/key.pem",
            "httpPort": 80,
            "tlsPort": 443,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }
    }
    files = {
        "/pebble/config.json": json.dumps(config).encode(),
        "/pebble/cert.pem": pem(server),
        "/pebble/key.pem": key_pem(server_key),
    }
    return pem(ca[0]), files


def pebble_command(dns_server: str) -> list[str]:
    """Pebble resolving every name through `dns_server` (Docker's DNS: network aliases)."""
    return ["-config", "/pebble/config.json", "-dnsserver", dns_server]


def https_answer(port: int, host: str) -> tuple[int, bytes | None]:
    """GET / from 127.0.0.1:`port` over TLS as `host` (unverified): status, served certificate."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection((LOOPBACK, port), timeout=3)
    sock = context.wrap_socket(raw, server_hostname=host)
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=3)
    connection.sock = sock
    try:
        certificate = sock.getpeercert(binary_form=True)
        connection.request("GET", "/", headers={"Host": host, "Connection": "close"})
        return connection.getresponse().status, certificate
    finally:
        connection.close()


class LoadLoop:
    """HTTPS requests to one site, back to back, in a thread: how many were sent and failed."""

    def __init__(self, port: int, host: str) -> None:
        self.port, self.host = port, host
        self.sent = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LoadLoop:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sent += 1
            try:
                status, _ = https_answer(self.port, self.host)
                if status != 200:
                    self.failures.append(f"HTTP {status}")
            except (OSError, http.client.HTTPException) as error:
                self.failures.append(repr(error))
            time.sleep(0.01)
