"""The one HTTP/HTTPS client for nginx under test: a request to a port published on 127.0.0.1,
as a browser would send it (Host header and, over TLS, SNI), on a connection of its own.

Certificates are not verified: in a sandbox they are placeholders. Route tests, `import
--verify`, the nginx tests and the benchmarks all ask through `request`.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

LOOPBACK = "127.0.0.1"
REQUEST_TIMEOUT_SECONDS = 10.0


class Refused(ConnectionError):
    """nginx closed the connection without an answer, or rejected the TLS handshake."""


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: status, headers (lower-case names), body, the certificate served."""

    status: int
    headers: Mapping[str, str]
    body: str
    certificate: bytes | None = None


def request(
    port: int,
    host: str,
    path: str = "/",
    *,
    tls: bool = False,
    method: str = "GET",
    headers: Sequence[tuple[str, str]] = (),
    body_size: int = 0,
    client_certificate: tuple[str, str] | None = None,
    timeout: float = REQUEST_TIMEOUT_SECONDS,
) -> Answer:
    """`method path` to 127.0.0.1:`port` as `host` (Host header and, with `tls`, SNI), on a
    connection of its own, with a body of `body_size` bytes, presenting `client_certificate`
    (certificate file, key file) if given. Certificates are not verified:
    in a sandbox they are placeholders. `Refused` when nginx closes without an answer or
    rejects the handshake; any other failure is an `OSError` or `http.client.HTTPException`."""
    sock = socket.create_connection((LOOPBACK, port), timeout=timeout)
    # Without it, the TLS Finished and the request wait out a delayed ACK (~40 ms) each time.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    certificate = None
    try:
        if tls:
            try:
                context = _tls_context(client_certificate)
                sock = context.wrap_socket(sock, server_hostname=host)
            except (ssl.SSLError, ConnectionError) as error:
                raise Refused(f"TLS handshake rejected ({reason(error)})") from error
            certificate = sock.getpeercert(binary_form=True)
        connection.sock = sock
        sent = {"Host": host, "Connection": "close"}
        if body_size:
            sent["Content-Length"] = str(body_size)
        sent.update(headers)
        connection.putrequest(method, path, skip_host=True)
        for name, value in sent.items():
            connection.putheader(name, value)
        connection.endheaders()
        # nginx may refuse a body (413) before it is all sent; its answer still counts.
        with contextlib.suppress(OSError):
            _send_body(sock, body_size)
        try:
            response = connection.getresponse()
        except (http.client.RemoteDisconnected, ConnectionError) as error:
            raise Refused(f"connection closed without an answer ({reason(error)})") from error
        body = response.read().decode("utf-8", "replace")
        answer = {name.lower(): value for name, value in response.getheaders()}
        return Answer(response.status, answer, body, certificate)
    finally:
        connection.close()
        sock.close()


def reason(error: BaseException) -> str:
    """An error in a few words: its type, and its message if it has one."""
    return type(error).__name__ if not str(error) else f"{type(error).__name__}: {error}"


@cache
def _tls_context(client_certificate: tuple[str, str] | None = None) -> ssl.SSLContext:
    # Placeholder certificates are not verified, so no CA store is loaded (that alone costs
    # tens of milliseconds per context).
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if client_certificate is not None:
        certificate, key = client_certificate
        context.load_cert_chain(certificate, key)
    return context


def _send_body(sock: socket.socket, size: int) -> None:
    chunk = b"x" * (1 << 16)
    remaining = size
    while remaining > 0:
        part = chunk[: min(remaining, len(chunk))]
        sock.sendall(part)
        remaining -= len(part)
