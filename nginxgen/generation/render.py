"""Plan → nginx configuration text through the Jinja2 templates. Writes nothing but Jinja2's
cache of compiled templates (see `_BytecodeCache`).

The templates are package data (`nginxgen/templates`, a link to the repository's top-level
`templates/` in a checkout, a copy in a wheel), so an installed nginxgen finds them anywhere.
"""

from __future__ import annotations

import contextlib
from functools import cache

import jinja2
from jinja2.bccache import Bucket

from nginxgen.core.markers import environment_line, requirement_line
from nginxgen.generation.plan_types import Header, Plan


def quoted(value: str) -> str:
    """A value in double quotes. Validation keeps quotes and control characters out of user text
    (and `$` out of header values, where nginx would expand it); this keeps the promise visible."""
    if '"' in value or value.endswith("\\") or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ValueError(f"unquotable value {value!r}")
    return f'"{value}"'


def single_quoted(value: str) -> str:
    if "'" in value or "\\" in value or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ValueError(f"unquotable value {value!r}")
    return f"'{value}'"


def header_value(header: Header) -> str:
    if not header.literal:
        return header.value
    # Only nginxgen's own values hold a double quote (Alt-Svc); the user's never do.
    return single_quoted(header.value) if '"' in header.value else quoted(header.value)


class _BytecodeCache(jinja2.FileSystemBytecodeCache):
    """Compiled templates kept between runs, in the user's own temporary directory as Jinja2
    keeps them (keyed by the template's source, so an edited template is compiled afresh):
    compiling them was most of a cold `render`'s own work (~40 of ~65 ms). A cache that cannot
    be written only costs that time again."""

    def dump_bytecode(self, bucket: Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    try:
        return _BytecodeCache()
    except (OSError, RuntimeError):  # no safe temporary directory: compile every time
        return None


@cache
def template_environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("nginxgen", "templates"),
        bytecode_cache=_bytecode_cache(),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # nginx syntax, not HTML: the models admit no characters to escape
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.globals.update(requirement_line=requirement_line, environment_line=environment_line)
    environment.filters.update(
        quoted=quoted, single_quoted=single_quoted, header_value=header_value
    )
    return environment


def render(plan: Plan) -> str:
    """The whole `conf.d` file for the plan: deterministic, same plan, same bytes."""
    return template_environment().get_template("nginx.conf.j2").render(plan=plan)
