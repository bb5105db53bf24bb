"""`nginxgen import`: case folders under tests/cases/import/<name>/ hold the input (a config file,
or `stdin.txt` for an `nginx -T` dump), the environment files expected under `expected/`, and
the report expected (`expected-report.txt`, its first line the exit code). Regenerate with
`pytest --update-goldens`, then read the diff."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nginxgen.adopt.convert import environment_name
from nginxgen.adopt.verify import probes, regex_sample
from nginxgen.cli import app
from nginxgen.commands.import_ import import_config, import_environments
from nginxgen.core.errors import UsageError
from nginxgen.core.formats import OutputFormat
from nginxgen.generation.loader import load_settings
from nginxgen.generation.pipeline import generate
from nginxgen.nginx.config import load_path

CASES = Path(__file__).resolve().parent / "cases" / "import"
IMPORT_CASES = sorted(path for path in CASES.iterdir() if path.is_dir())
POST_MORTEM = CASES / "post-mortem"


def case_input(case: Path) -> str:
    configs = sorted(path.name for path in [*case.glob("*.conf"), *case.glob("*.template")])
    return configs[0] if configs else "-"


def case_variables(case: Path) -> list[str]:
    """`vars.txt`: the case's `--var NAME=VALUE` options, one a line."""
    file = case / "vars.txt"
    return file.read_text().splitlines() if file.is_file() else []


def run_case(case: Path, into: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    monkeypatch.chdir(case)
    source = case_input(case)
    stdin = io.StringIO((case / "stdin.txt").read_text()) if source == "-" else None
    report = import_config(
        source, into, False, OutputFormat.text, stdin=stdin, variables=case_variables(case)
    )
    return report.exit_code, report.stdout.replace(str(into), "OUT")


def test_the_cases_are_found() -> None:
    names = {case.name for case in IMPORT_CASES}
    assert {
        "post-mortem",
        "nginx-t-dump",
        "regex-order",
        "not-expressible",
        "compose-catch-all",
        "certbot-shared-port-80",
        "http-level-cache-real-ip",
        "envsubst-template",
    } <= names


@pytest.mark.parametrize("case", IMPORT_CASES, ids=lambda case: case.name)
def test_golden(
    case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, update_goldens: bool
) -> None:
    exit_code, report = run_case(case, tmp_path, monkeypatch)
    written = {
        str(path.relative_to(tmp_path)): path.read_text()
        for path in sorted(tmp_path.rglob("*"))
        if path.is_file()
    }
    expected_dir, expected_report = case / "expected", case / "expected-report.txt"
    actual_report = f"exit: {exit_code}\n{report}"
    if update_goldens:
        shutil.rmtree(expected_dir, ignore_errors=True)
        for name, text in written.items():
            (expected_dir / name).parent.mkdir(parents=True, exist_ok=True)
            (expected_dir / name).write_text(text)
        expected_report.write_text(actual_report)
    expected = {
        str(path.relative_to(expected_dir)): path.read_text()
        for path in sorted(expected_dir.rglob("*"))
        if path.is_file()
    }
    assert written == expected
    assert actual_report == expected_report.read_text()
    # What was written renders with the ordinary pipeline.
    settings_file = tmp_path / "nginxgen.yaml"
    settings = load_settings(settings_file if settings_file.is_file() else None)
    assert "server {" in generate(tmp_path / "environments", settings).text


def test_exit_codes_say_whether_everything_converted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_case(POST_MORTEM, tmp_path / "a", monkeypatch)[0] == 0
    assert run_case(CASES / "not-expressible", tmp_path / "b", monkeypatch)[0] == 1
    # The files are still written when something was left.
    assert (tmp_path / "b" / "environments" / "legacy-example-net.yaml").is_file()


def test_post_mortem_becomes_two_startup_safe_environments() -> None:
    imported = import_environments(str(POST_MORTEM / "nginx-ssl.conf"))
    assert [name for name, _ in imported.conversion.environments] == [
        "daatan-com",
        "staging-daatan-com",
    ]
    production = dict(imported.conversion.environments)["daatan-com"]
    assert production["services"] == {"app": {"host": "app", "port": 3000}}
    assert "upstream app " not in imported.rendered
    assert "set $upstream_daatan_com_app http://app:3000;" in imported.rendered
    assert imported.comparison.identical
    assert "resolves app (upstream app)" in imported.intended_difference()


def test_regex_routes_keep_the_original_order() -> None:
    imported = import_environments(str(CASES / "regex-order" / "default.conf"))
    routes = imported.conversion.environments[0][1]["routes"]
    regexes = [route["path"] for route in routes if route.get("match") == "regex"]
    assert regexes == [r"(?i)\.(png|jpg|svg)$", "^/api/v1/legacy/", "^/api/v[0-9]+/"]


def test_never_overwrites(tmp_path: Path) -> None:
    existing = tmp_path / "environments" / "daatan-com.yaml"
    existing.parent.mkdir()
    existing.write_text("mine\n")
    with pytest.raises(UsageError, match="not overwriting"):
        import_config(str(POST_MORTEM / "nginx-ssl.conf"), tmp_path, False, OutputFormat.text)
    assert existing.read_text() == "mine\n"
    assert not (tmp_path / "environments" / "staging-daatan-com.yaml").exists()


def test_dry_run_writes_nothing_and_prints_the_files(tmp_path: Path) -> None:
    report = import_config(str(POST_MORTEM / "nginx-ssl.conf"), tmp_path, True, OutputFormat.text)
    assert list(tmp_path.iterdir()) == []
    assert "(would write)" in report.stdout
    assert "host: app-staging" in report.stdout


def test_cli_json_and_bad_input(tmp_path: Path) -> None:
    runner = CliRunner()
    source = str(POST_MORTEM / "nginx-ssl.conf")
    result = runner.invoke(app, ["import", source, "--into", str(tmp_path), "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["complete"] is True
    assert all(file["written"] for file in document["files"])
    broken = tmp_path / "broken.conf"
    broken.write_text("server { listen 80;\n")
    result = runner.invoke(app, ["import", str(broken), "--dry-run"])
    assert result.exit_code == 2
    assert "broken.conf" in result.stderr


def test_environment_names_are_valid_and_distinct() -> None:
    assert environment_name("staging.daatan.com", set()) == "staging-daatan-com"
    assert environment_name("*.example.com", set()) == "wildcard-example-com"
    assert environment_name("a.b", {"a-b"}) == "a-b-2"


def test_requests_cover_every_location_and_regex_samples_match() -> None:
    config = load_path(POST_MORTEM / "nginx-ssl.conf")
    urls = {str(probe) for probe in probes(config)}
    assert "https://staging.daatan.com/ws/verify" in urls
    assert "http://www.daatan.com/.well-known/acme-challenge/" in urls
    assert regex_sample(r"^/api/v[0-9]+/") == "/api/v0/"
    assert regex_sample(r"(?i)\.(png|jpg|svg)$") == "/verify.png"
