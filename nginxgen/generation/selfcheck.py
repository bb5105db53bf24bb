"""Generated text → parsed back and linted → nginxgen's guarantees, asserted.

The generator's output must pass every lint rule, the startup-resolution ones first among them:
no name resolved at startup, a resolver (Docker's, with `valid=`) in scope of every variable
pass, `resolve` only where the target nginx has it. A finding here is a bug in nginxgen, never a
user error: the write is aborted.
"""

from __future__ import annotations

from nginxgen.core.errors import InvariantViolation
from nginxgen.core.versions import parse_version
from nginxgen.lint.engine import LintOptions, lint_text
from nginxgen.nginx.config import ConfigParseError


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
