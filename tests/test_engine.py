"""lint/engine.py: linting text and files, findings located by file, line and column."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nginxgen.core.errors import UsageError
from nginxgen.core.formats import Severity
from nginxgen.lint.engine import LintOptions, lint_paths, lint_text, resolve_codes
from nginxgen.lint.rules import RULES
from nginxgen.nginx.config import ConfigParseError


def test_lint_text_reports_the_given_name_and_columns() -> None:
    text = "server {\n  location / { proxy_pass http://app:3000; }\n}\n"
    result = lint_text(text, "generated.conf", LintOptions(), dump=False)
    assert [str(finding) for finding in result.findings] == [
        'generated.conf:2:16: NGX002 proxy_pass "http://app:3000" resolves "app" once at '
        "startup; nginx will not start while it does not resolve"
    ]


def test_parse_error_names_file_and_line(tmp_path: Path) -> None:
    config = tmp_path / "broken.conf"
    config.write_text("server {\n    listen 80;\n    location / {\n        return 200;\n")
    with pytest.raises(ConfigParseError) as raised:
        lint_paths([config], LintOptions())
    assert re.fullmatch(
        rf"{re.escape(str(config))}:\d+: unexpected end of file.*", str(raised.value)
    )


def test_rule_codes_are_chosen_by_code_prefix_or_name() -> None:
    assert resolve_codes(None) == frozenset()
    assert resolve_codes("NGX001, ngx002") == {"NGX001", "NGX002"}
    by_prefix = resolve_codes(["NGX00"])
    assert {"NGX001", "NGX009"} <= by_prefix and "NGX010" not in by_prefix
    first = RULES[0]
    assert resolve_codes(first.name.upper()) == {first.code}
    with pytest.raises(UsageError, match="unknown lint rule 'NGX999'"):
        resolve_codes("NGX999")


def test_select_and_ignore_decide_which_rules_run() -> None:
    text = "server {\n  location / { proxy_pass http://app:3000; }\n}\n"
    ignored = lint_text(text, "a.conf", LintOptions(ignore=frozenset({"NGX002"})), dump=False)
    assert ignored.findings == ()
    only = lint_text(text, "a.conf", LintOptions(select=frozenset({"NGX002"})), dump=False)
    assert [finding.code for finding in only.findings] == ["NGX002"]
    assert only.failed and only.count(Severity.ERROR) + only.count(Severity.WARNING) == 1
