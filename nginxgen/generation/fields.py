"""The building blocks of every model: `StrictModel`, the reusable `Annotated` field types
(`Domain`, `Host`, `Port`, `FilePath`, `HeaderValue`...), the patterns they match with what each
pattern means (for the loader's error messages), and the validators the sections share.

Validation, not escaping, keeps nginx syntax out of the output: every string that reaches a
template is constrained here to characters that cannot end a directive, open a block, quote,
or expand a variable. No I/O happens in this module.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from nginxgen.nginx.directives import check_raw_directive

# nginx reads a parameter into a 4096-byte buffer and refuses a longer one ("too long
# parameter"); quotes count, so values stay a little under it.
MAX_PARAMETER_BYTES = 4000
# A URL path is also rendered escaped inside a regex (strip_prefix), up to twice its length.
MAX_URL_PATH_BYTES = 1024
# Invisible or layout characters a reader cannot see and nginx does not take as text: controls,
# format characters (bidirectional marks), line and paragraph separators, non-ASCII spaces,
# private-use, surrogates and unassigned code points.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"})


def invisible_character(value: str) -> str | None:
    """The first character of `value` that must not reach the output (the ASCII space is the one
    space allowed; fields that refuse spaces say so themselves), or None."""
    for character in value:
        if character != " " and unicodedata.category(character) in _INVISIBLE_CATEGORIES:
            return character
    return None


def check_text(value: str) -> str:
    """Every string of every model: no invisible character, no parameter nginx refuses."""
    character = invisible_character(value)
    if character is not None:
        name = unicodedata.name(character, "")
        raise ValueError(
            f"{value!r} contains the invisible or control character U+{ord(character):04X}"
            + (f" ({name})" if name else "")
        )
    if len(value.encode("utf-8", "surrogatepass")) > MAX_PARAMETER_BYTES:
        raise ValueError(f"is longer than {MAX_PARAMETER_BYTES} bytes, more than nginx accepts")
    return value


def _check_strings(value: Any) -> Any:
    """Backstop for any string field, in lists and mappings too, whatever its own type checks."""
    if isinstance(value, str):
        check_text(value)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key)
            _check_strings(item)
    return value


class StrictModel(BaseModel):
    """Base of every model: unknown keys are errors, parsed values never change, and no value
    is coerced (a string field takes a string, a number field a number, a flag true or false).

    The `pattern` of a `StringConstraints` is run by pydantic's Rust regex engine, whose `$` is
    the end of the text (unlike Python's, which also matches before a final newline); the checks
    written in Python use `re.fullmatch`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, regex_engine="rust-regex")

    @field_validator("*", mode="after")
    @classmethod
    def _no_invisible_characters(cls, value: Any) -> Any:
        return _check_strings(value)


_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"(\*\.)?({_LABEL}\.)*{_LABEL}")
# Docker container, service and network-alias names may also carry `_`.
_HOST_LABEL = r"(?![-_])[a-z0-9_-]{1,63}(?<![-_])"
_HOST = re.compile(rf"({_HOST_LABEL}\.)*{_HOST_LABEL}")
_UNSAFE = re.compile(r"[\s;{}'\"$\\#\x00-\x1f\x7f]")


def check_domain(value: str) -> str:
    if len(value) > 253 or not _DOMAIN.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid domain name (letters, digits and '-' in dot-separated "
            "labels, optionally starting with '*.')"
        )
    return value


def _check_host(value: str) -> str:
    if len(value) > 253 or not _HOST.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid host name (letters, digits, '-' and '_' in "
            "dot-separated labels)"
        )
    return value


def _check_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"{value!r} must start with '/'")
    if _UNSAFE.search(value) or invisible_character(value):
        raise ValueError(
            f"{value!r} contains a character nginx would read as syntax "
            "(whitespace, ';', '{', '}', quotes, '$', '#', '\\' or a control character)"
        )
    return check_text(value)


def check_url_path(value: str) -> str:
    if len(value.encode("utf-8", "surrogatepass")) > MAX_URL_PATH_BYTES:
        raise ValueError(f"is longer than {MAX_URL_PATH_BYTES} bytes")
    return _check_path(value)


# Linux's NAME_MAX: no file or directory name is longer, so nginx could never open the file.
MAX_FILE_NAME_BYTES = 255


def _check_file_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"{value!r} must be an absolute path")
    _check_path(value)
    if any(len(part.encode("utf-8")) > MAX_FILE_NAME_BYTES for part in value.split("/")):
        raise ValueError(f"has a file or directory name longer than {MAX_FILE_NAME_BYTES} bytes")
    return value


def _lowercase(value: str) -> str:
    # Only ASCII is lowercased: `str.lower` would turn the Kelvin sign into a `k`, silently
    # accepting a name nobody typed.
    if not value.isascii():
        character = next(character for character in value if not character.isascii())
        raise ValueError(f"{value!r} contains the non-ASCII character U+{ord(character):04X}")
    return value.lower()


Domain = Annotated[str, AfterValidator(_lowercase), AfterValidator(check_domain)]
Host = Annotated[str, AfterValidator(_lowercase), AfterValidator(_check_host)]
Port = Annotated[int, Field(ge=1, le=65535, strict=True)]
FilePath = Annotated[str, AfterValidator(_check_file_path)]
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
DURATION_PATTERN = r"^[1-9][0-9]*(ms|s|m|h|d)?$"
# nginx reads the resolver's `valid=` in whole seconds and refuses `ms`.
SECONDS_PATTERN = r"^[1-9][0-9]*(s|m|h|d)?$"
VERSION_PATTERN = r"^[0-9]+\.[0-9]+(\.[0-9]+)?$"
SIZE_PATTERN = r"^[0-9]+[kKmMgG]?$"
RATE_PATTERN = r"^[1-9][0-9]*r/[sm]$"
HEADER_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9-]*$"
HEADER_VALUE_PATTERN = r"^[^\"\\$\x00-\x1f\x7f]+$"
MESSAGE_PATTERN = r"^[^\"'\\$<>&\x00-\x1f\x7f]+$"
# What a value failing each pattern should have been, for error messages (the loader's).
PATTERN_MEANINGS = {
    NAME_PATTERN: "a name of letters, digits, '-' and '_', starting with a letter or digit",
    DURATION_PATTERN: "a duration such as 500ms, 10s, 5m, 1h or 1d",
    SECONDS_PATTERN: "a duration of whole seconds such as 2s, 30s or 5m",
    VERSION_PATTERN: 'an nginx version such as "1.26" or "1.27.3" (quoted in YAML)',
    SIZE_PATTERN: "a size such as 512k, 10m or 1g (0: no limit)",
    RATE_PATTERN: "a rate such as 10r/s or 60r/m",
    HEADER_NAME_PATTERN: "a header name of letters, digits and '-'",
    HEADER_VALUE_PATTERN: "a header value without quotes, '\\', '$' or control characters",
    MESSAGE_PATTERN: "a message without quotes, '\\', '$', '<', '>', '&' or control characters",
}

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN, max_length=64)]
Duration = Annotated[str, StringConstraints(pattern=DURATION_PATTERN)]
Seconds = Annotated[str, StringConstraints(pattern=SECONDS_PATTERN)]
NginxVersion = Annotated[str, StringConstraints(pattern=VERSION_PATTERN)]
Size = Annotated[str, StringConstraints(pattern=SIZE_PATTERN)]
Rate = Annotated[str, StringConstraints(pattern=RATE_PATTERN)]
HeaderName = Annotated[str, StringConstraints(pattern=HEADER_NAME_PATTERN, max_length=64)]
# Rendered inside double quotes: nothing may close the quote, escape, or expand a variable.
HeaderValue = Annotated[
    str,
    StringConstraints(pattern=HEADER_VALUE_PATTERN, max_length=MAX_PARAMETER_BYTES),
    AfterValidator(check_text),
]
# Rendered inside single quotes in a `return` body, HTML or JSON: no markup, no quotes.
Message = Annotated[
    str, StringConstraints(pattern=MESSAGE_PATTERN, max_length=500), AfterValidator(check_text)
]
Strategy = Literal["auto", "variable", "upstream-resolve"]
Platform = Literal["compose", "swarm"]
# Labels as in DNS (no empty label, no '-' at either end): Rust's regex has no look-around.
_ORIGIN_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
ORIGIN_PATTERN = rf"^(\*|https?://({_ORIGIN_LABEL}\.)*{_ORIGIN_LABEL}(:[0-9]{{1,5}})?)$"
METHOD_PATTERN = r"^[A-Z]{1,20}$"
# Service URLs (forward auth): plain characters only, nothing nginx reads as syntax.
URL_PATTERN = r"^https?://[A-Za-z0-9._-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/%+:@!,=-]*)?$"
# Sign-in page: a query string too (`?`, `&`); nginxgen appends the `rd` parameter.
SIGNIN_PATTERN = r"^https?://[A-Za-z0-9._-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/%+:@!,=?&-]*)?$"
PATTERN_MEANINGS.update(
    {
        ORIGIN_PATTERN: "an origin such as https://app.example.com (lowercase, no path) or *",
        METHOD_PATTERN: "an HTTP method in capitals, such as GET",
        URL_PATTERN: "a URL such as http://authelia:9091/api/verify",
        SIGNIN_PATTERN: "a URL such as https://auth.example.com/",
    }
)
# ACME (nginxgen.yaml's `acme:`): values that become certbot's arguments.
EMAIL_PATTERN = r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$"
# A Docker image reference: [registry[:port]/]path[:tag][@digest].
IMAGE_PATTERN = r"^[a-z0-9][a-z0-9._/:-]{0,250}(@sha256:[0-9a-f]{64})?$"
PLUGIN_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
PATTERN_MEANINGS.update(
    {
        EMAIL_PATTERN: "one e-mail address such as ops@example.com",
        IMAGE_PATTERN: "a Docker image such as certbot/certbot or certbot/certbot:v2.11.0",
        PLUGIN_PATTERN: "a certbot DNS plugin name such as rfc2136 or cloudflare",
    }
)
Origin = Annotated[str, StringConstraints(pattern=ORIGIN_PATTERN, max_length=300)]
Method = Annotated[str, StringConstraints(pattern=METHOD_PATTERN)]
ServiceUrl = Annotated[str, StringConstraints(pattern=URL_PATTERN, max_length=2000)]
SigninUrl = Annotated[str, StringConstraints(pattern=SIGNIN_PATTERN, max_length=2000)]


def _check_network(value: str) -> str:
    # ipaddress rather than pydantic's network types: those import pydantic.networks, a third
    # of the models' import time, which every command pays.
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address or CIDR range") from None


Network = Annotated[str, AfterValidator(_check_network)]


def _check_ip_address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address such as 172.17.0.1 or fd00::1") from None


IpAddress = Annotated[str, AfterValidator(_check_ip_address)]


def check_regex(value: str) -> str:
    if (
        not value
        or re.search(r"[\"\x00-\x1f\x7f]", value)
        or invisible_character(value)
        or value.endswith("\\")
    ):
        raise ValueError(
            f"{value!r} is not a usable location regex (no quotes or control characters)"
        )
    check_text(value)
    try:
        re.compile(value)
    except re.error as error:
        raise ValueError(f"{value!r} is not a valid regular expression: {error}") from None
    return value


def toggle(value: Any) -> Any:
    """`key: false` / `key: true` for a section: `{enabled: false}` / its defaults."""
    if value is True or value is None:
        return {}
    if value is False:
        return {"enabled": False}
    return value


def off(value: Any) -> Any:
    """`key: false` for an optional value: no value at all."""
    return None if value is False else value


def raw_for(context: str) -> Any:
    def check(values: list[str]) -> list[str]:
        return [check_raw_directive(value, context) for value in values]

    return AfterValidator(check)
