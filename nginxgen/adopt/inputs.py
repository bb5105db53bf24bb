"""The files an original config reads besides its certificates, as placeholders for
`import --verify`: nginx refuses to start when one is missing, and the real ones live on the
production host. Certificates, keys and trusted certificates are `nginx.placeholder_certs`'.

- `ssl_dhparam`: Diffie-Hellman parameters (2048 bits, as OpenSSL's default security level
  asks); made once per run, and only when a config names the file;
- `auth_basic_user_file`: an empty password file (every request is refused, in both configs
  alike, since the generated config names the same file);
- an `include` whose file is not here (certbot's `options-ssl-nginx.conf`, say): empty.
"""

from __future__ import annotations

import base64
import functools

from cryptography.hazmat.primitives.asymmetric import dsa

from nginxgen.core.facts import NGINX_PREFIX
from nginxgen.nginx.config import ParsedConfig, walk

# Files nginx opens while loading a config, with the placeholder each gets.
_EMPTY_FILES = ("auth_basic_user_file",)


def placeholder_inputs(config: ParsedConfig) -> dict[str, bytes]:
    """Container path → placeholder content for every such file the config reads."""
    files: dict[str, bytes] = {}
    for directive in walk(config.directives):
        if not directive.args or "$" in directive.args[0]:
            continue
        path = _in_container(directive.args[0])
        if directive.name == "ssl_dhparam":
            files[path] = dh_parameters()
        elif directive.name in _EMPTY_FILES or (
            directive.name == "include" and directive.include_missing and "*" not in path
        ):
            files.setdefault(path, b"")
    return files


def _in_container(path: str) -> str:
    """nginx reads a relative path from its prefix."""
    return path if path.startswith("/") else f"{NGINX_PREFIX}/{path}"


@functools.cache
def dh_parameters() -> bytes:
    """PEM Diffie-Hellman parameters (PKCS #3) of 2048 bits, made from DSA parameters as
    `openssl dhparam -dsaparam` does: a safe prime of that size takes minutes to find, and
    nginx only loads them (nginxgen's ECDHE-only profiles never use them)."""
    numbers = dsa.generate_parameters(2048).parameter_numbers()
    # cryptography refuses to write DH parameters whose prime is not safe: encoded here.
    der = _der_sequence(_der_integer(numbers.p) + _der_integer(numbers.g))
    body = base64.encodebytes(der).decode("ascii").replace("\n", "")
    lines = [body[index : index + 64] for index in range(0, len(body), 64)]
    return (
        "-----BEGIN DH PARAMETERS-----\n" + "\n".join(lines) + "\n-----END DH PARAMETERS-----\n"
    ).encode()


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(encoded)]) + encoded


def _der_integer(value: int) -> bytes:
    encoded = value.to_bytes(value.bit_length() // 8 + 1, "big")  # a leading 0 keeps it positive
    return b"\x02" + _der_length(len(encoded)) + encoded


def _der_sequence(content: bytes) -> bytes:
    return b"\x30" + _der_length(len(content)) + content
