"""routetest/client.py: one request to 127.0.0.1, and what came back, against a tiny HTTP server
on loopback in this process (the real nginx: test_route_test_nginx.py)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from nginxgen.generation.route_tests import parse_request
from nginxgen.nginx.echo import ECHO_HEADER
from nginxgen.routetest.client import send, static_marker

SEEN: list[dict[str, str]] = []


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        received = len(self.rfile.read(length))
        SEEN.append({**{k.lower(): v for k, v in self.headers.items()}, "body": str(received)})
        if self.path.startswith("/echo"):
            body = f"address=10.0.0.2\nport=3000\nmethod=POST\nuri={self.path}\n".encode()
            self.send_response(200)
            self.send_header(ECHO_HEADER, "1")
        else:
            body = static_marker("/srv/shop")
            self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    SEEN.clear()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_the_request_carries_host_auth_headers_and_body(port: int) -> None:
    observed = send(
        parse_request("POST http://Shop.test/echo?a=1"),
        {80: port},
        headers=[("X-Trace", "t-1")],
        auth="staff:s3cret",
        body_size=200_000,
    )
    (seen,) = SEEN
    assert seen["host"] == "shop.test"
    assert seen["authorization"] == "Basic c3RhZmY6czNjcmV0"
    assert (seen["x-trace"], seen["body"]) == ("t-1", "200000")
    assert observed.status == 200 and observed.error is None
    assert observed.received is not None
    assert (observed.received.address, observed.received.uri) == ("10.0.0.2", "/echo?a=1")


def test_a_static_roots_marker_names_the_root(port: int) -> None:
    observed = send(parse_request("GET http://shop.test/assets/"), {80: port})
    assert (observed.status, observed.static_root, observed.received) == (404, "/srv/shop", None)
    assert observed.headers["content-length"] == str(len(static_marker("/srv/shop")))


def test_no_listener_is_no_answer_and_a_closed_handshake_is_a_refusal() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed_port = unused.getsockname()[1]
    nothing = send(parse_request("GET http://shop.test/"), {80: closed_port})
    assert nothing.error is not None and nothing.error.startswith("no answer: ")
    assert nothing.status is None

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def close_at_once() -> None:
            connection, _ = listener.accept()
            connection.close()

        thread = threading.Thread(target=close_at_once, daemon=True)
        thread.start()
        refused = send(parse_request("GET https://shop.test/"), {443: listener.getsockname()[1]})
        thread.join(5)
    assert refused.refused is not None and refused.refused.startswith("TLS handshake rejected")
