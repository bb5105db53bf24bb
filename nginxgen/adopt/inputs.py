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

import functools
import warnings

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dh, dsa

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
    """PEM Diffie-Hellman parameters of 2048 bits. Made from DSA parameters (as
    `openssl dhparam -dsaparam` does): a safe prime of that size takes minutes to find."""
    numbers = dsa.generate_parameters(2048).parameter_numbers()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # finite-field DH is deprecated in cryptography
        parameters = dh.DHParameterNumbers(numbers.p, numbers.g).parameters()
    return parameters.parameter_bytes(
        serialization.Encoding.PEM, serialization.ParameterFormat.PKCS3
    )
