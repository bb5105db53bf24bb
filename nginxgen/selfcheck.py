"""Generated text → parsed back with crossplane → the guarantees nginxgen makes, asserted.

A violation here is a bug in nginxgen, never a user error: the write is aborted.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import crossplane

from nginxgen.errors import InvariantViolation
from nginxgen.plan import DOCKER_RESOLVER

PASS_DIRECTIVES = frozenset({"proxy_pass", "fastcgi_pass", "uwsgi_pass", "scgi_pass", "grpc_pass"})

Directive = dict[str, Any]


def parse_text(text: str, name: str = "nginx.conf") -> list[Directive]:
    """Parse configuration text (a `conf.d` fragment) with crossplane; crossplane reads files."""
    with tempfile.TemporaryDirectory(prefix="nginxgen-") as directory:
        path = Path(directory) / name
        path.write_text(text, encoding="utf-8")
        payload = crossplane.parse(str(path), single=True, check_ctx=False, comments=False)
    errors = [f"line {error['line']}: {error['error']}" for error in payload["errors"]]
    if errors:
        raise InvariantViolation(f"generated output does not parse: {'; '.join(errors)}")
    parsed: list[Directive] = payload["config"][0]["parsed"]
    return parsed


def _walk(
    block: list[Directive], resolvers: tuple[Directive, ...] = ()
) -> Iterator[tuple[Directive, tuple[Directive, ...]]]:
    """Every directive with the resolvers in its scope (innermost last)."""
    own = tuple(directive for directive in block if directive["directive"] == "resolver")
    scope = resolvers + own
    for directive in block:
        yield directive, scope
        yield from _walk(directive.get("block", []), scope)


def _host_is_variable(target: str) -> bool:
    return target.split("://", 1)[-1].startswith("$")


def violations(parsed: list[Directive]) -> list[str]:
    """Every way the parsed output could make nginx resolve a name at startup, or not at all."""
    found = []
    for directive, resolvers in _walk(parsed):
        line, name, args = directive["line"], directive["directive"], directive["args"]
        if name in PASS_DIRECTIVES:
            if not args or not _host_is_variable(args[0]):
                found.append(f"line {line}: {name} without a variable: startup-time DNS")
            if not resolvers:
                found.append(f"line {line}: {name} with no resolver in scope")
            elif resolvers[-1]["args"][0] != DOCKER_RESOLVER:
                found.append(f"line {line}: {name} resolved by something other than Docker's DNS")
            elif not any(arg.startswith("valid=") for arg in resolvers[-1]["args"]):
                found.append(f"line {line}: resolver without valid=")
        if name == "upstream":
            for server in directive.get("block", []):
                if server["directive"] == "server" and "resolve" not in server["args"]:
                    found.append(f"line {server['line']}: upstream server without resolve")
    return found


def check_output(text: str) -> None:
    """Raise InvariantViolation unless the text keeps every startup-safety guarantee."""
    found = violations(parse_text(text))
    if found:
        raise InvariantViolation(
            "generated output breaks nginxgen's guarantees: " + "; ".join(found)
        )
