"""lint/engine.py: linting text and files, findings located by file, line and column."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nginxgen.lint.engine import LintOptions, lint_paths, lint_text
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
