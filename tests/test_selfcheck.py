"""The self-check refuses output that could make nginx resolve a name at startup."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nginxgen.cli import app
from nginxgen.core.errors import ConfigError, InvariantViolation
from nginxgen.generation import pipeline as generate_module
from nginxgen.generation.loader import load_settings
from nginxgen.generation.models import Settings
from nginxgen.generation.pipeline import generate
from nginxgen.generation.selfcheck import check_output

CASES = Path(__file__).resolve().parent / "cases"
GOLDEN_CASES = sorted(path for path in CASES.iterdir() if (path / "environments").is_dir())

SAFE = """\
server {
    listen 80;
    server_name example.test;
    resolver 127.0.0.11 valid=10s ipv6=off;

    location / {
        set $upstream_production_app http://app:3000;
        proxy_pass $upstream_production_app;
    }
}
"""


@pytest.mark.parametrize("case", GOLDEN_CASES, ids=lambda case: case.name)
def test_every_golden_passes_the_self_check(case: Path) -> None:
    settings_file = case / "nginxgen.yaml"
    settings = load_settings(settings_file) if settings_file.is_file() else Settings()
    check_output((case / "expected.conf").read_text(encoding="utf-8"), settings.nginx_version)


def test_safe_output_passes() -> None:
    check_output(SAFE, "1.26")


@pytest.mark.parametrize(
    ("broken", "why"),
    [
        (
            SAFE.replace("proxy_pass $upstream_production_app;", "proxy_pass http://app:3000;"),
            "a literal host in proxy_pass is resolved at startup",
        ),
        (
            SAFE.replace("    resolver 127.0.0.11 valid=10s ipv6=off;\n", ""),
            "a variable proxy_pass with no resolver in scope fails every request",
        ),
        (
            SAFE.replace("resolver 127.0.0.11 valid=10s", "resolver 8.8.8.8 valid=10s"),
            "only Docker's DNS knows the service names",
        ),
        (
            SAFE.replace("location / {", "location / {\n        resolver 8.8.8.8 valid=10s;"),
            "an inner resolver overrides the server's",
        ),
        (
            SAFE.replace(" valid=10s", ""),
            "without valid= nginx caches answers for their TTL",
        ),
        (
            SAFE + "upstream app {\n    server app:3000;\n}\n",
            "an upstream server without `resolve` is resolved at startup",
        ),
        (SAFE.replace("server {", "server {{", 1), "text that does not parse"),
    ],
    ids=lambda value: value if len(value) < 80 and "\n" not in value else "",
)
def test_unsafe_output_is_refused(broken: str, why: str) -> None:
    with pytest.raises(InvariantViolation):
        check_output(broken, "1.26")


def test_a_violation_is_a_bug_not_an_input_error() -> None:
    assert InvariantViolation("x").exit_code == 3


def test_generate_refuses_to_return_unsafe_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # If a template regressed to a literal proxy_pass, nothing may be returned or written.
    monkeypatch.setattr(generate_module, "render", lambda plan: SAFE.replace("$upstream_", "x"))
    with pytest.raises(InvariantViolation):
        generate(CASES / "shipped" / "environments", Settings())


def test_render_writes_nothing_and_exits_3_when_the_self_check_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(
        generate_module,
        "render",
        lambda plan: SAFE.replace("proxy_pass $upstream_production_app", "proxy_pass http://app"),
    )
    output = tmp_path / "out.conf"
    output.write_text("old\n", encoding="utf-8")

    result = CliRunner().invoke(
        app,
        ["render", "--environments", str(CASES / "shipped" / "environments"), "-o", str(output)],
    )

    assert result.exit_code == 3
    assert "guarantees" in result.stderr
    assert output.read_text(encoding="utf-8") == "old\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out.conf"]


def test_output_holding_a_dump_marker_is_checked_whole_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Read as an `nginx -T` dump, this text was split at the marker: the part before it (with a
    # literal proxy_pass) went unchecked and the rest was written to the marker's path.
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    escaped = tmp_path / "escaped.conf"
    text = (
        "server {\n    listen 80;\n    location / { proxy_pass http://app:3000; }\n"
        '    add_header X "a\n'
        f"# configuration file /../../../../../../..{escaped}:\n"
        'server { listen 1; } #"; }\n'
    )
    try:
        with pytest.raises(InvariantViolation, match="NGX002"):
            check_output(text, "1.26")
    finally:
        assert not escaped.exists()
        assert list(temp.iterdir()) == []


def test_render_check_refuses_a_raw_directive_that_would_forge_a_dump(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    escaped = tmp_path / "escaped.conf"
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "prod.yaml").write_text(
        "domains: [a.example.com]\nservices:\n  app: {host: app, port: 3000}\n"
        "routes:\n  - path: /\n    service: app\n"
        f"    raw: ['add_header X \"a\n\n# configuration file /../../../..{escaped}:\n\n\"']\n"
    )
    for command in (["render", "--check"], ["render"]):
        result = CliRunner().invoke(app, [*command, "-o", "out.conf"])
        assert result.exit_code == 2, result.output
        assert "environments/prod.yaml:7:" in result.stderr
        assert "U+000A" in result.stderr
    assert not escaped.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["environments"]


def test_raw_directives_of_a_catch_all_without_domains_are_checked_against_its_own_server(
    tmp_path: Path,
) -> None:
    environments = tmp_path / "environments"
    environments.mkdir()
    (environments / "site.yaml").write_text(
        "catch_all: true\ntls: false\nservices:\n  app: {host: app, port: 3000}\n"
        "routes:\n  - {path: /, service: app}\nraw: ['gzip on']\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as refused:
        generate_module.generate(environments, Settings())
    assert [problem.field for problem in refused.value.problems] == ["raw[0]"]
    (environments / "site.yaml").write_text(
        "catch_all: true\ntls: false\ncompression: false\n"
        "services:\n  app: {host: app, port: 3000}\n"
        "routes:\n  - {path: /, service: app}\nraw: ['gzip on']\n",
        encoding="utf-8",
    )
    assert "gzip on;" in generate_module.generate(environments, Settings()).text
