"""The `nginxgen` command through typer's CliRunner: exit codes, stdout, stderr, files."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from nginxgen import cli
from nginxgen.cli import app
from nginxgen.generation.loader import load_environments
from nginxgen.generation.models import Settings
from nginxgen.generation.plan import build_plan

CASES = Path(__file__).resolve().parent / "cases"
ERROR_CASES = sorted(path for path in (CASES / "errors").iterdir() if path.is_dir())
SHIPPED = CASES / "shipped"
OUTPUT = Path("out/nginx-ssl.conf")


def run(*arguments: str) -> Result:
    return CliRunner().invoke(app, list(arguments))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding the shipped environments and no output yet."""
    shutil.copytree(SHIPPED / "environments", tmp_path / "environments")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def files_under(directory: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


# --- render -----------------------------------------------------------------------------------


def test_render_writes_the_output_and_says_so(project: Path) -> None:
    result = run("render")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "wrote out/nginx-ssl.conf (production, staging)\n"
    assert result.stderr == ""
    assert (project / OUTPUT).read_bytes() == (SHIPPED / "expected.conf").read_bytes()


def test_render_twice_gives_the_same_bytes(project: Path) -> None:
    assert run("render").exit_code == 0
    first = (project / OUTPUT).read_bytes()
    assert run("render").exit_code == 0
    assert (project / OUTPUT).read_bytes() == first


def test_render_does_not_rewrite_an_up_to_date_output(project: Path) -> None:
    assert run("render").exit_code == 0
    output = project / OUTPUT
    os.utime(output, ns=(1_000_000_000, 1_000_000_000))
    result = run("render")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "out/nginx-ssl.conf is up to date\n"
    assert output.stat().st_mtime_ns == 1_000_000_000


def test_render_takes_explicit_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "elsewhere" / "proxy.conf"
    result = run("render", "--environments", str(SHIPPED / "environments"), "--output", str(target))
    assert result.exit_code == 0, result.stderr
    assert target.read_bytes() == (SHIPPED / "expected.conf").read_bytes()
    assert not (tmp_path / "out").exists()


def test_render_follows_the_settings_file(project: Path) -> None:
    (project / "environments").rename(project / "envs")
    (project / "nginxgen.yaml").write_text(
        "environments: envs\noutput: conf.d/proxy.conf\nresolver_valid: 30s\n", encoding="utf-8"
    )
    result = run("render")
    assert result.exit_code == 0, result.stderr
    assert "valid=30s" in (project / "conf.d" / "proxy.conf").read_text(encoding="utf-8")


def test_render_check_passes_when_the_output_is_up_to_date(project: Path) -> None:
    assert run("render").exit_code == 0
    result = run("render", "--check")
    assert result.exit_code == 0
    assert result.stdout == "out/nginx-ssl.conf is up to date\n"


def test_render_check_fails_with_a_diff_when_the_output_is_stale(project: Path) -> None:
    assert run("render").exit_code == 0
    output = project / OUTPUT
    stale = output.read_text(encoding="utf-8").replace("app-staging:3000", "app-staging:4000")
    output.write_text(stale, encoding="utf-8")

    result = run("render", "--check")

    assert result.exit_code == 1
    assert "--- out/nginx-ssl.conf (on disk)\n+++ out/nginx-ssl.conf (rendered)\n" in (
        result.stdout
    )
    changed = [line for line in result.stdout.splitlines() if line[:1] in "+-"]
    assert any(line.startswith("-") and "app-staging:4000" in line for line in changed)
    assert any(line.startswith("+") and "app-staging:3000" in line for line in changed)
    assert "stale" in result.stdout
    assert output.read_text(encoding="utf-8") == stale


def test_render_check_fails_when_the_output_is_missing_and_writes_nothing(project: Path) -> None:
    result = run("render", "--check")
    assert result.exit_code == 1
    assert "out/nginx-ssl.conf is missing" in result.stdout
    assert not (project / "out").exists()


def test_render_check_after_editing_an_environment_is_stale(project: Path) -> None:
    assert run("render").exit_code == 0
    staging = project / "environments" / "staging.yaml"
    staging.write_text(staging.read_text(encoding="utf-8").replace("3000", "3001"), "utf-8")
    result = run("render", "--check")
    assert result.exit_code == 1
    assert "+" in result.stdout and "app-staging:3001" in result.stdout


def test_render_leaves_the_old_output_untouched_when_input_is_invalid(project: Path) -> None:
    assert run("render").exit_code == 0
    before = files_under(project / "out")
    staging = project / "environments" / "staging.yaml"
    staging.write_text(staging.read_text(encoding="utf-8").replace("3000", "70000"), "utf-8")

    result = run("render")

    assert result.exit_code == 2
    assert result.stderr == "environments/staging.yaml:7:34: services.app.port: must be ≤ 65535\n"
    assert result.stdout == ""
    assert files_under(project / "out") == before


def test_a_missing_environments_directory_is_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("render")
    assert result.exit_code == 2
    assert "environments: environments directory not found" not in result.stderr
    assert result.stderr.startswith("environments:1:1: environments directory not found")
    assert not (tmp_path / "out").exists()


def test_an_invalid_settings_file_is_exit_2(project: Path) -> None:
    (project / "nginxgen.yaml").write_text("resolver_valid: soon\n", encoding="utf-8")
    result = run("render")
    assert result.exit_code == 2
    assert result.stderr.startswith("nginxgen.yaml:1:17: resolver_valid: ")
    assert not (project / "out").exists()


def test_an_internal_error_is_exit_3_without_a_traceback(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(directory: Path, settings: Settings) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("nginxgen.commands.render.generate", broken)
    result = run("render")
    assert result.exit_code == 3
    assert "internal error: RuntimeError: boom" in result.stderr
    assert "Traceback" not in result.stderr
    assert "--debug" in result.stderr

    debug = run("--debug", "render")
    assert isinstance(debug.exception, RuntimeError)
    monkeypatch.setattr(cli, "_debug", False)


# --- every validation rule: tests/cases/errors/<rule>/ ------------------------------------------


def simple_environment(domain: str, *extra: str) -> str:
    """One service on `/` for `domain`, with `extra` top-level lines."""
    lines = [f"domains: [{domain}]", *extra, "services: {app: {host: app, port: 80}}"]
    return "\n".join([*lines, "routes: [{path: /, service: app}]", ""])


def write_environments(directory: Path, files: dict[str, str]) -> Path:
    """`directory`/environments with one file per name: the project of a CLI test."""
    environments = directory / "environments"
    environments.mkdir()
    for name, text in files.items():
        (environments / f"{name}.yaml").write_text(text, encoding="utf-8")
    return environments


def copy_case(case: Path, destination: Path) -> None:
    # Symbolic links stay links: some cases are a dangling link or a loop.
    shutil.copytree(case, destination, symlinks=True, ignore=shutil.ignore_patterns("expected.*"))


@pytest.mark.parametrize("case", ERROR_CASES, ids=lambda case: case.name)
@pytest.mark.parametrize("command", [["render"], ["render", "--check"], ["validate"]])
def test_each_invalid_input_is_reported_with_file_line_column_and_field(
    case: Path,
    command: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    update_goldens: bool,
) -> None:
    copy_case(case, tmp_path / "project")
    monkeypatch.chdir(tmp_path / "project")
    before = files_under(tmp_path / "project")

    result = run(*command)

    expected = case / "expected.txt"
    if update_goldens and command == ["render"]:
        expected.write_text(result.stderr, encoding="utf-8", newline="\n")
    assert result.exit_code == 2, result.stdout + result.stderr
    assert result.stdout == ""
    assert result.stderr == expected.read_text(encoding="utf-8")
    assert files_under(tmp_path / "project") == before


@pytest.mark.parametrize("case", ERROR_CASES, ids=lambda case: case.name)
def test_each_error_case_locates_every_problem(case: Path) -> None:
    # Guards the expected files themselves: every line is file:line:column: [field: ]message.
    lines = (case / "expected.txt").read_text(encoding="utf-8").splitlines()
    assert lines
    for line in lines:
        file, line_number, column, rest = line.split(":", 3)
        assert file.endswith((".yaml", ".yml")), line
        # A file, or what stands in its place (a directory, a dangling link): never a guess.
        assert os.path.lexists(case / file), line
        assert int(line_number) >= 1 and int(column) >= 1, line
        assert rest.startswith(" ") and rest.strip(), line


def test_the_error_cases_cover_every_rule() -> None:
    names = {case.name for case in ERROR_CASES}
    assert {
        "invalid-domain",
        "invalid-host",
        "port-out-of-range",
        "port-not-an-int",
        "path-without-slash",
        "path-with-nginx-syntax",
        "unknown-key",
        "missing-key",
        "certificate-without-key",
        "relative-certificate-path",
        "route-to-undefined-service",
        "duplicate-route-path",
        "duplicate-domain-in-environment",
        "domain-in-two-environments",
        "environment-file-name-bad-characters",
        "environment-names-same-variable",
        "service-names-same-variable",
        "yaml-syntax-error",
        "duplicate-key",
        "wrong-type",
        "empty-file",
        "several-errors-in-one-file",
    } <= names


def test_several_errors_in_one_file_are_all_reported() -> None:
    lines = (CASES / "errors" / "several-errors-in-one-file" / "expected.txt").read_text(
        encoding="utf-8"
    )
    assert len(lines.splitlines()) >= 5


# --- validate ---------------------------------------------------------------------------------


def test_validate_lists_the_valid_environments(project: Path) -> None:
    result = run("validate")
    assert result.exit_code == 0
    assert result.stdout == "2 environment(s) valid: production, staging\n"
    assert not (project / "out").exists()


def test_validate_json_when_valid(project: Path) -> None:
    result = run("validate", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"valid": True, "problems": [], "warnings": []}


def test_validate_json_lists_every_problem_with_its_location(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_case(CASES / "errors" / "several-errors-in-one-file", tmp_path / "project")
    monkeypatch.chdir(tmp_path / "project")

    result = run("validate", "--format", "json")

    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert report["valid"] is False
    first = report["problems"][0]
    assert set(first) == {"file", "line", "column", "field", "message"}
    assert first["file"] == "environments/staging.yaml"
    expected = (CASES / "errors" / "several-errors-in-one-file" / "expected.txt").read_text(
        encoding="utf-8"
    )
    rebuilt = [
        f"{p['file']}:{p['line']}:{p['column']}: {p['field']}: {p['message']}"
        for p in report["problems"]
    ]
    assert rebuilt == expected.splitlines()


# --- new --------------------------------------------------------------------------------------


def test_new_writes_an_environment_that_validates_and_renders(project: Path) -> None:
    result = run(
        "new",
        "shop-staging",
        "--domain",
        "shop.example.test",
        "--domain",
        "www.shop.example.test",
        "--service",
        "shop-web:8080",
    )
    assert result.exit_code == 0, result.stderr
    created = project / "environments" / "shop-staging.yaml"
    assert "environments/shop-staging.yaml" in result.stdout

    names = [environment.name for environment in load_environments(project / "environments")]
    assert names == ["production", "shop-staging", "staging"]
    build_plan(load_environments(project / "environments"), Settings())
    assert run("render").exit_code == 0
    output = (project / OUTPUT).read_text(encoding="utf-8")
    assert "server_name shop.example.test www.shop.example.test;" in output
    assert "http://shop-web:8080" in output
    assert created.read_text(encoding="utf-8").startswith("#")


def test_new_into_an_empty_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("new", "production", "--domain", "example.test", "--service", "app:3000")
    assert result.exit_code == 0, result.stderr
    assert run("render").exit_code == 0


def test_new_refuses_to_overwrite(project: Path) -> None:
    staging = project / "environments" / "staging.yaml"
    before = staging.read_bytes()
    result = run("new", "staging", "--domain", "other.example.test", "--service", "app:3000")
    assert result.exit_code == 2
    assert "environments/staging.yaml already exists" in result.stderr
    assert staging.read_bytes() == before


def test_new_refuses_a_domain_another_environment_serves(project: Path) -> None:
    before = files_under(project)
    result = run("new", "preview", "--domain", "staging.daatan.com", "--service", "app:3000")
    assert result.exit_code == 2
    assert "staging.daatan.com" in result.stderr
    assert "also served by environment 'staging'" in result.stderr
    assert files_under(project) == before


def test_new_refuses_a_name_mapping_to_an_existing_environments_variables(project: Path) -> None:
    (project / "environments" / "staging.yaml").rename(project / "environments" / "shop-x.yaml")
    before = files_under(project)
    result = run("new", "shop_x", "--domain", "x.example.test", "--service", "app:3000")
    assert result.exit_code == 2
    assert files_under(project) == before


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (["bad.name", "--domain", "x.example.test", "--service", "app:3000"], "bad.name"),
        (["x", "--domain", "x.example.test", "--service", "app"], "HOST:PORT"),
        (["x", "--domain", "x.example.test", "--service", "app:70000"], "port"),
        (["x", "--domain", "bad_domain", "--service", "app:3000"], "domain"),
        (["x", "--domain", "x.example.test", "--service", "app;rm:3000"], "app;rm"),
    ],
)
def test_new_refuses_invalid_arguments(project: Path, arguments: list[str], words: str) -> None:
    before = files_under(project)
    result = run("new", *arguments)
    assert result.exit_code == 2
    assert words in result.stderr
    assert files_under(project) == before


# --- schema -----------------------------------------------------------------------------------


def test_schema_prints_the_environment_json_schema() -> None:
    result = run("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["additionalProperties"] is False
    assert {"services", "routes"} <= set(schema["required"])  # domains: not for a catch-all
    assert {"domains", "tls", "services", "routes"} <= set(schema["properties"])


def test_schema_of_the_settings_file() -> None:
    result = run("schema", "settings")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert {"output", "environments", "resolver_valid"} <= set(schema["properties"])
    assert schema.get("required", []) == []


def test_schema_output_is_stable() -> None:
    assert run("schema").stdout == run("schema").stdout


def test_a_modern_profile_beside_an_intermediate_one_is_a_warning_before_nginx_1_29_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    modern = simple_environment("b.test", "tls: {profile: modern}")
    write_environments(tmp_path, {"a": simple_environment("a.test"), "b": modern})
    monkeypatch.chdir(tmp_path)
    (tmp_path / "nginxgen.yaml").write_text('nginx_version: "1.28"\n', encoding="utf-8")
    result = run("render")
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith(
        "environments/b.yaml:2:16: tls.profile: warning: nginx 1.28 picks the TLS version"
    )
    assert (tmp_path / "out" / "nginx-ssl.conf").is_file()

    document = json.loads(run("validate", "--format", "json").stdout)
    assert [warning["field"] for warning in document["warnings"]] == ["tls.profile"]

    (tmp_path / "nginxgen.yaml").write_text('nginx_version: "1.30"\n', encoding="utf-8")
    result = run("render")
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr


def test_version_names_the_package_version() -> None:
    from nginxgen import __version__

    result = run("--version")
    assert result.exit_code == 0
    assert result.stdout == f"nginxgen {__version__}\n"


def test_new_ignores_editor_dotfiles_like_render_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / ".#shop.yaml").write_text("not: [yaml\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = run("new", "shop", "--domain", "shop.example", "--service", "shop-app:3000")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "environments" / "shop.yaml").is_file()


def test_validate_explains_that_host_docker_internal_is_not_resolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_environments(
        tmp_path,
        {
            "a": "domains: [a.test]\n"
            "services:\n"
            "  app: {host: host.docker.internal, port: 80}\n"
            "  ip: {address: 172.17.0.1, port: 80}\n"
            "routes: [{path: /, service: app}, {path: /ip/, service: ip}]\n"
        },
    )
    monkeypatch.chdir(tmp_path)
    result = run("validate")
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith(
        "environments/a.yaml:3:15: services.app.host: warning: 'host.docker.internal' looks "
        "like a name from /etc/hosts"
    )
    assert "address: 172.17.0.1" in result.stderr
    assert result.stderr.count("warning") == 1


def test_compose_publishes_udp_443_for_http3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    environments = write_environments(tmp_path, {"a": simple_environment("a.test")})
    monkeypatch.chdir(tmp_path)
    assert "udp" not in run("compose").stdout
    with (environments / "a.yaml").open("a", encoding="utf-8") as file:
        file.write("http3: true\n")
    result = run("compose")
    assert result.exit_code == 0, result.output
    ports = yaml.safe_load(result.stdout)["services"]["nginx"]["ports"]
    assert ports == ["80:80", "443:443", "443:443/udp"]
