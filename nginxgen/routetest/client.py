"""One request to the nginx under test, as a browser would send it: right SNI, right Host.

Requests go to nginx's ports published on 127.0.0.1 only; certificates are placeholders, so they
are not verified. A connection nginx closes without an answer, or a TLS handshake it rejects,
is an answer too: `refused`.
"""

from __future__ import annotations

import base64
import http.client
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from nginxgen.generation.route_tests import RequestLine
from nginxgen.nginx.echo import ECHO_HEADER, Received, parse_echo
from nginxgen.nginx.loopback import Refused, reason, request

STATIC_MARKER = "nginxgen-static root="


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
    request_line: RequestLine,
    ports: Mapping[int, int],
    headers: Sequence[tuple[str, str]] = (),
    auth: str | None = None,
    body_size: int = 0,
    client_certificate: tuple[str, str] | None = None,
) -> Observed:
    """Send `request_line` to 127.0.0.1 on the host port published for its port (80 or 443),
    presenting `client_certificate` (certificate file, key file) if given."""
    sent = list(headers)
    if auth is not None:
        credentials = base64.b64encode(auth.encode()).decode()
        sent.insert(0, ("Authorization", f"Basic {credentials}"))
    try:
        answer = request(
            ports[request_line.port],
            request_line.host,
            request_line.target,
            tls=request_line.tls,
            method=request_line.method,
            headers=sent,
            body_size=body_size,
            client_certificate=client_certificate,
        )
    except Refused as refused:
        return Observed(refused=str(refused))
    except (OSError, http.client.HTTPException) as error:
        return Observed(error=f"no answer: {reason(error)}")
    body = answer.body
    received = parse_echo(body) if ECHO_HEADER.lower() in answer.headers else None
    static_root = (
        body.removeprefix(STATIC_MARKER).strip() if body.startswith(STATIC_MARKER) else None
    )
    return Observed(answer.status, answer.headers, body, None, received, static_root)


def static_marker(root: str) -> bytes:
    """The placeholder file's content in static root `root`: served back, it names the root."""
    return f"{STATIC_MARKER}{root}\n".encode()
