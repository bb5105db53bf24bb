"""Raw nginx directives (the escape hatch), checked with crossplane before they reach a template.

A raw directive is one simple directive, without its `;`: `gzip on`, `proxy_cache_valid 200 1m`.
crossplane checks that nginx knows it, that it is allowed in its context and takes that many
arguments. Directives that would bypass nginxgen's guarantees (DNS, listening, blocks) are refused,
and so is anything crossplane reads differently from nginx: line breaks (a quoted one could start
an output line with `#`), control characters, whitespace other than the plain space, and
arguments longer than nginx's parameter limit.

This module is also the one adapter to crossplane's private lexer.
"""

from __future__ import annotations

import io
import unicodedata

from crossplane.analyzer import analyze
from crossplane.errors import NgxParserBaseException
from crossplane.lexer import _lex_file_object  # the lexer's only entry point for text

# nginx reads a configuration through a 4096-byte buffer: a word (with its closing quote, if
# quoted) must leave a byte to spare, else nginx -t fails with "too long parameter". Measured
# with nginx 1.22 to 1.30: 4095 bytes unquoted, 4094 between quotes.
MAX_WORD_BYTES = 4095

# Line and paragraph separators, control, format, private and unassigned characters.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})

CONTEXTS = {"http": ("http",), "server": ("http", "server"), "location": ("http", "location")}

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


# At http level nginxgen also owns the client address (`real_ip` in nginxgen.yaml).
HTTP_FORBIDDEN = frozenset({"set_real_ip_from", "real_ip_header", "real_ip_recursive"})


def check_raw_directive(text: str, context: str) -> str:
    """Return `text` when it is one simple directive nginx accepts in `context`, else ValueError."""
    _check_characters(text)
    tokens = _tokens(text)
    name, *args = _words(text, tokens)
    _check_owned(text, name, context)
    _check_word_sizes(text, tokens)
    _analyze(text, name, args, context)
    return text


# A token of crossplane's lexer: (word, line, quoted).
Token = tuple[str, int, bool]


def _tokens(text: str) -> list[Token]:
    try:
        return list(_lex_file_object(io.StringIO(f"{text};")))
    except NgxParserBaseException as error:
        raise ValueError(f"{text!r}: {error.strerror}") from None


def _words(text: str, tokens: list[Token]) -> list[str]:
    """The directive's name and arguments: `tokens` must be words ended by the one `;`."""
    words = [token for token, _, quoted in tokens if quoted or token not in "{};"]
    if len(tokens) != len(words) + 1 or tokens[-1][0] != ";" or tokens[-1][2] or not words:
        raise ValueError(f"{text!r}: give one simple directive without ';', '{{' or '}}'")
    if words[0].startswith("#"):
        raise ValueError(f"{text!r}: a comment is not a directive")
    return words


def _check_owned(text: str, name: str, context: str) -> None:
    if name in FORBIDDEN:
        raise ValueError(f"{text!r}: {name} is set by nginxgen and cannot be given raw")
    if context == "http" and name in HTTP_FORBIDDEN:
        raise ValueError(f"{text!r}: {name} is set by real_ip in nginxgen.yaml, not raw")


def _check_word_sizes(text: str, tokens: list[Token]) -> None:
    for token, _, quoted in tokens:
        size = len(token.encode("utf-8"))
        limit = MAX_WORD_BYTES - 1 if quoted else MAX_WORD_BYTES
        if size > limit:
            where = " between quotes" if quoted else ""
            raise ValueError(
                f"{text[:40]!r}...: a word of {size} bytes is longer than nginx reads "
                f"({limit} bytes{where})"
            )


def _analyze(text: str, name: str, args: list[str], context: str) -> None:
    """crossplane's verdict: nginx knows the directive, in `context`, with that many arguments."""
    # crossplane formats its messages with `%`: an argument holding `%s` would break that
    # formatting, so it analyses stand-ins (NUL never reaches here) and the message is restored.
    stand_ins = [arg.replace("%", "\0") for arg in args]
    statement = {"directive": name, "args": stand_ins, "line": 1}
    try:
        analyze("raw", statement, ";", CONTEXTS[context], strict=True)
    except NgxParserBaseException as error:
        raise ValueError(f"{text!r}: {str(error.strerror).replace(chr(0), '%')}") from None


# Directives nginx reads as lists, each occurrence adding one entry (its array and key-value
# slots, rewrite rules, access rules): a raw one beside a generated one adds to it. Any other
# directive given twice in one block is refused ("is duplicate") or silently merged (bitmasks
# such as ssl_protocols), either way not what the plan decided. Measured with nginx 1.22–1.30.
ADDITIVE = frozenset(
    {
        "access_log",
        "add_header",
        "add_trailer",
        "allow",
        "auth_request_set",
        "deny",
        "error_page",
        "proxy_hide_header",
        "proxy_pass_header",
        "proxy_set_header",
        "rewrite",
        "ssl_conf_command",
    }
)


def raw_name(text: str) -> str:
    """The directive name of a raw directive that passed `check_raw_directive`."""
    return text.split(maxsplit=1)[0]


def _check_characters(text: str) -> None:
    for position, character in enumerate(text):
        category = unicodedata.category(character)
        if category in _REFUSED_CATEGORIES or (category == "Zs" and character != " "):
            name = unicodedata.name(character, "control character")
            raise ValueError(
                f"{text!r}: character U+{ord(character):04X} ({name}) at position {position + 1} "
                f"is not allowed; use plain spaces and printable characters on one line"
            )
