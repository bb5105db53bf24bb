"""`nginxgen lint PATH…`: what would take an nginx proxy down, in any config.

Exit codes: 0 no findings (or only info), 1 errors or warnings found, 2 unreadable or
unparseable input or bad usage (raised as `NginxgenError`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from nginxgen.commands.result import EXIT_FINDINGS, EXIT_OK, Report
from nginxgen.core.errors import UsageError
from nginxgen.core.formats import AnnotatedFormat
from nginxgen.lint.engine import LintOptions, lint_paths
from nginxgen.lint.formats import format_github, format_json, format_text, summary


def lint(
    paths: Sequence[Path | str],
    output_format: AnnotatedFormat | str = AnnotatedFormat.text,
    select: str | Sequence[str] | None = None,
    ignore: str | Sequence[str] | None = None,
    nginx_version: str | None = None,
    docker: bool = True,
    stdin: TextIO | None = None,
) -> Report:
    if not paths:
        raise UsageError("nginxgen lint needs at least one PATH (or - for stdin)")
    try:
        chosen = AnnotatedFormat(output_format)
    except ValueError:
        raise UsageError(f"--format must be text, json or github, not {output_format!r}") from None
    options = LintOptions.from_strings(select, ignore, nginx_version, docker)
    result = lint_paths(paths, options, stdin=stdin)
    exit_code = EXIT_FINDINGS if result.failed else EXIT_OK
    if chosen is AnnotatedFormat.json:
        return Report(exit_code, format_json(result))
    if chosen is AnnotatedFormat.github:
        return Report(exit_code, format_github(result), summary(result))
    return Report(exit_code, format_text(result))
