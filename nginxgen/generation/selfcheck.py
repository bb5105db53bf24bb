"""Generated text → parsed back and linted → nginxgen's guarantees, asserted.

The generator's output must pass every lint rule, the startup-resolution ones first among them:
no name resolved at startup, a resolver (Docker's, with `valid=`) in scope of every variable
pass, `resolve` only where the target nginx has it. A finding here is a bug in nginxgen, never a
user error: the write is aborted. Raw directives that repeat a generated one are the user's
error, located in their file (`raw_duplicates`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from nginxgen.core.errors import InvariantViolation, Problem
from nginxgen.core.versions import parse_version
from nginxgen.generation.loader import LoadedEnvironment
from nginxgen.generation.models import Environment, catch_all_ports
from nginxgen.generation.yaml_source import FieldPath
from nginxgen.lint.engine import LintOptions, lint_text
from nginxgen.nginx.config import ConfigParseError, Directive, load_text
from nginxgen.nginx.directives import ADDITIVE, raw_name


def check_output(text: str, nginx_version: str, name: str = "nginx-ssl.conf") -> None:
    """Raise InvariantViolation unless the rendered text lints clean for the target nginx."""
    options = LintOptions(nginx_version=parse_version(nginx_version), docker=True)
    try:
        # Generated text is one file, whatever its comments say: never split it as a dump.
        findings = lint_text(text, name, options, dump=False).findings
    except ConfigParseError as error:
        raise InvariantViolation(f"generated output does not parse: {error}") from None
    if findings:
        listed = "\n".join(f"  {finding}" for finding in findings)
        raise InvariantViolation("generated output breaks nginxgen's guarantees:", details=listed)


def raw_duplicates(text: str, environments: Sequence[LoadedEnvironment]) -> list[Problem]:
    """Raw directives that repeat one nginxgen generated in the same block (`gzip on` beside
    the default compression): nginx refuses most of them twice ("is duplicate"), and the
    bitmasks it merges would change what the plan decided; only list directives (ADDITIVE) add.
    What nginxgen generates is read from the rendered output itself, so this follows every
    template without a list to keep up."""
    with_raw = [environment for environment in environments if _has_raw(environment)]
    if not with_raw:
        return []
    servers = [d for d in load_text(text, "generated", dump=False).directives if d.block]
    return [
        problem
        for environment in with_raw
        for server in servers
        if _serves(server.block or (), environment.model)
        for problem in _server_duplicates(environment, server.block or ())
    ]


def _has_raw(environment: LoadedEnvironment) -> bool:
    model = environment.model
    return bool(model.raw) or any(route.raw for route in model.routes)


def _server_duplicates(environment: LoadedEnvironment, block: Sequence[Directive]) -> list[Problem]:
    """The environment's raw directives, and its routes', that repeat one generated beside them."""
    model = environment.model
    problems = _duplicated(environment, block, model.raw, ("raw",))
    for index, route in enumerate(model.routes):
        location = _location(block, route.match, route.path)
        if location is not None and route.raw:
            problems += _duplicated(environment, location, route.raw, ("routes", index, "raw"))
    return problems


def _serves(block: Sequence[Directive], model: Environment) -> bool:
    """Whether a server block is one of the environment's: its first name, or for a catch-all
    without domains the `_` server on the ports it takes (nginxgen's own default servers are
    only on the other ports, the metrics server never on 80 or 443)."""
    names = next((d.args for d in block if d.name == "server_name"), ())
    if not names:
        return False
    if model.domains:
        return names[0] == model.domains[0]
    ports = {d.args[0].rsplit(":", 1)[-1] for d in block if d.name == "listen" and d.args}
    taken = {str(port) for port in catch_all_ports(model)}
    return names[0] == "_" and bool(ports) and ports <= taken


def _location(block: Sequence[Directive], match: str, path: str) -> tuple[Directive, ...] | None:
    modifier = {"prefix": (), "exact": ("=",), "regex": ("~",)}[match]
    for directive in block:
        if directive.name == "location" and directive.args == (*modifier, path):
            return directive.block or ()
    return None


def _duplicated(
    environment: LoadedEnvironment,
    block: Sequence[Directive],
    raw: Sequence[str],
    path: FieldPath,
) -> list[Problem]:
    rendered = Counter(directive.name for directive in block)
    given = Counter(raw_name(text) for text in raw)
    problems = []
    for index, text in enumerate(raw):
        name = raw_name(text)
        if name not in ADDITIVE and rendered[name] > given[name]:
            problems.append(
                environment.source.problem(
                    (*path, index),
                    f"{name} is generated here already (nginx refuses most directives given "
                    "twice in one block): set it through nginxgen's key for it, or turn that "
                    "feature off, instead of raw",
                )
            )
    return problems
