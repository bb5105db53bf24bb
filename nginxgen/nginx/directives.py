"""Raw nginx directives (the escape hatch), checked with crossplane before they reach a template.

A raw directive is one simple directive, without its `;`: `gzip on`, `proxy_cache_valid 200 1m`.
crossplane checks that nginx knows it, that it is allowed in its context and takes that many
arguments. Directives that would bypass nginxgen's guarantees (DNS, listening, blocks) are refused.
"""

from __future__ import annotations

import io

from crossplane.analyzer import analyze
from crossplane.errors import NgxParserBaseException
from crossplane.lexer import _lex_file_object  # the lexer's only entry point for text

CONTEXTS = {"server": ("http", "server"), "location": ("http", "location")}

# Owned by nginxgen: a raw one could resolve names at startup or change what the plan decided.
FORBIDDEN = frozenset(
    {
        "proxy_pass",
        "fastcgi_pass",
        "uwsgi_pass",
        "scgi_pass",
        "grpc_pass",
        "memcached_pass",
        "resolver",
        "listen",
        "server_name",
        "include",
        "set",
        "ssl_certificate",
        "ssl_certificate_key",
    }
)


def check_raw_directive(text: str, context: str) -> str:
    """Return `text` when it is one simple directive nginx accepts in `context`, else ValueError."""
    try:
        tokens = list(_lex_file_object(io.StringIO(f"{text};")))
    except NgxParserBaseException as error:
        raise ValueError(f"{text!r}: {error.strerror}") from None
    words = [token for token, _, quoted in tokens if quoted or token not in "{};"]
    if len(tokens) != len(words) + 1 or tokens[-1][0] != ";" or tokens[-1][2] or not words:
        raise ValueError(f"{text!r}: give one simple directive without ';', '{{' or '}}'")
    name, *args = words
    if name.startswith("#"):
        raise ValueError(f"{text!r}: a comment is not a directive")
    if name in FORBIDDEN:
        raise ValueError(f"{text!r}: {name} is set by nginxgen and cannot be given raw")
    statement = {"directive": name, "args": args, "line": 1}
    try:
        analyze("raw", statement, ";", CONTEXTS[context], strict=True)
    except NgxParserBaseException as error:
        raise ValueError(f"{text!r}: {error.strerror}") from None
    return text
