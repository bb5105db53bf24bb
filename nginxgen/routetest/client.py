"""One request to the nginx under test, as a browser would send it: right SNI, right Host.

Requests go to nginx's ports published on 127.0.0.1 only; certificates are placeholders, so they
are not verified. A connection nginx closes without an answer, or a TLS handshake it rejects,
is an answer too: `refused`.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.client
import socket
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from nginxgen.generation.route_tests import RequestLine
from nginxgen.nginx.echo import ECHO_HEADER, Received, parse_echo

LOOPBACK = "127.0.0.1"
TIMEOUT_SECONDS = 10.0
STATIC_MARKER = "nginxgen-static root="
_CHUNK = 1 << 16


@dataclass(frozen=True)
class Observed:
    """What came back: an HTTP answer (and what the echo or a static root said), or a refusal."""

    status: int | None = None
    # Lower-case names.
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str = ""
    refused: str | None = None
    received: Received | None = None
    static_root: str | None = None
    # No answer in time, or the connection failed otherwise: never what a test expects.
    error: str | None = None


def send(
    request: RequestLine,
    ports: Mapping[int, int],
    headers: Sequence[tuple[str, str]] = (),
    auth: str | None = None,
    body_size: int = 0,
) -> Observed:
    """Send `request` to 127.0.0.1 on the host port published for its port (80 or 443)."""
    try:
        return _send(request, ports, headers, auth, body_size)
    except (OSError, http.client.HTTPException) as error:
        return Observed(error=f"no answer: {_reason(error)}")


def _send(
    request: RequestLine,
    ports: Mapping[int, int],
    headers: Sequence[tuple[str, str]],
    auth: str | None,
    body_size: int,
) -> Observed:
    sock = socket.create_connection((LOOPBACK, ports[request.port]), timeout=TIMEOUT_SECONDS)
    # Without it, the TLS Finished and the request wait out a delayed ACK (~40 ms) each time.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    connection = http.client.HTTPConnection(LOOPBACK, ports[request.port], timeout=TIMEOUT_SECONDS)
    try:
        if request.tls:
            try:
                sock = _tls_context().wrap_socket(sock, server_hostname=request.host)
            except (ssl.SSLError, ConnectionError) as error:
                return Observed(refused=f"TLS handshake rejected ({_reason(error)})")
        connection.sock = sock
        names = {"Host": request.host, "Connection": "close"}
        if auth is not None:
            names["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
        if body_size:
            names["Content-Length"] = str(body_size)
        sent = {**names, **dict(headers)}
        connection.putrequest(request.method, request.target, skip_host=True)
        for name, value in sent.items():
            connection.putheader(name, value)
        connection.endheaders()
        # nginx may refuse a body (413) before it is all sent; its answer still counts.
        with contextlib.suppress(OSError):
            _send_body(sock, body_size)
        try:
            response = connection.getresponse()
        except (http.client.RemoteDisconnected, ConnectionError) as error:
            return Observed(refused=f"connection closed without an answer ({_reason(error)})")
        body = response.read().decode("utf-8", "replace")
        answer = {name.lower(): value for name, value in response.getheaders()}
        received = parse_echo(body) if ECHO_HEADER.lower() in answer else None
        static_root = (
            body.removeprefix(STATIC_MARKER).strip() if body.startswith(STATIC_MARKER) else None
        )
        return Observed(response.status, answer, body, None, received, static_root)
    finally:
        connection.close()
        sock.close()


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Placeholder certificates are not verified, so no CA store is loaded (that alone costs
    # tens of milliseconds per context).
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _send_body(sock: socket.socket, size: int) -> None:
    chunk = b"x" * _CHUNK
    remaining = size
    while remaining > 0:
        part = chunk[: min(remaining, _CHUNK)]
        sock.sendall(part)
        remaining -= len(part)


def _reason(error: BaseException) -> str:
    return type(error).__name__ if not str(error) else f"{type(error).__name__}: {error}"


def static_marker(root: str) -> bytes:
    """The placeholder file's content in static root `root`: served back, it names the root."""
    return f"{STATIC_MARKER}{root}\n".encode()
