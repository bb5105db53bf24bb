"""nginx versions: one parser, and the versions where the features nginxgen uses appeared."""

from __future__ import annotations

import re

Version = tuple[int, ...]

_VERSION = re.compile(r"[0-9]+(\.[0-9]+){0,2}")

# The nginx the output targets when nginxgen.yaml does not say (`nginx_version`), and what an
# imported config is taken for when its dump does not name its version.
DEFAULT_TARGET = "1.26"
# `server … resolve` in an upstream with a zone, in open-source nginx.
UPSTREAM_RESOLVE = "1.27.3"
# `http2 on;`; before it, the `listen … http2` parameter.
HTTP2_DIRECTIVE = "1.25.1"
# `ssl_reject_handshake on;` for the default HTTPS server.
REJECT_HANDSHAKE = "1.19.4"
# `listen … quic` and `http3 on;` (HTTP/3; nginx must also be built with the http_v3 module).
HTTP3 = "1.25.0"
# `add_header_inherit merge;`: a location's add_header adds to the server's instead of hiding them.
ADD_HEADER_INHERIT = "1.29.3"
# ssl_protocols chosen after SNI, per server.
PER_SERVER_PROTOCOLS = "1.29.2"


# nginx's version line, first in the output of `nginx -v`, `-V` and `-v -T`:
# `nginx version: nginx/1.26.3` (a build may add words after it, e.g. ` (Ubuntu)`).
_VERSION_LINE = re.compile(
    r"^nginx version: (?P<build>[^/\s]+/(?P<version>[0-9]+(\.[0-9]+){1,2}))", re.MULTILINE
)


def reported_version(output: str) -> tuple[str, str] | None:
    """(`nginx/1.26.3`, `1.26.3`) from output holding nginx's version line, or None."""
    match = _VERSION_LINE.search(output)
    return (match["build"], match["version"]) if match else None


def parse_version(text: str) -> Version:
    """`1.26` → (1, 26, 0); `nginx/1.27.3` → (1, 27, 3). ValueError for anything else."""
    value = text.rpartition("/")[2].strip()
    if not _VERSION.fullmatch(value):
        raise ValueError(f"{text!r} is not an nginx version such as 1.26 or 1.27.3")
    parts = tuple(int(part) for part in value.split("."))
    return parts + (0,) * (3 - len(parts))


def at_least(version: str | Version, minimum: str) -> bool:
    parsed = parse_version(version) if isinstance(version, str) else version
    return parsed >= parse_version(minimum)
