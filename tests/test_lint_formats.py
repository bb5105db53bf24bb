"""lint/formats.py: a lint result as text, JSON and GitHub annotations (core/formats.py's tests
are in test_formats.py)."""

from __future__ import annotations

import dataclasses
import json

from nginxgen.lint.engine import Finding, LintOptions, LintResult, lint_text
from nginxgen.lint.formats import format_github, format_json, format_text, summary

CONFIG = "server {\n  location / { proxy_pass http://app:3000; }\n}\n"


def result() -> LintResult:
    return lint_text(CONFIG, "conf.d/a,b.conf", LintOptions(), dump=False)


def test_the_summary_counts_files_and_each_severity() -> None:
    assert summary(LintResult((), ("a.conf",))) == "No problems found (1 file checked).\n"
    assert summary(LintResult((), ("a.conf", "b.conf"))) == (
        "No problems found (2 files checked).\n"
    )
    (finding,) = result().findings
    assert summary(result()) == (f"Found 1 problem (1 {finding.severity.value}; 1 file checked).\n")


def test_text_gives_each_finding_its_fix_then_the_summary() -> None:
    (finding,) = result().findings
    assert format_text(result()) == (
        f"{finding}\n"
        f"    {finding.severity.value}: {finding.name}; fix: {finding.hint}\n" + summary(result())
    )


def test_json_has_the_documented_keys_in_order() -> None:
    document = json.loads(format_json(result()))
    assert list(document) == ["version", "files", "findings", "summary"]
    assert document["version"] == 1
    assert document["files"] == ["conf.d/a,b.conf"]
    (finding,) = document["findings"]
    # Every field of a finding, in the dataclass's order: the documented order.
    assert list(finding) == [field.name for field in dataclasses.fields(Finding)]
    assert (finding["line"], finding["column"], finding["code"]) == (2, 16, "NGX002")
    assert document["summary"] == {"error": 1, "warning": 0, "info": 0}


def test_github_annotations_escape_the_file_and_join_message_and_fix() -> None:
    (finding,) = result().findings
    (line,) = format_github(result()).splitlines()
    assert line.startswith(
        f"::error file=conf.d/a%2Cb.conf,line=2,col=16,title=NGX002 {finding.name}::"
    )
    assert line.endswith(f"%0Afix: {finding.hint}")
