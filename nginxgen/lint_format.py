"""`nginxgen lint`: run the linter and turn its result into text, JSON or GitHub annotations.

Returns strings and an exit code; printing is the CLI's job. Exit codes: 0 no findings (or only
info), 1 errors or warnings found, 2 unreadable/unparseable input or bad usage (raised as
`NginxgenError`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TextIO

from nginxgen.errors import UsageError
from nginxgen.lint import Finding, LintOptions, LintResult, lint_paths
from nginxgen.rules import Severity

JSON_SCHEMA_VERSION = 1
GITHUB_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"
    GITHUB = "github"


@dataclass(frozen=True)
class LintOutcome:
    exit_code: int
    stdout: str
    stderr: str = ""


def lint_command(
    paths: Sequence[Path | str],
    output_format: OutputFormat | str = OutputFormat.TEXT,
    select: str | Sequence[str] | None = None,
    ignore: str | Sequence[str] | None = None,
    nginx_version: str | None = None,
    docker: bool = True,
    stdin: TextIO | None = None,
) -> LintOutcome:
    """Everything `nginxgen lint` does except printing."""
    if not paths:
        raise UsageError("nginxgen lint needs at least one PATH (or - for stdin)")
    try:
        chosen = OutputFormat(output_format)
    except ValueError:
        raise UsageError(f"--format must be text, json or github, not {output_format!r}") from None
    options = LintOptions.from_strings(select, ignore, nginx_version, docker)
    result = lint_paths(paths, options, stdin=stdin)
    exit_code = 1 if result.failed else 0
    if chosen is OutputFormat.JSON:
        return LintOutcome(exit_code, format_json(result))
    if chosen is OutputFormat.GITHUB:
        return LintOutcome(exit_code, format_github(result), summary(result))
    return LintOutcome(exit_code, format_text(result))


def summary(result: LintResult) -> str:
    files = len(result.files)
    checked = f"{files} file{'s' if files != 1 else ''} checked"
    if not result.findings:
        return f"No problems found ({checked}).\n"
    plurals = {Severity.ERROR: "errors", Severity.WARNING: "warnings", Severity.INFO: "info"}
    counts = ", ".join(
        f"{count} {severity.value if count == 1 else plurals[severity]}"
        for severity in Severity
        if (count := result.count(severity))
    )
    total = len(result.findings)
    return f"Found {total} problem{'s' if total != 1 else ''} ({counts}; {checked}).\n"


def format_text(result: LintResult) -> str:
    """`file:line:col: CODE message`, the fix on the next line, and a summary."""
    lines = []
    for finding in result.findings:
        lines.append(f"{finding}\n")
        lines.append(f"    {finding.severity.value}: {finding.name}; fix: {finding.hint}\n")
    return "".join(lines) + summary(result)


def finding_to_json(finding: Finding) -> dict[str, str | int]:
    return {
        "file": finding.file,
        "line": finding.line,
        "column": finding.column,
        "code": finding.code,
        "name": finding.name,
        "severity": finding.severity.value,
        "message": finding.message,
        "hint": finding.hint,
    }


def format_json(result: LintResult) -> str:
    """The schema documented in docs/rules.md; keys and order are stable."""
    document = {
        "version": JSON_SCHEMA_VERSION,
        "files": list(result.files),
        "findings": [finding_to_json(finding) for finding in result.findings],
        "summary": {severity.value: result.count(severity) for severity in Severity},
    }
    return json.dumps(document, indent=2) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def format_github(result: LintResult) -> str:
    """GitHub Actions workflow commands: one annotation per finding, on its file and line."""
    lines = []
    for finding in result.findings:
        properties = ",".join(
            [
                f"file={_escape_property(finding.file)}",
                f"line={finding.line}",
                f"col={finding.column}",
                f"title={_escape_property(f'{finding.code} {finding.name}')}",
            ]
        )
        message = _escape_data(f"{finding.message}\nfix: {finding.hint}")
        lines.append(f"::{GITHUB_LEVELS[finding.severity]} {properties}::{message}\n")
    return "".join(lines)
