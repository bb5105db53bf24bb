"""A lint result as text, JSON or GitHub annotations: strings only, printing is the CLI's."""

from __future__ import annotations

import json

from nginxgen.core.formats import Severity, annotation_data, annotation_property
from nginxgen.lint.engine import Finding, LintResult

JSON_SCHEMA_VERSION = 1
GITHUB_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


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


_escape_data = annotation_data
_escape_property = annotation_property


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
