"""Plan → nginx configuration text through the Jinja2 templates. Writes nothing."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2

from nginxgen.plan import Plan

_PACKAGE = Path(__file__).resolve().parent
# Installed wheels carry the templates inside the package; a source checkout has them at the top.
TEMPLATE_DIRECTORIES = (_PACKAGE / "templates", _PACKAGE.parent / "templates")


@cache
def template_environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(directory) for directory in TEMPLATE_DIRECTORIES]),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # nginx syntax, not HTML: the models admit no characters to escape
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(plan: Plan) -> str:
    """The whole `conf.d` file for the plan: deterministic, same plan, same bytes."""
    return template_environment().get_template("nginx.conf.j2").render(plan=plan)
