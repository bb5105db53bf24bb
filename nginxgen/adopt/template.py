"""Templates for the official nginx image's envsubst (`/etc/nginx/templates/*.template`):
`${NGINX_HOST}` and `$NGINX_HOST` replaced by the values `--var NAME=VALUE` gives, before the
text is parsed, as the image's entrypoint does before nginx starts.

nginx's own variables are lower case (`$host`, `${request_uri}`); a name in capitals is taken for
a template variable, so one left without a value is listed rather than passed to nginx, where it
would stop nginx from starting ("unknown variable").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

# envsubst's names: a letter or underscore, then letters, digits, underscores.
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_REFERENCE = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)
_TEMPLATE_NAME = re.compile(r"[A-Z][A-Z0-9_]+")


@dataclass(frozen=True)
class Unresolved:
    line: int
    name: str


def parse_variable(text: str) -> tuple[str, str]:
    """`NAME=VALUE` → (NAME, VALUE); ValueError says what is wrong."""
    name, equals, value = text.partition("=")
    if not equals or not NAME.fullmatch(name):
        raise ValueError(f"--var {text!r}: give NAME=VALUE, NAME of letters, digits and '_'")
    if re.search(r"[\r\n\0]", value):
        raise ValueError(f"--var {name}: the value must be one line")
    return name, value


def substitute(text: str, variables: Mapping[str, str]) -> tuple[str, list[Unresolved]]:
    """`text` with every reference to a given variable replaced, and the template variables
    (names in capitals) that had no value, by line; comment lines are left as they are."""
    unresolved: list[Unresolved] = []
    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        if "$" not in line or line.lstrip().startswith("#"):
            continue
        for match in _REFERENCE.finditer(line):
            name = match["braced"] or match["bare"]
            if name not in variables and _TEMPLATE_NAME.fullmatch(name):
                unresolved.append(Unresolved(number, name))
        lines[number - 1] = _REFERENCE.sub(lambda match: _value(match, variables), line)
    return "\n".join(lines), unresolved


def _value(match: re.Match[str], variables: Mapping[str, str]) -> str:
    return variables.get(match["braced"] or match["bare"], match[0])
