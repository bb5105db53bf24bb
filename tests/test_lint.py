"""`nginxgen lint`: the case corpus, every documented rule example, the formats and the CLI."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nginxgen.cli import app
from nginxgen.commands.lint import lint as lint_command
from nginxgen.lint.engine import LintOptions, lint_paths
from nginxgen.lint.rules import RULES

REPO = Path(__file__).resolve().parent.parent
CASES = Path(__file__).resolve().parent / "cases" / "lint"
RULES_DOC = REPO / "docs" / "rules.md"
CASE_DIRS = sorted(path for path in CASES.iterdir() if path.is_dir())


def _case_paths(case: Path) -> list[str]:
    """stdin.txt is piped as `-`; else nginx.conf with its includes; else every top *.conf."""
    if (case / "stdin.txt").exists():
        return ["-"]
    if (case / "nginx.conf").exists():
        return ["nginx.conf"]
    return sorted(path.name for path in case.glob("*.conf"))


@pytest.mark.parametrize("case", CASE_DIRS, ids=[case.name for case in CASE_DIRS])
def test_case(case: Path, update_goldens: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(case)
    options_file = case / "options.json"
    options = json.loads(options_file.read_text()) if options_file.exists() else {}
    stdin_file = case / "stdin.txt"
    stdin = io.StringIO(stdin_file.read_text()) if stdin_file.exists() else None
    outcome = lint_command(_case_paths(case), stdin=stdin, **options)
    actual = outcome.stdout + f"[exit {outcome.exit_code}]\n"
    expected = case / "expected.txt"
    if update_goldens:
        expected.write_text(actual)
    assert actual == expected.read_text()


def test_corpus_exercises_every_rule() -> None:
    fired = set()
    for expected in CASES.glob("*/expected.txt"):
        fired |= set(re.findall(r": (NGX\d{3}) ", expected.read_text()))
    assert fired == {rule.code for rule in RULES}


def _generated_configs() -> list[Path]:
    found = sorted((REPO / "tests" / "cases").glob("*/expected.conf"))
    output = REPO / "out" / "nginx-ssl.conf"
    return [*found, output] if output.exists() else found


def test_generated_output_lints_clean() -> None:
    configs = _generated_configs()
    assert configs, "no generated config (tests/cases/*/expected.conf, out/nginx-ssl.conf) to lint"
    result = lint_paths(configs, LintOptions())
    assert [str(finding) for finding in result.findings] == []


# --- every rule's documented bad and good example ---------------------------------------------


def _documented_examples() -> list[tuple[str, str, str]]:
    examples = []
    for section in re.split(r"^### ", RULES_DOC.read_text(), flags=re.MULTILINE)[1:]:
        code = section.split()[0]
        for kind, body in re.findall(r"```nginx (bad|good)\n(.*?)```", section, flags=re.DOTALL):
            examples.append((code, kind, body))
    return examples


DOCUMENTED = _documented_examples()


def test_every_rule_is_documented_with_bad_and_good_examples() -> None:
    documented = {(code, kind) for code, kind, _ in DOCUMENTED}
    expected = {(rule.code, kind) for rule in RULES for kind in ("bad", "good")}
    assert documented == expected
    table = RULES_DOC.read_text()
    for rule in RULES:
        assert f"| {rule.code} | {rule.name} | {rule.severity.value} |" in table


@pytest.mark.parametrize(
    ("code", "kind", "text"), DOCUMENTED, ids=[f"{c}-{k}" for c, k, _ in DOCUMENTED]
)
def test_documented_example(code: str, kind: str, text: str, tmp_path: Path) -> None:
    (tmp_path / "snippets").mkdir()
    config = tmp_path / "example.conf"
    config.write_text(text)
    options = LintOptions.from_strings(select=code, nginx_version="1.24.0")
    codes = {finding.code for finding in lint_paths([config], options).findings}
    assert codes == ({code} if kind == "bad" else set())


# --- addresses that must never fire -------------------------------------------------------------


# --- the command --------------------------------------------------------------------------------

runner = CliRunner()


def test_cli_clean_exits_0(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CASES / "ip-and-sockets-clean")
    result = runner.invoke(app, ["lint", "default.conf"])
    assert result.exit_code == 0
    assert result.stdout == "No problems found (1 file checked).\n"


def test_cli_findings_exit_1_with_positions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CASES / "compose-static-upstreams")
    result = runner.invoke(app, ["lint", "default.conf", "--select", "NGX001"])
    assert result.exit_code == 1
    assert result.stdout.startswith('default.conf:3:5: NGX001 upstream "app" server "app:3000"')


def test_cli_info_only_exits_0(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CASES / "resolver-settings")
    result = runner.invoke(app, ["lint", "default.conf", "--select", "NGX011"])
    assert result.exit_code == 0
    assert "NGX011" in result.stdout


def test_cli_json_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CASES / "compose-static-upstreams")
    result = runner.invoke(app, ["lint", "default.conf", "--format", "json"])
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["version"] == 1
    assert document["files"] == ["default.conf"]
    assert set(document["findings"][0]) == {
        "file",
        "line",
        "column",
        "code",
        "name",
        "severity",
        "message",
        "hint",
    }
    assert document["summary"] == {"error": 4, "warning": 0, "info": 0}


def test_cli_github_annotations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CASES / "resolver-settings")
    result = runner.invoke(app, ["lint", "default.conf", "--format", "github"])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith(
        "::warning file=default.conf,line=2,col=1,title=NGX004 resolver-without-valid::"
    )
    assert lines[-1].startswith("::notice file=default.conf,line=2,col=1,title=NGX011 ")
    assert all("\n" not in line and "%0Afix: " in line for line in lines)


def test_cli_reads_nginx_t_dump_from_stdin() -> None:
    dump = (CASES / "nginx-t-dump" / "stdin.txt").read_text()
    result = runner.invoke(app, ["lint", "-", "--select", "NGX001"], input=dump)
    assert result.exit_code == 1
    assert result.stdout.startswith("/etc/nginx/conf.d/default.conf:2:5: NGX001 ")


def test_cli_unparseable_input_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("broken.conf").write_text("server {\n    listen 80;\n}\n}\n")
    result = runner.invoke(app, ["lint", "broken.conf"])
    assert result.exit_code == 2
    assert result.stderr == 'nginxgen: broken.conf:4: unexpected "}"\n'


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["missing.conf"], "missing.conf: cannot read"),
        (["x.conf", "--select", "NGX999"], "unknown lint rule 'NGX999'"),
        (["x.conf", "--nginx-version", "latest"], "--nginx-version must look like 1.27.3"),
    ],
)
def test_cli_usage_errors_exit_2(
    arguments: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("x.conf").write_text("server { listen 80; }\n")
    result = runner.invoke(app, ["lint", *arguments])
    assert result.exit_code == 2
    assert message in result.stderr
