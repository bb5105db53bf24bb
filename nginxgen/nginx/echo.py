"""The echo backend's protocol: an nginx that answers every request with what it received.

It runs the same image as the nginx under test, with a config of its own (no image of ours is
needed, so the official `nginx:` images work too); the sandbox starts it. Its answer is a few
`key=value` lines, one per fact: header values cannot hold a newline, so the format is
unambiguous without escaping. Route tests and `import --verify` both read it with `parse_echo`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

ECHO_HEADER = "X-Nginxgen-Echo"
# Where the echo's own config goes inside its container; it is started with `nginx -c` on it.
ECHO_CONFIG_PATH = "/etc/nginxgen-echo/nginx.conf"
# What a service may be asked about beside the headers the tests name.
STANDARD_HEADERS = (
    "Host",
    "X-Forwarded-Proto",
    "X-Forwarded-For",
    "X-Real-IP",
    "Upgrade",
    "Connection",
    "Content-Length",
    "Authorization",
)


@dataclass(frozen=True)
class Received:
    """What the echo backend received: on which address and port, and the request itself."""

    address: str
    port: int
    method: str
    uri: str
    # Lower-case names; a header that was not sent is absent.
    headers: Mapping[str, str]
    # The echo container's host name: which backend answered, where each has its own.
    hostname: str = ""


def _variable(header: str) -> str:
    return "$http_" + header.lower().replace("-", "_")


def echo_config(ports: Iterable[int], headers: Iterable[str]) -> str:
    """The echo's complete nginx.conf: every port in `ports`, the `headers` reported back."""
    names = sorted({name.lower() for name in (*STANDARD_HEADERS, *headers)})
    listens = "".join(f"        listen {port} default_server;\n" for port in sorted(set(ports)))
    facts = [
        "address=$server_addr",
        "port=$server_port",
        "method=$request_method",
        "uri=$request_uri",
        "hostname=$hostname",
        *(f"header.{name}={_variable(name)}" for name in names),
    ]
    body = "\\n".join(facts) + "\\n"
    return (
        "worker_processes 1;\n"
        "error_log stderr notice;\n"
        "pid /tmp/nginxgen-echo.pid;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        "    access_log off;\n"
        "    client_max_body_size 0;\n"
        "    client_body_temp_path /tmp/nginxgen-echo-body;\n"
        "    server {\n"
        f"{listens}"
        "        location / {\n"
        "            default_type text/plain;\n"
        f"            add_header {ECHO_HEADER} 1 always;\n"
        f'            return 200 "{body}";\n'
        "        }\n"
        "    }\n"
        "}\n"
    )


def parse_echo(body: str) -> Received:
    """The echo's answer back into values (ValueError if it is not one)."""
    facts: dict[str, str] = {}
    for line in body.splitlines():
        key, equals, value = line.partition("=")
        if equals:
            facts[key] = value
    headers = {
        key.removeprefix("header."): value
        for key, value in facts.items()
        if key.startswith("header.") and value
    }
    return Received(
        address=facts["address"],
        port=int(facts["port"]),
        method=facts["method"],
        uri=facts["uri"],
        headers=headers,
        hostname=facts.get("hostname", ""),
    )
