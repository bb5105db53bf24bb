"""Plan → nginx configuration text through the Jinja2 templates. Writes nothing.

The templates are package data (`nginxgen/templates`, a link to the repository's top-level
`templates/` in a checkout, a copy in a wheel), so an installed nginxgen finds them anywhere.
"""

from __future__ import annotations

from functools import cache

import jinja2

from nginxgen.core.markers import environment_line, requirement_line
from nginxgen.generation.plan import Plan


@cache
def template_environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("nginxgen", "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # nginx syntax, not HTML: the models admit no characters to escape
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.globals.update(requirement_line=requirement_line, environment_line=environment_line)
    return environment


def render(plan: Plan) -> str:
    """The whole `conf.d` file for the plan: deterministic, same plan, same bytes."""
    return template_environment().get_template("nginx.conf.j2").render(plan=plan)
