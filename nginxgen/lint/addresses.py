"""The address a `proxy_pass` (or `server`) names, classified: an IP, a socket, an upstream, a
variable, or a hostname resolved at startup; and the variables in a text, with `set` values
substituted."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass

from nginxgen.nginx.config import Directive

VARIABLE = re.compile(r"\$(?:\{(?P<braced>[A-Za-z0-9_]+)\}|(?P<plain>[A-Za-z0-9_]+))")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True)
class Address:
    """Where a pass directive or upstream server sends requests."""

    kind: str  # "hostname", "ip", "unix", "localhost", "upstream", "unknown"
    host: str


def classify(address: str, upstreams: Mapping[str, Directive]) -> Address:
    """Classify `http://name:port/path`, `name:port`, `[::1]:80`, `unix:/sock`, ..."""
    rest = SCHEME.sub("", address)
    if rest.startswith("unix:"):
        return Address("unix", rest)
    if rest.startswith("["):
        return Address("ip", rest[1 : rest.find("]")] if "]" in rest else rest)
    host = _host(rest)
    if "$" in host or not host:
        return Address("unknown", host)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return Address("ip", host)
    if host.lower() in upstreams:
        return Address("upstream", host)
    # /etc/hosts answers for localhost; it never depends on another container being up.
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return Address("localhost", host)
    return Address("hostname", host)


def _host(rest: str) -> str:
    return re.split(r"[:/?]", rest, maxsplit=1)[0]


def explicit_port(address: str) -> str | None:
    """The port written after the host of `http://name:port/path` or `name:port`, if any."""
    rest = SCHEME.sub("", address)
    match = re.match(r":(\d+)", rest[len(_host(rest)) :])
    return match.group(1) if match else None


def substitute(text: str, values: Mapping[str, str]) -> str:
    """Replace variables whose value a `set` in scope gives; leave the others in place."""

    def value(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("plain")
        return values.get(name, match.group(0))

    # `set` values may themselves hold variables set earlier; a few rounds resolve chains.
    for _ in range(3):
        replaced = VARIABLE.sub(value, text)
        if replaced == text:
            break
        text = replaced
    return text


def variables_in(text: str) -> list[str]:
    return [match.group("braced") or match.group("plain") for match in VARIABLE.finditer(text)]
